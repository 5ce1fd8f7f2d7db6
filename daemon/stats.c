/* stats.c - service levels, intervals, agent figures and Erlang C (see stats.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

double
rq_stats_service_level(const struct rq_qcounters *c, enum rq_sl_variant v)
{
    double at = (double)c->answered_in_target, a = (double)c->answered;
    double o = (double)(c->answered + c->abandoned), bt = (double)c->abandoned_in_target;

    switch (v) {
    case RQ_SL_ANSWERED_ONLY:
        return a > 0 ? 100.0 * at / a : -1;
    case RQ_SL_ABANDONS_NEGATIVE:
        return o > 0 ? 100.0 * at / o : -1;
    case RQ_SL_ABANDONS_IGNORED:
        return o - bt > 0 ? 100.0 * at / (o - bt) : -1;
    case RQ_SL_ABANDONS_POSITIVE:
        return o > 0 ? 100.0 * (at + bt) / o : -1;
    }
    return -1;
}

double
rq_stats_asa_s(const struct rq_qcounters *c)
{
    return c->answered ? (double)c->wait_ms_answered / 1000.0 / (double)c->answered : 0;
}

double
rq_stats_aht_s(const struct rq_qcounters *c)
{
    return c->handled ? (double)c->handle_ms / 1000.0 / (double)c->handled : 0;
}

double
rq_stats_waited_percent(const struct rq_qcounters *c)
{
    uint64_t imm = c->answered_immediately < c->answered ? c->answered_immediately : c->answered;

    return c->answered ? 100.0 * (double)(c->answered - imm) / (double)c->answered : -1;
}

double
rq_stats_rings_percent(const struct rq_qcounters *c)
{
    return c->answered ? 100.0 * (double)c->answered_in_rings / (double)c->answered : -1;
}

void
rq_stats_ewt_error(const struct rq_qcounters *c, struct rq_ewt_error *out)
{
    double n = (double)c->ewt_answered;

    out->n = c->ewt_answered;
    out->mean_abs_s = 0;
    out->mean_signed_s = 0;
    if (c->ewt_answered == 0)
        return;
    out->mean_abs_s = ((double)c->ewt_over_ms + (double)c->ewt_under_ms) / 1000.0 / n;
    out->mean_signed_s = ((double)c->ewt_over_ms - (double)c->ewt_under_ms) / 1000.0 / n;
}

/*
 * Intervals.
 */

static uint64_t
interval_start(uint64_t t)
{
    return t - t % RQ_STATS_INTERVAL_MS;
}

/* Append a completed interval, growing the ring up to RQ_STATS_INTERVALS.
 * While it grows the ring is linear (slots 0..n-1, oldest first); once at
 * full size the oldest slot is overwritten. */
static int
push(struct rq_intervals *iv, const struct rq_interval *x)
{
    if (iv->n == iv->cap && iv->cap < RQ_STATS_INTERVALS) {
        int cap = iv->cap ? iv->cap * 2 : 4;
        struct rq_interval *ring;

        if (cap > RQ_STATS_INTERVALS)
            cap = RQ_STATS_INTERVALS;
        if ((ring = realloc(iv->ring, sizeof(*ring) * (size_t)cap)) == NULL)
            return -1;
        iv->ring = ring;
        iv->head = iv->n;
        iv->cap = cap;
    }
    iv->ring[iv->head] = *x;
    iv->head = (iv->head + 1) % iv->cap;
    if (iv->n < iv->cap)
        iv->n++;
    return 0;
}

