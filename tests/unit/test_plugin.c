/* test_plugin.c - the plugin host: loading, ABI checks, routing through a
 * plugin strategy named in a configuration file. */
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
#include "plugin.h"
#include "router.h"
#include "strategy/strategy.h"

static char err[1024];

static void
test_load_and_register(void **state)
{
    const struct rq_strategy *s;

    (void)state;
    assert_null(rq_strategy_find("least_skilled"));
    assert_int_equal(rq_plugin_load(PLUGIN_LEAST_SKILLED, err, sizeof(err)), 0);
    s = rq_strategy_find("least_skilled");
    assert_non_null(s);
    assert_non_null(s->impl);
    assert_true(rq_strategy_known("least_skilled"));
    /* the same file again: nothing happens */
    assert_int_equal(rq_plugin_load(PLUGIN_LEAST_SKILLED, err, sizeof(err)), 0);
    assert_ptr_equal(rq_strategy_find("least_skilled"), s);
}

static void
test_refusals(void **state)
{
    (void)state;
    assert_int_equal(rq_plugin_load(PLUGIN_BAD_ABI, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "built for plugin ABI 99.0, this ringqd has ABI 1.0"));
    assert_int_equal(rq_plugin_load(PLUGIN_NOT_A_PLUGIN, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a ringq plugin: it exports no ringq_plugin_v1"));
    assert_int_equal(rq_plugin_load(PLUGIN_LEAST_SKILLED, err, sizeof(err)), 0);
    assert_int_equal(rq_plugin_load(PLUGIN_DUP_NAME, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "a plugin named 'least_skilled' is already loaded"));
    assert_int_equal(rq_plugin_load("/nonexistent/x.so", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.so: cannot load"));
    assert_null(rq_strategy_find("last_one"));
}

static uint64_t now = 1700000000000ULL;

static void
on_offer(void *arg, const struct rq_contact *c, const struct rq_agent *a)
{
    snprintf(arg, 64, "%s", a->id);
}

static void
test_route_through_plugin_strategy(void **state)
{
    char path[] = "/tmp/ringq-plugin-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct rq_conf *conf;
    struct rq_clock clock = {.now_ms = rq_clock_manual_now, .arg = &now};
    struct rq_hooks hooks = {.offer = on_offer};
    char offered[64] = "";
    struct rq_router *r;
    struct rq_contact_in in = {.id = "c1", .queue = "sales"};

    (void)state;
    fprintf(f,
            "plugins = [ \"%s\" ];\n"
            "tiers = ( { name = \"standard\"; } );\n"
            "skills = [ \"sales\" ];\n"
            "queues = ( { name = \"sales\"; strategy = \"least_skilled\"; skills = { sales = 2; }; "
            "} );\n"
            "agents = ( { id = \"expert\"; token = \"t\"; skills = { sales = 9; }; },\n"
            "           { id = \"junior\"; token = \"t\"; skills = { sales = 3; }; },\n"
            "           { id = \"novice\"; token = \"t\"; skills = { sales = 1; }; } );\n",
            PLUGIN_LEAST_SKILLED);
    fclose(f);
    conf = rq_conf_load(path, err, sizeof(err));
    unlink(path);
    if (conf == NULL)
        fail_msg("%s", err);
    r = rq_router_new(conf, &clock, &hooks, offered);
    for (int i = 0; i < 3; i++) {
        const char *ids[] = {"expert", "junior", "novice"};
        rq_router_agent_login(r, ids[i], NULL);
        rq_router_agent_state(r, ids[i], "ready", NULL, NULL);
    }
    assert_int_equal(rq_router_contact_new(r, "pbx1", &in, NULL, NULL), 0);
    /* the novice lacks level 2; of the others the least skilled gets it */
    assert_string_equal(offered, "junior");
    rq_router_free(r);
    rq_conf_free(conf);
}

static int
unload(void **state)
{
    (void)state;
    rq_plugin_unload_all();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_load_and_register, unload),
        cmocka_unit_test_teardown(test_refusals, unload),
        cmocka_unit_test_teardown(test_route_through_plugin_strategy, unload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
