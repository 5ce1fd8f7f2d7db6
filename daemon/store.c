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
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <uthash.h>

#include "log.h"
#include "store.h"

#define STORE_MAX_ARGS    96   /* arguments of one formatted command */
#define STORE_ARG_BUF     4096 /* bytes of formatted numbers per command */
#define STORE_TICK_MS     100  /* timeouts and reconnects are checked this often */
#define STORE_BACKOFF_MIN 100
#define STORE_BACKOFF_MAX 2000

struct waiter {
    rq_store_done_cb *cb; /* told when the batch is durable or journaled */
    void *arg;
};

/* One group commit: the changes of one loop iteration. */
struct batch {
    char *buf;     /* its commands, RESP-formatted back to back */
    size_t len;    /* bytes used in buf */
    size_t size;   /* bytes allocated */
    size_t *ends;  /* end offset of each command in buf */
    size_t n, cap; /* commands, and room in ends */
    struct waiter *waiters;
    size_t nw, capw;
    uint64_t sent_ms;   /* when MULTI went out (in flight) */
    uint64_t seq;       /* batch sequence number */
    struct batch *next; /* in the in-flight list or the journal */
};

struct blist {
    struct batch *head, *tail;
};

/* A change of membership of the current batch: contact id in the set of
 * live contacts (set "") or in queue set's waiting set. Only the last one
 * per member counts: the batch writes them at its end as one variadic
 * SADD/SREM/ZADD/ZREM per key (MULTI ... EXEC shows only the batch's end
 * state, which is the same). */
