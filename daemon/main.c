/*
 * main.c - ringqd: arguments, start-up, signals, shut-down.
 *
 * ringqd runs in the foreground (a service manager supervises it) with one
 * libevent loop. Start-up: configuration, log level, event loop, router,
 * listeners; any failure there is fatal with a message saying what. SIGTERM
 * and SIGINT drain and stop it cleanly; SIGHUP (or admin.reload) reloads the
 * configuration file without dropping a contact.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "router.h"
#include "sdnotify.h"
#include "session.h"
#include "store.h"

#ifndef RINGQ_VERSION
#error "RINGQ_VERSION must be defined (daemon/CMakeLists.txt)"
#endif

/* Everything the signal handlers and the status line need. */
struct daemon {
    struct event_base *base;       /* the loop */
    struct rq_net *net;            /* listeners and clients */
    struct rq_router *router;      /* for the status line */
    struct rq_store *store;        /* Redis mirror, or NULL */
    struct rq_sdnotify *sd;        /* the service manager */
    int stop_requested;            /* SIGTERM/SIGINT seen */
    struct rq_conf *conf;          /* the running configuration */
    struct event *drain_ev;        /* checks whether the drain is over */
    uint64_t drain_until_ms;       /* monotonic end of the drain */
    const char *path;              /* the configuration file (-c) */
    const char *level_override;    /* -l, which a reload does not change */
    struct rq_conf *boot;          /* the one ringqd started with: listeners and Redis keep it */
    struct rq_session_ctx *ctx;    /* the session layer */
    struct rq_http *http;          /* the HTTP API, or NULL */
    char reload_error[RQ_ERR_LEN]; /* why the last reload was refused, "" when it was not */
};

#define STOP_FLUSH_MS 3000 /* at stop, how long to wait for Redis to take the last batch */

/* Read the live state back from Redis before listening. With
 * redis.wait_at_start, wait for Redis rather than start empty and later
 * overwrite what it holds. */
static void
recover(const struct rq_conf *conf, struct rq_router *router, struct daemon *d)
{
    struct rq_error e;
    long n;

    for (unsigned tries = 0;; tries++) {
        if ((n = rq_store_recover(conf, router, &e)) >= 0) {
            log_notice("redis: recovered %ld live contacts", n);
            return;
        }
        if (!conf->redis.wait_at_start) {
            log_warnx("%s; starting without the stored state (redis.wait_at_start = false)",
                      e.message);
            return;
        }
        if (tries % 10 == 0)
            log_warnx("%s; waiting for Redis to recover the live state", e.message);
        sleep(1);
        /* a stop signal while waiting: nothing is live yet, just go */
        event_base_loop(d->base, EVLOOP_NONBLOCK);
        if (d->stop_requested) {
            log_notice("stopped while waiting for Redis");
            exit(0);
        }
    }
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: ringqd -c FILE [-l LEVEL]\n"
               "       ringqd --check-config FILE\n"
               "       ringqd --version\n"
               "\n"
               "  -c, --config FILE        run in the foreground with this configuration\n"
               "      --check-config FILE  validate FILE, print a summary or the error, exit\n"
               "  -l, --log-level LEVEL    error|warning|notice|info|debug (overrides log_level)\n"
               "  -V, --version            print the version and exit\n"
               "  -h, --help               print this help and exit\n");
}

static const struct timeval drain_tick = {0, 100 * 1000}; /* drain progress is checked this often */

static uint64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The stop proper: no more clients, leave the loop (main then flushes
 * Redis and frees everything). */
static void
stop_now(struct daemon *d)
{
    if (d->drain_ev != NULL)
        event_del(d->drain_ev);
    rq_net_close_listeners(d->net);
    event_base_loopbreak(d->base);
}

