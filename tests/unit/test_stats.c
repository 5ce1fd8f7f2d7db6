/*
 * test_stats.c - statistics: every service-level variant on hand-computed
 * counters, Erlang C against published figures, the staffing advisor,
 * 15-minute intervals rolled by an injected clock, EWT error accounting,
 * and the counters the router keeps per queue, tier and agent.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"
#include "stats.h"

#define MIN_MS (60u * 1000u)
#define LEN    RQ_STATS_INTERVAL_MS
/* The clock's start: a whole number of intervals since the epoch. */
#define T0 (1700000100000ULL)

static void
assert_near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("got %.6f, want %.6f (+/- %g)", got, want, tol);
}

/* ---- service-level variants ---- */

/* The worked example of the service-level literature: 100 contacts offered,
 * 70 answered within target, 20 answered after it, 10 abandoned within
 * target. With A_t = 70, A = 90, B_t = 10, O = 100:
 *   abandons_negative  A_t / O            = 70 / 100  = 70 %
 *   answered_only      A_t / A            = 70 / 90   = 77.8 %
 *   abandons_ignored   A_t / (O - B_t)    = 70 / 90   = 77.8 %
 *   abandons_positive  (A_t + B_t) / O    = 80 / 100  = 80 %
 * so the three published figures 70 %, 77.8 % and 80 % are
 * abandons-negative, answered-only (= abandons-ignored here, as every
 * abandon came within target) and abandons-positive. */
static void
test_sl_worked_example(void **state)
{
    struct rq_qcounters c = {0};

    (void)state;
    c.offered = 100;
    c.answered = 90;
    c.answered_in_target = 70;
    c.abandoned = 10;
    c.abandoned_in_target = 10;
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_NEGATIVE), 70.0, 1e-9);
    assert_near(rq_stats_service_level(&c, RQ_SL_ANSWERED_ONLY), 700.0 / 9.0, 1e-9);
    assert_near(rq_stats_service_level(&c, RQ_SL_ANSWERED_ONLY), 77.8, 0.05);
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_IGNORED), 77.8, 0.05);
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_POSITIVE), 80.0, 1e-9);
}

/* Abandons after the target separate answered-only from abandons-ignored:
 * 60 answered within, 20 late, 5 abandoned within target and 15 after it
 * (3 of them short abandons, which the variants do not treat apart):
 * A_t 60, A 80, B_t 5, O 100. */
static void
test_sl_late_abandons(void **state)
{
    struct rq_qcounters c = {0};

    (void)state;
    c.offered = 100;
    c.answered = 80;
    c.answered_in_target = 60;
    c.abandoned = 20;
    c.abandoned_in_target = 5;
    c.short_abandoned = 3;
    assert_near(rq_stats_service_level(&c, RQ_SL_ANSWERED_ONLY), 75.0, 1e-9);      /* 60/80 */
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_NEGATIVE), 60.0, 1e-9);  /* 60/100 */
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_IGNORED), 6000.0 / 95.0, /* 60/95 */
                1e-9);
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_POSITIVE), 65.0, 1e-9); /* 65/100 */
}

/* Nothing measured yet: -1 (shown as null), also when every contact
 * abandoned within target (abandons-ignored has nothing left). */
static void
test_sl_empty(void **state)
{
    struct rq_qcounters c = {0};

    (void)state;
    for (int v = RQ_SL_ANSWERED_ONLY; v <= RQ_SL_ABANDONS_POSITIVE; v++)
        assert_true(rq_stats_service_level(&c, (enum rq_sl_variant)v) < 0);
    c.offered = c.abandoned = c.abandoned_in_target = 4;
    assert_true(rq_stats_service_level(&c, RQ_SL_ANSWERED_ONLY) < 0);
    assert_true(rq_stats_service_level(&c, RQ_SL_ABANDONS_IGNORED) < 0);
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_NEGATIVE), 0.0, 1e-9);
    assert_near(rq_stats_service_level(&c, RQ_SL_ABANDONS_POSITIVE), 100.0, 1e-9);
    assert_true(rq_stats_waited_percent(&c) < 0);
    assert_true(rq_stats_rings_percent(&c) < 0);
    assert_near(rq_stats_asa_s(&c), 0.0, 0);
    assert_near(rq_stats_aht_s(&c), 0.0, 0);
}

