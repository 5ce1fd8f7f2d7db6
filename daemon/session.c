/*
 * session.c - one connected client (source, agent or monitor): hello and
 * roles, one reply per request, router calls, and the router's hooks turned
 * into pushes.
 *
 * Order on the wire: pushes a request causes for its own client (a route
 * for the contact just announced, an offer after agent.state ready) go out
 * after the reply to that request; other clients get them at once.
 *
 * The router's hooks run inside router calls and never call back into it;
 * a session that goes away is handled from net.c's deferred close, at the
 * top of the loop, where logging its agent out is safe.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <uthash.h>

#include "clock.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "store.h"
#include "view.h"

#ifndef RINGQ_VERSION
#error "RINGQ_VERSION must be defined (daemon/CMakeLists.txt)"
#endif

#define STATS_PUSH_INTERVAL_MS 200 /* queue_stats go out at most this often */
#define LOG_NAME_LEN           (RQ_LOG_INPUT_PREFIX * 4 + 1) /* an escaped client string */

enum topic_idx { TOPIC_QUEUES = 0, TOPIC_AGENTS, TOPIC_CONTACTS, TOPIC_ALERTS, TOPIC__COUNT };

struct rq_session {
    struct rq_session_ctx *ctx;            /* shared state */
    struct rq_conn *conn;                  /* the connection (net.c owns it) */
    enum rq_role role;                     /* RQ_ROLE_NONE until hello */
    char *name;                            /* source or monitor name, agent id */
    struct rq_agent *agent;                /* role agent: its agent while this session owns it */
    unsigned topics;                       /* role monitor: RQ_TOPIC_* subscribed to */
    int in_request;                        /* a request of this client is being handled */
    struct evbuffer *held;                 /* pushes to this client held until its reply went out */
    int close_after;                       /* close once the reply went out (bye) */
    int in_sources;                        /* listed in ctx->sources */
    int in_monitors;                       /* listed in ctx->monitors */
    int state_pushed;                      /* pushed_state/pushed_reason are valid */
    enum rq_agent_state pushed_state;      /* last state pushed to the agent */
    char pushed_reason[RQ_MAX_REASON_LEN]; /* and its reason ("" for none) */
    struct rq_session *mon_prev, *mon_next; /* ctx->monitors */
    struct deferred *def_head, *def_tail;   /* lines waiting for their batch to be durable */
    uint64_t def_batch;                     /* batch the last waiter was registered for */
    int waiters;                            /* store waiters that point at this session */
    int dead;                               /* closed; freed when the last waiter ran */
    enum rq_monitor_role mon_role;          /* role monitor: what it may do besides watching */
    int input_held;                         /* its lines are not read until Redis catches up */
    struct rq_session *hold_prev;           /* ctx->holding */
    struct rq_session *hold_next;           /* ctx->holding */
    UT_hash_handle hh;                      /* ctx->sources, keyed by name */
};

/* A line held back until the store's batch `batch` is acknowledged. */
struct deferred {
    char *line; /* the line, newline included */
    size_t len;
    uint64_t batch;    /* batch holding the changes it reports */
    int patch_durable; /* a contact.new reply: add "durable" */
    int is_push;       /* a push (not a reply) */
    struct deferred *next;
};

/* A store waiter: session s's lines up to batch `batch` may go. */
struct durable_wait {
    struct rq_session *s;
    uint64_t batch;
};

struct rq_session_ctx {
    struct event_base *base;       /* the loop */
    const struct rq_conf *conf;    /* tokens, queues */
    struct rq_router *router;      /* NULL until rq_session_ctx_start */
    struct event *router_timer;    /* fires at rq_router_next_timer() */
    uint64_t timer_due_ms;         /* what router_timer is armed for, UINT64_MAX: not armed */
    struct event *stats_timer;     /* flushes queue_stats of dirty queues */
    uint64_t stats_pushed_ms;      /* monotonic time of the last flush */
    unsigned char *dirty;          /* per queue: changed since the last flush */
    int *dirty_list;               /* indexes of dirty queues */
    int *skill_queues;             /* queue indexes grouped by their first required skill */
    int *skill_queues_at;          /* skill s's group: [at[s], at[s+1]); n_skills: no skill */
    int n_dirty;                   /* entries in dirty_list */
    struct rq_session *sources;    /* source sessions by name (one per name) */
    struct rq_session *monitors;   /* monitor sessions */
    int n_topic[TOPIC__COUNT];     /* monitors subscribed per topic */
    int stopping;                  /* shutting down: no router calls, no pushes */
    struct rq_store *store;        /* the Redis mirror, or NULL (memory only) */
    int patch_next_reply;          /* the reply being sent is a contact.new reply */
    struct rq_session_stats stats; /* counters */
    rq_session_push_cb *listener;  /* hears what monitors hear (HTTP event stream), or NULL */
    void *listener_arg;            /* its argument */
    unsigned listener_topics;      /* RQ_TOPIC_* it wants (counted in n_topic) */
    uint64_t started_ms;           /* monotonic time the context was made (uptime) */
    struct event *retired_ev;      /* closes sessions of retired agents that are done */
    rq_session_reload_fn *reload;  /* admin.reload, or NULL */
    void *reload_arg;              /* its argument */
    size_t held_bytes;             /* bytes of deferred lines, all sessions together */
    struct rq_session *holding;    /* sessions whose input is held until Redis catches up */
    struct event *hold_timer;      /* re-checks the held sessions while there are some */
};

/* --- small helpers --- */

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval
ms_tv(uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000u),
                         .tv_usec = (suseconds_t)(ms % 1000u) * 1000};
    return tv;
}

static const char *
esc(char *buf, const char *s)
{
    if (s == NULL)
        return "(none)";
    rq_log_escape(buf, LOG_NAME_LEN, s, strlen(s), RQ_LOG_INPUT_PREFIX);
    return buf;
}

static unsigned long long
conn_id(const struct rq_session *s)
{
    return (unsigned long long)rq_net_conn_id(s->conn);
}

/* Compare a client's token with the configured one in time that depends on
 * the configured token's length only. */
static int
token_equal(const char *given, const char *want)
{
    size_t lg, lw;
    volatile unsigned char diff;

    if (given == NULL || want == NULL)
        return 0;
    lg = strlen(given);
    lw = strlen(want);
    diff = (unsigned char)(lg != lw);
    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned char)((unsigned char)want[i] ^ (i < lg ? (unsigned char)given[i] : 0u));
    return diff == 0;
}

static int
topic_bit(int t)
{
    static const unsigned bits[TOPIC__COUNT] = {RQ_TOPIC_QUEUES, RQ_TOPIC_AGENTS, RQ_TOPIC_CONTACTS,
                                                RQ_TOPIC_ALERTS};
    return (int)bits[t];
}

/* --- output --- */

static void session_free(struct rq_session *s);

/* --- overload: reading paused while Redis is far behind --- */

#define HOLD_CHECK_MS 5 /* held sessions are re-checked this often */

/* Stop reading from clients adding work: the replies held for Redis pass
 * redis.max_held_bytes, or what Redis has not acknowledged passes twice
 * redis.max_pending (from max_pending on, contact.new is refused; ends,
 * abandons and answers are taken until here). */
static int
over_hold_bound(const struct rq_session_ctx *ctx)
{
    const struct rq_conf_redis *rc = &ctx->conf->redis;

    return ctx->held_bytes > rc->max_held_bytes ||
           rq_store_pending(ctx->store) > 2 * rc->max_pending;
}

static int
below_resume_bound(const struct rq_session_ctx *ctx)
{
    const struct rq_conf_redis *rc = &ctx->conf->redis;

    return ctx->held_bytes <= rc->max_held_bytes / 2 &&
           rq_store_pending(ctx->store) <= rc->max_pending;
}