static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;
    size_t busy = rq_router_in_progress(d->router);

    if (busy == 0) {
        log_notice("drained: every offer and call has finished");
        stop_now(d);
    } else if (mono_ms() >= d->drain_until_ms) {
        log_warnx("drain limit reached: %zu offers and calls still in progress (kept in the "
                  "store for the next start)",
                  busy);
        stop_now(d);
    }
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    sigset_t block;
    size_t busy;

    /* A second stop signal must not cut the stop short (freeing libevent's
     * signal events restores the default handlers): keep them pending. The
     * service manager has its own timeout and SIGKILL. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, NULL);
    log_notice("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    d->stop_requested = 1;
    if (d->sd != NULL)
        rq_sdnotify_stopping(d->sd);
    if (d->router == NULL || d->net == NULL) {
        event_base_loopbreak(d->base);
        return;
    }
    /* Drain: no new contacts, no new offers; what rings or talks may finish. */
    rq_router_drain(d->router);
    busy = rq_router_in_progress(d->router);
    if (busy == 0 || d->conf->drain_timeout_ms == 0) {
        stop_now(d);
        return;
    }
    log_notice("draining: %zu offers and calls to finish (at most %u s); new contacts are refused",
               busy, d->conf->drain_timeout_ms / 1000u);
    d->drain_until_ms = mono_ms() + d->conf->drain_timeout_ms;
    d->drain_ev = event_new(d->base, -1, EV_PERSIST, drain_check, d);
    if (d->drain_ev == NULL || event_add(d->drain_ev, &drain_tick) != 0)
        stop_now(d);
}

static int
str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* What a reload cannot change in a running process: say so, go on. */
static void
warn_fixed(const struct rq_conf *boot, const struct rq_conf *nc)
{
    const struct rq_conf_listener *a = &boot->listen, *b = &nc->listen;
    const struct rq_conf_redis *ra = &boot->redis, *rb = &nc->redis;

    if (str_differs(a->host, b->host) || a->port != b->port ||
        str_differs(a->unix_path, b->unix_path) || boot->max_line_bytes != nc->max_line_bytes ||
        boot->max_clients != nc->max_clients)
        log_warnx("reload: 'listen' changed: takes effect at the next restart");
    if (ra->enabled != rb->enabled || str_differs(ra->host, rb->host) || ra->port != rb->port ||
        str_differs(ra->unix_path, rb->unix_path) || str_differs(ra->user, rb->user) ||
        str_differs(ra->password, rb->password) || ra->db != rb->db ||
        str_differs(ra->prefix, rb->prefix) || ra->journal_max != rb->journal_max ||
        ra->events_maxlen != rb->events_maxlen || ra->wait_at_start != rb->wait_at_start ||
        ra->connect_timeout_ms != rb->connect_timeout_ms ||
        ra->command_timeout_ms != rb->command_timeout_ms)
        log_warnx("reload: 'redis' changed: takes effect at the next restart");
    if (boot->http.enabled != nc->http.enabled || str_differs(boot->http.host, nc->http.host) ||
        boot->http.port != nc->http.port)
        log_warnx("reload: the http listener changed: takes effect at the next restart");
}

/* Reload the configuration file: the new one, or (err filled) the old one
 * stays whole. Under systemd RELOADING=1 comes first and READY=1 after. */
