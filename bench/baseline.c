/*
 * ringq-baseline - the smallest server that does what ringqd's I/O path
 * does for a source, so that bench/load can measure this machine's limit
 * in the same run as ringqd and print ringqd's figures as ratios to it.
 *
 *   ringq-baseline -p PORT -r REDIS_PORT [-h REDIS_HOST] [-x PREFIX] [-m EVENTS_MAXLEN]
 *
 * One libevent loop, a TCP listener, NDJSON lines parsed with jansson, and
 * per event the same Redis commands ringqd sends for it (docs/redis.md),
 * through hiredis' async API on the same loop:
 *   contact.new      HSET contact:{id} (the 27 fields), XADD events MAXLEN ~,
 *                    and the id joins the set contacts and the sorted set
 *                    queue:{q}:waiting
 *   contact.abandon  DEL contact:{id}, XADD events MAXLEN ~, and the id
 *                    leaves both sets
 * and, once per loop turn: the set changes of the turn (the last one per
 * member) as one SADD / SREM contacts and one ZADD / ZREM per queue; for
 * each queue that changed, HSET queue:{q}:stats (gauges and counters), HSET
 * of the per-tier counters, PUBLISH stats. The
 * commands of one loop turn go out as one MULTI ... EXEC (group commit), and
 * each request's reply ({"re":..,"ok":true,...}) is written once Redis has
 * acknowledged the EXEC that holds its commands. hello and ping are answered
 * at once. No routing, no validation beyond what the reply needs: this is
 * the floor ringqd's per-event cost is compared with, not a product.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <uthash.h>

#define MAX_LINE      65536 /* longest request line */
#define MAX_ARGS      64    /* arguments of one Redis command */
#define N_COUNTERS    25    /* counters per queue and tier in ringqd (17 + 8 wait buckets) */
#define MAX_QUEUES    64    /* distinct queue names */
#define NUM_LEN       24    /* a formatted uint64 */
#define LINE_OVERHEAD 256   /* reply bytes beyond the contact id */

struct conn {
    struct bufferevent *bev; /* the client socket */
    int refs;                /* 1 while open, +1 per reply waiting for Redis */
    int closed;              /* the client went away */
};

/* A reply waiting for the EXEC of its batch. */
struct pending {
    struct conn *c; /* whom it goes to (a reference is held) */
    char *line;     /* the reply, newline included */
    size_t len;     /* its length */
};

/* The commands of one loop turn and the replies that wait for them. */
struct batch {
    struct pending *p; /* replies waiting for this batch's EXEC */
    size_t n, cap;     /* how many, and room */
};

/* A live contact: what contact.abandon needs to undo it. */
struct contact {
    char *id;          /* the source's contact id */
    int queue;         /* index in srv.queues */
    UT_hash_handle hh; /* srv.contacts, keyed by id */
};

/* The turn's last change of one member of a set: contacts (queue -1) or
 * a queue's waiting set. */
struct member {
    int queue;         /* -1: the contacts set */
    int add;           /* 1: SADD / ZADD, 0: SREM / ZREM */
    uint64_t score;    /* ZADD score */
    UT_hash_handle hh; /* srv.members, keyed by key */
    char key[160];     /* queue index and id */
};

/* Per queue: the gauges and counters the stats hash carries. */
struct queue {
    char *name;                           /* as the requests name it */
    uint64_t waiting, offered, abandoned; /* gauge and counters */
    int dirty;                            /* changed in this loop turn */
};

static struct {
    struct event_base *base;  /* the loop */
    redisAsyncContext *ac;    /* the Redis connection */
    const char *prefix;       /* -x: key prefix, "ringq:" */
    unsigned long maxlen;     /* -m: MAXLEN ~ of the events stream */
    struct event *flush_ev;   /* end of the loop turn: send EXEC */
    struct batch *cur;        /* the turn's batch, NULL when no command yet */
    struct contact *contacts; /* live contacts */
    struct member *members;   /* set changes of the turn */
    struct queue queues[MAX_QUEUES];
    int n_queues; /* queues seen so far */
    uint64_t seq; /* arrival order */
} srv;

static uint64_t
wall_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static void
conn_unref(struct conn *c)
{
    if (--c->refs == 0) {
        bufferevent_free(c->bev);
        free(c);
    }
}

static int
queue_index(const char *name)
{
    for (int i = 0; i < srv.n_queues; i++)
        if (strcmp(srv.queues[i].name, name) == 0)
            return i;
    if (srv.n_queues == MAX_QUEUES)
        return -1;
    srv.queues[srv.n_queues].name = strdup(name);
    return srv.n_queues++;
}

