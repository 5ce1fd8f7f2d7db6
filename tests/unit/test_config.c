/*
 * test_config.c - rq_conf_load: the annotated sample, computed targets and
 * defaults, and a table of broken files, each checked for the exact
 * "file:line:" prefix and the words a person needs to fix it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#ifndef RINGQ_SOURCE_DIR
#error "RINGQ_SOURCE_DIR must name the source tree (tests/CMakeLists.txt sets it)"
#endif

#define SAMPLE   RINGQ_SOURCE_DIR "/conf/ringqd.conf"
#define DATA_DIR RINGQ_SOURCE_DIR "/tests/data/config"

/* Scratch directory the broken files are written to. */
struct fixture {
    char dir[64];   /* mkdtemp result */
    char path[128]; /* dir + "/case.conf" */
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ringq-test-config-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/case.conf", fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static struct rq_conf *
load_ok(const char *path)
{
    char err[RQ_ERR_LEN] = "";
    struct rq_conf *c = rq_conf_load(path, err, sizeof(err));

    if (c == NULL)
        print_error("unexpected error: %s\n", err);
    assert_non_null(c);
    assert_string_equal(err, "");
    return c;
}

static const struct rq_conf_queue *
queue(const struct rq_conf *c, const char *name)
{
    int i = rq_conf_queue_index(c, name);

    assert_true(i >= 0);
    return &c->queues[i];
}

static const struct rq_conf_agent *
agent(const struct rq_conf *c, const char *id)
{
    for (int i = 0; i < c->n_agents; i++) {
        if (strcmp(c->agents[i].id, id) == 0)
            return &c->agents[i];
    }
    fail_msg("agent %s not found", id);
    return NULL;
}

/* The level of skill name in refs, or 0 when absent. */
static int
level(const struct rq_conf *c, const struct rq_conf_skillref *refs, int n, const char *name)
{
    int s = rq_conf_skill_index(c, name);

    assert_true(s >= 0);
    for (int i = 0; i < n; i++) {
        if (refs[i].skill == s)
            return refs[i].level;
    }
    return 0;
}

/* --- the annotated sample ---------------------------------------------- */

static void
test_sample_globals(void **state)
{
    struct rq_conf *c = load_ok(SAMPLE);

    (void)state;
    assert_string_equal(c->path, SAMPLE);
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->random_seed, 0);
    assert_int_equal(c->max_contacts, 1000000);
    assert_string_equal(c->listen.host, "127.0.0.1");
    assert_int_equal(c->listen.port, 7340);
    assert_string_equal(c->listen.unix_path, "/run/ringq/ringqd.sock");
    assert_int_equal(c->max_line_bytes, 65536);
    assert_int_equal(c->max_clients, 10000);

    assert_int_equal(c->n_skills, 6);
    assert_int_equal(rq_conf_skill_index(c, "sales"), 0);
    assert_int_equal(rq_conf_skill_index(c, "key_accounts"), 3);
    assert_int_equal(rq_conf_skill_index(c, "retention"), 5);
    assert_int_equal(rq_conf_skill_index(c, "salse"), -1);

    assert_int_equal(c->n_queues, 4);
    assert_int_equal(rq_conf_queue_index(c, "sales"), 0);
    assert_int_equal(rq_conf_queue_index(c, "support"), 1);
    assert_int_equal(rq_conf_queue_index(c, "billing"), 2);
    assert_int_equal(rq_conf_queue_index(c, "key_accounts"), 3);
    assert_int_equal(rq_conf_queue_index(c, "nope"), -1);
    assert_int_equal(c->fallback_queue, rq_conf_queue_index(c, "support"));

    assert_int_equal(c->n_sources, 1);
    assert_string_equal(c->sources[0].name, "pbx1");
    assert_string_equal(c->sources[0].token, "demo");
    assert_true(c->sources[0].line > 0);
    assert_int_equal(c->n_monitors, 1);
    assert_string_equal(c->monitors[0].name, "wallboard");
    assert_string_equal(c->monitors[0].token, "demo");
    rq_conf_free(c);
}

static void
test_sample_tiers(void **state)
{
    struct rq_conf *c = load_ok(SAMPLE);
    static const struct {
        const char *name;
        double factor;
        int emergency;
        uint32_t max_wait_ms;
    } want[] = {
        {"emergency", 0.25, 1, 30000}, {"key_account", 0.5, 0, 120000}, {"loyal", 0.8, 0, 300000},
        {"standard", 1.0, 0, 600000},  {"prospect", 1.5, 0, 900000},
    };

    (void)state;
    assert_int_equal(c->n_tiers, 5);
    for (int i = 0; i < 5; i++) {
        const struct rq_conf_tier *t = &c->tiers[i];

        assert_string_equal(t->name, want[i].name);
        assert_int_equal(rq_conf_tier_index(c, want[i].name), i);
        assert_int_equal(t->rank, i);
        assert_true(t->sla_factor == want[i].factor);
        assert_int_equal(t->emergency, want[i].emergency);
        assert_int_equal(t->max_wait_ms, want[i].max_wait_ms);
        assert_true(t->line > 0);
    }
    assert_true(c->tiers[0].line < c->tiers[4].line);
    assert_int_equal(c->default_tier, rq_conf_tier_index(c, "standard"));
    assert_int_equal(rq_conf_tier_index(c, "gold"), -1);
    rq_conf_free(c);
}

