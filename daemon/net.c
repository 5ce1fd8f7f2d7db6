/*
 * net.c - NDJSON listeners and connections: accept, line framing with the
 * limit checked before a newline arrives, bounded output, deferred close.
 *
 * Life of a connection: OPEN (lines go to the session) -> FLUSHING (input
 * discarded, queued output sent, then our side shut down until the client
 * closes or NET_FLUSH_TIMEOUT_MS passes) -> DEAD (on the reap list) -> freed
 * by reap_cb, which runs the session's close callback first. Nothing frees a
 * connection from inside one of its own callbacks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "config.h"
#include "rq_limits.h"
#include "log.h"
#include "net.h"

#define NET_LINES_PER_RUN     64   /* lines one client gets handled before others get a turn */
#define NET_FLUSH_TIMEOUT_MS  5000 /* a closing client gets this long to take its last bytes */
#define NET_PAUSE_OUTPUT      (RQ_OUTPUT_HIGH_WATER / 4) /* stop reading requests above this */
#define NET_RESUME_OUTPUT     (RQ_OUTPUT_HIGH_WATER / 8) /* ... and start again below this */
#define NET_ACCEPT_BACKOFF_MS 1000 /* listeners pause this long after accept() fails */
#define NET_PEER_LEN          64   /* "[ipv6]:port" */
#define NET_DESC_LEN          (2 * RQ_ERR_LEN + 8) /* both listeners' descriptions */

static const char overloaded_line[] =
    "{\"ok\":false,\"error\":{\"code\":\"overloaded\",\"message\":\"too many clients\"}}\n";
static const char hello_timeout_line[] = "{\"ev\":\"closed\",\"reason\":\"hello_timeout\"}\n";

enum conn_state {
    CONN_OPEN = 0, /* lines are read and handed to the session */
    CONN_FLUSHING, /* closing: queued output goes out, input is discarded */
    CONN_DEAD,     /* on the reap list */
};

struct rq_conn {
    struct rq_net *net;          /* owner */
    struct bufferevent *bev;     /* the socket */
    struct event *timer;         /* hello timeout while OPEN, flush timeout while FLUSHING */
    struct event *resume;        /* zero-delay timer: handle more lines after yielding */
    void *udata;                 /* the session; NULL for refused clients */
    uint64_t id;                 /* 1, 2, ... in accept order */
    char peer[NET_PEER_LEN];     /* address for logs */
    size_t max_line;             /* current line limit */
    size_t reply_mark;           /* output length after a reply took it over the high water */
    enum conn_state state;       /* see above */
    const char *why;             /* why it is closing, for the log line */
    int refused;                 /* turned away for max_clients: no session */
    int authed;                  /* hello succeeded */
    int discarding;              /* dropping the rest of an oversized line */
    int paused;                  /* output over NET_PAUSE_OUTPUT: requests not read */
    int held;                    /* the session asked to stop reading (rq_net_hold_input) */
    int eof;                     /* the client closed its side */
    int wr_shut;                 /* our side is shut down (lingering close) */
    int in_flush;                /* on net->flush_head: output to write this loop turn */
    struct rq_conn *flush_next;  /* net->flush_head list */
    struct rq_conn *prev, *next; /* net->conns */
    struct rq_conn *reap_next;   /* net->reap_head list */
};

struct rq_net {
    struct event_base *base;    /* the loop */
    const struct rq_conf *conf; /* limits and listener addresses */
    struct rq_net_cbs cbs;      /* the session layer */
    void *arg;                  /* passed to cbs */
    struct evconnlistener *tcp; /* TCP listener or NULL */
    struct evconnlistener *unx; /* Unix-socket listener or NULL */
    char *unix_path;            /* socket file we created, removed at close */
    dev_t unix_dev;             /* its device and inode, so we never remove */
    ino_t unix_ino;             /*   a file some other process put there */
    struct event *reap_ev;      /* frees DEAD connections at the top of the loop */
    struct event *backoff_ev;   /* re-enables listeners after accept errors */
    struct event *flush_ev;     /* writes queued output at the end of the loop turn */
    struct rq_conn *flush_head; /* connections with output queued this turn */
    struct rq_conn *conns;      /* every connection not freed yet */
    struct rq_conn *reap_head;  /* DEAD connections, oldest first */
    struct rq_conn *reap_tail;  /* newest DEAD connection */
    int n_clients;              /* served connections not freed yet */
    int n_refused;              /* refused connections still flushing */
    uint64_t next_id;           /* id of the next connection */
    time_t refuse_logged;       /* last time a refusal was logged */
    uint64_t refuse_quiet;      /* refusals not logged since */
    char desc[NET_DESC_LEN];    /* what we listen on */
    struct rq_net_stats stats;  /* counters */
};