static void
hold_input(struct rq_session *s)
{
    struct rq_session_ctx *ctx = s->ctx;
    struct timeval tv = {0, HOLD_CHECK_MS * 1000};

    if (s->input_held || s->dead || rq_net_closing(s->conn))
        return;
    s->input_held = 1;
    s->hold_prev = NULL;
    s->hold_next = ctx->holding;
    if (ctx->holding != NULL)
        ctx->holding->hold_prev = s;
    ctx->holding = s;
    ctx->stats.input_holds++;
    rq_net_hold_input(s->conn, 1);
    if (!evtimer_pending(ctx->hold_timer, NULL))
        evtimer_add(ctx->hold_timer, &tv);
}

/* Out of ctx->holding (the caller resumes reading, or the session goes). */
static void
unlist_held(struct rq_session *s)
{
    if (!s->input_held)
        return;
    if (s->hold_prev != NULL)
        s->hold_prev->hold_next = s->hold_next;
    else
        s->ctx->holding = s->hold_next;
    if (s->hold_next != NULL)
        s->hold_next->hold_prev = s->hold_prev;
    s->hold_prev = s->hold_next = NULL;
    s->input_held = 0;
}

static void
resume_held(struct rq_session_ctx *ctx)
{
    if (ctx->holding == NULL || !below_resume_bound(ctx))
        return;
    while (ctx->holding != NULL) {
        struct rq_session *s = ctx->holding;
        unlist_held(s);
        rq_net_hold_input(s->conn, 0);
    }
}

static void
hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_session_ctx *ctx = arg;
    struct timeval tv = {0, HOLD_CHECK_MS * 1000};

    resume_held(ctx);
    if (ctx->holding != NULL && !ctx->stopping)
        evtimer_add(ctx->hold_timer, &tv);
}

/* Send deferred lines whose batch is at most upto; durable says whether
 * that batch reached Redis. */
static void
release_deferred(struct rq_session *s, uint64_t upto, int durable)
{
    struct deferred *d;

    while ((d = s->def_head) != NULL && d->batch <= upto) {
        s->def_head = d->next;
        if (s->def_head == NULL)
            s->def_tail = NULL;
        if (!s->dead && !rq_net_closing(s->conn)) {
            if (d->patch_durable && d->len >= 2 && d->line[d->len - 2] == '}') {
                char tail[32];
                int n =
                    snprintf(tail, sizeof(tail), ",\"durable\":%s}\n", durable ? "true" : "false");
                rq_net_send(s->conn, d->line, d->len - 2, 0);
                rq_net_send(s->conn, tail, (size_t)n, 0);
            } else {
                rq_net_send(s->conn, d->line, d->len, d->is_push);
            }
        }
        s->ctx->held_bytes -= d->len;
        free(d->line);
        free(d);
    }
}

static void
durable_cb(void *arg, int durable)
{
    struct durable_wait *w = arg;
    struct rq_session *s = w->s;

    s->waiters--;
    release_deferred(s, w->batch, durable);
    free(w);
    resume_held(s->ctx);
    if (s->close_after && s->def_head == NULL && !s->dead && !rq_net_closing(s->conn))
        rq_net_close(s->conn, RQ_NET_CLOSE_FLUSH, "bye"); /* its reply went out */
    if (s->dead && s->waiters == 0)
        session_free(s);
}

/* With a store, sources and agents hear nothing before their changes are
 * durable: their replies, and every line after one, wait for the batch. */
static int
defer_line(struct rq_session *s, const char *line, size_t len, int is_push)
{
    struct rq_session_ctx *ctx = s->ctx;
    struct deferred *d;
    uint64_t batch;

    if (ctx->store == NULL || (s->def_head == NULL && (is_push || (s->role != RQ_ROLE_SOURCE &&
                                                                   s->role != RQ_ROLE_AGENT))))
        return 0;
    batch = rq_store_batch_seq(ctx->store);
    if ((d = calloc(1, sizeof(*d))) == NULL || (d->line = malloc(len)) == NULL) {
        free(d);
        rq_net_close(s->conn, RQ_NET_CLOSE_NOW, "out of memory");
        return 1;
    }
    memcpy(d->line, line, len);
    d->len = len;
    d->batch = batch;
    d->is_push = is_push;
    d->patch_durable = !is_push && ctx->patch_next_reply;
    if (s->def_tail != NULL)
        s->def_tail->next = d;
    else
        s->def_head = d;
    s->def_tail = d;
    ctx->held_bytes += len;
    if (!s->input_held && over_hold_bound(ctx))
        hold_input(s);
    if (s->def_batch != batch) {
        struct durable_wait *w = malloc(sizeof(*w));
        if (w == NULL || rq_store_when_durable(ctx->store, durable_cb, w) < 0) {
            free(w);
            rq_net_close(s->conn, RQ_NET_CLOSE_NOW, "out of memory");
            return 1;
        }
        w->s = s;
        w->batch = batch;
        s->waiters++;
        s->def_batch = batch;
    }
    return 1;
}

static void
send_line(struct rq_session *s, const char *line, size_t len, int is_push)
{
    if (defer_line(s, line, len, is_push))
        return;
    if (is_push && s->in_request) {
        if (s->held == NULL)
            s->held = evbuffer_new();
        if (s->held == NULL || evbuffer_add(s->held, line, len) != 0)
            rq_net_close(s->conn, RQ_NET_CLOSE_NOW, "out of memory");
        return;
    }
    rq_net_send(s->conn, line, len, is_push);
}

/* Push {"ev":ev, ...body} to one session (body is stolen). */
static void
push(struct rq_session *s, const char *ev, json_t *body)
{
    size_t len;
    char *line;

    if (body == NULL)
        return;
    if (s == NULL || s->ctx->stopping || rq_net_closing(s->conn)) {
        json_decref(body);
        return;
    }
    line = rq_proto_push(ev, body, &len);
    if (line == NULL)
        return;
    send_line(s, line, len, 1);
    free(line);
}

/* Push to every monitor subscribed to topic t (body is stolen). */
static void
push_monitors(struct rq_session_ctx *ctx, int t, const char *ev, json_t *body)
{
    size_t len;
    char *line;
    json_t *keep = NULL;

    if (body == NULL)
        return;
    if (ctx->listener != NULL && (ctx->listener_topics & (unsigned)topic_bit(t)))
        keep = json_incref(body);
    line = rq_proto_push(ev, body, &len);
    if (line == NULL) {
        json_decref(keep);
        return;
    }
    for (struct rq_session *m = ctx->monitors; m != NULL; m = m->mon_next) {
        if ((m->topics & (unsigned)topic_bit(t)) && !rq_net_closing(m->conn))
            send_line(m, line, len, 1);
    }
    if (keep != NULL) {
        ctx->listener(ctx->listener_arg, (unsigned)topic_bit(t), ev, keep, line, len - 1);
        json_decref(keep);
    }
    free(line);
}

static void
reply(struct rq_session *s, json_t *id, int rc, json_t *extra, const struct rq_error *err)
{
    size_t len;
    char *line;

    s->ctx->stats.requests++;
    if (rc == 0) {
        line = rq_proto_reply_ok(id, extra, &len);
    } else {
        s->ctx->stats.errors++;
        json_decref(extra);
        line = rq_proto_reply_error(id, err, &len);
    }
    if (line == NULL) {
        rq_net_close(s->conn, RQ_NET_CLOSE_NOW, "out of memory");
        return;
    }
    if (!defer_line(s, line, len, 0))
        rq_net_send(s->conn, line, len, 0);
    free(line);
}