static void
test_sample_queues(void **state)
{
    struct rq_conf *c = load_ok(SAMPLE);
    const struct rq_conf_queue *q;
    int emergency = rq_conf_tier_index(c, "emergency");
    int key = rq_conf_tier_index(c, "key_account");
    int standard = rq_conf_tier_index(c, "standard");
    int prospect = rq_conf_tier_index(c, "prospect");

    (void)state;
    q = queue(c, "sales");
    assert_int_equal(q->answer_rings, 3);
    assert_int_equal(q->ring_on_ms, 2000);
    assert_int_equal(q->ring_off_ms, 4000);
    assert_int_equal(q->target_ms[RQ_CH_VOICE], 18000);
    assert_int_equal(q->target_ms[RQ_CH_CALLBACK], 3600000);
    assert_int_equal(q->target_ms[RQ_CH_CHAT], 60000);
    assert_int_equal(q->target_ms[RQ_CH_EMAIL], 14400000);
    assert_true(q->goal_percent == 80.0);
    assert_int_equal(q->sl_variant, RQ_SL_ABANDONS_IGNORED);
    assert_int_equal(q->short_abandon_ms, 5000);
    assert_string_equal(q->strategy, "longest_idle");
    assert_int_equal(q->ring_timeout_ms, 15000);
    assert_int_equal(q->wrap_up_ms, 10000);
    assert_int_equal(q->preferred_wait_ms, 30000);
    assert_int_equal(q->alert_percent, 80);
    assert_int_equal(q->priority_step_ms, 5000);
    assert_int_equal(q->default_aht_ms, 180000);
    assert_int_equal(q->closed, 0);
    assert_int_equal(q->n_skills, 1);
    assert_int_equal(q->skills[0].skill, rq_conf_skill_index(c, "sales"));
    assert_int_equal(q->skills[0].level, 3);
    /* Per-tier maximum wait: the override for prospects, the tiers' values elsewhere. */
    assert_int_equal(q->max_wait_ms[prospect], 600000);
    assert_int_equal(q->max_wait_ms[standard], 600000);
    assert_int_equal(q->max_wait_ms[key], 120000);
    assert_int_equal(q->max_wait_ms[emergency], 30000);

    /* Escalation steps in file order. */
    assert_int_equal(q->n_steps, 3);
    assert_int_equal(q->steps[0].at_percent, 50);
    assert_int_equal(q->steps[0].relax_levels, 2);
    assert_int_equal(q->steps[0].relax_language, 0);
    assert_int_equal(q->steps[0].n_add_queues, 0);
    assert_int_equal(q->steps[0].raise_priority, 0);
    assert_int_equal(q->steps[1].at_percent, 80);
    assert_int_equal(q->steps[1].n_add_queues, 1);
    assert_int_equal(q->steps[1].add_queues[0], rq_conf_queue_index(c, "support"));
    assert_int_equal(q->steps[1].relax_language, 1);
    assert_int_equal(q->steps[2].at_percent, -1);
    assert_int_equal(q->steps[2].after_ms, 60000);
    assert_int_equal(q->steps[2].raise_priority, 10);
    assert_true(q->steps[0].line < q->steps[1].line && q->steps[1].line < q->steps[2].line);

    q = queue(c, "support");
    assert_int_equal(q->target_ms[RQ_CH_VOICE], 24000);
    assert_string_equal(q->strategy, "least_occupied");
    assert_int_equal(q->max_wait_ms[key], 90000);
    assert_int_equal(q->max_wait_ms[prospect], 900000);
    assert_int_equal(q->steps[1].add_queues[0], rq_conf_queue_index(c, "billing"));
    assert_int_equal(q->steps[2].after_ms, 300000);
    assert_int_equal(q->steps[2].relax_language, 1);
    assert_int_equal(q->steps[2].raise_priority, 20);

    /* Explicit cadence: 3 x (2 s + 4 s). */
    q = queue(c, "billing");
    assert_int_equal(q->ring_on_ms, 2000);
    assert_int_equal(q->ring_off_ms, 4000);
    assert_int_equal(q->target_ms[RQ_CH_VOICE], 18000);
    assert_int_equal(q->target_ms[RQ_CH_EMAIL], 86400000);
    assert_int_equal(q->sl_variant, RQ_SL_ABANDONS_NEGATIVE);
    assert_int_equal(q->short_abandon_ms, 10000);

    q = queue(c, "key_accounts");
    assert_int_equal(q->target_ms[RQ_CH_VOICE], 12000);
    assert_int_equal(q->target_ms[RQ_CH_CHAT], 30000);
    assert_true(q->goal_percent == 90.0);
    assert_int_equal(q->ring_timeout_ms, 12000);
    assert_int_equal(q->skills[0].skill, rq_conf_skill_index(c, "key_accounts"));
    assert_int_equal(q->skills[0].level, 5);
    for (int t = 0; t < c->n_tiers; t++)
        assert_int_equal(q->max_wait_ms[t], t == emergency ? 30000 : 60000);
    assert_int_equal(q->steps[1].n_add_queues, 2);
    assert_int_equal(q->steps[1].add_queues[0], rq_conf_queue_index(c, "sales"));
    assert_int_equal(q->steps[1].add_queues[1], rq_conf_queue_index(c, "support"));
    assert_int_equal(q->steps[2].at_percent, 100);
    assert_int_equal(q->steps[2].raise_priority, 30);

    /* A key account's voice target on the sales queue: 18 s x 0.5. */
    assert_int_equal(
        (uint32_t)(queue(c, "sales")->target_ms[RQ_CH_VOICE] * c->tiers[key].sla_factor), 9000);
    rq_conf_free(c);
}

