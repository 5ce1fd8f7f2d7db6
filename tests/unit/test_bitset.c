/* test_bitset.c - bitsets over agent indexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bitset.h"

static void
test_set_test_clear(void **state)
{
    struct rq_bitset b;

    (void)state;
    assert_int_equal(rq_bitset_init(&b, 130), 0);
    assert_true(rq_bitset_empty(&b));
    rq_bitset_set(&b, 0);
    rq_bitset_set(&b, 63);
    rq_bitset_set(&b, 64);
    rq_bitset_set(&b, 129);
    assert_true(rq_bitset_test(&b, 63));
    assert_false(rq_bitset_test(&b, 62));
    assert_int_equal(rq_bitset_count(&b), 4);
    rq_bitset_clear(&b, 63);
    assert_int_equal(rq_bitset_count(&b), 3);
    assert_int_equal(rq_bitset_next(&b, 0), 0);
    assert_int_equal(rq_bitset_next(&b, 1), 64);
    assert_int_equal(rq_bitset_next(&b, 65), 129);
    assert_int_equal(rq_bitset_next(&b, 130), -1);
    rq_bitset_free(&b);
}

static void
test_and_or(void **state)
{
    struct rq_bitset a, b;
    long seen[4];
    int n = 0;

    (void)state;
    rq_bitset_init(&a, 200);
    rq_bitset_init(&b, 200);
    for (int i = 0; i < 200; i += 2)
        rq_bitset_set(&a, (size_t)i);
    for (int i = 0; i < 200; i += 3)
        rq_bitset_set(&b, (size_t)i);
    assert_true(rq_bitset_and(&a, &b)); /* multiples of 6 */
    assert_int_equal(rq_bitset_count(&a), 34);
    RQ_BITSET_FOREACH (&a, i) {
        if (n < 4)
            seen[n++] = i;
    }
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 6);
    assert_int_equal(seen[3], 18);
    rq_bitset_clear_all(&b);
    assert_false(rq_bitset_and(&a, &b));
    rq_bitset_set(&b, 199);
    rq_bitset_or(&a, &b);
    assert_int_equal(rq_bitset_next(&a, 0), 199);
    rq_bitset_free(&a);
    rq_bitset_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_test_clear),
        cmocka_unit_test(test_and_or),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
