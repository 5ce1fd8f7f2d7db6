/*
 * log.h - logging to stderr with sd-daemon "<N>" priority prefixes, so the
 * journal keeps levels. log_warn appends strerror(errno); log_warnx does not.
 * fatal/fatalx are the only functions that exit, and only during start-up.
 */
#ifndef RQ_LOG_H
#define RQ_LOG_H

#include <stddef.h>
#include <stdint.h>

enum rq_loglevel {
    RQ_LOG_ERR = 3,
    RQ_LOG_WARNING = 4,
    RQ_LOG_NOTICE = 5,
    RQ_LOG_INFO = 6,
    RQ_LOG_DEBUG = 7
};

void rq_log_set_level(enum rq_loglevel level);
int rq_log_level_parse(const char *name, enum rq_loglevel *out);
int rq_log_enabled(enum rq_loglevel level);

/* An error the daemon survives (a refused reload); fatal/fatalx exit. */
void log_errx(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));
void fatalx(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));

/*
 * Rate limiting for warnings a client or an outage could repeat without
 * end: at most RQ_LOG_BURST lines per RQ_LOG_WINDOW_MS per call site; the
 * first line let through after a quiet spell says how many were dropped.
 * Each call site keeps its own `static struct rq_ratelimit`.
 */
#define RQ_LOG_BURST     5
#define RQ_LOG_WINDOW_MS 10000

struct rq_ratelimit {
    uint64_t window_start_ms; /* start of the current window (monotonic) */
    unsigned used;            /* lines let through in it */
    unsigned suppressed;      /* lines dropped since the last one let through */
};

/* Pure: may a line go out at now_ms? *suppressed gets the count to report. */
int rq_ratelimit_allow(struct rq_ratelimit *rl, uint64_t now_ms, unsigned *suppressed);
/* Log at level through rl (monotonic clock). */
void log_limited(struct rq_ratelimit *rl, enum rq_loglevel level, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

/* Escape up to max bytes of untrusted input into out (C-style escapes). */
void rq_log_escape(char *out, size_t outlen, const char *in, size_t inlen, size_t max);

#endif
