/*
 * conn.c - ringqctl's connection to ringqd (see conn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

static int conn_fail(struct ctl_conn *c, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static int
conn_fail(struct ctl_conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return -1;
}

static long long
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect fd (non-blocking) to addr within timeout_ms; fd blocking again after. */
static int
connect_within(int fd, const struct sockaddr *addr, socklen_t alen, int timeout_ms)
{
    int fl = fcntl(fd, F_GETFL), soerr = 0;
    socklen_t sl = sizeof(soerr);
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    if (connect(fd, addr, alen) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN)
            return -1;
        if (poll(&p, 1, timeout_ms) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            return -1;
        if (soerr != 0) {
            errno = soerr;
            return -1;
        }
    }
    return fcntl(fd, F_SETFL, fl);
}

int
ctl_conn_open(struct ctl_conn *c, const char *path, const char *host, const char *port,
              int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_id = 1;
    if (path != NULL) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};

        if (strlen(path) >= sizeof(sun.sun_path))
            return conn_fail(c, "%s: socket path too long", path);
        memcpy(sun.sun_path, path, strlen(path) + 1);
        if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            return conn_fail(c, "socket: %s", strerror(errno));
        if (connect_within(c->fd, (struct sockaddr *)&sun, sizeof(sun), timeout_ms) < 0) {
            conn_fail(c, "cannot connect to %s: %s", path, strerror(errno));
            ctl_conn_close(c);
            return -1;
        }
        return 0;
    }
    {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
        int rc = getaddrinfo(host, port, &hints, &res), saved = 0;

        if (rc != 0)
            return conn_fail(c, "%s:%s: %s", host, port, gai_strerror(rc));
        for (ai = res; ai != NULL; ai = ai->ai_next) {
            c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (c->fd < 0)
                continue;
            if (connect_within(c->fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) == 0)
                break;
            saved = errno;
            close(c->fd);
            c->fd = -1;
        }
        freeaddrinfo(res);
        if (c->fd < 0)
            return conn_fail(c, "cannot connect to %s:%s: %s", host, port,
                             strerror(saved ? saved : ECONNREFUSED));
    }
    return 0;
}

void
ctl_conn_close(struct ctl_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

static int
send_all(struct ctl_conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return conn_fail(c, "send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A whole line in the buffer: parse it into *out and drop it. 1 when one
 * was there, 0 when not, -1 when it is not a JSON object. */
static int
take_line(struct ctl_conn *c, json_t **out)
{
    char *nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL;
    size_t n;
    json_error_t jerr;

    if (nl == NULL)
        return 0;
    n = (size_t)(nl - c->buf);
    *out = json_loadb(c->buf, n, 0, &jerr);
    memmove(c->buf, nl + 1, c->len - n - 1);
    c->len -= n + 1;
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return conn_fail(c, "ringqd sent a line that is not a JSON object");
    }
    return 1;
}

int
ctl_conn_read(struct ctl_conn *c, int timeout_ms, json_t **out)
{
    long long until = mono_ms() + timeout_ms;
    int r;

    *out = NULL;
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        long long left;
        ssize_t got;

        if ((r = take_line(c, out)) != 0)
            return r;
        if (c->len >= CTL_MAX_LINE)
            return conn_fail(c, "ringqd sent a line over %u bytes", CTL_MAX_LINE);
        left = until - mono_ms();
        if (left < 0)
            left = 0;
        r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            return 0; /* a signal (resize, stop): let the caller look */
        if (r < 0)
            return conn_fail(c, "poll: %s", strerror(errno));
        if (r == 0)
            return 0;
        if (c->cap - c->len < 65536) {
            size_t ncap = c->cap ? c->cap * 2 : 131072;
            char *nb = realloc(c->buf, ncap);
            if (nb == NULL)
                return conn_fail(c, "out of memory");
            c->buf = nb;
            c->cap = ncap;
        }
        got = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return conn_fail(c, "recv: %s", strerror(errno));
        if (got == 0)
            return conn_fail(c, "ringqd closed the connection");
        c->len += (size_t)got;
    }
}

enum ctl_status
ctl_conn_request(struct ctl_conn *c, json_t *req, int timeout_ms, json_t **reply, ctl_push_cb *cb,
                 void *arg)
{
    long id = c->next_id++;
    long long until = mono_ms() + timeout_ms;
    char *line;
    int rc;

    *reply = NULL;
    if (req == NULL || json_object_set_new(req, "id", json_integer(id)) < 0) {
        json_decref(req);
        conn_fail(c, "out of memory");
        return CTL_IO;
    }
    line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (line == NULL) {
        conn_fail(c, "out of memory");
        return CTL_IO;
    }
    rc = send_all(c, line, strlen(line));
    free(line);
    if (rc < 0 || send_all(c, "\n", 1) < 0)
        return CTL_IO;
    for (;;) {
        json_t *msg, *re;
        long long left = until - mono_ms();

        if (left <= 0) {
            conn_fail(c, "no reply from ringqd within %d ms", timeout_ms);
            return CTL_IO;
        }
        rc = ctl_conn_read(c, (int)left, &msg);
        if (rc < 0)
            return CTL_IO;
        if (rc == 0)
            continue;
        re = json_object_get(msg, "re");
        if (json_is_integer(re) && json_integer_value(re) == id) {
            *reply = msg;
            return json_is_true(json_object_get(msg, "ok")) ? CTL_OK : CTL_REFUSED;
        }
        if (json_object_get(msg, "ev") != NULL && cb != NULL)
            cb(msg, arg);
        json_decref(msg);
    }
}

void
ctl_reply_error(const json_t *reply, char *buf, size_t size)
{
    const json_t *e = json_object_get(reply, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    snprintf(buf, size, "%s: %s", code != NULL ? code : "error", msg != NULL ? msg : "");
}
