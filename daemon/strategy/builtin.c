/*
 * builtin.c - the built-in agent-selection strategies. Each looks only at
 * the candidate bitset of one decision (agents that are available, skilled
 * and speak the customer's language), never at every agent.
 */
#include <string.h>

#include "../bitset.h"
#include "../model.h"
#include "../plugin.h"
#include "strategy.h"

/*
 * Candidates are visited word by word in index order, and each is judged on
 * its entry of the model's dense key array (struct rq_agent_key), never on
 * its agent struct: a decision over hundreds of candidates reads a few
 * cache lines. The common tie-break, longest idle then lowest index, is
 * "strictly longer idle than the best so far", since indexes only grow.
 */
struct cand_iter {
    const struct rq_bitset *b; /* the candidates */
    size_t w;                  /* current word */
    uint64_t x;                /* its bits not visited yet */
};

static inline struct cand_iter
cand_first(const struct rq_bitset *b)
{
    return (struct cand_iter){b, 0, b->words[0]};
}

/* The next candidate's index, or -1 after the last. */
static inline long
cand_next(struct cand_iter *it)
{
    long i;

    while (it->x == 0) {
        if (++it->w >= it->b->nwords)
            return -1;
        it->x = it->b->words[it->w];
    }
    i = (long)(it->w * 64 + (size_t)__builtin_ctzll(it->x));
    it->x &= it->x - 1;
    return i;
}

static int
pick_longest_idle(const struct rq_pick *p)
{
    struct cand_iter it = cand_first(p->candidates);
    const struct rq_agent_key *keys = p->model->keys;
    long best = -1;
    uint64_t best_idle = 0;

    for (long i; (i = cand_next(&it)) >= 0;) {
        if (best < 0 || keys[i].idle_since_ms < best_idle) {
            best = i;
            best_idle = keys[i].idle_since_ms;
        }
    }
    return (int)best;
}

static double
occupancy(uint64_t work_ms, uint64_t work_since_ms, uint64_t login_ms, uint64_t now)
{
    uint64_t work = work_ms + (work_since_ms ? now - work_since_ms : 0);
    uint64_t staffed = now > login_ms ? now - login_ms : 0;

    return staffed == 0 ? 0.0 : (double)work / (double)staffed;
}

double
rq_agent_occupancy(const struct rq_agent *a, uint64_t now)
{
    return occupancy(a->work_ms, a->work_since_ms, a->login_ms, now);
}

static int
pick_least_occupied(const struct rq_pick *p)
{
    struct cand_iter it = cand_first(p->candidates);
    const struct rq_agent_key *keys = p->model->keys;
    long best = -1;
    double best_occ = 0;

    for (long i; (i = cand_next(&it)) >= 0;) {
        const struct rq_agent_key *k = &keys[i];
        double occ = occupancy(k->work_ms, k->work_since_ms, k->login_ms, p->now_ms);
        if (best < 0 || occ < best_occ ||
            (occ == best_occ && k->idle_since_ms < keys[best].idle_since_ms)) {
            best = i;
            best_occ = occ;
        }
    }
    return (int)best;
}

/* The next candidate after the queue's cursor, wrapping around. */
static int
pick_round_robin(const struct rq_pick *p)
{
    long i = rq_bitset_next(p->candidates, (size_t)(p->queue->rr_cursor + 1));

    if (i < 0)
        i = rq_bitset_next(p->candidates, 0);
    p->queue->rr_cursor = i;
    return (int)i;
}

static int
skill_score(const uint8_t *levels, const struct rq_contact *c)
{
    int score = 0;

    for (int k = 0; k < c->n_reqs; k++)
        score += levels[c->reqs[k].skill];
    return score;
}

int
rq_agent_skill_score(const struct rq_agent *a, const struct rq_contact *c)
{
    return skill_score(a->levels, c);
}

static int
pick_most_skilled(const struct rq_pick *p)
{
    struct cand_iter it = cand_first(p->candidates);
    const struct rq_agent_key *keys = p->model->keys;
    long best = -1;
    int best_score = -1;

    for (long i; (i = cand_next(&it)) >= 0;) {
        int s = skill_score(keys[i].levels, p->contact);
        if (s > best_score ||
            (s == best_score && keys[i].idle_since_ms < keys[best].idle_since_ms)) {
            best = i;
            best_score = s;
        }
    }
    return (int)best;
}

static int
pick_fewest_contacts(const struct rq_pick *p)
{
    struct cand_iter it = cand_first(p->candidates);
    const struct rq_agent_key *keys = p->model->keys;
    long best = -1;

    for (long i; (i = cand_next(&it)) >= 0;) {
        const struct rq_agent_key *k = &keys[i];
        if (best < 0 || k->handled < keys[best].handled ||
            (k->handled == keys[best].handled && k->idle_since_ms < keys[best].idle_since_ms))
            best = i;
    }
    return (int)best;
}

/* xorshift64*: the model's seeded generator, so runs are reproducible. */
static uint64_t
next_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The k-th candidate (from 0) in index order: whole words are skipped by
 * their population count. */
static int
pick_random(const struct rq_pick *p)
{
    const struct rq_bitset *b = p->candidates;
    size_t n = rq_bitset_count(b);
    size_t k = (size_t)(next_random(p->rng) % n);

    for (size_t w = 0; w < b->nwords; w++) {
        uint64_t x = b->words[w];
        size_t pc = x != 0 ? (size_t)__builtin_popcountll(x) : 0; /* may be a libgcc call */
        if (k >= pc) {
            k -= pc;
            continue;
        }
        while (k-- > 0)
            x &= x - 1;
        return (int)(w * 64 + (size_t)__builtin_ctzll(x));
    }
    return -1; /* not reached: candidates are never empty */
}

static const struct rq_strategy builtins[] = {
    {.name = "longest_idle", .pick = pick_longest_idle},
    {.name = "least_occupied", .pick = pick_least_occupied},
    {.name = "round_robin", .pick = pick_round_robin},
    {.name = "most_skilled", .pick = pick_most_skilled},
    {.name = "random", .pick = pick_random},
    {.name = "fewest_contacts", .pick = pick_fewest_contacts},
};

const struct rq_strategy *
rq_strategy_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return rq_plugin_strategy(name);
}

int
rq_strategy_known(const char *name)
{
    return rq_strategy_find(name) != NULL;
}