static int
reload(void *arg, struct rq_reload_report *rep, struct rq_error *err)
{
    struct daemon *d = arg;
    struct rq_conf *nc, *old = d->conf;
    struct rq_reload_report r;
    enum rq_loglevel level;
    char msg[RQ_ERR_LEN];

    if (rep == NULL)
        rep = &r;
    memset(rep, 0, sizeof(*rep));
    if (d->stop_requested)
        return rq_fail(err, RQ_E_UNAVAILABLE, "ringqd is stopping: no reload");
    if (d->sd != NULL)
        rq_sdnotify_reloading(d->sd);
    if ((nc = rq_conf_load(d->path, msg, sizeof(msg))) == NULL) {
        rq_fail(err, RQ_E_BAD_CONFIG, "%s", msg);
        goto refused;
    }
    if (rq_router_reload(d->router, nc, rep, err) < 0) {
        rq_conf_free(nc);
        goto refused;
    }
    warn_fixed(d->boot, nc);
    /* The router runs on nc now: the I/O layer follows before anything is
     * reported. Only memory can fail here, and then nothing is coherent. */
    if (rq_session_ctx_reload(d->ctx, nc, rep) != 0 || rq_store_reload(d->store, nc, old) != 0 ||
        rq_http_reload(d->http, nc) != 0)
        fatalx("reload: out of memory while switching to the new configuration");
    free(rep->gone_udata);
    rep->gone_udata = NULL;
    d->conf = nc;
    rq_router_reload_settle(d->router);
    if (old != d->boot)
        rq_conf_free(old);
    if (d->level_override == NULL &&
        rq_log_level_parse(nc->log_level != NULL ? nc->log_level : "info", &level) == 0)
        rq_log_set_level(level);
    d->reload_error[0] = '\0';
    log_notice("reload: %s: %d queues (+%d -%d), %d agents (+%d -%d), %d contacts moved to "
               "'%s', %d offers revoked, %d removed agents finishing their contacts",
               d->path, nc->n_queues, rep->queues_added, rep->queues_removed, nc->n_agents,
               rep->agents_added, rep->agents_removed, rep->moved,
               nc->fallback_queue >= 0 ? nc->queues[nc->fallback_queue].name : "(none)",
               rep->revoked, rep->retiring);
    rq_session_ctx_reloaded(d->ctx, NULL, rep);
    if (d->sd != NULL)
        rq_sdnotify_ready(d->sd);
    return 0;
refused:
    snprintf(d->reload_error, sizeof(d->reload_error), "%s", err->message);
    log_errx("reload refused: %s; the running configuration stays", err->message);
    rq_session_ctx_reloaded(d->ctx, err->message, NULL);
    if (d->sd != NULL)
        rq_sdnotify_ready(d->sd);
    return -1;
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct rq_error err;

    log_notice("received SIGHUP: reloading %s", ((struct daemon *)arg)->path);
    (void)reload(arg, NULL, &err);
}

/* STATUS= for the service manager: what an operator wants at a glance. */
static void
status_line(void *arg, char *buf, unsigned len)
{
    const struct daemon *d = arg;
    const struct rq_model *m = rq_router_model(d->router);
    int waiting = 0;

    for (int q = 0; q < m->n_queues; q++)
        waiting += m->queues[q].n_waiting;
    if (d->stop_requested) {
        snprintf(buf, len, "draining: %zu offers and calls to finish, new contacts refused",
                 rq_router_in_progress(d->router));
        return;
    }
    snprintf(buf, len, "%d waiting, %zu live contacts, %d agents ready, %d busy; redis %s%s%.*s",
             waiting, m->n_contacts, m->n_by_state[RQ_AS_READY], m->n_by_state[RQ_AS_BUSY],
             d->store == NULL               ? "off"
             : rq_store_connected(d->store) ? "ok"
                                            : "DOWN (journaling)",
             d->reload_error[0] != '\0' ? "; last reload refused: " : "", 160, d->reload_error);
}

/* libevent's own warnings go through our log. */
static void
libevent_log(int severity, const char *msg)
{
    switch (severity) {
    case EVENT_LOG_DEBUG:
        log_debug("libevent: %s", msg);
        break;
    case EVENT_LOG_MSG:
        log_info("libevent: %s", msg);
        break;
    default:
        log_warnx("libevent: %s", msg);
        break;
    }
}