static struct timeval
ms_tv(long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

static void
conn_kill(struct rq_conn *c, const char *why)
{
    struct rq_net *net = c->net;

    if (c->state == CONN_DEAD)
        return;
    if (c->why == NULL)
        c->why = why;
    c->state = CONN_DEAD;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    event_del(c->timer);
    event_del(c->resume);
    c->reap_next = NULL;
    if (net->reap_tail != NULL)
        net->reap_tail->reap_next = c;
    else
        net->reap_head = c;
    net->reap_tail = c;
    event_active(net->reap_ev, EV_READ, 0);
}

/* Everything queued went out: shut our side and wait for the client's EOF
 * (so unread input of ours never turns the close into a reset), or finish
 * when it already closed. */
static void
conn_flushed(struct rq_conn *c)
{
    if (c->eof || c->wr_shut) {
        conn_kill(c, NULL);
        return;
    }
    c->wr_shut = 1;
    bufferevent_disable(c->bev, EV_WRITE);
    if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) != 0)
        conn_kill(c, NULL);
}

static void
conn_flush_close(struct rq_conn *c, const char *why)
{
    struct timeval tv = ms_tv(NET_FLUSH_TIMEOUT_MS);

    if (c->state != CONN_OPEN)
        return;
    if (c->why == NULL)
        c->why = why;
    c->state = CONN_FLUSHING;
    event_del(c->resume);
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_enable(c->bev, EV_WRITE); /* libevent writes the rest (write_cb) */
    if (!c->eof)
        bufferevent_enable(c->bev, EV_READ);
    event_add(c->timer, &tv);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_flushed(c);
}

static void
reap_one(struct rq_net *net, struct rq_conn *c)
{
    if (c->in_flush) {
        struct rq_conn **pp = &net->flush_head;
        while (*pp != c)
            pp = &(*pp)->flush_next;
        *pp = c->flush_next;
    }
    if (!c->refused)
        log_info("client %llu (%s) closed: %s", (unsigned long long)c->id, c->peer,
                 c->why != NULL ? c->why : "closed");
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        net->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->refused)
        net->n_refused--;
    else
        net->n_clients--;
    if (c->udata != NULL && net->cbs.close != NULL)
        net->cbs.close(c, c->udata, net->arg);
    event_free(c->timer);
    event_free(c->resume);
    bufferevent_free(c->bev);
    free(c);
}

/* Free every DEAD connection. Close callbacks may kill more (a push to a
 * client whose output is full); they join the list and go in this pass. */
static void
reap_all(struct rq_net *net)
{
    while (net->reap_head != NULL) {
        struct rq_conn *c = net->reap_head;
        net->reap_head = c->reap_next;
        if (net->reap_head == NULL)
            net->reap_tail = NULL;
        reap_one(net, c);
    }
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
    reap_all(arg);
}

static void
too_large(struct rq_conn *c, const char *data, size_t len)
{
    char esc[RQ_LOG_INPUT_PREFIX * 4 + 1];

    c->net->stats.too_large++;
    rq_log_escape(esc, sizeof(esc), data, len, RQ_LOG_INPUT_PREFIX);
    log_info("client %llu (%s): line over %zu bytes: \"%s\"", (unsigned long long)c->id, c->peer,
             c->max_line, esc);
    if (c->net->cbs.too_large != NULL)
        c->net->cbs.too_large(c, c->udata, c->max_line, c->net->arg);
}

