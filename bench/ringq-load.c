/*
 * ringq-load - drive ringqd (or ringq-baseline) over TCP as sources and
 * agents, and print what it measured.
 *
 *   ringq-load -p PORT [-n CONTACTS] [-w WINDOW] [-c CONNS] [-s SOURCE] [-t TOKEN]
 *              [-q QUEUE] [-a AGENTS -k IN_FLIGHT [-T AGENT_TOKEN] [-i AGENT_PREFIX]]
 *              [-r PACE] [-O RATE -d SECONDS] [-P SERVER_PID] [-R REDIS_PID]
 *
 * Modes:
 *  - pipelined / request-response (default): CONNS source connections (one
 *    by default) each keep WINDOW requests in flight (-w 1: one outstanding
 *    request per connection). Each contact is two events: contact.new, then
 *    contact.abandon (the caller hangs up while waiting), so every event
 *    changes state that ringqd persists.
 *  - offers (-a AGENTS): AGENTS agents log in (hello as agent, agent.state
 *    ready) and IN_FLIGHT contacts are kept going through one source: each
 *    is announced (contact.new), offered to an idle agent, accepted
 *    (offer.accept) and ended (contact.end) by that agent; the next one
 *    starts when one ends. With fewer contacts in flight than agents, every
 *    contact finds idle agents: the time from writing contact.new to
 *    reading the agent's `offer` is the arrival-to-offer latency. The
 *    queue's wrap_up_s must be 0 so agents are free at once.
 *  - -r PACE: start at most PACE events per second (offers mode: contacts
 *    per second) instead of as many as the window allows, so latency is
 *    measured below saturation rather than as queueing.
 *  - overload (-O RATE -d SECONDS): 2 s windowed (the sustainable rate R),
 *    then SECONDS open-loop at RATE events/s (RATE 0: 2 x R) over CONNS
 *    connections, then 5 s windowed again; prints the timeline (per 0.5 s:
 *    ok and overloaded replies, server RSS) and how long throughput took
 *    to come back to 90 % of R.
 *
 * With -P, the server's CPU time (utime + stime from /proc/PID/stat) over the
 * measured run is printed per event; -R does the same for redis-server.
 * Output: one line of `key value` pairs (bench/load reads them by name):
 *   events N seconds S events/s R errors E [cpu_us/ev C] [redis_us/ev C]
 *   [reply_p50_us .. reply_p99_us .. reply_p999_us ..]
 *   [offer_p50_us .. offer_p99_us .. offer_p999_us ..]
 * Exit status 1 when a reply was an error (other than `overloaded` in the
 * overload mode) or the server stopped answering for 10 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define OUT_CAP   (256 * 1024) /* bytes queued per connection before we stop generating */
#define IN_CAP    (1 << 20)
#define STALL_S   10.0 /* no progress this long: give up */
#define TICK_S    0.5  /* overload timeline resolution */
#define MAX_TICKS 256
#define WARM_S    2.0 /* overload mode: windowed phase before the burst */
#define RECOVER_S 5.0 /* ... and after it */

enum kind { K_SOURCE, K_AGENT };

struct conn {
    int fd;           /* the socket (non-blocking) */
    enum kind kind;   /* source or agent */
    char name[64];    /* source name or agent id */
    char *out;        /* bytes not written yet */
    size_t olen;      /* ... how many */
    char *in;         /* bytes not parsed yet */
    size_t ilen;      /* ... how many */
    long outstanding; /* requests without a reply */
    int ready;        /* hello (and agent.state ready) answered */
    int stage;        /* agents: 0 hello sent, 1 agent.state sent */
    size_t ocap;      /* bytes allocated at out */
    long next;        /* pipelined: next event number of this connection */
    long end;         /* ... and one past its last */
};

