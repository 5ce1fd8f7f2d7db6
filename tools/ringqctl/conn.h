/*
 * conn.h - ringqctl's side of the NDJSON protocol: connect (TCP or Unix
 * socket), say hello as a monitor, send requests and read replies and
 * pushes line by line. Blocking I/O with poll() timeouts; no event loop.
 */
#ifndef CTL_CONN_H
#define CTL_CONN_H

#include <stddef.h>

#include <jansson.h>

#define CTL_MAX_LINE (16u * 1024u * 1024u) /* the daemon's own upper line limit */
#define CTL_ERR_LEN  256

/* What went wrong with a request: the transport, or the daemon said no. */
enum ctl_status {
    CTL_OK = 0,      /* a reply with "ok": true */
    CTL_REFUSED = 1, /* a reply with "ok": false (its error is in the reply) */
    CTL_IO = 3,      /* cannot connect, connection lost, timeout, garbage */
};

struct ctl_conn {
    int fd;                /* the socket, -1 when closed */
    char *buf;             /* bytes read and not yet handed out */
    size_t len;            /* bytes in buf */
    size_t cap;            /* bytes allocated */
    long next_id;          /* id of the next request */
    char err[CTL_ERR_LEN]; /* what went wrong (CTL_IO) */
};

/* A push ({"ev": ...}) read while waiting for a reply. */
typedef void ctl_push_cb(json_t *push, void *arg);

/* Connect to the Unix socket `path` when it is not NULL, else to host:port.
 * Returns 0, or -1 with c->err set. */
int ctl_conn_open(struct ctl_conn *c, const char *path, const char *host, const char *port,
                  int timeout_ms);
void ctl_conn_close(struct ctl_conn *c);
/* Send req (stolen) with a fresh id and wait up to timeout_ms for its reply
 * (*reply, the caller's). Pushes read meanwhile go to cb (may be NULL). */
enum ctl_status ctl_conn_request(struct ctl_conn *c, json_t *req, int timeout_ms, json_t **reply,
                                 ctl_push_cb *cb, void *arg);
/* Read one line already buffered or arriving within timeout_ms.
 * 1: *out is a JSON object; 0: nothing within the time; -1: c->err. */
int ctl_conn_read(struct ctl_conn *c, int timeout_ms, json_t **out);
/* The reply's error as "code: message" into buf. */
void ctl_reply_error(const json_t *reply, char *buf, size_t size);

#endif
