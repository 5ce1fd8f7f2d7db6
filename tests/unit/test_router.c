/*
 * test_router.c - the routing core with an injected clock: every rule of
 * routing (skills and levels, tiers and deadlines, language, persona,
 * preferred agent, strategies, capacity, ring-no-answer, wrap-up,
 * escalation, overflow, maximum wait, transfer, abandon) and the
 * 3-queue / 20-agent scenario. The configuration is built in code so the
 * core is tested without the config parser.
 */
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

#define T0 1700000000000ULL /* the clock's start, ms */

/* ---- a configuration built in code ---- */

enum { SK_SALES, SK_SUPPORT, SK_BILLING, SK_TECH, N_SKILLS };
enum { TI_EMERGENCY, TI_KEY, TI_LOYAL, TI_STANDARD, TI_PROSPECT, N_TIERS };
enum { Q_SALES, Q_SUPPORT, Q_BILLING, Q_CLOSED, N_QUEUES };

static const char *skill_names[N_SKILLS] = {"sales", "support", "billing", "tech"};
static const char *tier_names[N_TIERS] = {"emergency", "key_account", "loyal", "standard",
                                          "prospect"};
static const double tier_factor[N_TIERS] = {0.25, 0.5, 0.8, 1.0, 1.5};
static const uint32_t tier_max_wait[N_TIERS] = {30000, 120000, 300000, 600000, 900000};
static const char *queue_names[N_QUEUES] = {"sales", "support", "billing", "closed"};

struct agent_spec {
    const char *id;
    int levels[N_SKILLS]; /* 0 = lacks the skill */
    const char *langs;    /* comma-separated */
    unsigned personas;
    int chat; /* chat capacity */
};

static struct rq_conf *
make_conf(const struct agent_spec *agents, int n_agents, const char *strategy)
{
    struct rq_conf *c = calloc(1, sizeof(*c));

    c->max_line_bytes = RQ_DEFAULT_MAX_LINE;
    c->max_contacts = 1000;
    c->random_seed = 42;
    c->n_tiers = N_TIERS;
    c->tiers = calloc(N_TIERS, sizeof(*c->tiers));
    for (int i = 0; i < N_TIERS; i++) {
        c->tiers[i].name = strdup(tier_names[i]);
        c->tiers[i].rank = i;
        c->tiers[i].sla_factor = tier_factor[i];
        c->tiers[i].emergency = i == TI_EMERGENCY;
        c->tiers[i].max_wait_ms = tier_max_wait[i];
    }
    c->default_tier = TI_STANDARD;
    c->fallback_queue = -1;
    c->n_skills = N_SKILLS;
    c->skills = calloc(N_SKILLS, sizeof(*c->skills));
    for (int i = 0; i < N_SKILLS; i++)
        c->skills[i].name = strdup(skill_names[i]);
    c->n_queues = N_QUEUES;
    c->queues = calloc(N_QUEUES, sizeof(*c->queues));
    for (int i = 0; i < N_QUEUES; i++) {
        struct rq_conf_queue *q = &c->queues[i];
        q->name = strdup(queue_names[i]);
        q->answer_rings = 3;
        q->ring_on_ms = i == Q_SUPPORT ? 1000 : 2000; /* China vs North America */
        q->ring_off_ms = 4000;
        q->target_ms[RQ_CH_VOICE] = q->answer_rings * (q->ring_on_ms + q->ring_off_ms);
        q->target_ms[RQ_CH_CALLBACK] = 3600000;
        q->target_ms[RQ_CH_CHAT] = 60000;
        q->target_ms[RQ_CH_EMAIL] = 14400000;
        q->goal_percent = 80;
        q->sl_variant = RQ_SL_ABANDONS_IGNORED;
        q->short_abandon_ms = 5000;
        q->strategy = strdup(strategy);
        q->ring_timeout_ms = 10000;
        q->wrap_up_ms = 5000;
        q->preferred_wait_ms = 20000;
        q->alert_percent = 80;
        q->priority_step_ms = 1000;
        q->default_aht_ms = 180000;
        q->closed = i == Q_CLOSED;
        q->max_wait_ms = calloc(N_TIERS, sizeof(uint32_t));
        for (int t = 0; t < N_TIERS; t++)
            q->max_wait_ms[t] = tier_max_wait[t];
        q->n_skills = 1;
        q->skills[0].skill = i == Q_SALES ? SK_SALES : i == Q_SUPPORT ? SK_SUPPORT : SK_BILLING;
        q->skills[0].level = i == Q_SALES ? 3 : i == Q_SUPPORT ? 2 : 1;
    }
    /* sales escalates: relax 2 levels at 50 %, overflow to support at 80 %,
     * raise priority after 60 s */
    struct rq_conf_queue *s = &c->queues[Q_SALES];
    s->n_steps = 3;
    s->steps[0] = (struct rq_conf_step){.at_percent = 50, .relax_levels = 2};
    s->steps[1] = (struct rq_conf_step){
        .at_percent = 80, .add_queues = {Q_SUPPORT}, .n_add_queues = 1, .relax_language = 1};
    s->steps[2] = (struct rq_conf_step){.at_percent = -1, .after_ms = 60000, .raise_priority = 5};
    c->n_agents = n_agents;
    c->agents = calloc((size_t)n_agents + 1, sizeof(*c->agents));
    for (int i = 0; i < n_agents; i++) {
        struct rq_conf_agent *a = &c->agents[i];
        char langs[64], *save = NULL;
        a->id = strdup(agents[i].id);
        a->name = strdup(agents[i].id);
        a->token = strdup("t");
        for (int k = 0; k < N_SKILLS; k++)
            if (agents[i].levels[k] > 0) {
                a->skills[a->n_skills].skill = k;
                a->skills[a->n_skills++].level = agents[i].levels[k];
            }
        a->capacity[RQ_MEDIA_VOICE] = 1;
        a->capacity[RQ_MEDIA_CHAT] = agents[i].chat;
        a->capacity[RQ_MEDIA_EMAIL] = 1;
        snprintf(langs, sizeof(langs), "%s", agents[i].langs ? agents[i].langs : "en");
        for (char *l = strtok_r(langs, ",", &save); l; l = strtok_r(NULL, ",", &save))
            a->langs[a->n_langs++] = strdup(l);
        a->personas = agents[i].personas;
    }
    return c;
}

/* ---- recording hooks ---- */

#define MAX_EVENTS 4096

struct event {
    char kind[16]; /* offer, revoke, contact, alert */
    char contact[64];
    char agent[64];
    char what[32]; /* revoke reason, change name, alert kind */
};

struct fixture {
    uint64_t now;
    struct rq_clock clock;
    struct rq_conf *conf;
    struct rq_router *r;
    struct event ev[MAX_EVENTS];
    int n_ev;
    int agent_hooks;
    int queue_hooks;
};