int
rq_stats_roll(struct rq_intervals *iv, uint64_t now_ms)
{
    uint64_t start = interval_start(now_ms), gap;
    struct rq_interval empty;
    int rc = 0;

    if (iv->since_ms == 0) {
        iv->since_ms = now_ms;
        iv->cur.start_ms = start;
        return 0;
    }
    if (start <= iv->cur.start_ms)
        return 0; /* the same interval, or a clock that moved back */
    if (push(iv, &iv->cur) < 0)
        rc = -1;
    /* Intervals that passed without a count: only the last ring's worth matter. */
    gap = (start - iv->cur.start_ms) / RQ_STATS_INTERVAL_MS - 1;
    if (gap > RQ_STATS_INTERVALS)
        gap = RQ_STATS_INTERVALS;
    for (uint64_t g = gap; g > 0; g--) {
        memset(&empty, 0, sizeof(empty));
        empty.start_ms = start - g * RQ_STATS_INTERVAL_MS;
        if (push(iv, &empty) < 0)
            rc = -1;
    }
    memset(&iv->cur, 0, sizeof(iv->cur));
    iv->cur.start_ms = start;
    return rc;
}

void
rq_stats_iv_free(struct rq_intervals *iv)
{
    free(iv->ring);
    memset(iv, 0, sizeof(*iv));
}

const struct rq_interval *
rq_stats_interval(const struct rq_intervals *iv, int back)
{
    if (back < 0 || back >= iv->n)
        return NULL;
    return &iv->ring[(iv->head - 1 - back + 2 * iv->cap) % iv->cap];
}

int
rq_stats_current(const struct rq_intervals *iv, uint64_t now_ms, struct rq_interval *out)
{
    uint64_t start = interval_start(now_ms);

    memset(out, 0, sizeof(*out));
    if (iv->since_ms == 0)
        return -1;
    if (start <= iv->cur.start_ms)
        *out = iv->cur;
    else
        out->start_ms = start;
    return 0;
}

int
rq_stats_last_complete(const struct rq_intervals *iv, uint64_t now_ms, struct rq_interval *out)
{
    uint64_t start = interval_start(now_ms);
    const struct rq_interval *newest;

    memset(out, 0, sizeof(*out));
    if (iv->since_ms == 0)
        return -1;
    if (start <= iv->cur.start_ms) {
        if ((newest = rq_stats_interval(iv, 0)) == NULL)
            return -1;
        *out = *newest;
    } else if (start == iv->cur.start_ms + RQ_STATS_INTERVAL_MS) {
        *out = iv->cur;
    } else {
        out->start_ms = start - RQ_STATS_INTERVAL_MS; /* passed without a count */
    }
    return 0;
}

/*
 * Agents.
 */

double
rq_stats_agent_occupancy(const struct rq_agent *a, uint64_t now_ms)
{
    uint64_t work = a->work_ms, staffed;

    if (a->presence == RQ_PRES_LOGGED_OUT || now_ms <= a->login_ms)
        return -1;
    if (a->work_since_ms != 0 && now_ms > a->work_since_ms)
        work += now_ms - a->work_since_ms;
    staffed = now_ms - a->login_ms;
    if (work > staffed)
        work = staffed;
    return 100.0 * (double)work / (double)staffed;
}

double
rq_stats_agent_aht_s(const struct rq_agent *a)
{
    return a->ended ? (double)a->handle_ms / 1000.0 / (double)a->ended : 0;
}

/*
 * Erlang C.
 */

double
rq_erlang_b(int agents, double traffic_erlangs)
{
    double b = 1.0;

    if (traffic_erlangs <= 0)
        return agents > 0 ? 0.0 : 1.0;
    for (int k = 1; k <= agents; k++)
        b = traffic_erlangs * b / ((double)k + traffic_erlangs * b);
    return b;
}

/* C from B: N B / (N - A (1 - B)), for N > A. */
static double
c_from_b(int n, double a, double b)
{
    return (double)n * b / ((double)n - a * (1.0 - b));
}

double
rq_erlang_c(int agents, double traffic_erlangs)
{
    if (traffic_erlangs <= 0)
        return 0.0;
    if ((double)agents <= traffic_erlangs)
        return 1.0;
    return c_from_b(agents, traffic_erlangs, rq_erlang_b(agents, traffic_erlangs));
}

