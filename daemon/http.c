/*
 * http.c - the HTTP API, event streams, metrics and wallboard page (see
 * http.h and docs/http.md) on the daemon's event loop.
 *
 * Every answer is built from the same views as the NDJSON protocol
 * (view.c), so both say the same. The event streams hear what monitors
 * hear through the session layer's listener hook; queue_stats are held back
 * per queue to RQ_HTTP_STATS_MS, every other push goes out as it comes.
 *
 * A stream client that does not read its events is dropped once more than
 * RQ_HTTP_STREAM_BACKLOG bytes (beyond its snapshot) wait for it: it is
 * taken out of the broadcast at once and its connection is freed from a
 * deferred event at the top of the loop, never inside a libevent callback
 * of that connection.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <uthash.h>

#include "http.h"
#include "log.h"
#include "proto.h"
#include "session.h"
#include "stats.h"
#include "store.h"
#include "view.h"

#ifndef RINGQ_VERSION
#error "RINGQ_VERSION must be defined (daemon/CMakeLists.txt)"
#endif

#define N_TOPICS               4   /* queues, agents, contacts, alerts (RQ_TOPIC_* bits 0..3) */
#define MAX_SEGMENTS           5   /* path segments of the longest route, /v1/agents/{a}/state */
#define PEER_LEN               64  /* "[v6 address]:port" */
#define DESC_LEN               300 /* "http://[address]:port" */
#define MSG_NAME_LEN           (RQ_MAX_ID_LEN * 4 + 1) /* an escaped name in a message */
#define STREAM_WRITE_TIMEOUT_S 60   /* a stream that takes no byte this long is closed */
#define STREAM_INPUT_MAX       4096 /* bytes a stream's client may send after its request */

/* One event-stream client. */
struct stream {
    struct rq_http *h;               /* owner */
    struct evhttp_request *req;      /* the GET /v1/stream being answered */
    struct evhttp_connection *evcon; /* its connection */
    unsigned topics;                 /* RQ_TOPIC_* it asked for */
    size_t limit;                    /* output pending at most: its snapshot + the backlog */
    int doomed;                      /* dropped: the reaper frees its connection */
    char peer[PEER_LEN];             /* for logs */
    struct stream *prev, *next;      /* in h->streams, or h->doomed */
};

/* queue_stats of one queue, held back to one per RQ_HTTP_STATS_MS. */
struct qthrottle {
    uint64_t sent_ms; /* monotonic time the last one went out */
    char *pending;    /* the newest one not sent yet (a whole SSE message), or NULL */
    size_t len;       /* its length */
};

/* A queue name, for finding a queue's index fast. */
struct qname {
    const char *name;  /* conf->queues[idx].name */
    int idx;           /* queue index */
    UT_hash_handle hh; /* in h->qnames */
};

struct rq_http {
    struct event_base *base;    /* the loop */
    const struct rq_conf *conf; /* tokens, wallboard path, queues */
    struct rq_router *router;   /* the routing state */
    struct rq_session_ctx *ctx; /* pushes come from here; timer re-arm after a change */
    struct rq_store *store;     /* the Redis mirror, or NULL */
    struct evhttp *http;        /* the server */
    struct stream *streams;     /* live event streams */
    struct stream *doomed;      /* dropped streams waiting for the reaper */
    int n_streams;              /* entries in streams */
    int n_topic[N_TOPICS];      /* streams per topic */
    struct event *reaper;       /* frees dropped streams' connections */
    struct event *keepalive;    /* a comment on every stream each RQ_HTTP_KEEPALIVE_MS */
    struct event *stats_timer;  /* sends held-back queue_stats */
    struct qthrottle *qt;       /* per queue */
    int *qt_list;               /* queues with a pending queue_stats */
    int n_qt;                   /* entries in qt_list */
    struct qname *qname_mem;    /* n_queues entries, hashed in qnames */
    struct qname *qnames;       /* queue index by name */
    struct evbuffer *chunk;     /* scratch for one stream write */
    char describe[DESC_LEN];    /* "http://127.0.0.1:7341" */
    struct rq_http_stats stats; /* counters */
};

/* What a request asks for. */
enum route {
    R_NONE = 0,
    R_HEALTHZ,
    R_METRICS,
    R_WALLBOARD,
    R_QUEUES,
    R_QUEUE,
    R_AGENTS,
    R_AGENT,
    R_AGENT_STATE,
    R_CONTACT,
    R_STREAM,
};

static char *snapshot_message(struct rq_http *h, size_t *mlen);
static int queue_tables(struct rq_http *h, const struct rq_conf *conf);

/* --- small helpers --- */

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Untrusted text for a message or a log line: printable ASCII, escaped. */
static const char *
esc(char out[MSG_NAME_LEN], const char *s)
{
    rq_log_escape(out, MSG_NAME_LEN, s, strlen(s), RQ_MAX_ID_LEN);
    return out;
}

/* Compare a token with a configured one in time that depends on the
 * configured token's length only. */
static int
token_equal(const char *given, size_t lg, const char *want)
{
    size_t lw = strlen(want);
    volatile unsigned char diff = (unsigned char)(lg != lw);

    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned char)((unsigned char)want[i] ^ (i < lg ? (unsigned char)given[i] : 0u));
    return diff == 0;
}

static const char *
status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* The HTTP status of a protocol error code. */
static int
status_of(enum rq_errcode code)
{
    switch (code) {
    case RQ_E_BAD_JSON:
    case RQ_E_BAD_FIELD:
        return 400;
    case RQ_E_UNAUTHORIZED:
        return 401;
    case RQ_E_NOT_FOUND:
        return 404;
    case RQ_E_UNKNOWN_OP:
        return 405;
    case RQ_E_BAD_STATE:
    case RQ_E_DUPLICATE:
        return 409;
    case RQ_E_BAD_CONFIG:
        return 422;
    case RQ_E_TOO_LARGE:
        return 413;
    case RQ_E_OVERLOADED:
    case RQ_E_UNAVAILABLE:
        return 503;
    case RQ_OK:
    case RQ_E_INTERNAL:
        break;
    }
    return 500;
}

static void
peer_of(struct evhttp_request *req, char out[PEER_LEN])
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;

    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &addr, &port);
    if (addr == NULL)
        snprintf(out, PEER_LEN, "(gone)");
    else if (strchr(addr, ':') != NULL)
        snprintf(out, PEER_LEN, "[%.45s]:%u", addr, (unsigned)port);
    else
        snprintf(out, PEER_LEN, "%.45s:%u", addr, (unsigned)port);
}

/* --- replies --- */