static void
record(struct fixture *f, const char *kind, const struct rq_contact *c, const struct rq_agent *a,
       const char *what)
{
    struct event *e;

    if (f->n_ev >= MAX_EVENTS)
        return;
    e = &f->ev[f->n_ev++];
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    snprintf(e->contact, sizeof(e->contact), "%s", c ? c->id : "");
    snprintf(e->agent, sizeof(e->agent), "%s", a ? a->id : "");
    snprintf(e->what, sizeof(e->what), "%s", what ? what : "");
}

static void
h_offer(void *arg, const struct rq_contact *c, const struct rq_agent *a)
{
    record(arg, "offer", c, a, NULL);
}

static void
h_revoke(void *arg, const struct rq_contact *c, const struct rq_agent *a, const char *reason)
{
    record(arg, "revoke", c, a, reason);
}

static void
h_contact(void *arg, const struct rq_contact *c, enum rq_change chg)
{
    record(arg, "contact", c, c->agent, rq_change_name(chg));
}

static void
h_agent(void *arg, const struct rq_agent *a)
{
    ((struct fixture *)arg)->agent_hooks++;
}

static void
h_queue(void *arg, const struct rq_queue *q)
{
    ((struct fixture *)arg)->queue_hooks++;
}

static void
h_alert(void *arg, const struct rq_contact *c, const char *what)
{
    record(arg, "alert", c, NULL, what);
}

static const struct rq_hooks hooks = {
    .offer = h_offer,
    .revoke = h_revoke,
    .contact = h_contact,
    .agent = h_agent,
    .queue = h_queue,
    .alert = h_alert,
};

static struct fixture *
setup_with(const struct agent_spec *agents, int n, const char *strategy)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->now = T0;
    f->clock.now_ms = rq_clock_manual_now;
    f->clock.arg = &f->now;
    f->conf = make_conf(agents, n, strategy);
    f->r = rq_router_new(f->conf, &f->clock, &hooks, f);
    assert_non_null(f->r);
    return f;
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