static void
test_sample_agents(void **state)
{
    struct rq_conf *c = load_ok(SAMPLE);
    const struct rq_conf_agent *a;

    (void)state;
    assert_int_equal(c->n_agents, 8);
    for (int i = 0; i < c->n_agents; i++) {
        char id[16];

        snprintf(id, sizeof(id), "a%d", 1001 + i);
        assert_string_equal(c->agents[i].id, id);
        assert_string_equal(c->agents[i].token, "demo");
        assert_true(c->agents[i].n_skills > 0);
        assert_true(c->agents[i].n_langs > 0);
        assert_true(c->agents[i].personas != 0);
    }

    a = agent(c, "a1001");
    assert_string_equal(a->name, "Ana Lima");
    assert_int_equal(a->n_skills, 2);
    assert_int_equal(level(c, a->skills, a->n_skills, "sales"), 7);
    assert_int_equal(level(c, a->skills, a->n_skills, "support"), 3);
    assert_int_equal(level(c, a->skills, a->n_skills, "billing"), 0);
    assert_int_equal(a->capacity[RQ_MEDIA_VOICE], 1);
    assert_int_equal(a->capacity[RQ_MEDIA_CHAT], 3);
    assert_int_equal(a->capacity[RQ_MEDIA_EMAIL], 5);
    assert_int_equal(a->n_langs, 2);
    assert_string_equal(a->langs[0], "en");
    assert_string_equal(a->langs[1], "es");
    assert_int_equal(a->personas, (1u << RQ_PERSONA_ANALYTICAL) | (1u << RQ_PERSONA_AMIABLE));

    a = agent(c, "a1007");
    assert_int_equal(a->capacity[RQ_MEDIA_VOICE], 0);
    assert_int_equal(a->capacity[RQ_MEDIA_CHAT], 5);
    assert_int_equal(a->capacity[RQ_MEDIA_EMAIL], 8);

    a = agent(c, "a1008");
    assert_int_equal(a->n_langs, 3);
    assert_string_equal(a->langs[0], "fr");
    assert_int_equal(level(c, a->skills, a->n_skills, "key_accounts"), 6);
    assert_int_equal(a->personas, (1u << RQ_PERSONA_AMIABLE) | (1u << RQ_PERSONA_AUTHORITATIVE));

    a = agent(c, "a1003");
    assert_string_equal(a->name, "Chlo\xc3\xa9 Martin");

    /* Every queue has at least one agent who meets its skill requirements. */
    for (int qi = 0; qi < c->n_queues; qi++) {
        const struct rq_conf_queue *q = &c->queues[qi];
        int found = 0;

        for (int i = 0; i < c->n_agents && !found; i++) {
            const struct rq_conf_agent *ag = &c->agents[i];
            int ok = 1;

            for (int r = 0; r < q->n_skills; r++) {
                int have = level(c, ag->skills, ag->n_skills, c->skills[q->skills[r].skill].name);

                if (have < q->skills[r].level)
                    ok = 0;
            }
            found = ok;
        }
        assert_true(found);
    }
    rq_conf_free(c);
}

/* --- computed values and defaults -------------------------------------- */

static void
test_cadences(void **state)
{
    struct rq_conf *c = load_ok(DATA_DIR "/cadences.conf");

    (void)state;
    assert_int_equal(queue(c, "na")->target_ms[RQ_CH_VOICE], 18000);
    assert_int_equal(queue(c, "cn")->target_ms[RQ_CH_VOICE], 15000);
    assert_int_equal(queue(c, "cn")->ring_on_ms, 1000);
    assert_int_equal(queue(c, "cn")->ring_off_ms, 4000);
    assert_int_equal(queue(c, "eu")->target_ms[RQ_CH_VOICE], 10000);
    assert_int_equal(queue(c, "uk")->target_ms[RQ_CH_VOICE], 9000);
    assert_int_equal(queue(c, "explicit")->ring_on_ms, 1500);
    assert_int_equal(queue(c, "explicit")->ring_off_ms, 3500);
    assert_int_equal(queue(c, "explicit")->target_ms[RQ_CH_VOICE], 10000);
    assert_int_equal(queue(c, "rounded")->ring_on_ms, 2500);
    assert_int_equal(queue(c, "rounded")->ring_off_ms, 1000);
    assert_int_equal(queue(c, "rounded")->target_ms[RQ_CH_VOICE], 14000);
    assert_int_equal(queue(c, "default")->answer_rings, 3);
    assert_int_equal(queue(c, "default")->target_ms[RQ_CH_VOICE], 18000);
    rq_conf_free(c);
}

static void
test_defaults(void **state)
{
    struct rq_conf *c = load_ok(DATA_DIR "/minimal.conf");
    const struct rq_conf_queue *q;

    (void)state;
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->random_seed, 0);
    assert_int_equal(c->max_contacts, 1000000);
    /* No listen section: the documented default listeners. */
    assert_string_equal(c->listen.host, "127.0.0.1");
    assert_int_equal(c->listen.port, 7340);
    assert_string_equal(c->listen.unix_path, "/run/ringq/ringqd.sock");
    assert_int_equal(c->max_line_bytes, RQ_DEFAULT_MAX_LINE);
    assert_int_equal(c->max_clients, RQ_DEFAULT_MAX_CLIENTS);
    assert_int_equal(c->n_skills, 0);
    assert_int_equal(c->n_sources, 0);
    assert_int_equal(c->n_monitors, 0);

    assert_int_equal(c->n_tiers, 1);
    assert_true(c->tiers[0].sla_factor == 1.0);
    assert_int_equal(c->tiers[0].emergency, 0);
    assert_int_equal(c->tiers[0].max_wait_ms, 600000);
    assert_int_equal(c->default_tier, 0);

    q = queue(c, "general");
    assert_int_equal(q->answer_rings, 3);
    assert_int_equal(q->ring_on_ms, 2000);
    assert_int_equal(q->ring_off_ms, 4000);
    assert_int_equal(q->target_ms[RQ_CH_VOICE], 18000);
    assert_int_equal(q->target_ms[RQ_CH_CALLBACK], 3600000);
    assert_int_equal(q->target_ms[RQ_CH_CHAT], 60000);
    assert_int_equal(q->target_ms[RQ_CH_EMAIL], 14400000);
    assert_true(q->goal_percent == 80.0);
    assert_int_equal(q->sl_variant, RQ_SL_ABANDONS_IGNORED);
    assert_int_equal(q->short_abandon_ms, 5000);
    assert_string_equal(q->strategy, "longest_idle");
    assert_int_equal(q->ring_timeout_ms, 15000);
    assert_int_equal(q->wrap_up_ms, 0);
    assert_int_equal(q->preferred_wait_ms, 30000);
    assert_int_equal(q->alert_percent, 80);
    assert_int_equal(q->priority_step_ms, 5000);
    assert_int_equal(q->default_aht_ms, 180000);
    assert_int_equal(q->closed, 0);
    assert_int_equal(q->n_skills, 0);
    assert_int_equal(q->n_steps, 0);
    assert_int_equal(q->max_wait_ms[0], 600000);

    assert_int_equal(c->n_agents, 1);
    assert_string_equal(c->agents[0].name, "x1"); /* the id when no name is given */
    assert_int_equal(c->agents[0].capacity[RQ_MEDIA_VOICE], 1);
    assert_int_equal(c->agents[0].capacity[RQ_MEDIA_CHAT], 1);
    assert_int_equal(c->agents[0].capacity[RQ_MEDIA_EMAIL], 1);
    assert_int_equal(c->agents[0].n_skills, 0);
    assert_int_equal(c->agents[0].n_langs, 0);
    assert_int_equal(c->agents[0].personas, 0);
    rq_conf_free(c);
}