/* Output is over NET_PAUSE_OUTPUT: stop handling requests until the client
 * has read most of it (write_cb resumes). */
static void
conn_pause(struct rq_conn *c)
{
    c->paused = 1;
    bufferevent_setwatermark(c->bev, EV_WRITE, NET_RESUME_OUTPUT, 0);
}

/* Handle complete lines: at most NET_LINES_PER_RUN, then yield to the loop
 * through a zero-delay timer so that other clients get their turn. */
static void
conn_process(struct rq_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int budget = NET_LINES_PER_RUN;

    while (c->state == CONN_OPEN && !c->paused && !c->held) {
        size_t avail = evbuffer_get_length(in);
        struct evbuffer_ptr eol;
        size_t len, cut;
        unsigned char *p;

        if (avail == 0)
            break;
        if (evbuffer_get_length(out) > NET_PAUSE_OUTPUT) {
            conn_pause(c);
            return;
        }
        if (budget-- == 0) {
            struct timeval zero = {0, 0};
            event_add(c->resume, &zero);
            return;
        }
        eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        if (c->discarding) {
            if (eol.pos < 0) {
                evbuffer_drain(in, avail);
                break;
            }
            evbuffer_drain(in, (size_t)eol.pos + 1);
            c->discarding = 0;
            continue;
        }
        if (eol.pos < 0) {
            /* No newline yet. Room is left for a '\r' before the '\n'. */
            int over = avail > c->max_line + 1;
            if (avail == c->max_line + 1) {
                unsigned char last;
                struct evbuffer_ptr at;
                evbuffer_ptr_set(in, &at, avail - 1, EVBUFFER_PTR_SET);
                evbuffer_copyout_from(in, &at, &last, 1);
                over = last != '\r';
            }
            if (over) {
                p = evbuffer_pullup(
                    in, (ev_ssize_t)(avail < RQ_LOG_INPUT_PREFIX ? avail : RQ_LOG_INPUT_PREFIX));
                too_large(c, (const char *)p, avail);
                evbuffer_drain(in, avail);
                c->discarding = 1;
                continue;
            }
            if (!c->eof)
                break;
            /* The client closed after a last line without a newline. */
            len = avail;
            p = evbuffer_pullup(in, (ev_ssize_t)len);
            cut = len;
            if (cut > 0 && p[cut - 1] == '\r')
                cut--;
            c->net->cbs.line(c, c->udata, (const char *)p, cut, c->net->arg);
            evbuffer_drain(in, len);
            continue;
        }
        len = (size_t)eol.pos;
        p = evbuffer_pullup(in, (ev_ssize_t)len + 1);
        cut = len;
        if (cut > 0 && p[cut - 1] == '\r')
            cut--;
        if (cut > c->max_line)
            too_large(c, (const char *)p, cut);
        else
            c->net->cbs.line(c, c->udata, (const char *)p, cut, c->net->arg);
        evbuffer_drain(in, len + 1);
    }
    if (c->state == CONN_OPEN && c->eof && !c->paused && !c->held && evbuffer_get_length(in) == 0)
        conn_flush_close(c, "closed by client");
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
    struct rq_conn *c = arg;

    if (c->state != CONN_OPEN) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    conn_process(c);
}

/* An open connection's output shrank to pending bytes: resume reading
 * when it was paused, and leave writing to flush_cb once it is empty. */
static void
output_drained(struct rq_conn *c, size_t pending)
{
    if (c->paused && pending <= NET_RESUME_OUTPUT) {
        struct timeval zero = {0, 0};
        c->paused = 0;
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        event_add(c->resume, &zero);
    }
    if (pending == 0)
        bufferevent_disable(c->bev, EV_WRITE);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
    struct rq_conn *c = arg;
    size_t pending = evbuffer_get_length(bufferevent_get_output(bev));

    if (c->state == CONN_FLUSHING) {
        if (pending == 0)
            conn_flushed(c);
        return;
    }
    if (c->state == CONN_OPEN)
        output_drained(c, pending);
}

