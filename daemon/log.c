/* log.c - stderr logging with "<N>" priority prefixes (see log.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum rq_loglevel log_level = RQ_LOG_INFO;

void
rq_log_set_level(enum rq_loglevel level)
{
    log_level = level;
}

int
rq_log_enabled(enum rq_loglevel level)
{
    return level <= log_level;
}

int
rq_log_level_parse(const char *name, enum rq_loglevel *out)
{
    static const struct {
        const char *name;
        enum rq_loglevel level;
    } names[] = {{"error", RQ_LOG_ERR},
                 {"warning", RQ_LOG_WARNING},
                 {"notice", RQ_LOG_NOTICE},
                 {"info", RQ_LOG_INFO},
                 {"debug", RQ_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

static void
vlog(enum rq_loglevel level, const char *errstr, const char *fmt, va_list ap)
{
    char buf[2048];

    if (!rq_log_enabled(level))
        return;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (errstr != NULL)
        fprintf(stderr, "<%d>%s: %s\n", (int)level, buf, errstr);
    else
        fprintf(stderr, "<%d>%s\n", (int)level, buf);
}

#define RQ_LOGFN(fname, level, with_errno)                                                         \
    void fname(const char *fmt, ...)                                                               \
    {                                                                                              \
        va_list ap;                                                                                \
        int saved = errno;                                                                         \
        va_start(ap, fmt);                                                                         \
        vlog(level, with_errno ? strerror(saved) : NULL, fmt, ap);                                 \
        va_end(ap);                                                                                \
        errno = saved;                                                                             \
    }

RQ_LOGFN(log_errx, RQ_LOG_ERR, 0)
RQ_LOGFN(log_warn, RQ_LOG_WARNING, 1)
RQ_LOGFN(log_warnx, RQ_LOG_WARNING, 0)
RQ_LOGFN(log_notice, RQ_LOG_NOTICE, 0)
RQ_LOGFN(log_info, RQ_LOG_INFO, 0)
RQ_LOGFN(log_debug, RQ_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    vlog(RQ_LOG_ERR, saved ? strerror(saved) : NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(RQ_LOG_ERR, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

void
rq_log_escape(char *out, size_t outlen, const char *in, size_t inlen, size_t max)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    for (size_t i = 0; i < inlen && i < max; i++) {
        unsigned char ch = (unsigned char)in[i];
        char tmp[5];
        int n;
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            n = snprintf(tmp, sizeof(tmp), "%c", ch);
        else
            n = snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
        if (o + (size_t)n + 1 > outlen)
            break;
        memcpy(out + o, tmp, (size_t)n);
        o += (size_t)n;
    }
    out[o] = '\0';
}

int
rq_ratelimit_allow(struct rq_ratelimit *rl, uint64_t now_ms, unsigned *suppressed)
{
    *suppressed = 0;
    if (rl->window_start_ms == 0 || now_ms - rl->window_start_ms >= RQ_LOG_WINDOW_MS) {
        rl->window_start_ms = now_ms;
        rl->used = 0;
    }
    if (rl->used >= RQ_LOG_BURST) {
        rl->suppressed++;
        return 0;
    }
    rl->used++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return 1;
}

void
log_limited(struct rq_ratelimit *rl, enum rq_loglevel level, const char *fmt, ...)
{
    struct timespec ts;
    unsigned suppressed;
    char buf[2048];
    va_list ap;

    if (!rq_log_enabled(level))
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (!rq_ratelimit_allow(rl, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
                            &suppressed))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (suppressed > 0)
        fprintf(stderr, "<%d>%s (%u similar messages suppressed)\n", (int)level, buf, suppressed);
    else
        fprintf(stderr, "<%d>%s\n", (int)level, buf);
}