static void
test_asa_aht_waited_rings(void **state)
{
    struct rq_qcounters c = {0};

    (void)state;
    c.answered = 8;
    c.wait_ms_answered = 100000; /* 12.5 s each */
    c.handled = 4;
    c.handle_ms = 720000; /* 180 s each */
    c.answered_immediately = 6;
    c.answered_in_rings = 7;
    assert_near(rq_stats_asa_s(&c), 12.5, 1e-9);
    assert_near(rq_stats_aht_s(&c), 180.0, 1e-9);
    assert_near(rq_stats_waited_percent(&c), 25.0, 1e-9); /* 2 of 8 waited */
    assert_near(rq_stats_rings_percent(&c), 87.5, 1e-9);
}

static void
test_ewt_error(void **state)
{
    struct rq_qcounters c = {0};
    struct rq_ewt_error e;

    (void)state;
    rq_stats_ewt_error(&c, &e);
    assert_int_equal(e.n, 0);
    assert_near(e.mean_abs_s, 0, 0);
    assert_near(e.mean_signed_s, 0, 0);
    /* told 30 s, waited 40 s (+10); told 60 s, waited 30 s (-30); told 0, waited 2 s (+2) */
    c.ewt_answered = 3;
    c.ewt_over_ms = 12000;
    c.ewt_under_ms = 30000;
    rq_stats_ewt_error(&c, &e);
    assert_int_equal(e.n, 3);
    assert_near(e.mean_abs_s, 14.0, 1e-9);
    assert_near(e.mean_signed_s, -6.0, 1e-9);
}

/* ---- Erlang C ---- */

/* The published check: A = 10 Erlangs, N = 14, AHT 180 s, target 20 s:
 * P(wait) 0.17413, service level 0.88835 (ASA = C x AHT / (N - A)). */
static void
test_erlang_published(void **state)
{
    (void)state;
    assert_near(rq_erlang_c(14, 10.0), 0.17413, 0.5e-5);
    assert_near(rq_erlang_sl(14, 10.0, 20.0, 180.0), 0.88835, 0.5e-5);
    assert_near(rq_erlang_asa(14, 10.0, 180.0), 7.8359, 0.5e-4);
    /* the two other staffing levels of the load test */
    assert_near(rq_erlang_c(12, 10.0), 0.44939, 0.5e-5);
    assert_near(rq_erlang_sl(12, 10.0, 20.0, 180.0), 0.64016, 0.5e-5);
    assert_near(rq_erlang_asa(12, 10.0, 180.0), 40.4449, 0.5e-4);
    assert_near(rq_erlang_c(13, 10.0), 0.28527, 0.5e-5);
    assert_near(rq_erlang_sl(13, 10.0, 20.0, 180.0), 0.79559, 0.5e-5);
    assert_near(rq_erlang_asa(13, 10.0, 180.0), 17.1162, 0.5e-4);
    /* Erlang B tables: A = 3, N = 5 -> 0.1101; A = 10, N = 10 -> 0.2146 */
    assert_near(rq_erlang_b(5, 3.0), 0.11005, 0.5e-5);
    assert_near(rq_erlang_b(10, 10.0), 0.21458, 0.5e-5);
    /* one agent: C = A (the M/M/1 utilisation) */
    assert_near(rq_erlang_c(1, 0.25), 0.25, 1e-12);
}

/* The recursion stays finite where the textbook formula (A^N / N!)
 * overflows a double. */
static void
test_erlang_large(void **state)
{
    double c = rq_erlang_c(1100, 1000.0);

    (void)state;
    assert_true(c > 0 && c < 1);
    assert_true(rq_erlang_sl(1100, 1000.0, 20.0, 180.0) > 0.99);
    assert_true(rq_erlang_b(2000, 1000.0) >= 0 && rq_erlang_b(2000, 1000.0) < 1e-100);
}

static void
test_erlang_edges(void **state)
{
    (void)state;
    /* no traffic: nobody waits */
    assert_near(rq_erlang_c(3, 0.0), 0.0, 0);
    assert_near(rq_erlang_sl(3, 0.0, 20, 180), 1.0, 0);
    assert_near(rq_erlang_asa(3, 0.0, 180), 0.0, 0);
    /* as many agents as Erlangs or fewer: the queue grows without bound */
    assert_near(rq_erlang_c(10, 10.0), 1.0, 0);
    assert_near(rq_erlang_sl(9, 10.0, 20, 180), 0.0, 0);
    assert_near(rq_erlang_asa(10, 10.0, 180), -1.0, 0);
    /* a zero target: the share answered at once */
    assert_near(rq_erlang_sl(14, 10.0, 0, 180), 1.0 - rq_erlang_c(14, 10.0), 1e-12);
}