/* The turn's batch: MULTI goes out with the first command. */
static struct batch *
batch(void)
{
    if (srv.cur == NULL) {
        srv.cur = calloc(1, sizeof(*srv.cur));
        redisAsyncCommand(srv.ac, NULL, NULL, "MULTI");
        event_active(srv.flush_ev, EV_TIMEOUT, 0);
    }
    return srv.cur;
}

/* A command built as arguments. */
struct cmd {
    const char *v[MAX_ARGS];     /* the arguments */
    size_t l[MAX_ARGS];          /* their lengths */
    int n;                       /* how many */
    char num[MAX_ARGS][NUM_LEN]; /* storage for numbers */
};

static void
arg(struct cmd *c, const char *s)
{
    c->v[c->n] = s != NULL ? s : "";
    c->l[c->n] = strlen(c->v[c->n]);
    c->n++;
}

static void
arg_u64(struct cmd *c, uint64_t v)
{
    int len = snprintf(c->num[c->n], NUM_LEN, "%" PRIu64, v);

    c->v[c->n] = c->num[c->n];
    c->l[c->n] = (size_t)len;
    c->n++;
}

static void
arg_key(struct cmd *c, const char *a, const char *b, const char *d)
{
    /* keys can be long: built in a static buffer per position */
    static char keys[MAX_ARGS][512];
    int len =
        snprintf(keys[c->n], sizeof(keys[0]), "%s%s%s%s", srv.prefix, a, b ? b : "", d ? d : "");
    c->v[c->n] = keys[c->n];
    c->l[c->n] = (size_t)len;
    c->n++;
}

static void
send_cmd(struct cmd *c)
{
    batch();
    redisAsyncCommandArgv(srv.ac, NULL, NULL, c->n, c->v, c->l);
}

static void
member(int queue, const char *id, int add, uint64_t score)
{
    char key[160];
    struct member *m;
    int len = snprintf(key, sizeof(key), "%d:%s", queue, id);

    batch();
    HASH_FIND(hh, srv.members, key, (size_t)len, m);
    if (m == NULL) {
        m = calloc(1, sizeof(*m));
        memcpy(m->key, key, (size_t)len + 1);
        m->queue = queue;
        HASH_ADD(hh, srv.members, key[0], (size_t)len, m);
    }
    m->add = add;
    m->score = score;
}

static int
member_cmp(const struct member *a, const struct member *b)
{
    return a->queue != b->queue ? a->queue - b->queue : a->add - b->add;
}

/* The turn's set changes: one command per set and kind. */
static void
write_members(void)
{
    struct member *m, *tmp, *run = NULL;
    struct cmd c = {.n = 0};

    HASH_SRT(hh, srv.members, member_cmp);
    for (m = srv.members; m != NULL; m = m->hh.next) {
        if (run == NULL || member_cmp(run, m) != 0 || c.n + 2 >= MAX_ARGS) {
            if (run != NULL)
                send_cmd(&c);
            run = m;
            c.n = 0;
            arg(&c, m->queue < 0 ? (m->add ? "SADD" : "SREM") : (m->add ? "ZADD" : "ZREM"));
            if (m->queue < 0)
                arg_key(&c, "contacts", NULL, NULL);
            else
                arg_key(&c, "queue:", srv.queues[m->queue].name, ":waiting");
        }
        if (m->queue >= 0 && m->add)
            arg_u64(&c, m->score);
        arg(&c, strchr(m->key, ':') + 1);
    }
    if (run != NULL)
        send_cmd(&c);
    HASH_ITER (hh, srv.members, m, tmp) {
        HASH_DEL(srv.members, m);
        free(m);
    }
}

static void
xadd(const char *id, const char *state, const char *queue)
{
    struct cmd c = {.n = 0};

    arg(&c, "XADD");
    arg_key(&c, "events", NULL, NULL);
    arg(&c, "MAXLEN");
    arg(&c, "~");
    arg_u64(&c, srv.maxlen);
    arg(&c, "*");
    arg(&c, "type");
    arg(&c, "contact");
    arg(&c, "id");
    arg(&c, id);
    arg(&c, "state");
    arg(&c, state);
    arg(&c, "change");
    arg(&c, state[0] == 'w' ? "queued" : "abandoned");
    arg(&c, "queue");
    arg(&c, queue);
    arg(&c, "agent");
    arg(&c, "");
    arg(&c, "ts_ms");
    arg_u64(&c, wall_ms());
    send_cmd(&c);
}