static json_t *
obj(void)
{
    return json_object();
}

/* --- router timer --- */

static void
arm_router_timer(struct rq_session_ctx *ctx)
{
    uint64_t next, now;

    if (ctx->router == NULL || ctx->stopping)
        return;
    next = rq_router_next_timer(ctx->router);
    if (next == ctx->timer_due_ms &&
        (next == UINT64_MAX || evtimer_pending(ctx->router_timer, NULL)))
        return;
    ctx->timer_due_ms = next;
    if (next == UINT64_MAX) {
        evtimer_del(ctx->router_timer);
        return;
    }
    now = rq_clock_now(&rq_clock_real);
    {
        struct timeval tv = ms_tv(next > now ? next - now : 0);
        evtimer_add(ctx->router_timer, &tv);
    }
}

static void
router_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_session_ctx *ctx = arg;

    if (ctx->router == NULL || ctx->stopping)
        return;
    ctx->timer_due_ms = UINT64_MAX;
    rq_router_run_timers(ctx->router);
    arm_router_timer(ctx);
}

/* --- queue_stats, throttled --- */

static void
stats_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_session_ctx *ctx = arg;
    const struct rq_model *m;

    ctx->stats_pushed_ms = mono_ms();
    if (ctx->router == NULL || ctx->stopping) {
        ctx->n_dirty = 0;
        return;
    }
    m = rq_router_model(ctx->router);
    for (int i = 0; i < ctx->n_dirty; i++) {
        int q = ctx->dirty_list[i];
        ctx->dirty[q] = 0;
        if (ctx->n_topic[TOPIC_QUEUES] > 0)
            push_monitors(ctx, TOPIC_QUEUES, "queue_stats",
                          rq_view_queue_stats(ctx->router, &m->queues[q]));
    }
    ctx->n_dirty = 0;
}

static void
mark_queue_dirty(struct rq_session_ctx *ctx, int q)
{
    uint64_t now, next;

    if (ctx->dirty[q])
        return;
    ctx->dirty[q] = 1;
    ctx->dirty_list[ctx->n_dirty++] = q;
    if (evtimer_pending(ctx->stats_timer, NULL))
        return;
    now = mono_ms();
    next = ctx->stats_pushed_ms + STATS_PUSH_INTERVAL_MS;
    {
        struct timeval tv = ms_tv(next > now ? next - now : 0);
        evtimer_add(ctx->stats_timer, &tv);
    }
}

/* --- pushes from the router's hooks --- */

static struct rq_session *
source_session(struct rq_session_ctx *ctx, const char *name)
{
    struct rq_session *s = NULL;

    if (name != NULL)
        HASH_FIND_STR(ctx->sources, name, s);
    return s;
}

static json_t *
ring_timeout_s(struct rq_session_ctx *ctx, const struct rq_contact *c)
{
    if (c->ring_deadline_ms > c->offered_ms)
        return rq_view_seconds(c->ring_deadline_ms - c->offered_ms);
    return rq_view_seconds(ctx->conf->queues[c->queue].ring_timeout_ms);
}

static json_t *
offer_body(struct rq_session_ctx *ctx, const struct rq_contact *c)
{
    json_t *o = obj();
    uint64_t now = rq_clock_now(&rq_clock_real);

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "contact", json_string(c->id));
    json_object_set_new(o, "channel", json_string(rq_channel_name(c->channel)));
    json_object_set_new(o, "queue", json_string(ctx->conf->queues[c->queue].name));
    json_object_set_new(o, "customer", rq_view_customer(ctx->router, c));
    json_object_set_new(o, "waited_s",
                        rq_view_seconds(now > c->arrived_ms ? now - c->arrived_ms : 0));
    json_object_set_new(o, "ring_timeout_s", ring_timeout_s(ctx, c));
    return o;
}

static void
hook_offer(void *arg, const struct rq_contact *c, const struct rq_agent *a)
{
    struct rq_session_ctx *ctx = arg;
    struct rq_session *src;
    json_t *o;

    if (ctx->router == NULL || ctx->stopping)
        return;
    if (a->udata != NULL)
        push(a->udata, "offer", offer_body(ctx, c));
    src = source_session(ctx, c->source);
    if (src != NULL && (o = obj()) != NULL) {
        json_object_set_new(o, "contact", json_string(c->id));
        json_object_set_new(o, "agent", json_string(a->id));
        json_object_set_new(o, "target", json_string(a->id));
        json_object_set_new(o, "ring_timeout_s", ring_timeout_s(ctx, c));
        push(src, "route", o);
    }
}

static void
hook_revoke(void *arg, const struct rq_contact *c, const struct rq_agent *a, const char *reason)
{
    struct rq_session_ctx *ctx = arg;
    struct rq_session *src;
    json_t *o;

    if (ctx->router == NULL || ctx->stopping)
        return;
    if (a->udata != NULL && (o = obj()) != NULL) {
        json_object_set_new(o, "contact", json_string(c->id));
        json_object_set_new(o, "reason", json_string(reason));
        push(a->udata, "revoke", o);
    }
    src = source_session(ctx, c->source);
    if (src != NULL && (o = obj()) != NULL) {
        json_object_set_new(o, "contact", json_string(c->id));
        json_object_set_new(o, "agent", json_string(a->id));
        json_object_set_new(o, "reason", json_string(reason));
        push(src, "revoke", o);
    }
}

static void
hook_contact(void *arg, const struct rq_contact *c, enum rq_change chg)
{
    struct rq_session_ctx *ctx = arg;
    json_t *o;

    rq_store_contact(ctx->store, c, chg);
    if (ctx->router == NULL || ctx->stopping || ctx->n_topic[TOPIC_CONTACTS] == 0)
        return;
    o = rq_view_contact(ctx->router, c);
    if (o == NULL)
        return;
    json_object_set_new(o, "change", json_string(rq_change_name(chg)));
    push_monitors(ctx, TOPIC_CONTACTS, "contact", o);
}

/* The agent's own state push, when state or reason changed since the last. */
static void
push_agent_state(struct rq_session *s, const struct rq_agent *a)
{
    const char *reason = rq_view_agent_reason(a);
    const char *r = reason != NULL ? reason : "";
    json_t *o;

    if (s->state_pushed && s->pushed_state == a->state && strcmp(s->pushed_reason, r) == 0)
        return;
    s->state_pushed = 1;
    s->pushed_state = a->state;
    snprintf(s->pushed_reason, sizeof(s->pushed_reason), "%s", r);
    if ((o = obj()) == NULL)
        return;
    json_object_set_new(o, "state", json_string(rq_agent_state_name(a->state)));
    json_object_set_new(o, "reason", reason != NULL ? json_string(reason) : json_null());
    push(s, "state", o);
}

static void
hook_agent(void *arg, const struct rq_agent *a)
{
    struct rq_session_ctx *ctx = arg;
    const struct rq_model *m;

    rq_store_agent(ctx->store, a);
    if (ctx->router == NULL || ctx->stopping)
        return;
    if (a->udata != NULL)
        push_agent_state(a->udata, a);
    if (a->retiring && a->presence == RQ_PRES_LOGGED_OUT && a->udata != NULL)
        event_active(ctx->retired_ev, EV_TIMEOUT, 0); /* not from inside a router call */
    if (ctx->n_topic[TOPIC_AGENTS] > 0)
        push_monitors(ctx, TOPIC_AGENTS, "agent_state", rq_view_agent_state(ctx->router, a));
    if (ctx->n_topic[TOPIC_QUEUES] > 0) {
        /* Queue stats count the queue's agents by state: only queues the
         * agent fits can change, and those are listed under its skills. */
        m = rq_router_model(ctx->router);
        for (int k = 0; k <= a->conf->n_skills; k++) {
            int s = k < a->conf->n_skills ? a->conf->skills[k].skill : ctx->conf->n_skills;
            for (int i = ctx->skill_queues_at[s]; i < ctx->skill_queues_at[s + 1]; i++) {
                int q = ctx->skill_queues[i];
                if (!ctx->dirty[q] && rq_view_agent_in_queue(m, a, &m->queues[q]))
                    mark_queue_dirty(ctx, q);
            }
        }
    }
}

