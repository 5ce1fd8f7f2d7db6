/*
 * http.h - the HTTP side of ringqd (docs/http.md), served by libevent's
 * evhttp on the daemon's one event loop:
 *
 *   GET  /v1/queues, /v1/queues/{q}, /v1/agents, /v1/agents/{a},
 *        /v1/contacts/{c}      JSON views (view.c: the NDJSON protocol's own)
 *   POST /v1/agents/{a}/state  {"state":"ready"|"not_ready","reason":...}
 *   GET  /v1/stream            Server-Sent Events: a snapshot, then the
 *                              monitor pushes (queue_stats coalesced)
 *   GET  /metrics              Prometheus text format 0.0.4
 *   GET  /healthz              200, or 503 while Redis is configured and down
 *   GET  /wallboard            the static wallboard page
 *
 * Bearer tokens (conf->http.tokens) carry a role: wallboard (read-only),
 * supervisor (+ agent states), admin (everything). Errors are JSON with
 * the protocol's codes: {"ok":false,"error":{"code":"...","message":"..."}}.
 *
 * Set-up (main.c), after the NDJSON listeners:
 *   http = rq_http_new(base, conf, router, ctx, store, err, errlen);
 * Tear-down, before them: rq_http_free(http).
 */
#ifndef RQ_HTTP_H
#define RQ_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "router.h"

/* Limits of the HTTP side (the NDJSON protocol's are in rq_limits.h). */
#define RQ_HTTP_MAX_HEADERS    8192          /* request line and headers, bytes */
#define RQ_HTTP_MAX_BODY       16384         /* a request body (POST state), bytes */
#define RQ_HTTP_TIMEOUT_S      30            /* reading a request, writing a reply */
#define RQ_HTTP_MAX_PATH       1024          /* a request path, bytes */
#define RQ_HTTP_MAX_STREAMS    1000          /* event-stream clients at once */
#define RQ_HTTP_STREAM_BACKLOG (1024 * 1024) /* unsent bytes (beyond the snapshot) before drop */
#define RQ_HTTP_KEEPALIVE_MS   15000         /* a comment line this often on idle streams */
#define RQ_HTTP_STATS_MS       250           /* queue_stats per queue at most this often */
#define RQ_HTTP_RETRY_MS       2000          /* EventSource reconnect delay we suggest */
#define RQ_HTTP_MAX_PAGE       (4 * 1024 * 1024) /* the wallboard file, bytes */

struct event_base;
struct rq_session_ctx;
struct rq_store;
struct rq_http;

/* Counters for logs and metrics. */
struct rq_http_stats {
    uint64_t requests;        /* requests answered (a stream counts once) */
    uint64_t auth_failures;   /* requests refused for a missing or unknown token */
    uint64_t streams_opened;  /* event streams started */
    uint64_t streams_dropped; /* streams dropped for not reading their events */
};

/* Listen on conf->http.host:port. Returns NULL with err filled ("cannot
 * listen for HTTP on 127.0.0.1:7341: Address already in use") on failure.
 * store may be NULL (memory only). */
struct rq_http *rq_http_new(struct event_base *base, const struct rq_conf *conf,
                            struct rq_router *router, struct rq_session_ctx *ctx,
                            struct rq_store *store, char *err, size_t errlen);
/* Close the listener and every connection (streams end), free h. */
/* After a reload: tokens, CORS, the wallboard path and queues come from conf
 * (the listener stays where it is). -1: out of memory (nothing changed). */
int rq_http_reload(struct rq_http *h, const struct rq_conf *conf);
void rq_http_free(struct rq_http *h);
/* "http://127.0.0.1:7341" */
const char *rq_http_describe(const struct rq_http *h);
const struct rq_http_stats *rq_http_get_stats(const struct rq_http *h);
/* Event streams being served now. */
int rq_http_streams(const struct rq_http *h);

#endif