/* Move the clock and fire what is due, step by step like the event loop. */
static void
advance(struct fixture *f, uint64_t ms)
{
    uint64_t end = f->now + ms;

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

static const struct event *
last(struct fixture *f, const char *kind)
{
    for (int i = f->n_ev - 1; i >= 0; i--)
        if (strcmp(f->ev[i].kind, kind) == 0)
            return &f->ev[i];
    return NULL;
}

static int
count(struct fixture *f, const char *kind)
{
    int n = 0;

    for (int i = 0; i < f->n_ev; i++)
        n += strcmp(f->ev[i].kind, kind) == 0;
    return n;
}

static void
login_ready(struct fixture *f, const char *agent)
{
    assert_int_equal(rq_router_agent_login(f->r, agent, NULL), 0);
    assert_int_equal(rq_router_agent_state(f->r, agent, "ready", NULL, NULL), 0);
}

static void
login_not_ready(struct fixture *f, const char *agent)
{
    assert_int_equal(rq_router_agent_login(f->r, agent, NULL), 0);
}

static struct rq_contact_result
new_contact(struct fixture *f, const char *id, const char *queue, const char *tier)
{
    struct rq_contact_in in = {.id = id, .queue = queue, .tier = tier};
    struct rq_contact_result res;
    struct rq_error err;

    if (rq_router_contact_new(f->r, "pbx1", &in, &res, &err) != 0)
        fail_msg("contact.new %s: %s", id, err.message);
    return res;
}

static const struct rq_contact *
contact(struct fixture *f, const char *id)
{
    return rq_model_contact(rq_router_model(f->r), id);
}

static const struct rq_agent *
agent(struct fixture *f, const char *id)
{
    return rq_model_agent(rq_router_model(f->r), id);
}

/* ---- tests ---- */

static const struct agent_spec two_sales[] = {
    {"a1", {[SK_SALES] = 2}, "en", 0, 1}, /* below the queue's level 3 */
    {"a2", {[SK_SALES] = 5}, "en", 0, 1},
};

static int
setup_two_sales(void **state)
{
    *state = setup_with(two_sales, 2, "longest_idle");
    return 0;
}

static void
test_targets_in_rings_and_tiers(void **state)
{
    struct fixture *f = *state;

    new_contact(f, "std", "sales", "standard");
    new_contact(f, "key", "sales", "key_account");
    new_contact(f, "emg", "sales", "emergency");
    new_contact(f, "pro", "sales", "prospect");
    new_contact(f, "sup", "support", "standard");
    /* 3 rings of North American cadence (2 s on, 4 s off) = 18 s */
    assert_int_equal(contact(f, "std")->target_ms, 18000);
    /* a key account's target is half a standard customer's */
    assert_int_equal(contact(f, "key")->target_ms * 2, contact(f, "std")->target_ms);
    assert_int_equal(contact(f, "emg")->target_ms, 4500);
    assert_int_equal(contact(f, "pro")->target_ms, 27000);
    /* 3 rings of Chinese cadence (1 s on, 4 s off) = 15 s */
    assert_int_equal(contact(f, "sup")->target_ms, 15000);
    assert_int_equal(contact(f, "key")->deadline_ms, T0 + 9000);
}

static void
test_offer_goes_to_skilled_agent(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_result res;

    login_ready(f, "a1");
    login_ready(f, "a2");
    res = new_contact(f, "c1", "sales", NULL);
    assert_int_equal(res.position, 0); /* offered at once */
    assert_string_equal(last(f, "offer")->agent, "a2");
    assert_int_equal(agent(f, "a2")->state, RQ_AS_RESERVED);
    assert_int_equal(contact(f, "c1")->state, RQ_CS_RINGING);
    /* a1 (level 2) never qualifies while the contact needs level 3 */
    res = new_contact(f, "c2", "sales", NULL);
    assert_int_equal(res.position, 1);
    assert_int_equal(count(f, "offer"), 1);
}

static void
test_lifecycle_answer_end_wrapup(void **state)
{
    struct fixture *f = *state;
    const struct rq_queue *q;

    login_ready(f, "a2");
    new_contact(f, "c1", "sales", NULL);
    f->now += 3000;
    assert_int_equal(rq_router_contact_answered(f->r, "c1", "a2", NULL), 0);
    /* the same report twice is harmless */
    assert_int_equal(rq_router_contact_answered(f->r, "c1", "a2", NULL), 0);
    assert_int_equal(contact(f, "c1")->state, RQ_CS_CONNECTED);
    assert_int_equal(agent(f, "a2")->state, RQ_AS_BUSY);
    f->now += 60000;
    assert_int_equal(rq_router_contact_end(f->r, "c1", NULL), 0);
    assert_null(contact(f, "c1"));
    assert_int_equal(agent(f, "a2")->state, RQ_AS_WRAP_UP);
    /* a contact arriving during wrap-up waits for it to finish */
    new_contact(f, "c2", "sales", NULL);
    assert_int_equal(contact(f, "c2")->state, RQ_CS_WAITING);
    advance(f, 4999);
    assert_int_equal(agent(f, "a2")->state, RQ_AS_WRAP_UP);
    advance(f, 1);
    assert_int_equal(contact(f, "c2")->state, RQ_CS_RINGING);
    assert_int_equal(rq_router_offer_accept(f->r, "a2", "c2", NULL), 0);
    assert_int_equal(rq_router_agent_end(f->r, "a2", "c2", NULL), 0);
    /* wrapup.done ends it early */
    assert_int_equal(rq_router_wrapup_done(f->r, "a2", NULL), 0);
    assert_int_equal(agent(f, "a2")->state, RQ_AS_READY);
    q = &rq_router_model(f->r)->queues[Q_SALES];
    assert_int_equal(q->total.offered, 2);
    assert_int_equal(q->total.answered, 2);
    assert_int_equal(q->total.answered_in_target, 2);
    assert_int_equal(agent(f, "a2")->handled, 2);
}

static void
test_ring_no_answer(void **state)
{
    struct fixture *f = *state;
    const struct rq_agent *a2;

    login_ready(f, "a2");
    new_contact(f, "c1", "sales", NULL);
    assert_string_equal(last(f, "offer")->agent, "a2");
    advance(f, 9999);
    assert_int_equal(count(f, "revoke"), 0);
    advance(f, 1);
    assert_string_equal(last(f, "revoke")->what, "rona");
    a2 = agent(f, "a2");
    assert_int_equal(a2->state, RQ_AS_NOT_READY);
    assert_string_equal(a2->reason, "rona");
    assert_int_equal(contact(f, "c1")->state, RQ_CS_WAITING);
    assert_int_equal(contact(f, "c1")->arrived_ms, T0); /* keeps its place */
    assert_int_equal(rq_router_model(f->r)->queues[Q_SALES].total.rona, 1);
    /* the agent comes back and gets it at once */
    assert_int_equal(rq_router_agent_state(f->r, "a2", "ready", NULL, NULL), 0);
    assert_int_equal(contact(f, "c1")->state, RQ_CS_RINGING);
    assert_int_equal(contact(f, "c1")->offers, 2);
}

static const struct agent_spec three_sales[] = {
    {"a1", {[SK_SALES] = 5}, "en", 0, 1},
    {"a2", {[SK_SALES] = 5}, "en", 0, 1},
    {"a3", {[SK_SALES] = 5}, "en", 0, 1},
};

static int
setup_three_sales(void **state)
{
    *state = setup_with(three_sales, 3, "longest_idle");
    return 0;
}

static void
test_rona_reroutes_at_once(void **state)
{
    struct fixture *f = *state;

    login_ready(f, "a1");
    f->now += 10;
    login_ready(f, "a2");
    f->now += 10;
    login_ready(f, "a3");
    new_contact(f, "c1", "sales", NULL);
    assert_string_equal(last(f, "offer")->agent, "a1"); /* idle longest */
    advance(f, 10000);
    assert_string_equal(last(f, "offer")->agent, "a2");
    /* the source reports the second agent busy: next one */
    assert_int_equal(rq_router_contact_no_answer(f->r, "c1", "a2", "busy", NULL), 0);
    assert_string_equal(last(f, "revoke")->what, "busy");
    assert_string_equal(agent(f, "a2")->reason, "rona");
    assert_string_equal(last(f, "offer")->agent, "a3");
    /* the third rejects: nobody ready is left */
    assert_int_equal(rq_router_offer_reject(f->r, "a3", "c1", NULL), 0);
    assert_string_equal(agent(f, "a3")->reason, "rejected");
    assert_int_equal(contact(f, "c1")->state, RQ_CS_WAITING);
    assert_int_equal(count(f, "offer"), 3);
}

static void
test_abandon_waiting_and_ringing(void **state)
{
    struct fixture *f = *state;
    const struct rq_queue *q = &rq_router_model(f->r)->queues[Q_SALES];

    new_contact(f, "w", "sales", NULL);
    f->now += 2000;
    assert_int_equal(rq_router_contact_abandon(f->r, "w", NULL), 0);
    assert_null(contact(f, "w"));
    assert_int_equal(q->total.abandoned, 1);
    assert_int_equal(q->total.short_abandoned, 1);
    assert_int_equal(q->total.abandoned_in_target, 1);
    assert_int_equal(q->n_waiting, 0);

    login_ready(f, "a1");
    new_contact(f, "r", "sales", NULL);
    new_contact(f, "next", "sales", NULL);
    assert_string_equal(last(f, "offer")->contact, "r");
    f->now += 30000;
    assert_int_equal(rq_router_contact_abandon(f->r, "r", NULL), 0);
    assert_string_equal(last(f, "revoke")->what, "abandoned");
    /* the agent stays ready and takes the next contact */
    assert_string_equal(last(f, "offer")->contact, "next");
    assert_int_equal(q->total.abandoned, 2);
    assert_int_equal(q->total.abandoned_in_target, 1);
    /* abandoning a connected contact is a state error */
    rq_router_offer_accept(f->r, "a1", "next", NULL);
    struct rq_error err;
    assert_int_equal(rq_router_contact_abandon(f->r, "next", &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_STATE);
}

static void
test_deadline_order_emergency_first(void **state)
{
    struct fixture *f = *state;
    const char *expect[] = {"emg", "key", "old_std", "std", "pro"};

    login_not_ready(f, "a1");
    new_contact(f, "pro", "sales", "prospect"); /* deadline +27 s */
    new_contact(f, "std", "sales", "standard"); /* +18 s */
    f->now -= 0;
    new_contact(f, "key", "sales", "key_account"); /* +9 s */
    new_contact(f, "emg", "sales", "emergency");   /* first, whatever the deadline */
    /* a standard contact that arrived 10 s earlier: deadline +8 s, but the
     * key account still goes before it only if its deadline is earlier */
    struct rq_contact_in in = {.id = "old_std", .queue = "sales", .arrived_ms = T0 - 5000};
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    /* old_std: deadline T0+13 s, after key (T0+9 s), before std (T0+18 s) */
    assert_int_equal(rq_router_position(f->r, contact(f, "emg")), 1);
    assert_int_equal(rq_router_position(f->r, contact(f, "key")), 2);
    assert_int_equal(rq_router_position(f->r, contact(f, "pro")), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, NULL), 0);
        assert_string_equal(last(f, "offer")->contact, expect[i]);
        assert_int_equal(rq_router_offer_accept(f->r, "a1", expect[i], NULL), 0);
        assert_int_equal(rq_router_agent_end(f->r, "a1", expect[i], NULL), 0);
        assert_int_equal(rq_router_agent_state(f->r, "a1", "not_ready", "break", NULL), 0);
        assert_int_equal(rq_router_wrapup_done(f->r, "a1", NULL), 0);
    }
}

