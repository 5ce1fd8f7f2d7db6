/*
 * top.c - `ringqctl top` (see top.h).
 *
 * The view subscribes to the queues and agents topics first and takes a
 * snapshot second (pushes that arrive before the snapshot's reply are older
 * than it and are dropped), then applies each queue_stats and agent_state
 * push to its copy. It redraws at most every REDRAW_MIN_MS when something
 * changed, and every TICK_MS anyway so that clocks and waits move.
 *
 * Plain ANSI escape codes rather than curses: the view is one full-screen
 * frame of text lines, redrawn whole (cursor home, each line cleared to its
 * end); that needs only cursor-home, clear-line, clear-below, the alternate
 * screen and cursor hiding, which every terminal ringq runs on understands,
 * and it keeps ringqctl free of a library dependency.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "table.h"
#include "top.h"

#define REDRAW_MIN_MS 200  /* at most five frames a second */
#define TICK_MS       1000 /* a frame at least this often (clock, waits) */

/* The "agents" members of queue views, in the order shown. */
static const char *const agent_states[] = {"ready", "not_ready", "reserved",
                                           "busy",  "wrap_up",   "logged_out"};
#define N_STATES ((int)(sizeof(agent_states) / sizeof(agent_states[0])))

struct top {
    struct ctl_conn *c;   /* the monitor connection */
    const char *where;    /* the daemon's address, for the title */
    const char *version;  /* the daemon's version */
    json_t *queue_order;  /* queue names, in the daemon's order */
    json_t *queues;       /* name -> latest stats (queue view or queue_stats push) */
    json_t *queue_seen;   /* name -> monotonic ms the stats arrived */
    json_t *agent_order;  /* agent ids, in the daemon's order */
    json_t *agents;       /* id -> latest agent_state */
    json_t *redis;        /* the store's state, or NULL */
    double uptime_s;      /* the daemon's uptime at snapshot time (-1: unknown) */
    long long snap_ms;    /* monotonic ms of the snapshot */
    int rows, cols;       /* terminal size */
    int dirty;            /* something changed since the last frame */
    long long drawn_ms;   /* monotonic ms of the last frame */
    int tty;              /* stdout is a terminal */
    struct termios saved; /* terminal settings to restore */
    int termios_saved;    /* saved is valid */
};

static volatile sig_atomic_t got_winch; /* the terminal was resized */
static volatile sig_atomic_t got_stop;  /* SIGINT/SIGTERM/SIGHUP: leave */

static void
on_winch(int sig)
{
    (void)sig;
    got_winch = 1;
}

static void
on_stop(int sig)
{
    (void)sig;
    got_stop = 1;
}

static long long
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
term_size(struct top *t)
{
    struct winsize ws;

    t->rows = 24;
    t->cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        t->rows = ws.ws_row;
        t->cols = ws.ws_col;
    }
}

static void
out(const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Keys one at a time, no echo; alternate screen, cursor hidden. */
static void
term_enter(struct top *t)
{
    struct termios raw;

    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
        raw = t->saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            t->termios_saved = 1;
    }
    if (t->tty)
        out("\033[?1049h\033[?25l\033[2J");
}