static void
common_headers(struct rq_http *h, struct evhttp_request *req, const char *type)
{
    struct evkeyvalq *o = evhttp_request_get_output_headers(req);

    if (type != NULL)
        evhttp_add_header(o, "Content-Type", type);
    evhttp_add_header(o, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(o, "Server", "ringqd/" RINGQ_VERSION);
    if (h->conf->http.cors_origin != NULL) {
        evhttp_add_header(o, "Access-Control-Allow-Origin", h->conf->http.cors_origin);
        evhttp_add_header(o, "Vary", "Origin");
    }
}

/* Send o (stolen) as the JSON body of a reply with this status. */
static void
reply_json(struct rq_http *h, struct evhttp_request *req, int status, json_t *o)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;

    json_decref(o);
    common_headers(h, req, "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    if (buf == NULL || text == NULL) {
        free(text);
        if (buf != NULL)
            evbuffer_free(buf);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(buf, text, strlen(text));
    evbuffer_add(buf, "\n", 1);
    free(text);
    evhttp_send_reply(req, status, status_text(status), buf);
    evbuffer_free(buf);
}

static void reply_error(struct rq_http *h, struct evhttp_request *req, int status,
                        enum rq_errcode code, const char *fmt, ...)
    __attribute__((__format__(printf, 5, 6)));

/* {"ok":false,"error":{"code":..., "message":...}} with status. */
static void
reply_error(struct rq_http *h, struct evhttp_request *req, int status, enum rq_errcode code,
            const char *fmt, ...)
{
    char msg[RQ_ERR_LEN];
    json_t *o = json_object(), *e = json_object();
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (o == NULL || e == NULL) {
        json_decref(o);
        json_decref(e);
        reply_json(h, req, 500, NULL);
        return;
    }
    json_object_set_new(e, "code", json_string(rq_errcode_name(code)));
    json_object_set_new(e, "message", json_string(msg));
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", e);
    reply_json(h, req, status, o);
}

/* A router or view error, with the status of its code. */
static void
reply_rq_error(struct rq_http *h, struct evhttp_request *req, const struct rq_error *err)
{
    reply_error(h, req, status_of(err->code), err->code, "%s", err->message);
}

/* {"ok":true, key: v} (v stolen; NULL means out of memory). */
static void
reply_ok(struct rq_http *h, struct evhttp_request *req, const char *key, json_t *v)
{
    json_t *o = json_object();

    if (o == NULL || v == NULL) {
        json_decref(o);
        json_decref(v);
        reply_error(h, req, 500, RQ_E_INTERNAL, "out of memory");
        return;
    }
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, key, v);
    reply_json(h, req, 200, o);
}

/* --- event streams --- */

static void
update_listen(struct rq_http *h)
{
    unsigned topics = 0;

    for (int t = 0; t < N_TOPICS; t++) {
        if (h->n_topic[t] > 0)
            topics |= 1u << t;
    }
    rq_session_ctx_listen(h->ctx, topics);
}

static void
list_add(struct stream **head, struct stream *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL)
        (*head)->prev = s;
    *head = s;
}

static void
list_del(struct stream **head, struct stream *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* Take a live stream out of the broadcast. */
static void
stream_unlink(struct rq_http *h, struct stream *s)
{
    list_del(&h->streams, s);
    h->n_streams--;
    for (int t = 0; t < N_TOPICS; t++) {
        if (s->topics & (1u << t))
            h->n_topic[t]--;
    }
    update_listen(h);
}

/* The client does not read: stop writing to it now, free it soon. */
static void
stream_drop(struct rq_http *h, struct stream *s, size_t pending)
{
    stream_unlink(h, s);
    s->doomed = 1;
    list_add(&h->doomed, s);
    h->stats.streams_dropped++;
    log_notice("http: event stream of %s dropped: %zu bytes not taken (limit %zu)", s->peer,
               pending, s->limit);
    event_active(h->reaper, EV_TIMEOUT, 0);
}

/* Queue one SSE message for s; drop s when its output is over its limit. */
static void
stream_send(struct rq_http *h, struct stream *s, const char *msg, size_t len)
{
    struct bufferevent *bev;
    size_t pending;

    if (s->doomed || len == 0)
        return;
    if (evbuffer_add(h->chunk, msg, len) != 0)
        return;
    evhttp_send_reply_chunk(s->req, h->chunk);
    evbuffer_drain(h->chunk, evbuffer_get_length(h->chunk));
    bev = evhttp_connection_get_bufferevent(s->evcon);
    pending = evbuffer_get_length(bufferevent_get_output(bev));
    if (pending > s->limit)
        stream_drop(h, s, pending);
}

/* Send msg to every stream that asked for topic (0: every stream). */
static void
broadcast(struct rq_http *h, unsigned topic, const char *msg, size_t len)
{
    struct stream *s, *next;

    for (s = h->streams; s != NULL; s = next) {
        next = s->next;
        if (topic == 0 || (s->topics & topic))
            stream_send(h, s, msg, len);
    }
}

/* "event: EV\ndata: DATA\n\n" (malloc'd). DATA is one line of JSON. */
static char *
sse_message(const char *ev, const char *data, size_t len, size_t *out_len)
{
    size_t n = strlen(ev) + len + sizeof("event: \ndata: \n\n");
    char *m = malloc(n);
    int k;

    if (m == NULL)
        return NULL;
    k = snprintf(m, n, "event: %s\ndata: %.*s\n\n", ev, (int)len, data);
    if (k < 0 || (size_t)k >= n) {
        free(m);
        return NULL;
    }
    *out_len = (size_t)k;
    return m;
}

static void
arm_stats_timer(struct rq_http *h, uint64_t due_in_ms)
{
    struct timeval tv = {.tv_sec = (time_t)(due_in_ms / 1000u),
                         .tv_usec = (suseconds_t)(due_in_ms % 1000u) * 1000};

    evtimer_add(h->stats_timer, &tv);
}

/* queue_stats: at most one per queue each RQ_HTTP_STATS_MS, the newest. */
static void
stats_push(struct rq_http *h, const json_t *body, const char *line, size_t len)
{
    const char *name = json_string_value(json_object_get(body, "queue"));
    struct qname *qn = NULL;
    struct qthrottle *qt;
    uint64_t now = mono_ms();
    size_t mlen;
    char *msg = sse_message("queue_stats", line, len, &mlen);

    if (msg == NULL)
        return;
    if (name != NULL)
        HASH_FIND_STR(h->qnames, name, qn);
    if (qn == NULL) {
        broadcast(h, RQ_TOPIC_QUEUES, msg, mlen);
        free(msg);
        return;
    }
    qt = &h->qt[qn->idx];
    if (qt->pending == NULL && now >= qt->sent_ms + RQ_HTTP_STATS_MS) {
        qt->sent_ms = now;
        broadcast(h, RQ_TOPIC_QUEUES, msg, mlen);
        free(msg);
        return;
    }
    if (qt->pending != NULL) {
        free(qt->pending);
    } else {
        h->qt_list[h->n_qt++] = qn->idx;
        if (!evtimer_pending(h->stats_timer, NULL))
            arm_stats_timer(
                h, qt->sent_ms + RQ_HTTP_STATS_MS > now ? qt->sent_ms + RQ_HTTP_STATS_MS - now : 0);
    }
    qt->pending = msg;
    qt->len = mlen;
}

static void
stats_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_http *h = arg;
    uint64_t now = mono_ms(), next = UINT64_MAX;

    for (int i = 0; i < h->n_qt;) {
        struct qthrottle *qt = &h->qt[h->qt_list[i]];
        uint64_t due = qt->sent_ms + RQ_HTTP_STATS_MS;

        if (now >= due) {
            char *msg = qt->pending;

            qt->pending = NULL;
            qt->sent_ms = now;
            h->qt_list[i] = h->qt_list[--h->n_qt];
            broadcast(h, RQ_TOPIC_QUEUES, msg, qt->len);
            free(msg);
            continue;
        }
        if (due - now < next)
            next = due - now;
        i++;
    }
    if (h->n_qt > 0)
        arm_stats_timer(h, next);
}