static struct {
    struct conn conns[MAX_CONNS];                    /* sources first, then agents */
    int n_conns, n_sources;                          /* connections, of which sources */
    unsigned run;                                    /* makes this run's contact ids unique */
    const char *queue, *token, *agent_token;         /* -q, -t, -T */
    long window;                                     /* -w: requests in flight per source */
    double *t_req;                                   /* send time of request id */
    long n_req, cap_req;                             /* requests sent (= next id), room in t_req */
    double *lat_reply, *lat_offer;                   /* latencies in microseconds */
    long n_reply, n_offer, cap_reply, cap_offer;     /* their counts and room */
    long replies, errors, overloaded, requests_done; /* replies: all, errors, overloaded, ok */
    long not_found;              /* overload mode: abandons of contacts refused as overloaded */
    long skipped;                /* overload mode: events not sent, the server was not reading */
    double *t_new;               /* offers mode: when contact i was announced */
    long next_contact, contacts; /* offers mode: next contact to start, how many in all */
    long in_flight, k_in_flight; /* ... announced and not offered yet, and the most (-k) */
    long ended;                  /* ... offered (the agent accepts and ends it) */
    int measure_reply;           /* record reply latency */
    long tick_ok[MAX_TICKS];     /* overload mode: ok replies per tick */
    long tick_over[MAX_TICKS];   /* ... overloaded replies per tick */
    long tick_rss[MAX_TICKS];    /* ... highest server VmRSS (KiB) seen in the tick */
    int tick;                    /* current overload tick, -1: not recording */
    int server_pid;              /* -P: whose CPU time and RSS to read */
    double pace;    /* -r: events (offers mode: contacts) per second, 0: as fast as replies allow */
    double t_start; /* start of the measured run */
    long paced;     /* events (contacts) started so far */
} L;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL)
        die("realloc");
    return q;
}

