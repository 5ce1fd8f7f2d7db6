/* test_heap.c - the intrusive heap: order, removal, re-keying, counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

struct item {
    struct rq_heap_node node;
    int key;
};

static int
cmp(const struct rq_heap_node *a, const struct rq_heap_node *b)
{
    const struct item *x = rq_container_of(a, struct item, node);
    const struct item *y = rq_container_of(b, struct item, node);
    return (x->key > y->key) - (x->key < y->key);
}

static void
test_order_and_remove(void **state)
{
    struct rq_heap h;
    struct item it[100];
    int last = -1000;

    (void)state;
    rq_heap_init(&h, cmp);
    for (int i = 0; i < 100; i++) {
        it[i].key = (i * 37) % 100; /* a permutation of 0..99 */
        it[i].node.idx = (size_t)-1;
        assert_int_equal(rq_heap_push(&h, &it[i].node), 0);
    }
    /* remove every multiple of 5 from the middle */
    for (int i = 0; i < 100; i++)
        if (it[i].key % 5 == 0)
            rq_heap_remove(&h, &it[i].node);
    assert_int_equal(h.len, 80);
    /* re-key one element to the front */
    for (int i = 0; i < 100; i++)
        if (it[i].key == 99) {
            it[i].key = -7;
            rq_heap_update(&h, &it[i].node);
        }
    assert_int_equal(rq_container_of(rq_heap_top(&h), struct item, node)->key, -7);
    while (rq_heap_top(&h) != NULL) {
        struct item *t = rq_container_of(rq_heap_top(&h), struct item, node);
        assert_true(t->key > last);
        assert_true(t->key % 5 != 0 || t->key == -7);
        last = t->key;
        rq_heap_remove(&h, &t->node);
        assert_false(rq_heap_node_linked(&t->node));
    }
    rq_heap_free(&h);
}

static void
test_count_before(void **state)
{
    struct rq_heap h;
    struct item it[64], key = {.key = 20};

    (void)state;
    rq_heap_init(&h, cmp);
    for (int i = 0; i < 64; i++) {
        it[i].key = 63 - i;
        it[i].node.idx = (size_t)-1;
        rq_heap_push(&h, &it[i].node);
    }
    assert_int_equal(rq_heap_count_before(&h, &key.node), 20);
    key.key = 0;
    assert_int_equal(rq_heap_count_before(&h, &key.node), 0);
    key.key = 1000;
    assert_int_equal(rq_heap_count_before(&h, &key.node), 64);
    rq_heap_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_remove),
        cmocka_unit_test(test_count_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