struct member {
    int add;           /* 1: SADD / ZADD, 0: SREM / ZREM */
    uint64_t score;    /* ZADD score */
    size_t set_len;    /* key = set name, NUL, contact id */
    UT_hash_handle hh; /* rq_store.members, keyed by key[0 .. key_len) */
    size_t key_len;
    char key[];
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
    size_t inflight_cmds;     /* commands in the in-flight batches */
    struct blist journal;     /* waiting for Redis to come back */
    size_t journal_cmds;      /* commands in the journal */
    int overflow;             /* journal overflowed: rewrite all on reconnect */
    uint8_t *queue_dirty;     /* per queue: stats to write at the next flush */
    int *dirty_list;          /* indexes of dirty queues */
    int n_dirty;
    struct member *members;      /* the current batch's membership changes */
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

/* Decimal digits of v at p (no NUL); returns the end. */
static char *
put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* A number argument, formatted without printf (the hot path). */
static void
a_u64(struct argv *a, uint64_t v)
{
    char *end;

    if (a->n >= STORE_MAX_ARGS || a->used + 21 > sizeof(a->buf))
        return;
    end = put_u64(a->buf + a->used, v);
    *end = '\0';
    a->v[a->n] = a->buf + a->used;
    a->l[a->n] = (size_t)(end - (a->buf + a->used));
    a->n++;
    a->used += a->l[a->n - 1] + 1;
}

/* The key prefix + p1 + p2 + p3 (p2, p3 may be NULL), built by copying. */
static void
a_key3(struct argv *a, const struct rq_store *s, const char *p1, const char *p2, const char *p3)
{
    const char *parts[4] = {s->rc->prefix, p1, p2, p3};
    char *start = a->buf + a->used, *p = start;

    if (a->n >= STORE_MAX_ARGS)
        return;
    for (int i = 0; i < 4; i++) {
        size_t l = parts[i] != NULL ? strlen(parts[i]) : 0;
        if ((size_t)(p - a->buf) + l + 1 > sizeof(a->buf))
            return;
        memcpy(p, parts[i] != NULL ? parts[i] : "", l);
        p += l;
    }
    *p = '\0';
    a->v[a->n] = start;
    a->l[a->n] = (size_t)(p - start);
    a->n++;
    a->used += (size_t)(p - start) + 1;
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
    a_u64(a, v);
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
    free(b->buf);
    free(b->ends);
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

/* Append a to the current batch, formatted by hiredis in the Redis
 * protocol (RESP). */
static void
emit(struct rq_store *s, struct argv *a)
{
    struct batch *b = current(s);
    char *cmd;
    int len;

    if (b == NULL)
        return;
    if ((len = redisFormatCommandArgv(&cmd, a->n, a->v, a->l)) < 0)
        return;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16;
        size_t *ne = realloc(b->ends, ncap * sizeof(*ne));
        if (ne == NULL)
            goto done;
        b->ends = ne;
        b->cap = ncap;
    }
    if (b->len + (size_t)len > b->size) {
        size_t nsize = b->size ? b->size * 2 : 4096;
        char *nb;
        while (nsize < b->len + (size_t)len)
            nsize *= 2;
        if ((nb = realloc(b->buf, nsize)) == NULL)
            goto done;
        b->buf = nb;
        b->size = nsize;
    }
    memcpy(b->buf + b->len, cmd, (size_t)len);
    b->len += (size_t)len;
    b->ends[b->n++] = b->len;
done:
    redisFreeCommand(cmd);
}

/*
 * What a change writes.
 */

/* The router's order as one sortable score: class, then effective
 * deadline (ms), then tier rank. An integer below 2^53 (up to the year
 * 2248), so Redis' double score holds it exactly. */
static uint64_t
waiting_score(const struct rq_contact *c)
{
    uint64_t o = c->order_ms < 0 ? 0 : (uint64_t)c->order_ms;
    uint64_t rank = c->tier_rank > 7 ? 7 : (uint64_t)c->tier_rank;

    return ((uint64_t)c->order_class << 50) + o * 8u + rank;
}

/* Only n and used need a start value (the rest is written before it is read). */
static void
argv_init(struct argv *a)
{
    a->n = 0;
    a->used = 0;
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

/* The fields an offer, an answer, an escalation or a new priority can
 * change (the others only change with a re-queue or a transfer). */
static void
contact_state_fields(struct argv *a, const struct rq_contact *c)
{
    a_field(a, "state", rq_contact_state_name(c->state));
    a_field_u64(a, "priority", (uint64_t)c->base_priority);
    a_field(a, "agent", c->agent != NULL ? c->agent->id : "");
    a_field_u64(a, "offered_ms", c->state == RQ_CS_RINGING ? c->offered_ms : 0);
    a_field_u64(a, "answered_ms", c->answered_ms);
    a_field_u64(a, "offers", (uint64_t)c->offers);
    a_field_u64(a, "alerted", (uint64_t)c->alerted);
    a_field_u64(a, "escalation", (uint64_t)c->steps_done);
    a_field_u64(a, "score", waiting_score(c));
}

/* HSET of the contact's hash: every field (full), or those
 * contact_state_fields writes. */
static void
write_contact_hash(struct rq_store *s, const struct rq_contact *c, int full)
{
    const struct rq_conf *conf = s->conf;
    struct argv a;
    char skills[512];

    argv_init(&a);
    a_str(&a, "HSET");
    a_key3(&a, s, "contact:", c->id, NULL);
    if (full) {
        skills_text(conf, c, skills, sizeof(skills));
        a_field(&a, "id", c->id);
        a_field(&a, "channel", rq_channel_name(c->channel));
        a_field(&a, "queue", conf->queues[c->queue].name);
        a_field(&a, "tier", conf->tiers[c->tier].name);
        a_field(&a, "source", c->source);
        a_field(&a, "customer_id", c->customer_id);
        a_field(&a, "lang", c->lang);
        a_field(&a, "persona", c->persona >= 0 ? rq_persona_name((enum rq_persona)c->persona) : "");
        a_field(&a, "skills", skills);
        a_field(&a, "preferred_agent", c->preferred_agent);
        a_field_u64(&a, "arrived_ms", c->arrived_ms);
        a_field_u64(&a, "first_arrived_ms", c->first_arrived_ms);
        a_field_u64(&a, "target_ms", c->target_ms);
        a_field_u64(&a, "deadline_ms", c->deadline_ms);
        a_field_u64(&a, "due_at_ms", c->due_at_ms);
        a_field_u64(&a, "seq", c->seq);
    }
    contact_state_fields(&a, c);
    emit(s, &a);
}

static void
write_event(struct rq_store *s, const char *type, const char *id, const char *state,
            const char *change, const char *queue, const char *agent)
{
    struct argv a;

    argv_init(&a);
    a_str(&a, "XADD");
    a_key3(&a, s, "events", NULL, NULL);
    a_str(&a, "MAXLEN");
    a_str(&a, "~");
    a_u64(&a, s->rc->events_maxlen);
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

/* Record that id joins (add) or leaves set ("" for the live contacts,
 * else a queue's name) in the current batch. */
static void
member(struct rq_store *s, const char *set, const char *id, int add, uint64_t score)
{
    size_t sl = strlen(set), il = strlen(id), kl = sl + 1 + il;
    struct member *m;
    char key[RQ_MAX_NAME_LEN * 4 + RQ_MAX_ID_LEN * 4 + 2];

    if (current(s) == NULL || kl > sizeof(key))
        return;
    memcpy(key, set, sl);
    key[sl] = '\0';
    memcpy(key + sl + 1, id, il);
    HASH_FIND(hh, s->members, key, kl, m);
    if (m == NULL) {
        if ((m = malloc(sizeof(*m) + kl + 1)) == NULL)
            return;
        memcpy(m->key, key, kl);
        m->key[kl] = '\0';
        m->key_len = kl;
        m->set_len = sl;
        HASH_ADD_KEYPTR(hh, s->members, m->key, kl, m);
    }
    m->add = add;
    m->score = score;
}

static int
member_cmp(const struct member *a, const struct member *b)
{
    int c = strcmp(a->key, b->key); /* the set names */

    return c != 0 ? c : (a->add - b->add);
}

/* Write the recorded membership changes into the current batch: per set,
 * one command per kind (at most STORE_MAX_ARGS arguments each). Runs
 * before the batch goes out, and before anything deletes a whole set. */
static void
flush_members(struct rq_store *s)
{
    struct member *m, *tmp, *run = NULL;
    struct argv a;

    if (s->members == NULL)
        return;
    HASH_SRT(hh, s->members, member_cmp);
    argv_init(&a);
    for (m = s->members; m != NULL; m = m->hh.next) {
        int live = m->set_len == 0;
        if (run == NULL || a.n + 2 >= STORE_MAX_ARGS || a.used + 64 > sizeof(a.buf) ||
            member_cmp(run, m) != 0) {
            if (run != NULL)
                emit(s, &a);
            run = m;
            argv_init(&a);
            a_str(&a, live ? (m->add ? "SADD" : "SREM") : (m->add ? "ZADD" : "ZREM"));
            if (live)
                a_key3(&a, s, "contacts", NULL, NULL);
            else
                a_key3(&a, s, "queue:", m->key, ":waiting");
        }
        if (!live && m->add)
            a_u64(&a, m->score);
        a_str(&a, m->key + m->set_len + 1);
    }
    if (run != NULL)
        emit(s, &a);
    HASH_ITER (hh, s->members, m, tmp) {
        HASH_DEL(s->members, m);
        free(m);
    }
}

static void
zcmd(struct rq_store *s, const char *op, int queue, const struct rq_contact *c)
{
    int add = strcmp(op, "ZADD") == 0;

    member(s, s->conf->queues[queue].name, c->id, add, add ? waiting_score(c) : 0);
}

static void
set_cmd(struct rq_store *s, const char *op, const char *id)
{
    member(s, "", id, strcmp(op, "SADD") == 0, 0);
}

void
rq_store_contact(struct rq_store *s, const struct rq_contact *c, enum rq_change chg)
{
    const char *q;

    if (s == NULL)
        return;
    q = s->conf->queues[c->queue].name;
    if (chg == RQ_CHG_ENDED || chg == RQ_CHG_ABANDONED) {
        struct argv a;
        argv_init(&a);
        a_str(&a, "DEL");
        a_key3(&a, s, "contact:", c->id, NULL);
        emit(s, &a);
        zcmd(s, "ZREM", c->queue, c);
        set_cmd(s, "SREM", c->id);
    } else {
        write_contact_hash(
            s, c, chg == RQ_CHG_QUEUED || chg == RQ_CHG_REQUEUED || chg == RQ_CHG_TRANSFERRED);
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

/* DEL <prefix><kind><name><tail> */
static void
del_key(struct rq_store *s, const char *kind, const char *name, const char *tail)
{
    struct argv a = {0};

    flush_members(s); /* before the key goes */
    a_str(&a, "DEL");
    a_key(&a, s, "%s%s%s", kind, name, tail);
    emit(s, &a);
}

static const char *
presence_name(enum rq_presence p)
{
    return p == RQ_PRES_READY ? "ready" : p == RQ_PRES_NOT_READY ? "not_ready" : "logged_out";
}

void
rq_store_agent(struct rq_store *s, const struct rq_agent *a)
{
    struct argv v;

    if (s == NULL)
        return;
    if (a->retiring && a->presence == RQ_PRES_LOGGED_OUT) {
        /* removed by a reload and done with its contacts: gone */
        del_key(s, "agent:", a->id, "");
        write_event(s, "agent", a->id, "removed", NULL, NULL, NULL);
        return;
    }
    argv_init(&v);
    a_str(&v, "HSET");
    a_key3(&v, s, "agent:", a->id, NULL);
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

    flush_members(s); /* before the sets go */
    a_str(&a, "DEL");
    a_key(&a, s, "contacts");
    emit(s, &a);
    for (int i = 0; i < m->n_queues; i++) /* a command each: any number of queues */
        del_key(s, "queue:", m->queues[i].conf->name, ":waiting");
    for (const struct rq_contact *c = m->contacts; c != NULL; c = c->hh.next) {
        write_contact_hash(s, c, 1);
        set_cmd(s, "SADD", c->id);
        if (c->state == RQ_CS_WAITING)
            zcmd(s, "ZADD", c->queue, c);
    }
    for (int i = 0; i < m->n_agents; i++)
        rq_store_agent(s, &m->agents[i]);
    for (int i = 0; i < m->n_queues; i++)
        rq_store_queue(s, &m->queues[i]);
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
 * hiredis on the loop. Like hiredis' own libevent adapter, with two
 * differences that save two epoll_ctl calls and a loop turn per batch:
 * the read event stays registered (persistent), and what hiredis has to
 * write is written at the end of the loop turn that queued it (a batch goes
 * out in the turn it was made); the write event is registered only while
 * connecting or when the socket does not take everything.
 */

struct rq_redis_ev {
    redisAsyncContext *ac; /* the context */
    struct event *rev;     /* readable (persistent) */
    struct event *wev;     /* writable: connecting, or the socket was full */
    struct event *soon;    /* end of this loop turn: write what hiredis holds */
    int reading;           /* rev is registered */
};

/* The context being written from soon_cb: its addWrite means "the socket
 * is full", not "there is something to write". */
static const redisAsyncContext *ev_writing;

static void
ev_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_redis_ev *e = arg;

    redisAsyncHandleRead(e->ac); /* may free e (cleanup) */
}

static void
ev_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_redis_ev *e = arg;

    redisAsyncHandleWrite(e->ac); /* may free e */
}

static void
ev_soon_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_redis_ev *e = arg;
    redisAsyncContext *ac = e->ac;

    ev_writing = ac;
    redisAsyncHandleWrite(ac); /* may free e */
    ev_writing = NULL;
}

static void
ev_add_read(void *privdata)
{
    struct rq_redis_ev *e = privdata;

    if (!e->reading) {
        e->reading = 1;
        event_add(e->rev, NULL);
    }
}

static void
ev_del_read(void *privdata)
{
    struct rq_redis_ev *e = privdata;

    if (e->reading) {
        e->reading = 0;
        event_del(e->rev);
    }
}

static void
ev_add_write(void *privdata)
{
    struct rq_redis_ev *e = privdata;

    if (!(e->ac->c.flags & REDIS_CONNECTED) || ev_writing == e->ac)
        event_add(e->wev, NULL);
    else
        event_active(e->soon, EV_WRITE, 0);
}

static void
ev_del_write(void *privdata)
{
    struct rq_redis_ev *e = privdata;

    event_del(e->wev);
}

static void
ev_cleanup(void *privdata)
{
    struct rq_redis_ev *e = privdata;

    event_free(e->rev);
    event_free(e->wev);
    event_free(e->soon);
    free(e);
}

static int
ev_attach(redisAsyncContext *ac, struct event_base *base)
{
    struct rq_redis_ev *e;

    if (ac->ev.data != NULL || (e = calloc(1, sizeof(*e))) == NULL)
        return REDIS_ERR;
    e->ac = ac;
    e->rev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, ev_read_cb, e);
    e->wev = event_new(base, ac->c.fd, EV_WRITE, ev_write_cb, e);
    e->soon = event_new(base, -1, 0, ev_soon_cb, e);
    if (e->rev == NULL || e->wev == NULL || e->soon == NULL) {
        if (e->rev != NULL)
            event_free(e->rev);
        if (e->wev != NULL)
            event_free(e->wev);
        if (e->soon != NULL)
            event_free(e->soon);
        free(e);
        return REDIS_ERR;
    }
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    ac->ev.data = e;
    ev_add_read(e);
    event_add(e->wev, NULL); /* the connection completes when writable */
    return REDIS_OK;
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

/* Append src's waiters to dst's (src keeps none). */
static int
move_waiters(struct batch *dst, struct batch *src)
{
    if (dst->nw + src->nw > dst->capw) {
        size_t ncap = dst->capw ? dst->capw : 8;
        struct waiter *nw;
        while (ncap < dst->nw + src->nw)
            ncap *= 2;
        if ((nw = realloc(dst->waiters, ncap * sizeof(*nw))) == NULL)
            return -1;
        dst->waiters = nw;
        dst->capw = ncap;
    }
    memcpy(dst->waiters + dst->nw, src->waiters, src->nw * sizeof(*src->waiters));
    dst->nw += src->nw;
    src->nw = 0;
    return 0;
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
    if (s->inflight.head == b) {
        blist_pop(&s->inflight);
        s->inflight_cmds -= b->n;
    }
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
    for (size_t i = 0, start = 0; i < b->n; start = b->ends[i++])
        redisAsyncFormattedCommand(s->ac, NULL, NULL, b->buf + start, b->ends[i] - start);
    if (redisAsyncFormattedCommand(s->ac, exec_cb, b, exec, sizeof(exec) - 1) != REDIS_OK)
        return -1;
    b->sent_ms = wall_ms();
    blist_push(&s->inflight, b);
    s->inflight_cmds += b->n;
    return 0;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_store *s = arg;
    struct batch *b;

    if (s->n_dirty > 0)
        write_dirty_queues(s);
    flush_members(s);
    b = s->cur;
    s->cur = NULL;
    if (b == NULL)
        return;
    if (b->n == 0) {
        /* Nothing to write, but its waiters must not hear before those of
         * the batches sent earlier (a client's replies go out in order and
         * only once durable): they join the newest batch in flight. */
        if (s->inflight.tail != NULL && move_waiters(s->inflight.tail, b) == 0) {
            batch_free(b);
            return;
        }
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
    if (ev_attach(ac, s->base) != REDIS_OK) {
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
    {
        struct member *m, *tmp;
        HASH_ITER (hh, s->members, m, tmp) {
            HASH_DEL(s->members, m);
            free(m);
        }
    }
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

size_t
rq_store_pending(const struct rq_store *s)
{
    if (s == NULL)
        return 0;
    return s->inflight_cmds + (s->cur != NULL ? s->cur->n : 0);
}

int
rq_store_overloaded(const struct rq_store *s, uint32_t *retry_ms)
{
    uint64_t behind = 0, now;

    /* s->conf, not s->rc: the limit follows a reload (the connection
     * settings stay those of the start) */
    if (s == NULL || rq_store_pending(s) < s->conf->redis.max_pending)
        return 0;
    if (s->inflight.head != NULL && (now = wall_ms()) > s->inflight.head->sent_ms)
        behind = now - s->inflight.head->sent_ms;
    /* Redis is `behind` ms late on the oldest batch: come back when that
     * much more has passed (at least 10 ms, at most the command timeout). */
    if (behind < 10)
        behind = 10;
    if (behind > s->rc->command_timeout_ms)
        behind = s->rc->command_timeout_ms;
    if (retry_ms != NULL)
        *retry_ms = (uint32_t)((behind + 9) / 10 * 10);
    return 1;
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
