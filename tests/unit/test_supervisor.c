/*
 * test_supervisor.c - what supervisors and admins may send and change:
 * the parser of agent.set, contact.move, contact.priority, admin.reload and
 * admin.drain and the monitor role each needs; and in the routing core a
 * contact's priority (rq_router_contact_priority), its new place in the
 * order, the hooks that report it and the states that refuse it. Built on a
 * small configuration in code, with an injected clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "router.h"

#define T0 1700000000000ULL /* the clock's start, ms */

/* ---- one tier, one skill, two queues, two agents ---- */

static struct rq_conf *
make_conf(void)
{
    static const char *const queues[] = {"sales", "support"};
    static const char *const agents[] = {"a1", "a2"};
    struct rq_conf *c = calloc(1, sizeof(*c));

    c->max_line_bytes = RQ_DEFAULT_MAX_LINE;
    c->max_contacts = 100;
    c->random_seed = 7;
    c->n_tiers = 1;
    c->tiers = calloc(1, sizeof(*c->tiers));
    c->tiers[0].name = strdup("standard");
    c->tiers[0].sla_factor = 1.0;
    c->tiers[0].max_wait_ms = 600000;
    c->n_skills = 1;
    c->skills = calloc(1, sizeof(*c->skills));
    c->skills[0].name = strdup("sales");
    c->n_queues = 2;
    c->queues = calloc(2, sizeof(*c->queues));
    for (int i = 0; i < 2; i++) {
        struct rq_conf_queue *q = &c->queues[i];
        q->name = strdup(queues[i]);
        q->answer_rings = 3;
        q->ring_on_ms = 2000;
        q->ring_off_ms = 4000;
        q->target_ms[RQ_CH_VOICE] = 18000;
        q->target_ms[RQ_CH_CALLBACK] = 3600000;
        q->target_ms[RQ_CH_CHAT] = 60000;
        q->target_ms[RQ_CH_EMAIL] = 14400000;
        q->goal_percent = 80;
        q->sl_variant = RQ_SL_ABANDONS_IGNORED;
        q->strategy = strdup("longest_idle");
        q->ring_timeout_ms = 10000;
        q->preferred_wait_ms = 20000;
        q->alert_percent = 80;
        q->priority_step_ms = 1000;
        q->default_aht_ms = 180000;
        q->max_wait_ms = calloc(1, sizeof(uint32_t));
        q->max_wait_ms[0] = 600000;
        q->n_skills = 1;
        q->skills[0].skill = 0;
        q->skills[0].level = 1;
    }
    c->n_agents = 2;
    c->agents = calloc(3, sizeof(*c->agents));
    for (int i = 0; i < 2; i++) {
        struct rq_conf_agent *a = &c->agents[i];
        a->id = strdup(agents[i]);
        a->name = strdup(agents[i]);
        a->token = strdup("t");
        a->skills[0].skill = 0;
        a->skills[0].level = 5;
        a->n_skills = 1;
        a->capacity[RQ_MEDIA_VOICE] = 1;
        a->capacity[RQ_MEDIA_CHAT] = 1;
        a->capacity[RQ_MEDIA_EMAIL] = 1;
        a->langs[a->n_langs++] = strdup("en");
    }
    return c;
}

/* ---- recording hooks ---- */

struct fixture {
    uint64_t now;            /* the injected clock */
    struct rq_clock clock;   /* reads now */
    struct rq_conf *conf;    /* built by make_conf */
    struct rq_router *r;     /* under test */
    char last_offer[64];     /* contact of the last offer hook */
    char last_change[32];    /* change name of the last contact hook */
    char last_change_id[64]; /* and its contact */
    int queue_hooks;         /* queue hooks so far */
};

static void
h_offer(void *arg, const struct rq_contact *c, const struct rq_agent *a)
{
    struct fixture *f = arg;

    snprintf(f->last_offer, sizeof(f->last_offer), "%s", c->id);
}

static void
h_contact(void *arg, const struct rq_contact *c, enum rq_change chg)
{
    struct fixture *f = arg;

    snprintf(f->last_change, sizeof(f->last_change), "%s", rq_change_name(chg));
    snprintf(f->last_change_id, sizeof(f->last_change_id), "%s", c->id);
}

