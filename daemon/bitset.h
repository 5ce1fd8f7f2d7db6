/*
 * bitset.h - fixed-size bitsets over agent indexes. Agent availability and
 * skill/level/language membership are bitsets; a routing decision ANDs a
 * few of them, so it costs words, not agents.
 */
#ifndef RQ_BITSET_H
#define RQ_BITSET_H

#include <stddef.h>
#include <stdint.h>

struct rq_bitset {
    size_t nbits;    /* capacity in bits */
    size_t nwords;   /* nbits / 64, rounded up */
    uint64_t *words; /* nwords words; bits past nbits are always 0 */
};

int rq_bitset_init(struct rq_bitset *b, size_t nbits);
void rq_bitset_free(struct rq_bitset *b);
void rq_bitset_clear_all(struct rq_bitset *b);

static inline void
rq_bitset_set(struct rq_bitset *b, size_t i)
{
    b->words[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline void
rq_bitset_clear(struct rq_bitset *b, size_t i)
{
    b->words[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static inline int
rq_bitset_test(const struct rq_bitset *b, size_t i)
{
    return (int)((b->words[i >> 6] >> (i & 63)) & 1u);
}

/* dst = a (sizes must match) */
void rq_bitset_copy(struct rq_bitset *dst, const struct rq_bitset *a);
/* dst &= a; returns 1 if dst is not empty afterwards */
int rq_bitset_and(struct rq_bitset *dst, const struct rq_bitset *a);
/* dst |= a */
void rq_bitset_or(struct rq_bitset *dst, const struct rq_bitset *a);
int rq_bitset_empty(const struct rq_bitset *b);
size_t rq_bitset_count(const struct rq_bitset *b);
/* First set bit at index >= from, or -1. */
long rq_bitset_next(const struct rq_bitset *b, size_t from);

#define RQ_BITSET_FOREACH(b, i)                                                                    \
    for (long i = rq_bitset_next((b), 0); i >= 0; i = rq_bitset_next((b), (size_t)i + 1))

#endif