static void
test_staffing_needed(void **state)
{
    double rate = 10.0 / 180.0; /* 10 Erlangs at AHT 180 s */

    (void)state;
    /* SL at 20 s: N=12 0.640, 13 0.796, 14 0.888, 15 0.941, 16 0.971 */
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.80), 14);
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.79), 13);
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.60), 12);
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.95), 16);
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.88835), 14); /* 14 gives 0.8883500 */
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.8884), 15);
    /* always more agents than Erlangs, even for a modest goal */
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0.01), 11);
    assert_int_equal(rq_staffing_needed(0, 180, 20, 0.8), 0);
    /* a goal of 100 %: found where the figure rounds to 1 */
    assert_true(rq_staffing_needed(rate, 180, 20, 1.0) > 16);
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 0), -1);
    assert_int_equal(rq_staffing_needed(rate, 180, 20, 1.5), -1);
    assert_int_equal(rq_staffing_needed(-1, 180, 20, 0.8), -1);
    assert_int_equal(rq_staffing_needed(NAN, 180, 20, 0.8), -1);
    /* beyond the search limit */
    assert_int_equal(rq_staffing_needed(1e6, 180, 20, 0.8), -1);
}

/* ---- intervals, rolled by an injected clock ---- */

static void
test_interval_roll(void **state)
{
    struct rq_intervals iv = {0};
    struct rq_interval x;
    const struct rq_interval *p;

    (void)state;
    assert_int_equal(rq_stats_current(&iv, T0, &x), -1);
    assert_int_equal(rq_stats_last_complete(&iv, T0, &x), -1);
    assert_null(rq_stats_interval(&iv, 0));

    /* first count 5 minutes into an interval */
    assert_int_equal(rq_stats_roll(&iv, T0 + 5 * MIN_MS), 0);
    assert_int_equal(iv.since_ms, T0 + 5 * MIN_MS);
    assert_int_equal(iv.cur.start_ms, T0);
    iv.cur.c.offered += 3;
    assert_int_equal(rq_stats_roll(&iv, T0 + LEN - 1), 0); /* same interval */
    iv.cur.c.offered += 1;
    assert_int_equal(rq_stats_current(&iv, T0 + LEN - 1, &x), 0);
    assert_int_equal(x.start_ms, T0);
    assert_int_equal(x.c.offered, 4);
    assert_int_equal(rq_stats_last_complete(&iv, T0 + LEN - 1, &x), -1);

    /* its time is up, seen before any roll: the views still find it */
    assert_int_equal(rq_stats_last_complete(&iv, T0 + LEN, &x), 0);
    assert_int_equal(x.start_ms, T0);
    assert_int_equal(x.c.offered, 4);
    assert_int_equal(rq_stats_current(&iv, T0 + LEN, &x), 0);
    assert_int_equal(x.start_ms, T0 + LEN);
    assert_int_equal(x.c.offered, 0);

    /* the next count rolls it into the ring */
    assert_int_equal(rq_stats_roll(&iv, T0 + LEN + 1000), 0);
    assert_int_equal(iv.n, 1);
    assert_int_equal(iv.cur.start_ms, T0 + LEN);
    assert_int_equal(iv.cur.c.offered, 0);
    p = rq_stats_interval(&iv, 0);
    assert_non_null(p);
    assert_int_equal(p->start_ms, T0);
    assert_int_equal(p->c.offered, 4);
    iv.cur.c.offered = 7;

    /* a clock that moves back changes nothing */
    assert_int_equal(rq_stats_roll(&iv, T0 + 1000), 0);
    assert_int_equal(iv.n, 1);
    assert_int_equal(iv.cur.start_ms, T0 + LEN);

    /* three intervals later: the running one and two empty ones go in */
    assert_int_equal(rq_stats_last_complete(&iv, T0 + 4 * LEN + 5, &x), 0);
    assert_int_equal(x.start_ms, T0 + 3 * LEN); /* passed without a count */
    assert_int_equal(x.c.offered, 0);
    assert_int_equal(rq_stats_roll(&iv, T0 + 4 * LEN + 5), 0);
    assert_int_equal(iv.n, 4);
    assert_int_equal(rq_stats_interval(&iv, 0)->start_ms, T0 + 3 * LEN);
    assert_int_equal(rq_stats_interval(&iv, 1)->start_ms, T0 + 2 * LEN);
    assert_int_equal(rq_stats_interval(&iv, 2)->start_ms, T0 + LEN);
    assert_int_equal(rq_stats_interval(&iv, 2)->c.offered, 7);
    assert_int_equal(rq_stats_interval(&iv, 3)->start_ms, T0);
    assert_null(rq_stats_interval(&iv, 4));
    assert_int_equal(rq_stats_last_complete(&iv, T0 + 4 * LEN + 5, &x), 0);
    assert_int_equal(x.start_ms, T0 + 3 * LEN);

    /* a day and more: the ring keeps the last RQ_STATS_INTERVALS, in order */
    for (int k = 5; k <= 130; k++) {
        iv.cur.c.offered = (uint64_t)k - 1; /* interval k-1 offered k-1 */
        assert_int_equal(rq_stats_roll(&iv, T0 + (uint64_t)k * LEN), 0);
    }
    assert_int_equal(iv.n, RQ_STATS_INTERVALS);
    assert_int_equal(iv.cap, RQ_STATS_INTERVALS);
    for (int back = 0; back < RQ_STATS_INTERVALS; back++) {
        p = rq_stats_interval(&iv, back);
        assert_int_equal(p->start_ms, T0 + (uint64_t)(129 - back) * LEN);
        assert_int_equal(p->c.offered, 129 - back);
    }
    /* a gap longer than the ring: all empty, none older kept */
    assert_int_equal(rq_stats_roll(&iv, T0 + 400 * LEN), 0);
    assert_int_equal(iv.n, RQ_STATS_INTERVALS);
    for (int back = 0; back < RQ_STATS_INTERVALS; back++)
        assert_int_equal(rq_stats_interval(&iv, back)->start_ms, T0 + (uint64_t)(399 - back) * LEN);
    assert_int_equal(rq_stats_interval(&iv, RQ_STATS_INTERVALS - 1)->c.offered, 0);
    rq_stats_iv_free(&iv);
    assert_null(iv.ring);
    assert_int_equal(iv.n, 0);
}