/* The session layer's listener: what monitors hear. */
static void
on_push(void *arg, unsigned topic, const char *ev, const json_t *body, const char *line, size_t len)
{
    struct rq_http *h = arg;
    size_t mlen;
    char *msg;

    if (h->n_streams == 0)
        return;
    if (topic == RQ_TOPIC_QUEUES && strcmp(ev, "queue_stats") == 0) {
        stats_push(h, body, line, len);
        return;
    }
    if ((msg = sse_message(ev, line, len, &mlen)) == NULL)
        return;
    broadcast(h, topic, msg, mlen);
    free(msg);
    if (strcmp(ev, "reload") == 0 && json_is_true(json_object_get(body, "ok"))) {
        /* queues and agents changed: a fresh state replaces the client's */
        if ((msg = snapshot_message(h, &mlen)) != NULL)
            broadcast(h, 0, msg, mlen);
        free(msg);
    }
}

static void
keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
    static const char comment[] = ": keep-alive\n\n";
    struct rq_http *h = arg;

    broadcast(h, 0, comment, sizeof(comment) - 1);
}

/* The client went away (or the server is closing): forget the stream. */
static void
stream_closed(struct evhttp_connection *evcon, void *arg)
{
    struct stream *s = arg;
    struct rq_http *h = s->h;

    if (s->doomed)
        list_del(&h->doomed, s);
    else
        stream_unlink(h, s);
    log_info("http: event stream of %s closed", s->peer);
    /* A request whose connection failed was detached from it, and is ours
     * to free; one still attached goes with its connection. */
    if (evhttp_request_get_connection(s->req) == NULL)
        evhttp_request_free(s->req);
    free(s);
}

/* Free the connections of dropped streams (a deferred event: no callback
 * of theirs is on the stack). */
static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_http *h = arg;
    struct stream *s;

    while ((s = h->doomed) != NULL) {
        list_del(&h->doomed, s);
        evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        evhttp_connection_free(s->evcon); /* frees s->req too */
        free(s);
    }
}

/* topics=queues,agents,... (absent or empty: all). */
static int
parse_topics(const char *text, unsigned *out, struct rq_error *err)
{
    static const char *const names[N_TOPICS] = {"queues", "agents", "contacts", "alerts"};
    const char *p = text;

    *out = 0;
    if (text == NULL || *text == '\0') {
        *out = RQ_TOPIC_ALL;
        return 0;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        int t;

        for (t = 0; t < N_TOPICS; t++) {
            if (strlen(names[t]) == n && strncmp(p, names[t], n) == 0)
                break;
        }
        if (t == N_TOPICS) {
            char word[MSG_NAME_LEN];

            rq_log_escape(word, sizeof(word), p, n, RQ_MAX_NAME_LEN);
            return rq_fail(err, RQ_E_BAD_FIELD,
                           "topics: unknown topic '%s' (queues, agents, contacts or alerts)", word);
        }
        *out |= 1u << t;
        p += n;
        if (*p == ',')
            p++;
    }
    if (*out == 0)
        return rq_fail(err, RQ_E_BAD_FIELD, "topics: name at least one topic");
    return 0;
}