static const char *
str_at(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* contact.new: the four commands ringqd sends for a new waiting contact. */
static int
contact_new(json_t *req, struct contact **out)
{
    const char *id = str_at(req, "contact"), *qname = str_at(req, "queue");
    json_t *cust = json_object_get(req, "customer");
    struct contact *k;
    struct cmd c = {.n = 0};
    uint64_t now = wall_ms(), target = 18000, score;
    int q;

    if (id[0] == '\0' || qname[0] == '\0' || (q = queue_index(qname)) < 0)
        return -1;
    HASH_FIND_STR(srv.contacts, id, k);
    if (k != NULL)
        return -1;
    k = calloc(1, sizeof(*k));
    k->id = strdup(id);
    k->queue = q;
    HASH_ADD_KEYPTR(hh, srv.contacts, k->id, strlen(k->id), k);
    score = (2ull << 50) + (now + target) * 8u;

    arg(&c, "HSET");
    arg_key(&c, "contact:", id, NULL);
    arg(&c, "id");
    arg(&c, id);
    arg(&c, "state");
    arg(&c, "waiting");
    arg(&c, "channel");
    arg(&c, json_object_get(req, "channel") ? str_at(req, "channel") : "voice");
    arg(&c, "queue");
    arg(&c, qname);
    arg(&c, "tier");
    arg(&c, str_at(cust, "tier"));
    arg(&c, "source");
    arg(&c, "pbx1");
    arg(&c, "customer_id");
    arg(&c, str_at(cust, "id"));
    arg(&c, "lang");
    arg(&c, str_at(cust, "lang"));
    arg(&c, "persona");
    arg(&c, str_at(cust, "persona"));
    arg(&c, "skills");
    arg(&c, "");
    arg(&c, "priority");
    arg_u64(&c, (uint64_t)json_integer_value(json_object_get(req, "priority")));
    arg(&c, "preferred_agent");
    arg(&c, str_at(req, "preferred_agent"));
    arg(&c, "arrived_ms");
    arg_u64(&c, now);
    arg(&c, "first_arrived_ms");
    arg_u64(&c, now);
    arg(&c, "target_ms");
    arg_u64(&c, target);
    arg(&c, "deadline_ms");
    arg_u64(&c, now + target);
    arg(&c, "due_at_ms");
    arg_u64(&c, 0);
    arg(&c, "seq");
    arg_u64(&c, srv.seq++);
    arg(&c, "agent");
    arg(&c, "");
    arg(&c, "offered_ms");
    arg_u64(&c, 0);
    arg(&c, "answered_ms");
    arg_u64(&c, 0);
    arg(&c, "offers");
    arg_u64(&c, 0);
    arg(&c, "alerted");
    arg_u64(&c, 0);
    arg(&c, "escalation");
    arg_u64(&c, 0);
    arg(&c, "score");
    arg_u64(&c, score);
    send_cmd(&c);

    member(-1, id, 1, 0);
    member(q, id, 1, score);
    xadd(id, "waiting", qname);
    srv.queues[q].waiting++;
    srv.queues[q].offered++;
    srv.queues[q].dirty = 1;
    *out = k;
    return 0;
}

/* contact.abandon: the four commands ringqd sends for an abandon. */
static int
contact_abandon(json_t *req)
{
    const char *id = str_at(req, "contact");
    struct contact *k;
    struct cmd c = {.n = 0};
    const char *qname;

    HASH_FIND_STR(srv.contacts, id, k);
    if (k == NULL)
        return -1;
    qname = srv.queues[k->queue].name;

    arg(&c, "DEL");
    arg_key(&c, "contact:", id, NULL);
    send_cmd(&c);

    member(-1, id, 0, 0);
    member(k->queue, id, 0, 0);
    xadd(id, "abandoned", qname);
    srv.queues[k->queue].waiting--;
    srv.queues[k->queue].abandoned++;
    srv.queues[k->queue].dirty = 1;
    HASH_DEL(srv.contacts, k);
    free(k->id);
    free(k);
    return 0;
}

/* Once per turn and changed queue: the stats hash (gauges, counters), the
 * per-tier counters, and the stats message, as ringqd writes them. */
static void
write_stats(void)
{
    static const char *const gauges[] = {"waiting", "ringing", "connected", "longest_wait_ms"};
    static const char *const counters[N_COUNTERS] = {"offered",
                                                     "answered",
                                                     "answered_in_target",
                                                     "abandoned",
                                                     "abandoned_in_target",
                                                     "short_abandoned",
                                                     "transferred_out",
                                                     "flowed_out",
                                                     "rona",
                                                     "wait_ms_answered",
                                                     "handle_ms",
                                                     "handled",
                                                     "answered_immediately",
                                                     "answered_in_rings",
                                                     "ewt_answered",
                                                     "ewt_over_ms",
                                                     "ewt_under_ms",
                                                     "wait_bucket_0",
                                                     "wait_bucket_1",
                                                     "wait_bucket_2",
                                                     "wait_bucket_3",
                                                     "wait_bucket_4",
                                                     "wait_bucket_5",
                                                     "wait_bucket_6",
                                                     "wait_bucket_7"};
    char names[N_COUNTERS][64], msg[512];

    for (int i = 0; i < srv.n_queues; i++) {
        struct queue *q = &srv.queues[i];
        struct cmd c = {.n = 0};
        if (!q->dirty)
            continue;
        q->dirty = 0;
        arg(&c, "HSET");
        arg_key(&c, "queue:", q->name, ":stats");
        for (int g = 0; g < 4; g++) {
            arg(&c, gauges[g]);
            arg_u64(&c, g == 0 ? q->waiting : 0);
        }
        for (int k = 0; k < N_COUNTERS; k++) {
            arg(&c, counters[k]);
            arg_u64(&c, k == 0 ? q->offered : k == 3 ? q->abandoned : 0);
        }
        send_cmd(&c);
        c.n = 0;
        arg(&c, "HSET");
        arg_key(&c, "queue:", q->name, ":stats");
        for (int k = 0; k < N_COUNTERS; k++) {
            snprintf(names[k], sizeof(names[k]), "standard.%s", counters[k]);
            arg(&c, names[k]);
            arg_u64(&c, k == 0 ? q->offered : k == 3 ? q->abandoned : 0);
        }
        send_cmd(&c);
        snprintf(msg, sizeof(msg),
                 "{\"queue\":\"%s\",\"waiting\":%" PRIu64 ",\"ringing\":0,\"connected\":0,"
                 "\"longest_wait_ms\":0,\"offered\":%" PRIu64 ",\"answered\":0,"
                 "\"answered_in_target\":0,\"abandoned\":%" PRIu64 "}",
                 q->name, q->waiting, q->offered, q->abandoned);
        c.n = 0;
        arg(&c, "PUBLISH");
        arg_key(&c, "stats", NULL, NULL);
        arg(&c, msg);
        send_cmd(&c);
    }
}

static void
exec_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    struct batch *b = privdata;
    redisReply *reply = r;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "ringq-baseline: EXEC failed: %s\n", reply ? reply->str : "no reply");
    for (size_t i = 0; i < b->n; i++) {
        struct conn *c = b->p[i].c;
        if (!c->closed)
            bufferevent_write(c->bev, b->p[i].line, b->p[i].len);
        free(b->p[i].line);
        conn_unref(c);
    }
    free(b->p);
    free(b);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg0)
{
    struct batch *b = srv.cur;

    if (b == NULL)
        return;
    write_stats();
    write_members();
    srv.cur = NULL;
    redisAsyncCommand(srv.ac, exec_cb, b, "EXEC");
}