static void
test_small_values(void **state)
{
    struct fixture *fx = *state;
    struct rq_conf *c;

    write_file(fx->path, "log_level = \"debug\";\n"
                         "random_seed = 12345678901234L;\n"
                         "max_contacts = 10;\n"
                         "listen = { unix = \"/tmp/r.sock\"; max_line_bytes = 1024; "
                         "max_clients = 3; };\n"
                         "tiers = ( { name = \"gold\"; sla_factor = 2; }, "
                         "{ name = \"silver\"; max_wait_s = 0.5; } );\n"
                         "queues = ( { name = \"q\"; wrap_up_s = 2.25; closed = true; "
                         "service_level = \"answered_only\"; strategy = \"random\"; "
                         "escalation = ( { after_s = 0; raise_priority = 100; }, "
                         "{ at_percent = 0; raise_priority = 1; } ); } );\n");
    c = load_ok(fx->path);
    assert_string_equal(c->log_level, "debug");
    assert_true(c->random_seed == 12345678901234ULL);
    assert_int_equal(c->max_contacts, 10);
    assert_null(c->listen.host);
    assert_string_equal(c->listen.unix_path, "/tmp/r.sock");
    assert_int_equal(c->max_line_bytes, 1024);
    assert_int_equal(c->max_clients, 3);
    assert_true(c->tiers[0].sla_factor == 2.0);
    assert_int_equal(c->tiers[1].max_wait_ms, 500);
    /* No "standard" tier: contacts that name none get the last tier. */
    assert_int_equal(c->default_tier, 1);
    assert_int_equal(c->queues[0].wrap_up_ms, 2250);
    assert_int_equal(c->queues[0].closed, 1);
    assert_int_equal(c->queues[0].sl_variant, RQ_SL_ANSWERED_ONLY);
    assert_string_equal(c->queues[0].strategy, "random");
    assert_int_equal(c->queues[0].steps[0].at_percent, -1);
    assert_int_equal(c->queues[0].steps[0].after_ms, 0);
    assert_int_equal(c->queues[0].steps[0].raise_priority, 100);
    assert_int_equal(c->queues[0].steps[1].at_percent, 0);
    rq_conf_free(c);

    /* TCP only; the port defaults to 7340 when only host is given. */
    write_file(fx->path, "listen = { host = \"::1\"; };\n"
                         "tiers = ( { name = \"standard\"; } );\n"
                         "queues = ( { name = \"q\"; } );\n");
    c = load_ok(fx->path);
    assert_string_equal(c->listen.host, "::1");
    assert_int_equal(c->listen.port, 7340);
    assert_null(c->listen.unix_path);
    rq_conf_free(c);
}

/* --- enum names -------------------------------------------------------- */

static void
test_enum_names(void **state)
{
    enum rq_channel ch;
    enum rq_persona p;
    enum rq_sl_variant v;

    (void)state;
    for (int i = 0; i < RQ_CH__COUNT; i++) {
        assert_int_equal(rq_channel_parse(rq_channel_name((enum rq_channel)i), &ch), 0);
        assert_int_equal(ch, i);
    }
    assert_string_equal(rq_channel_name(RQ_CH_CALLBACK), "callback");
    assert_int_equal(rq_channel_parse("fax", &ch), -1);
    assert_int_equal(rq_channel_parse("Voice", &ch), -1);
    assert_int_equal(rq_channel_media(RQ_CH_VOICE), RQ_MEDIA_VOICE);
    assert_int_equal(rq_channel_media(RQ_CH_CALLBACK), RQ_MEDIA_VOICE);
    assert_int_equal(rq_channel_media(RQ_CH_CHAT), RQ_MEDIA_CHAT);
    assert_int_equal(rq_channel_media(RQ_CH_EMAIL), RQ_MEDIA_EMAIL);
    assert_string_equal(rq_media_name(RQ_MEDIA_VOICE), "voice");
    assert_string_equal(rq_media_name(RQ_MEDIA_CHAT), "chat");
    assert_string_equal(rq_media_name(RQ_MEDIA_EMAIL), "email");

    for (int i = 0; i < RQ_PERSONA__COUNT; i++) {
        assert_int_equal(rq_persona_parse(rq_persona_name((enum rq_persona)i), &p), 0);
        assert_int_equal(p, i);
    }
    assert_string_equal(rq_persona_name(RQ_PERSONA_EXPRESSIVE), "expressive");
    assert_int_equal(rq_persona_parse("grumpy", &p), -1);

    assert_int_equal(rq_sl_variant_parse("answered_only", &v), 0);
    assert_int_equal(v, RQ_SL_ANSWERED_ONLY);
    assert_int_equal(rq_sl_variant_parse("abandons_positive", &v), 0);
    assert_int_equal(v, RQ_SL_ABANDONS_POSITIVE);
    assert_string_equal(rq_sl_variant_name(RQ_SL_ABANDONS_NEGATIVE), "abandons_negative");
    assert_string_equal(rq_sl_variant_name(RQ_SL_ABANDONS_IGNORED), "abandons_ignored");
    assert_int_equal(rq_sl_variant_parse("abandons", &v), -1);
    assert_int_equal(rq_sl_variant_parse(NULL, &v), -1);
}