/* The whole live state as one SSE `snapshot` message (NULL: out of memory). */
static char *
snapshot_message(struct rq_http *h, size_t *mlen)
{
    json_t *snap = rq_view_snapshot(h->router);
    char *text, *msg;

    if (snap != NULL)
        json_object_set_new(snap, "redis", rq_view_store(h->store));
    text = snap != NULL ? json_dumps(snap, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(snap);
    msg = text != NULL ? sse_message("snapshot", text, strlen(text), mlen) : NULL;
    free(text);
    return msg;
}

static void
handle_stream(struct rq_http *h, struct evhttp_request *req, const char *topics_text)
{
    struct evkeyvalq *o = evhttp_request_get_output_headers(req);
    struct stream *s;
    struct rq_error err;
    char *msg;
    size_t mlen;
    unsigned topics;
    struct timeval wtv = {STREAM_WRITE_TIMEOUT_S, 0};

    if (parse_topics(topics_text, &topics, &err) != 0) {
        reply_rq_error(h, req, &err);
        return;
    }
    if (h->n_streams >= RQ_HTTP_MAX_STREAMS) {
        reply_error(h, req, 503, RQ_E_UNAVAILABLE, "already %d event streams: try again later",
                    h->n_streams);
        return;
    }
    s = calloc(1, sizeof(*s));
    msg = snapshot_message(h, &mlen);
    {
        char head[64];
        int k = snprintf(head, sizeof(head), "retry: %d\n", RQ_HTTP_RETRY_MS);

        if (msg != NULL) {
            char *m2 = malloc(mlen + (size_t)k);

            if (m2 != NULL) {
                memcpy(m2, head, (size_t)k);
                memcpy(m2 + k, msg, mlen);
                mlen += (size_t)k;
            }
            free(msg);
            msg = m2;
        }
    }
    if (s == NULL || msg == NULL) {
        free(s);
        free(msg);
        reply_error(h, req, 500, RQ_E_INTERNAL, "out of memory");
        return;
    }
    s->h = h;
    s->req = req;
    s->evcon = evhttp_request_get_connection(req);
    s->topics = topics;
    s->limit = mlen + RQ_HTTP_STREAM_BACKLOG;
    peer_of(req, s->peer);

    common_headers(h, req, "text/event-stream; charset=utf-8");
    evhttp_add_header(o, "Cache-Control", "no-cache");
    evhttp_add_header(o, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(req, 200, "OK");
    /* A stream is quiet for long stretches: no read timeout (the client
     * sends nothing more), but a write that makes no progress ends it. */
    bufferevent_set_timeouts(evhttp_connection_get_bufferevent(s->evcon), NULL, &wtv);
    /* Whatever the client still sends is never read: take at most a little
     * of it, so it cannot fill our memory (a close is still seen as an
     * error of the next write). */
    bufferevent_setwatermark(evhttp_connection_get_bufferevent(s->evcon), EV_READ, 0,
                             STREAM_INPUT_MAX);
    evhttp_connection_set_closecb(s->evcon, stream_closed, s);

    list_add(&h->streams, s);
    h->n_streams++;
    for (int t = 0; t < N_TOPICS; t++) {
        if (topics & (1u << t))
            h->n_topic[t]++;
    }
    update_listen(h);
    h->stats.streams_opened++;
    log_info("http: event stream for %s (topics 0x%x)", s->peer, topics);
    stream_send(h, s, msg, mlen);
    free(msg);
}

/* --- the JSON API --- */

static void
handle_queues(struct rq_http *h, struct evhttp_request *req)
{
    const struct rq_model *m = rq_router_model(h->router);
    json_t *arr = json_array();

    for (int i = 0; arr != NULL && i < m->n_queues; i++)
        json_array_append_new(arr, rq_view_queue(h->router, &m->queues[i]));
    reply_ok(h, req, "queues", arr);
}

static void
handle_queue(struct rq_http *h, struct evhttp_request *req, const char *name)
{
    const struct rq_model *m = rq_router_model(h->router);
    struct qname *qn = NULL;
    char b[MSG_NAME_LEN];

    HASH_FIND_STR(h->qnames, name, qn);
    if (qn == NULL) {
        reply_error(h, req, 404, RQ_E_NOT_FOUND, "queue: no queue '%s'", esc(b, name));
        return;
    }
    reply_ok(h, req, "queue", rq_view_queue(h->router, &m->queues[qn->idx]));
}

static void
handle_agents(struct rq_http *h, struct evhttp_request *req)
{
    const struct rq_model *m = rq_router_model(h->router);
    json_t *arr = json_array();

    for (int i = 0; arr != NULL && i < m->n_agents; i++)
        json_array_append_new(arr, rq_view_agent(h->router, &m->agents[i]));
    reply_ok(h, req, "agents", arr);
}

static void
handle_agent(struct rq_http *h, struct evhttp_request *req, const char *id)
{
    const struct rq_agent *a = rq_model_agent(rq_router_model(h->router), id);
    char b[MSG_NAME_LEN];

    if (a == NULL) {
        reply_error(h, req, 404, RQ_E_NOT_FOUND, "agent: no agent '%s'", esc(b, id));
        return;
    }
    reply_ok(h, req, "agent", rq_view_agent(h->router, a));
}

static void
handle_contact(struct rq_http *h, struct evhttp_request *req, const char *id)
{
    const struct rq_contact *c = rq_model_contact(rq_router_model(h->router), id);
    char b[MSG_NAME_LEN];

    if (c == NULL) {
        reply_error(h, req, 404, RQ_E_NOT_FOUND, "contact: no contact '%s'", esc(b, id));
        return;
    }
    reply_ok(h, req, "contact", rq_view_contact(h->router, c));
}

static int
has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* The body of POST /v1/agents/{a}/state: {"state":..., "reason":...}. */
static int
parse_state_body(struct evhttp_request *req, json_t **root, const char **state, const char **reason,
                 struct rq_error *err)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *data;
    json_error_t jerr;
    const char *key;
    json_t *v;

    *root = NULL;
    if (len > RQ_HTTP_MAX_BODY)
        return rq_fail(err, RQ_E_TOO_LARGE, "body over %d bytes", RQ_HTTP_MAX_BODY);
    data = evbuffer_pullup(in, -1);
    if (len == 0 || data == NULL)
        return rq_fail(err, RQ_E_BAD_JSON,
                       "body: expected a JSON object such as "
                       "{\"state\":\"not_ready\",\"reason\":\"break\"}");
    *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL)
        return rq_fail(err, RQ_E_BAD_JSON, "body: %s", jerr.text);
    if (!json_is_object(*root))
        return rq_fail(err, RQ_E_BAD_JSON, "body: must be a JSON object");
    json_object_foreach (*root, key, v) {
        char b[MSG_NAME_LEN];

        if (strcmp(key, "state") != 0 && strcmp(key, "reason") != 0)
            return rq_fail(err, RQ_E_BAD_FIELD, "unknown field '%s'", esc(b, key));
    }
    v = json_object_get(*root, "state");
    if (v == NULL || json_is_null(v))
        return rq_fail(err, RQ_E_BAD_FIELD, "state: required");
    if (!json_is_string(v) || (strcmp(json_string_value(v), "ready") != 0 &&
                               strcmp(json_string_value(v), "not_ready") != 0))
        return rq_fail(err, RQ_E_BAD_FIELD, "state: must be ready or not_ready");
    *state = json_string_value(v);
    *reason = NULL;
    v = json_object_get(*root, "reason");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v))
            return rq_fail(err, RQ_E_BAD_FIELD, "reason: must be a string");
        if (json_string_length(v) == 0)
            return rq_fail(err, RQ_E_BAD_FIELD, "reason: must not be empty");
        if (json_string_length(v) > RQ_MAX_REASON_LEN)
            return rq_fail(err, RQ_E_BAD_FIELD, "reason: longer than %d bytes", RQ_MAX_REASON_LEN);
        if (has_control(json_string_value(v), json_string_length(v)))
            return rq_fail(err, RQ_E_BAD_FIELD, "reason: must not contain control characters");
        *reason = json_string_value(v);
    }
    return 0;
}

static void
handle_agent_state(struct rq_http *h, struct evhttp_request *req, const char *id,
                   const struct rq_conf_http_token *who)
{
    const char *state = NULL, *reason = NULL;
    struct rq_error err = {RQ_OK, ""};
    const struct rq_agent *a;
    json_t *root;
    char b[MSG_NAME_LEN];

    if (parse_state_body(req, &root, &state, &reason, &err) != 0 ||
        rq_router_agent_state(h->router, id, state, reason, &err) != 0) {
        json_decref(root);
        reply_rq_error(h, req, &err);
        return;
    }
    rq_session_ctx_after_change(h->ctx);
    log_info("http: %s '%s' set agent %s %s%s%s", who != NULL ? rq_http_role_name(who->role) : "",
             who != NULL ? who->name : "", esc(b, id), state, reason != NULL ? " " : "",
             reason != NULL ? reason : "");
    json_decref(root);
    a = rq_model_agent(rq_router_model(h->router), id);
    reply_ok(h, req, "agent", a != NULL ? rq_view_agent(h->router, a) : json_null());
}

static void
handle_healthz(struct rq_http *h, struct evhttp_request *req)
{
    json_t *o = json_object(), *e;
    int down = h->store != NULL && !rq_store_connected(h->store);

    if (o == NULL) {
        reply_error(h, req, 500, RQ_E_INTERNAL, "out of memory");
        return;
    }
    json_object_set_new(o, "ok", json_boolean(!down));
    json_object_set_new(o, "status", json_string(down ? "unavailable" : "ok"));
    json_object_set_new(o, "version", json_string(RINGQ_VERSION));
    json_object_set_new(o, "redis", rq_view_store(h->store));
    json_object_set_new(o, "streams", json_integer(h->n_streams));
    if (down && (e = json_object()) != NULL) {
        json_object_set_new(e, "code", json_string(rq_errcode_name(RQ_E_UNAVAILABLE)));
        json_object_set_new(e, "message",
                            json_string("Redis is unreachable: routing goes on from memory and "
                                        "changes wait in the journal"));
        json_object_set_new(o, "error", e);
    }
    reply_json(h, req, down ? 503 : 200, o);
}

