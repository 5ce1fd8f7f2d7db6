/*
 * session.h - connected clients of the NDJSON protocol: sources, agents and
 * monitors. A session authenticates its client (hello), turns each line
 * into a router call and exactly one reply, and turns the router's hooks
 * into pushes: offers and state to agents, routes and revokes to sources,
 * queue_stats, agent_state, contact and alert events to monitors.
 *
 * Set-up (main.c):
 *   ctx = rq_session_ctx_new(base, conf);
 *   r   = rq_router_new(conf, &rq_clock_real, &rq_session_hooks, ctx);
 *   rq_session_ctx_start(ctx, r);
 *   net = rq_net_new(base, conf, &rq_session_net_cbs, ctx, err, errlen);
 * Tear-down: rq_session_ctx_stop(ctx); rq_net_free(net); rq_router_free(r);
 * rq_session_ctx_free(ctx).
 */
#ifndef RQ_SESSION_H
#define RQ_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "net.h"
#include "router.h"

struct event_base;
struct rq_session_ctx;

/* The router's hooks; their argument is the struct rq_session_ctx. */
extern const struct rq_hooks rq_session_hooks;
/* net.c's callbacks; their argument is the struct rq_session_ctx. */
extern const struct rq_net_cbs rq_session_net_cbs;

/* Counters for logs and metrics. */
struct rq_session_stats {
    uint64_t auth_failures; /* hellos refused */
    uint64_t replaced;      /* sessions taken over by a newer hello of the same name */
    uint64_t requests;      /* lines answered */
    uint64_t errors;        /* lines answered with an error */
    uint64_t overloaded;    /* contact.new refused: Redis too far behind (redis.max_pending) */
    uint64_t input_holds;   /* times a client's reading paused until Redis caught up */
};

struct rq_session_ctx *rq_session_ctx_new(struct event_base *base, const struct rq_conf *conf);
/* Attach the router (created with rq_session_hooks and this ctx) and arm its
 * timer. Returns 0, or -1 when out of memory. */
int rq_session_ctx_start(struct rq_session_ctx *ctx, struct rq_router *r);
/* Shutting down: closing sessions stop calling the router (agents are not
 * logged out one by one) and no more pushes or timers run. */
void rq_session_ctx_stop(struct rq_session_ctx *ctx);
/* After every session is closed (rq_net_free). */
void rq_session_ctx_free(struct rq_session_ctx *ctx);
const struct rq_session_stats *rq_session_ctx_stats(const struct rq_session_ctx *ctx);

/* After rq_router_reload(): run on conf from now on. Agents' sessions follow
 * their agents into the new model; sessions of agents, sources and monitors
 * the file no longer has get {"ev":"closed","reason":"removed"} and are
 * closed. -1: out of memory (nothing changed). */
int rq_session_ctx_reload(struct rq_session_ctx *ctx, const struct rq_conf *conf,
                          const struct rq_reload_report *rep);
/* What admin.reload calls (main.c's reload): 0 with rep filled, or -1 with
 * err (RQ_E_BAD_CONFIG: "file:line: ..."). */
typedef int rq_session_reload_fn(void *arg, struct rq_reload_report *rep, struct rq_error *err);
void rq_session_ctx_set_reload(struct rq_session_ctx *ctx, rq_session_reload_fn *fn, void *arg);

/* A reload ended (error NULL: done, rep its report): every monitor and the
 * listener get a `reload` push, and the router's timer is re-armed. */
void rq_session_ctx_reloaded(struct rq_session_ctx *ctx, const char *error,
                             const struct rq_reload_report *rep);

struct rq_store;
/* Mirror every change to store, and hold each source's replies until the
 * changes they report are durable (NULL: memory only). */
void rq_session_ctx_set_store(struct rq_session_ctx *ctx, struct rq_store *store);

/* After a router call made outside a session (the HTTP API): re-arm the
 * router's timer for whatever the call scheduled. */
void rq_session_ctx_after_change(struct rq_session_ctx *ctx);

/*
 * A listener hears every push monitors hear (the HTTP event stream): topic
 * is its RQ_TOPIC_* bit (0 for "redis", which every monitor gets), body the
 * push's members (borrowed), line the encoded push without its newline.
 * Pushes of a topic are built only while someone wants them: the listener
 * says which topics it wants now with rq_session_ctx_listen().
 */
typedef void rq_session_push_cb(void *arg, unsigned topic, const char *ev, const json_t *body,
                                const char *line, size_t len);
/* Set (or with cb NULL clear) the one listener. */
void rq_session_ctx_set_listener(struct rq_session_ctx *ctx, rq_session_push_cb *cb, void *arg);
/* The RQ_TOPIC_* bits the listener wants from now on. */
void rq_session_ctx_listen(struct rq_session_ctx *ctx, unsigned topics);

#endif
