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

/* Longest idle first; the common tie-break of every strategy. */
static int
idle_before(const struct rq_agent *a, const struct rq_agent *b)
{
    if (a->idle_since_ms != b->idle_since_ms)
        return a->idle_since_ms < b->idle_since_ms;
    return a->idx < b->idx;
}

static int
pick_longest_idle(const struct rq_pick *p)
{
    const struct rq_agent *best = NULL;

    RQ_BITSET_FOREACH (p->candidates, i) {
        const struct rq_agent *a = &p->model->agents[i];
        if (best == NULL || idle_before(a, best))
            best = a;
    }
    return best->idx;
}

double
rq_agent_occupancy(const struct rq_agent *a, uint64_t now)
{
    uint64_t work = a->work_ms + (a->work_since_ms ? now - a->work_since_ms : 0);
    uint64_t staffed = now > a->login_ms ? now - a->login_ms : 0;

    return staffed == 0 ? 0.0 : (double)work / (double)staffed;
}

static int
pick_least_occupied(const struct rq_pick *p)
{
    const struct rq_agent *best = NULL;
    double best_occ = 0;

    RQ_BITSET_FOREACH (p->candidates, i) {
        const struct rq_agent *a = &p->model->agents[i];
        double occ = rq_agent_occupancy(a, p->now_ms);
        if (best == NULL || occ < best_occ || (occ == best_occ && idle_before(a, best))) {
            best = a;
            best_occ = occ;
        }
    }
    return best->idx;
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

int
rq_agent_skill_score(const struct rq_agent *a, const struct rq_contact *c)
{
    int score = 0;

    for (int k = 0; k < c->n_reqs; k++)
        score += a->levels[c->reqs[k].skill];
    return score;
}

static int
pick_most_skilled(const struct rq_pick *p)
{
    const struct rq_agent *best = NULL;
    int best_score = -1;

    RQ_BITSET_FOREACH (p->candidates, i) {
        const struct rq_agent *a = &p->model->agents[i];
        int s = rq_agent_skill_score(a, p->contact);
        if (s > best_score || (s == best_score && idle_before(a, best))) {
            best = a;
            best_score = s;
        }
    }
    return best->idx;
}

static int
pick_fewest_contacts(const struct rq_pick *p)
{
    const struct rq_agent *best = NULL;

    RQ_BITSET_FOREACH (p->candidates, i) {
        const struct rq_agent *a = &p->model->agents[i];
        if (best == NULL || a->handled < best->handled ||
            (a->handled == best->handled && idle_before(a, best)))
            best = a;
    }
    return best->idx;
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

static int
pick_random(const struct rq_pick *p)
{
    size_t n = rq_bitset_count(p->candidates);
    size_t k = (size_t)(next_random(p->rng) % n);
    long i = rq_bitset_next(p->candidates, 0);

    while (k-- > 0)
        i = rq_bitset_next(p->candidates, (size_t)i + 1);
    return (int)i;
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