static void
test_late_contact_beats_new_key_account(void **state)
{
    struct fixture *f = *state;

    /* deadline order, not tier then age: a standard customer about to miss
     * its target goes before a key account who just arrived */
    login_not_ready(f, "a1");
    new_contact(f, "std", "sales", "standard"); /* deadline T0+18 s */
    f->now += 15000;
    new_contact(f, "key", "sales", "key_account"); /* deadline T0+24 s */
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->contact, "std");
}

static void
test_priority_moves_deadline(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {.id = "vip", .queue = "sales", .priority = 10};

    login_not_ready(f, "a1");
    new_contact(f, "std", "sales", NULL); /* deadline T0+18 s */
    f->now += 5000;
    /* priority 10 x 1 s step: deadline T0+23 s - 10 s = T0+13 s */
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->contact, "vip");
}

static const struct agent_spec esc_agents[] = {
    {"lvl6", {[SK_SALES] = 6}, "en", 0, 1},
    {"sup", {[SK_SUPPORT] = 4}, "en", 0, 1},
    {"fr", {[SK_SALES] = 9}, "fr", 0, 1},
    {"bill1", {[SK_BILLING] = 1}, "en", 0, 1},
};

static int
setup_esc(void **state)
{
    *state = setup_with(esc_agents, 4, "longest_idle");
    return 0;
}

static void
test_escalation_relaxes_levels(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {
        .id = "c8", .queue = "sales", .skills = {{"sales", 8}}, .n_skills = 1};

    login_ready(f, "lvl6");
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    assert_int_equal(count(f, "offer"), 0);
    /* step 1 at 50 % of 18 s relaxes levels by 2: level 6 qualifies */
    advance(f, 8999);
    assert_int_equal(count(f, "offer"), 0);
    advance(f, 1);
    assert_string_equal(last(f, "offer")->agent, "lvl6");
    assert_int_equal(f->now - T0, 9000);
}

static void
test_escalation_overflow_queue(void **state)
{
    struct fixture *f = *state;

    login_ready(f, "sup");
    new_contact(f, "c1", "sales", NULL);
    assert_int_equal(count(f, "offer"), 0);
    /* step 2 at 80 % of 18 s adds the support queue's agents */
    advance(f, 14399);
    assert_int_equal(count(f, "offer"), 0);
    advance(f, 1);
    assert_string_equal(last(f, "offer")->agent, "sup");
    rq_router_offer_accept(f->r, "sup", "c1", NULL);
    assert_int_equal(rq_router_model(f->r)->queues[Q_SALES].total.flowed_out, 1);
}

static void
test_language_required_then_relaxed(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {.id = "fr1", .queue = "sales", .lang = "fr"};
    struct rq_contact_in nobody = {.id = "xx", .queue = "sales", .lang = "tlh"};

    login_ready(f, "lvl6");
    f->now += 100;
    login_ready(f, "fr");
    /* lvl6 has idled longer, but only "fr" speaks French */
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->agent, "fr");
    /* a language nobody speaks is not required: it would only starve */
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &nobody, NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->agent, "lvl6");
}

static void
test_language_relaxed_by_step(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {.id = "fr1", .queue = "sales", .lang = "fr"};

    login_ready(f, "lvl6");
    login_not_ready(f, "fr");
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    assert_int_equal(count(f, "offer"), 0);
    advance(f, 14400); /* the 80 % step drops the language */
    assert_string_equal(last(f, "offer")->agent, "lvl6");
}

static void
test_max_wait_promotes_and_relaxes(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {.id = "e",
                               .queue = "billing",
                               .tier = "emergency",
                               .skills = {{"billing", 9}},
                               .n_skills = 1};

    /* nobody has billing 9; after the emergency tier's 30 s maximum wait any
     * billing agent will do, and an alert goes out */
    login_ready(f, "lvl6");
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    advance(f, 29999);
    assert_int_equal(contact(f, "e")->order_class, RQ_ORD_EMERGENCY);
    advance(f, 1);
    assert_string_equal(last(f, "alert")->what, "max_wait");
    /* nobody with billing is logged in: it waits, first in line; the first
     * billing agent of any level gets it */
    assert_int_equal(count(f, "offer"), 0);
    assert_int_equal(contact(f, "e")->state, RQ_CS_WAITING);
    assert_true(contact(f, "e")->overdue);
    login_ready(f, "bill1");
    assert_string_equal(last(f, "offer")->contact, "e");
    assert_string_equal(last(f, "offer")->agent, "bill1");
}

static void
test_alert_near_target(void **state)
{
    struct fixture *f = *state;

    new_contact(f, "c1", "support", NULL); /* 15 s target, alert at 80 % */
    advance(f, 11999);
    assert_null(last(f, "alert"));
    advance(f, 1);
    assert_string_equal(last(f, "alert")->what, "near_target");
    assert_string_equal(last(f, "alert")->contact, "c1");
}

static const struct agent_spec pref_agents[] = {
    {"owner", {[SK_SALES] = 5}, "en", 0, 1},
    {"other", {[SK_SALES] = 5}, "en", 0, 1},
};

static int
setup_pref(void **state)
{
    *state = setup_with(pref_agents, 2, "longest_idle");
    return 0;
}

static void
test_preferred_agent_then_fallback(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {.id = "p1", .queue = "sales", .preferred_agent = "owner"};
    struct rq_contact_in in2 = {.id = "p2", .queue = "sales", .preferred_agent = "owner"};

    login_not_ready(f, "owner");
    login_ready(f, "other");
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    /* "other" is free but the case's owner gets the follow-up */
    assert_int_equal(count(f, "offer"), 0);
    assert_int_equal(rq_router_agent_state(f->r, "owner", "ready", NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->agent, "owner");
    rq_router_offer_accept(f->r, "owner", "p1", NULL);
    /* a second follow-up while the owner is busy: falls back after 20 s */
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in2, NULL, NULL), 0);
    advance(f, 19999);
    assert_int_equal(contact(f, "p2")->state, RQ_CS_WAITING);
    advance(f, 1);
    assert_string_equal(last(f, "offer")->agent, "other");
}

static const struct agent_spec persona_agents[] = {
    {"plain", {[SK_SALES] = 5}, "en", 0, 1},
    {"analyst", {[SK_SALES] = 5}, "en", 1u << RQ_PERSONA_ANALYTICAL, 1},
};

static int
setup_persona(void **state)
{
    *state = setup_with(persona_agents, 2, "longest_idle");
    return 0;
}

static void
test_persona_preferred_when_free(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in in = {.id = "c1", .queue = "sales", .persona = "analytical"};
    struct rq_contact_in in2 = {.id = "c2", .queue = "sales", .persona = "analytical"};

    login_ready(f, "plain");
    f->now += 100;
    login_ready(f, "analyst");
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->agent, "analyst");
    /* no analytical agent free: any qualified one */
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in2, NULL, NULL), 0);
    assert_string_equal(last(f, "offer")->agent, "plain");
}

static const struct agent_spec chat_agents[] = {
    {"chatty", {[SK_SUPPORT] = 5}, "en", 0, 2},
};