/* Encode {"re":id,"ok":true, ...extra} (extra stolen) as one line. */
static char *
reply_line(json_t *id, json_t *extra, size_t *len)
{
    json_t *o = json_object();
    char *s;

    if (id != NULL)
        json_object_set(o, "re", id);
    json_object_set_new(o, "ok", json_true());
    if (extra != NULL) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *len = strlen(s);
    s = realloc(s, *len + 2);
    s[(*len)++] = '\n';
    s[*len] = '\0';
    return s;
}

static void
reply_error(struct conn *c, json_t *id, const char *code, const char *message)
{
    json_t *o =
        json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", message);
    char *s;

    if (id != NULL)
        json_object_set(o, "re", id);
    s = json_dumps(o, JSON_COMPACT);
    bufferevent_write(c->bev, s, strlen(s));
    bufferevent_write(c->bev, "\n", 1);
    free(s);
    json_decref(o);
}

/* Hold a reply until the turn's EXEC is acknowledged. */
static void
defer_reply(struct conn *c, char *line, size_t len)
{
    struct batch *b = batch();

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->p = realloc(b->p, b->cap * sizeof(*b->p));
    }
    b->p[b->n].c = c;
    b->p[b->n].line = line;
    b->p[b->n].len = len;
    b->n++;
    c->refs++;
}