/*
 * Output of open connections is written at the end of the loop turn that
 * queued it, straight to the socket: one write per client and turn, and no
 * write event to register and remove each time. Only what the socket does
 * not take waits for libevent's write event (then write_cb).
 */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_net *net = arg;
    struct rq_conn *c;

    while ((c = net->flush_head) != NULL) {
        struct evbuffer *out = bufferevent_get_output(c->bev);
        int n;
        net->flush_head = c->flush_next;
        c->in_flush = 0;
        if (c->state != CONN_OPEN || evbuffer_get_length(out) == 0)
            continue;
        /* the socket bufferevent keeps its output's start frozen except
         * while it writes itself: the same here */
        evbuffer_unfreeze(out, 1);
        n = evbuffer_write(out, bufferevent_getfd(c->bev));
        evbuffer_freeze(out, 1);
        if (n < 0) {
            int e = EVUTIL_SOCKET_ERROR();
            if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR) {
                c->why = evutil_socket_error_to_string(e);
                conn_kill(c, NULL);
                continue;
            }
        }
        if (evbuffer_get_length(out) > 0)
            bufferevent_enable(c->bev, EV_WRITE);
        else
            output_drained(c, 0);
    }
}

/* Output was queued for c: write it at the end of this loop turn. */
static void
queue_flush(struct rq_conn *c)
{
    if (c->in_flush || c->state != CONN_OPEN)
        return;
    c->in_flush = 1;
    c->flush_next = c->net->flush_head;
    c->net->flush_head = c;
    event_active(c->net->flush_ev, EV_WRITE, 0);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct rq_conn *c = arg;

    if (what & BEV_EVENT_ERROR) {
        int e = EVUTIL_SOCKET_ERROR();
        c->why = c->why != NULL ? c->why : evutil_socket_error_to_string(e);
        conn_kill(c, NULL);
        return;
    }
    if (!(what & BEV_EVENT_EOF))
        return;
    c->eof = 1;
    if (c->state == CONN_OPEN) {
        /* Lines still buffered are handled (and answered) first. */
        conn_process(c);
    } else if (c->state == CONN_FLUSHING) {
        if (c->wr_shut || evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            conn_kill(c, NULL);
    }
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_conn *c = arg;
    char esc[RQ_LOG_INPUT_PREFIX * 4 + 1];
    struct evbuffer *in;
    size_t pending;

    if (c->state == CONN_FLUSHING) {
        conn_kill(c, NULL);
        return;
    }
    if (c->state != CONN_OPEN || c->authed)
        return;
    c->net->stats.hello_timeouts++;
    in = bufferevent_get_input(c->bev);
    pending = evbuffer_get_length(in);
    if (pending > RQ_LOG_INPUT_PREFIX)
        pending = RQ_LOG_INPUT_PREFIX;
    rq_log_escape(esc, sizeof(esc), (const char *)evbuffer_pullup(in, (ev_ssize_t)pending), pending,
                  RQ_LOG_INPUT_PREFIX);
    static struct rq_ratelimit rl_hello;

    log_limited(&rl_hello, RQ_LOG_WARNING,
                "client %llu (%s): no hello within %d ms, closing (pending input: \"%s\")",
                (unsigned long long)c->id, c->peer, RQ_HELLO_TIMEOUT_MS, esc);
    bufferevent_write(c->bev, hello_timeout_line, sizeof(hello_timeout_line) - 1);
    conn_flush_close(c, "hello timeout");
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_conn *c = arg;

    if (c->state == CONN_OPEN)
        conn_process(c);
}

static void
format_peer(char *out, size_t outlen, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];

    if (sa == NULL) {
        snprintf(out, outlen, "unknown");
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        snprintf(out, outlen, "unix");
    } else {
        snprintf(out, outlen, "family %d", (int)sa->sa_family);
    }
}

