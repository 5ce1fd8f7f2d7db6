/*
 * store.c - the Redis mirror: group-committed writes through hiredis' async
 * API on the libevent loop, a bounded outage journal, and start-up
 * recovery (see store.h and docs/redis.md for the keys).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "store.h"

#define STORE_MAX_ARGS    96   /* arguments of one formatted command */
#define STORE_ARG_BUF     4096 /* bytes of formatted numbers per command */
#define STORE_TICK_MS     100  /* timeouts and reconnects are checked this often */
#define STORE_BACKOFF_MIN 100
#define STORE_BACKOFF_MAX 2000

struct cmd {
    char *buf;  /* RESP-formatted command (hiredis allocation) */
    size_t len; /* its length */
};

struct waiter {
    rq_store_done_cb *cb; /* told when the batch is durable or journaled */
    void *arg;
};

/* One group commit: the changes of one loop iteration. */
struct batch {
    struct cmd *cmds;
    size_t n, cap;
    struct waiter *waiters;
    size_t nw, capw;
    uint64_t sent_ms;   /* when MULTI went out (in flight) */
    uint64_t seq;       /* batch sequence number */
    struct batch *next; /* in the in-flight list or the journal */
};

struct blist {
    struct batch *head, *tail;
};

struct rq_store {
    struct event_base *base;
    const struct rq_conf *conf;
    const struct rq_conf_redis *rc;
    struct rq_router *router;
    redisAsyncContext *ac;    /* NULL while disconnected */
    int ready;                /* connected, authenticated, database selected */
    uint64_t connect_started; /* when the current attempt began, 0 none */
    uint64_t next_attempt;    /* when to try again after a failure */
    uint32_t backoff_ms;      /* current reconnect delay */
    struct batch *cur;        /* filling during this loop iteration */
    struct event *flush_ev;   /* sends cur at the end of the iteration */
    struct event *tick_ev;    /* timeouts and reconnects */
    struct blist inflight;    /* sent, waiting for EXEC */
    struct blist journal;     /* waiting for Redis to come back */
    size_t journal_cmds;      /* commands in the journal */
    int overflow;             /* journal overflowed: rewrite all on reconnect */
    uint8_t *queue_dirty;     /* per queue: stats to write at the next flush */
    int *dirty_list;          /* indexes of dirty queues */
    int n_dirty;
    int closing;                 /* being freed: hiredis callbacks must do nothing */
    uint64_t batch_seq;          /* sequence number of the last batch created */
    rq_store_state_cb *state_cb; /* told of outages and recoveries */
    void *state_arg;
    struct rq_store_stats st;
};

static uint64_t
wall_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/*
 * Building commands.
 */

struct argv {
    const char *v[STORE_MAX_ARGS]; /* argument pointers */
    size_t l[STORE_MAX_ARGS];      /* argument lengths */
    int n;
    char buf[STORE_ARG_BUF]; /* storage for formatted arguments */
    size_t used;
};

static void
a_str(struct argv *a, const char *s)
{
    if (a->n >= STORE_MAX_ARGS)
        return;
    a->v[a->n] = s != NULL ? s : "";
    a->l[a->n] = strlen(a->v[a->n]);
    a->n++;
}

static void __attribute__((__format__(printf, 2, 3))) a_fmt(struct argv *a, const char *fmt, ...)
{
    va_list ap;
    int len;

    if (a->n >= STORE_MAX_ARGS || a->used >= sizeof(a->buf))
        return;
    va_start(ap, fmt);
    len = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(a->buf) - a->used)
        return;
    a->v[a->n] = a->buf + a->used;
    a->l[a->n] = (size_t)len;
    a->n++;
    a->used += (size_t)len + 1;
}

static void
a_field(struct argv *a, const char *name, const char *value)
{
    a_str(a, name);
    a_str(a, value);
}

static void
a_field_u64(struct argv *a, const char *name, uint64_t v)
{
    a_str(a, name);
    a_fmt(a, "%" PRIu64, v);
}

static void a_key(struct argv *a, const struct rq_store *s, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

static void
a_key(struct argv *a, const struct rq_store *s, const char *fmt, ...)
{
    char tail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    a_fmt(a, "%s%s", s->rc->prefix, tail);
}

static struct batch *
batch_new(void)
{
    return calloc(1, sizeof(struct batch));
}

static void
batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        redisFreeCommand(b->cmds[i].buf);
    free(b->cmds);
    free(b->waiters);
    free(b);
}

static void
blist_push(struct blist *l, struct batch *b)
{
    b->next = NULL;
    if (l->tail != NULL)
        l->tail->next = b;
    else
        l->head = b;
    l->tail = b;
}

static struct batch *
blist_pop(struct blist *l)
{
    struct batch *b = l->head;

    if (b != NULL) {
        l->head = b->next;
        if (l->head == NULL)
            l->tail = NULL;
        b->next = NULL;
    }
    return b;
}

static struct batch *
current(struct rq_store *s)
{
    if (s->cur == NULL) {
        s->cur = batch_new();
        if (s->cur != NULL) {
            s->cur->seq = ++s->batch_seq;
            event_active(s->flush_ev, EV_TIMEOUT, 0);
        }
    }
    return s->cur;
}

