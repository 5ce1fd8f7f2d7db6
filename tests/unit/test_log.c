/* test_log.c - the rate limiter of repeated warnings, with injected time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

static void
test_burst_then_suppressed_then_counted(void **state)
{
    struct rq_ratelimit rl = {0};
    unsigned sup;
    uint64_t t = 1000;

    (void)state;
    for (int i = 0; i < RQ_LOG_BURST; i++) {
        assert_true(rq_ratelimit_allow(&rl, t + (uint64_t)i, &sup));
        assert_int_equal(sup, 0);
    }
    for (int i = 0; i < 7; i++)
        assert_false(rq_ratelimit_allow(&rl, t + 100 + (uint64_t)i, &sup));
    /* still inside the window */
    assert_false(rq_ratelimit_allow(&rl, t + RQ_LOG_WINDOW_MS - 1, &sup));
    /* next window: the first line says how many were dropped */
    assert_true(rq_ratelimit_allow(&rl, t + RQ_LOG_WINDOW_MS, &sup));
    assert_int_equal(sup, 8);
    assert_true(rq_ratelimit_allow(&rl, t + RQ_LOG_WINDOW_MS + 1, &sup));
    assert_int_equal(sup, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_suppressed_then_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
