/*
 * router.h - the routing core's entry points: events in, decisions out.
 *
 * Every call takes effect at the injected clock's "now", runs every routing
 * decision it makes possible, reports each change through the hooks, and
 * returns 0, or -1 with err filled (code + message naming the field) and no
 * state changed. Nothing here blocks or does I/O.
 *
 * Hooks are called synchronously from inside these calls and must not call
 * back into the router; they only queue pushes and writes.
 */
#ifndef RQ_ROUTER_H
#define RQ_ROUTER_H

#include <stdint.h>

#include "clock.h"
#include "errors.h"
#include "model.h"

/* A contact as a source announces it (names, not indexes). Strings are
 * borrowed for the call only. */
struct rq_contact_in {
    const char *id;          /* required */
    const char *channel;     /* voice|chat|email|callback; NULL = voice */
    const char *queue;       /* required */
    const char *customer_id; /* may be NULL */
    const char *tier;        /* NULL = the configured default tier */
    const char *lang;        /* may be NULL */
    const char *persona;     /* may be NULL */
    struct {
        const char *name; /* skill name */
        int level;        /* minimum level 1..10 */
    } skills[RQ_MAX_REQS];
    int n_skills;
    int priority;                /* 0..RQ_MAX_PRIORITY */
    const char *preferred_agent; /* may be NULL */
    uint64_t due_at_ms;          /* 0 = none */
    uint64_t arrived_ms;         /* 0 = now; set when re-adding after a restart or sync */
};

struct rq_contact_result {
    int position; /* 1-based place among its queue's waiting contacts (0: offered at once) */
    double ewt_s; /* expected wait, seconds */
};

/* Why a contact or an offer changed, as the hooks report it. */
enum rq_change {
    RQ_CHG_QUEUED = 0, /* arrived (or re-queued) and waiting */
    RQ_CHG_OFFERED,    /* offered to c->agent */
    RQ_CHG_REQUEUED,   /* offer failed (no answer, rejected, agent gone): waiting again */
    RQ_CHG_ANSWERED,
    RQ_CHG_ESCALATED,   /* an escalation step applied (or the maximum wait passed) */
    RQ_CHG_TRANSFERRED, /* moved to another queue */
    RQ_CHG_ENDED,       /* final: contact is freed after the hook returns */
    RQ_CHG_ABANDONED,   /* final: contact is freed after the hook returns */
    RQ_CHG_PRIORITY,    /* a supervisor set its priority: new place in the order */
};

const char *rq_change_name(enum rq_change chg);

struct rq_hooks {
    /* Offer c to c->agent: screen pop to the agent, route to the source. */
    void (*offer)(void *arg, const struct rq_contact *c, const struct rq_agent *a);
    /* Withdraw the offer of c from a ("rona", "abandoned", "rejected",
     * "logged_out", "transferred", "ended"). */
    void (*revoke)(void *arg, const struct rq_contact *c, const struct rq_agent *a,
                   const char *reason);
    /* Any change of contact c (state, queue, escalation). */
    void (*contact)(void *arg, const struct rq_contact *c, enum rq_change chg);
    /* Agent a's derived state, presence, reason or load changed. */
    void (*agent)(void *arg, const struct rq_agent *a);
    /* Queue q's waiting/counters changed. */
    void (*queue)(void *arg, const struct rq_queue *q);
    /* c is about to miss its target ("near_target") or passed its maximum
     * wait ("max_wait"). */
    void (*alert)(void *arg, const struct rq_contact *c, const char *what);
};

struct rq_router;

struct rq_router *rq_router_new(const struct rq_conf *conf, const struct rq_clock *clock,
                                const struct rq_hooks *hooks, void *hooks_arg);
void rq_router_free(struct rq_router *r);
const struct rq_model *rq_router_model(const struct rq_router *r);
/* The router's clock: what "now" is for every figure it reports. */
uint64_t rq_router_now(const struct rq_router *r);
struct rq_agent *rq_router_agent_mut(struct rq_router *r, const char *id); /* for udata */

/* Sources. Contacts belong to the source name that announced them. */
int rq_router_contact_new(struct rq_router *r, const char *source, const struct rq_contact_in *in,
                          struct rq_contact_result *res, struct rq_error *err);
int rq_router_contact_answered(struct rq_router *r, const char *contact, const char *agent,
                               struct rq_error *err);
int rq_router_contact_no_answer(struct rq_router *r, const char *contact, const char *agent,
                                const char *reason, struct rq_error *err);
int rq_router_contact_abandon(struct rq_router *r, const char *contact, struct rq_error *err);
int rq_router_contact_end(struct rq_router *r, const char *contact, struct rq_error *err);
int rq_router_contact_transfer(struct rq_router *r, const char *contact, const char *queue,
                               struct rq_error *err);
/* A supervisor sets a waiting or ringing contact's announced priority
 * (0..RQ_MAX_PRIORITY; what escalation steps raised stays on top of it):
 * its place in the order moves at once. bad_state when it is connected. */