static int
check_config(const char *path)
{
    char err[RQ_ERR_LEN];
    struct rq_conf *conf = rq_conf_load(path, err, sizeof(err));

    if (conf == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: ok (%d queues, %d agents)\n", path, conf->n_queues, conf->n_agents);
    rq_conf_free(conf);
    return 0;
}

static int
run(const char *path, const char *level_override)
{
    char err[RQ_ERR_LEN];
    struct rq_conf *conf;
    enum rq_loglevel level;
    struct daemon d;
    struct rq_session_ctx *ctx;
    struct rq_router *router;
    struct rq_store *store = NULL;
    struct rq_http *http = NULL;
    struct event *ev_term, *ev_int, *ev_hup;

    memset(&d, 0, sizeof(d));
    d.path = path;
    d.level_override = level_override;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        fatal("cannot ignore SIGPIPE");
    conf = rq_conf_load(path, err, sizeof(err));
    if (conf == NULL)
        fatalx("%s", err);
    if (level_override != NULL)
        rq_log_level_parse(level_override, &level);
    else if (rq_log_level_parse(conf->log_level != NULL ? conf->log_level : "info", &level) != 0)
        fatalx("%s: unknown log_level '%s'", path, conf->log_level);
    rq_log_set_level(level);
    event_set_log_callback(libevent_log);

    if ((d.base = event_base_new()) == NULL)
        fatalx("cannot create the event loop");
    /* Before anything listens: a stop signal from then on is a clean stop
     * (it is handled once the loop runs). */
    ev_term = evsignal_new(d.base, SIGTERM, on_stop, &d);
    ev_int = evsignal_new(d.base, SIGINT, on_stop, &d);
    ev_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    if (ev_term == NULL || ev_int == NULL || ev_hup == NULL || evsignal_add(ev_term, NULL) != 0 ||
        evsignal_add(ev_int, NULL) != 0 || evsignal_add(ev_hup, NULL) != 0)
        fatalx("cannot install signal handlers");
    if ((ctx = rq_session_ctx_new(d.base, conf)) == NULL)
        fatalx("cannot create the session layer: out of memory");
    if ((router = rq_router_new(conf, &rq_clock_real, &rq_session_hooks, ctx)) == NULL)
        fatalx("cannot create the router: out of memory");
    if (rq_session_ctx_start(ctx, router) != 0)
        fatalx("cannot start the session layer: out of memory");
    d.router = router;
    d.conf = d.boot = conf;
    d.ctx = ctx;
    rq_session_ctx_set_reload(ctx, reload, &d);
    if (conf->redis.enabled) {
        struct rq_error e;
        if ((store = d.store = rq_store_new(d.base, conf, router, &e)) == NULL)
            fatalx("redis: %s", e.message);
        rq_session_ctx_set_store(ctx, store);
        recover(conf, router, &d);
    } else {
        log_notice("no redis section: live state is kept in memory only");
    }
    if ((d.net = rq_net_new(d.base, conf, &rq_session_net_cbs, ctx, err, sizeof(err))) == NULL)
        fatalx("%s", err);
    if (conf->http.enabled) {
        if ((http = d.http = rq_http_new(d.base, conf, router, ctx, store, err, sizeof(err))) ==
            NULL)
            fatalx("%s", err);
        log_notice("http: API, event streams, metrics and wallboard on %s", rq_http_describe(http));
    }

    if ((d.sd = rq_sdnotify_new(d.base, status_line, &d)) == NULL)
        fatalx("cannot set up service manager notifications: out of memory");
    log_notice("ringqd %s listening on %s; %d queues, %d agents", RINGQ_VERSION,
               rq_net_describe(d.net), conf->n_queues, conf->n_agents);
    rq_sdnotify_ready(d.sd);
    if (event_base_dispatch(d.base) < 0)
        log_warnx("event loop failed");

    /* Reverse order of start-up: what the last turn changed reaches Redis
     * (and the replies waiting for it their clients) before anything goes. */
    event_free(ev_hup);
    event_free(ev_int);
    event_free(ev_term);
    if (store != NULL && rq_store_flush_sync(store, STOP_FLUSH_MS) != 0)
        log_warnx("redis: not everything was written before the stop");
    if (d.drain_ev != NULL)
        event_free(d.drain_ev);
    rq_session_ctx_stop(ctx);
    rq_sdnotify_free(d.sd);
    rq_http_free(http);
    rq_net_free(d.net);
    rq_store_free(store);
    rq_router_free(router);
    rq_session_ctx_free(ctx);
    event_base_free(d.base);
    libevent_global_shutdown();
    if (d.conf != d.boot)
        rq_conf_free(d.conf);
    rq_conf_free(d.boot);
    log_notice("ringqd stopped");
    return 0;
}

int
main(int argc, char **argv)
{
    enum { OPT_CHECK = 1000 };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *check = NULL, *level = NULL;
    enum rq_loglevel parsed;
    int ch;

    while ((ch = getopt_long(argc, argv, "c:l:Vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case OPT_CHECK:
            check = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'V':
            printf("ringqd %s\n", RINGQ_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ringqd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    if (level != NULL && rq_log_level_parse(level, &parsed) != 0) {
        fprintf(stderr, "ringqd: unknown log level '%s' (error|warning|notice|info|debug)\n",
                level);
        return 1;
    }
    if (check != NULL)
        return check_config(check);
    if (config == NULL) {
        usage(stderr);
        return 1;
    }
    return run(config, level);
}