/* The advisor when ringqd starts in the middle of an interval: the first,
 * partly counted interval is not taken for a whole one. */
static void
test_staffing_mid_interval(void **state)
{
    struct rq_conf_queue qc = {0};
    struct rq_queue q = {0};
    struct rq_staffing st;

    (void)state;
    qc.target_ms[RQ_CH_VOICE] = 20000;
    qc.goal_percent = 80;
    qc.default_aht_ms = 180000;
    q.conf = &qc;
    assert_int_equal(rq_stats_staffing(&q, T0, &st), -1);
    /* counting starts at 14:00; 20 offered in that last minute */
    rq_stats_roll(&q.iv, T0 + 14 * MIN_MS);
    q.iv.cur.c.offered = 20;
    /* 15:30: the first interval is complete but was counted for a minute
     * only: live, 30 offered over the 90 s since counting began */
    rq_stats_roll(&q.iv, T0 + LEN + 30000);
    q.iv.cur.c.offered = 10;
    rq_stats_staffing(&q, T0 + LEN + 30000, &st);
    assert_int_equal(st.from_interval, 0);
    assert_near(st.rate_per_s, 30.0 / 90.0, 1e-12);
    assert_near(st.aht_s, 180.0, 0); /* nothing ended: the default */
    assert_near(st.traffic, 60.0, 1e-9);
    assert_int_equal(st.agents, rq_staffing_needed(1.0 / 3.0, 180.0, 20.0, 0.8));
    /* ten seconds after start-up the live rate spans a minute at least */
    {
        struct rq_queue q2 = {0};
        q2.conf = &qc;
        rq_stats_roll(&q2.iv, T0);
        q2.iv.cur.c.offered = 3;
        q2.iv.cur.c.handled = 1;
        q2.iv.cur.c.handle_ms = 90000;
        rq_stats_staffing(&q2, T0 + 10000, &st);
        assert_near(st.rate_per_s, 3.0 / 60.0, 1e-12);
        assert_near(st.aht_s, 90.0, 1e-12);
        rq_stats_iv_free(&q2.iv);
    }
    /* 30:05: the interval 15:00-30:00 was counted whole */
    q.iv.cur.c.offered = 45;
    q.iv.cur.c.handled = 40;
    q.iv.cur.c.handle_ms = 40 * 120000;
    rq_stats_roll(&q.iv, T0 + 2 * LEN + 5000);
    rq_stats_staffing(&q, T0 + 2 * LEN + 5000, &st);
    assert_int_equal(st.from_interval, 1);
    assert_near(st.rate_per_s, 45.0 / 900.0, 1e-12);
    assert_near(st.aht_s, 120.0, 1e-12);
    assert_int_equal(st.agents, rq_staffing_needed(0.05, 120.0, 20.0, 0.8));
    rq_stats_iv_free(&q.iv);
}