static void
hook_queue(void *arg, const struct rq_queue *q)
{
    struct rq_session_ctx *ctx = arg;

    rq_store_queue(ctx->store, q);
    if (ctx->router == NULL || ctx->stopping || ctx->n_topic[TOPIC_QUEUES] == 0)
        return;
    mark_queue_dirty(ctx, q->idx);
}

static void
hook_alert(void *arg, const struct rq_contact *c, const char *what)
{
    struct rq_session_ctx *ctx = arg;
    uint64_t now;
    json_t *o;

    if (ctx->router == NULL || ctx->stopping || ctx->n_topic[TOPIC_ALERTS] == 0)
        return;
    if ((o = obj()) == NULL)
        return;
    now = rq_clock_now(&rq_clock_real);
    json_object_set_new(o, "contact", json_string(c->id));
    json_object_set_new(o, "queue", json_string(ctx->conf->queues[c->queue].name));
    json_object_set_new(o, "what", json_string(what));
    json_object_set_new(o, "waited_s",
                        rq_view_seconds(now > c->arrived_ms ? now - c->arrived_ms : 0));
    json_object_set_new(o, "target_s", rq_view_seconds(c->target_ms));
    push_monitors(ctx, TOPIC_ALERTS, "alert", o);
}

const struct rq_hooks rq_session_hooks = {
    .offer = hook_offer,
    .revoke = hook_revoke,
    .contact = hook_contact,
    .agent = hook_agent,
    .queue = hook_queue,
    .alert = hook_alert,
};

/* --- membership in the source and monitor sets --- */

static void
monitor_topics(struct rq_session *s, unsigned topics)
{
    struct rq_session_ctx *ctx = s->ctx;

    for (int t = 0; t < TOPIC__COUNT; t++) {
        if (s->topics & (unsigned)topic_bit(t))
            ctx->n_topic[t]--;
        if (topics & (unsigned)topic_bit(t))
            ctx->n_topic[t]++;
    }
    s->topics = topics;
}

/* Take s out of every set and give up its agent (without logging it out). */
static struct rq_agent *
detach(struct rq_session *s)
{
    struct rq_session_ctx *ctx = s->ctx;
    struct rq_agent *a = s->agent;

    if (s->in_sources) {
        HASH_DEL(ctx->sources, s);
        s->in_sources = 0;
    }
    if (s->in_monitors) {
        monitor_topics(s, 0);
        if (s->mon_prev != NULL)
            s->mon_prev->mon_next = s->mon_next;
        else
            ctx->monitors = s->mon_next;
        if (s->mon_next != NULL)
            s->mon_next->mon_prev = s->mon_prev;
        s->in_monitors = 0;
    }
    if (a != NULL) {
        if (a->udata == s)
            a->udata = NULL;
        s->agent = NULL;
    }
    return a;
}

/* Tell the client why (a `closed` push) and close it once that went out. */
static void
kick(struct rq_session *s, const char *reason, const char *why)
{
    json_t *o = obj();

    detach(s);
    if (o != NULL) {
        json_object_set_new(o, "reason", json_string(reason));
        push(s, "closed", o);
    }
    rq_net_close(s->conn, RQ_NET_CLOSE_FLUSH, why);
}

/* A newer hello took over: tell the old client and close it. */
static void
replace(struct rq_session *old)
{
    old->ctx->stats.replaced++;
    kick(old, "replaced", "replaced by a newer session");
}

/* --- requests --- */

static const struct rq_conf_client *
find_client(const struct rq_conf_client *list, int n, const char *name)
{
    for (int i = 0; name != NULL && i < n; i++) {
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    }
    return NULL;
}

static int
hello_refused(struct rq_session *s, const char *what, const char *name, struct rq_error *err)
{
    char b[LOG_NAME_LEN];

    static struct rq_ratelimit rl_refused;

    s->ctx->stats.auth_failures++;
    log_limited(&rl_refused, RQ_LOG_NOTICE, "client %llu (%s): hello refused for %s '%s'",
                conn_id(s), rq_net_peer(s->conn), what, esc(b, name));
    return rq_fail(err, RQ_E_UNAUTHORIZED, "unknown %s or bad token", what);
}

static json_t *
hello_reply(enum rq_role role)
{
    json_t *o = obj();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "role", json_string(rq_role_name(role)));
    json_object_set_new(o, "server", json_string("ringqd"));
    json_object_set_new(o, "version", json_string(RINGQ_VERSION));
    return o;
}

static int
hello_agent(struct rq_session *s, const struct rq_msg *msg, int *takeover, struct rq_error *err)
{
    struct rq_session_ctx *ctx = s->ctx;
    const char *id = msg->u.hello.agent;
    struct rq_agent *a = id != NULL ? rq_router_agent_mut(ctx->router, id) : NULL;

    if (a == NULL || !token_equal(msg->u.hello.token, a->conf->token) ||
        (a->retiring && a->presence == RQ_PRES_LOGGED_OUT))
        return hello_refused(s, "agent", id, err);
    if ((s->name = strdup(a->id)) == NULL)
        return rq_fail(err, RQ_E_INTERNAL, "out of memory");
    if (a->udata != NULL) {
        replace(a->udata);
        *takeover = 1;
    }
    /* Attached first: a login that restores a ready agent offers at once.
     * The hello reply tells not_ready/login: only a different state is pushed. */
    a->udata = s;
    s->agent = a;
    s->state_pushed = 1;
    s->pushed_state = RQ_AS_NOT_READY;
    snprintf(s->pushed_reason, sizeof(s->pushed_reason), "login");
    if (!*takeover && a->presence == RQ_PRES_LOGGED_OUT &&
        rq_router_agent_login(ctx->router, a->id, err) != 0) {
        a->udata = NULL;
        s->agent = NULL;
        free(s->name);
        s->name = NULL;
        return -1;
    }
    /* The hello reply says not_ready/login; push from the next change on. */
    s->state_pushed = 1;
    s->pushed_state = a->state;
    snprintf(s->pushed_reason, sizeof(s->pushed_reason), "%s",
             rq_view_agent_reason(a) != NULL ? rq_view_agent_reason(a) : "");
    return 0;
}