static int
setup_chat(void **state)
{
    *state = setup_with(chat_agents, 1, "longest_idle");
    return 0;
}

static void
test_chat_capacity(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_in c1 = {.id = "ch1", .queue = "support", .channel = "chat"};
    struct rq_contact_in c2 = {.id = "ch2", .queue = "support", .channel = "chat"};
    struct rq_contact_in c3 = {.id = "ch3", .queue = "support", .channel = "chat"};

    login_ready(f, "chatty");
    rq_router_contact_new(f->r, "gw", &c1, NULL, NULL);
    assert_int_equal(rq_router_offer_accept(f->r, "chatty", "ch1", NULL), 0);
    rq_router_contact_new(f->r, "gw", &c2, NULL, NULL);
    assert_string_equal(last(f, "offer")->contact, "ch2");
    assert_int_equal(rq_router_offer_accept(f->r, "chatty", "ch2", NULL), 0);
    rq_router_contact_new(f->r, "gw", &c3, NULL, NULL);
    assert_int_equal(contact(f, "ch3")->state, RQ_CS_WAITING); /* capacity 2 */
    /* a voice contact waits too while the agent chats */
    new_contact(f, "v1", "support", NULL);
    assert_int_equal(contact(f, "v1")->state, RQ_CS_WAITING);
    assert_int_equal(agent(f, "chatty")->load[RQ_MEDIA_CHAT], 2);
    /* one chat ends: after its wrap-up the third chat comes in */
    assert_int_equal(rq_router_agent_end(f->r, "chatty", "ch1", NULL), 0);
    advance(f, 5000);
    assert_int_equal(contact(f, "ch3")->state, RQ_CS_RINGING);
}

static void
test_transfer(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;

    login_ready(f, "lvl6");
    login_ready(f, "sup");
    new_contact(f, "c1", "sales", NULL);
    assert_string_equal(last(f, "offer")->agent, "lvl6");
    rq_router_offer_accept(f->r, "lvl6", "c1", NULL);
    f->now += 30000;
    assert_int_equal(rq_router_contact_transfer(f->r, "c1", "support", NULL), 0);
    assert_int_equal(agent(f, "lvl6")->state, RQ_AS_WRAP_UP);
    assert_string_equal(last(f, "offer")->agent, "sup");
    assert_int_equal(contact(f, "c1")->queue, Q_SUPPORT);
    assert_int_equal(contact(f, "c1")->arrived_ms, f->now);
    assert_int_equal(rq_router_model(f->r)->queues[Q_SALES].total.transferred_out, 1);
    assert_int_equal(rq_router_model(f->r)->queues[Q_SUPPORT].total.offered, 1);
    assert_int_equal(rq_router_contact_transfer(f->r, "c1", "nope", &err), -1);
    assert_int_equal(err.code, RQ_E_NOT_FOUND);
}

static void
test_logout_revokes_offer(void **state)
{
    struct fixture *f = *state;

    login_ready(f, "a1");
    f->now += 10;
    login_ready(f, "a2");
    new_contact(f, "c1", "sales", NULL);
    assert_string_equal(last(f, "offer")->agent, "a1");
    assert_int_equal(rq_router_agent_logout(f->r, "a1", NULL), 0);
    assert_string_equal(last(f, "revoke")->what, "logged_out");
    assert_string_equal(last(f, "offer")->agent, "a2");
    assert_int_equal(agent(f, "a1")->state, RQ_AS_LOGGED_OUT);
}

static void
test_errors(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;
    struct rq_contact_in in = {.id = "c1", .queue = "sales"};
    struct rq_contact_in bad_tier = {.id = "x", .queue = "sales", .tier = "gold"};
    struct rq_contact_in bad_skill = {
        .id = "x", .queue = "sales", .skills = {{"cooking", 1}}, .n_skills = 1};
    struct rq_contact_in closed = {.id = "x", .queue = "closed"};
    struct rq_contact_in noq = {.id = "x", .queue = "nope"};

    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, &err), 0);
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_DUPLICATE);
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &bad_tier, NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_FIELD);
    assert_non_null(strstr(err.message, "customer.tier"));
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &bad_skill, NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_FIELD);
    assert_non_null(strstr(err.message, "skills.cooking"));
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &closed, NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_UNAVAILABLE);
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &noq, NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_NOT_FOUND);
    assert_int_equal(rq_router_contact_end(f->r, "ghost", &err), -1);
    assert_int_equal(err.code, RQ_E_NOT_FOUND);
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_STATE); /* logged out */
    login_ready(f, "a1");
    assert_int_equal(rq_router_offer_accept(f->r, "a1", "c1", &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_STATE); /* a1 lacks the level: not offered */
    assert_int_equal(rq_router_wrapup_done(f->r, "a1", &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_STATE);
    assert_int_equal(rq_router_agent_login(f->r, "nobody", &err), -1);
    assert_int_equal(err.code, RQ_E_NOT_FOUND);
    /* errors change nothing */
    assert_int_equal(rq_router_model(f->r)->n_contacts, 1);
    assert_int_equal(rq_router_model(f->r)->queues[Q_SALES].total.offered, 1);
}

static void
test_overloaded_at_max_contacts(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;
    char id[16];

    f->conf->max_contacts = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        new_contact(f, id, "sales", NULL);
    }
    struct rq_contact_in in = {.id = "c3", .queue = "sales"};
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_OVERLOADED);
    rq_router_contact_abandon(f->r, "c0", NULL);
    assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, &err), 0);
}

static void
test_position_and_ewt(void **state)
{
    struct fixture *f = *state;
    struct rq_contact_result r1, r2, r3;

    login_not_ready(f, "a1");
    login_not_ready(f, "a2");
    r1 = new_contact(f, "c1", "sales", NULL);
    r2 = new_contact(f, "c2", "sales", NULL);
    r3 = new_contact(f, "c3", "sales", "emergency");
    assert_int_equal(r1.position, 1);
    assert_int_equal(r2.position, 2);
    assert_int_equal(r3.position, 1);
    assert_int_equal(rq_router_position(f->r, contact(f, "c2")), 3);
    /* one staffed agent qualifies (a2): EWT = position x 180 s AHT / 1 */
    assert_true(r2.ewt_s > 359.0 && r2.ewt_s < 361.0);
    assert_int_equal(rq_router_longest_wait_ms(f->r, &rq_router_model(f->r)->queues[Q_SALES]), 0);
    f->now += 7000;
    assert_int_equal(rq_router_longest_wait_ms(f->r, &rq_router_model(f->r)->queues[Q_SALES]),
                     7000);
}

/* ---- strategies ---- */

static const struct agent_spec strat_agents[] = {
    {"s1", {[SK_SALES] = 4}, "en", 0, 1},
    {"s2", {[SK_SALES] = 9}, "en", 0, 1},
    {"s3", {[SK_SALES] = 6}, "en", 0, 1},
};

