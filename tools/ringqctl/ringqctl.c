/*
 * ringqctl - ringqd's command-line client: status, queues, agents,
 * contacts, a live `top`, reload, drain, and supervisor actions.
 *
 * It speaks the NDJSON protocol (docs/protocol.md) as a monitor. Supervisor
 * actions need a monitor whose configuration entry has role "supervisor" or
 * "admin"; reload and drain need "admin".
 *
 * Exit status: 0 done; 1 ringqd refused (its error code and message are
 * printed); 2 usage; 3 cannot connect (or the connection failed).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "conn.h"
#include "table.h"
#include "top.h"

#ifndef RINGQ_VERSION
#error "RINGQ_VERSION must be defined (tools/ringqctl/CMakeLists.txt)"
#endif

#define EXIT_REFUSED 1
#define EXIT_USAGE   2
#define EXIT_CONNECT 3

#define DEFAULT_HOST    "127.0.0.1"
#define DEFAULT_PORT    "7340"
#define DEFAULT_NAME    "ringqctl"
#define DEFAULT_TIMEOUT 5 /* seconds to wait for a connection or a reply */

struct opts {
    const char *path;  /* Unix socket, or NULL for TCP */
    char host[256];    /* TCP host */
    char port[16];     /* TCP port */
    char where[300];   /* host:port or path, for messages */
    const char *name;  /* monitor name */
    const char *token; /* its token */
    const char *queue; /* contacts --queue */
    int json;          /* --json */
    int timeout_ms;    /* -w */
};

/* One invocation's connection and what hello told. */
struct ctl {
    struct opts o;        /* options */
    struct ctl_conn conn; /* the connection */
    char version[64];     /* the daemon's version */
};

static void
usage(FILE *f)
{
    fputs("usage: ringqctl [options] COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  status                          version, uptime, contacts, agents, Redis\n"
          "  queues                          every queue's figures\n"
          "  agents                          every agent's state\n"
          "  contacts [--queue Q]            contacts in ringqd (of queue Q)\n"
          "  top                             live view (q quits)\n"
          "  reload                          reload the configuration file; prints the outcome,\n"
          "                                  exits 1 with its file:line when refused (role admin)\n"
          "  drain                           stop taking contacts and exit (role admin)\n"
          "  agent AGENT not-ready [REASON]  set an agent not ready (role supervisor)\n"
          "  agent AGENT ready               set an agent ready (role supervisor)\n"
          "  agent AGENT logout              log an agent out (role supervisor)\n"
          "  contact CONTACT move QUEUE      move a contact to another queue (supervisor)\n"
          "  contact CONTACT priority N      set a contact's priority 0..100 (supervisor)\n"
          "\n"
          "options:\n"
          "  -c, --connect HOST:PORT  ringqd's NDJSON listener (default 127.0.0.1:7340)\n"
          "  -s, --socket PATH        its Unix socket instead (e.g. /run/ringq/ringqd.sock)\n"
          "  -n, --name NAME          monitor name (default $RINGQ_NAME, else ringqctl)\n"
          "  -t, --token TOKEN        its token (default $RINGQ_TOKEN)\n"
          "  -q, --queue QUEUE        contacts: only this queue's\n"
          "  -j, --json               print JSON for scripts\n"
          "  -w, --timeout SECONDS    wait this long for ringqd (default 5)\n"
          "  -h, --help               this text\n"
          "  -V, --version            ringqctl's version\n"
          "\n"
          "exit status: 0 ok, 1 ringqd refused, 2 usage, 3 cannot connect\n",
          f);
}