static void
on_line(struct conn *c, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr), *id;
    const char *op;
    size_t rlen;
    char *r;

    if (req == NULL || !json_is_object(req)) {
        reply_error(c, NULL, "bad_json", "invalid JSON");
        json_decref(req);
        return;
    }
    id = json_object_get(req, "id");
    op = str_at(req, "op");
    if (strcmp(op, "hello") == 0) {
        r = reply_line(
            id, json_pack("{s:s, s:s}", "role", str_at(req, "role"), "server", "ringq-baseline"),
            &rlen);
        bufferevent_write(c->bev, r, rlen);
        free(r);
    } else if (strcmp(op, "ping") == 0) {
        r = reply_line(id, NULL, &rlen);
        bufferevent_write(c->bev, r, rlen);
        free(r);
    } else if (strcmp(op, "contact.new") == 0) {
        struct contact *k;
        if (contact_new(req, &k) != 0) {
            reply_error(c, id, "duplicate", "contact: bad or duplicate");
        } else {
            r = reply_line(id,
                           json_pack("{s:s, s:I, s:f, s:b}", "contact", k->id, "position",
                                     (json_int_t)srv.queues[k->queue].waiting, "ewt_s", 0.0,
                                     "durable", 1),
                           &rlen);
            defer_reply(c, r, rlen);
        }
    } else if (strcmp(op, "contact.abandon") == 0) {
        if (contact_abandon(req) != 0) {
            reply_error(c, id, "not_found", "contact: no such contact");
        } else {
            r = reply_line(id, NULL, &rlen);
            defer_reply(c, r, rlen);
        }
    } else {
        reply_error(c, id, "unknown_op", "not an op of ringq-baseline");
    }
    json_decref(req);
}

static void
read_cb(struct bufferevent *bev, void *arg0)
{
    struct conn *c = arg0;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        size_t len;
        unsigned char *p;
        if (eol.pos < 0) {
            if (evbuffer_get_length(in) > MAX_LINE)
                evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        len = (size_t)eol.pos;
        p = evbuffer_pullup(in, (ev_ssize_t)len + 1);
        if (len > 0)
            on_line(c, (const char *)p, len > 0 && p[len - 1] == '\r' ? len - 1 : len);
        evbuffer_drain(in, len + 1);
    }
}

static void
event_cb(struct bufferevent *bev, short what, void *arg0)
{
    struct conn *c = arg0;

    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        c->closed = 1;
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        conn_unref(c);
    }
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
          void *arg0)
{
    struct conn *c = calloc(1, sizeof(*c));
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->refs = 1;
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg0)
{
    event_base_loopbreak(srv.base);
}

static void
redis_gone(const redisAsyncContext *ac, int status)
{
    fprintf(stderr, "ringq-baseline: redis connection lost: %s\n", ac->errstr);
    event_base_loopbreak(srv.base);
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const char *rhost = "127.0.0.1";
    int port = 0, rport = 6379, opt;
    struct evconnlistener *l;
    struct event *sig_term, *sig_int;

    srv.prefix = "ringq:";
    srv.maxlen = 100000;
    while ((opt = getopt(argc, argv, "p:r:h:x:m:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'r':
            rport = atoi(optarg);
            break;
        case 'h':
            rhost = optarg;
            break;
        case 'x':
            srv.prefix = optarg;
            break;
        case 'm':
            srv.maxlen = strtoul(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: ringq-baseline -p PORT -r REDIS_PORT [-h REDIS_HOST] "
                            "[-x PREFIX] [-m EVENTS_MAXLEN]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    srv.base = event_base_new();
    srv.flush_ev = event_new(srv.base, -1, 0, flush_cb, NULL);
    srv.ac = redisAsyncConnect(rhost, rport);
    if (srv.ac == NULL || srv.ac->err) {
        fprintf(stderr, "ringq-baseline: redis: %s\n", srv.ac ? srv.ac->errstr : "no memory");
        return 1;
    }
    redisLibeventAttach(srv.ac, srv.base);
    redisAsyncSetDisconnectCallback(srv.ac, redis_gone);
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l = evconnlistener_new_bind(srv.base, accept_cb, NULL,
                                LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, -1,
                                (struct sockaddr *)&sa, sizeof(sa));
    if (l == NULL) {
        perror("ringq-baseline: listen");
        return 1;
    }
    sig_term = evsignal_new(srv.base, SIGTERM, on_signal, NULL);
    sig_int = evsignal_new(srv.base, SIGINT, on_signal, NULL);
    evsignal_add(sig_term, NULL);
    evsignal_add(sig_int, NULL);
    event_base_dispatch(srv.base);
    evconnlistener_free(l);
    event_free(sig_term);
    event_free(sig_int);
    event_free(srv.flush_ev);
    event_base_free(srv.base);
    return 0;
}