/* Run one contact through answer/end/wrapup and return who got it. */
static const char *
serve_one(struct fixture *f, const char *id)
{
    static char who[64];

    new_contact(f, id, "sales", NULL);
    snprintf(who, sizeof(who), "%s", last(f, "offer")->agent);
    rq_router_offer_accept(f->r, who, id, NULL);
    f->now += 1000;
    rq_router_agent_end(f->r, who, id, NULL);
    rq_router_wrapup_done(f->r, who, NULL);
    f->now += 1000;
    return who;
}

static struct fixture *
strat_fixture(const char *name)
{
    struct fixture *f = setup_with(strat_agents, 3, name);

    login_ready(f, "s1");
    f->now += 100;
    login_ready(f, "s2");
    f->now += 100;
    login_ready(f, "s3");
    f->now += 100;
    return f;
}

static void
test_strategy_longest_idle(void **state)
{
    struct fixture *f = strat_fixture("longest_idle");

    assert_string_equal(serve_one(f, "c1"), "s1");
    assert_string_equal(serve_one(f, "c2"), "s2");
    assert_string_equal(serve_one(f, "c3"), "s3");
    assert_string_equal(serve_one(f, "c4"), "s1");
    *state = f;
}

static void
test_strategy_round_robin(void **state)
{
    struct fixture *f = strat_fixture("round_robin");

    assert_string_equal(serve_one(f, "c1"), "s1");
    assert_string_equal(serve_one(f, "c2"), "s2");
    assert_string_equal(serve_one(f, "c3"), "s3");
    assert_string_equal(serve_one(f, "c4"), "s1");
    *state = f;
}

static void
test_strategy_most_skilled(void **state)
{
    struct fixture *f = strat_fixture("most_skilled");

    assert_string_equal(serve_one(f, "c1"), "s2");
    assert_string_equal(serve_one(f, "c2"), "s2");
    rq_router_agent_state(f->r, "s2", "not_ready", "lunch", NULL);
    assert_string_equal(serve_one(f, "c3"), "s3");
    *state = f;
}

static void
test_strategy_fewest_contacts(void **state)
{
    struct fixture *f = strat_fixture("fewest_contacts");

    assert_string_equal(serve_one(f, "c1"), "s1");
    assert_string_equal(serve_one(f, "c2"), "s2");
    assert_string_equal(serve_one(f, "c3"), "s3");
    /* all handled one; ties go to the longest idle */
    assert_string_equal(serve_one(f, "c4"), "s1");
    *state = f;
}

static void
test_strategy_least_occupied(void **state)
{
    struct fixture *f = strat_fixture("least_occupied");
    const char *who;

    /* s1 spends 60 s on a contact; afterwards the others are less occupied */
    new_contact(f, "long", "sales", NULL);
    who = last(f, "offer")->agent;
    assert_string_equal(who, "s1");
    rq_router_offer_accept(f->r, "s1", "long", NULL);
    f->now += 60000;
    rq_router_agent_end(f->r, "s1", "long", NULL);
    rq_router_wrapup_done(f->r, "s1", NULL);
    who = serve_one(f, "c2");
    assert_string_not_equal(who, "s1");
    *state = f;
}

static void
test_strategy_random(void **state)
{
    struct fixture *f = strat_fixture("random");
    int hits[3] = {0, 0, 0};
    char id[16];

    for (int i = 0; i < 60; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        const char *who = serve_one(f, id);
        hits[who[1] - '1']++;
    }
    for (int i = 0; i < 3; i++)
        assert_true(hits[i] > 5); /* every candidate gets picked */
    *state = f;
}

/* ---- the 3-queue, 20-agent scenario ---- */

static struct agent_spec scen_agents[20];
static char scen_ids[20][8];

static int
setup_scenario(void **state)
{
    /* mixed skills and levels, deterministic */
    for (int i = 0; i < 20; i++) {
        snprintf(scen_ids[i], sizeof(scen_ids[i]), "b%02d", i);
        memset(&scen_agents[i], 0, sizeof(scen_agents[i]));
        scen_agents[i].id = scen_ids[i];
        scen_agents[i].levels[SK_SALES] = (i * 7) % 11;  /* 0..10 */
        scen_agents[i].levels[SK_SUPPORT] = (i * 3) % 8; /* 0..7 */
        scen_agents[i].levels[SK_BILLING] = (i % 4 == 0) ? 1 + i % 9 : 0;
        scen_agents[i].levels[SK_TECH] = i % 5;
        scen_agents[i].langs = i % 3 == 0 ? "en,es" : "en";
        scen_agents[i].chat = 1;
    }
    *state = setup_with(scen_agents, 20, "longest_idle");
    return 0;
}

/* Does agent (spec) meet contact c's own requirements (no relaxation)? */
static int
meets(const struct agent_spec *a, const struct rq_contact *c, const struct rq_model *m)
{
    for (int i = 0; i < c->n_reqs; i++)
        if (a->levels[c->reqs[i].skill] < c->reqs[i].level)
            return 0;
    if (c->lang_idx >= 0 && strstr(a->langs, m->langs[c->lang_idx]) == NULL)
        return 0;
    return 1;
}

static void
test_scenario_mixed_agents_in_deadline_order(void **state)
{
    struct fixture *f = *state;
    const struct rq_model *m = rq_router_model(f->r);
    static const char *queues[3] = {"sales", "support", "billing"};
    static const char *tiers[4] = {"emergency", "key_account", "standard", "prospect"};
    static const char *skills[4] = {"sales", "support", "billing", "tech"};
    char ids[60][16];
    int offered = 0;

    for (int i = 0; i < 20; i++)
        login_not_ready(f, scen_ids[i]);
    /* 60 contacts over 30 s: every tier, queue and some extra skills */
    for (int i = 0; i < 60; i++) {
        struct rq_contact_in in = {0};
        snprintf(ids[i], sizeof(ids[i]), "s%02d", i);
        in.id = ids[i];
        in.queue = queues[i % 3];
        in.tier = tiers[(i / 3) % 4];
        if (i % 5 == 0) {
            in.skills[0].name = skills[3];
            in.skills[0].level = 1 + i % 4;
            in.n_skills = 1;
        }
        in.lang = i % 7 == 0 ? "es" : "en";
        assert_int_equal(rq_router_contact_new(f->r, "pbx1", &in, NULL, NULL), 0);
        f->now += 500;
    }
    /* targets: key accounts get half a standard customer's */
    assert_int_equal(contact(f, "s03")->target_ms * 2, contact(f, "s06")->target_ms);
    /* agents become ready one at a time; every offer must go to an agent who
     * meets the contact's requirements, and be the first in deadline order
     * among the waiting contacts that agent meets */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20; i++) {
            const struct rq_contact *best = NULL, *got;
            const struct event *e;
            int before = count(f, "offer");
            for (const struct rq_contact *c = m->contacts; c != NULL; c = c->hh.next)
                if (c->state == RQ_CS_WAITING && meets(&scen_agents[i], c, m) &&
                    (best == NULL || rq_contact_cmp(c, best) < 0))
                    best = c;
            assert_int_equal(rq_router_agent_state(f->r, scen_ids[i], "ready", NULL, NULL), 0);
            if (count(f, "offer") == before) {
                assert_null(best);
                continue;
            }
            e = last(f, "offer");
            assert_string_equal(e->agent, scen_ids[i]);
            got = contact(f, e->contact);
            assert_true(meets(&scen_agents[i], got, m));
            assert_non_null(best);
            assert_string_equal(got->id, best->id);
            /* emergencies never wait behind others the agent could take */
            offered++;
            rq_router_offer_accept(f->r, scen_ids[i], e->contact, NULL);
            f->now += 200;
            rq_router_agent_end(f->r, scen_ids[i], e->contact, NULL);
            rq_router_agent_state(f->r, scen_ids[i], "not_ready", "paperwork", NULL);
            rq_router_wrapup_done(f->r, scen_ids[i], NULL);
        }
    }
    assert_true(offered >= 40);
}