static void
log_refusal(struct rq_net *net, const char *peer)
{
    time_t now = time(NULL);

    if (now == net->refuse_logged) {
        net->refuse_quiet++;
        return;
    }
    if (net->refuse_quiet > 0)
        log_warnx("refusing %s: max_clients (%d) reached (%llu more refused meanwhile)", peer,
                  net->conf->max_clients, (unsigned long long)net->refuse_quiet);
    else
        log_warnx("refusing %s: max_clients (%d) reached", peer, net->conf->max_clients);
    net->refuse_logged = now;
    net->refuse_quiet = 0;
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int socklen,
          void *arg)
{
    struct rq_net *net = arg;
    struct rq_conn *c;
    int refuse = net->n_clients >= net->conf->max_clients;
    char peer[NET_PEER_LEN];

    format_peer(peer, sizeof(peer), socklen > 0 ? sa : NULL);
    if (refuse && net->n_refused >= net->conf->max_clients) {
        /* Refusing politely costs a connection too: past this, just close. */
        net->stats.refused_max++;
        log_refusal(net, peer);
        evutil_closesocket(fd);
        return;
    }
    if (sa != NULL && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_warnx("client from %s: out of memory, closing", peer);
        evutil_closesocket(fd);
        return;
    }
    c->net = net;
    c->id = ++net->next_id;
    memcpy(c->peer, peer, sizeof(c->peer));
    c->max_line = RQ_PREAUTH_MAX_LINE;
    c->bev = bufferevent_socket_new(net->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(net->base, timer_cb, c);
    c->resume = evtimer_new(net->base, resume_cb, c);
    if (c->bev == NULL || c->timer == NULL || c->resume == NULL) {
        log_warnx("client from %s: out of memory, closing", peer);
        if (c->bev != NULL)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        if (c->timer != NULL)
            event_free(c->timer);
        if (c->resume != NULL)
            event_free(c->resume);
        free(c);
        return;
    }
    c->next = net->conns;
    if (net->conns != NULL)
        net->conns->prev = c;
    net->conns = c;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);

    if (refuse) {
        c->refused = 1;
        net->n_refused++;
        net->stats.refused_max++;
        log_refusal(net, peer);
        bufferevent_write(c->bev, overloaded_line, sizeof(overloaded_line) - 1);
        conn_flush_close(c, "too many clients");
        return;
    }
    net->n_clients++;
    net->stats.accepted++;
    c->udata = net->cbs.open(c, net->arg);
    if (c->udata == NULL) {
        conn_kill(c, "no session (out of memory)");
        return;
    }
    log_info("client %llu connected from %s", (unsigned long long)c->id, c->peer);
    bufferevent_setwatermark(c->bev, EV_READ, 0, c->max_line + 2);
    {
        struct timeval tv = ms_tv(RQ_HELLO_TIMEOUT_MS);
        event_add(c->timer, &tv);
    }
    bufferevent_enable(c->bev, EV_READ);
    bufferevent_disable(c->bev, EV_WRITE); /* flush_cb writes (see there) */
}

static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rq_net *net = arg;

    if (net->tcp != NULL)
        evconnlistener_enable(net->tcp);
    if (net->unx != NULL)
        evconnlistener_enable(net->unx);
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct rq_net *net = arg;
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = ms_tv(NET_ACCEPT_BACKOFF_MS);

    net->stats.accept_errors++;
    log_warnx("accept: %s; not accepting for %d ms", evutil_socket_error_to_string(e),
              NET_ACCEPT_BACKOFF_MS);
    if (net->tcp != NULL)
        evconnlistener_disable(net->tcp);
    if (net->unx != NULL)
        evconnlistener_disable(net->unx);
    event_add(net->backoff_ev, &tv);
}

static int
listen_tcp(struct rq_net *net, char *desc, size_t desclen, char *err, size_t errlen)
{
    const struct rq_conf_listener *l = &net->conf->listen;
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int rc, saved = 0;

    if (strchr(l->host, ':') != NULL)
        snprintf(desc, desclen, "[%s]:%d", l->host, l->port);
    else
        snprintf(desc, desclen, "%s:%d", l->host, l->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", l->port);
    rc = getaddrinfo(l->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", desc, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && net->tcp == NULL; ai = ai->ai_next) {
        net->tcp = evconnlistener_new_bind(net->base, accept_cb, net,
                                           LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                               LEV_OPT_CLOSE_ON_EXEC,
                                           -1, ai->ai_addr, (int)ai->ai_addrlen);
        if (net->tcp == NULL)
            saved = errno;
    }
    freeaddrinfo(res);
    if (net->tcp == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", desc,
                 saved != 0 ? strerror(saved) : "no usable address");
        return -1;
    }
    evconnlistener_set_error_cb(net->tcp, accept_error_cb);
    return 0;
}