/* --- files that cannot be read ------------------------------------------ */

static void
test_missing_file(void **state)
{
    struct fixture *fx = *state;
    char path[192], want[256], err[RQ_ERR_LEN];

    snprintf(path, sizeof(path), "%s/absent.conf", fx->dir);
    assert_null(rq_conf_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);

    assert_null(rq_conf_load(fx->dir, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: cannot open: Is a directory", fx->dir);
    assert_string_equal(err, want);

    /* A short buffer is truncated, never overrun; no buffer at all is fine too. */
    assert_null(rq_conf_load(path, err, 8));
    assert_int_equal(strlen(err), 7);
    assert_null(rq_conf_load(path, NULL, 0));
    rq_conf_free(NULL);
}

/* --- broken files -------------------------------------------------------- */

/* A valid frame most cases change one thing in; each #define is one line. */
#define TIERS  "tiers = ( { name = \"standard\"; }, { name = \"vip\"; sla_factor = 0.5; } );\n"
#define SKILLS "skills = [ \"sales\", \"support\" ];\n"
#define QUEUES "queues = ( { name = \"sales\"; }, { name = \"support\"; } );\n"
#define FRAME  TIERS SKILLS QUEUES /* lines 1..3 */

/* The agent a1001 on line 4 with extra settings X. */
#define AGENT(X) FRAME "agents = ( { id = \"a1001\"; token = \"t\"; " X " } );\n"

/* The queue sales on line 3 with extra settings X; support follows on line 4. */
#define QUEUE(X)                                                                                   \
    TIERS SKILLS "queues = ( { name = \"sales\"; " X " },\n"                                       \
                 "  { name = \"support\"; } );\n"

/* The queue sales with one escalation step S on line 5. */
#define STEP(S)                                                                                    \
    TIERS SKILLS "queues = (\n"                                                                    \
                 "  { name = \"sales\"; escalation = (\n"                                          \
                 "      " S "\n"                                                                   \
                 "    ); },\n"                                                                     \
                 "  { name = \"support\"; }, { name = \"billing\"; }, { name = \"x\"; },\n"        \
                 "  { name = \"y\"; }, { name = \"z\"; } );\n"

struct bad_case {
    const char *name;   /* what is wrong */
    const char *text;   /* the file */
    int line;           /* expected line, 0 when the message has none */
    const char *phrase; /* the message must contain this */
};

static const struct bad_case bad_cases[] = {
    /* libconfig's own errors */
    {"syntax", "tiers = ( { name = \"standard\"; } );\nqueues = ( { name = ; } );\n", 2,
     "syntax error"},
    {"duplicate setting", FRAME "log_level = \"info\";\nlog_level = \"debug\";\n", 5,
     "duplicate setting name"},
    {"mixed array", "skills = [ \"sales\",\n 3 ];\n" TIERS QUEUES, 2, "mismatched element type"},
    {"include missing", FRAME "@include \"/nonexistent/ringq-agents.conf\"\n", 4,
     "cannot open include file"},

    /* unknown settings */
    {"unknown top-level", FRAME "max_contact = 5;\n", 4,
     "unknown setting 'max_contact' at the top level (did you mean 'max_contacts'?)"},
    {"unknown queue setting",
     TIERS SKILLS "queues = (\n  { name = \"sales\";\n    ring_timout_s = 5; }\n);\n", 5,
     "unknown setting 'ring_timout_s' in queue 'sales' (did you mean 'ring_timeout_s'?)"},
    {"unknown tier setting", "tiers = ( { name = \"standard\"; sla = 1.0; } );\n" QUEUES, 1,
     "unknown setting 'sla' in tier 'standard'"},
    {"unknown step setting", STEP("{ at_percent = 50; relax_level = 1; }"), 5,
     "in queue 'sales': escalation step 1 (did you mean 'relax_levels'?)"},
    {"unknown agent setting", AGENT("skils = { sales = 3; };"), 4,
     "unknown setting 'skils' in agent 'a1001'"},
    {"unknown capacity medium", AGENT("capacity = { sms = 1; };"), 4,
     "unknown setting 'sms' in agent 'a1001' capacity"},
    {"unknown listen setting", FRAME "listen = {\n  unix = \"/tmp/x\";\n  prot = 1; };\n", 6,
     "unknown setting 'prot' in listen (did you mean 'port'?)"},
    {"unknown source setting",
     FRAME "sources = ( { name = \"pbx1\"; token = \"t\"; key = 1; } );\n", 4,
     "unknown setting 'key' in source 'pbx1'"},

    /* undefined names */
    {"queue skill undefined", QUEUE("skills = { salse = 3; };"), 3,
     "queue 'sales': skill 'salse' is not defined in skills"},
    {"agent skill undefined", AGENT("skills = { billing = 3; };"), 4,
     "agent 'a1001': skill 'billing' is not defined in skills"},
    {"overflow unknown queue", STEP("{ at_percent = 50; overflow = [ \"suport\" ]; }"), 5,
     "queue 'sales': escalation step 1: overflow queue 'suport' is not defined in queues"},
    {"overflow to itself", STEP("{ at_percent = 50; overflow = [ \"sales\" ]; }"), 5,
     "overflow to the queue itself ('sales')"},
    {"default tier unknown", FRAME "default_tier = \"gold\";\n", 4,
     "default_tier 'gold' is not defined in tiers"},
    {"fallback queue unknown", FRAME "fallback_queue = \"suport\";\n", 4,
     "fallback_queue 'suport' is not defined in queues"},
    {"fallback queue not a string", FRAME "fallback_queue = 3;\n", 4, "fallback_queue"},
    {"max_wait tier unknown", QUEUE("max_wait_s = { vip2 = 30; };"), 3,
     "queue 'sales': max_wait_s: tier 'vip2' is not defined in tiers"},
    {"unknown strategy", QUEUE("strategy = \"fastest\";"), 3,
     "queue 'sales': unknown strategy 'fastest'"},
    {"unknown service level", QUEUE("service_level = \"abandons\";"), 3,
     "unknown service_level 'abandons'"},
    {"unknown cadence", QUEUE("ring_cadence = \"japan\";"), 3, "unknown ring_cadence 'japan'"},
    {"unknown persona", AGENT("personas = [ \"grumpy\" ];"), 4, "unknown persona 'grumpy'"},
    {"unknown log level", FRAME "log_level = \"loud\";\n", 4, "unknown log_level 'loud'"},

    /* duplicates */
    {"duplicate tier",
     "tiers = ( { name = \"standard\"; },\n  { name = \"vip\"; },\n  { name = \"standard\"; } "
     ");\n" QUEUES,
     3, "tier 'standard' is defined twice (first at line 1)"},
    {"duplicate skill", "skills = [ \"sales\",\n \"sales\" ];\n" TIERS QUEUES, 2,
     "skill 'sales' is defined twice"},
    {"duplicate queue", TIERS "queues = ( { name = \"q\"; },\n { name = \"q\"; } );\n", 3,
     "queue 'q' is defined twice (first at line 2)"},
    {"duplicate agent",
     FRAME "agents = ( { id = \"a1\"; token = \"t\"; },\n { id = \"a1\"; token = \"u\"; } );\n", 5,
     "agent 'a1' is defined twice (first at line 4)"},
    {"duplicate source",
     FRAME "sources = ( { name = \"p\"; token = \"t\"; },\n { name = \"p\"; token = \"t\"; } );\n",
     5, "source 'p' is defined twice"},
    {"duplicate monitor",
     FRAME "monitors = ( { name = \"w\"; token = \"t\"; },\n { name = \"w\"; token = \"t\"; } "
           ");\n",
     5, "monitor 'w' is defined twice"},
    {"duplicate overflow", STEP("{ at_percent = 50; overflow = [ \"x\", \"x\" ]; }"), 5,
     "overflow names queue 'x' twice"},
    {"duplicate persona", AGENT("personas = [ \"amiable\", \"amiable\" ];"), 4,
     "persona 'amiable' is listed twice"},
    {"duplicate language", AGENT("languages = [ \"en\", \"en\" ];"), 4,
     "language 'en' is listed twice"},

    /* wrong types */
    {"int as string", QUEUE("answer_rings = \"three\";"), 3,
     "queue 'sales': answer_rings must be an integer"},
    {"time as string", QUEUE("ring_timeout_s = \"15\";"), 3,
     "ring_timeout_s must be a number of seconds"},
    {"float for int", STEP("{ at_percent = 50.5; relax_levels = 1; }"), 5,
     "at_percent must be an integer"},
    {"int for bool", "tiers = ( { name = \"standard\"; emergency = 1; } );\n" QUEUES, 1,
     "tier 'standard': emergency must be true or false"},
    {"tiers as group", "tiers = { name = \"standard\"; };\n" QUEUES, 1,
     "tiers must be a list of groups"},
    {"queue skills as array", QUEUE("skills = [ \"sales\" ];"), 3,
     "skills must be a group of name = level"},
    {"empty name", TIERS "queues = ( { name = \"\"; } );\n", 2, "name must not be empty"},
    {"level as float", AGENT("skills = { sales = 2.5; };"), 4,
     "skill 'sales': level must be an integer"},

    /* out of range */
    {"agent skill level", AGENT("skills = { sales = 12; };"), 4,
     "agent 'a1001': skill 'sales' level 12 out of range 1..10"},
    {"queue skill level", QUEUE("skills = { sales = 0; };"), 3,
     "skill 'sales' level 0 out of range 1..10"},
    {"port", FRAME "listen = { host = \"127.0.0.1\";\n  port = 70000; };\n", 5,
     "listen: port 70000 out of range 1..65535"},
    {"redis max_pending", FRAME "redis = {\n  max_pending = 99; };\n", 5,
     "redis: max_pending 99 out of range 100..100000000"},
    {"redis max_held_bytes", FRAME "redis = { max_held_bytes = 1000; };\n", 4,
     "redis: max_held_bytes 1000 out of range 65536..4294967296"},
    {"goal zero", QUEUE("goal_percent = 0;"), 3, "goal_percent 0 must be more than 0"},
    {"goal over 100", QUEUE("goal_percent = 100.5;"), 3, "goal_percent 100.5 out of range 0..100"},
    {"alert percent", QUEUE("alert_percent = 0;"), 3, "alert_percent 0 out of range 1..100"},
    {"at_percent", STEP("{ at_percent = 1001; relax_levels = 1; }"), 5,
     "at_percent 1001 out of range 0..1000"},
    {"ring timeout long", QUEUE("ring_timeout_s = 900;"), 3,
     "ring_timeout_s 900 out of range 0..600 s"},
    {"ring timeout zero", QUEUE("ring_timeout_s = 0;"), 3,
     "ring_timeout_s 0 must be more than 0 s"},
    {"negative time", QUEUE("wrap_up_s = -1;"), 3, "wrap_up_s -1 must not be negative"},
    {"target too long", QUEUE("email_target_s = 1e9;"), 3, "email_target_s 1e+09 out of range"},
    {"answer rings", QUEUE("answer_rings = 0;"), 3, "answer_rings 0 out of range 1..100"},
    {"voice capacity", AGENT("capacity = { voice = 2; };"), 4,
     "agent 'a1001': capacity.voice 2 out of range 0..1"},
    {"chat capacity", AGENT("capacity = { chat = 33; };"), 4,
     "capacity.chat 33 out of range 0..32"},
    {"no capacity", AGENT("capacity = { voice = 0; chat = 0; email = 0; };"), 4,
     "capacity is 0 for every medium"},
    {"sla factor", "tiers = ( { name = \"standard\"; sla_factor = 0; } );\n" QUEUES, 1,
     "tier 'standard': sla_factor 0 must be more than 0"},
    {"tier max wait", "tiers = ( { name = \"standard\"; max_wait_s = 0; } );\n" QUEUES, 1,
     "max_wait_s 0 must be more than 0 s"},
    {"max contacts", FRAME "max_contacts = 0;\n", 4, "max_contacts 0 out of range 1..10000000"},
    {"max line bytes", FRAME "listen = { unix = \"/tmp/s\"; max_line_bytes = 100; };\n", 4,
     "max_line_bytes 100 out of range 1024..16777216"},
    {"random seed", FRAME "random_seed = -1;\n", 4, "random_seed -1 must not be negative"},
    {"relax levels", STEP("{ at_percent = 50; relax_levels = 10; }"), 5,
     "relax_levels 10 out of range 0..9"},
    {"raise priority", STEP("{ after_s = 5; raise_priority = 101; }"), 5,
     "raise_priority 101 out of range 0..100"},
    {"ring on zero", QUEUE("ring_on_s = 0; ring_off_s = 4;"), 3,
     "ring_on_s 0 must be more than 0 s"},

    /* too many */
    {"too many overflow queues",
     STEP("{ at_percent = 50; overflow = [ \"support\", \"billing\", \"x\", \"y\", \"z\" ]; }"), 5,
     "overflow lists 5 queues, at most 4"},
    {"too many steps",
     STEP("{ at_percent = 1; raise_priority = 1; }, { at_percent = 2; raise_priority = 1; }, "
          "{ at_percent = 3; raise_priority = 1; }, { at_percent = 4; raise_priority = 1; }, "
          "{ at_percent = 5; raise_priority = 1; }, { at_percent = 6; raise_priority = 1; }, "
          "{ at_percent = 7; raise_priority = 1; }, { at_percent = 8; raise_priority = 1; }, "
          "{ at_percent = 9; raise_priority = 1; }"),
     4, "escalation has 9 steps, at most 8"},
    {"too many queue skills",
     TIERS "skills = [ \"s1\", \"s2\", \"s3\", \"s4\", \"s5\", \"s6\", \"s7\", \"s8\", \"s9\", "
           "\"s10\", \"s11\", \"s12\", \"s13\", \"s14\", \"s15\", \"s16\", \"s17\" ];\n"
           "queues = ( { name = \"q\";\n  skills = { s1 = 1; s2 = 1; s3 = 1; s4 = 1; s5 = 1; "
           "s6 = 1; s7 = 1; s8 = 1; s9 = 1; s10 = 1; s11 = 1; s12 = 1; s13 = 1; s14 = 1; "
           "s15 = 1; s16 = 1; s17 = 1; }; } );\n",
     4, "queue 'q': 17 skills, at most 16"},
    {"too many languages",
     AGENT("languages = [ \"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\" ];"), 4,
     "9 languages, at most 8"},

    /* steps */
    {"step with neither", STEP("{ relax_levels = 1; }"), 5,
     "queue 'sales': escalation step 1: give at_percent or after_s"},
    {"step with both", STEP("{ at_percent = 50; after_s = 10; relax_levels = 1; }"), 5,
     "give at_percent or after_s, not both"},
    {"step does nothing", STEP("{ at_percent = 50; }"), 5, "the step does nothing"},
    {"steps out of order",
     STEP("{ at_percent = 80; relax_levels = 1; }, { at_percent = 50; relax_levels = 2; }"), 5,
     "list steps in the order they come due"},
    {"escalation not a list", QUEUE("escalation = { at_percent = 50; };"), 3,
     "escalation must be a list of steps"},

    /* cadence */
    {"cadence and explicit", QUEUE("ring_cadence = \"uk\"; ring_on_s = 1;"), 3,
     "ring_cadence and ring_on_s/ring_off_s exclude each other"},
    {"ring on without off", QUEUE("ring_on_s = 1;"), 3, "ring_on_s and ring_off_s go together"},

    /* structure */
    {"no tiers", QUEUES, 0, "no tiers defined"},
    {"empty tiers", QUEUES "tiers = ( );\n", 2, "tiers is empty"},
    {"no queues", TIERS, 0, "no queues defined"},
    {"empty queues", TIERS "queues = ();\n", 2, "queues is empty"},
    {"listen without listener", FRAME "listen = {\n  max_clients = 5; };\n", 4,
     "listen: no listener: set host and port, or unix, or both"},
    {"port without host", FRAME "listen = { unix = \"/tmp/s\";\n port = 7340; };\n", 5,
     "port is set but host is not"},
    {"unix path too long",
     FRAME
     "listen = { unix = \"/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"; };\n",
     4, "unix path is too long"},
    {"queue without name", TIERS "queues = ( { name = \"a\"; },\n  { answer_rings = 2; } );\n", 3,
     "queue #2: missing 'name'"},
    {"agent without token", FRAME "agents = ( { id = \"a1001\"; name = \"Ana\"; } );\n", 4,
     "agent 'a1001': missing 'token'"},
    {"bad skill name", "skills = [ \"1st\" ];\n" TIERS QUEUES, 1, "skill name '1st' is not valid"},
    {"bad agent id", FRAME "agents = ( { id = \"a 1\"; token = \"t\"; } );\n", 4,
     "agent id 'a 1' is not valid"},
    {"list element not a group", FRAME "agents = ( \"a1001\" );\n", 4,
     "agents: element 1 must be a group"},
};

static void
test_broken_files(void **state)
{
    struct fixture *fx = *state;
    size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]);
    int failed = 0;

    for (size_t i = 0; i < n; i++) {
        const struct bad_case *bc = &bad_cases[i];
        char err[RQ_ERR_LEN] = "", prefix[192];
        struct rq_conf *c;

        write_file(fx->path, bc->text);
        c = rq_conf_load(fx->path, err, sizeof(err));
        if (bc->line > 0)
            snprintf(prefix, sizeof(prefix), "%s:%d: ", fx->path, bc->line);
        else
            snprintf(prefix, sizeof(prefix), "%s: ", fx->path);
        if (c != NULL) {
            print_error("case '%s': loaded, expected \"%s%s\"\n", bc->name, prefix, bc->phrase);
            rq_conf_free(c);
            failed++;
        } else if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, bc->phrase) == NULL) {
            print_error("case '%s':\n  got  \"%s\"\n  want \"%s...%s...\"\n", bc->name, err, prefix,
                        bc->phrase);
            failed++;
        }
    }
    assert_true(n >= 20);
    assert_int_equal(failed, 0);
}

