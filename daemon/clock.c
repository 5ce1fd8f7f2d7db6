/* clock.c - real and manual time sources for the routing core. */
#include <time.h>

#include "clock.h"

static uint64_t
real_now(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const struct rq_clock rq_clock_real = {.now_ms = real_now, .arg = NULL};

uint64_t
rq_clock_manual_now(void *arg)
{
    return *(const uint64_t *)arg;
}
