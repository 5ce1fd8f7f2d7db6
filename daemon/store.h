/*
 * store.h - the Redis mirror of ringqd's live state (docs/redis.md).
 *
 * The in-memory model is the hot path; Redis is its durable, shared copy.
 * Each change the router reports is formatted into the current batch; once
 * per loop iteration the batch goes out as one pipelined MULTI ... EXEC
 * (group commit), and whoever waits for it (a contact.new reply) is told
 * when Redis acknowledged it.
 *
 * While Redis is unreachable, routing goes on: batches wait in a bounded
 * journal and are replayed in order on reconnect. When the journal is at
 * its limit new contacts are refused (rq_store_accepting() is 0) rather
 * than lost; if even the other changes overflow it, the store rewrites the
 * whole state from memory on reconnect instead of replaying.
 */
#ifndef RQ_STORE_H
#define RQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "errors.h"
#include "router.h"

struct event_base;
struct rq_store;

/* Called once the batch that holds the caller's changes is durable
 * (durable = 1) or, during an outage, journaled (durable = 0). */
typedef void rq_store_done_cb(void *arg, int durable);

/* Live figures of the store, for monitors, /healthz and metrics. */
struct rq_store_stats {
    int connected;          /* 1 while Redis answers */
    uint64_t batches;       /* batches acknowledged */
    uint64_t commands;      /* commands acknowledged */
    uint64_t outages;       /* times the connection was lost */
    size_t journal_cmds;    /* commands waiting for Redis */
    size_t journal_limit;   /* the configured bound */
    int resync_pending;     /* the journal overflowed: full rewrite on reconnect */
    uint64_t down_since_ms; /* start of the current outage, 0 when connected */
};

/* Connect (asynchronously) with the settings in conf->redis. */
struct rq_store *rq_store_new(struct event_base *base, const struct rq_conf *conf,
                              struct rq_router *router, struct rq_error *err);
void rq_store_free(struct rq_store *s);

/*
 * Start-up recovery: read every live contact, agent and queue counter back
 * into the router, blocking (before the loop runs and before listeners
 * accept). Returns the number of contacts restored, or -1 with err set.
 */
long rq_store_recover(const struct rq_conf *conf, struct rq_router *router, struct rq_error *err);

/* Change capture: the router hooks call these. */
void rq_store_contact(struct rq_store *s, const struct rq_contact *c, enum rq_change chg);
void rq_store_agent(struct rq_store *s, const struct rq_agent *a);
void rq_store_queue(struct rq_store *s, const struct rq_queue *q);

/* After rq_router_reload(), before rq_router_reload_settle(): queue names
 * come from conf; keys of old's queues and agents that are gone are deleted
 * and the live state is written afresh. The connection settings stay those
 * of the configuration the store was made with, which must outlive it.
 * -1: out of memory (nothing changed). */
int rq_store_reload(struct rq_store *s, const struct rq_conf *conf, const struct rq_conf *old);

/* Run cb when the current batch is durable (or journaled). */
int rq_store_when_durable(struct rq_store *s, rq_store_done_cb *cb, void *arg);
/* Sequence number of the current batch (batches complete in this order). */
uint64_t rq_store_batch_seq(struct rq_store *s);

/* Told when Redis goes away or comes back (monitors show it). */
typedef void rq_store_state_cb(void *arg, int connected);
void rq_store_on_state(struct rq_store *s, rq_store_state_cb *cb, void *arg);

/* 1 while new contacts may be taken (journal below its bound). */
int rq_store_accepting(const struct rq_store *s);
int rq_store_connected(const struct rq_store *s);
/* Commands handed to Redis and not acknowledged yet, with the current
 * batch's: how far Redis is behind. */
size_t rq_store_pending(const struct rq_store *s);
/* 1 while that is at redis.max_pending or more: new contacts are refused
 * (`overloaded`) until Redis catches up; *retry_ms (may be NULL) gets a
 * hint of when to try again. */
int rq_store_overloaded(const struct rq_store *s, uint32_t *retry_ms);
void rq_store_get_stats(const struct rq_store *s, struct rq_store_stats *out);

/* Write everything still pending and wait up to timeout_ms for Redis to
 * acknowledge it (drain and shutdown). Returns 0 when all was written. */
int rq_store_flush_sync(struct rq_store *s, uint32_t timeout_ms);

#endif