/* Format a and append it to the current batch. */
static void
emit(struct rq_store *s, struct argv *a)
{
    struct batch *b = current(s);
    char *buf = NULL;
    int len;

    if (b == NULL)
        return;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        struct cmd *nc = realloc(b->cmds, ncap * sizeof(*nc));
        if (nc == NULL)
            return;
        b->cmds = nc;
        b->cap = ncap;
    }
    len = redisFormatCommandArgv(&buf, a->n, a->v, a->l);
    if (len < 0)
        return;
    b->cmds[b->n].buf = buf;
    b->cmds[b->n].len = (size_t)len;
    b->n++;
}

/*
 * What a change writes.
 */

/* The router's order as one sortable score: class, then effective
 * deadline (ms), then tier rank. Exact in a double up to the year 2248. */
static double
waiting_score(const struct rq_contact *c)
{
    int64_t o = c->order_ms < 0 ? 0 : c->order_ms;
    int rank = c->tier_rank > 7 ? 7 : c->tier_rank;

    return (double)c->order_class * 1125899906842624.0 /* 2^50 */ + (double)o * 8.0 + rank;
}

static void
skills_text(const struct rq_conf *conf, const struct rq_contact *c, char *out, size_t len)
{
    size_t o = 0;

    out[0] = '\0';
    for (int i = 0; i < c->n_own_reqs && o < len; i++) {
        int n = snprintf(out + o, len - o, "%s%s:%d", i ? "," : "",
                         conf->skills[c->own_reqs[i].skill].name, c->own_reqs[i].level);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static void
write_contact_hash(struct rq_store *s, const struct rq_contact *c)
{
    const struct rq_conf *conf = s->conf;
    struct argv a = {0};
    char skills[512];

    skills_text(conf, c, skills, sizeof(skills));
    a_str(&a, "HSET");
    a_key(&a, s, "contact:%s", c->id);
    a_field(&a, "id", c->id);
    a_field(&a, "state", rq_contact_state_name(c->state));
    a_field(&a, "channel", rq_channel_name(c->channel));
    a_field(&a, "queue", conf->queues[c->queue].name);
    a_field(&a, "tier", conf->tiers[c->tier].name);
    a_field(&a, "source", c->source);
    a_field(&a, "customer_id", c->customer_id);
    a_field(&a, "lang", c->lang);
    a_field(&a, "persona", c->persona >= 0 ? rq_persona_name((enum rq_persona)c->persona) : "");
    a_field(&a, "skills", skills);
    a_field_u64(&a, "priority", (uint64_t)c->base_priority);
    a_field(&a, "preferred_agent", c->preferred_agent);
    a_field_u64(&a, "arrived_ms", c->arrived_ms);
    a_field_u64(&a, "first_arrived_ms", c->first_arrived_ms);
    a_field_u64(&a, "target_ms", c->target_ms);
    a_field_u64(&a, "deadline_ms", c->deadline_ms);
    a_field_u64(&a, "due_at_ms", c->due_at_ms);
    a_field_u64(&a, "seq", c->seq);
    a_field(&a, "agent", c->agent != NULL ? c->agent->id : "");
    a_field_u64(&a, "offered_ms", c->state == RQ_CS_RINGING ? c->offered_ms : 0);
    a_field_u64(&a, "answered_ms", c->answered_ms);
    a_field_u64(&a, "offers", (uint64_t)c->offers);
    a_field_u64(&a, "alerted", (uint64_t)c->alerted);
    a_field_u64(&a, "escalation", (uint64_t)c->steps_done);
    a_fmt(&a, "score");
    a_fmt(&a, "%.0f", waiting_score(c));
    emit(s, &a);
}

static void
write_event(struct rq_store *s, const char *type, const char *id, const char *state,
            const char *change, const char *queue, const char *agent)
{
    struct argv a = {0};

    a_str(&a, "XADD");
    a_key(&a, s, "events");
    a_str(&a, "MAXLEN");
    a_str(&a, "~");
    a_fmt(&a, "%zu", s->rc->events_maxlen);
    a_str(&a, "*");
    a_field(&a, "type", type);
    a_field(&a, "id", id);
    a_field(&a, "state", state);
    if (change != NULL)
        a_field(&a, "change", change);
    if (queue != NULL)
        a_field(&a, "queue", queue);
    a_field(&a, "agent", agent != NULL ? agent : "");
    a_field_u64(&a, "ts_ms", wall_ms());
    emit(s, &a);
}

static void
zcmd(struct rq_store *s, const char *op, int queue, const struct rq_contact *c)
{
    struct argv a = {0};

    a_str(&a, op);
    a_key(&a, s, "queue:%s:waiting", s->conf->queues[queue].name);
    if (strcmp(op, "ZADD") == 0)
        a_fmt(&a, "%.0f", waiting_score(c));
    a_str(&a, c->id);
    emit(s, &a);
}

static void
set_cmd(struct rq_store *s, const char *op, const char *id)
{
    struct argv a = {0};

    a_str(&a, op);
    a_key(&a, s, "contacts");
    a_str(&a, id);
    emit(s, &a);
}

void
rq_store_contact(struct rq_store *s, const struct rq_contact *c, enum rq_change chg)
{
    const char *q;

    if (s == NULL)
        return;
    q = s->conf->queues[c->queue].name;
    if (chg == RQ_CHG_ENDED || chg == RQ_CHG_ABANDONED) {
        struct argv a = {0};
        a_str(&a, "DEL");
        a_key(&a, s, "contact:%s", c->id);
        emit(s, &a);
        zcmd(s, "ZREM", c->queue, c);
        set_cmd(s, "SREM", c->id);
    } else {
        write_contact_hash(s, c);
        if (chg == RQ_CHG_QUEUED)
            set_cmd(s, "SADD", c->id);
        if (chg == RQ_CHG_TRANSFERRED && c->prev_queue >= 0 && c->prev_queue != c->queue)
            zcmd(s, "ZREM", c->prev_queue, c);
        if (c->state == RQ_CS_WAITING)
            zcmd(s, "ZADD", c->queue, c);
        else
            zcmd(s, "ZREM", c->queue, c);
    }
    write_event(s, "contact", c->id,
                chg == RQ_CHG_ABANDONED ? "abandoned" : rq_contact_state_name(c->state),
                rq_change_name(chg), q, c->agent != NULL ? c->agent->id : NULL);
}

static const char *
presence_name(enum rq_presence p)
{
    return p == RQ_PRES_READY ? "ready" : p == RQ_PRES_NOT_READY ? "not_ready" : "logged_out";
}

void
rq_store_agent(struct rq_store *s, const struct rq_agent *a)
{
    struct argv v = {0};

    if (s == NULL)
        return;
    a_str(&v, "HSET");
    a_key(&v, s, "agent:%s", a->id);
    a_field(&v, "id", a->id);
    a_field(&v, "state", rq_agent_state_name(a->state));
    a_field(&v, "presence", presence_name(a->presence));
    a_field(&v, "reason", a->reason);
    a_field_u64(&v, "since_ms", a->state_since_ms);
    a_field_u64(&v, "load_voice", (uint64_t)a->load[RQ_MEDIA_VOICE]);
    a_field_u64(&v, "load_chat", (uint64_t)a->load[RQ_MEDIA_CHAT]);
    a_field_u64(&v, "load_email", (uint64_t)a->load[RQ_MEDIA_EMAIL]);
    a_field(&v, "offer", a->offer != NULL ? a->offer->id : "");
    a_field_u64(&v, "wrap_until_ms", a->in_wrap ? a->wrap_until_ms : 0);
    a_field(&v, "wrap_queue",
            a->in_wrap && a->wrap_queue >= 0 ? s->conf->queues[a->wrap_queue].name : "");
    a_field_u64(&v, "login_ms", a->login_ms);
    a_field_u64(&v, "handled", a->handled);
    emit(s, &v);
    write_event(s, "agent", a->id, rq_agent_state_name(a->state), NULL, NULL, NULL);
}

void
rq_store_queue(struct rq_store *s, const struct rq_queue *q)
{
    if (s == NULL || s->queue_dirty[q->idx])
        return;
    s->queue_dirty[q->idx] = 1;
    s->dirty_list[s->n_dirty++] = q->idx;
    current(s);
}

static void
counters_args(struct argv *a, const char *pfx, const struct rq_qcounters *c)
{
    char name[96];
#define RQ_CNT(field)                                                                              \
    do {                                                                                           \
        snprintf(name, sizeof(name), "%s%s", pfx, #field);                                         \
        a_fmt(a, "%s", name);                                                                      \
        a_fmt(a, "%" PRIu64, c->field);                                                            \
    } while (0);
    RQ_QCOUNTER_FIELDS(RQ_CNT)
#undef RQ_CNT
    for (int i = 0; i < RQ_WAIT_BUCKETS; i++) {
        a_fmt(a, "%swait_bucket_%d", pfx, i);
        a_fmt(a, "%" PRIu64, c->wait_buckets[i]);
    }
}

/* Stats of the dirty queues: one hash each (live gauges, total counters,
 * per-tier counters) and one message on the stats channel. */
static void
write_dirty_queues(struct rq_store *s)
{
    const struct rq_model *m = rq_router_model(s->router);

    for (int i = 0; i < s->n_dirty; i++) {
        const struct rq_queue *q = &m->queues[s->dirty_list[i]];
        struct argv a = {0};
        char msg[512];
        uint64_t longest = rq_router_longest_wait_ms(s->router, q);
        a_str(&a, "HSET");
        a_key(&a, s, "queue:%s:stats", q->conf->name);
        a_field_u64(&a, "waiting", (uint64_t)q->n_waiting);
        a_field_u64(&a, "ringing", (uint64_t)q->n_ringing);
        a_field_u64(&a, "connected", (uint64_t)q->n_connected);
        a_field_u64(&a, "longest_wait_ms", longest);
        counters_args(&a, "", &q->total);
        emit(s, &a);
        for (int t = 0; t < s->conf->n_tiers; t++) {
            struct argv at = {0};
            char pfx[80];
            if (q->by_tier[t].offered == 0)
                continue;
            snprintf(pfx, sizeof(pfx), "%s.", s->conf->tiers[t].name);
            a_str(&at, "HSET");
            a_key(&at, s, "queue:%s:stats", q->conf->name);
            counters_args(&at, pfx, &q->by_tier[t]);
            emit(s, &at);
        }
        snprintf(msg, sizeof(msg),
                 "{\"queue\":\"%s\",\"waiting\":%d,\"ringing\":%d,\"connected\":%d,"
                 "\"longest_wait_ms\":%" PRIu64 ",\"offered\":%" PRIu64 ",\"answered\":%" PRIu64
                 ",\"answered_in_target\":%" PRIu64 ",\"abandoned\":%" PRIu64 "}",
                 q->conf->name, q->n_waiting, q->n_ringing, q->n_connected, longest,
                 q->total.offered, q->total.answered, q->total.answered_in_target,
                 q->total.abandoned);
        a.n = 0;
        a.used = 0;
        a_str(&a, "PUBLISH");
        a_key(&a, s, "stats");
        a_str(&a, msg);
        emit(s, &a);
        s->queue_dirty[q->idx] = 0;
    }
    s->n_dirty = 0;
}

/* Everything in memory, for a rewrite after the journal overflowed. */
static void
write_everything(struct rq_store *s)
{
    const struct rq_model *m = rq_router_model(s->router);
    struct argv a = {0};

    a_str(&a, "DEL");
    a_key(&a, s, "contacts");
    for (int i = 0; i < m->n_queues; i++)
        a_key(&a, s, "queue:%s:waiting", m->queues[i].conf->name);
    emit(s, &a);
    for (const struct rq_contact *c = m->contacts; c != NULL; c = c->hh.next) {
        write_contact_hash(s, c);
        set_cmd(s, "SADD", c->id);
        if (c->state == RQ_CS_WAITING)
            zcmd(s, "ZADD", c->queue, c);
    }
    for (int i = 0; i < m->n_agents; i++)
        rq_store_agent(s, &m->agents[i]);
    for (int i = 0; i < m->n_queues; i++)
        rq_store_queue(s, &m->queues[i]);
}

/* DEL <prefix><kind><name><tail> */
static void
del_key(struct rq_store *s, const char *kind, const char *name, const char *tail)
{
    struct argv a = {0};

    a_str(&a, "DEL");
    a_key(&a, s, "%s%s%s", kind, name, tail);
    emit(s, &a);
}

int
rq_store_reload(struct rq_store *s, const struct rq_conf *conf, const struct rq_conf *old)
{
    const struct rq_model *m;
    size_t nq = (size_t)(conf->n_queues ? conf->n_queues : 1);
    uint8_t *dirty;
    int *list;

    if (s == NULL)
        return 0;
    dirty = calloc(nq, 1);
    list = calloc(nq, sizeof(*list));
    if (dirty == NULL || list == NULL) {
        free(dirty);
        free(list);
        return -1;
    }
    free(s->queue_dirty);
    free(s->dirty_list);
    s->queue_dirty = dirty;
    s->dirty_list = list;
    s->n_dirty = 0;
    s->conf = conf;
    /* What the new file no longer has goes; the rest is written afresh
     * (names, targets and order may all have changed). */
    m = rq_router_model(s->router);
    for (int q = 0; q < old->n_queues; q++) {
        if (rq_conf_queue_index(conf, old->queues[q].name) >= 0)
            continue;
        del_key(s, "queue:", old->queues[q].name, ":stats");
        del_key(s, "queue:", old->queues[q].name, ":waiting");
    }
    for (int i = 0; i < old->n_agents; i++)
        if (rq_model_agent(m, old->agents[i].id) == NULL)
            del_key(s, "agent:", old->agents[i].id, "");
    write_everything(s);
    return 0;
}

/*
 * Sending, acknowledging, journaling.
 */

static void
tell(struct batch *b, int durable)
{
    for (size_t i = 0; i < b->nw; i++)
        b->waiters[i].cb(b->waiters[i].arg, durable);
    b->nw = 0;
}

static void
journal(struct rq_store *s, struct batch *b)
{
    tell(b, 0);
    if (s->overflow || s->journal_cmds + b->n > s->rc->journal_max) {
        if (!s->overflow)
            log_warnx("redis: outage journal full (%zu commands): the whole state will be "
                      "rewritten when Redis is back",
                      s->journal_cmds);
        s->overflow = 1;
        batch_free(b);
        return;
    }
    s->journal_cmds += b->n;
    blist_push(&s->journal, b);
}

static void
exec_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rq_store *s = ac->data;
    struct batch *b = privdata;
    redisReply *reply = r;

    if (s == NULL || s->closing) {
        tell(b, 0);
        batch_free(b);
        return;
    }
    /* Replies come in order: b is the oldest batch in flight. */
    if (s->inflight.head == b)
        blist_pop(&s->inflight);
    if (reply == NULL) { /* connection lost before the answer: keep it */
        journal(s, b);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        static struct rq_ratelimit rl_batch;
        log_limited(&rl_batch, RQ_LOG_WARNING, "redis: a batch of %zu commands failed: %s", b->n,
                    reply->str);
    } else {
        s->st.batches++;
        s->st.commands += b->n;
    }
    tell(b, reply->type != REDIS_REPLY_ERROR);
    batch_free(b);
}

static int
send_batch(struct rq_store *s, struct batch *b)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
    static const char exec[] = "*1\r\n$4\r\nEXEC\r\n";

    if (redisAsyncFormattedCommand(s->ac, NULL, NULL, multi, sizeof(multi) - 1) != REDIS_OK)
        return -1;
    for (size_t i = 0; i < b->n; i++)
        redisAsyncFormattedCommand(s->ac, NULL, NULL, b->cmds[i].buf, b->cmds[i].len);
    if (redisAsyncFormattedCommand(s->ac, exec_cb, b, exec, sizeof(exec) - 1) != REDIS_OK)
        return -1;
    b->sent_ms = wall_ms();
    blist_push(&s->inflight, b);
    return 0;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_store *s = arg;
    struct batch *b;

    if (s->n_dirty > 0)
        write_dirty_queues(s);
    b = s->cur;
    s->cur = NULL;
    if (b == NULL)
        return;
    if (b->n == 0) {
        tell(b, s->ready);
        batch_free(b);
        return;
    }
    if (s->ready && s->journal.head == NULL && send_batch(s, b) == 0)
        return;
    journal(s, b);
}

static void connect_start(struct rq_store *s);

static void
lost(struct rq_store *s, const char *why)
{
    uint64_t now = wall_ms();

    if (s->st.down_since_ms == 0) {
        s->st.down_since_ms = now;
        s->st.outages++;
        log_warnx("redis: %s; routing goes on from memory, changes are journaled "
                  "(up to %zu commands)",
                  why, s->rc->journal_max);
        if (s->state_cb != NULL)
            s->state_cb(s->state_arg, 0);
    }
    s->ready = 0;
    s->st.connected = 0;
    s->connect_started = 0;
    s->next_attempt = now + s->backoff_ms;
    s->backoff_ms = s->backoff_ms * 2 > STORE_BACKOFF_MAX ? STORE_BACKOFF_MAX : s->backoff_ms * 2;
}

static void
disconnect_cb(const redisAsyncContext *ac, int status)
{
    struct rq_store *s = ac->data;

    if (s == NULL || s->closing)
        return;
    s->ac = NULL; /* hiredis frees it after this returns */
    lost(s, status == REDIS_OK ? "connection closed" : "connection lost");
}

/* Replay the journal in order once Redis is back (or rewrite everything). */
static void
replay(struct rq_store *s)
{
    struct batch *b;
    size_t n = 0;

    if (s->overflow) {
        while ((b = blist_pop(&s->journal)) != NULL)
            batch_free(b);
        s->journal_cmds = 0;
        s->overflow = 0;
        write_everything(s);
        log_notice("redis: state rewritten from memory after the journal overflowed");
        return;
    }
    while ((b = blist_pop(&s->journal)) != NULL) {
        n += b->n;
        s->journal_cmds -= b->n;
        if (send_batch(s, b) < 0) {
            journal(s, b);
            break;
        }
    }
    if (n > 0)
        log_notice("redis: replayed %zu journaled commands", n);
}

static void
ready_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rq_store *s = ac->data;
    redisReply *reply = r;

    if (s == NULL || s->closing || reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_warnx("redis: %s", reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    s->ready = 1;
    s->st.connected = 1;
    s->connect_started = 0;
    s->backoff_ms = STORE_BACKOFF_MIN;
    if (s->st.down_since_ms != 0) {
        log_notice("redis: connected again after %" PRIu64 " ms", wall_ms() - s->st.down_since_ms);
        s->st.down_since_ms = 0;
    } else {
        log_info("redis: connected");
    }
    replay(s);
    if (s->state_cb != NULL)
        s->state_cb(s->state_arg, 1);
    if (s->cur != NULL)
        event_active(s->flush_ev, EV_TIMEOUT, 0);
}

/* AUTH and SELECT errors arrive here; the PING after them decides. */
static void
setup_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    struct rq_store *s = ac->data;

    if (s == NULL || s->closing || reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_warnx("redis: %s failed: %s", (const char *)privdata, reply->str);
        redisAsyncDisconnect(ac);
    }
}

static void
connect_cb(const redisAsyncContext *ac, int status)
{
    struct rq_store *s = ac->data;

    if (s == NULL || s->closing)
        return;
    if (status != REDIS_OK) {
        s->ac = NULL; /* hiredis frees it */
        lost(s, ac->errstr[0] ? ac->errstr : "cannot connect");
    }
}

static void
connect_start(struct rq_store *s)
{
    const struct rq_conf_redis *rc = s->rc;
    redisAsyncContext *ac;

    if (rc->unix_path != NULL)
        ac = redisAsyncConnectUnix(rc->unix_path);
    else
        ac = redisAsyncConnect(rc->host, rc->port);
    if (ac == NULL || ac->err) {
        lost(s, ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        return;
    }
    ac->data = s;
    if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
        redisAsyncFree(ac);
        lost(s, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, connect_cb);
    redisAsyncSetDisconnectCallback(ac, disconnect_cb);
    s->ac = ac;
    s->connect_started = wall_ms();
    if (rc->password != NULL) {
        if (rc->user != NULL)
            redisAsyncCommand(ac, setup_cb, "AUTH", "AUTH %s %s", rc->user, rc->password);
        else
            redisAsyncCommand(ac, setup_cb, "AUTH", "AUTH %s", rc->password);
    }
    if (rc->db != 0)
        redisAsyncCommand(ac, setup_cb, "SELECT", "SELECT %d", rc->db);
    redisAsyncCommand(ac, ready_cb, NULL, "PING");
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_store *s = arg;
    uint64_t now = wall_ms();

    if (s->ac == NULL) {
        if (now >= s->next_attempt)
            connect_start(s);
        return;
    }
    if (!s->ready && s->connect_started != 0 &&
        now - s->connect_started > s->rc->connect_timeout_ms) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        lost(s, "connect timed out");
        ac->data = NULL;
        redisAsyncFree(ac); /* pending callbacks see data == NULL */
        return;
    }
    if (s->ready && s->inflight.head != NULL &&
        now - s->inflight.head->sent_ms > s->rc->command_timeout_ms) {
        log_warnx("redis: no answer for %" PRIu64 " ms", now - s->inflight.head->sent_ms);
        redisAsyncDisconnect(s->ac); /* in-flight batches come back to the journal */
    }
}

struct rq_store *
rq_store_new(struct event_base *base, const struct rq_conf *conf, struct rq_router *router,
             struct rq_error *err)
{
    struct rq_store *s = calloc(1, sizeof(*s));
    struct timeval tick = {0, STORE_TICK_MS * 1000};

    if (s == NULL)
        goto oom;
    s->base = base;
    s->conf = conf;
    s->rc = &conf->redis;
    s->router = router;
    s->backoff_ms = STORE_BACKOFF_MIN;
    s->st.journal_limit = s->rc->journal_max;
    s->queue_dirty = calloc((size_t)(conf->n_queues ? conf->n_queues : 1), 1);
    s->dirty_list = calloc((size_t)(conf->n_queues ? conf->n_queues : 1), sizeof(int));
    s->flush_ev = event_new(base, -1, 0, flush_cb, s);
    s->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, s);
    if (s->queue_dirty == NULL || s->dirty_list == NULL || s->flush_ev == NULL ||
        s->tick_ev == NULL)
        goto oom;
    /* Flush after everything else of the iteration: the lowest priority. */
    event_priority_set(s->flush_ev, event_base_get_npriorities(base) - 1);
    event_add(s->tick_ev, &tick);
    s->st.down_since_ms = 0;
    connect_start(s);
    return s;
oom:
    rq_store_free(s);
    rq_fail(err, RQ_E_INTERNAL, "out of memory");
    return NULL;
}