static void
h_queue(void *arg, const struct rq_queue *q)
{
    ((struct fixture *)arg)->queue_hooks++;
}

static const struct rq_hooks hooks = {
    .offer = h_offer,
    .contact = h_contact,
    .queue = h_queue,
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->now = T0;
    f->clock.now_ms = rq_clock_manual_now;
    f->clock.arg = &f->now;
    f->conf = make_conf();
    f->r = rq_router_new(f->conf, &f->clock, &hooks, f);
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

static void
new_contact(struct fixture *f, const char *id, int priority)
{
    struct rq_contact_in in = {.id = id, .queue = "sales", .priority = priority};
    struct rq_contact_result res;
    struct rq_error err;

    if (rq_router_contact_new(f->r, "pbx1", &in, &res, &err) != 0)
        fail_msg("contact.new %s: %s", id, err.message);
}

static const struct rq_contact *
contact(struct fixture *f, const char *id)
{
    return rq_model_contact(rq_router_model(f->r), id);
}

static int
position(struct fixture *f, const char *id)
{
    return rq_router_position(f->r, contact(f, id));
}

/* ---- tests ---- */

/* A later contact raised to the top is served first; the hooks say so. */
static void
test_priority_reorders_waiting(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;
    int qh;

    assert_int_equal(rq_router_agent_login(f->r, "a1", NULL), 0); /* not ready */
    new_contact(f, "c1", 0);
    f->now += 1000;
    new_contact(f, "c2", 0);
    f->now += 1000;
    new_contact(f, "c3", 0);
    assert_int_equal(position(f, "c3"), 3);
    qh = f->queue_hooks;

    /* 100 x 1 s step puts c3's key 98 s before c1's */
    assert_int_equal(rq_router_contact_priority(f->r, "c3", 100, &err), 0);
    assert_int_equal(position(f, "c3"), 1);
    assert_int_equal(position(f, "c1"), 2);
    assert_int_equal(position(f, "c2"), 3);
    assert_int_equal(contact(f, "c3")->priority, 100);
    assert_int_equal(contact(f, "c3")->base_priority, 100);
    assert_string_equal(f->last_change, "priority");
    assert_string_equal(f->last_change_id, "c3");
    assert_true(f->queue_hooks > qh);

    /* a small raise of c2 (2 s) does not pass c1 (2 s earlier)... */
    assert_int_equal(rq_router_contact_priority(f->r, "c2", 1, &err), 0);
    assert_int_equal(position(f, "c2"), 3);
    /* ...a larger one does */
    assert_int_equal(rq_router_contact_priority(f->r, "c2", 2, &err), 0);
    assert_int_equal(position(f, "c1"), 3);
    /* and lowering it back restores arrival order */
    assert_int_equal(rq_router_contact_priority(f->r, "c3", 0, &err), 0);
    assert_int_equal(position(f, "c3"), 3);

    /* the agent takes the head of the new order */
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, &err), 0);
    assert_string_equal(f->last_offer, "c2");
}

/* A ringing contact keeps its priority when it waits again after no answer. */
static void
test_priority_of_ringing_contact(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;

    assert_int_equal(rq_router_agent_login(f->r, "a1", NULL), 0);
    new_contact(f, "c1", 0);
    f->now += 5000;
    new_contact(f, "c2", 0);
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, &err), 0);
    assert_string_equal(f->last_offer, "c1");
    assert_int_equal(contact(f, "c1")->state, RQ_CS_RINGING);
    assert_int_equal(rq_router_contact_priority(f->r, "c2", 50, &err), 0);
    assert_int_equal(position(f, "c2"), 1);
    /* c1 goes back to waiting: c2 (priority 50) stays ahead of it */
    assert_int_equal(rq_router_contact_priority(f->r, "c1", 0, &err), 0);
    assert_int_equal(rq_router_contact_no_answer(f->r, "c1", "a1", NULL, &err), 0);
    assert_int_equal(position(f, "c2"), 1);
    assert_int_equal(position(f, "c1"), 2);
    /* raised while ringing... */
    assert_int_equal(rq_router_agent_login(f->r, "a2", NULL), 0);
    assert_int_equal(rq_router_agent_state(f->r, "a2", "ready", NULL, &err), 0);
    assert_string_equal(f->last_offer, "c2");
    assert_int_equal(rq_router_contact_priority(f->r, "c2", 0, &err), 0);
    assert_int_equal(contact(f, "c2")->state, RQ_CS_RINGING);
    assert_int_equal(contact(f, "c2")->priority, 0);
}

