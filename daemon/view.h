/*
 * view.h - JSON views of the routing state (jansson): what snapshots,
 * monitor pushes and the HTTP API show of queues, agents and contacts.
 * Read-only: every function takes the router (for live figures) and
 * returns a new object owned by the caller, or NULL when out of memory.
 * Times are ms since the epoch in *_ms fields and seconds in *_s fields.
 */
#ifndef RQ_VIEW_H
#define RQ_VIEW_H

#include <stdint.h>

#include <jansson.h>

#include "model.h"
#include "router.h"

/* Contacts a snapshot lists at most ("contacts_truncated": true beyond). */
#define RQ_VIEW_MAX_CONTACTS 10000

/* A queue: configuration, live figures, counters, service level, agents by state. */
json_t *rq_view_queue(const struct rq_router *r, const struct rq_queue *q);
/* The queue_stats push body: {queue, waiting, longest_wait_s, offered, ...}. */
json_t *rq_view_queue_stats(const struct rq_router *r, const struct rq_queue *q);
/* An agent: state, skills, languages, load, capacity, offer. */
json_t *rq_view_agent(const struct rq_router *r, const struct rq_agent *a);
/* The agent_state push body: {agent, state, reason, since_ms, load}. */
json_t *rq_view_agent_state(const struct rq_router *r, const struct rq_agent *a);
/* A contact: state, routing attributes, times, position while waiting. */
json_t *rq_view_contact(const struct rq_router *r, const struct rq_contact *c);
/* {id, tier, lang, persona} of a contact's customer (null when unknown). */
json_t *rq_view_customer(const struct rq_router *r, const struct rq_contact *c);
/* {"queues":[...],"agents":[...],"contacts":[...]} */
json_t *rq_view_snapshot(const struct rq_router *r);
struct rq_store;
/* {"enabled", "connected", "journal", "journal_limit", "outages", ...} */
json_t *rq_view_store(const struct rq_store *s);

/* The reason shown with an agent's state: its not_ready reason, else NULL. */
const char *rq_view_agent_reason(const struct rq_agent *a);
/* Seconds from ms: an integer when whole, else a real. */
json_t *rq_view_seconds(uint64_t ms);
/* Does agent a meet queue q's own skill requirements (is it "in" the queue)? */
int rq_view_agent_in_queue(const struct rq_model *m, const struct rq_agent *a,
                           const struct rq_queue *q);
/* Agents of queue q (see rq_view_agent_in_queue) per enum rq_agent_state. */
void rq_view_queue_agents(const struct rq_model *m, const struct rq_queue *q,
                          int counts[RQ_AS__COUNT]);

#endif