static void
term_leave(struct top *t)
{
    if (t->tty)
        out("\033[?25h\033[?1049l");
    if (t->termios_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

/* --- the state --- */

static void
put_queue(struct top *t, const char *name, json_t *stats)
{
    if (json_object_get(t->queues, name) == NULL)
        json_array_append_new(t->queue_order, json_string(name));
    json_object_set(t->queues, name, stats);
    json_object_set_new(t->queue_seen, name, json_integer(mono_ms()));
    t->dirty = 1;
}

static void
put_agent(struct top *t, const char *id, json_t *state)
{
    if (json_object_get(t->agents, id) == NULL)
        json_array_append_new(t->agent_order, json_string(id));
    json_object_set(t->agents, id, state);
    t->dirty = 1;
}

static void
apply_push(struct top *t, json_t *msg)
{
    const char *ev = json_string_value(json_object_get(msg, "ev"));
    const char *id;

    if (ev == NULL)
        return;
    if (strcmp(ev, "queue_stats") == 0 &&
        (id = json_string_value(json_object_get(msg, "queue"))) != NULL) {
        put_queue(t, id, msg);
    } else if (strcmp(ev, "agent_state") == 0 &&
               (id = json_string_value(json_object_get(msg, "agent"))) != NULL) {
        put_agent(t, id, msg);
    } else if (strcmp(ev, "redis") == 0) {
        json_decref(t->redis);
        t->redis = json_incref(msg);
        t->dirty = 1;
    }
}

static void
apply_snapshot(struct top *t, json_t *snap)
{
    json_t *v;
    size_t i;

    json_array_foreach (json_object_get(snap, "queues"), i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name != NULL)
            put_queue(t, name, v);
    }
    json_array_foreach (json_object_get(snap, "agents"), i, v) {
        const char *id = json_string_value(json_object_get(v, "agent"));
        if (id != NULL)
            put_agent(t, id, v);
    }
    v = json_object_get(snap, "redis");
    if (v != NULL)
        t->redis = json_incref(v);
    v = json_object_get(snap, "uptime_s");
    t->uptime_s = json_is_number(v) ? json_number_value(v) : -1;
    t->snap_ms = mono_ms();
}

/* --- drawing --- */

static void
draw_title(struct top *t, FILE *f)
{
    char up[32] = "", clock[16];
    time_t now = time(NULL);
    struct tm tm;
    const char *redis = "off";

    if (t->uptime_s >= 0) {
        json_t *s = json_real(t->uptime_s + (double)(mono_ms() - t->snap_ms) / 1000.0);
        char d[24];
        snprintf(up, sizeof(up), "  up %s", ctl_fmt_duration(d, sizeof(d), s));
        json_decref(s);
    }
    localtime_r(&now, &tm);
    strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    /* snapshot: {"enabled", "connected", ...}; a later push: {"connected", ...} */
    if (t->redis != NULL && !json_is_false(json_object_get(t->redis, "enabled")))
        redis = json_is_true(json_object_get(t->redis, "connected")) ? "connected" : "DOWN";
    fprintf(f, "ringqd %s at %s%s  redis %s  %s  (q quits)\n", t->version, t->where, up, redis,
            clock);
}

static void
draw_queues(struct top *t, FILE *f)
{
    static const char *const head[] = {"QUEUE", "WAITING", "LONGEST", "SL%",   "GOAL%", "VS GOAL",
                                       "OFFER", "ANSW",    "ABAND",   "READY", "BUSY",  "NOT_RDY"};
    struct ctl_table tb;
    json_t *name;
    size_t i;

    if (ctl_table_init(&tb, 12, head, "lrrrrrrrrrrr") < 0)
        return;
    json_array_foreach (t->queue_order, i, name) {
        const char *n = json_string_value(name);
        json_t *q = json_object_get(t->queues, n), *ag = json_object_get(q, "agents");
        json_t *lw = json_object_get(q, "longest_wait_s"),
               *sl = json_object_get(q, "service_level");
        json_t *goal = json_object_get(q, "goal_percent"), *tmp = NULL;
        char b[12][32];
        const char *cells[12];
        long long waiting = json_integer_value(json_object_get(q, "waiting"));
        long long working = 0;

        /* The longest wait keeps growing between pushes while anyone waits. */
        if (waiting > 0 && json_is_number(lw)) {
            long long seen = json_integer_value(json_object_get(t->queue_seen, n));
            tmp = json_real(json_number_value(lw) + (double)(mono_ms() - seen) / 1000.0);
            lw = tmp;
        }
        cells[0] = n;
        cells[1] = ctl_fmt_scalar(b[1], sizeof(b[1]), json_object_get(q, "waiting"));
        cells[2] = waiting > 0 ? ctl_fmt_duration(b[2], sizeof(b[2]), lw) : "-";
        cells[3] = ctl_fmt_percent(b[3], sizeof(b[3]), sl);
        cells[4] = ctl_fmt_percent(b[4], sizeof(b[4]), goal);
        cells[5] = "-";
        if (json_is_number(sl) && json_is_number(goal)) {
            double d = json_number_value(sl) - json_number_value(goal);
            snprintf(b[5], sizeof(b[5]), "%+.1f%s", d, d < 0 ? " BELOW" : "");
            cells[5] = b[5];
        }
        cells[6] = ctl_fmt_scalar(b[6], sizeof(b[6]), json_object_get(q, "offered"));
        cells[7] = ctl_fmt_scalar(b[7], sizeof(b[7]), json_object_get(q, "answered"));
        cells[8] = ctl_fmt_scalar(b[8], sizeof(b[8]), json_object_get(q, "abandoned"));
        cells[9] = ctl_fmt_scalar(b[9], sizeof(b[9]), json_object_get(ag, "ready"));
        working = json_integer_value(json_object_get(ag, "reserved")) +
                  json_integer_value(json_object_get(ag, "busy")) +
                  json_integer_value(json_object_get(ag, "wrap_up"));
        snprintf(b[10], sizeof(b[10]), "%lld", working);
        cells[10] = b[10];
        cells[11] = ctl_fmt_scalar(b[11], sizeof(b[11]), json_object_get(ag, "not_ready"));
        json_decref(tmp);
        ctl_table_add(&tb, cells);
    }
    ctl_table_print(&tb, f, 0);
    ctl_table_free(&tb);
}

/* The agents line, then a table of the logged-in agents in `room` lines
 * at most (header and a "more" line included). */
static void
draw_agents(struct top *t, FILE *f, int room)
{
    static const char *const head[] = {"AGENT", "STATE", "REASON", "FOR"};
    int counts[N_STATES] = {0};
    struct ctl_table tb;
    json_t *id;
    size_t i;
    long long now = (long long)time(NULL) * 1000;
    int shown = 0, hidden = 0, logged_in = 0, fit;

    json_array_foreach (t->agent_order, i, id) {
        const char *st = json_string_value(
            json_object_get(json_object_get(t->agents, json_string_value(id)), "state"));
        for (int k = 0; st != NULL && k < N_STATES; k++)
            if (strcmp(st, agent_states[k]) == 0)
                counts[k]++;
        logged_in += st != NULL && strcmp(st, "logged_out") != 0;
    }
    fputs("AGENTS ", f);
    for (int k = 0; k < N_STATES; k++)
        fprintf(f, " %s %d", agent_states[k], counts[k]);
    fputc('\n', f);
    /* rows that fit under the header, one fewer when a "more" line is needed */
    fit = logged_in <= room - 1 ? logged_in : room - 2;
    if (fit < 1 || ctl_table_init(&tb, 4, head, "lllr") < 0)
        return;
    json_array_foreach (t->agent_order, i, id) {
        json_t *a = json_object_get(t->agents, json_string_value(id));
        json_t *since = json_object_get(a, "since_ms"), *dur = NULL;
        const char *st = json_string_value(json_object_get(a, "state"));
        const char *cells[4];
        char b[2][32];

        if (st == NULL || strcmp(st, "logged_out") == 0)
            continue;
        if (shown >= fit) {
            hidden++;
            continue;
        }
        if (json_is_integer(since) && now > json_integer_value(since))
            dur = json_real((double)(now - json_integer_value(since)) / 1000.0);
        cells[0] = json_string_value(id);
        cells[1] = st;
        cells[2] = ctl_fmt_scalar(b[0], sizeof(b[0]), json_object_get(a, "reason"));
        cells[3] = ctl_fmt_duration(b[1], sizeof(b[1]), dur);
        json_decref(dur);
        ctl_table_add(&tb, cells);
        shown++;
    }
    ctl_table_print(&tb, f, 0);
    ctl_table_free(&tb);
    if (hidden > 0)
        fprintf(f, "(%d more logged in)\n", hidden);
}

/* Emit text as a frame: at most rows lines of at most cols - 1 characters
 * (a character in the last column would leave the cursor waiting to wrap,
 * where clearing the line's end erases it), each cleared to its end, the
 * rest of the screen cleared. */
static void
emit_frame(struct top *t, const char *text)
{
    size_t cap = strlen(text) + (size_t)t->rows * 8 + 64, o = 0;
    char *buf = malloc(cap);
    const char *p = text;
    int line = 0;

    if (buf == NULL)
        return;
    if (t->tty)
        o += (size_t)snprintf(buf + o, cap - o, "\033[H");
    while (*p != '\0' && line < t->rows) {
        const char *e = strchr(p, '\n');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p), chars = 0, k;

        for (k = 0; k < n; k++) {
            if (((unsigned char)p[k] & 0xc0) != 0x80 && chars++ == (size_t)t->cols - 1)
                break;
            buf[o++] = p[k];
        }
        if (t->tty)
            o += (size_t)snprintf(buf + o, cap - o, "\033[K");
        line++;
        if (line < t->rows || !t->tty)
            buf[o++] = '\n';
        p = e != NULL ? e + 1 : p + n;
    }
    if (t->tty)
        o += (size_t)snprintf(buf + o, cap - o, "\033[J");
    buf[o] = '\0';
    out(buf);
    free(buf);
}

