/* bitset.c - fixed-size bitsets over agent indexes (see bitset.h). */
#include <stdlib.h>
#include <string.h>

#include "bitset.h"

int
rq_bitset_init(struct rq_bitset *b, size_t nbits)
{
    b->nbits = nbits;
    b->nwords = (nbits + 63) / 64;
    if (b->nwords == 0)
        b->nwords = 1;
    b->words = calloc(b->nwords, sizeof(uint64_t));
    return b->words == NULL ? -1 : 0;
}

void
rq_bitset_free(struct rq_bitset *b)
{
    free(b->words);
    b->words = NULL;
    b->nbits = b->nwords = 0;
}

void
rq_bitset_clear_all(struct rq_bitset *b)
{
    memset(b->words, 0, b->nwords * sizeof(uint64_t));
}

void
rq_bitset_copy(struct rq_bitset *dst, const struct rq_bitset *a)
{
    memcpy(dst->words, a->words, dst->nwords * sizeof(uint64_t));
}

int
rq_bitset_and(struct rq_bitset *dst, const struct rq_bitset *a)
{
    uint64_t any = 0;

    for (size_t i = 0; i < dst->nwords; i++) {
        dst->words[i] &= a->words[i];
        any |= dst->words[i];
    }
    return any != 0;
}

void
rq_bitset_or(struct rq_bitset *dst, const struct rq_bitset *a)
{
    for (size_t i = 0; i < dst->nwords; i++)
        dst->words[i] |= a->words[i];
}

int
rq_bitset_empty(const struct rq_bitset *b)
{
    for (size_t i = 0; i < b->nwords; i++)
        if (b->words[i] != 0)
            return 0;
    return 1;
}

size_t
rq_bitset_count(const struct rq_bitset *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->nwords; i++)
        n += (size_t)__builtin_popcountll(b->words[i]);
    return n;
}

long
rq_bitset_next(const struct rq_bitset *b, size_t from)
{
    size_t w = from >> 6;
    uint64_t word;

    if (from >= b->nbits)
        return -1;
    word = b->words[w] & (~(uint64_t)0 << (from & 63));
    for (;;) {
        if (word != 0)
            return (long)(w * 64 + (size_t)__builtin_ctzll(word));
        if (++w >= b->nwords)
            return -1;
        word = b->words[w];
    }
}
