/*
 * heap.h - an intrusive binary min-heap. Each element embeds a struct
 * rq_heap_node that remembers its slot, so removal and re-keying of any
 * element are O(log n). Used for the waiting contacts of each routing class
 * and for the core's timers.
 */
#ifndef RQ_HEAP_H
#define RQ_HEAP_H

#include <stddef.h>

struct rq_heap_node {
    size_t idx; /* slot in the heap's array; (size_t)-1 when not in a heap */
};

/* <0 when a must come out before b. */
typedef int rq_heap_cmp(const struct rq_heap_node *a, const struct rq_heap_node *b);

struct rq_heap {
    struct rq_heap_node **slots; /* the array, slots[0] is the minimum */
    size_t len;                  /* elements in the heap */
    size_t cap;                  /* allocated slots */
    rq_heap_cmp *cmp;            /* order of the elements */
};

#define RQ_HEAP_NODE_INIT                                                                          \
    {                                                                                              \
        (size_t) - 1                                                                               \
    }

void rq_heap_init(struct rq_heap *h, rq_heap_cmp *cmp);
void rq_heap_free(struct rq_heap *h);
int rq_heap_push(struct rq_heap *h, struct rq_heap_node *n);
void rq_heap_remove(struct rq_heap *h, struct rq_heap_node *n);
/* Restore order after n's key changed. */
void rq_heap_update(struct rq_heap *h, struct rq_heap_node *n);

static inline struct rq_heap_node *
rq_heap_top(const struct rq_heap *h)
{
    return h->len ? h->slots[0] : NULL;
}

static inline int
rq_heap_node_linked(const struct rq_heap_node *n)
{
    return n->idx != (size_t)-1;
}

/* Number of elements ordered before key (cmp(e, key) < 0). Visits only
 * those elements and their children: O(result), not O(len). */
size_t rq_heap_count_before(const struct rq_heap *h, const struct rq_heap_node *key);

#define rq_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