static void
draw(struct top *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int used;

    if (f == NULL)
        return;
    draw_title(t, f);
    fputc('\n', f);
    draw_queues(t, f);
    fputc('\n', f);
    /* title, blank, header, the queues, blank, the agents line */
    used = 5 + (int)json_array_size(t->queue_order);
    draw_agents(t, f, t->rows - used);
    fclose(f);
    emit_frame(t, text);
    free(text);
    t->dirty = 0;
    t->drawn_ms = mono_ms();
}

/* --- the loop --- */

static int
start(struct top *t, int timeout_ms)
{
    json_t *reply;
    char e[CTL_ERR_LEN + 64];
    enum ctl_status st;

    st = ctl_conn_request(
        t->c, json_pack("{s:s, s:[s,s]}", "op", "subscribe", "topics", "queues", "agents"),
        timeout_ms, &reply, NULL, NULL);
    if (st == CTL_OK) {
        json_decref(reply);
        st = ctl_conn_request(t->c, json_pack("{s:s}", "op", "snapshot"), timeout_ms, &reply, NULL,
                              NULL);
    }
    if (st == CTL_IO) {
        fprintf(stderr, "ringqctl: %s\n", t->c->err);
        return 3;
    }
    if (st == CTL_REFUSED) {
        ctl_reply_error(reply, e, sizeof(e));
        fprintf(stderr, "ringqctl: ringqd refused: %s\n", e);
        json_decref(reply);
        return 1;
    }
    apply_snapshot(t, reply);
    json_decref(reply);
    return 0;
}

