/* sdnotify.c - READY/STATUS/WATCHDOG/STOPPING to the service manager. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "sdnotify.h"

#define STATUS_EVERY_MS 5000 /* STATUS= refresh when no watchdog is asked for */

struct rq_sdnotify {
    struct event *timer;           /* watchdog keep-alive and STATUS= refresh */
    uint64_t watchdog_usec;        /* WATCHDOG_USEC, 0 when not asked for */
    rq_sdnotify_status_fn *status; /* builds the STATUS= text */
    void *arg;
    int ready;      /* READY=1 sent: keep STATUS= fresh */
    unsigned ticks; /* timer firings, to space out STATUS= */
};

static void
notify(const char *msg)
{
    int r = sd_notify(0, msg);

    if (r < 0)
        log_warnx("sd_notify: cannot tell the service manager: %s", msg);
}

static void
send_status(struct rq_sdnotify *n, const char *prefix)
{
    char text[256], msg[320];

    text[0] = '\0';
    if (n->status != NULL)
        n->status(n->arg, text, sizeof(text));
    snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, text);
    notify(msg);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
    struct rq_sdnotify *n = arg;
    unsigned every = 1;

    if (n->watchdog_usec > 0) {
        notify("WATCHDOG=1");
        every = (unsigned)(STATUS_EVERY_MS * 1000 / (n->watchdog_usec / 2));
        if (every == 0)
            every = 1;
    }
    if (n->ready && ++n->ticks % every == 0)
        send_status(n, "");
}

struct rq_sdnotify *
rq_sdnotify_new(struct event_base *base, rq_sdnotify_status_fn *status, void *arg)
{
    struct rq_sdnotify *n = calloc(1, sizeof(*n));
    struct timeval tv;
    uint64_t usec = 0, period;

    if (n == NULL)
        return NULL;
    n->status = status;
    n->arg = arg;
    if (getenv("NOTIFY_SOCKET") == NULL)
        return n; /* not under a service manager: nothing to say */
    if (sd_watchdog_enabled(0, &usec) > 0)
        n->watchdog_usec = usec;
    /* Keep-alive at half the watchdog period (sd_watchdog_enabled(3)). */
    period = n->watchdog_usec > 0 ? n->watchdog_usec / 2 : (uint64_t)STATUS_EVERY_MS * 1000;
    tv.tv_sec = (time_t)(period / 1000000);
    tv.tv_usec = (suseconds_t)(period % 1000000);
    n->timer = event_new(base, -1, EV_PERSIST, tick, n);
    if (n->timer == NULL || event_add(n->timer, &tv) != 0) {
        rq_sdnotify_free(n);
        return NULL;
    }
    if (n->watchdog_usec > 0)
        log_info("watchdog: keep-alive every %" PRIu64 " ms", period / 1000);
    return n;
}

void
rq_sdnotify_free(struct rq_sdnotify *n)
{
    if (n == NULL)
        return;
    if (n->timer != NULL)
        event_free(n->timer);
    free(n);
}

void
rq_sdnotify_ready(struct rq_sdnotify *n)
{
    n->ready = 1;
    send_status(n, "READY=1\n");
}

void
rq_sdnotify_stopping(struct rq_sdnotify *n)
{
    n->ready = 0;
    notify("STOPPING=1\nSTATUS=stopping: writing the last changes to Redis");
}

void
rq_sdnotify_reloading(struct rq_sdnotify *n)
{
    struct timespec ts;
    char msg[128];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg),
             "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
    notify(msg);
}