static void
handle_wallboard(struct rq_http *h, struct evhttp_request *req)
{
    const char *path = h->conf->http.wallboard;
    struct evbuffer *buf;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > RQ_HTTP_MAX_PAGE) {
        int e = fd < 0 ? errno : 0;

        log_warnx("http: wallboard page %s: %s", path,
                  e != 0 ? strerror(e) : "not a regular file of at most 4 MiB");
        if (fd >= 0)
            close(fd);
        reply_error(h, req, 404, RQ_E_NOT_FOUND,
                    "the wallboard page is not installed (see http.wallboard)");
        return;
    }
    buf = evbuffer_new();
    for (int r = 1; buf != NULL && r > 0;) {
        r = evbuffer_read(buf, fd, 65536);
        if (r < 0 || evbuffer_get_length(buf) > RQ_HTTP_MAX_PAGE) {
            log_warn("http: wallboard page %s", path);
            evbuffer_free(buf);
            buf = NULL;
        }
    }
    close(fd);
    if (buf == NULL) {
        reply_error(h, req, 500, RQ_E_INTERNAL, "cannot read the wallboard page");
        return;
    }
    common_headers(h, req, "text/html; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

/* --- /metrics (Prometheus text exposition format 0.0.4) --- */

static void
family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \, " and newline escaped. */
static void
label_value(struct evbuffer *b, const char *v)
{
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\\')
            evbuffer_add(b, "\\\\", 2);
        else if (*p == '"')
            evbuffer_add(b, "\\\"", 2);
        else if (*p == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, p, 1);
    }
}

/* A sample value: integers as such, NaN and infinities as Prometheus spells them. */
static void
number(struct evbuffer *b, double v)
{
    if (isnan(v))
        evbuffer_add_printf(b, "NaN\n");
    else if (isinf(v))
        evbuffer_add_printf(b, "%sInf\n", v > 0 ? "+" : "-");
    else
        evbuffer_add_printf(b, "%.15g\n", v);
}

/* name{queue="q"[,tier="t"]} */
static void
sample_q(struct evbuffer *b, const char *name, const char *queue, const char *tier)
{
    evbuffer_add_printf(b, "%s{queue=\"", name);
    label_value(b, queue);
    if (tier != NULL) {
        evbuffer_add_printf(b, "\",tier=\"");
        label_value(b, tier);
    }
    evbuffer_add_printf(b, "\"} ");
}

/* A counter per queue and tier, read at offset off of struct rq_qcounters. */
static void
tier_counter(struct evbuffer *b, const struct rq_model *m, const char *name, size_t off,
             const char *help)
{
    family(b, name, "counter", help);
    for (int q = 0; q < m->n_queues; q++) {
        for (int t = 0; t < m->conf->n_tiers; t++) {
            const char *base = (const char *)&m->queues[q].by_tier[t];
            uint64_t v;

            memcpy(&v, base + off, sizeof(v));
            sample_q(b, name, m->queues[q].conf->name, m->conf->tiers[t].name);
            evbuffer_add_printf(b, "%" PRIu64 "\n", v);
        }
    }
}

#define QC(field) offsetof(struct rq_qcounters, field)

static void
metrics_counters(struct evbuffer *b, const struct rq_model *m)
{
    tier_counter(b, m, "ringq_offered_total", QC(offered),
                 "Contacts offered to the queue (arrived or transferred in), by customer tier.");
    tier_counter(b, m, "ringq_answered_total", QC(answered), "Contacts answered.");
    tier_counter(b, m, "ringq_answered_within_target_total", QC(answered_in_target),
                 "Contacts answered within their own target wait.");
    tier_counter(b, m, "ringq_abandoned_total", QC(abandoned),
                 "Contacts abandoned before an answer.");
    tier_counter(b, m, "ringq_abandoned_within_target_total", QC(abandoned_in_target),
                 "Contacts abandoned before reaching their target wait.");
    tier_counter(b, m, "ringq_short_abandoned_total", QC(short_abandoned),
                 "Contacts abandoned within the queue's short_abandon_s.");
    tier_counter(b, m, "ringq_transferred_out_total", QC(transferred_out),
                 "Contacts transferred to another queue.");
    tier_counter(b, m, "ringq_flowed_out_total", QC(flowed_out),
                 "Contacts answered by an agent reached through an overflow step.");
    tier_counter(b, m, "ringq_rona_total", QC(rona),
                 "Offers not answered within the ring timeout (ring-no-answer).");
    tier_counter(b, m, "ringq_handled_total", QC(handled),
                 "Contacts ended after an answer (counted in ringq_handle_seconds_total).");
    family(b, "ringq_handle_seconds_total", "counter",
           "Talk plus wrap-up time of handled contacts, seconds.");
    for (int q = 0; q < m->n_queues; q++) {
        for (int t = 0; t < m->conf->n_tiers; t++) {
            sample_q(b, "ringq_handle_seconds_total", m->queues[q].conf->name,
                     m->conf->tiers[t].name);
            number(b, (double)m->queues[q].by_tier[t].handle_ms / 1000.0);
        }
    }
}

static void
metrics_queues(struct evbuffer *b, const struct rq_router *r, const struct rq_model *m)
{
    static const struct {
        const char *name;
        const char *help;
    } gauges[] = {
        {"ringq_waiting", "Contacts waiting in the queue now."},
        {"ringq_ringing", "Contacts of the queue being offered to an agent now."},
        {"ringq_connected", "Contacts of the queue connected with an agent now."},
        {"ringq_longest_wait_seconds", "Wait of the queue's longest-waiting contact, seconds."},
        {"ringq_service_level_ratio",
         "Service level by the queue's configured formula (answered_only, abandons_negative, "
         "abandons_ignored or abandons_positive), 0..1; NaN before any outcome."},
        {"ringq_goal_ratio", "The queue's service-level goal, 0..1."},
    };

    for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
        family(b, gauges[g].name, "gauge", gauges[g].help);
        for (int i = 0; i < m->n_queues; i++) {
            const struct rq_queue *q = &m->queues[i];
            double v = 0, sl;

            switch (g) {
            case 0:
                v = q->n_waiting;
                break;
            case 1:
                v = q->n_ringing;
                break;
            case 2:
                v = q->n_connected;
                break;
            case 3:
                v = (double)rq_router_longest_wait_ms(r, q) / 1000.0;
                break;
            case 4:
                sl = rq_stats_service_level(&q->total, q->conf->sl_variant);
                v = sl < 0 ? NAN : sl / 100.0;
                break;
            default:
                v = q->conf->goal_percent / 100.0;
                break;
            }
            sample_q(b, gauges[g].name, q->conf->name, NULL);
            number(b, v);
        }
    }

    family(b, "ringq_answer_target_seconds", "gauge",
           "Target wait of a contact by queue, customer tier and channel: the queue's "
           "channel target times the tier's sla_factor, seconds.");
    for (int i = 0; i < m->n_queues; i++) {
        const struct rq_conf_queue *qc = m->queues[i].conf;

        for (int t = 0; t < m->conf->n_tiers; t++) {
            for (int ch = 0; ch < RQ_CH__COUNT; ch++) {
                evbuffer_add_printf(b, "ringq_answer_target_seconds{queue=\"");
                label_value(b, qc->name);
                evbuffer_add_printf(b, "\",tier=\"");
                label_value(b, m->conf->tiers[t].name);
                evbuffer_add_printf(b, "\",channel=\"%s\"} ", rq_channel_name((enum rq_channel)ch));
                number(b, (double)qc->target_ms[ch] * m->conf->tiers[t].sla_factor / 1000.0);
            }
        }
    }

    family(b, "ringq_queue_agents", "gauge",
           "Agents with the queue's skills, by state (logged_out, ready, not_ready, reserved, "
           "busy, wrap_up).");
    for (int i = 0; i < m->n_queues; i++) {
        int counts[RQ_AS__COUNT];

        rq_view_queue_agents(m, &m->queues[i], counts);
        for (int s = 0; s < RQ_AS__COUNT; s++) {
            evbuffer_add_printf(b, "ringq_queue_agents{queue=\"");
            label_value(b, m->queues[i].conf->name);
            evbuffer_add_printf(b, "\",state=\"%s\"} %d\n",
                                rq_agent_state_name((enum rq_agent_state)s), counts[s]);
        }
    }
}