void
rq_store_free(struct rq_store *s)
{
    struct batch *b;

    if (s == NULL)
        return;
    s->closing = 1;
    if (s->ac != NULL) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        redisAsyncFree(ac); /* exec_cb frees in-flight batches (closing) */
    }
    while ((b = blist_pop(&s->inflight)) != NULL)
        batch_free(b);
    while ((b = blist_pop(&s->journal)) != NULL)
        batch_free(b);
    if (s->cur != NULL) {
        tell(s->cur, 0);
        batch_free(s->cur);
    }
    if (s->flush_ev != NULL)
        event_free(s->flush_ev);
    if (s->tick_ev != NULL)
        event_free(s->tick_ev);
    free(s->queue_dirty);
    free(s->dirty_list);
    free(s);
}

int
rq_store_when_durable(struct rq_store *s, rq_store_done_cb *cb, void *arg)
{
    struct batch *b = current(s);

    if (b == NULL)
        return -1;
    if (b->nw == b->capw) {
        size_t ncap = b->capw ? b->capw * 2 : 8;
        struct waiter *nw = realloc(b->waiters, ncap * sizeof(*nw));
        if (nw == NULL)
            return -1;
        b->waiters = nw;
        b->capw = ncap;
    }
    b->waiters[b->nw].cb = cb;
    b->waiters[b->nw].arg = arg;
    b->nw++;
    return 0;
}

