/*
 * log.h - logging to stderr with sd-daemon "<N>" priority prefixes, so the
 * journal keeps levels. log_warn appends strerror(errno); log_warnx does not.
 * fatal/fatalx are the only functions that exit, and only during start-up.
 */
#ifndef RQ_LOG_H
#define RQ_LOG_H

#include <stddef.h>

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

void log_warn(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));
void fatalx(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));

/* Escape up to max bytes of untrusted input into out (C-style escapes). */
void rq_log_escape(char *out, size_t outlen, const char *in, size_t inlen, size_t max);

#endif