static int
do_hello(struct rq_session *s, const struct rq_msg *msg, json_t **extra, struct rq_error *err)
{
    struct rq_session_ctx *ctx = s->ctx;
    const struct rq_conf *conf = ctx->conf;
    const struct rq_conf_client *cl;
    enum rq_role role = msg->u.hello.role;
    const char *name = msg->u.hello.name;
    int takeover = 0;
    char b[LOG_NAME_LEN];

    if (s->role != RQ_ROLE_NONE)
        return rq_fail(err, RQ_E_BAD_STATE, "already said hello as %s", rq_role_name(s->role));
    switch (role) {
    case RQ_ROLE_SOURCE:
    case RQ_ROLE_MONITOR:
        cl = role == RQ_ROLE_SOURCE ? find_client(conf->sources, conf->n_sources, name)
                                    : find_client(conf->monitors, conf->n_monitors, name);
        if (cl == NULL || !token_equal(msg->u.hello.token, cl->token))
            return hello_refused(s, rq_role_name(role), name, err);
        if ((s->name = strdup(cl->name)) == NULL)
            return rq_fail(err, RQ_E_INTERNAL, "out of memory");
        if (role == RQ_ROLE_SOURCE) {
            struct rq_session *old = source_session(ctx, s->name);
            if (old != NULL)
                replace(old);
            HASH_ADD_KEYPTR(hh, ctx->sources, s->name, strlen(s->name), s);
            s->in_sources = 1;
        } else {
            s->mon_next = ctx->monitors;
            if (ctx->monitors != NULL)
                ctx->monitors->mon_prev = s;
            ctx->monitors = s;
            s->in_monitors = 1;
            s->mon_role = cl->role;
        }
        break;
    case RQ_ROLE_AGENT:
        if (hello_agent(s, msg, &takeover, err) != 0)
            return -1;
        break;
    default:
        return rq_fail(err, RQ_E_BAD_FIELD, "role: must be source, agent or monitor");
    }
    s->role = role;
    rq_net_set_authenticated(s->conn);
    log_info("client %llu (%s): hello as %s %s%s", conn_id(s), rq_net_peer(s->conn),
             rq_role_name(role), esc(b, s->name), takeover ? " (took over)" : "");
    *extra = hello_reply(role);
    if (role == RQ_ROLE_AGENT && *extra != NULL) {
        /* where the agent stands now: not_ready/login, or as it was before
         * a restart of ringqd */
        const char *reason = rq_view_agent_reason(s->agent);
        json_object_set_new(*extra, "state", json_string(rq_agent_state_name(s->agent->state)));
        json_object_set_new(*extra, "reason", reason != NULL ? json_string(reason) : json_null());
    }
    if (takeover) {
        /* The new softphone learns where the agent stands (held: after the reply). */
        struct rq_agent *a = s->agent;
        json_t *o = obj();
        if (o != NULL) {
            const char *reason = rq_view_agent_reason(a);
            json_object_set_new(o, "state", json_string(rq_agent_state_name(a->state)));
            json_object_set_new(o, "reason", reason != NULL ? json_string(reason) : json_null());
            push(s, "state", o);
        }
        if (a->offer != NULL)
            push(s, "offer", offer_body(ctx, a->offer));
    }
    return 0;
}

/* A source may only act on contacts it announced. */
static int
own_contact(struct rq_session *s, const char *id, struct rq_error *err)
{
    const struct rq_contact *c = rq_model_contact(rq_router_model(s->ctx->router), id);

    if (c == NULL || c->source == NULL || strcmp(c->source, s->name) != 0)
        return rq_fail(err, RQ_E_NOT_FOUND, "contact: no contact '%.128s' of this source", id);
    return 0;
}

static int
do_contact_new(struct rq_session *s, const struct rq_msg *msg, json_t **extra, struct rq_error *err)
{
    struct rq_contact_result res = {0, 0};
    uint32_t retry_ms = 0;
    json_t *o;

    if (s->ctx->store != NULL && !rq_store_accepting(s->ctx->store))
        return rq_fail(err, RQ_E_UNAVAILABLE,
                       "Redis has been unreachable too long: the outage journal is full");
    if (rq_store_overloaded(s->ctx->store, &retry_ms)) {
        s->ctx->stats.overloaded++;
        return rq_fail(err, RQ_E_OVERLOADED,
                       "Redis is behind: %zu changes not acknowledged (redis.max_pending %zu); "
                       "retry in %u ms",
                       rq_store_pending(s->ctx->store), s->ctx->conf->redis.max_pending,
                       (unsigned)retry_ms);
    }
    if (rq_router_contact_new(s->ctx->router, s->name, &msg->u.contact, &res, err) != 0)
        return -1;
    s->ctx->patch_next_reply = s->ctx->store != NULL;
    if ((o = obj()) != NULL) {
        json_object_set_new(o, "contact", json_string(msg->u.contact.id));
        json_object_set_new(o, "position", json_integer(res.position));
        json_object_set_new(o, "ewt_s", json_real(res.ewt_s));
    }
    *extra = o;
    return 0;
}

/* An id of a sync request, for finding it fast. */
struct sync_id {
    const char *id;    /* borrowed from the request */
    UT_hash_handle hh; /* in the request's set */
};

static json_t *
error_json(const char *id, const struct rq_error *e)
{
    json_t *o = obj(), *eo = obj();

    if (o == NULL || eo == NULL) {
        json_decref(o);
        json_decref(eo);
        return NULL;
    }
    json_object_set_new(eo, "code", json_string(rq_errcode_name(e->code)));
    json_object_set_new(eo, "message", json_string(e->message));
    json_object_set_new(o, "contact", json_string(id));
    json_object_set_new(o, "error", eo);
    return o;
}

/* sync: end what ringqd has for this source and the source no longer lists,
 * add the full entries ringqd lacks, report the bare ids it does not know. */
static int
do_sync(struct rq_session *s, const struct rq_msg *msg, json_t **extra, struct rq_error *err)
{
    struct rq_router *r = s->ctx->router;
    const struct rq_model *m = rq_router_model(r);
    const struct rq_sync_item *items = msg->u.sync.items;
    size_t n = msg->u.sync.n, n_drop = 0, cap_drop = 0;
    struct sync_id *ids = NULL, *set = NULL, *found;
    char **drop = NULL;
    const struct rq_contact *c, *tmp;
    json_t *o, *dropped, *added, *unknown, *failed;
    long kept = 0;
    int rc = -1;

    o = obj();
    dropped = json_array();
    added = json_array();
    unknown = json_array();
    failed = json_array();
    if (n > 0)
        ids = calloc(n, sizeof(*ids));
    if (o == NULL || dropped == NULL || added == NULL || unknown == NULL || failed == NULL ||
        (n > 0 && ids == NULL)) {
        rq_fail(err, RQ_E_INTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        HASH_FIND_STR(set, items[i].id, found);
        if (found != NULL)
            continue;
        ids[i].id = items[i].id;
        HASH_ADD_KEYPTR(hh, set, ids[i].id, strlen(ids[i].id), &ids[i]);
    }
    /* Collect first: dropping frees contacts, so the hash is not walked then. */
    HASH_ITER (hh, m->contacts, c, tmp) {
        if (c->source == NULL || strcmp(c->source, s->name) != 0)
            continue;
        HASH_FIND_STR(set, c->id, found);
        if (found != NULL)
            continue;
        if (n_drop == cap_drop) {
            size_t ncap = cap_drop ? cap_drop * 2 : 16;
            char **nd = realloc(drop, ncap * sizeof(*nd));
            if (nd == NULL) {
                rq_fail(err, RQ_E_INTERNAL, "out of memory");
                goto done;
            }
            drop = nd;
            cap_drop = ncap;
        }
        if ((drop[n_drop] = strdup(c->id)) == NULL) {
            rq_fail(err, RQ_E_INTERNAL, "out of memory");
            goto done;
        }
        n_drop++;
    }
    for (size_t i = 0; i < n_drop; i++) {
        struct rq_error e;
        if (rq_router_contact_drop(r, drop[i], &e) == 0)
            json_array_append_new(dropped, json_string(drop[i]));
        else
            json_array_append_new(failed, error_json(drop[i], &e));
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i].id == NULL)
            continue; /* listed twice: counted once */
        c = rq_model_contact(m, items[i].id);
        if (c != NULL && c->source != NULL && strcmp(c->source, s->name) == 0) {
            kept++;
        } else if (c != NULL) {
            struct rq_error e;
            rq_fail(&e, RQ_E_DUPLICATE, "contact: announced by another source");
            json_array_append_new(items[i].full ? failed : unknown,
                                  items[i].full ? error_json(items[i].id, &e)
                                                : json_string(items[i].id));
        } else if (!items[i].full) {
            json_array_append_new(unknown, json_string(items[i].id));
        } else {
            struct rq_contact_result res;
            struct rq_error e;
            if (rq_router_contact_new(r, s->name, &items[i].in, &res, &e) == 0)
                json_array_append_new(added, json_string(items[i].id));
            else
                json_array_append_new(failed, error_json(items[i].id, &e));
        }
    }
    json_object_set_new(o, "kept", json_integer(kept));
    json_object_set_new(o, "dropped", dropped);
    json_object_set_new(o, "added", added);
    json_object_set_new(o, "unknown", unknown);
    dropped = added = unknown = NULL;
    if (json_array_size(failed) > 0) {
        json_object_set_new(o, "failed", failed);
        failed = NULL;
    }
    *extra = o;
    o = NULL;
    rc = 0;