/* The wait histogram of each queue. The model counts each answered contact
 * against its own target (edges rq_wait_bucket_edges x target); here the
 * edges are stated in seconds for the queue's voice target in its default
 * tier, where they are exact. */
static void
metrics_histogram(struct evbuffer *b, const struct rq_model *m)
{
    double factor = m->conf->tiers[m->conf->default_tier].sla_factor;

    family(b, "ringq_wait_seconds", "histogram",
           "Waits of answered contacts, seconds. Each contact is counted against its own "
           "target; the le edges are 0.25, 0.5, 0.75, 1, 1.5, 2 and 4 times the queue's voice "
           "target in the default tier, exact for voice contacts of that tier.");
    for (int i = 0; i < m->n_queues; i++) {
        const struct rq_queue *q = &m->queues[i];
        double target_s = (double)q->conf->target_ms[RQ_CH_VOICE] * factor / 1000.0;
        uint64_t cum = 0;

        for (int k = 0; k < RQ_WAIT_BUCKETS; k++) {
            cum += q->total.wait_buckets[k];
            evbuffer_add_printf(b, "ringq_wait_seconds_bucket{queue=\"");
            label_value(b, q->conf->name);
            if (k < RQ_WAIT_BUCKETS - 1)
                evbuffer_add_printf(b, "\",le=\"%.15g\"} %" PRIu64 "\n",
                                    rq_wait_bucket_edges[k] * target_s, cum);
            else
                evbuffer_add_printf(b, "\",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        sample_q(b, "ringq_wait_seconds_sum", q->conf->name, NULL);
        number(b, (double)q->total.wait_ms_answered / 1000.0);
        sample_q(b, "ringq_wait_seconds_count", q->conf->name, NULL);
        evbuffer_add_printf(b, "%" PRIu64 "\n", cum);
    }
}

static void
metrics_process(struct rq_http *h, struct evbuffer *b, const struct rq_model *m)
{
    const struct rq_session_stats *ss = rq_session_ctx_stats(h->ctx);
    struct rq_store_stats st;

    family(b, "ringq_agents", "gauge", "Agents by state.");
    for (int s = 0; s < RQ_AS__COUNT; s++)
        evbuffer_add_printf(b, "ringq_agents{state=\"%s\"} %d\n",
                            rq_agent_state_name((enum rq_agent_state)s), m->n_by_state[s]);
    family(b, "ringq_contacts", "gauge", "Live contacts (waiting, ringing or connected).");
    evbuffer_add_printf(b, "ringq_contacts %zu\n", m->n_contacts);

    memset(&st, 0, sizeof(st));
    if (h->store != NULL)
        rq_store_get_stats(h->store, &st);
    family(b, "ringq_redis_enabled", "gauge", "1 when a Redis mirror is configured.");
    evbuffer_add_printf(b, "ringq_redis_enabled %d\n", h->store != NULL);
    family(b, "ringq_redis_connected", "gauge", "1 while Redis answers.");
    evbuffer_add_printf(b, "ringq_redis_connected %d\n", st.connected);
    family(b, "ringq_redis_journal_commands", "gauge",
           "Commands waiting in the outage journal for Redis.");
    evbuffer_add_printf(b, "ringq_redis_journal_commands %zu\n", st.journal_cmds);
    family(b, "ringq_redis_outages_total", "counter", "Times the Redis connection was lost.");
    evbuffer_add_printf(b, "ringq_redis_outages_total %" PRIu64 "\n", st.outages);

    family(b, "ringq_protocol_requests_total", "counter", "NDJSON requests answered.");
    evbuffer_add_printf(b, "ringq_protocol_requests_total %" PRIu64 "\n", ss->requests);
    family(b, "ringq_protocol_errors_total", "counter", "NDJSON requests answered with an error.");
    evbuffer_add_printf(b, "ringq_protocol_errors_total %" PRIu64 "\n", ss->errors);
    family(b, "ringq_protocol_auth_failures_total", "counter", "NDJSON hellos refused.");
    evbuffer_add_printf(b, "ringq_protocol_auth_failures_total %" PRIu64 "\n", ss->auth_failures);
    family(b, "ringq_overloaded_total", "counter",
           "contact.new answered overloaded: Redis too far behind (redis.max_pending).");
    evbuffer_add_printf(b, "ringq_overloaded_total %" PRIu64 "\n", ss->overloaded);
    family(b, "ringq_input_holds_total", "counter",
           "Times reading from a client paused until Redis caught up.");
    evbuffer_add_printf(b, "ringq_input_holds_total %" PRIu64 "\n", ss->input_holds);

    family(b, "ringq_http_requests_total", "counter", "HTTP requests answered.");
    evbuffer_add_printf(b, "ringq_http_requests_total %" PRIu64 "\n", h->stats.requests);
    family(b, "ringq_http_auth_failures_total", "counter",
           "HTTP requests refused for a missing or unknown token.");
    evbuffer_add_printf(b, "ringq_http_auth_failures_total %" PRIu64 "\n", h->stats.auth_failures);
    family(b, "ringq_http_streams", "gauge", "Event streams being served.");
    evbuffer_add_printf(b, "ringq_http_streams %d\n", h->n_streams);
    family(b, "ringq_http_streams_dropped_total", "counter",
           "Event streams dropped because the client did not read them.");
    evbuffer_add_printf(b, "ringq_http_streams_dropped_total %" PRIu64 "\n",
                        h->stats.streams_dropped);
}

static void
handle_metrics(struct rq_http *h, struct evhttp_request *req)
{
    const struct rq_model *m = rq_router_model(h->router);
    struct evbuffer *b = evbuffer_new();

    if (b == NULL) {
        reply_error(h, req, 500, RQ_E_INTERNAL, "out of memory");
        return;
    }
    metrics_counters(b, m);
    metrics_queues(b, h->router, m);
    metrics_histogram(b, m);
    metrics_process(h, b, m);
    common_headers(h, req, "text/plain; version=0.0.4; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* --- requests: routing, methods, authentication --- */

/* Decode %XX escapes of one path segment in place; -1 on a bad or NUL escape. */
static int
decode_segment(char *s)
{
    char *o = s;

    for (const char *p = s; *p != '\0'; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
            return -1;
        {
            char hex[3] = {p[1], p[2], '\0'};
            long v = strtol(hex, NULL, 16);

            if (v == 0)
                return -1;
            *o++ = (char)v;
        }
        p += 2;
    }
    *o = '\0';
    return 0;
}

/* Split path ("/v1/agents/a1001") into decoded segments in buf. Returns
 * their number, or -1 (bad escape, too long, too many segments). */
static int
split_path(const char *path, char *buf, size_t size, char *seg[MAX_SEGMENTS])
{
    int n = 0;
    char *p;

    if (path == NULL || path[0] != '/' || strlen(path) >= size)
        return -1;
    snprintf(buf, size, "%s", path + 1);
    if (buf[0] == '\0')
        return 0;
    for (p = buf;;) {
        char *slash = strchr(p, '/');

        if (n == MAX_SEGMENTS)
            return -1;
        if (slash != NULL)
            *slash = '\0';
        if (decode_segment(p) != 0 || strlen(p) >= RQ_MAX_ID_LEN)
            return -1;
        seg[n++] = p;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return n;
}

static enum route
find_route(int n, char *seg[MAX_SEGMENTS])
{
    if (n == 1 && strcmp(seg[0], "healthz") == 0)
        return R_HEALTHZ;
    if (n == 1 && strcmp(seg[0], "metrics") == 0)
        return R_METRICS;
    if (n == 1 && strcmp(seg[0], "wallboard") == 0)
        return R_WALLBOARD;
    if (n < 2 || strcmp(seg[0], "v1") != 0)
        return R_NONE;
    if (strcmp(seg[1], "queues") == 0)
        return n == 2 ? R_QUEUES : n == 3 ? R_QUEUE : R_NONE;
    if (strcmp(seg[1], "agents") == 0) {
        if (n == 4 && strcmp(seg[3], "state") == 0)
            return R_AGENT_STATE;
        return n == 2 ? R_AGENTS : n == 3 ? R_AGENT : R_NONE;
    }
    if (strcmp(seg[1], "contacts") == 0 && n == 3)
        return R_CONTACT;
    if (strcmp(seg[1], "stream") == 0 && n == 2)
        return R_STREAM;
    return R_NONE;
}

/* The role a route needs (0: open to all). */
static int
route_role(const struct rq_http *h, enum route rt)
{
    switch (rt) {
    case R_HEALTHZ:
    case R_WALLBOARD:
    case R_NONE:
        return 0;
    case R_METRICS:
        return h->conf->http.metrics_token_required ? RQ_HTTP_ROLE_WALLBOARD : 0;
    case R_AGENT_STATE:
        return RQ_HTTP_ROLE_SUPERVISOR;
    default:
        return RQ_HTTP_ROLE_WALLBOARD;
    }
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "this method";
    }
}

/* The token of the request: "Authorization: Bearer T", or ?token=T for
 * GET and HEAD (EventSource cannot set headers). *bad_scheme is set when
 * an Authorization header uses another scheme. */
static const char *
request_token(struct evhttp_request *req, const char *query_token, int *bad_scheme)
{
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

    *bad_scheme = 0;
    if (auth != NULL) {
        if (strncasecmp(auth, "Bearer ", 7) != 0) {
            *bad_scheme = 1;
            return NULL;
        }
        auth += 7;
        while (*auth == ' ')
            auth++;
        return auth;
    }
    if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
        return query_token;
    return NULL;
}

/* The configured token equal to given, or NULL. Every token is compared. */
static const struct rq_conf_http_token *
find_token(const struct rq_http *h, const char *given)
{
    const struct rq_conf_http_token *found = NULL;
    size_t lg;

    if (given == NULL)
        return NULL;
    lg = strlen(given);
    for (int i = 0; i < h->conf->http.n_tokens; i++) {
        if (token_equal(given, lg, h->conf->http.tokens[i].token))
            found = &h->conf->http.tokens[i];
    }
    return found;
}

static void
reply_options(struct rq_http *h, struct evhttp_request *req, const char *allow)
{
    struct evkeyvalq *o = evhttp_request_get_output_headers(req);

    common_headers(h, req, NULL);
    evhttp_add_header(o, "Allow", allow);
    if (h->conf->http.cors_origin != NULL) {
        evhttp_add_header(o, "Access-Control-Allow-Methods", allow);
        evhttp_add_header(o, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        evhttp_add_header(o, "Access-Control-Max-Age", "600");
    }
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static void
dispatch(struct rq_http *h, struct evhttp_request *req, enum route rt, char *seg[MAX_SEGMENTS],
         const struct rq_conf_http_token *who, const char *topics)
{
    switch (rt) {
    case R_HEALTHZ:
        handle_healthz(h, req);
        break;
    case R_METRICS:
        handle_metrics(h, req);
        break;
    case R_WALLBOARD:
        handle_wallboard(h, req);
        break;
    case R_QUEUES:
        handle_queues(h, req);
        break;
    case R_QUEUE:
        handle_queue(h, req, seg[2]);
        break;
    case R_AGENTS:
        handle_agents(h, req);
        break;
    case R_AGENT:
        handle_agent(h, req, seg[2]);
        break;
    case R_AGENT_STATE:
        handle_agent_state(h, req, seg[2], who);
        break;
    case R_CONTACT:
        handle_contact(h, req, seg[2]);
        break;
    case R_STREAM:
        handle_stream(h, req, topics);
        break;
    case R_NONE:
        break;
    }
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct rq_http *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evkeyvalq params;
    const struct rq_conf_http_token *who = NULL;
    char buf[RQ_HTTP_MAX_PATH], *seg[MAX_SEGMENTS];
    const char *allow, *token;
    enum route rt;
    int n, need, bad_scheme;

    h->stats.requests++;
    TAILQ_INIT(&params);
    n = split_path(path, buf, sizeof(buf), seg);
    rt = n < 0 ? R_NONE : find_route(n, seg);
    if (rt == R_NONE) {
        reply_error(h, req, 404, RQ_E_NOT_FOUND, "no such resource (see docs/http.md)");
        return;
    }
    allow = rt == R_AGENT_STATE ? "POST, OPTIONS"
            : rt == R_STREAM    ? "GET, OPTIONS"
                                : "GET, HEAD, OPTIONS";
    if (cmd == EVHTTP_REQ_OPTIONS) {
        reply_options(h, req, allow);
        return;
    }
    if (rt == R_AGENT_STATE ? cmd != EVHTTP_REQ_POST
                            : cmd != EVHTTP_REQ_GET && (cmd != EVHTTP_REQ_HEAD || rt == R_STREAM)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
        reply_error(h, req, 405, RQ_E_UNKNOWN_OP, "%s is not allowed here (allowed: %s)",
                    method_name(cmd), allow);
        return;
    }
    if (query != NULL && evhttp_parse_query_str(query, &params) != 0) {
        reply_error(h, req, 400, RQ_E_BAD_FIELD, "query: not a valid query string");
        goto done;
    }
    need = route_role(h, rt);
    if (need > 0) {
        token = request_token(req, evhttp_find_header(&params, "token"), &bad_scheme);
        who = find_token(h, token);
        if (who == NULL) {
            char peer[PEER_LEN];

            h->stats.auth_failures++;
            peer_of(req, peer);
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                              token != NULL ? "Bearer realm=\"ringq\", error=\"invalid_token\""
                                            : "Bearer realm=\"ringq\"");
            static struct rq_ratelimit rl_refused;
            if (token != NULL || bad_scheme)
                log_limited(&rl_refused, RQ_LOG_NOTICE, "http: %s: %s refused (%s)", peer,
                            method_name(cmd), bad_scheme ? "not a Bearer token" : "unknown token");
            reply_error(h, req, 401, RQ_E_UNAUTHORIZED, "%s",
                        bad_scheme      ? "Authorization: use the Bearer scheme"
                        : token == NULL ? "a bearer token is required (Authorization: Bearer ...)"
                                        : "unknown token");
            goto done;
        }
        if ((int)who->role < need) {
            reply_error(h, req, 403, RQ_E_UNAUTHORIZED, "role %s may not do this (needs %s)",
                        rq_http_role_name(who->role), rq_http_role_name((enum rq_http_role)need));
            goto done;
        }
    }
    dispatch(h, req, rt, seg, who, evhttp_find_header(&params, "topics"));
done:
    evhttp_clear_headers(&params);
}

/* --- life cycle --- */

struct rq_http *
rq_http_new(struct event_base *base, const struct rq_conf *conf, struct rq_router *router,
            struct rq_session_ctx *ctx, struct rq_store *store, char *err, size_t errlen)
{
    const struct rq_conf_http *hc = &conf->http;
    struct rq_http *h = calloc(1, sizeof(*h));
    struct timeval ka = {RQ_HTTP_KEEPALIVE_MS / 1000, (RQ_HTTP_KEEPALIVE_MS % 1000) * 1000};

    if (h == NULL) {
        snprintf(err, errlen, "http: out of memory");
        return NULL;
    }
    h->base = base;
    h->conf = conf;
    h->router = router;
    h->ctx = ctx;
    h->store = store;
    h->chunk = evbuffer_new();
    h->http = evhttp_new(base);
    h->reaper = event_new(base, -1, 0, reaper_cb, h);
    h->keepalive = event_new(base, -1, EV_PERSIST, keepalive_cb, h);
    h->stats_timer = evtimer_new(base, stats_timer_cb, h);
    if (queue_tables(h, conf) < 0 || h->chunk == NULL || h->http == NULL || h->reaper == NULL ||
        h->keepalive == NULL || h->stats_timer == NULL) {
        snprintf(err, errlen, "http: out of memory");
        rq_http_free(h);
        return NULL;
    }
    evhttp_set_max_headers_size(h->http, RQ_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(h->http, RQ_HTTP_MAX_BODY);
    evhttp_set_timeout(h->http, RQ_HTTP_TIMEOUT_S);
    /* every method reaches on_request, which answers 405 in JSON */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    if (evhttp_bind_socket_with_handle(h->http, hc->host, (ev_uint16_t)hc->port) == NULL) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%d: %s", hc->host, hc->port,
                 errno != 0 ? strerror(errno) : "bind failed");
        rq_http_free(h);
        return NULL;
    }
    snprintf(h->describe, sizeof(h->describe),
             strchr(hc->host, ':') ? "http://[%s]:%d" : "http://%s:%d", hc->host, hc->port);
    event_add(h->keepalive, &ka);
    rq_session_ctx_set_listener(ctx, on_push, h);
    return h;
}

/* Queue names and held-back queue_stats for conf. */
static int
queue_tables(struct rq_http *h, const struct rq_conf *conf)
{
    size_t nq = conf->n_queues > 0 ? (size_t)conf->n_queues : 1;
    struct qthrottle *qt = calloc(nq, sizeof(*qt));
    int *qt_list = calloc(nq, sizeof(*qt_list));
    struct qname *mem = calloc(nq, sizeof(*mem));

    if (qt == NULL || qt_list == NULL || mem == NULL) {
        free(qt);
        free(qt_list);
        free(mem);
        return -1;
    }
    if (h->qt != NULL)
        for (int i = 0; i < h->conf->n_queues; i++)
            free(h->qt[i].pending);
    HASH_CLEAR(hh, h->qnames);
    free(h->qt);
    free(h->qt_list);
    free(h->qname_mem);
    h->qt = qt;
    h->qt_list = qt_list;
    h->n_qt = 0;
    h->qname_mem = mem;
    for (int i = 0; i < conf->n_queues; i++) {
        mem[i].name = conf->queues[i].name;
        mem[i].idx = i;
        HASH_ADD_KEYPTR(hh, h->qnames, mem[i].name, strlen(mem[i].name), &mem[i]);
    }
    h->conf = conf;
    return 0;
}

int
rq_http_reload(struct rq_http *h, const struct rq_conf *conf)
{
    if (h == NULL)
        return 0;
    return queue_tables(h, conf);
}

void
rq_http_free(struct rq_http *h)
{
    struct stream *s;

    if (h == NULL)
        return;
    if (h->ctx != NULL)
        rq_session_ctx_set_listener(h->ctx, NULL, NULL);
    /* Streams end with the server: their connections (and requests) go
     * with evhttp_free; only our side of each is freed here. */
    while ((s = h->streams) != NULL) {
        list_del(&h->streams, s);
        evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        free(s);
    }
    while ((s = h->doomed) != NULL) {
        list_del(&h->doomed, s);
        evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        free(s);
    }
    if (h->http != NULL)
        evhttp_free(h->http);
    if (h->reaper != NULL)
        event_free(h->reaper);
    if (h->keepalive != NULL)
        event_free(h->keepalive);
    if (h->stats_timer != NULL)
        event_free(h->stats_timer);
    if (h->chunk != NULL)
        evbuffer_free(h->chunk);
    if (h->qt != NULL) {
        for (int i = 0; i < h->conf->n_queues; i++)
            free(h->qt[i].pending);
    }
    HASH_CLEAR(hh, h->qnames);
    free(h->qname_mem);
    free(h->qt_list);
    free(h->qt);
    free(h);
}

const char *
rq_http_describe(const struct rq_http *h)
{
    return h->describe;
}

const struct rq_http_stats *
rq_http_get_stats(const struct rq_http *h)
{
    return &h->stats;
}

int
rq_http_streams(const struct rq_http *h)
{
    return h->n_streams;
}