int rq_router_contact_priority(struct rq_router *r, const char *contact, int priority,
                               struct rq_error *err);
/* The source no longer knows the contact (sync): ended if it was answered,
 * abandoned otherwise. */
int rq_router_contact_drop(struct rq_router *r, const char *contact, struct rq_error *err);

/* Agents. Login puts the agent not_ready ("login") until it says ready. */
int rq_router_agent_login(struct rq_router *r, const char *agent, struct rq_error *err);
int rq_router_agent_logout(struct rq_router *r, const char *agent, struct rq_error *err);
int rq_router_agent_state(struct rq_router *r, const char *agent, const char *state,
                          const char *reason, struct rq_error *err);
int rq_router_offer_accept(struct rq_router *r, const char *agent, const char *contact,
                           struct rq_error *err);
int rq_router_offer_reject(struct rq_router *r, const char *agent, const char *contact,
                           struct rq_error *err);
int rq_router_agent_end(struct rq_router *r, const char *agent, const char *contact,
                        struct rq_error *err);
int rq_router_wrapup_done(struct rq_router *r, const char *agent, struct rq_error *err);

/* Start-up recovery (store.c). A restored contact keeps its arrival time
 * and place; one that was ringing waits again (its offer died with the old
 * process); a connected one stays with its agent. Counters are not touched:
 * they come back with rq_router_queue_restore. */
struct rq_contact_restore {
    enum rq_contact_state state; /* waiting, ringing or connected */
    const char *agent;           /* the connected agent, or NULL */
    uint64_t first_arrived_ms;   /* first arrival at ringqd */
    uint64_t answered_ms;        /* when connected */
    int offers;                  /* offers made so far */
    int alerted;                 /* the near-target alert already went out */
};
int rq_router_contact_restore(struct rq_router *r, const char *source,
                              const struct rq_contact_in *in, const struct rq_contact_restore *rs,
                              struct rq_error *err);
/* The agent's presence before the restart: applied when it logs in again. */
int rq_router_agent_restore(struct rq_router *r, const char *agent, const char *presence,
                            const char *reason, uint64_t wrap_until_ms, const char *wrap_queue);
void rq_router_queue_restore(struct rq_router *r, int queue, const struct rq_qcounters *total,
                             const struct rq_qcounters *by_tier);

/* Draining (a stop is under way): new contacts are refused with
 * `unavailable` and no new offers are made; ringing offers and connected
 * contacts run to their end, waiting contacts keep waiting (for the next
 * process, through the store). */
void rq_router_drain(struct rq_router *r);
/* Offers ringing plus contacts connected: what a drain waits for. */
size_t rq_router_in_progress(const struct rq_router *r);

/*
 * Reload. rq_router_reload() builds a new model for nc and carries every
 * live contact and agent over, keyed by name: waiting contacts keep arrival,
 * tier, priority, target and place (new targets are for new arrivals);
 * ringing ones keep ringing at the same agent;
 * connected ones stay with their agent. A contact of a removed queue moves to
 * nc->fallback_queue (none set: the reload is refused) and takes that
 * queue's target for its tier. An agent removed while on contacts or in
 * wrap-up stays, retiring (never offered, logged out when they end); a
 * removed agent's ringing offer is revoked (hook, reason "removed")
 * and its contact waits again. Counters of kept queues are kept.
 *
 * On error nothing changed (err: RQ_E_BAD_CONFIG or RQ_E_INTERNAL). On
 * success the router runs on nc (nc must outlive it or the next reload) and
 * the hooks have not been told of anything but the revokes: the caller
 * moves the I/O layer to nc, then calls rq_router_reload_settle(), which
 * reports every agent, queue and moved contact and routes.
 */
struct rq_reload_report {
    int queues_added, queues_removed;
    int agents_added, agents_removed;
    int moved;         /* contacts moved to the fallback queue */
    int revoked;       /* offers of removed agents withdrawn */
    int retiring;      /* removed agents kept until their contacts end */
    void **gone_udata; /* udata of removed agents (their sessions), malloc'd */
    int n_gone;        /* entries in gone_udata */
};
int rq_router_reload(struct rq_router *r, const struct rq_conf *nc, struct rq_reload_report *rep,
                     struct rq_error *err);
void rq_router_reload_settle(struct rq_router *r);
const struct rq_conf *rq_router_conf(const struct rq_router *r);

/* Timers: the earliest due time (UINT64_MAX if none), and firing every timer
 * due at the clock's now. */
uint64_t rq_router_next_timer(const struct rq_router *r);
void rq_router_run_timers(struct rq_router *r);

/* Live figures. */
int rq_router_position(const struct rq_router *r, const struct rq_contact *c);
double rq_router_ewt_s(const struct rq_router *r, const struct rq_contact *c);
uint64_t rq_router_longest_wait_ms(const struct rq_router *r, const struct rq_queue *q);

#endif