done:
    HASH_CLEAR(hh, set);
    free(ids);
    for (size_t i = 0; i < n_drop; i++)
        free(drop[i]);
    free(drop);
    json_decref(o);
    json_decref(dropped);
    json_decref(added);
    json_decref(unknown);
    json_decref(failed);
    return rc;
}

static int
do_agent_op(struct rq_session *s, const struct rq_msg *msg, struct rq_error *err)
{
    struct rq_router *r = s->ctx->router;
    const char *id;

    if (s->agent == NULL)
        return rq_fail(err, RQ_E_BAD_STATE, "agent session no longer active");
    id = s->agent->id;
    switch (msg->op) {
    case RQ_OP_AGENT_STATE:
        return rq_router_agent_state(r, id, msg->u.state.state, msg->u.state.reason, err);
    case RQ_OP_OFFER_ACCEPT:
        return rq_router_offer_accept(r, id, msg->u.ref.contact, err);
    case RQ_OP_OFFER_REJECT:
        return rq_router_offer_reject(r, id, msg->u.ref.contact, err);
    case RQ_OP_CONTACT_END:
        return rq_router_agent_end(r, id, msg->u.ref.contact, err);
    case RQ_OP_WRAPUP_DONE:
        return rq_router_wrapup_done(r, id, err);
    case RQ_OP_BYE: {
        struct rq_agent *a = detach(s);
        s->close_after = 1;
        return rq_router_agent_logout(r, a->id, err);
    }
    default:
        return rq_fail(err, RQ_E_UNKNOWN_OP, "%s is not an agent op", rq_op_name(msg->op));
    }
}

static int
do_source_op(struct rq_session *s, const struct rq_msg *msg, json_t **extra, struct rq_error *err)
{
    struct rq_router *r = s->ctx->router;
    const char *c = msg->u.ref.contact;

    switch (msg->op) {
    case RQ_OP_CONTACT_NEW:
        return do_contact_new(s, msg, extra, err);
    case RQ_OP_SYNC:
        return do_sync(s, msg, extra, err);
    default:
        break;
    }
    if (own_contact(s, c, err) != 0)
        return -1;
    switch (msg->op) {
    case RQ_OP_CONTACT_ANSWERED:
        return rq_router_contact_answered(r, c, msg->u.ref.agent, err);
    case RQ_OP_CONTACT_NO_ANSWER:
        return rq_router_contact_no_answer(r, c, msg->u.ref.agent, msg->u.ref.reason, err);
    case RQ_OP_CONTACT_ABANDON:
        return rq_router_contact_abandon(r, c, err);
    case RQ_OP_CONTACT_END:
        return rq_router_contact_end(r, c, err);
    case RQ_OP_CONTACT_TRANSFER:
        return rq_router_contact_transfer(r, c, msg->u.ref.queue, err);
    default:
        return rq_fail(err, RQ_E_UNKNOWN_OP, "%s is not a source op", rq_op_name(msg->op));
    }
}

/* A supervisor's or admin's request (the role was checked in on_line). */
static int
do_supervisor_op(struct rq_session *s, const struct rq_msg *msg, json_t **extra,
                 struct rq_error *err)
{
    struct rq_router *r = s->ctx->router;
    const struct rq_model *m = rq_router_model(r);
    const struct rq_contact *c;
    const struct rq_agent *a;
    const char *id = NULL;
    char b[LOG_NAME_LEN], b2[LOG_NAME_LEN];
    int rc = -1;

    switch (msg->op) {
    case RQ_OP_AGENT_SET:
        id = msg->u.set.agent;
        if (strcmp(msg->u.set.state, "logged_out") == 0)
            rc = rq_router_agent_logout(r, id, err);
        else
            rc = rq_router_agent_state(r, id, msg->u.set.state, msg->u.set.reason, err);
        if (rc != 0)
            return -1;
        log_info("monitor %s set agent %s %s", esc(b, s->name), esc(b2, id), msg->u.set.state);
        a = rq_model_agent(m, id);
        *extra = obj();
        if (*extra != NULL && a != NULL)
            json_object_set_new(*extra, "agent", rq_view_agent(r, a));
        return 0;
    case RQ_OP_CONTACT_MOVE:
    case RQ_OP_CONTACT_PRIORITY:
        if (msg->op == RQ_OP_CONTACT_MOVE) {
            id = msg->u.ref.contact;
            rc = rq_router_contact_transfer(r, id, msg->u.ref.queue, err);
        } else {
            id = msg->u.prio.contact;
            rc = rq_router_contact_priority(r, id, msg->u.prio.priority, err);
        }
        if (rc != 0)
            return -1;
        log_info("monitor %s: %s %s", esc(b, s->name), rq_op_name(msg->op), esc(b2, id));
        c = rq_model_contact(m, id);
        *extra = obj();
        if (*extra != NULL && c != NULL)
            json_object_set_new(*extra, "contact", rq_view_contact(r, c));
        return 0;
    case RQ_OP_ADMIN_RELOAD: {
        struct rq_session_ctx *ctx = s->ctx;
        struct rq_reload_report rep;

        log_notice("monitor %s asked for %s", esc(b, s->name), rq_op_name(msg->op));
        if (ctx->reload == NULL)
            return rq_fail(err, RQ_E_UNAVAILABLE, "reload is not available in this process");
        /* Done before the reply: it says how the reload went. */
        if (ctx->reload(ctx->reload_arg, &rep, err) != 0)
            return -1;
        if ((*extra = obj()) != NULL) {
            json_object_set_new(*extra, "reloaded", json_true());
            json_object_set_new(*extra, "queues", json_integer(ctx->conf->n_queues));
            json_object_set_new(*extra, "agents", json_integer(ctx->conf->n_agents));
            json_object_set_new(*extra, "moved", json_integer(rep.moved));
        }
        return 0;
    }
    case RQ_OP_ADMIN_DRAIN:
        /* The signal handler does the work, as for `systemctl stop`; the
         * reply goes out before the loop runs it. */
        log_notice("monitor %s asked for %s", esc(b, s->name), rq_op_name(msg->op));
        if (raise(SIGTERM) != 0)
            return rq_fail(err, RQ_E_INTERNAL, "cannot raise SIGTERM");
        *extra = obj();
        if (*extra != NULL)
            json_object_set_new(*extra, "signal", json_string("SIGTERM"));
        return 0;
    default:
        return rq_fail(err, RQ_E_UNKNOWN_OP, "%s is not a supervisor op", rq_op_name(msg->op));
    }
}

