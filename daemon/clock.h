/*
 * clock.h - the time source of the routing core. The daemon uses the real
 * monotonic + wall clocks; unit tests inject a manual clock and move it.
 * All times in the core are milliseconds since the Unix epoch (wall clock),
 * so they can be stored in Redis and survive a restart.
 */
#ifndef RQ_CLOCK_H
#define RQ_CLOCK_H

#include <stdint.h>

typedef uint64_t rq_now_fn(void *arg);

struct rq_clock {
    rq_now_fn *now_ms; /* current time, ms since the epoch */
    void *arg;         /* passed to now_ms */
};

static inline uint64_t
rq_clock_now(const struct rq_clock *c)
{
    return c->now_ms(c->arg);
}

/* The real clock (CLOCK_REALTIME, ms). */
extern const struct rq_clock rq_clock_real;

/* A manual clock for tests: now_ms returns *(uint64_t *)arg. */
uint64_t rq_clock_manual_now(void *arg);

#endif