/* ---- the router's counters, with an injected clock ---- */

enum { Q_SALES, Q_SUPPORT, N_QUEUES };
enum { TI_KEY, TI_STANDARD, N_TIERS };

struct fixture {
    uint64_t now;          /* the injected clock */
    struct rq_clock clock; /* reads now */
    struct rq_conf *conf;  /* built in code */
    struct rq_router *r;   /* under test */
};

static struct rq_conf *
make_conf(void)
{
    static const char *queues[N_QUEUES] = {"sales", "support"};
    static const char *tiers[N_TIERS] = {"key_account", "standard"};
    static const char *agents[] = {"a1", "a2"};
    struct rq_conf *c = calloc(1, sizeof(*c));

    c->max_line_bytes = RQ_DEFAULT_MAX_LINE;
    c->max_contacts = 100;
    c->random_seed = 7;
    c->n_tiers = N_TIERS;
    c->tiers = calloc(N_TIERS, sizeof(*c->tiers));
    for (int i = 0; i < N_TIERS; i++) {
        c->tiers[i].name = strdup(tiers[i]);
        c->tiers[i].rank = i;
        c->tiers[i].sla_factor = i == TI_KEY ? 0.5 : 1.0;
        c->tiers[i].max_wait_ms = 600000;
    }
    c->default_tier = TI_STANDARD;
    c->n_skills = 1;
    c->skills = calloc(1, sizeof(*c->skills));
    c->skills[0].name = strdup("sales");
    c->n_queues = N_QUEUES;
    c->queues = calloc(N_QUEUES, sizeof(*c->queues));
    for (int i = 0; i < N_QUEUES; i++) {
        struct rq_conf_queue *q = &c->queues[i];
        q->name = strdup(queues[i]);
        q->answer_rings = 3;
        q->ring_on_ms = 2000; /* 6 s a ring: 18 s voice target */
        q->ring_off_ms = 4000;
        q->target_ms[RQ_CH_VOICE] = 18000;
        q->target_ms[RQ_CH_CALLBACK] = 3600000;
        q->target_ms[RQ_CH_CHAT] = 60000;
        q->target_ms[RQ_CH_EMAIL] = 14400000;
        q->goal_percent = 80;
        q->sl_variant = RQ_SL_ABANDONS_IGNORED;
        q->short_abandon_ms = 5000;
        q->strategy = strdup("longest_idle");
        q->ring_timeout_ms = 10000;
        q->alert_percent = 80;
        q->priority_step_ms = 1000;
        q->default_aht_ms = 180000;
        q->max_wait_ms = calloc(N_TIERS, sizeof(uint32_t));
        for (int t = 0; t < N_TIERS; t++)
            q->max_wait_ms[t] = 600000;
        if (i == Q_SALES) {
            q->n_skills = 1;
            q->skills[0].skill = 0;
            q->skills[0].level = 1;
        }
    }
    c->n_agents = 2;
    c->agents = calloc(2, sizeof(*c->agents));
    for (int i = 0; i < 2; i++) {
        struct rq_conf_agent *a = &c->agents[i];
        a->id = strdup(agents[i]);
        a->name = strdup(agents[i]);
        a->token = strdup("t");
        a->n_skills = 1;
        a->skills[0].skill = 0;
        a->skills[0].level = 5;
        a->capacity[RQ_MEDIA_VOICE] = 1;
        a->capacity[RQ_MEDIA_CHAT] = 1;
        a->capacity[RQ_MEDIA_EMAIL] = 1;
        a->langs[a->n_langs++] = strdup("en");
    }
    return c;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->now = T0;
    f->clock.now_ms = rq_clock_manual_now;
    f->clock.arg = &f->now;
    f->conf = make_conf();
    f->r = rq_router_new(f->conf, &f->clock, NULL, NULL);
    assert_non_null(f->r);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    rq_router_free(f->r);
    rq_conf_free(f->conf); /* frees a hand-built config too */
    free(f);
    return 0;
}