static int
dispatch(struct rq_session *s, const struct rq_msg *msg, json_t **extra, struct rq_error *err)
{
    switch (msg->op) {
    case RQ_OP_HELLO:
        return do_hello(s, msg, extra, err);
    case RQ_OP_PING:
        return 0;
    case RQ_OP_SNAPSHOT:
        *extra = rq_view_snapshot(s->ctx->router);
        if (*extra != NULL)
            json_object_set_new(*extra, "redis", rq_view_store(s->ctx->store));
        if (*extra != NULL) {
            json_object_set_new(*extra, "version", json_string(RINGQ_VERSION));
            json_object_set_new(*extra, "uptime_s",
                                rq_view_seconds(mono_ms() - s->ctx->started_ms));
        }
        return *extra != NULL ? 0 : rq_fail(err, RQ_E_INTERNAL, "out of memory");
    case RQ_OP_SUBSCRIBE:
        monitor_topics(s, msg->u.subscribe.topics);
        return 0;
    case RQ_OP_AGENT_SET:
    case RQ_OP_CONTACT_MOVE:
    case RQ_OP_CONTACT_PRIORITY:
    case RQ_OP_ADMIN_RELOAD:
    case RQ_OP_ADMIN_DRAIN:
        return do_supervisor_op(s, msg, extra, err);
    default:
        break;
    }
    if (s->role == RQ_ROLE_SOURCE)
        return do_source_op(s, msg, extra, err);
    if (s->role == RQ_ROLE_AGENT)
        return do_agent_op(s, msg, err);
    return rq_fail(err, RQ_E_UNKNOWN_OP, "%s is not a monitor op", rq_op_name(msg->op));
}

/* --- net.c callbacks --- */

static void *
on_open(struct rq_conn *conn, void *arg)
{
    struct rq_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->ctx = arg;
    s->conn = conn;
    return s;
}

static void
on_line(struct rq_conn *conn, void *udata, const char *line, size_t len, void *arg)
{
    struct rq_session *s = udata;
    struct rq_session_ctx *ctx = arg;
    struct rq_msg msg;
    struct rq_error err = {RQ_OK, ""};
    json_t *extra = NULL;
    int rc;

    if (ctx->stopping || ctx->router == NULL || len == 0)
        return; /* an empty line asks nothing: no reply */
    memset(&msg, 0, sizeof(msg));
    rc = rq_proto_parse(line, len, &msg, &err);
    if (rc == 0 && !rq_op_allowed(msg.op, s->role)) {
        if (s->role == RQ_ROLE_NONE)
            rc = rq_fail(&err, RQ_E_UNAUTHORIZED, "say hello first");
        else
            rc = rq_fail(&err, RQ_E_UNAUTHORIZED, "%s is not allowed for role %s",
                         rq_op_name(msg.op), rq_role_name(s->role));
    }
    if (rc == 0 && s->role == RQ_ROLE_MONITOR && s->mon_role < rq_op_monitor_role(msg.op))
        rc = rq_fail(&err, RQ_E_UNAUTHORIZED, "%s needs a monitor with role %s (this one: %s)",
                     rq_op_name(msg.op), rq_monitor_role_name(rq_op_monitor_role(msg.op)),
                     rq_monitor_role_name(s->mon_role));
    if (rc == 0) {
        s->in_request = 1;
        rc = dispatch(s, &msg, &extra, &err);
        s->in_request = 0;
    }
    reply(s, msg.id, rc, extra, &err);
    ctx->patch_next_reply = 0;
    rq_msg_clear(&msg);
    if (s->held != NULL && evbuffer_get_length(s->held) > 0) {
        if (s->def_head != NULL) {
            /* behind a reply that waits for Redis: keep the order */
            size_t hl = evbuffer_get_length(s->held);
            unsigned char *p = evbuffer_pullup(s->held, -1);
            if (p != NULL)
                defer_line(s, (const char *)p, hl, 1);
            evbuffer_drain(s->held, hl);
        } else {
            rq_net_send_buffer(s->conn, s->held, 1);
        }
    }
    if (s->close_after && s->def_head == NULL) /* else once the reply is durable */
        rq_net_close(s->conn, RQ_NET_CLOSE_FLUSH, "bye");
    arm_router_timer(ctx);
}

static void
on_too_large(struct rq_conn *conn, void *udata, size_t limit, void *arg)
{
    struct rq_session *s = udata;
    struct rq_error err;

    rq_fail(&err, RQ_E_TOO_LARGE, "line over %zu bytes", limit);
    reply(s, NULL, -1, NULL, &err);
}

static void
on_close(struct rq_conn *conn, void *udata, void *arg)
{
    struct rq_session *s = udata;
    struct rq_session_ctx *ctx = arg;
    struct rq_agent *a = detach(s);

    if (a != NULL && !ctx->stopping && ctx->router != NULL) {
        struct rq_error err;
        if (rq_router_agent_logout(ctx->router, a->id, &err) != 0)
            log_debug("agent %s logout: %s", a->id, err.message);
        arm_router_timer(ctx);
    }
    unlist_held(s);
    if (s->waiters > 0) {
        s->dead = 1; /* durable_cb frees it */
        return;
    }
    session_free(s);
}

static void
session_free(struct rq_session *s)
{
    release_deferred(s, UINT64_MAX, 0);
    if (s->held != NULL)
        evbuffer_free(s->held);
    free(s->name);
    free(s);
}

const struct rq_net_cbs rq_session_net_cbs = {
    .open = on_open,
    .line = on_line,
    .too_large = on_too_large,
    .close = on_close,
};

/* --- context --- */

/* Agents a reload removed, done with their last contact, leave: their
 * sessions are closed (reason removed), as those of idle ones were. */
static void
retired_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_session_ctx *ctx = arg;
    const struct rq_model *m;
    char b[LOG_NAME_LEN];

    if (ctx->router == NULL || ctx->stopping)
        return;
    m = rq_router_model(ctx->router);
    for (int i = 0; i < m->n_agents; i++) {
        const struct rq_agent *a = &m->agents[i];
        if (!a->retiring || a->presence != RQ_PRES_LOGGED_OUT || a->udata == NULL)
            continue;
        log_notice("agent %s: removed from the configuration and done with its contacts; its "
                   "session is closed",
                   esc(b, a->id));
        kick(a->udata, "removed", "agent removed from the configuration");
    }
}

