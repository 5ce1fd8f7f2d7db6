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
    uint64_t *rng;                      /* the router's seeded generator state (random) */
    const struct rq_strategy *strategy; /* the strategy being asked */
};

/* Returns the chosen agent's index; it must be a member of candidates. */
typedef int rq_strategy_pick_fn(const struct rq_pick *p);

struct rq_strategy {
    const char *name;
    rq_strategy_pick_fn *pick;
    const void *impl; /* the plugin behind it, NULL for built-ins */
};

struct rq_agent;

/* Built-ins first, then strategies of loaded plugins. */
const struct rq_strategy *rq_strategy_find(const char *name);
/* Share of logged-in time spent on contacts, offers and wrap-up, 0..1. */
double rq_agent_occupancy(const struct rq_agent *a, uint64_t now_ms);
/* Sum of the agent's levels in the skills contact c needs. */
int rq_agent_skill_score(const struct rq_agent *a, const struct rq_contact *c);
int rq_strategy_known(const char *name);

#endif