static int
loop(struct top *t)
{
    int stdin_open = 1;

    for (;;) {
        struct pollfd p[2] = {{.fd = t->c->fd, .events = POLLIN},
                              {.fd = STDIN_FILENO, .events = POLLIN}};
        long long now = mono_ms(), wait;
        json_t *msg;
        int r;

        if (got_stop)
            return 0;
        if (got_winch) {
            got_winch = 0;
            term_size(t);
            if (t->tty)
                out("\033[2J");
            t->dirty = 1;
            t->drawn_ms = 0;
        }
        while ((r = ctl_conn_read(t->c, 0, &msg)) == 1) {
            apply_push(t, msg);
            json_decref(msg);
        }
        if (r < 0)
            return 3;
        now = mono_ms();
        if ((t->dirty && now - t->drawn_ms >= REDRAW_MIN_MS) || now - t->drawn_ms >= TICK_MS)
            draw(t);
        wait = t->dirty ? t->drawn_ms + REDRAW_MIN_MS - now : t->drawn_ms + TICK_MS - now;
        if (wait < 0)
            wait = 0;
        r = poll(p, stdin_open ? 2 : 1, (int)wait);
        if (r < 0 && errno != EINTR) {
            snprintf(t->c->err, sizeof(t->c->err), "poll: %s", strerror(errno));
            return 3;
        }
        if (r > 0 && stdin_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char keys[64];
            ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));
            if (n <= 0) {
                stdin_open = 0; /* no keyboard: run until a signal */
            }
            for (ssize_t k = 0; k < n; k++)
                if (keys[k] == 'q' || keys[k] == 'Q')
                    return 0;
        }
    }
}

int
ctl_top_run(struct ctl_conn *c, const char *where, const char *version, int timeout_ms)
{
    struct top t = {.c = c, .where = where, .version = version, .uptime_s = -1};
    struct sigaction sa, old_winch, old_int, old_term, old_hup;
    int rc;

    t.queue_order = json_array();
    t.queues = json_object();
    t.queue_seen = json_object();
    t.agent_order = json_array();
    t.agents = json_object();
    if (t.queue_order == NULL || t.queues == NULL || t.queue_seen == NULL ||
        t.agent_order == NULL || t.agents == NULL) {
        rc = 3;
        fprintf(stderr, "ringqctl: out of memory\n");
        goto done;
    }
    if ((rc = start(&t, timeout_ms)) != 0)
        goto done;
    t.tty = isatty(STDOUT_FILENO);
    term_size(&t);
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_winch; /* no SA_RESTART: poll returns at once */
    sigaction(SIGWINCH, &sa, &old_winch);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    term_enter(&t);
    draw(&t);
    rc = loop(&t);
    term_leave(&t);
    sigaction(SIGWINCH, &old_winch, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (rc == 3)
        fprintf(stderr, "ringqctl: %s\n", c->err);
done:
    json_decref(t.queue_order);
    json_decref(t.queues);
    json_decref(t.queue_seen);
    json_decref(t.agent_order);
    json_decref(t.agents);
    json_decref(t.redis);
    return rc;
}