/* utime + stime of pid in microseconds (0 when unknown). */
static double
cpu_us(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    FILE *f;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (p == NULL || (p = strrchr(buf, ')')) == NULL)
        return 0;
    /* after the comm: state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static long
rss_kib(int pid)
{
    char path[64], line[256];
    long kb = 0;
    FILE *f;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int
connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        die("socket");
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void
push_lat(double **a, long *n, long *cap, double v)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 65536;
        *a = xrealloc(*a, (size_t)*cap * sizeof(double));
    }
    (*a)[(*n)++] = v;
}

/* Queue one request on c; returns its id. */
static long __attribute__((__format__(printf, 2, 3))) send_req(struct conn *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    long id = L.n_req;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* every format starts with {"id":%ld, */
    if (L.n_req == L.cap_req) {
        L.cap_req = L.cap_req ? L.cap_req * 2 : 65536;
        L.t_req = xrealloc(L.t_req, (size_t)L.cap_req * sizeof(double));
    }
    L.t_req[L.n_req++] = now_s();
    if (c->olen + (size_t)n > c->ocap) {
        c->ocap = c->ocap ? c->ocap * 2 : OUT_CAP + sizeof(line);
        c->out = xrealloc(c->out, c->ocap);
    }
    memcpy(c->out + c->olen, line, (size_t)n);
    c->olen += (size_t)n;
    c->outstanding++;
    return id;
}

static void
flush_out(struct conn *c)
{
    while (c->olen > 0) {
        ssize_t n = write(c->fd, c->out, c->olen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            die("write");
        }
        memmove(c->out, c->out + n, c->olen - (size_t)n);
        c->olen -= (size_t)n;
    }
}

static void
contact_new(struct conn *c, long k)
{
    send_req(c,
             "{\"id\":%ld,\"op\":\"contact.new\",\"contact\":\"L%u-%ld\",\"queue\":\"%s\","
             "\"channel\":\"voice\",\"customer\":{\"id\":\"cust%ld\",\"tier\":\"standard\","
             "\"lang\":\"en\"},\"priority\":0}\n",
             L.n_req, L.run, k, L.queue, k % 100000);
}

static void
contact_abandon(struct conn *c, long k)
{
    send_req(c, "{\"id\":%ld,\"op\":\"contact.abandon\",\"contact\":\"L%u-%ld\"}\n", L.n_req, L.run,
             k);
}

/* With -r, may one more event (contact) start now? */
static int
pace_allows(void)
{
    if (L.pace <= 0)
        return 1;
    if ((double)L.paced >= (now_s() - L.t_start) * L.pace)
        return 0;
    L.paced++;
    return 1;
}

/* Pipelined: event e of a connection is contact e/2's new (even) or abandon. */
static void
fill_window(struct conn *c)
{
    while (c->ready && c->next < c->end && c->outstanding < L.window && c->olen < OUT_CAP &&
           pace_allows()) {
        if (c->next % 2 == 0)
            contact_new(c, c->next / 2);
        else
            contact_abandon(c, c->next / 2);
        c->next++;
    }
}

/* Offers mode: start contacts while fewer than k are in flight. */
static void
start_contacts(void)
{
    struct conn *src = &L.conns[0];

    while (src->ready && L.in_flight < L.k_in_flight && L.next_contact < L.contacts &&
           pace_allows()) {
        long k = L.next_contact++;
        L.t_new[k] = now_s();
        L.in_flight++;
        contact_new(src, k);
    }
}

/* Value of "key":"..." in line (len bytes) copied to out, or NULL. */
static const char *
str_field(const char *line, size_t len, const char *key, char *out, size_t outlen)
{
    char pat[32];
    const char *p, *e;
    size_t n = (size_t)snprintf(pat, sizeof(pat), "\"%s\":\"", key);

    if ((p = memmem(line, len, pat, n)) == NULL)
        return NULL;
    p += n;
    if ((e = memchr(p, '"', len - (size_t)(p - line))) == NULL || (size_t)(e - p) >= outlen)
        return NULL;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return out;
}

static void
on_reply(struct conn *c, const char *line, size_t len)
{
    const char *re = memmem(line, len, "\"re\":", 5);
    int ok = memmem(line, len, "\"ok\":true", 9) != NULL;
    long id = re != NULL ? strtol(re + 5, NULL, 10) : -1;
    double t = now_s();

    c->outstanding--;
    L.replies++;
    if (!c->ready) {
        if (!ok) {
            fprintf(stderr, "ringq-load: %s refused: %.*s\n", c->name, (int)len, line);
            exit(1);
        }
        if (c->kind == K_AGENT && c->stage == 0) {
            /* hello answered: now ready */
            c->stage = 1;
            send_req(c, "{\"id\":%ld,\"op\":\"agent.state\",\"state\":\"ready\"}\n", L.n_req);
            return;
        }
        c->ready = 1;
        return;
    }
    if (L.measure_reply && id >= 0 && id < L.n_req)
        push_lat(&L.lat_reply, &L.n_reply, &L.cap_reply, (t - L.t_req[id]) * 1e6);
    if (ok) {
        L.requests_done++;
        if (L.tick >= 0)
            L.tick_ok[L.tick]++;
    } else if (memmem(line, len, "\"overloaded\"", 12) != NULL) {
        L.overloaded++;
        if (L.tick >= 0)
            L.tick_over[L.tick]++;
    } else if (L.tick >= 0 && memmem(line, len, "\"not_found\"", 11) != NULL) {
        L.not_found++;
    } else {
        if (L.errors < 3)
            fprintf(stderr, "ringq-load: %.*s\n", (int)len, line);
        L.errors++;
    }
}

/* Offers mode: an agent's push. */
static void
on_push(struct conn *c, const char *line, size_t len)
{
    char ev[32], contact[128];
    const char *dash;
    long k;

    if (str_field(line, len, "ev", ev, sizeof(ev)) == NULL || strcmp(ev, "offer") != 0)
        return;
    if (str_field(line, len, "contact", contact, sizeof(contact)) == NULL ||
        (dash = strchr(contact, '-')) == NULL)
        return;
    k = strtol(dash + 1, NULL, 10);
    if (k >= 0 && k < L.contacts)
        push_lat(&L.lat_offer, &L.n_offer, &L.cap_offer, (now_s() - L.t_new[k]) * 1e6);
    send_req(c, "{\"id\":%ld,\"op\":\"offer.accept\",\"contact\":\"%s\"}\n", L.n_req, contact);
    send_req(c, "{\"id\":%ld,\"op\":\"contact.end\",\"contact\":\"%s\"}\n", L.n_req, contact);
    L.in_flight--;
    L.ended++;
}

static void
read_conn(struct conn *c)
{
    ssize_t n = read(c->fd, c->in + c->ilen, IN_CAP - c->ilen);
    char *p, *nl;

    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        die("read");
    }
    if (n == 0) {
        fprintf(stderr, "ringq-load: %s: connection closed by the server\n", c->name);
        exit(1);
    }
    c->ilen += (size_t)n;
    p = c->in;
    while ((nl = memchr(p, '\n', c->ilen - (size_t)(p - c->in))) != NULL) {
        size_t len = (size_t)(nl - p);
        if (len > 5 && memcmp(p, "{\"ev\"", 5) == 0)
            on_push(c, p, len);
        else
            on_reply(c, p, len);
        p = nl + 1;
    }
    c->ilen -= (size_t)(p - c->in);
    memmove(c->in, p, c->ilen);
}

static struct conn *
add_conn(int port, enum kind kind, const char *name)
{
    struct conn *c = &L.conns[L.n_conns++];

    if (L.n_conns > MAX_CONNS) {
        fprintf(stderr, "ringq-load: at most %d connections\n", MAX_CONNS);
        exit(2);
    }
    memset(c, 0, sizeof(*c));
    c->fd = connect_to(port);
    c->kind = kind;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->in = xrealloc(NULL, IN_CAP);
    if (kind == K_SOURCE)
        send_req(c,
                 "{\"id\":%ld,\"op\":\"hello\",\"role\":\"source\",\"name\":\"%s\","
                 "\"token\":\"%s\"}\n",
                 L.n_req, name, L.token);
    else
        send_req(c,
                 "{\"id\":%ld,\"op\":\"hello\",\"role\":\"agent\",\"agent\":\"%s\","
                 "\"token\":\"%s\"}\n",
                 L.n_req, name, L.agent_token);
    return c;
}

/* One poll round: write what is queued, read what came. */
static int
pump(int timeout_ms)
{
    struct pollfd pfd[MAX_CONNS];
    int n;

    for (int i = 0; i < L.n_conns; i++) {
        flush_out(&L.conns[i]);
        pfd[i].fd = L.conns[i].fd;
        pfd[i].events = (short)(POLLIN | (L.conns[i].olen > 0 ? POLLOUT : 0));
    }
    n = poll(pfd, (nfds_t)L.n_conns, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("poll");
    for (int i = 0; n > 0 && i < L.n_conns; i++)
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            read_conn(&L.conns[i]);
    return n;
}

static int
all_ready(void)
{
    for (int i = 0; i < L.n_conns; i++)
        if (!L.conns[i].ready)
            return 0;
    return 1;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
print_pct(const char *what, double *a, long n)
{
    if (n == 0)
        return;
    qsort(a, (size_t)n, sizeof(double), cmp_double);
    printf("  %s_p50_us %.0f  %s_p99_us %.0f  %s_p999_us %.0f", what, a[n / 2], what,
           a[(long)(n * 0.99)], what, a[(long)(n * 0.999)]);
}

/* Run until done() or a stall; progress is anything replied. */
static void
run_until(int (*done)(void), void (*feed)(void))
{
    double last = now_s();
    long seen = L.replies;

    while (!done()) {
        feed();
        pump(L.pace > 0 ? 1 : 10);
        if (L.replies != seen) {
            seen = L.replies;
            last = now_s();
        } else if (now_s() - last > STALL_S) {
            fprintf(stderr, "ringq-load: no reply for %.0f s (%ld replies)\n", STALL_S, L.replies);
            exit(1);
        }
    }
}

static void
feed_windows(void)
{
    for (int i = 0; i < L.n_sources; i++)
        fill_window(&L.conns[i]);
}

static int
windows_done(void)
{
    for (int i = 0; i < L.n_sources; i++)
        if (L.conns[i].next < L.conns[i].end || L.conns[i].outstanding > 0)
            return 0;
    return 1;
}

static void
feed_offers(void)
{
    start_contacts();
}

static int
offers_done(void)
{
    for (int i = 0; i < L.n_conns; i++)
        if (L.conns[i].outstanding > 0)
            return 0;
    return L.ended >= L.contacts;
}

static int
setup_done(void)
{
    return all_ready();
}

static void
feed_nothing(void)
{
}

/* Overload mode: windowed for secs, counting replies per tick. */
static double
windowed_for(double secs, double t0)
{
    double start = now_s(), last = start;
    long done0 = L.requests_done;

    for (int i = 0; i < L.n_sources; i++)
        L.conns[i].end = L.conns[i].next + 100000000L;
    while (now_s() - start < secs) {
        feed_windows();
        pump(5);
        L.tick = (int)((now_s() - t0) / TICK_S);
        if (L.tick >= MAX_TICKS)
            L.tick = MAX_TICKS - 1;
        if (now_s() - last >= TICK_S / 5) {
            last = now_s();
            long r = rss_kib(L.server_pid);
            if (r > L.tick_rss[L.tick])
                L.tick_rss[L.tick] = r;
        }
    }
    /* stop generating; abandon what was announced so the next phase starts clean */
    for (int i = 0; i < L.n_sources; i++) {
        struct conn *c = &L.conns[i];
        if (c->next % 2 == 1) {
            contact_abandon(c, c->next / 2);
            c->next++;
        }
        c->end = c->next;
    }
    return (double)(L.requests_done - done0) / (now_s() - start);
}

static void
overload(double rate, double secs)
{
    double t0 = now_s(), base, start, last_rss = 0;
    long sent = 0, ok0, over0;
    int burst_end_tick, back_tick = -1;
    long budget_ok;

    L.tick = 0;
    base = windowed_for(WARM_S, t0);
    run_until(windows_done, feed_windows);
    if (rate <= 0)
        rate = 2 * base;
    ok0 = L.requests_done;
    over0 = L.overloaded;
    start = now_s();
    /* open loop: events are due at start + i / rate; a connection whose
     * output is full (the server stopped reading) is skipped */
    while (now_s() - start < secs) {
        double t = now_s();
        long due = (long)((t - start) * rate);
        int stuck = 0;
        while (sent < due && stuck < L.n_sources) {
            struct conn *c = &L.conns[sent % L.n_sources];
            if (c->olen >= OUT_CAP) {
                stuck++;
                sent++;
                L.skipped++;
                continue;
            }
            if (c->next % 2 == 0)
                contact_new(c, c->next / 2);
            else
                contact_abandon(c, c->next / 2);
            c->next++;
            sent++;
        }
        pump(1);
        L.tick = (int)((now_s() - t0) / TICK_S);
        if (L.tick >= MAX_TICKS)
            L.tick = MAX_TICKS - 1;
        if (now_s() - last_rss >= TICK_S / 5) {
            last_rss = now_s();
            long r = rss_kib(L.server_pid);
            if (r > L.tick_rss[L.tick])
                L.tick_rss[L.tick] = r;
        }
    }
    burst_end_tick = L.tick + 1;
    for (int i = 0; i < L.n_sources; i++) {
        struct conn *c = &L.conns[i];
        if (c->next % 2 == 1) {
            contact_abandon(c, c->next / 2);
            c->next++;
        }
        c->end = c->next;
    }
    printf("overload: sustainable %.0f events/s (windowed, %.0f s); burst %.0f s offered at "
           "%.0f events/s: %ld ok, %ld overloaded, %ld abandons of refused contacts "
           "(not_found), %ld not sent (server not reading)\n",
           base, WARM_S, secs, rate, L.requests_done - ok0, L.overloaded - over0, L.not_found,
           L.skipped);
    windowed_for(RECOVER_S, t0);
    run_until(windows_done, feed_windows);
    budget_ok = (long)(0.9 * base * TICK_S);
    printf("%-8s %10s %12s %10s\n", "t_s", "ok/s", "overloaded/s", "rss_kib");
    for (int i = 0; i <= L.tick && i < MAX_TICKS; i++) {
        printf("%-8.1f %10.0f %12.0f %10ld%s\n", i * TICK_S, L.tick_ok[i] / TICK_S,
               L.tick_over[i] / TICK_S, L.tick_rss[i],
               i < (int)(WARM_S / TICK_S) ? "  before"
               : i < burst_end_tick       ? "  burst"
                                          : "");
        if (i >= burst_end_tick && back_tick < 0 && L.tick_ok[i] >= budget_ok)
            back_tick = i;
    }
    if (back_tick < 0)
        printf("recovery: throughput not back to 90%% of %.0f events/s within %.0f s\n", base,
               RECOVER_S);
    else
        printf("recovery: back to >= 90%% of %.0f events/s within %.1f s of the burst's end\n",
               base, (back_tick - burst_end_tick + 1) * TICK_S);
}

int
main(int argc, char **argv)
{
    int port = 7340, opt, conns = 1, agents = 0, redis_pid = 0;
    long contacts = 100000;
    const char *source = "pbx1", *agent_prefix = "a";
    double t0, t1, cpu0, cpu1, rcpu0, rcpu1, rate = -1, secs = 3;
    char name[64];

    L.window = 256;
    L.queue = "sales";
    L.token = "demo";
    L.agent_token = "demo";
    L.k_in_flight = 4;
    L.tick = -1;
    while ((opt = getopt(argc, argv, "p:n:w:c:q:t:s:a:k:T:i:O:d:P:R:r:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            contacts = atol(optarg);
            break;
        case 'w':
            L.window = atol(optarg);
            break;
        case 'c':
            conns = atoi(optarg);
            break;
        case 'q':
            L.queue = optarg;
            break;
        case 't':
            L.token = optarg;
            break;
        case 's':
            source = optarg;
            break;
        case 'a':
            agents = atoi(optarg);
            break;
        case 'k':
            L.k_in_flight = atol(optarg);
            break;
        case 'T':
            L.agent_token = optarg;
            break;
        case 'i':
            agent_prefix = optarg;
            break;
        case 'O':
            rate = atof(optarg);
            break;
        case 'd':
            secs = atof(optarg);
            break;
        case 'P':
            L.server_pid = atoi(optarg);
            break;
        case 'R':
            redis_pid = atoi(optarg);
            break;
        case 'r':
            L.pace = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: ringq-load -p PORT [-n CONTACTS] [-w WINDOW] [-c CONNS] "
                            "[-a AGENTS -k IN_FLIGHT] [-O RATE -d SECONDS] [-P PID] [-R PID]\n");
            return 2;
        }
    }
    if (conns < 1 || conns + agents > MAX_CONNS || L.window < 1) {
        fprintf(stderr, "ringq-load: bad -c/-a/-w\n");
        return 2;
    }
    L.run = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    if (agents > 0)
        conns = 1;
    for (int i = 0; i < conns; i++) {
        if (conns == 1)
            snprintf(name, sizeof(name), "%s", source);
        else
            snprintf(name, sizeof(name), "%s%d", source, i + 1);
        add_conn(port, K_SOURCE, name);
    }
    L.n_sources = conns;
    for (int i = 0; i < agents; i++) {
        snprintf(name, sizeof(name), "%s%d", agent_prefix, i + 1);
        add_conn(port, K_AGENT, name);
    }
    run_until(setup_done, feed_nothing);
    L.replies = L.requests_done = 0;

    if (rate >= 0) {
        for (int i = 0; i < conns; i++) /* distinct contact numbers per connection */
            L.conns[i].next = L.conns[i].end = 2 * 100000000L * i;
        overload(rate, secs);
        return 0;
    }
    L.measure_reply = 1;
    cpu0 = cpu_us(L.server_pid);
    rcpu0 = cpu_us(redis_pid);
    t0 = L.t_start = now_s();
    if (agents > 0) {
        L.contacts = contacts;
        L.t_new = xrealloc(NULL, (size_t)contacts * sizeof(double));
        run_until(offers_done, feed_offers);
    } else {
        /* contacts are spread over the connections, two events each */
        for (int i = 0; i < conns; i++) {
            long share = contacts / conns + (i < contacts % conns);
            /* distinct contact numbers per connection */
            L.conns[i].next = 2 * (contacts / conns + 1) * i;
            L.conns[i].end = L.conns[i].next + 2 * share;
        }
        run_until(windows_done, feed_windows);
    }
    t1 = now_s();
    cpu1 = cpu_us(L.server_pid);
    rcpu1 = cpu_us(redis_pid);
    printf("events %ld  seconds %.3f  events/s %.0f  errors %ld", L.replies, t1 - t0,
           (double)L.replies / (t1 - t0), L.errors);
    if (L.server_pid > 0)
        printf("  cpu_us/ev %.2f", (cpu1 - cpu0) / (double)L.replies);
    if (redis_pid > 0)
        printf("  redis_us/ev %.2f", (rcpu1 - rcpu0) / (double)L.replies);
    print_pct("reply", L.lat_reply, L.n_reply);
    print_pct("offer", L.lat_offer, L.n_offer);
    printf("\n");
    return L.errors ? 1 : 0;
}