/* SL from C: 1 - C exp(-(N - A) t / AHT), for N > A. */
static double
sl_from_c(int n, double a, double c, double target_s, double aht_s)
{
    if (aht_s <= 0)
        return 1.0 - c;
    return 1.0 - c * exp(-((double)n - a) * target_s / aht_s);
}

double
rq_erlang_sl(int agents, double traffic_erlangs, double target_s, double aht_s)
{
    if (traffic_erlangs <= 0)
        return 1.0;
    if ((double)agents <= traffic_erlangs)
        return 0.0;
    return sl_from_c(agents, traffic_erlangs, rq_erlang_c(agents, traffic_erlangs), target_s,
                     aht_s);
}

double
rq_erlang_asa(int agents, double traffic_erlangs, double aht_s)
{
    if (traffic_erlangs <= 0)
        return 0.0;
    if ((double)agents <= traffic_erlangs)
        return -1.0;
    return rq_erlang_c(agents, traffic_erlangs) * aht_s / ((double)agents - traffic_erlangs);
}

int
rq_staffing_needed(double rate_per_s, double aht_s, double target_s, double goal)
{
    double a = rate_per_s * aht_s, b = 1.0;

    if (!(rate_per_s >= 0) || !(aht_s >= 0) || !(target_s >= 0) || !(goal > 0) || goal > 1)
        return -1;
    if (a <= 0)
        return 0;
    /* One step of the Erlang B recursion per candidate N: linear in the answer. */
    for (int n = 1; n <= RQ_STATS_MAX_AGENTS; n++) {
        b = a * b / ((double)n + a * b);
        if ((double)n <= a)
            continue;
        if (sl_from_c(n, a, c_from_b(n, a, b), target_s, aht_s) >= goal)
            return n;
    }
    return -1;
}

int
rq_stats_staffing(const struct rq_queue *q, uint64_t now_ms, struct rq_staffing *out)
{
    const struct rq_conf_queue *qc = q->conf;
    struct rq_interval last, cur;
    uint64_t offered, handled, handle_ms, span;
    int have_last = rq_stats_last_complete(&q->iv, now_ms, &last) == 0;

    memset(out, 0, sizeof(*out));
    out->agents = -1;
    if (rq_stats_current(&q->iv, now_ms, &cur) < 0)
        return -1;
    if (have_last && last.start_ms >= q->iv.since_ms) {
        /* a whole interval counted */
        out->from_interval = 1;
        offered = last.c.offered;
        handled = last.c.handled;
        handle_ms = last.c.handle_ms;
        span = RQ_STATS_INTERVAL_MS;
    } else {
        /* live: everything since counting began (the running interval, and
         * the part of the last one ringqd saw) */
        offered = cur.c.offered + (have_last ? last.c.offered : 0);
        handled = cur.c.handled + (have_last ? last.c.handled : 0);
        handle_ms = cur.c.handle_ms + (have_last ? last.c.handle_ms : 0);
        span = now_ms > q->iv.since_ms ? now_ms - q->iv.since_ms : 0;
        if (span < RQ_STATS_MIN_LIVE_MS)
            span = RQ_STATS_MIN_LIVE_MS;
    }
    out->rate_per_s = (double)offered * 1000.0 / (double)span;
    if (handled > 0)
        out->aht_s = (double)handle_ms / 1000.0 / (double)handled;
    else if (q->total.handled > 0)
        out->aht_s = rq_stats_aht_s(&q->total);
    else
        out->aht_s = (double)qc->default_aht_ms / 1000.0;
    out->traffic = out->rate_per_s * out->aht_s;
    out->agents =
        rq_staffing_needed(out->rate_per_s, out->aht_s, (double)qc->target_ms[RQ_CH_VOICE] / 1000.0,
                           qc->goal_percent / 100.0);
    return out->agents;
}