static int usage_error(const char *fmt, ...) __attribute__((__format__(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("ringqctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(ringqctl --help for usage)\n", stderr);
    return EXIT_USAGE;
}

static void
print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    fputc('\n', stdout);
}

/* Report a refusal (stderr, and the reply on stdout with --json). */
static int
refused(struct ctl *x, json_t *reply)
{
    char e[CTL_ERR_LEN * 2];

    ctl_reply_error(reply, e, sizeof(e));
    fprintf(stderr, "ringqctl: ringqd refused: %s\n", e);
    if (x->o.json)
        print_json(reply);
    json_decref(reply);
    return EXIT_REFUSED;
}

/* Send req (stolen); *reply on success. Returns 0 or the exit status. */
static int
request(struct ctl *x, json_t *req, json_t **reply)
{
    enum ctl_status st = ctl_conn_request(&x->conn, req, x->o.timeout_ms, reply, NULL, NULL);

    if (st == CTL_IO) {
        fprintf(stderr, "ringqctl: %s: %s\n", x->o.where, x->conn.err);
        return EXIT_CONNECT;
    }
    if (st == CTL_REFUSED) {
        int rc = refused(x, *reply);
        *reply = NULL;
        return rc;
    }
    return 0;
}

static int
connect_hello(struct ctl *x)
{
    json_t *reply;
    const char *v;
    int rc;

    if (ctl_conn_open(&x->conn, x->o.path, x->o.host, x->o.port, x->o.timeout_ms) < 0) {
        fprintf(stderr, "ringqctl: %s\n", x->conn.err);
        return EXIT_CONNECT;
    }
    rc = request(x,
                 json_pack("{s:s, s:s, s:s, s:s}", "op", "hello", "role", "monitor", "name",
                           x->o.name, "token", x->o.token),
                 &reply);
    if (rc != 0)
        return rc;
    v = json_string_value(json_object_get(reply, "version"));
    snprintf(x->version, sizeof(x->version), "%s", v != NULL ? v : "?");
    json_decref(reply);
    return 0;
}

static json_t *
snapshot(struct ctl *x, int *rc)
{
    json_t *reply = NULL;

    *rc = request(x, json_pack("{s:s}", "op", "snapshot"), &reply);
    return reply;
}

/* --- views --- */

static long long
jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static int
cmd_status(struct ctl *x)
{
    static const char *const states[] = {"ready", "not_ready", "reserved",
                                         "busy",  "wrap_up",   "logged_out"};
    int rc, n_states = (int)(sizeof(states) / sizeof(states[0]));
    json_t *snap = snapshot(x, &rc), *out, *contacts, *agents, *v, *redis;
    long long waiting = 0, ringing = 0, connected = 0;
    size_t i;

    if (snap == NULL)
        return rc;
    out = json_object();
    contacts = json_object();
    agents = json_object();
    json_array_foreach (json_object_get(snap, "queues"), i, v) {
        waiting += jint(v, "waiting");
        ringing += jint(v, "ringing");
        connected += jint(v, "connected");
    }
    json_object_set_new(contacts, "waiting", json_integer(waiting));
    json_object_set_new(contacts, "ringing", json_integer(ringing));
    json_object_set_new(contacts, "connected", json_integer(connected));
    for (int k = 0; k < n_states; k++)
        json_object_set_new(agents, states[k], json_integer(0));
    json_array_foreach (json_object_get(snap, "agents"), i, v) {
        const char *st = json_string_value(json_object_get(v, "state"));
        json_t *c = st != NULL ? json_object_get(agents, st) : NULL;
        if (c != NULL)
            json_integer_set(c, json_integer_value(c) + 1);
    }
    redis = json_object_get(snap, "redis");
    json_object_set_new(out, "version", json_string(x->version));
    json_object_set(out, "uptime_s",
                    json_object_get(snap, "uptime_s") ? json_object_get(snap, "uptime_s")
                                                      : json_null());
    json_object_set_new(out, "queues",
                        json_integer((json_int_t)json_array_size(json_object_get(snap, "queues"))));
    json_object_set_new(out, "contacts", contacts);
    json_object_set_new(out, "agents", agents);
    json_object_set(out, "redis", redis != NULL ? redis : json_null());
    if (x->o.json) {
        print_json(out);
    } else {
        char b[32];

        printf("ringqd    %s at %s, up %s\n", x->version, x->o.where,
               ctl_fmt_duration(b, sizeof(b), json_object_get(snap, "uptime_s")));
        printf("queues    %zu\n", json_array_size(json_object_get(snap, "queues")));
        printf("contacts  %lld waiting, %lld ringing, %lld connected\n", waiting, ringing,
               connected);
        printf("agents   ");
        for (int k = 0; k < n_states; k++)
            printf(" %lld %s%s", (long long)jint(agents, states[k]), states[k],
                   k + 1 < n_states ? "," : "\n");
        if (redis == NULL || !json_is_true(json_object_get(redis, "enabled")))
            printf("redis     disabled (state in memory only)\n");
        else
            printf("redis     %s, journal %lld of %lld, %lld outage%s\n",
                   json_is_true(json_object_get(redis, "connected")) ? "connected" : "DOWN",
                   jint(redis, "journal"), jint(redis, "journal_limit"), jint(redis, "outages"),
                   jint(redis, "outages") == 1 ? "" : "s");
    }
    json_decref(out);
    json_decref(snap);
    return 0;
}

static int
cmd_queues(struct ctl *x)
{
    static const char *const head[] = {"QUEUE",   "WAITING",  "RINGING",   "CONNECTED", "LONGEST",
                                       "OFFERED", "ANSWERED", "ABANDONED", "SL%",       "GOAL%",
                                       "READY",   "BUSY",     "NOT_READY", "STRATEGY"};
    int rc;
    json_t *snap = snapshot(x, &rc), *q;
    struct ctl_table t;
    size_t i;

    if (snap == NULL)
        return rc;
    if (x->o.json) {
        print_json(json_object_get(snap, "queues"));
        json_decref(snap);
        return 0;
    }
    if (ctl_table_init(&t, 14, head, "lrrrrrrrrrrrrl") < 0) {
        json_decref(snap);
        return EXIT_CONNECT;
    }
    json_array_foreach (json_object_get(snap, "queues"), i, q) {
        json_t *ag = json_object_get(q, "agents");
        char b[14][32];
        const char *cells[14];

        cells[0] = json_string_value(json_object_get(q, "name"));
        cells[1] = ctl_fmt_scalar(b[1], 32, json_object_get(q, "waiting"));
        cells[2] = ctl_fmt_scalar(b[2], 32, json_object_get(q, "ringing"));
        cells[3] = ctl_fmt_scalar(b[3], 32, json_object_get(q, "connected"));
        cells[4] = jint(q, "waiting") > 0
                       ? ctl_fmt_duration(b[4], 32, json_object_get(q, "longest_wait_s"))
                       : "-";
        cells[5] = ctl_fmt_scalar(b[5], 32, json_object_get(q, "offered"));
        cells[6] = ctl_fmt_scalar(b[6], 32, json_object_get(q, "answered"));
        cells[7] = ctl_fmt_scalar(b[7], 32, json_object_get(q, "abandoned"));
        cells[8] = ctl_fmt_percent(b[8], 32, json_object_get(q, "service_level"));
        cells[9] = ctl_fmt_percent(b[9], 32, json_object_get(q, "goal_percent"));
        cells[10] = ctl_fmt_scalar(b[10], 32, json_object_get(ag, "ready"));
        snprintf(b[11], 32, "%lld", jint(ag, "reserved") + jint(ag, "busy") + jint(ag, "wrap_up"));
        cells[11] = b[11];
        cells[12] = ctl_fmt_scalar(b[12], 32, json_object_get(ag, "not_ready"));
        cells[13] = ctl_fmt_scalar(b[13], 32, json_object_get(q, "strategy"));
        ctl_table_add(&t, cells);
    }
    ctl_table_print(&t, stdout, 0);
    ctl_table_free(&t);
    json_decref(snap);
    return 0;
}

static void
fmt_load(char *buf, size_t size, const json_t *load)
{
    snprintf(buf, size, "%lld/%lld/%lld", jint(load, "voice"), jint(load, "chat"),
             jint(load, "email"));
}

static int
cmd_agents(struct ctl *x)
{
    static const char *const head[] = {"AGENT",      "NAME",    "STATE", "REASON", "FOR",
                                       "LOAD V/C/E", "HANDLED", "OCC%",  "OFFER"};
    int rc;
    json_t *snap = snapshot(x, &rc), *a;
    struct ctl_table t;
    long long now = (long long)time(NULL) * 1000;
    size_t i;

    if (snap == NULL)
        return rc;
    if (x->o.json) {
        print_json(json_object_get(snap, "agents"));
        json_decref(snap);
        return 0;
    }
    if (ctl_table_init(&t, 9, head, "lllllrrrl") < 0) {
        json_decref(snap);
        return EXIT_CONNECT;
    }
    json_array_foreach (json_object_get(snap, "agents"), i, a) {
        char b[9][64];
        const char *cells[9];
        json_t *since = json_object_get(a, "since_ms"), *dur = NULL;

        if (json_is_integer(since) && json_integer_value(since) > 0 &&
            now >= json_integer_value(since))
            dur = json_real((double)(now - json_integer_value(since)) / 1000.0);
        fmt_load(b[5], sizeof(b[5]), json_object_get(a, "load"));
        cells[0] = json_string_value(json_object_get(a, "agent"));
        cells[1] = ctl_fmt_scalar(b[1], 64, json_object_get(a, "name"));
        cells[2] = ctl_fmt_scalar(b[2], 64, json_object_get(a, "state"));
        cells[3] = ctl_fmt_scalar(b[3], 64, json_object_get(a, "reason"));
        cells[4] = ctl_fmt_duration(b[4], 64, dur);
        cells[5] = b[5];
        cells[6] = ctl_fmt_scalar(b[6], 64, json_object_get(a, "handled"));
        cells[7] = ctl_fmt_percent(b[7], 64, json_object_get(a, "occupancy"));
        cells[8] = ctl_fmt_scalar(b[8], 64, json_object_get(a, "offer"));
        json_decref(dur);
        ctl_table_add(&t, cells);
    }
    ctl_table_print(&t, stdout, 0);
    ctl_table_free(&t);
    json_decref(snap);
    return 0;
}

static int
contact_cmp(const void *pa, const void *pb)
{
    const json_t *a = *(const json_t *const *)pa, *b = *(const json_t *const *)pb;
    const char *qa = json_string_value(json_object_get(a, "queue"));
    const char *qb = json_string_value(json_object_get(b, "queue"));
    int c = strcmp(qa != NULL ? qa : "", qb != NULL ? qb : "");
    long long x, y;

    if (c != 0)
        return c;
    x = jint(a, "arrived_ms");
    y = jint(b, "arrived_ms");
    return x < y ? -1 : x > y;
}

static int
cmd_contacts(struct ctl *x)
{
    static const char *const head[] = {"CONTACT", "STATE",  "CHANNEL", "QUEUE", "TIER",
                                       "PRIO",    "WAITED", "POS",     "AGENT"};
    int rc, found = x->o.queue == NULL;
    json_t *snap = snapshot(x, &rc), *c, *list, *sel;
    struct ctl_table t;
    size_t i, n;
    const json_t **rows;

    if (snap == NULL)
        return rc;
    json_array_foreach (json_object_get(snap, "queues"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (x->o.queue != NULL && name != NULL && strcmp(name, x->o.queue) == 0)
            found = 1;
    }
    if (!found) {
        fprintf(stderr, "ringqctl: not_found: queue '%s' not found\n", x->o.queue);
        json_decref(snap);
        return EXIT_REFUSED;
    }
    list = json_object_get(snap, "contacts");
    sel = json_array();
    json_array_foreach (list, i, c) {
        const char *q = json_string_value(json_object_get(c, "queue"));
        if (x->o.queue == NULL || (q != NULL && strcmp(q, x->o.queue) == 0))
            json_array_append(sel, c);
    }
    n = json_array_size(sel);
    rows = calloc(n ? n : 1, sizeof(*rows));
    if (rows == NULL || ctl_table_init(&t, 9, head, "lllllrrrl") < 0) {
        free(rows);
        json_decref(sel);
        json_decref(snap);
        return EXIT_CONNECT;
    }
    for (i = 0; i < n; i++)
        rows[i] = json_array_get(sel, i);
    qsort(rows, n, sizeof(*rows), contact_cmp);
    if (x->o.json) {
        json_t *sorted = json_array();
        for (i = 0; i < n; i++)
            json_array_append(sorted, (json_t *)rows[i]);
        print_json(sorted);
        json_decref(sorted);
    } else {
        for (i = 0; i < n; i++) {
            char b[9][64];
            const char *cells[9];

            c = (json_t *)rows[i];
            cells[0] = json_string_value(json_object_get(c, "contact"));
            cells[1] = ctl_fmt_scalar(b[1], 64, json_object_get(c, "state"));
            cells[2] = ctl_fmt_scalar(b[2], 64, json_object_get(c, "channel"));
            cells[3] = ctl_fmt_scalar(b[3], 64, json_object_get(c, "queue"));
            cells[4] = ctl_fmt_scalar(b[4], 64, json_object_get(c, "tier"));
            cells[5] = ctl_fmt_scalar(b[5], 64, json_object_get(c, "priority"));
            cells[6] = ctl_fmt_duration(b[6], 64, json_object_get(c, "waited_s"));
            cells[7] = ctl_fmt_scalar(b[7], 64, json_object_get(c, "position"));
            cells[8] = ctl_fmt_scalar(b[8], 64, json_object_get(c, "agent"));
            ctl_table_add(&t, cells);
        }
        ctl_table_print(&t, stdout, 0);
        if (json_is_true(json_object_get(snap, "contacts_truncated")))
            printf("(the snapshot lists only the first %zu contacts)\n", json_array_size(list));
    }
    ctl_table_free(&t);
    free(rows);
    json_decref(sel);
    json_decref(snap);
    return 0;
}

/* --- actions --- */

static int
cmd_admin(struct ctl *x, const char *what)
{
    json_t *reply = NULL;
    char op[32];
    const char *sig;
    int rc;

    snprintf(op, sizeof(op), "admin.%s", what);
    if ((rc = request(x, json_pack("{s:s}", "op", op), &reply)) != 0)
        return rc;
    if (x->o.json) {
        print_json(reply);
    } else {
        sig = json_string_value(json_object_get(reply, "signal"));
        if (strcmp(what, "reload") == 0)
            printf("reload: done: %lld queues, %lld agents, %lld contacts moved to the fallback "
                   "queue\n",
                   (long long)json_integer_value(json_object_get(reply, "queues")),
                   (long long)json_integer_value(json_object_get(reply, "agents")),
                   (long long)json_integer_value(json_object_get(reply, "moved")));
        else
            printf("drain: ringqd accepted%s%s%s\n", sig ? " (" : "", sig ? sig : "",
                   sig ? " raised: it takes no new contacts and exits once those in progress "
                         "end)"
                       : "");
    }
    json_decref(reply);
    return 0;
}

static int
cmd_agent(struct ctl *x, int argc, char **argv)
{
    const char *id, *verb, *state, *reason = NULL;
    json_t *req, *reply = NULL, *a;
    int rc;
    char b[64];

    if (argc < 2)
        return usage_error("agent: expected AGENT not-ready [REASON] | ready | logout");
    id = argv[0];
    verb = argv[1];
    if (strcmp(verb, "not-ready") == 0 || strcmp(verb, "not_ready") == 0) {
        state = "not_ready";
        if (argc > 3)
            return usage_error("agent %s not-ready: one REASON at most", id);
        reason = argc == 3 ? argv[2] : NULL;
    } else if (strcmp(verb, "ready") == 0 || strcmp(verb, "logout") == 0) {
        state = verb[0] == 'r' ? "ready" : "logged_out";
        if (argc != 2)
            return usage_error("agent %s %s: no further arguments", id, verb);
    } else {
        return usage_error("agent: unknown action '%s' (not-ready, ready, logout)", verb);
    }
    req = json_pack("{s:s, s:s, s:s}", "op", "agent.set", "agent", id, "state", state);
    if (req != NULL && reason != NULL)
        json_object_set_new(req, "reason", json_string(reason));
    if ((rc = request(x, req, &reply)) != 0)
        return rc;
    if (x->o.json) {
        print_json(reply);
    } else {
        a = json_object_get(reply, "agent");
        printf("agent %s: %s", id, ctl_fmt_scalar(b, sizeof(b), json_object_get(a, "state")));
        if (json_is_string(json_object_get(a, "reason")))
            printf(" (%s)", json_string_value(json_object_get(a, "reason")));
        putchar('\n');
    }
    json_decref(reply);
    return 0;
}

static int
parse_priority(const char *s, int *out)
{
    char *end;
    long v;

    if (*s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 100)
        return -1;
    *out = (int)v;
    return 0;
}

static int
cmd_contact(struct ctl *x, int argc, char **argv)
{
    const char *id;
    json_t *req, *reply = NULL, *c;
    int rc, prio = 0;
    char b[3][64];

    if (argc != 3)
        return usage_error("contact: expected CONTACT move QUEUE | CONTACT priority N");
    id = argv[0];
    if (strcmp(argv[1], "move") == 0) {
        req = json_pack("{s:s, s:s, s:s}", "op", "contact.move", "contact", id, "queue", argv[2]);
    } else if (strcmp(argv[1], "priority") == 0) {
        if (parse_priority(argv[2], &prio) < 0)
            return usage_error("contact %s priority: '%s' is not an integer 0..100", id, argv[2]);
        req =
            json_pack("{s:s, s:s, s:i}", "op", "contact.priority", "contact", id, "priority", prio);
    } else {
        return usage_error("contact: unknown action '%s' (move, priority)", argv[1]);
    }
    if ((rc = request(x, req, &reply)) != 0)
        return rc;
    if (x->o.json) {
        print_json(reply);
    } else {
        c = json_object_get(reply, "contact");
        printf("contact %s: %s in queue %s, priority %s", id,
               ctl_fmt_scalar(b[0], 64, json_object_get(c, "state")),
               ctl_fmt_scalar(b[1], 64, json_object_get(c, "queue")),
               ctl_fmt_scalar(b[2], 64, json_object_get(c, "priority")));
        if (json_is_integer(json_object_get(c, "position")))
            printf(", position %lld", jint(c, "position"));
        putchar('\n');
    }
    json_decref(reply);
    return 0;
}

/* --- arguments --- */

static int
parse_connect(struct opts *o, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    const char *host = arg;
    size_t hl;

    if (colon == NULL || colon[1] == '\0')
        return -1;
    hl = (size_t)(colon - arg);
    if (hl >= 2 && arg[0] == '[' && arg[hl - 1] == ']') { /* [::1]:7340 */
        host++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(o->host) || strlen(colon + 1) >= sizeof(o->port))
        return -1;
    memcpy(o->host, host, hl);
    o->host[hl] = '\0';
    snprintf(o->port, sizeof(o->port), "%s", colon + 1);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"connect", required_argument, NULL, 'c'}, {"socket", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},    {"token", required_argument, NULL, 't'},
        {"queue", required_argument, NULL, 'q'},   {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
    struct ctl x;
    const char *cmd;
    char *end;
    int ch, rc, nargs;
    long w;

    memset(&x, 0, sizeof(x));
    snprintf(x.o.host, sizeof(x.o.host), "%s", DEFAULT_HOST);
    snprintf(x.o.port, sizeof(x.o.port), "%s", DEFAULT_PORT);
    x.o.name = getenv("RINGQ_NAME") != NULL ? getenv("RINGQ_NAME") : DEFAULT_NAME;
    x.o.token = getenv("RINGQ_TOKEN") != NULL ? getenv("RINGQ_TOKEN") : "";
    x.o.timeout_ms = DEFAULT_TIMEOUT * 1000;
    x.conn.fd = -1;
    /* getopt_long permutes: `ringqctl agents --json` and `ringqctl --json
     * agents` both work. */
    while ((ch = getopt_long(argc, argv, "c:s:n:t:q:jw:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            if (parse_connect(&x.o, optarg) < 0)
                return usage_error("--connect: expected HOST:PORT, got '%s'", optarg);
            x.o.path = NULL;
            break;
        case 's':
            x.o.path = optarg;
            break;
        case 'n':
            x.o.name = optarg;
            break;
        case 't':
            x.o.token = optarg;
            break;
        case 'q':
            x.o.queue = optarg;
            break;
        case 'j':
            x.o.json = 1;
            break;
        case 'w':
            w = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || w < 1 || w > 3600)
                return usage_error("--timeout: expected seconds 1..3600, got '%s'", optarg);
            x.o.timeout_ms = (int)w * 1000;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("ringqctl %s\n", RINGQ_VERSION);
            return 0;
        default:
            return usage_error("unknown option");
        }
    }
    if (optind >= argc)
        return usage_error("no command");
    cmd = argv[optind];
    nargs = argc - optind - 1;
    if (x.o.path != NULL)
        snprintf(x.o.where, sizeof(x.o.where), "%s", x.o.path);
    else
        snprintf(x.o.where, sizeof(x.o.where), "%s:%s", x.o.host, x.o.port);

    /* Check the command line whole before connecting. */
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "queues") == 0 || strcmp(cmd, "agents") == 0 ||
        strcmp(cmd, "contacts") == 0 || strcmp(cmd, "top") == 0 || strcmp(cmd, "reload") == 0 ||
        strcmp(cmd, "drain") == 0) {
        if (nargs != 0)
            return usage_error("%s: unexpected argument '%s'", cmd, argv[optind + 1]);
    } else if (strcmp(cmd, "agent") == 0 || strcmp(cmd, "contact") == 0) {
        if (nargs < 2)
            return usage_error("%s: expected %s ID ACTION ...", cmd, cmd);
    } else {
        return usage_error("unknown command '%s'", cmd);
    }
    if (x.o.queue != NULL && strcmp(cmd, "contacts") != 0)
        return usage_error("--queue goes with contacts only");
    if (x.o.json && strcmp(cmd, "top") == 0)
        return usage_error("top: --json makes no sense for a live view (use a monitor stream)");
    if (strcmp(cmd, "agent") == 0 || strcmp(cmd, "contact") == 0) {
        /* usage errors of the actions come before connecting, too */
        const char *verb = argv[optind + 2];
        if (strcmp(cmd, "agent") == 0 && strcmp(verb, "not-ready") != 0 &&
            strcmp(verb, "not_ready") != 0 && strcmp(verb, "ready") != 0 &&
            strcmp(verb, "logout") != 0)
            return usage_error("agent: unknown action '%s' (not-ready, ready, logout)", verb);
        if (strcmp(cmd, "agent") == 0 && strcmp(verb, "not-ready") != 0 &&
            strcmp(verb, "not_ready") != 0 && nargs != 2)
            return usage_error("agent %s %s: no further arguments", argv[optind + 1], verb);
        if (strcmp(cmd, "agent") == 0 && nargs > 3)
            return usage_error("agent %s not-ready: one REASON at most", argv[optind + 1]);
        if (strcmp(cmd, "contact") == 0) {
            int prio;
            if (nargs != 3 || (strcmp(verb, "move") != 0 && strcmp(verb, "priority") != 0))
                return usage_error("contact: expected CONTACT move QUEUE | CONTACT priority N");
            if (strcmp(verb, "priority") == 0 && parse_priority(argv[optind + 3], &prio) < 0)
                return usage_error("contact %s priority: '%s' is not an integer 0..100",
                                   argv[optind + 1], argv[optind + 3]);
        }
    }

    if ((rc = connect_hello(&x)) != 0)
        goto done;
    if (strcmp(cmd, "status") == 0)
        rc = cmd_status(&x);
    else if (strcmp(cmd, "queues") == 0)
        rc = cmd_queues(&x);
    else if (strcmp(cmd, "agents") == 0)
        rc = cmd_agents(&x);
    else if (strcmp(cmd, "contacts") == 0)
        rc = cmd_contacts(&x);
    else if (strcmp(cmd, "top") == 0)
        rc = ctl_top_run(&x.conn, x.o.where, x.version, x.o.timeout_ms);
    else if (strcmp(cmd, "reload") == 0 || strcmp(cmd, "drain") == 0)
        rc = cmd_admin(&x, cmd);
    else if (strcmp(cmd, "agent") == 0)
        rc = cmd_agent(&x, nargs, argv + optind + 1);
    else
        rc = cmd_contact(&x, nargs, argv + optind + 1);
done:
    ctl_conn_close(&x.conn);
    if (fflush(stdout) != 0 && rc == 0)
        rc = EXIT_CONNECT;
    return rc;
}