/* ---- reload ---- */

static const struct agent_spec reload_agents[] = {
    {"a1", {[SK_SALES] = 5, [SK_BILLING] = 5}, "en", 0, 1},
    {"a2", {[SK_SALES] = 5, [SK_BILLING] = 5}, "en", 0, 1},
    {"a3", {[SK_SALES] = 5, [SK_SUPPORT] = 5}, "en", 0, 1},
};

static int
setup_reload(void **state)
{
    *state = setup_with(reload_agents, 3, "longest_idle");
    return 0;
}

static void
rename_str(char **field, const char *name)
{
    free(*field);
    *field = strdup(name);
}

/* Switch f to nc; returns what rq_router_reload returned. The old config
 * goes once the router no longer uses it. */
static int
reload_to(struct fixture *f, struct rq_conf *nc, struct rq_reload_report *rep, struct rq_error *err)
{
    if (rq_router_reload(f->r, nc, rep, err) != 0) {
        rq_conf_free(nc);
        return -1;
    }
    free(rep->gone_udata);
    rq_conf_free(f->conf);
    f->conf = nc;
    rq_router_reload_settle(f->r);
    return 0;
}

/* a1 talking (c1), a2 ringing (c2), five waiting in sales of mixed tiers
 * with one escalated, b1 waiting in billing. */
static void
reload_scene(struct fixture *f)
{
    static const char *const tiers[] = {"standard", "key_account", "emergency", "prospect",
                                        "standard"};
    char id[8];

    login_ready(f, "a1");
    new_contact(f, "c1", "sales", NULL);
    assert_int_equal(rq_router_offer_accept(f->r, "a1", "c1", NULL), 0);
    login_ready(f, "a2");
    new_contact(f, "c2", "sales", NULL);
    assert_string_equal(last(f, "offer")->agent, "a2");
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "w%d", i);
        new_contact(f, id, "sales", tiers[i]);
        advance(f, 700);
    }
    new_contact(f, "b1", "billing", "loyal");
    advance(f, 6000); /* w0 is past 50 % of its target: relaxed */
}

/* The waiting contacts of queue q in service order (by position). */
static int
waiting_order(struct fixture *f, int q, char out[][8], int max)
{
    const struct rq_model *m = rq_router_model(f->r);
    int n = 0;

    for (const struct rq_contact *c = m->contacts; c != NULL; c = c->hh.next) {
        int pos = rq_router_position(f->r, c);
        if (c->state == RQ_CS_WAITING && c->queue == q && pos >= 1 && pos <= max) {
            snprintf(out[pos - 1], 8, "%s", c->id);
            n++;
        }
    }
    return n;
}

static void
test_reload_keeps_every_contact(void **state)
{
    struct fixture *f = *state;
    struct rq_conf *nc = make_conf(reload_agents, 3, "longest_idle");
    struct rq_reload_report rep;
    struct rq_error err;
    char before[16][8] = {{0}}, after[16][8] = {{0}};
    uint64_t ring_deadline, w0_arrived, b1_arrived, offered;
    unsigned w0_steps;
    int n_before, n_events;

    reload_scene(f);
    n_before = waiting_order(f, Q_SALES, before, 16);
    assert_int_equal(n_before, 5);
    ring_deadline = contact(f, "c2")->ring_deadline_ms;
    w0_arrived = contact(f, "w0")->arrived_ms;
    w0_steps = contact(f, "w0")->steps_done;
    assert_true(w0_steps != 0);
    b1_arrived = contact(f, "b1")->arrived_ms;
    offered = rq_router_model(f->r)->queues[Q_SALES].total.offered;

    /* billing goes (a new queue takes its place in the file), support's
     * target doubles, the tier prospect goes: */
    rename_str(&nc->queues[Q_BILLING].name, "billing_new");
    nc->queues[Q_SUPPORT].answer_rings = 6;
    nc->queues[Q_SUPPORT].target_ms[RQ_CH_VOICE] *= 2;
    rename_str(&nc->tiers[TI_PROSPECT].name, "trial");
    nc->fallback_queue = Q_SUPPORT;
    n_events = f->n_ev;
    advance(f, 100);
    assert_int_equal(reload_to(f, nc, &rep, &err), 0);

    assert_int_equal(rep.moved, 1);
    assert_int_equal(rep.queues_removed, 1);
    assert_int_equal(rep.queues_added, 1);
    assert_int_equal(rep.agents_removed + rep.agents_added + rep.revoked + rep.retiring, 0);
    /* nothing was revoked or offered anew; b1 was reported moved */
    for (int i = n_events; i < f->n_ev; i++) {
        assert_string_not_equal(f->ev[i].kind, "revoke");
        assert_string_not_equal(f->ev[i].kind, "offer");
    }
    assert_string_equal(last(f, "contact")->what, "transferred");
    assert_string_equal(last(f, "contact")->contact, "b1");

    /* talking and ringing as before */
    assert_int_equal(contact(f, "c1")->state, RQ_CS_CONNECTED);
    assert_ptr_equal(contact(f, "c1")->agent, agent(f, "a1"));
    assert_int_equal(agent(f, "a1")->state, RQ_AS_BUSY);
    assert_int_equal(contact(f, "c2")->state, RQ_CS_RINGING);
    assert_ptr_equal(agent(f, "a2")->offer, contact(f, "c2"));
    assert_int_equal(contact(f, "c2")->ring_deadline_ms, ring_deadline);
    /* waiting in the same order, escalation kept; b1 in support, its wait kept */
    assert_int_equal(waiting_order(f, Q_SALES, after, 16), n_before);
    for (int i = 0, j = 0; i < n_before; i++, j++) { /* w3 changed tier: its place may move */
        i += strcmp(before[i], "w3") == 0;
        j += strcmp(after[j], "w3") == 0;
        if (i < n_before && j < n_before)
            assert_string_equal(before[i], after[j]);
    }
    assert_int_equal(contact(f, "w0")->arrived_ms, w0_arrived);
    assert_int_equal(contact(f, "w0")->steps_done, w0_steps);
    assert_int_equal(contact(f, "b1")->queue, Q_SUPPORT);
    assert_int_equal(contact(f, "b1")->arrived_ms, b1_arrived);
    assert_int_equal(contact(f, "b1")->target_ms,
                     (uint64_t)(nc->queues[Q_SUPPORT].target_ms[RQ_CH_VOICE] * 0.8 + 0.5));
    assert_int_equal(contact(f, "w3")->tier, TI_STANDARD); /* prospect is gone */
    assert_int_equal(contact(f, "w3")->target_ms, nc->queues[Q_SALES].target_ms[RQ_CH_VOICE]);
    assert_int_equal(rq_router_model(f->r)->queues[Q_SALES].total.offered, offered);

    /* and it all goes on: the ringing offer times out and is re-routed,
     * the talking contact ends */
    assert_int_equal(rq_router_contact_end(f->r, "c1", NULL), 0);
    advance(f, 10000);
    assert_int_equal(agent(f, "a2")->presence, RQ_PRES_NOT_READY);
    assert_string_equal(agent(f, "a2")->reason, "rona");
    assert_true(contact(f, "c1") == NULL);
    assert_int_equal(contact(f, "c2")->state, RQ_CS_WAITING); /* back in the queue */
    assert_int_equal(agent(f, "a1")->state, RQ_AS_RESERVED);  /* after wrap-up: the next */
    assert_string_equal(last(f, "offer")->contact, "w2");     /* the emergency first */
}