static void
test_priority_refused(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;

    new_contact(f, "c1", 3);
    assert_int_equal(rq_router_contact_priority(f->r, "nosuch", 5, &err), -1);
    assert_int_equal(err.code, RQ_E_NOT_FOUND);
    assert_int_equal(rq_router_contact_priority(f->r, "c1", -1, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_FIELD);
    assert_int_equal(rq_router_contact_priority(f->r, "c1", RQ_MAX_PRIORITY + 1, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_FIELD);
    assert_int_equal(contact(f, "c1")->priority, 3);
    assert_int_equal(rq_router_contact_priority(f->r, "c1", RQ_MAX_PRIORITY, &err), 0);

    /* connected: no longer in any order */
    assert_int_equal(rq_router_agent_login(f->r, "a1", NULL), 0);
    assert_int_equal(rq_router_agent_state(f->r, "a1", "ready", NULL, &err), 0);
    assert_int_equal(rq_router_contact_answered(f->r, "c1", "a1", &err), 0);
    assert_int_equal(rq_router_contact_priority(f->r, "c1", 5, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_STATE);
    assert_non_null(strstr(err.message, "connected"));
    assert_int_equal(contact(f, "c1")->priority, RQ_MAX_PRIORITY);
}

/* Moving a contact (the supervisor's contact.move is a transfer) puts it at
 * the back of the new queue with its announced priority. */
static void
test_move_keeps_announced_priority(void **state)
{
    struct fixture *f = *state;
    struct rq_error err;

    new_contact(f, "c1", 0);
    assert_int_equal(rq_router_contact_priority(f->r, "c1", 40, &err), 0);
    assert_int_equal(rq_router_contact_transfer(f->r, "c1", "support", &err), 0);
    assert_int_equal(contact(f, "c1")->queue, 1);
    assert_int_equal(contact(f, "c1")->priority, 40);
    assert_int_equal(position(f, "c1"), 1);
    assert_string_equal(f->last_change, "transferred");
}

/* ---- the parser ---- */

static void
parse_ok(const char *line, struct rq_msg *m)
{
    struct rq_error err = {RQ_OK, ""};

    if (rq_proto_parse(line, strlen(line), m, &err) != 0)
        fail_msg("%s: %s", line, err.message);
}

static void
parse_fails(const char *line, const char *message)
{
    struct rq_error err = {RQ_OK, ""};
    struct rq_msg m;

    assert_int_equal(rq_proto_parse(line, strlen(line), &m, &err), -1);
    assert_int_equal(err.code, RQ_E_BAD_FIELD);
    assert_string_equal(err.message, message);
    rq_msg_clear(&m);
}

static void
test_parse_supervisor_ops(void **state)
{
    struct rq_msg m;

    (void)state;
    parse_ok("{\"op\":\"agent.set\",\"id\":1,\"agent\":\"a1\",\"state\":\"not_ready\","
             "\"reason\":\"coaching\"}",
             &m);
    assert_int_equal(m.op, RQ_OP_AGENT_SET);
    assert_string_equal(m.u.set.agent, "a1");
    assert_string_equal(m.u.set.state, "not_ready");
    assert_string_equal(m.u.set.reason, "coaching");
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"agent.set\",\"agent\":\"a1\",\"state\":\"logged_out\"}", &m);
    assert_string_equal(m.u.set.state, "logged_out");
    assert_null(m.u.set.reason);
    rq_msg_clear(&m);
    parse_fails("{\"op\":\"agent.set\",\"agent\":\"a1\",\"state\":\"busy\"}",
                "state: 'busy' is not one of ready, not_ready, logged_out");
    parse_fails("{\"op\":\"agent.set\",\"state\":\"ready\"}", "agent: required");
    parse_fails("{\"op\":\"agent.set\",\"agent\":\"a1\",\"state\":\"ready\",\"reason\":\"x\"}",
                "reason: only with state not_ready");

    parse_ok("{\"op\":\"contact.move\",\"contact\":\"c1\",\"queue\":\"support\"}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_MOVE);
    assert_string_equal(m.u.ref.contact, "c1");
    assert_string_equal(m.u.ref.queue, "support");
    rq_msg_clear(&m);
    parse_fails("{\"op\":\"contact.move\",\"contact\":\"c1\"}", "queue: required");

    parse_ok("{\"op\":\"contact.priority\",\"contact\":\"c1\",\"priority\":100}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_PRIORITY);
    assert_string_equal(m.u.prio.contact, "c1");
    assert_int_equal(m.u.prio.priority, 100);
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"contact.priority\",\"contact\":\"c1\",\"priority\":0}", &m);
    assert_int_equal(m.u.prio.priority, 0);
    rq_msg_clear(&m);
    parse_fails("{\"op\":\"contact.priority\",\"contact\":\"c1\"}", "priority: required");
    parse_fails("{\"op\":\"contact.priority\",\"contact\":\"c1\",\"priority\":101}",
                "priority: must be an integer 0..100");
    parse_fails("{\"op\":\"contact.priority\",\"contact\":\"c1\",\"priority\":\"5\"}",
                "priority: must be an integer 0..100");

    parse_ok("{\"op\":\"admin.reload\"}", &m);
    assert_int_equal(m.op, RQ_OP_ADMIN_RELOAD);
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"admin.drain\"}", &m);
    assert_int_equal(m.op, RQ_OP_ADMIN_DRAIN);
    rq_msg_clear(&m);
    parse_fails("{\"op\":\"admin.drain\",\"now\":true}", "unknown field 'now'");
}

static void
test_monitor_roles(void **state)
{
    (void)state;
    assert_int_equal(rq_op_monitor_role(RQ_OP_SNAPSHOT), RQ_MON_ROLE_MONITOR);
    assert_int_equal(rq_op_monitor_role(RQ_OP_SUBSCRIBE), RQ_MON_ROLE_MONITOR);
    assert_int_equal(rq_op_monitor_role(RQ_OP_AGENT_SET), RQ_MON_ROLE_SUPERVISOR);
    assert_int_equal(rq_op_monitor_role(RQ_OP_CONTACT_MOVE), RQ_MON_ROLE_SUPERVISOR);
    assert_int_equal(rq_op_monitor_role(RQ_OP_CONTACT_PRIORITY), RQ_MON_ROLE_SUPERVISOR);
    assert_int_equal(rq_op_monitor_role(RQ_OP_ADMIN_RELOAD), RQ_MON_ROLE_ADMIN);
    assert_int_equal(rq_op_monitor_role(RQ_OP_ADMIN_DRAIN), RQ_MON_ROLE_ADMIN);
    assert_int_equal(rq_op_monitor_role(RQ_OP__COUNT), RQ_MON_ROLE_ADMIN);
    assert_string_equal(rq_monitor_role_name(RQ_MON_ROLE_SUPERVISOR), "supervisor");
    assert_string_equal(rq_op_name(RQ_OP_CONTACT_PRIORITY), "contact.priority");
    /* only monitors may send them at all */
    assert_false(rq_op_allowed(RQ_OP_AGENT_SET, RQ_ROLE_AGENT));
    assert_false(rq_op_allowed(RQ_OP_CONTACT_MOVE, RQ_ROLE_SOURCE));
    assert_true(rq_op_allowed(RQ_OP_ADMIN_DRAIN, RQ_ROLE_MONITOR));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_supervisor_ops),
        cmocka_unit_test(test_monitor_roles),
        cmocka_unit_test_setup_teardown(test_priority_reorders_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_of_ringing_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_priority_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_keeps_announced_priority, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