/* The fixes of the broken cases load: each case fails for the reason it names. */
static void
test_frames_load(void **state)
{
    struct fixture *fx = *state;
    static const char *const good[] = {
        FRAME,
        AGENT("skills = { sales = 10; support = 1; }; capacity = { voice = 0; email = 32; }; "
              "languages = [ \"pt-BR\" ]; personas = [ \"expressive\" ];"),
        QUEUE("skills = { sales = 10; }; max_wait_s = { vip = 30; }; ring_timeout_s = 600;"),
        STEP("{ at_percent = 50; overflow = [ \"support\", \"billing\", \"x\", \"y\" ]; }, "
             "{ at_percent = 50; relax_levels = 9; }, { after_s = 5; raise_priority = 100; }"),
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        write_file(fx->path, good[i]);
        rq_conf_free(load_ok(fx->path));
    }
}

/* --- the skill limit and the name indexes ------------------------------- */

/* A file with n skills s00000.., one queue needing the last one, one agent
 * having it at level 10. */
static void
write_skills(const char *path, int n)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "skills = [");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\"s%05d\"", i ? ", " : " ", i);
    fprintf(f,
            " ];\ntiers = ( { name = \"standard\"; } );\n"
            "queues = ( { name = \"q\"; skills = { s%05d = 3; }; } );\n"
            "agents = ( { id = \"a1\"; token = \"t\"; skills = { s%05d = 10; }; } );\n",
            n - 1, n - 1);
    assert_int_equal(fclose(f), 0);
}

