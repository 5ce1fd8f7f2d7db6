/*
 * sdnotify.h - the service manager's side of ringqd's life cycle, through
 * libsystemd's sd_notify: READY=1 once listeners and Redis recovery are
 * done, STATUS= lines with live figures, WATCHDOG=1 from a loop timer at
 * half of WATCHDOG_USEC (a wedged loop gets the process restarted), and
 * STOPPING=1 when a stop begins. Without NOTIFY_SOCKET every call is a
 * no-op, so ringqd runs the same by hand.
 */
#ifndef RQ_SDNOTIFY_H
#define RQ_SDNOTIFY_H

struct event_base;
struct rq_sdnotify;

/* Produces the STATUS= text (e.g. "12 waiting, 30 agents ready, redis ok"). */
typedef void rq_sdnotify_status_fn(void *arg, char *buf, unsigned len);

/* Arms the watchdog timer when the service manager asked for one. */
struct rq_sdnotify *rq_sdnotify_new(struct event_base *base, rq_sdnotify_status_fn *status,
                                    void *arg);
void rq_sdnotify_free(struct rq_sdnotify *n);

void rq_sdnotify_ready(struct rq_sdnotify *n);
void rq_sdnotify_stopping(struct rq_sdnotify *n);
/* RELOADING=1 with MONOTONIC_USEC, then (after the reload) READY=1. */
void rq_sdnotify_reloading(struct rq_sdnotify *n);

#endif
