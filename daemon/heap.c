/* heap.c - intrusive binary min-heap (see heap.h). */
#include <stdlib.h>

#include "heap.h"

void
rq_heap_init(struct rq_heap *h, rq_heap_cmp *cmp)
{
    h->slots = NULL;
    h->len = h->cap = 0;
    h->cmp = cmp;
}

void
rq_heap_free(struct rq_heap *h)
{
    /* The elements are not the heap's: they are left untouched (they may
     * already be freed when a whole model is torn down). */
    free(h->slots);
    h->slots = NULL;
    h->len = h->cap = 0;
}

static void
place(struct rq_heap *h, size_t i, struct rq_heap_node *n)
{
    h->slots[i] = n;
    n->idx = i;
}

static void
sift_up(struct rq_heap *h, size_t i)
{
    struct rq_heap_node *n = h->slots[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->cmp(n, h->slots[parent]) >= 0)
            break;
        place(h, i, h->slots[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void
sift_down(struct rq_heap *h, size_t i)
{
    struct rq_heap_node *n = h->slots[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        struct rq_heap_node *bn = n;
        if (l < h->len && h->cmp(h->slots[l], bn) < 0) {
            best = l;
            bn = h->slots[l];
        }
        if (r < h->len && h->cmp(h->slots[r], bn) < 0) {
            best = r;
            bn = h->slots[r];
        }
        if (best == i)
            break;
        place(h, i, bn);
        i = best;
    }
    place(h, i, n);
}

int
rq_heap_push(struct rq_heap *h, struct rq_heap_node *n)
{
    if (h->len == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 8;
        struct rq_heap_node **ns = realloc(h->slots, ncap * sizeof(*ns));
        if (ns == NULL)
            return -1;
        h->slots = ns;
        h->cap = ncap;
    }
    place(h, h->len++, n);
    sift_up(h, h->len - 1);
    return 0;
}

void
rq_heap_remove(struct rq_heap *h, struct rq_heap_node *n)
{
    size_t i = n->idx;

    if (i == (size_t)-1 || i >= h->len || h->slots[i] != n)
        return;
    n->idx = (size_t)-1;
    if (--h->len == i)
        return;
    place(h, i, h->slots[h->len]);
    rq_heap_update(h, h->slots[i]);
}

void
rq_heap_update(struct rq_heap *h, struct rq_heap_node *n)
{
    size_t i = n->idx;

    if (i == (size_t)-1)
        return;
    if (i > 0 && h->cmp(n, h->slots[(i - 1) / 2]) < 0)
        sift_up(h, i);
    else
        sift_down(h, i);
}

static size_t
count_from(const struct rq_heap *h, size_t i, const struct rq_heap_node *key)
{
    if (i >= h->len || h->slots[i] == key || h->cmp(h->slots[i], key) >= 0)
        return 0;
    return 1 + count_from(h, 2 * i + 1, key) + count_from(h, 2 * i + 2, key);
}

size_t
rq_heap_count_before(const struct rq_heap *h, const struct rq_heap_node *key)
{
    return count_from(h, 0, key);
}
