/*
 * strategy.h - agent-selection strategies. Given the agents that may take a
 * contact (a bitset: available, skilled, speaking its language), a strategy
 * picks one. Built-ins: longest_idle, least_occupied, round_robin,
 * most_skilled, random, fewest_contacts. Ties go to the agent idle longest,
 * then to the lowest index, so every pick is deterministic for a given
 * clock and seed.
 */
#ifndef RQ_STRATEGY_H
#define RQ_STRATEGY_H

#include <stdint.h>

struct rq_model;
struct rq_contact;
struct rq_queue;
struct rq_bitset;

/* What a strategy sees for one decision. */
struct rq_pick {
    const struct rq_model *model;     /* agents and their counters */
    const struct rq_contact *contact; /* the contact to place */
    struct rq_queue *queue;           /* the contact's queue (round robin keeps its cursor here) */
    const struct rq_bitset *candidates; /* agents allowed; never empty */
    uint64_t now_ms;
    uint64_t *rng; /* the router's seeded generator state (random) */
};

/* Returns the chosen agent's index; it must be a member of candidates. */
typedef int rq_strategy_pick_fn(const struct rq_pick *p);

struct rq_strategy {
    const char *name;
    rq_strategy_pick_fn *pick;
};

const struct rq_strategy *rq_strategy_find(const char *name);
int rq_strategy_known(const char *name);

#endif
