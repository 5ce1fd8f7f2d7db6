/*
 * net.h - listeners and connections of the NDJSON protocol (libevent).
 *
 * net.c accepts TCP and Unix-socket clients, frames their input into lines
 * (checking the line limit before a newline arrives), bounds their output
 * and closes them. It knows nothing of JSON or roles: each connection's
 * lines go to the callbacks below (session.c provides them).
 *
 * A connection is never freed inside one of its own callbacks: closing only
 * marks it, and a deferred event frees it at the top of the loop. The close
 * callback runs from there too, so it may call into the router.
 */
#ifndef RQ_NET_H
#define RQ_NET_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct rq_conf;
struct rq_conn;
struct rq_net;

/* A new connection: returns its session (udata), or NULL to refuse it. */
typedef void *rq_net_open_cb(struct rq_conn *conn, void *arg);
/* One complete line (newline and a trailing '\r' stripped; not NUL-terminated). */
typedef void rq_net_line_cb(struct rq_conn *conn, void *udata, const char *line, size_t len,
                            void *arg);
/* A line went over the connection's limit; its rest is being discarded. */
typedef void rq_net_too_large_cb(struct rq_conn *conn, void *udata, size_t limit, void *arg);
/* The connection is gone (EOF, error, limit, or rq_net_close); called once,
 * from a deferred event, never inside another callback of this connection.
 * udata must not be used after it returns. */
typedef void rq_net_close_cb(struct rq_conn *conn, void *udata, void *arg);

struct rq_net_cbs {
    rq_net_open_cb *open;           /* accept */
    rq_net_line_cb *line;           /* each input line */
    rq_net_too_large_cb *too_large; /* a line over the limit */
    rq_net_close_cb *close;         /* connection gone */
};

/* Counters for logs and metrics. */
struct rq_net_stats {
    uint64_t accepted;       /* connections accepted and served */
    uint64_t refused_max;    /* turned away: max_clients reached */
    uint64_t too_large;      /* lines over the limit */
    uint64_t output_dropped; /* clients dropped for output over RQ_OUTPUT_HIGH_WATER */
    uint64_t hello_timeouts; /* clients closed for not saying hello in time */
    uint64_t accept_errors;  /* accept() failures (EMFILE, ...) */
};

/* How rq_net_close ends a connection. */
enum rq_net_close_how {
    RQ_NET_CLOSE_NOW = 0, /* drop pending output */
    RQ_NET_CLOSE_FLUSH,   /* stop reading, send what is queued, then close */
};

/* Open the listeners of conf->listen on base. Returns NULL with err filled
 * ("cannot listen on 127.0.0.1:7340: Address already in use") on failure. */
struct rq_net *rq_net_new(struct event_base *base, const struct rq_conf *conf,
                          const struct rq_net_cbs *cbs, void *arg, char *err, size_t errlen);
/* Close the listeners (and remove the Unix socket file); clients stay. */
void rq_net_close_listeners(struct rq_net *net);
/* Close listeners and every connection (close callbacks run), free net. */
void rq_net_free(struct rq_net *net);
/* "127.0.0.1:7340, unix:/run/ringq/ringqd.sock" */
const char *rq_net_describe(const struct rq_net *net);
const struct rq_net_stats *rq_net_stats(const struct rq_net *net);
/* Connections being served now. */
int rq_net_clients(const struct rq_net *net);

/* Queue bytes for the client. A push (is_push) is refused, and the client
 * dropped, when it would take the output over RQ_OUTPUT_HIGH_WATER; a
 * reply always goes out (input stops being read while output is high, so
 * replies cannot pile up). Returns 0, or -1 when the connection is closing
 * or was just dropped. */
int rq_net_send(struct rq_conn *conn, const void *data, size_t len, int is_push);
/* Same, moving the whole content of buf (buf is left empty). */
int rq_net_send_buffer(struct rq_conn *conn, struct evbuffer *buf, int is_push);
/* Mark the connection closing (see enum rq_net_close_how); the close callback
 * follows from a deferred event. why (a string constant) goes in the log. */
void rq_net_close(struct rq_conn *conn, enum rq_net_close_how how, const char *why);
/* hello succeeded: cancel the hello timeout, raise the line limit to
 * conf->max_line_bytes. */
void rq_net_set_authenticated(struct rq_conn *conn);
/* Stop (hold = 1) or resume handling the client's lines. While held,
 * unread input stays in the kernel and the client's writes block. */
void rq_net_hold_input(struct rq_conn *conn, int hold);
int rq_net_closing(const struct rq_conn *conn);
/* "127.0.0.1:53422", "[::1]:4000" or "unix" */
const char *rq_net_peer(const struct rq_conn *conn);
/* Connection number (1, 2, ... in accept order), for logs. */
uint64_t rq_net_conn_id(const struct rq_conn *conn);

#endif