uint64_t
rq_store_batch_seq(struct rq_store *s)
{
    struct batch *b = current(s);

    return b != NULL ? b->seq : s->batch_seq;
}

void
rq_store_on_state(struct rq_store *s, rq_store_state_cb *cb, void *arg)
{
    s->state_cb = cb;
    s->state_arg = arg;
}

int
rq_store_accepting(const struct rq_store *s)
{
    return s == NULL || (!s->overflow && s->journal_cmds < s->rc->journal_max);
}

int
rq_store_connected(const struct rq_store *s)
{
    return s != NULL && s->ready;
}

void
rq_store_get_stats(const struct rq_store *s, struct rq_store_stats *out)
{
    *out = s->st;
    out->journal_cmds = s->journal_cmds;
    out->journal_limit = s->rc->journal_max;
    out->resync_pending = s->overflow;
}

int
rq_store_flush_sync(struct rq_store *s, uint32_t timeout_ms)
{
    uint64_t end = wall_ms() + timeout_ms;

    while (wall_ms() < end) {
        if (s->cur != NULL || s->n_dirty > 0)
            flush_cb(-1, 0, s);
        if (s->ready && s->inflight.head == NULL && s->journal.head == NULL && s->cur == NULL)
            return 0;
        event_base_loop(s->base, EVLOOP_ONCE);
    }
    return -1;
}