/* Set the clock to T0 + s seconds and fire what is due on the way. */
static void
at(struct fixture *f, double s)
{
    uint64_t end = T0 + (uint64_t)(s * 1000.0);

    for (;;) {
        uint64_t next = rq_router_next_timer(f->r);
        if (next > end)
            break;
        if (next > f->now)
            f->now = next;
        rq_router_run_timers(f->r);
    }
    f->now = end;
}

static void
ok(int rc, const struct rq_error *err)
{
    if (rc != 0)
        fail_msg("router call failed: %s", err->message);
}

static void
arrive(struct fixture *f, const char *id, const char *queue, const char *tier,
       struct rq_contact_result *res)
{
    struct rq_contact_in in = {.id = id, .queue = queue, .tier = tier};
    struct rq_error err;

    ok(rq_router_contact_new(f->r, "pbx", &in, res, &err), &err);
}

static void
ready(struct fixture *f, const char *agent)
{
    struct rq_error err;

    ok(rq_router_agent_state(f->r, agent, "ready", NULL, &err), &err);
}

static const struct rq_contact *
contact(struct fixture *f, const char *id)
{
    return rq_model_contact(rq_router_model(f->r), id);
}

static const struct rq_queue *
queue(struct fixture *f, int q)
{
    return &rq_router_model(f->r)->queues[q];
}

static const struct rq_agent *
agent(struct fixture *f, const char *id)
{
    return rq_model_agent(rq_router_model(f->r), id);
}

/* A day of one queue, second by second:
 *   0 s  a1 ready; c1 (standard) arrives, offered to a1 at once (told EWT 0)
 *   2 s  a1 answers c1: waited 2 s, in target, within rings, answered at once
 *   2 s  c2 (standard) arrives and waits: told 1 x 180 s / 1 staffed = 180 s
 *  32 s  c1 ends (30 s talk): a1 takes c2 at once
 *  35 s  a1 answers c2: waited 33 s, late
 *  35 s  c3 (key account, 9 s target) arrives: told 1 x 150 s (the handle-time
 *        average moved to 0.8 x 180 + 0.2 x 30) / 1 staffed
 *  40 s  a2 logs in, ready: c3 rings there; 50 s ring-no-answer (rona)
 *  51 s  a2 ready again, 52 s answers c3: waited 17 s, past its 9 s target
 *        but within the queue's 3 rings (18 s)
 *  60 s  c4 arrives (both agents busy), 61 s transferred to support
 *  70 s  c2 ends (35 s talk): a1 takes c4 in support, answers at 71 s
 *  80 s  c4 ends (9 s talk); a1 idle after that
 */