static void
test_reload_refused_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct rq_conf *nc = make_conf(reload_agents, 3, "longest_idle");
    const struct rq_model *m;
    struct rq_reload_report rep;
    struct rq_error err;
    int n_events;

    reload_scene(f);
    m = rq_router_model(f->r);
    n_events = f->n_ev;
    rename_str(&nc->queues[Q_BILLING].name, "billing_new"); /* b1 would be stranded */
    assert_int_equal(reload_to(f, nc, &rep, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_CONFIG);
    assert_non_null(strstr(err.message, "queue 'billing' has 1 live contacts"));
    assert_non_null(strstr(err.message, "fallback_queue"));
    assert_ptr_equal(rq_router_model(f->r), m);
    assert_int_equal(f->n_ev, n_events);
    assert_int_equal(contact(f, "b1")->queue, Q_BILLING);
    assert_int_equal(contact(f, "c2")->state, RQ_CS_RINGING);
}

static void
test_reload_removed_agents(void **state)
{
    struct fixture *f = *state;
    static const struct agent_spec next[] = {{"a4", {[SK_SALES] = 5}, "en", 0, 1}};
    struct rq_conf *nc = make_conf(next, 1, "longest_idle");
    struct rq_reload_report rep;
    struct rq_error err;

    reload_scene(f);
    login_not_ready(f, "a3");
    assert_int_equal(reload_to(f, nc, &rep, &err), 0);
    assert_int_equal(rep.agents_removed, 3);
    assert_int_equal(rep.agents_added, 1);
    assert_int_equal(rep.revoked, 1);
    assert_int_equal(rep.retiring, 1);
    /* a2's offer was withdrawn, c2 waits again */
    assert_string_equal(last(f, "revoke")->contact, "c2");
    assert_string_equal(last(f, "revoke")->agent, "a2");
    assert_string_equal(last(f, "revoke")->what, "removed");
    assert_int_equal(contact(f, "c2")->state, RQ_CS_WAITING);
    assert_true(agent(f, "a2") == NULL && agent(f, "a3") == NULL);
    /* a1 keeps its call, is never offered again and cannot say ready */
    assert_int_equal(contact(f, "c1")->state, RQ_CS_CONNECTED);
    assert_true(agent(f, "a1")->retiring);
    assert_string_equal(agent(f, "a1")->reason, "removed");
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_STATE);
    /* the new agent takes the contact that waited longest by deadline */
    login_ready(f, "a4");
    assert_string_equal(last(f, "offer")->agent, "a4");
    /* a1's call ends: after its wrap-up it is logged out for good */
    assert_int_equal(rq_router_contact_end(f->r, "c1", NULL), 0);
    advance(f, 6000);
    assert_int_equal(agent(f, "a1")->presence, RQ_PRES_LOGGED_OUT);
    assert_int_equal(rq_router_agent_login(f->r, "a1", &err), -1);
    assert_int_equal(err.code, RQ_E_NOT_FOUND);
    /* the next reload forgets it */
    nc = make_conf(next, 1, "longest_idle");
    assert_int_equal(reload_to(f, nc, &rep, &err), 0);
    assert_true(agent(f, "a1") == NULL);
    assert_non_null(agent(f, "a4"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_targets_in_rings_and_tiers, setup_two_sales, teardown),
        cmocka_unit_test_setup_teardown(test_offer_goes_to_skilled_agent, setup_two_sales,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_answer_end_wrapup, setup_two_sales,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ring_no_answer, setup_two_sales, teardown),
        cmocka_unit_test_setup_teardown(test_rona_reroutes_at_once, setup_three_sales, teardown),
        cmocka_unit_test_setup_teardown(test_abandon_waiting_and_ringing, setup_three_sales,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deadline_order_emergency_first, setup_three_sales,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_late_contact_beats_new_key_account, setup_three_sales,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_priority_moves_deadline, setup_three_sales, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_relaxes_levels, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_escalation_overflow_queue, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_language_required_then_relaxed, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_language_relaxed_by_step, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_max_wait_promotes_and_relaxes, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_alert_near_target, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_preferred_agent_then_fallback, setup_pref, teardown),
        cmocka_unit_test_setup_teardown(test_persona_preferred_when_free, setup_persona, teardown),
        cmocka_unit_test_setup_teardown(test_chat_capacity, setup_chat, teardown),
        cmocka_unit_test_setup_teardown(test_transfer, setup_esc, teardown),
        cmocka_unit_test_setup_teardown(test_logout_revokes_offer, setup_three_sales, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup_two_sales, teardown),
        cmocka_unit_test_setup_teardown(test_overloaded_at_max_contacts, setup_two_sales, teardown),
        cmocka_unit_test_setup_teardown(test_position_and_ewt, setup_two_sales, teardown),
        cmocka_unit_test_teardown(test_strategy_longest_idle, teardown),
        cmocka_unit_test_teardown(test_strategy_round_robin, teardown),
        cmocka_unit_test_teardown(test_strategy_most_skilled, teardown),
        cmocka_unit_test_teardown(test_strategy_fewest_contacts, teardown),
        cmocka_unit_test_teardown(test_strategy_least_occupied, teardown),
        cmocka_unit_test_teardown(test_strategy_random, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_mixed_agents_in_deadline_order,
                                        setup_scenario, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_every_contact, setup_reload, teardown),
        cmocka_unit_test_setup_teardown(test_reload_refused_changes_nothing, setup_reload,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_removed_agents, setup_reload, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