/*
 * Start-up recovery (blocking: it runs before the loop and the listeners).
 */

/* Field value of an HGETALL reply, or NULL. */
static const char *
hget(const redisReply *h, const char *field)
{
    if (h == NULL || h->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, field) == 0)
            return h->element[i + 1]->type == REDIS_REPLY_STRING ? h->element[i + 1]->str : NULL;
    return NULL;
}

static const char *
hget_nonempty(const redisReply *h, const char *field)
{
    const char *v = hget(h, field);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

static uint64_t
hget_u64(const redisReply *h, const char *field)
{
    const char *v = hget(h, field);

    return v != NULL ? strtoull(v, NULL, 10) : 0;
}

static redisContext *
sync_connect(const struct rq_conf_redis *rc, struct rq_error *err)
{
    struct timeval ct = {rc->connect_timeout_ms / 1000, (rc->connect_timeout_ms % 1000) * 1000};
    struct timeval cmd = {rc->command_timeout_ms / 1000, (rc->command_timeout_ms % 1000) * 1000};
    redisContext *c;
    redisReply *r;

    c = rc->unix_path != NULL ? redisConnectUnixWithTimeout(rc->unix_path, ct)
                              : redisConnectWithTimeout(rc->host, rc->port, ct);
    if (c == NULL || c->err) {
        rq_fail(err, RQ_E_UNAVAILABLE, "redis at %s%s%d: %s",
                rc->unix_path ? rc->unix_path : rc->host, rc->unix_path ? "" : ":",
                rc->unix_path ? 0 : rc->port, c != NULL ? c->errstr : "out of memory");
        if (c != NULL)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, cmd);
    if (rc->password != NULL) {
        r = rc->user != NULL ? redisCommand(c, "AUTH %s %s", rc->user, rc->password)
                             : redisCommand(c, "AUTH %s", rc->password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            rq_fail(err, RQ_E_UNAUTHORIZED, "redis AUTH: %s", r ? r->str : c->errstr);
            if (r != NULL)
                freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    if (rc->db != 0) {
        r = redisCommand(c, "SELECT %d", rc->db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            rq_fail(err, RQ_E_UNAVAILABLE, "redis SELECT %d: %s", rc->db, r ? r->str : c->errstr);
            if (r != NULL)
                freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

struct saved {
    redisReply *h;    /* the contact's hash */
    uint64_t arrived; /* sort keys: arrival ... */
    uint64_t seq;     /* ... then the old process's sequence */
};

static int
saved_cmp(const void *a, const void *b)
{
    const struct saved *x = a, *y = b;

    if (x->arrived != y->arrived)
        return x->arrived < y->arrived ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Parse "sales:3,tech:2" into in->skills (names point into buf). */
static void
parse_skills(char *buf, struct rq_contact_in *in)
{
    char *save = NULL;

    for (char *tok = strtok_r(buf, ",", &save); tok != NULL && in->n_skills < RQ_MAX_REQS;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        in->skills[in->n_skills].name = tok;
        in->skills[in->n_skills].level = atoi(colon + 1);
        in->n_skills++;
    }
}

static enum rq_contact_state
state_parse(const char *s)
{
    if (s != NULL && strcmp(s, "ringing") == 0)
        return RQ_CS_RINGING;
    if (s != NULL && strcmp(s, "connected") == 0)
        return RQ_CS_CONNECTED;
    return RQ_CS_WAITING;
}

static long
recover_contacts(redisContext *c, const struct rq_conf_redis *rc, struct rq_router *router,
                 struct rq_error *err)
{
    redisReply *ids = redisCommand(c, "SMEMBERS %scontacts", rc->prefix);
    struct saved *sv = NULL;
    size_t n = 0;
    long restored = 0;

    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        rq_fail(err, RQ_E_UNAVAILABLE, "redis SMEMBERS: %s",
                ids && ids->type == REDIS_REPLY_ERROR ? ids->str : c->errstr);
        if (ids != NULL)
            freeReplyObject(ids);
        return -1;
    }
    if (ids->elements > 0 && (sv = calloc(ids->elements, sizeof(*sv))) == NULL) {
        freeReplyObject(ids);
        return rq_fail(err, RQ_E_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < ids->elements; i++)
        redisAppendCommand(c, "HGETALL %scontact:%s", rc->prefix, ids->element[i]->str);
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *h = NULL;
        if (redisGetReply(c, (void **)&h) != REDIS_OK) {
            rq_fail(err, RQ_E_UNAVAILABLE, "redis HGETALL: %s", c->errstr);
            restored = -1;
            break;
        }
        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
            /* listed but its hash is gone: nothing to restore */
            freeReplyObject(h);
            continue;
        }
        sv[n].h = h;
        sv[n].arrived = hget_u64(h, "arrived_ms");
        sv[n].seq = hget_u64(h, "seq");
        n++;
    }
    if (restored == 0) {
        if (n > 0)
            qsort(sv, n, sizeof(*sv), saved_cmp);
        for (size_t i = 0; i < n; i++) {
            const redisReply *h = sv[i].h;
            struct rq_contact_in in = {0};
            struct rq_contact_restore rs = {0};
            struct rq_error e;
            char skills[512];
            snprintf(skills, sizeof(skills), "%s", hget(h, "skills") ? hget(h, "skills") : "");
            in.id = hget_nonempty(h, "id");
            in.channel = hget_nonempty(h, "channel");
            in.queue = hget_nonempty(h, "queue");
            in.customer_id = hget_nonempty(h, "customer_id");
            in.tier = hget_nonempty(h, "tier");
            in.lang = hget_nonempty(h, "lang");
            in.persona = hget_nonempty(h, "persona");
            in.priority = (int)hget_u64(h, "priority");
            in.preferred_agent = hget_nonempty(h, "preferred_agent");
            in.due_at_ms = hget_u64(h, "due_at_ms");
            in.arrived_ms = sv[i].arrived;
            parse_skills(skills, &in);
            rs.state = state_parse(hget(h, "state"));
            rs.agent = hget_nonempty(h, "agent");
            rs.first_arrived_ms = hget_u64(h, "first_arrived_ms");
            rs.answered_ms = hget_u64(h, "answered_ms");
            rs.offers = (int)hget_u64(h, "offers");
            rs.alerted = (int)hget_u64(h, "alerted");
            if (in.id == NULL)
                continue;
            if (rq_router_contact_restore(router, hget_nonempty(h, "source"), &in, &rs, &e) < 0)
                log_warnx("redis: contact '%s' not restored: %s", in.id, e.message);
            else
                restored++;
        }
    }
    for (size_t i = 0; i < n; i++)
        freeReplyObject(sv[i].h);
    free(sv);
    freeReplyObject(ids);
    return restored;
}

static void
counters_from(const redisReply *h, const char *pfx, struct rq_qcounters *c)
{
    char name[96];
#define RQ_GET(field)                                                                              \
    do {                                                                                           \
        snprintf(name, sizeof(name), "%s%s", pfx, #field);                                         \
        c->field = hget_u64(h, name);                                                              \
    } while (0);
    RQ_QCOUNTER_FIELDS(RQ_GET)
#undef RQ_GET
    for (int i = 0; i < RQ_WAIT_BUCKETS; i++) {
        snprintf(name, sizeof(name), "%swait_bucket_%d", pfx, i);
        c->wait_buckets[i] = hget_u64(h, name);
    }
}

long
rq_store_recover(const struct rq_conf *conf, struct rq_router *router, struct rq_error *err)
{
    const struct rq_conf_redis *rc = &conf->redis;
    redisContext *c;
    struct rq_qcounters *tiers;
    long restored;

    if (!rc->enabled)
        return 0;
    if ((c = sync_connect(rc, err)) == NULL)
        return -1;
    /* Counters first, so the contacts restored after them count once. */
    tiers = calloc((size_t)(conf->n_tiers ? conf->n_tiers : 1), sizeof(*tiers));
    for (int q = 0; tiers != NULL && q < conf->n_queues; q++) {
        redisReply *h =
            redisCommand(c, "HGETALL %squeue:%s:stats", rc->prefix, conf->queues[q].name);
        struct rq_qcounters total = {0};
        char pfx[80];
        if (h == NULL)
            break;
        if (h->type == REDIS_REPLY_ARRAY && h->elements > 0) {
            counters_from(h, "", &total);
            for (int t = 0; t < conf->n_tiers; t++) {
                snprintf(pfx, sizeof(pfx), "%s.", conf->tiers[t].name);
                counters_from(h, pfx, &tiers[t]);
            }
            rq_router_queue_restore(router, q, &total, tiers);
        }
        freeReplyObject(h);
    }
    free(tiers);
    for (int i = 0; i < conf->n_agents; i++) {
        redisReply *h = redisCommand(c, "HGETALL %sagent:%s", rc->prefix, conf->agents[i].id);
        if (h == NULL)
            break;
        if (h->type == REDIS_REPLY_ARRAY && h->elements > 0)
            rq_router_agent_restore(router, conf->agents[i].id, hget(h, "presence"),
                                    hget(h, "reason"), hget_u64(h, "wrap_until_ms"),
                                    hget_nonempty(h, "wrap_queue"));
        freeReplyObject(h);
    }
    restored = recover_contacts(c, rc, router, err);
    redisFree(c);
    return restored;
}