/* mkdir -p of path's parent directory. */
static int
make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Remove a socket file left by a process that is gone; refuse to touch a
 * socket somebody still listens on, or a file that is not a socket. */
static int
clear_stale_socket(const struct sockaddr_un *sun, char *err, size_t errlen)
{
    struct stat st;
    int fd, rc;

    if (lstat(sun->sun_path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "cannot listen on unix:%s: exists and is not a socket",
                 sun->sun_path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
        close(fd);
        snprintf(err, errlen, "cannot listen on unix:%s: another process is listening there",
                 sun->sun_path);
        return -1;
    }
    close(fd);
    if (unlink(sun->sun_path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove stale socket %s: %s", sun->sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

static int
listen_unix(struct rq_net *net, char *desc, size_t desclen, char *err, size_t errlen)
{
    const char *path = net->conf->listen.unix_path;
    struct sockaddr_un sun;
    struct stat st;

    snprintf(desc, desclen, "unix:%s", path);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "cannot listen on unix:%s: path longer than %zu bytes", path,
                 sizeof(sun.sun_path) - 1);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (make_parent_dirs(path, err, errlen) != 0)
        return -1;
    if (clear_stale_socket(&sun, err, errlen) != 0)
        return -1;
    net->unx = evconnlistener_new_bind(net->base, accept_cb, net,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                       (struct sockaddr *)&sun, (int)sizeof(sun));
    if (net->unx == NULL) {
        snprintf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(net->unx, accept_error_cb);
    net->unix_path = strdup(path);
    if (net->unix_path == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (lstat(path, &st) == 0) {
        net->unix_dev = st.st_dev;
        net->unix_ino = st.st_ino;
    }
    return 0;
}

struct rq_net *
rq_net_new(struct event_base *base, const struct rq_conf *conf, const struct rq_net_cbs *cbs,
           void *arg, char *err, size_t errlen)
{
    struct rq_net *net;
    char tcp_desc[RQ_ERR_LEN] = "", unix_desc[RQ_ERR_LEN] = "";

    net = calloc(1, sizeof(*net));
    if (net == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    net->base = base;
    net->conf = conf;
    net->cbs = *cbs;
    net->arg = arg;
    net->reap_ev = event_new(base, -1, 0, reap_cb, net);
    net->backoff_ev = evtimer_new(base, backoff_cb, net);
    net->flush_ev = event_new(base, -1, 0, flush_cb, net);
    if (net->reap_ev == NULL || net->backoff_ev == NULL || net->flush_ev == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (conf->listen.host == NULL && conf->listen.unix_path == NULL) {
        snprintf(err, errlen, "no listener configured (listen.host or listen.unix)");
        goto fail;
    }
    if (conf->listen.host != NULL && listen_tcp(net, tcp_desc, sizeof(tcp_desc), err, errlen) != 0)
        goto fail;
    if (conf->listen.unix_path != NULL &&
        listen_unix(net, unix_desc, sizeof(unix_desc), err, errlen) != 0)
        goto fail;
    snprintf(net->desc, sizeof(net->desc), "%s%s%s", tcp_desc,
             tcp_desc[0] != '\0' && unix_desc[0] != '\0' ? ", " : "", unix_desc);
    return net;
fail:
    rq_net_free(net);
    return NULL;
}

void
rq_net_close_listeners(struct rq_net *net)
{
    struct stat st;

    if (net->tcp != NULL) {
        evconnlistener_free(net->tcp);
        net->tcp = NULL;
    }
    if (net->unx != NULL) {
        evconnlistener_free(net->unx);
        net->unx = NULL;
    }
    if (net->unix_path != NULL) {
        if (lstat(net->unix_path, &st) == 0 && st.st_dev == net->unix_dev &&
            st.st_ino == net->unix_ino)
            unlink(net->unix_path);
        free(net->unix_path);
        net->unix_path = NULL;
    }
    if (net->backoff_ev != NULL)
        event_del(net->backoff_ev);
}

void
rq_net_free(struct rq_net *net)
{
    if (net == NULL)
        return;
    rq_net_close_listeners(net);
    for (struct rq_conn *c = net->conns; c != NULL; c = c->next)
        conn_kill(c, "shutting down");
    reap_all(net);
    if (net->reap_ev != NULL)
        event_free(net->reap_ev);
    if (net->backoff_ev != NULL)
        event_free(net->backoff_ev);
    if (net->flush_ev != NULL)
        event_free(net->flush_ev);
    free(net);
}

const char *
rq_net_describe(const struct rq_net *net)
{
    return net->desc;
}

const struct rq_net_stats *
rq_net_stats(const struct rq_net *net)
{
    return &net->stats;
}

int
rq_net_clients(const struct rq_net *net)
{
    return net->n_clients;
}

/* May len more bytes go out? Drops the client when not. */
static int
output_room(struct rq_conn *c, size_t len, int is_push)
{
    size_t pending = evbuffer_get_length(bufferevent_get_output(c->bev));
    size_t limit;

    if (c->state != CONN_OPEN)
        return 0;
    if (pending <= RQ_OUTPUT_HIGH_WATER)
        c->reply_mark = 0;
    if (!is_push) {
        if (pending + len > RQ_OUTPUT_HIGH_WATER)
            c->reply_mark = pending + len;
        return 1;
    }
    limit = c->reply_mark > RQ_OUTPUT_HIGH_WATER ? c->reply_mark : RQ_OUTPUT_HIGH_WATER;
    if (pending + len <= limit)
        return 1;
    c->net->stats.output_dropped++;
    static struct rq_ratelimit rl_output;

    log_limited(&rl_output, RQ_LOG_WARNING,
                "client %llu (%s): %zu bytes of output not read, dropping the client",
                (unsigned long long)c->id, c->peer, pending);
    conn_kill(c, "output limit");
    return 0;
}

int
rq_net_send(struct rq_conn *c, const void *data, size_t len, int is_push)
{
    if (!output_room(c, len, is_push))
        return -1;
    if (bufferevent_write(c->bev, data, len) != 0) {
        conn_kill(c, "out of memory");
        return -1;
    }
    queue_flush(c);
    return 0;
}

int
rq_net_send_buffer(struct rq_conn *c, struct evbuffer *buf, int is_push)
{
    if (!output_room(c, evbuffer_get_length(buf), is_push)) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return -1;
    }
    if (bufferevent_write_buffer(c->bev, buf) != 0) {
        conn_kill(c, "out of memory");
        return -1;
    }
    queue_flush(c);
    return 0;
}

void
rq_net_close(struct rq_conn *c, enum rq_net_close_how how, const char *why)
{
    if (how == RQ_NET_CLOSE_FLUSH)
        conn_flush_close(c, why);
    else
        conn_kill(c, why);
}

void
rq_net_set_authenticated(struct rq_conn *c)
{
    if (c->authed)
        return;
    c->authed = 1;
    c->max_line = c->net->conf->max_line_bytes;
    if (c->state == CONN_OPEN) {
        event_del(c->timer);
        bufferevent_setwatermark(c->bev, EV_READ, 0, c->max_line + 2);
    }
}

void
rq_net_hold_input(struct rq_conn *c, int hold)
{
    struct timeval zero = {0, 0};

    if (c->held == !!hold)
        return;
    c->held = !!hold;
    /* Held: lines stay in the input buffer, which stops filling at its high
     * watermark, so the client's writes block (TCP back-pressure). */
    if (!c->held && c->state == CONN_OPEN)
        event_add(c->resume, &zero);
}

int
rq_net_closing(const struct rq_conn *c)
{
    return c->state != CONN_OPEN;
}

const char *
rq_net_peer(const struct rq_conn *c)
{
    return c->peer;
}

uint64_t
rq_net_conn_id(const struct rq_conn *c)
{
    return c->id;
}