static void
test_router_counters(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_result res;
    struct rq_error err;
    const struct rq_queue *qs;
    const struct rq_qcounters *t;
    struct rq_ewt_error e;

    ok(rq_router_agent_login(f->r, "a1", &err), &err);
    ready(f, "a1");
    arrive(f, "c1", "sales", NULL, &res);
    assert_int_equal(res.position, 0);
    assert_int_equal(contact(f, "c1")->ewt_at_arrival_ms, 0);
    at(f, 2);
    ok(rq_router_offer_accept(f->r, "a1", "c1", &err), &err);
    arrive(f, "c2", "sales", NULL, &res);
    assert_int_equal(res.position, 1);
    assert_near(res.ewt_s, 180.0, 1e-9);
    assert_int_equal(contact(f, "c2")->ewt_at_arrival_ms, 180000);
    at(f, 32);
    ok(rq_router_agent_end(f->r, "a1", "c1", &err), &err);
    at(f, 35);
    ok(rq_router_offer_accept(f->r, "a1", "c2", &err), &err);
    arrive(f, "c3", "sales", "key_account", &res);
    assert_near(res.ewt_s, 150.0, 1e-9);
    at(f, 40);
    ok(rq_router_agent_login(f->r, "a2", &err), &err);
    ready(f, "a2");
    assert_int_equal(contact(f, "c3")->state, RQ_CS_RINGING);
    at(f, 50); /* ring timeout */
    assert_int_equal(contact(f, "c3")->state, RQ_CS_WAITING);
    assert_int_equal(agent(f, "a2")->rona, 1);
    at(f, 51);
    ready(f, "a2");
    at(f, 52);
    ok(rq_router_offer_accept(f->r, "a2", "c3", &err), &err);
    at(f, 60);
    arrive(f, "c4", "sales", NULL, &res);
    assert_true(res.position == 1);
    at(f, 61);
    ok(rq_router_contact_transfer(f->r, "c4", "support", &err), &err);
    assert_int_equal(contact(f, "c4")->ewt_at_arrival_ms, -1);
    at(f, 70);
    ok(rq_router_agent_end(f->r, "a1", "c2", &err), &err);
    at(f, 71);
    ok(rq_router_offer_accept(f->r, "a1", "c4", &err), &err);
    at(f, 80);
    ok(rq_router_agent_end(f->r, "a1", "c4", &err), &err);

    qs = queue(f, Q_SALES);
    t = &qs->total;
    assert_int_equal(t->offered, 4);
    assert_int_equal(t->answered, 3);
    assert_int_equal(t->answered_in_target, 1);
    assert_int_equal(t->answered_in_rings, 2);
    assert_int_equal(t->answered_immediately, 1);
    assert_int_equal(t->transferred_out, 1);
    assert_int_equal(t->rona, 1);
    assert_int_equal(t->wait_ms_answered, 2000 + 33000 + 17000);
    assert_near(rq_stats_waited_percent(t), 200.0 / 3.0, 1e-9);
    assert_near(rq_stats_rings_percent(t), 200.0 / 3.0, 1e-9);
    /* EWT: +2 s, -147 s, -133 s */
    assert_int_equal(t->ewt_answered, 3);
    assert_int_equal(t->ewt_over_ms, 2000);
    assert_int_equal(t->ewt_under_ms, 147000 + 133000);
    rq_stats_ewt_error(t, &e);
    assert_near(e.mean_abs_s, 282.0 / 3.0, 1e-9);
    assert_near(e.mean_signed_s, -278.0 / 3.0, 1e-9);
    /* per tier */
    assert_int_equal(qs->by_tier[TI_STANDARD].answered, 2);
    assert_int_equal(qs->by_tier[TI_STANDARD].answered_in_target, 1);
    assert_int_equal(qs->by_tier[TI_KEY].answered, 1);
    assert_int_equal(qs->by_tier[TI_KEY].answered_in_target, 0);
    assert_int_equal(qs->by_tier[TI_KEY].answered_in_rings, 1);
    /* the transferred contact counts in support, told no EWT there */
    t = &queue(f, Q_SUPPORT)->total;
    assert_int_equal(t->offered, 1);
    assert_int_equal(t->answered, 1);
    assert_int_equal(t->answered_immediately, 0);
    assert_int_equal(t->ewt_answered, 0);
    assert_int_equal(t->wait_ms_answered, 10000);
    /* everything went to the running interval too */
    assert_int_equal(qs->iv.cur.start_ms, T0);
    assert_int_equal(qs->iv.since_ms, T0);
    assert_memory_equal(&qs->iv.cur.c, &qs->total, sizeof(qs->total));

    /* agents: answered, handle time, rona, occupancy */
    assert_int_equal(agent(f, "a1")->handled, 3);
    assert_int_equal(agent(f, "a1")->ended, 3);
    assert_int_equal(agent(f, "a1")->handle_ms, 30000 + 35000 + 9000);
    assert_near(rq_stats_agent_aht_s(agent(f, "a1")), 74.0 / 3.0, 1e-9);
    assert_int_equal(agent(f, "a1")->rona, 0);
    assert_int_equal(agent(f, "a2")->handled, 1);
    assert_int_equal(agent(f, "a2")->rona, 1);
    at(f, 100);
    /* a1 worked from 0 s to 80 s of its 100 s logged in */
    assert_near(rq_stats_agent_occupancy(agent(f, "a1"), f->now), 80.0, 1e-9);
    /* a2 (logged in at 40 s) rang 40..50 s, and from 51 s on rang and talked */
    assert_near(rq_stats_agent_occupancy(agent(f, "a2"), f->now), 100.0 * 59.0 / 60.0, 1e-9);
    ok(rq_router_agent_end(f->r, "a2", "c3", &err), &err);
    ok(rq_router_agent_logout(f->r, "a2", &err), &err);
    assert_true(rq_stats_agent_occupancy(agent(f, "a2"), f->now) < 0);
    /* logging in again starts the agent's figures afresh */
    ok(rq_router_agent_login(f->r, "a2", &err), &err);
    assert_int_equal(agent(f, "a2")->rona, 0);
    assert_int_equal(agent(f, "a2")->handled, 0);
    assert_int_equal(agent(f, "a2")->handle_ms, 0);
}