struct rq_session_ctx *
rq_session_ctx_new(struct event_base *base, const struct rq_conf *conf)
{
    struct rq_session_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->base = base;
    ctx->conf = conf;
    ctx->started_ms = mono_ms();
    ctx->timer_due_ms = UINT64_MAX;
    ctx->router_timer = evtimer_new(base, router_timer_cb, ctx);
    ctx->stats_timer = evtimer_new(base, stats_flush_cb, ctx);
    ctx->hold_timer = evtimer_new(base, hold_timer_cb, ctx);
    ctx->retired_ev = evtimer_new(base, retired_cb, ctx);
    if (ctx->router_timer == NULL || ctx->stats_timer == NULL || ctx->hold_timer == NULL ||
        ctx->retired_ev == NULL) {
        rq_session_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The skill queue q is grouped under in ctx->skill_queues (n_skills: none). */
static int
first_skill(const struct rq_conf *conf, int q)
{
    const struct rq_conf_queue *qc = &conf->queues[q];

    return qc->n_skills > 0 ? qc->skills[0].skill : conf->n_skills;
}

/* Per-queue state for conf: the dirty set, and queues grouped by their first
 * required skill (a counting sort; no skill last). Replaces the old on
 * success only. */
static int
queue_tables(struct rq_session_ctx *ctx, const struct rq_conf *conf)
{
    size_t nq = conf->n_queues > 0 ? (size_t)conf->n_queues : 1;
    int ns = conf->n_skills;
    unsigned char *dirty = calloc(nq, sizeof(*dirty));
    int *dirty_list = calloc(nq, sizeof(*dirty_list));
    int *sq = calloc(nq, sizeof(int));
    int *at = calloc((size_t)ns + 2, sizeof(int));
    int *fill = calloc((size_t)ns + 1, sizeof(int));

    if (dirty == NULL || dirty_list == NULL || sq == NULL || at == NULL || fill == NULL) {
        free(dirty);
        free(dirty_list);
        free(sq);
        free(at);
        free(fill);
        return -1;
    }
    for (int q = 0; q < conf->n_queues; q++)
        at[first_skill(conf, q) + 1]++;
    for (int s = 0; s <= ns; s++)
        at[s + 1] += at[s];
    for (int q = 0; q < conf->n_queues; q++) {
        int s = first_skill(conf, q);
        sq[at[s] + fill[s]++] = q;
    }
    free(fill);
    free(ctx->dirty);
    free(ctx->dirty_list);
    free(ctx->skill_queues);
    free(ctx->skill_queues_at);
    ctx->dirty = dirty;
    ctx->dirty_list = dirty_list;
    ctx->n_dirty = 0;
    ctx->skill_queues = sq;
    ctx->skill_queues_at = at;
    return 0;
}

int
rq_session_ctx_start(struct rq_session_ctx *ctx, struct rq_router *r)
{
    if (queue_tables(ctx, ctx->conf) < 0)
        return -1;
    ctx->router = r;
    arm_router_timer(ctx);
    return 0;
}

int
rq_session_ctx_reload(struct rq_session_ctx *ctx, const struct rq_conf *conf,
                      const struct rq_reload_report *rep)
{
    const struct rq_model *m = rq_router_model(ctx->router);
    struct rq_session *s, *tmp;
    char b[LOG_NAME_LEN];

    if (queue_tables(ctx, conf) < 0)
        return -1;
    ctx->conf = conf;
    /* Agents' sessions follow their agent into the new model; those of
     * removed agents are closed. */
    for (int i = 0; i < m->n_agents; i++)
        if (m->agents[i].udata != NULL)
            ((struct rq_session *)m->agents[i].udata)->agent = &m->agents[i];
    for (int i = 0; i < rep->n_gone; i++) {
        s = rep->gone_udata[i];
        s->agent = NULL; /* its agent went with the old model */
        log_notice("agent %s: removed from the configuration; its session is closed",
                   esc(b, s->name));
        kick(s, "removed", "agent removed from the configuration");
    }
    HASH_ITER (hh, ctx->sources, s, tmp) {
        if (find_client(conf->sources, conf->n_sources, s->name) != NULL)
            continue;
        log_notice("source %s: removed from the configuration; its session is closed",
                   esc(b, s->name));
        kick(s, "removed", "source removed from the configuration");
    }
    for (s = ctx->monitors; s != NULL; s = tmp) {
        const struct rq_conf_client *cl = find_client(conf->monitors, conf->n_monitors, s->name);
        tmp = s->mon_next;
        if (cl != NULL) {
            s->mon_role = cl->role;
            continue;
        }
        log_notice("monitor %s: removed from the configuration; its session is closed",
                   esc(b, s->name));
        kick(s, "removed", "monitor removed from the configuration");
    }
    return 0;
}

/* Push ev with body o (reference taken) to every monitor, whatever it
 * subscribed to, and to the listener. */
static void
push_everyone(struct rq_session_ctx *ctx, const char *ev, json_t *o)
{
    for (struct rq_session *m = ctx->monitors; m != NULL; m = m->mon_next)
        push(m, ev, json_incref(o));
    if (ctx->listener != NULL) {
        size_t len;
        char *line = rq_proto_push(ev, json_incref(o), &len);
        if (line != NULL)
            ctx->listener(ctx->listener_arg, 0, ev, o, line, len - 1);
        free(line);
    }
    json_decref(o);
}

void
rq_session_ctx_set_reload(struct rq_session_ctx *ctx, rq_session_reload_fn *fn, void *arg)
{
    ctx->reload = fn;
    ctx->reload_arg = arg;
}

void
rq_session_ctx_reloaded(struct rq_session_ctx *ctx, const char *error,
                        const struct rq_reload_report *rep)
{
    json_t *o = obj();

    arm_router_timer(ctx);
    if (o == NULL || ctx->stopping)
        return (void)json_decref(o);
    json_object_set_new(o, "ok", json_boolean(error == NULL));
    if (error != NULL) {
        json_object_set_new(o, "error", json_string(error));
    } else {
        json_object_set_new(o, "queues", json_integer(ctx->conf->n_queues));
        json_object_set_new(o, "agents", json_integer(ctx->conf->n_agents));
        json_object_set_new(o, "moved", json_integer(rep != NULL ? rep->moved : 0));
    }
    push_everyone(ctx, "reload", o);
}

void
rq_session_ctx_stop(struct rq_session_ctx *ctx)
{
    ctx->stopping = 1;
    if (ctx->retired_ev != NULL)
        evtimer_del(ctx->retired_ev);
    if (ctx->router_timer != NULL)
        evtimer_del(ctx->router_timer);
    if (ctx->stats_timer != NULL)
        evtimer_del(ctx->stats_timer);
    if (ctx->hold_timer != NULL)
        evtimer_del(ctx->hold_timer);
}

void
rq_session_ctx_free(struct rq_session_ctx *ctx)
{
    if (ctx == NULL)
        return;
    /* Sessions are gone by now (net.c closed them); the sets are empty. */
    HASH_CLEAR(hh, ctx->sources);
    if (ctx->router_timer != NULL)
        event_free(ctx->router_timer);
    if (ctx->stats_timer != NULL)
        event_free(ctx->stats_timer);
    if (ctx->retired_ev != NULL)
        event_free(ctx->retired_ev);
    if (ctx->hold_timer != NULL)
        event_free(ctx->hold_timer);
    free(ctx->dirty);
    free(ctx->dirty_list);
    free(ctx->skill_queues);
    free(ctx->skill_queues_at);
    free(ctx);
}

static void
store_state(void *arg, int connected)
{
    struct rq_session_ctx *ctx = arg;
    struct rq_store_stats st;
    json_t *o = obj();

    if (o == NULL || ctx->stopping)
        return (void)json_decref(o);
    rq_store_get_stats(ctx->store, &st);
    json_object_set_new(o, "connected", json_boolean(connected));
    json_object_set_new(o, "journal", json_integer((json_int_t)st.journal_cmds));
    json_object_set_new(o, "journal_limit", json_integer((json_int_t)st.journal_limit));
    push_everyone(ctx, "redis", o);
}

void
rq_session_ctx_set_store(struct rq_session_ctx *ctx, struct rq_store *store)
{
    ctx->store = store;
    if (store != NULL)
        rq_store_on_state(store, store_state, ctx);
}

const struct rq_session_stats *
rq_session_ctx_stats(const struct rq_session_ctx *ctx)
{
    return &ctx->stats;
}

void
rq_session_ctx_after_change(struct rq_session_ctx *ctx)
{
    arm_router_timer(ctx);
}

void
rq_session_ctx_set_listener(struct rq_session_ctx *ctx, rq_session_push_cb *cb, void *arg)
{
    if (cb == NULL)
        rq_session_ctx_listen(ctx, 0);
    ctx->listener = cb;
    ctx->listener_arg = arg;
}

void
rq_session_ctx_listen(struct rq_session_ctx *ctx, unsigned topics)
{
    if (ctx->listener == NULL)
        topics = 0;
    for (int t = 0; t < TOPIC__COUNT; t++) {
        if (ctx->listener_topics & (unsigned)topic_bit(t))
            ctx->n_topic[t]--;
        if (topics & (unsigned)topic_bit(t))
            ctx->n_topic[t]++;
    }
    ctx->listener_topics = topics;
}