/* RQ_MAX_SKILLS skills load (a skill index is 16 bits: the last one must
 * survive), one more is refused; lookups by name use the loaded index. */
static void
test_skill_limit(void **state)
{
    struct fixture *fx = *state;
    char err[RQ_ERR_LEN] = "", want[192];
    struct rq_conf *c;

    write_skills(fx->path, RQ_MAX_SKILLS);
    c = load_ok(fx->path);
    assert_int_equal(c->n_skills, RQ_MAX_SKILLS);
    assert_int_equal(c->queues[0].skills[0].skill, RQ_MAX_SKILLS - 1);
    assert_int_equal(c->queues[0].skills[0].level, 3);
    assert_int_equal(c->agents[0].skills[0].skill, RQ_MAX_SKILLS - 1);
    assert_int_equal(c->agents[0].skills[0].level, 10);
    assert_non_null(c->skill_index);
    for (int i = 0; i < RQ_MAX_SKILLS; i += 997) {
        char name[16];
        snprintf(name, sizeof(name), "s%05d", i);
        assert_int_equal(rq_conf_skill_index(c, name), i);
    }
    assert_int_equal(rq_conf_skill_index(c, "s99999"), -1);
    assert_int_equal(rq_conf_skill_index(c, ""), -1);
    assert_int_equal(rq_conf_queue_index(c, "q"), 0);
    assert_int_equal(rq_conf_queue_index(c, "r"), -1);
    assert_int_equal(rq_conf_tier_index(c, "standard"), 0);
    assert_int_equal(rq_conf_tier_index(c, "gold"), -1);
    rq_conf_free(c);

    write_skills(fx->path, RQ_MAX_SKILLS + 1);
    assert_null(rq_conf_load(fx->path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s:1: %d skills, at most %d", fx->path, RQ_MAX_SKILLS + 1,
             RQ_MAX_SKILLS);
    assert_string_equal(err, want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_globals),
        cmocka_unit_test(test_sample_tiers),
        cmocka_unit_test(test_sample_queues),
        cmocka_unit_test(test_sample_agents),
        cmocka_unit_test(test_cadences),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_small_values, setup, teardown),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skill_limit, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