/* Intervals through the router, and the staffing advisor on them. */
static void
test_router_intervals(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_result res;
    struct rq_error err;
    struct rq_staffing st;
    const struct rq_queue *qs = queue(f, Q_SALES);
    char id[16];
    int needed;

    /* nothing counted yet: no advice */
    assert_int_equal(rq_stats_staffing(qs, f->now, &st), -1);

    /* 0..9:40: 30 contacts, 20 s apart, while the one agent is not ready */
    ok(rq_router_agent_login(f->r, "a1", &err), &err);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        at(f, 20.0 * i);
        arrive(f, id, "sales", NULL, &res);
    }
    /* live advice: 30 offered over 580 s (at least RQ_STATS_MIN_LIVE_MS),
     * handle time still the default (nothing ended) */
    needed = rq_stats_staffing(qs, f->now, &st);
    assert_int_equal(needed, st.agents);
    assert_int_equal(st.from_interval, 0);
    assert_near(st.rate_per_s, 30.0 / 580.0, 1e-12);
    assert_near(st.aht_s, 180.0, 1e-12);
    assert_int_equal(st.agents,
                     rq_staffing_needed(30.0 / 580.0, 180.0, 18.0, 0.8)); /* 9.3 Erlangs */
    /* from 10:00 a1 works through 4 of them, answering 1 s after each offer
     * and talking 60 s */
    at(f, 600);
    ready(f, "a1");
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        at(f, 600.0 + 61.0 * i + 1);
        ok(rq_router_offer_accept(f->r, "a1", id, &err), &err);
        at(f, 600.0 + 61.0 * i + 61);
        ok(rq_router_agent_end(f->r, "a1", id, &err), &err);
    }
    /* the rest abandon at 14:10 (c4 while ringing at a1) */
    at(f, 850);
    for (int i = 4; i < 30; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        ok(rq_router_contact_abandon(f->r, id, &err), &err);
    }
    assert_int_equal(qs->iv.n, 0);
    assert_int_equal(qs->iv.cur.c.offered, 30);
    assert_int_equal(qs->iv.cur.c.answered, 4);
    assert_int_equal(qs->iv.cur.c.handled, 4);
    assert_int_equal(qs->iv.cur.c.abandoned, 26);

    /* 16 min: the first interval is complete (seen before any roll) */
    at(f, 960);
    needed = rq_stats_staffing(qs, f->now, &st);
    assert_int_equal(needed, st.agents);
    assert_int_equal(st.from_interval, 1);
    assert_near(st.rate_per_s, 30.0 / 900.0, 1e-12);
    assert_near(st.aht_s, 60.0, 1e-12);
    assert_near(st.traffic, 2.0, 1e-12);
    assert_int_equal(st.agents, rq_staffing_needed(30.0 / 900.0, 60.0, 18.0, 0.8));
    assert_int_equal(st.agents, 4); /* 2 Erlangs, SL at 18 s: 3 agents 0.67, 4 agents 0.90 */

    /* a count in the second interval rolls the first into the ring */
    arrive(f, "late", "sales", NULL, &res);
    assert_int_equal(qs->iv.n, 1);
    assert_int_equal(rq_stats_interval(&qs->iv, 0)->start_ms, T0);
    assert_int_equal(rq_stats_interval(&qs->iv, 0)->c.offered, 30);
    assert_int_equal(rq_stats_interval(&qs->iv, 0)->c.answered, 4);
    assert_int_equal(qs->iv.cur.start_ms, T0 + LEN);
    assert_int_equal(qs->iv.cur.c.offered, 1);
    assert_int_equal(qs->total.offered, 31);
    assert_int_equal(rq_stats_staffing(qs, f->now, &st), 4);

    /* two quiet intervals later the last complete one is empty: nobody needed */
    at(f, 3.0 * LEN / 1000.0 + 10);
    assert_int_equal(rq_stats_staffing(qs, f->now, &st), 0);
    assert_int_equal(st.from_interval, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sl_worked_example),
        cmocka_unit_test(test_sl_late_abandons),
        cmocka_unit_test(test_sl_empty),
        cmocka_unit_test(test_asa_aht_waited_rings),
        cmocka_unit_test(test_ewt_error),
        cmocka_unit_test(test_erlang_published),
        cmocka_unit_test(test_erlang_large),
        cmocka_unit_test(test_erlang_edges),
        cmocka_unit_test(test_staffing_needed),
        cmocka_unit_test(test_interval_roll),
        cmocka_unit_test(test_staffing_mid_interval),
        cmocka_unit_test_setup_teardown(test_router_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_router_intervals, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
