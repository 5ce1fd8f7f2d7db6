/*
 * test_proto.c - the NDJSON parser and encoders: a valid line of every op,
 * every error the parser produces (with the field path in the message),
 * id echo, the role table, encoder round trips, and thousands of mutated
 * lines that must parse or fail cleanly.
 *
 * jansson allocates through cmocka's test_malloc/test_free, so every test
 * also fails if it leaks a JSON tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "proto.h"

/* ---- helpers ---- */

static void *
tracked_malloc(size_t size)
{
    return test_malloc(size);
}

static void
tracked_free(void *ptr)
{
    test_free(ptr);
}

/* Parse line, which must succeed. */
static void
parse_ok(const char *line, struct rq_msg *m)
{
    struct rq_error err = {0};

    if (rq_proto_parse(line, strlen(line), m, &err) != 0)
        fail_msg("'%s' refused: %s: %s", line, rq_errcode_name(err.code), err.message);
}

/* Parse line (len bytes), which must fail with code and, unless NULL,
 * exactly message. */
static void
expect_errorn(const char *line, size_t len, enum rq_errcode code, const char *message)
{
    struct rq_msg m;
    struct rq_error err = {0};

    if (rq_proto_parse(line, len, &m, &err) != -1)
        fail_msg("'%.*s' accepted", (int)len, line);
    if (err.code != code)
        fail_msg("'%.*s': %s (%s), expected %s", (int)len, line, rq_errcode_name(err.code),
                 err.message, rq_errcode_name(code));
    assert_true(err.message[0] != '\0');
    if (message != NULL)
        assert_string_equal(err.message, message);
    rq_msg_clear(&m);
}

static void
expect_error(const char *line, enum rq_errcode code, const char *message)
{
    expect_errorn(line, strlen(line), code, message);
}

/* Parse and decode a line produced by an encoder; checks the newline. */
static json_t *
load_line(const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *v;

    assert_non_null(buf);
    assert_true(len >= 3);
    assert_int_equal(strlen(buf), len);
    assert_int_equal(buf[len - 1], '\n');
    assert_null(memchr(buf, '\n', len - 1));
    v = json_loadb(buf, len - 1, 0, &jerr);
    if (v == NULL)
        fail_msg("encoder output is not JSON: %s (%s)", jerr.text, buf);
    assert_true(json_is_object(v));
    return v;
}

/* A string of n copies of c (n < sizeof buffer). */
static const char *
repeat(char *buf, size_t size, char c, size_t n)
{
    assert_true(n < size);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- valid lines of every op ---- */

static void
test_hello(void **state)
{
    struct rq_msg m;

    (void)state;
    parse_ok("{\"op\":\"hello\",\"role\":\"source\",\"name\":\"pbx1\",\"token\":\"demo\"}", &m);
    assert_int_equal(m.op, RQ_OP_HELLO);
    assert_int_equal(m.u.hello.role, RQ_ROLE_SOURCE);
    assert_string_equal(m.u.hello.name, "pbx1");
    assert_string_equal(m.u.hello.token, "demo");
    assert_null(m.u.hello.agent);
    assert_null(m.id);
    rq_msg_clear(&m);

    parse_ok(
        "{\"op\":\"hello\",\"role\":\"agent\",\"agent\":\"a1001\",\"token\":\"demo\",\"id\":1}",
        &m);
    assert_int_equal(m.u.hello.role, RQ_ROLE_AGENT);
    assert_string_equal(m.u.hello.agent, "a1001");
    assert_null(m.u.hello.name);
    assert_true(json_is_integer(m.id));
    assert_int_equal(json_integer_value(m.id), 1);
    rq_msg_clear(&m);

    parse_ok("{\"id\":\"h\",\"op\":\"hello\",\"role\":\"monitor\",\"name\":\"wallboard\","
             "\"token\":\"demo\"}",
             &m);
    assert_int_equal(m.u.hello.role, RQ_ROLE_MONITOR);
    assert_string_equal(m.u.hello.name, "wallboard");
    assert_string_equal(json_string_value(m.id), "h");
    rq_msg_clear(&m);
}

static void
test_ops_without_fields(void **state)
{
    static const struct {
        const char *line;
        enum rq_op op;
    } cases[] = {
        {"{\"op\":\"ping\"}", RQ_OP_PING},
        {"{\"op\":\"ping\",\"id\":null}", RQ_OP_PING},
        {"{\"op\":\"wrapup.done\",\"id\":7}", RQ_OP_WRAPUP_DONE},
        {"{\"op\":\"bye\"}", RQ_OP_BYE},
        {" {\"op\" : \"snapshot\" , \"id\" : 2.5 } ", RQ_OP_SNAPSHOT},
    };
    struct rq_msg m;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parse_ok(cases[i].line, &m);
        assert_int_equal(m.op, cases[i].op);
        rq_msg_clear(&m);
    }
    expect_error("{\"op\":\"ping\",\"x\":1}", RQ_E_BAD_FIELD, "unknown field 'x'");
    expect_error("{\"op\":\"wrapup.done\",\"contact\":\"c1\"}", RQ_E_BAD_FIELD,
                 "unknown field 'contact'");
}

static void
test_contact_new_full(void **state)
{
    struct rq_msg m;
    const struct rq_contact_in *in;

    (void)state;
    parse_ok("{\"op\":\"contact.new\",\"id\":\"r1\",\"contact\":\"c-1\",\"channel\":\"chat\","
             "\"queue\":\"sales\",\"customer\":{\"id\":\"cust9\",\"tier\":\"key_account\","
             "\"lang\":\"es\",\"persona\":\"amiable\"},\"skills\":{\"sales\":3,\"billing\":10},"
             "\"priority\":100,\"preferred_agent\":\"a1001\",\"due_at\":1700000000123}",
             &m);
    in = &m.u.contact;
    assert_int_equal(m.op, RQ_OP_CONTACT_NEW);
    assert_string_equal(in->id, "c-1");
    assert_string_equal(in->channel, "chat");
    assert_string_equal(in->queue, "sales");
    assert_string_equal(in->customer_id, "cust9");
    assert_string_equal(in->tier, "key_account");
    assert_string_equal(in->lang, "es");
    assert_string_equal(in->persona, "amiable");
    assert_int_equal(in->n_skills, 2);
    assert_string_equal(in->skills[0].name, "sales");
    assert_int_equal(in->skills[0].level, 3);
    assert_string_equal(in->skills[1].name, "billing");
    assert_int_equal(in->skills[1].level, 10);
    assert_int_equal(in->priority, 100);
    assert_string_equal(in->preferred_agent, "a1001");
    assert_true(in->due_at_ms == 1700000000123ull);
    assert_true(in->arrived_ms == 0);
    rq_msg_clear(&m);
}

static void
test_contact_new_minimal(void **state)
{
    struct rq_msg m;
    const struct rq_contact_in *in;
    static const char *const channels[] = {"voice", "chat", "email", "callback"};
    static const char *const personas[] = {"authoritative", "analytical", "amiable", "expressive"};
    char line[256];
    size_t i;

    (void)state;
    parse_ok("{\"op\":\"contact.new\",\"contact\":\"c1\",\"queue\":\"sales\"}", &m);
    in = &m.u.contact;
    assert_string_equal(in->id, "c1");
    assert_string_equal(in->queue, "sales");
    assert_null(in->channel);
    assert_null(in->customer_id);
    assert_null(in->tier);
    assert_null(in->lang);
    assert_null(in->persona);
    assert_null(in->preferred_agent);
    assert_int_equal(in->n_skills, 0);
    assert_int_equal(in->priority, 0);
    assert_true(in->due_at_ms == 0);
    rq_msg_clear(&m);

    /* null optional fields count as absent; empty objects are fine */
    parse_ok("{\"op\":\"contact.new\",\"contact\":\"c1\",\"queue\":\"q\",\"channel\":null,"
             "\"customer\":{},\"skills\":{},\"priority\":null,\"due_at\":null,"
             "\"preferred_agent\":null}",
             &m);
    assert_null(m.u.contact.channel);
    assert_int_equal(m.u.contact.n_skills, 0);
    rq_msg_clear(&m);

    for (i = 0; i < 4; i++) {
        snprintf(line, sizeof(line),
                 "{\"op\":\"contact.new\",\"contact\":\"c1\",\"queue\":\"q\",\"channel\":\"%s\","
                 "\"customer\":{\"persona\":\"%s\"},\"priority\":0,\"due_at\":0}",
                 channels[i], personas[i]);
        parse_ok(line, &m);
        assert_string_equal(m.u.contact.channel, channels[i]);
        assert_string_equal(m.u.contact.persona, personas[i]);
        rq_msg_clear(&m);
    }
}

static void
test_contact_refs(void **state)
{
    struct rq_msg m;

    (void)state;
    parse_ok("{\"op\":\"contact.answered\",\"contact\":\"c1\",\"agent\":\"a1\"}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_ANSWERED);
    assert_string_equal(m.u.ref.contact, "c1");
    assert_string_equal(m.u.ref.agent, "a1");
    rq_msg_clear(&m);

    parse_ok("{\"op\":\"contact.no_answer\",\"contact\":\"c1\",\"agent\":\"a1\"}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_NO_ANSWER);
    assert_null(m.u.ref.reason);
    rq_msg_clear(&m);
    parse_ok(
        "{\"op\":\"contact.no_answer\",\"contact\":\"c1\",\"agent\":\"a1\",\"reason\":\"busy\"}",
        &m);
    assert_string_equal(m.u.ref.reason, "busy");
    rq_msg_clear(&m);

    parse_ok("{\"op\":\"contact.abandon\",\"contact\":\"c1\"}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_ABANDON);
    assert_string_equal(m.u.ref.contact, "c1");
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"contact.end\",\"contact\":\"c2\"}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_END);
    assert_string_equal(m.u.ref.contact, "c2");
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"contact.transfer\",\"contact\":\"c3\",\"queue\":\"support\"}", &m);
    assert_int_equal(m.op, RQ_OP_CONTACT_TRANSFER);
    assert_string_equal(m.u.ref.contact, "c3");
    assert_string_equal(m.u.ref.queue, "support");
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"offer.accept\",\"contact\":\"c4\"}", &m);
    assert_int_equal(m.op, RQ_OP_OFFER_ACCEPT);
    assert_string_equal(m.u.ref.contact, "c4");
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"offer.reject\",\"contact\":\"c5\"}", &m);
    assert_int_equal(m.op, RQ_OP_OFFER_REJECT);
    assert_string_equal(m.u.ref.contact, "c5");
    rq_msg_clear(&m);

    expect_error("{\"op\":\"contact.answered\",\"contact\":\"c1\"}", RQ_E_BAD_FIELD,
                 "agent: required");
    expect_error("{\"op\":\"contact.transfer\",\"contact\":\"c1\"}", RQ_E_BAD_FIELD,
                 "queue: required");
    expect_error("{\"op\":\"contact.abandon\",\"contact\":\"c1\",\"agent\":\"a1\"}", RQ_E_BAD_FIELD,
                 "unknown field 'agent'");
    expect_error("{\"op\":\"offer.accept\"}", RQ_E_BAD_FIELD, "contact: required");
    expect_error("{\"op\":\"contact.answered\",\"contact\":\"c1\",\"agent\":\"a1\","
                 "\"reason\":\"x\"}",
                 RQ_E_BAD_FIELD, "unknown field 'reason'");
}

static void
test_agent_state(void **state)
{
    struct rq_msg m;

    (void)state;
    parse_ok("{\"op\":\"agent.state\",\"state\":\"ready\"}", &m);
    assert_int_equal(m.op, RQ_OP_AGENT_STATE);
    assert_string_equal(m.u.state.state, "ready");
    assert_null(m.u.state.reason);
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"agent.state\",\"state\":\"not_ready\",\"reason\":\"lunch\"}", &m);
    assert_string_equal(m.u.state.state, "not_ready");
    assert_string_equal(m.u.state.reason, "lunch");
    rq_msg_clear(&m);

    expect_error("{\"op\":\"agent.state\"}", RQ_E_BAD_FIELD, "state: required");
    expect_error("{\"op\":\"agent.state\",\"state\":\"busy\"}", RQ_E_BAD_FIELD,
                 "state: 'busy' is not one of ready, not_ready");
    expect_error("{\"op\":\"agent.state\",\"state\":1}", RQ_E_BAD_FIELD, "state: must be a string");
    expect_error("{\"op\":\"agent.state\",\"state\":null}", RQ_E_BAD_FIELD,
                 "state: must be a string");
    expect_error("{\"op\":\"agent.state\",\"state\":\"not_ready\",\"reason\":\"\"}", RQ_E_BAD_FIELD,
                 "reason: must not be empty");
}

static void
test_subscribe(void **state)
{
    struct rq_msg m;

    (void)state;
    parse_ok("{\"op\":\"subscribe\"}", &m);
    assert_int_equal(m.op, RQ_OP_SUBSCRIBE);
    assert_int_equal(m.u.subscribe.topics, RQ_TOPIC_ALL);
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"subscribe\",\"topics\":[\"agents\",\"alerts\",\"agents\"]}", &m);
    assert_int_equal(m.u.subscribe.topics, RQ_TOPIC_AGENTS | RQ_TOPIC_ALERTS);
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"subscribe\",\"topics\":[\"queues\",\"contacts\"]}", &m);
    assert_int_equal(m.u.subscribe.topics, RQ_TOPIC_QUEUES | RQ_TOPIC_CONTACTS);
    rq_msg_clear(&m);

    expect_error("{\"op\":\"subscribe\",\"topics\":[]}", RQ_E_BAD_FIELD,
                 "topics: must not be empty (omit it for all topics)");
    expect_error("{\"op\":\"subscribe\",\"topics\":\"queues\"}", RQ_E_BAD_FIELD,
                 "topics: must be an array of topic names");
    expect_error("{\"op\":\"subscribe\",\"topics\":[\"queues\",\"weather\"]}", RQ_E_BAD_FIELD,
                 "topics[1]: 'weather' is not one of queues, agents, contacts, alerts");
    expect_error("{\"op\":\"subscribe\",\"topics\":[3]}", RQ_E_BAD_FIELD,
                 "topics[0]: must be a string");
}

static void
test_sync(void **state)
{
    struct rq_msg m;

    (void)state;
    parse_ok("{\"op\":\"sync\",\"contacts\":[]}", &m);
    assert_int_equal(m.op, RQ_OP_SYNC);
    assert_int_equal(m.u.sync.n, 0);
    rq_msg_clear(&m);

    parse_ok(
        "{\"op\":\"sync\",\"id\":5,\"contacts\":[\"c1\",{\"contact\":\"c2\",\"queue\":\"sales\","
        "\"channel\":\"email\",\"customer\":{\"tier\":\"loyal\"},\"skills\":{\"sales\":2},"
        "\"arrived_ms\":1700000000000},\"c3\"]}",
        &m);
    assert_int_equal(m.u.sync.n, 3);
    assert_string_equal(m.u.sync.items[0].id, "c1");
    assert_int_equal(m.u.sync.items[0].full, 0);
    assert_string_equal(m.u.sync.items[1].id, "c2");
    assert_int_equal(m.u.sync.items[1].full, 1);
    assert_string_equal(m.u.sync.items[1].in.id, "c2");
    assert_string_equal(m.u.sync.items[1].in.queue, "sales");
    assert_string_equal(m.u.sync.items[1].in.channel, "email");
    assert_string_equal(m.u.sync.items[1].in.tier, "loyal");
    assert_int_equal(m.u.sync.items[1].in.n_skills, 1);
    assert_true(m.u.sync.items[1].in.arrived_ms == 1700000000000ull);
    assert_string_equal(m.u.sync.items[2].id, "c3");
    rq_msg_clear(&m);

    expect_error("{\"op\":\"sync\"}", RQ_E_BAD_FIELD, "contacts: required");
    expect_error("{\"op\":\"sync\",\"contacts\":{}}", RQ_E_BAD_FIELD,
                 "contacts: must be an array of contact ids or objects");
    expect_error("{\"op\":\"sync\",\"contacts\":[\"c1\",7]}", RQ_E_BAD_FIELD,
                 "contacts[1]: must be a contact id or an object");
    expect_error("{\"op\":\"sync\",\"contacts\":[\"\"]}", RQ_E_BAD_FIELD,
                 "contacts[0]: must not be empty");
    expect_error("{\"op\":\"sync\",\"contacts\":[\"c1\",\"c2\",{\"contact\":\"c3\"}]}",
                 RQ_E_BAD_FIELD, "contacts[2].queue: required");
    expect_error("{\"op\":\"sync\",\"contacts\":[{\"contact\":\"c3\",\"queue\":\"q\","
                 "\"customer\":{\"tier\":5}}]}",
                 RQ_E_BAD_FIELD, "contacts[0].customer.tier: must be a string");
    expect_error("{\"op\":\"sync\",\"contacts\":[{\"contact\":\"c3\",\"queue\":\"q\","
                 "\"customer\":{\"vip\":true}}]}",
                 RQ_E_BAD_FIELD, "unknown field 'contacts[0].customer.vip'");
    expect_error("{\"op\":\"sync\",\"contacts\":[{\"contact\":\"c3\",\"queue\":\"q\","
                 "\"op\":\"x\"}]}",
                 RQ_E_BAD_FIELD, "unknown field 'contacts[0].op'");
    expect_error("{\"op\":\"sync\",\"contacts\":[{\"contact\":\"c3\",\"queue\":\"q\","
                 "\"skills\":{\"sales\":0}}]}",
                 RQ_E_BAD_FIELD, "contacts[0].skills.sales: level must be an integer 1..10");
    expect_error("{\"op\":\"sync\",\"contacts\":[{\"contact\":\"c3\",\"queue\":\"q\","
                 "\"arrived_ms\":-1}]}",
                 RQ_E_BAD_FIELD,
                 "contacts[0].arrived_ms: must be a non-negative integer (ms since the epoch)");
    /* arrived_ms is for sync entries only */
    expect_error("{\"op\":\"contact.new\",\"contact\":\"c1\",\"queue\":\"q\",\"arrived_ms\":1}",
                 RQ_E_BAD_FIELD, "unknown field 'arrived_ms'");
    expect_error("{\"op\":\"sync\",\"contacts\":[],\"more\":1}", RQ_E_BAD_FIELD,
                 "unknown field 'more'");
}

/* A sync of RQ_MAX_SYNC_CONTACTS ids is fine; one more is not. */
static void
test_sync_limit(void **state)
{
    size_t n, i, cap = 32 + (RQ_MAX_SYNC_CONTACTS + 1) * 4;
    char *line = malloc(cap);
    struct rq_msg m;
    struct rq_error err;

    (void)state;
    assert_non_null(line);
    for (n = RQ_MAX_SYNC_CONTACTS; n <= RQ_MAX_SYNC_CONTACTS + 1; n++) {
        size_t o = (size_t)snprintf(line, cap, "{\"op\":\"sync\",\"contacts\":[");

        for (i = 0; i < n; i++)
            o += (size_t)snprintf(line + o, cap - o, "%s\"c\"", i ? "," : "");
        o += (size_t)snprintf(line + o, cap - o, "]}");
        if (n == RQ_MAX_SYNC_CONTACTS) {
            assert_int_equal(rq_proto_parse(line, o, &m, &err), 0);
            assert_int_equal(m.u.sync.n, n);
            assert_string_equal(m.u.sync.items[n - 1].id, "c");
        } else {
            assert_int_equal(rq_proto_parse(line, o, &m, &err), -1);
            assert_int_equal(err.code, RQ_E_BAD_FIELD);
            assert_string_equal(err.message, "contacts: at most 100000 contacts");
        }
        rq_msg_clear(&m);
    }
    free(line);
}

/* ---- errors ---- */

static void
test_bad_json(void **state)
{
    static const char *const lines[] = {
        "",
        "   ",
        "garbage",
        "{\"op\":\"ping\"",
        "{\"op\":",
        "{\"op\":\"ping\"} {}",
        "{\"op\":\"ping\",}",
        "{'op':'ping'}",
        "{\"op\":\"p\xffng\"}",             /* invalid UTF-8 */
        "{\"op\":\"caf\xc3\"}",             /* truncated sequence */
        "{\"op\":\"\xed\xa0\x80\"}",        /* surrogate */
        "{\"op\":\"a\\u0000b\"}",           /* escaped NUL */
        "{\"op\":\"ping\",\"op\":\"bye\"}", /* duplicate key */
        "{\"op\":\"ping\",\"id\":99999999999999999999999}",
        "{\"op\":\"ping\",\"id\":\"\\ud800\"}", /* lone surrogate escape */
    };
    static const char *const non_objects[] = {"[]", "[{\"op\":\"ping\"}]"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct rq_msg m;
        struct rq_error err;
        char *out;
        size_t len;
        json_t *v;

        assert_int_equal(rq_proto_parse(lines[i], strlen(lines[i]), &m, &err), -1);
        assert_int_equal(err.code, RQ_E_BAD_JSON);
        assert_null(m.root);
        assert_null(m.id);
        if (strncmp(err.message, "invalid JSON at column ", 23) != 0)
            fail_msg("line %zu: message '%s'", i, err.message);
        /* the reply quoting jansson's message is valid JSON */
        out = rq_proto_reply_error(m.id, &err, &len);
        v = load_line(out, len);
        assert_null(json_object_get(v, "re"));
        json_decref(v);
        free(out);
        rq_msg_clear(&m);
    }
    for (i = 0; i < sizeof(non_objects) / sizeof(non_objects[0]); i++)
        expect_error(non_objects[i], RQ_E_BAD_JSON, "a request must be a JSON object");

    /* raw NUL bytes, anywhere */
    expect_errorn("{\"op\":\"ping\"}\0", 14, RQ_E_BAD_JSON, "invalid JSON at column 14: NUL byte");
    expect_errorn("{\"op\":\"pi\0ng\"}", 14, RQ_E_BAD_JSON, "invalid JSON at column 10: NUL byte");
    expect_errorn("\0", 1, RQ_E_BAD_JSON, "invalid JSON at column 1: NUL byte");
    expect_error("{\"op\":\"ping\",\"op\":\"bye\"}", RQ_E_BAD_JSON,
                 "invalid JSON at column 17: duplicate object key near '\"op\"'");
    expect_error("garbage", RQ_E_BAD_JSON,
                 "invalid JSON at column 7: '[' or '{' expected near 'garbage'");
    /* jansson quotes the raw byte near the error: it comes back escaped */
    expect_error("{\"op\":\x01}", RQ_E_BAD_JSON,
                 "invalid JSON at column 7: invalid token near '\\x01'");
    expect_error("{\"op\":\"\x01\"}", RQ_E_BAD_JSON,
                 "invalid JSON at column 7: control character 0x1 near '\"'");
}

static void
test_op_errors(void **state)
{
    char line[600], name[300];

    (void)state;
    expect_error("{}", RQ_E_BAD_FIELD, "op: required");
    expect_error("{\"id\":1}", RQ_E_BAD_FIELD, "op: required");
    expect_error("{\"op\":null}", RQ_E_BAD_FIELD, "op: must be a string");
    expect_error("{\"op\":[\"ping\"]}", RQ_E_BAD_FIELD, "op: must be a string");
    expect_error("{\"op\":\"fly\"}", RQ_E_UNKNOWN_OP, "unknown op 'fly'");
    expect_error("{\"op\":\"\"}", RQ_E_UNKNOWN_OP, "unknown op ''");
    expect_error("{\"op\":\"PING\"}", RQ_E_UNKNOWN_OP, "unknown op 'PING'");
    expect_error("{\"op\":\"contact\"}", RQ_E_UNKNOWN_OP, "unknown op 'contact'");
    /* quoted input is escaped and cut at RQ_LOG_INPUT_PREFIX bytes */
    expect_error("{\"op\":\"it's\\n\\\\\"}", RQ_E_UNKNOWN_OP, "unknown op 'it\\'s\\x0a\\\\'");
    expect_error("{\"op\":\"caf\xc3\xa9\\u0085\"}", RQ_E_UNKNOWN_OP,
                 "unknown op 'caf\xc3\xa9\\xc2\\x85'");
    snprintf(line, sizeof(line), "{\"op\":\"%s\"}", repeat(name, sizeof(name), 'x', 200));
    snprintf(name, sizeof(name), "unknown op '%.64s...'", line + 7);
    expect_error(line, RQ_E_UNKNOWN_OP, name);
    /* a cut never splits a UTF-8 character: 63 x then a 2-byte character */
    snprintf(line, sizeof(line), "{\"op\":\"%s\xc3\xa9\"}", repeat(name, sizeof(name), 'x', 63));
    snprintf(name, sizeof(name), "unknown op '%.63s...'", line + 7);
    expect_error(line, RQ_E_UNKNOWN_OP, name);
}

static void
test_id(void **state)
{
    static const char *const ok_ids[] = {"\"abc\"", "0",    "-3",    "1.5e3",
                                         "null",    "true", "false", "\"\""};
    static const char *const bad_ids[] = {"[]", "[1]", "{}", "{\"a\":1}"};
    char line[128];
    struct rq_msg m;
    struct rq_error err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok_ids) / sizeof(ok_ids[0]); i++) {
        json_t *want;

        snprintf(line, sizeof(line), "{\"id\":%s,\"op\":\"ping\"}", ok_ids[i]);
        parse_ok(line, &m);
        want = json_loads(ok_ids[i], JSON_DECODE_ANY, NULL);
        assert_non_null(m.id);
        assert_true(json_equal(m.id, want));
        json_decref(want);
        rq_msg_clear(&m);
    }
    for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        snprintf(line, sizeof(line), "{\"op\":\"ping\",\"id\":%s}", bad_ids[i]);
        assert_int_equal(rq_proto_parse(line, strlen(line), &m, &err), -1);
        assert_int_equal(err.code, RQ_E_BAD_FIELD);
        assert_string_equal(err.message, "id: must be a string or number");
        assert_null(m.id);
        rq_msg_clear(&m);
    }
}

/* The id is known as soon as the object is, so every later error can echo it. */
static void
test_id_echo_on_error(void **state)
{
    static const char *const lines[] = {
        "{\"id\":\"q1\"}",
        "{\"op\":\"nope\",\"id\":\"q1\"}",
        "{\"op\":5,\"id\":\"q1\"}",
        "{\"op\":\"ping\",\"id\":\"q1\",\"extra\":1}",
        ("{\"op\":\"contact.new\",\"id\":\"q1\",\"contact\":\"c\",\"queue\":\"q\","
         "\"customer\":{\"tier\":[]}}"),
        "{\"op\":\"sync\",\"contacts\":[{\"contact\":\"c\"}],\"id\":\"q1\"}",
        "{\"op\":\"hello\",\"role\":\"agent\",\"token\":\"t\",\"id\":\"q1\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct rq_msg m;
        struct rq_error err;
        size_t len;
        char *out;
        json_t *v, *e;

        assert_int_equal(rq_proto_parse(lines[i], strlen(lines[i]), &m, &err), -1);
        assert_non_null(m.id);
        assert_string_equal(json_string_value(m.id), "q1");
        out = rq_proto_reply_error(m.id, &err, &len);
        v = load_line(out, len);
        assert_string_equal(json_string_value(json_object_get(v, "re")), "q1");
        assert_true(json_is_false(json_object_get(v, "ok")));
        e = json_object_get(v, "error");
        assert_string_equal(json_string_value(json_object_get(e, "code")),
                            rq_errcode_name(err.code));
        assert_string_equal(json_string_value(json_object_get(e, "message")), err.message);
        json_decref(v);
        free(out);
        rq_msg_clear(&m);
    }
}

static void
test_hello_errors(void **state)
{
    (void)state;
    expect_error("{\"op\":\"hello\",\"name\":\"pbx1\",\"token\":\"demo\"}", RQ_E_BAD_FIELD,
                 "role: required");
    expect_error("{\"op\":\"hello\",\"role\":\"admin\",\"name\":\"x\",\"token\":\"demo\"}",
                 RQ_E_BAD_FIELD, "role: 'admin' is not one of source, agent, monitor");
    expect_error("{\"op\":\"hello\",\"role\":\"source\",\"name\":\"pbx1\"}", RQ_E_BAD_FIELD,
                 "token: required");
    expect_error("{\"op\":\"hello\",\"role\":\"source\",\"name\":\"pbx1\",\"token\":1}",
                 RQ_E_BAD_FIELD, "token: must be a string");
    expect_error("{\"op\":\"hello\",\"role\":\"source\",\"token\":\"demo\"}", RQ_E_BAD_FIELD,
                 "name: required with role source");
    expect_error("{\"op\":\"hello\",\"role\":\"monitor\",\"token\":\"demo\"}", RQ_E_BAD_FIELD,
                 "name: required with role monitor");
    expect_error("{\"op\":\"hello\",\"role\":\"agent\",\"token\":\"demo\"}", RQ_E_BAD_FIELD,
                 "agent: required with role agent");
    expect_error("{\"op\":\"hello\",\"role\":\"agent\",\"agent\":\"a1\",\"name\":\"x\","
                 "\"token\":\"demo\"}",
                 RQ_E_BAD_FIELD, "name: not allowed with role agent (the agent id names it)");
    expect_error("{\"op\":\"hello\",\"role\":\"source\",\"agent\":\"a1\",\"name\":\"x\","
                 "\"token\":\"demo\"}",
                 RQ_E_BAD_FIELD, "agent: only allowed with role agent");
    expect_error("{\"op\":\"hello\",\"role\":\"source\",\"name\":\"\",\"token\":\"demo\"}",
                 RQ_E_BAD_FIELD, "name: must not be empty");
    expect_error("{\"op\":\"hello\",\"role\":\"source\",\"name\":\"x\",\"token\":\"demo\","
                 "\"version\":2}",
                 RQ_E_BAD_FIELD, "unknown field 'version'");
}

/* Ill-typed, out-of-range, missing and unknown fields of contact.new, each
 * named with its path. */
static void
test_contact_new_errors(void **state)
{
    static const struct {
        const char *fields; /* appended to {"op":"contact.new" */
        const char *message;
    } cases[] = {
        {"", "contact: required"},
        {",\"queue\":\"q\"", "contact: required"},
        {",\"contact\":\"c\"", "queue: required"},
        {",\"contact\":null,\"queue\":\"q\"", "contact: must be a string"},
        {",\"contact\":7,\"queue\":\"q\"", "contact: must be a string"},
        {",\"contact\":\"\",\"queue\":\"q\"", "contact: must not be empty"},
        {",\"contact\":\"c\\u0007\",\"queue\":\"q\"",
         "contact: must not contain control characters"},
        {",\"contact\":\"c\\u007f\",\"queue\":\"q\"",
         "contact: must not contain control characters"},
        {",\"contact\":\"c\\u0080\",\"queue\":\"q\"",
         "contact: must not contain control characters"},
        {",\"contact\":\"c\",\"queue\":\"q\\t\"", "queue: must not contain control characters"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"channel\":\"fax\"",
         "channel: 'fax' is not one of voice, chat, email, callback"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"channel\":true", "channel: must be a string"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":\"vip\"", "customer: must be an object"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":[]", "customer: must be an object"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":{\"tier\":1}",
         "customer.tier: must be a string"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":{\"id\":\"\"}",
         "customer.id: must not be empty"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":{\"lang\":{}}",
         "customer.lang: must be a string"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":{\"persona\":\"grumpy\"}",
         "customer.persona: 'grumpy' is not one of authoritative, analytical, amiable, expressive"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"customer\":{\"name\":\"Bob\"}",
         "unknown field 'customer.name'"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":[\"sales\"]",
         "skills: must be an object of skill name to level"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"sales\":0}",
         "skills.sales: level must be an integer 1..10"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"sales\":11}",
         "skills.sales: level must be an integer 1..10"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"sales\":\"3\"}",
         "skills.sales: level must be an integer 1..10"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"sales\":3.0}",
         "skills.sales: level must be an integer 1..10"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"sales\":null}",
         "skills.sales: level must be an integer 1..10"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"\":1}", "skills: empty skill name"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"a\\nb\":1}",
         "skills.a\\x0ab: skill name must not contain control characters"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"priority\":101",
         "priority: must be an integer 0..100"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"priority\":-1",
         "priority: must be an integer 0..100"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"priority\":1.5",
         "priority: must be an integer 0..100"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"priority\":\"5\"",
         "priority: must be an integer 0..100"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"due_at\":-5",
         "due_at: must be a non-negative integer (ms since the epoch)"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"due_at\":1.7e12",
         "due_at: must be a non-negative integer (ms since the epoch)"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"preferred_agent\":\"\"",
         "preferred_agent: must not be empty"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"preferred_agent\":[\"a1\"]",
         "preferred_agent: must be a string"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"foo\":1", "unknown field 'foo'"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"it's\":1", "unknown field 'it\\'s'"},
        {",\"contact\":\"c\",\"queue\":\"q\",\"Queue\":\"x\"", "unknown field 'Queue'"},
    };
    char line[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(line, sizeof(line), "{\"op\":\"contact.new\"%s}", cases[i].fields);
        expect_error(line, RQ_E_BAD_FIELD, cases[i].message);
    }
}

/* Each length and count limit, at its edge. */
static void
test_limits(void **state)
{
    char line[4096], s[512], msg[256];
    struct rq_msg m;
    size_t o, i;

    (void)state;
    /* ids: RQ_MAX_ID_LEN bytes fit, one more does not */
    snprintf(line, sizeof(line), "{\"op\":\"contact.end\",\"contact\":\"%s\"}",
             repeat(s, sizeof(s), 'c', RQ_MAX_ID_LEN));
    parse_ok(line, &m);
    assert_int_equal(strlen(m.u.ref.contact), RQ_MAX_ID_LEN);
    rq_msg_clear(&m);
    snprintf(line, sizeof(line), "{\"op\":\"contact.end\",\"contact\":\"%s\"}",
             repeat(s, sizeof(s), 'c', RQ_MAX_ID_LEN + 1));
    expect_error(line, RQ_E_BAD_FIELD, "contact: longer than 128 bytes");
    /* the limit counts bytes, not characters: 64 two-byte characters are 128 bytes */
    o = 0;
    for (i = 0; i < RQ_MAX_ID_LEN / 2; i++)
        o += (size_t)snprintf(s + o, sizeof(s) - o, "\xc3\xa9");
    snprintf(line, sizeof(line), "{\"op\":\"offer.accept\",\"contact\":\"%sx\"}", s);
    expect_error(line, RQ_E_BAD_FIELD, "contact: longer than 128 bytes");

    /* names (tier, lang, skill): RQ_MAX_NAME_LEN */
    snprintf(line, sizeof(line),
             "{\"op\":\"contact.new\",\"contact\":\"c\",\"queue\":\"q\","
             "\"customer\":{\"tier\":\"%s\"}}",
             repeat(s, sizeof(s), 't', RQ_MAX_NAME_LEN));
    parse_ok(line, &m);
    rq_msg_clear(&m);
    snprintf(line, sizeof(line),
             "{\"op\":\"contact.new\",\"contact\":\"c\",\"queue\":\"q\","
             "\"customer\":{\"lang\":\"%s\"}}",
             repeat(s, sizeof(s), 'l', RQ_MAX_NAME_LEN + 1));
    expect_error(line, RQ_E_BAD_FIELD, "customer.lang: longer than 64 bytes");
    snprintf(line, sizeof(line),
             "{\"op\":\"contact.new\",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{\"%s\":1}}",
             repeat(s, sizeof(s), 'k', RQ_MAX_NAME_LEN + 1));
    snprintf(msg, sizeof(msg), "skills.%.64s...: skill name longer than 64 bytes", s);
    expect_error(line, RQ_E_BAD_FIELD, msg);

    /* reasons: RQ_MAX_REASON_LEN */
    snprintf(line, sizeof(line),
             "{\"op\":\"agent.state\",\"state\":\"not_ready\",\"reason\":\"%s\"}",
             repeat(s, sizeof(s), 'r', RQ_MAX_REASON_LEN));
    parse_ok(line, &m);
    rq_msg_clear(&m);
    snprintf(line, sizeof(line),
             "{\"op\":\"contact.no_answer\",\"contact\":\"c\",\"agent\":\"a\",\"reason\":\"%s\"}",
             repeat(s, sizeof(s), 'r', RQ_MAX_REASON_LEN + 1));
    expect_error(line, RQ_E_BAD_FIELD, "reason: longer than 64 bytes");

    /* skills: RQ_MAX_REQS fit, one more does not */
    for (i = RQ_MAX_REQS; i <= RQ_MAX_REQS + 1; i++) {
        size_t k;

        o = (size_t)snprintf(
            line, sizeof(line),
            "{\"op\":\"contact.new\",\"contact\":\"c\",\"queue\":\"q\",\"skills\":{");
        for (k = 0; k < i; k++)
            o += (size_t)snprintf(line + o, sizeof(line) - o, "%s\"s%zu\":%zu", k ? "," : "", k,
                                  k % RQ_MAX_LEVEL + 1);
        snprintf(line + o, sizeof(line) - o, "}}");
        if (i == RQ_MAX_REQS) {
            parse_ok(line, &m);
            assert_int_equal(m.u.contact.n_skills, RQ_MAX_REQS);
            assert_string_equal(m.u.contact.skills[RQ_MAX_REQS - 1].name, "s15");
            assert_int_equal(m.u.contact.skills[RQ_MAX_REQS - 1].level, 6);
            rq_msg_clear(&m);
        } else {
            expect_error(line, RQ_E_BAD_FIELD, "skills: at most 16 skills");
        }
    }

    /* due_at takes any non-negative 64-bit integer */
    parse_ok("{\"op\":\"contact.new\",\"contact\":\"c\",\"queue\":\"q\","
             "\"due_at\":9223372036854775807}",
             &m);
    assert_true(m.u.contact.due_at_ms == 9223372036854775807ull);
    rq_msg_clear(&m);
}

/* ---- names and roles ---- */

static void
test_names(void **state)
{
    char line[128];
    struct rq_msg m;
    int op;

    (void)state;
    assert_string_equal(rq_op_name(RQ_OP_CONTACT_NEW), "contact.new");
    assert_string_equal(rq_op_name(RQ_OP_WRAPUP_DONE), "wrapup.done");
    assert_string_equal(rq_op_name(RQ_OP__COUNT), "unknown");
    assert_string_equal(rq_role_name(RQ_ROLE_NONE), "none");
    assert_string_equal(rq_role_name(RQ_ROLE_SOURCE), "source");
    assert_string_equal(rq_role_name(RQ_ROLE_AGENT), "agent");
    assert_string_equal(rq_role_name(RQ_ROLE_MONITOR), "monitor");
    /* every op name parses back to its op (only the op-specific fields may be missing) */
    for (op = 0; op < RQ_OP__COUNT; op++) {
        struct rq_error err;
        int rc;

        snprintf(line, sizeof(line), "{\"op\":\"%s\"}", rq_op_name((enum rq_op)op));
        rc = rq_proto_parse(line, strlen(line), &m, &err);
        assert_int_equal(m.op, op);
        if (rc != 0)
            assert_int_equal(err.code, RQ_E_BAD_FIELD);
        rq_msg_clear(&m);
    }
}

static void
test_role_table(void **state)
{
    /* expected[op] = roles allowed, as a string of N S A M */
    static const char *const expected[RQ_OP__COUNT] = {
        [RQ_OP_HELLO] = "NSAM",
        [RQ_OP_PING] = "NSAM",
        [RQ_OP_CONTACT_NEW] = "S",
        [RQ_OP_CONTACT_ANSWERED] = "S",
        [RQ_OP_CONTACT_NO_ANSWER] = "S",
        [RQ_OP_CONTACT_ABANDON] = "S",
        [RQ_OP_CONTACT_END] = "SA",
        [RQ_OP_CONTACT_TRANSFER] = "S",
        [RQ_OP_SYNC] = "S",
        [RQ_OP_AGENT_STATE] = "A",
        [RQ_OP_OFFER_ACCEPT] = "A",
        [RQ_OP_OFFER_REJECT] = "A",
        [RQ_OP_WRAPUP_DONE] = "A",
        [RQ_OP_BYE] = "SAM",
        [RQ_OP_SNAPSHOT] = "M",
        [RQ_OP_SUBSCRIBE] = "M",
        /* monitors only; session.c checks the monitor's role (test_supervisor) */
        [RQ_OP_AGENT_SET] = "M",
        [RQ_OP_CONTACT_MOVE] = "M",
        [RQ_OP_CONTACT_PRIORITY] = "M",
        [RQ_OP_ADMIN_RELOAD] = "M",
        [RQ_OP_ADMIN_DRAIN] = "M",
    };
    static const char role_letter[] = "NSAM";
    int op, role;

    (void)state;
    for (op = 0; op < RQ_OP__COUNT; op++) {
        for (role = RQ_ROLE_NONE; role <= RQ_ROLE_MONITOR; role++) {
            int want = strchr(expected[op], role_letter[role]) != NULL;

            if (rq_op_allowed((enum rq_op)op, (enum rq_role)role) != want)
                fail_msg("op %s role %s: expected %d", rq_op_name((enum rq_op)op),
                         rq_role_name((enum rq_role)role), want);
        }
    }
    assert_int_equal(rq_op_allowed(RQ_OP__COUNT, RQ_ROLE_SOURCE), 0);
    assert_int_equal(rq_op_allowed(RQ_OP_PING, (enum rq_role)(RQ_ROLE_MONITOR + 1)), 0);
}

/* ---- encoders ---- */

static void
test_reply_ok(void **state)
{
    json_t *id, *v;
    size_t len;
    char *out;

    (void)state;
    out = rq_proto_reply_ok(NULL, NULL, &len);
    assert_string_equal(out, "{\"ok\":true}\n");
    assert_int_equal(len, 12);
    free(out);

    id = json_string("r\"1");
    out = rq_proto_reply_ok(
        id, json_pack("{s:s, s:i, s:f}", "contact", "c1", "position", 3, "ewt_s", 12.5), &len);
    assert_string_equal(
        out, "{\"re\":\"r\\\"1\",\"ok\":true,\"contact\":\"c1\",\"position\":3,\"ewt_s\":12.5}\n");
    v = load_line(out, len);
    assert_true(json_equal(json_object_get(v, "re"), id));
    json_decref(v);
    free(out);
    json_decref(id);

    /* a member of extra never overrides re or ok */
    id = json_integer(42);
    out = rq_proto_reply_ok(id, json_pack("{s:b, s:s, s:i}", "ok", 0, "re", "x", "kept", 1), &len);
    assert_string_equal(out, "{\"re\":42,\"ok\":true,\"kept\":1}\n");
    free(out);
    json_decref(id);

    /* null id is echoed as null; the reply carries it */
    id = json_null();
    out = rq_proto_reply_ok(id, json_object(), NULL);
    assert_string_equal(out, "{\"re\":null,\"ok\":true}\n");
    free(out);

    /* extra must be an object (and is released either way) */
    assert_null(rq_proto_reply_ok(NULL, json_integer(1), &len));
}

static void
test_reply_error(void **state)
{
    struct rq_error err;
    json_t *id, *v, *e;
    size_t len;
    char *out;

    (void)state;
    rq_fail(&err, RQ_E_BAD_FIELD, "customer.tier: must be a string");
    id = json_real(1.25);
    out = rq_proto_reply_error(id, &err, &len);
    assert_string_equal(out, "{\"re\":1.25,\"ok\":false,\"error\":{\"code\":\"bad_field\","
                             "\"message\":\"customer.tier: must be a string\"}}\n");
    free(out);
    json_decref(id);

    rq_fail(&err, RQ_E_UNAUTHORIZED, "say hello first");
    out = rq_proto_reply_error(NULL, &err, &len);
    assert_string_equal(out, "{\"ok\":false,\"error\":{\"code\":\"unauthorized\","
                             "\"message\":\"say hello first\"}}\n");
    free(out);

    /* bytes that are not UTF-8 (a message cut mid-character) still give JSON */
    rq_fail(&err, RQ_E_NOT_FOUND, "no contact 'caf\xc3' \xff\x01");
    out = rq_proto_reply_error(NULL, &err, &len);
    v = load_line(out, len);
    e = json_object_get(v, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "not_found");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "no contact 'caf\\xc3' \\xff\\x01");
    json_decref(v);
    free(out);

    /* a message filling the whole buffer */
    memset(err.message, 'm', sizeof(err.message));
    err.code = RQ_E_OVERLOADED;
    out = rq_proto_reply_error(NULL, &err, &len);
    v = load_line(out, len);
    e = json_object_get(v, "error");
    assert_int_equal(strlen(json_string_value(json_object_get(e, "message"))), RQ_ERR_LEN);
    json_decref(v);
    free(out);

    out = rq_proto_reply_error(NULL, NULL, &len);
    v = load_line(out, len);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "error"), "code")),
                        "internal");
    json_decref(v);
    free(out);
}

/* Messages reach the client as printable UTF-8 whatever bytes they hold. */
static void
test_reply_escapes(void **state)
{
    static const struct {
        const char *raw;
        const char *shown;
    } cases[] = {
        {"euro \xe2\x82\xac smile \xf0\x9f\x98\x80 max \xf4\x8f\xbf\xbf",
         "euro \xe2\x82\xac smile \xf0\x9f\x98\x80 max \xf4\x8f\xbf\xbf"},
        {"overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf",
         "overlong \\xc0\\xaf \\xe0\\x80\\xaf \\xf0\\x80\\x80\\xaf"},
        {"surrogate \xed\xa0\x80 too big \xf4\x90\x80\x80 \xf5",
         "surrogate \\xed\\xa0\\x80 too big \\xf4\\x90\\x80\\x80 \\xf5"},
        {"cut \xe2\x82 \xf0\x9f\x98", "cut \\xe2\\x82 \\xf0\\x9f\\x98"},
        {"controls \x7f \xc2\x9f \xc2\xa0 'quoted' back\\slash",
         "controls \\x7f \\xc2\\x9f \xc2\xa0 'quoted' back\\slash"},
    };
    struct rq_error err;
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out;
        json_t *v;

        rq_fail(&err, RQ_E_BAD_STATE, "%s", cases[i].raw);
        out = rq_proto_reply_error(NULL, &err, &len);
        v = load_line(out, len);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(v, "error"), "message")),
            cases[i].shown);
        json_decref(v);
        free(out);
    }
    assert_string_equal(rq_role_name((enum rq_role)9), "unknown");
}

static void
test_push(void **state)
{
    size_t len;
    char *out;
    json_t *v;

    (void)state;
    out = rq_proto_push("offer",
                        json_pack("{s:s, s:s, s:{s:s}, s:i}", "contact", "c1", "channel", "voice",
                                  "customer", "tier", "loyal", "ring_timeout_s", 15),
                        &len);
    assert_string_equal(out, "{\"ev\":\"offer\",\"contact\":\"c1\",\"channel\":\"voice\","
                             "\"customer\":{\"tier\":\"loyal\"},\"ring_timeout_s\":15}\n");
    v = load_line(out, len);
    assert_string_equal(json_string_value(json_object_get(v, "ev")), "offer");
    json_decref(v);
    free(out);

    out =
        rq_proto_push("closed", json_pack("{s:s, s:s}", "ev", "other", "reason", "replaced"), &len);
    assert_string_equal(out, "{\"ev\":\"closed\",\"reason\":\"replaced\"}\n");
    free(out);

    out = rq_proto_push("state", NULL, &len);
    assert_string_equal(out, "{\"ev\":\"state\"}\n");
    free(out);

    /* a large body: the output buffer grows */
    {
        json_t *body = json_object(), *list = json_array();
        int i;

        for (i = 0; i < 2000; i++)
            json_array_append_new(list, json_sprintf("contact-%d", i));
        json_object_set_new(body, "contacts", list);
        out = rq_proto_push("snapshot", body, &len);
        v = load_line(out, len);
        assert_int_equal(json_array_size(json_object_get(v, "contacts")), 2000);
        json_decref(v);
        free(out);
    }

    assert_null(rq_proto_push("x", json_array(), &len));
    assert_null(rq_proto_push(NULL, json_object(), &len));
}

/* A parsed request re-encoded as a reply keeps its id exactly. */
static void
test_round_trip_ids(void **state)
{
    static const char *const lines[] = {
        "{\"op\":\"ping\",\"id\":\"\xe2\x82\xac-\\u00e9\"}",
        "{\"op\":\"ping\",\"id\":-9223372036854775808}",
        "{\"op\":\"ping\",\"id\":0.1}",
        "{\"op\":\"ping\",\"id\":false}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct rq_msg m;
        size_t len;
        char *out;
        json_t *v;

        parse_ok(lines[i], &m);
        out = rq_proto_reply_ok(m.id, NULL, &len);
        v = load_line(out, len);
        assert_true(json_equal(json_object_get(v, "re"), m.id));
        json_decref(v);
        free(out);
        rq_msg_clear(&m);
    }
}

static void
test_msg_clear(void **state)
{
    struct rq_msg m;

    (void)state;
    memset(&m, 0, sizeof(m));
    rq_msg_clear(&m);
    rq_msg_clear(&m);
    parse_ok("{\"op\":\"sync\",\"contacts\":[\"a\",\"b\"]}", &m);
    rq_msg_clear(&m);
    assert_null(m.root);
    assert_null(m.u.sync.items);
    rq_msg_clear(&m);
    /* a failed sync frees what it allocated too */
    expect_error("{\"op\":\"sync\",\"contacts\":[\"a\",{}]}", RQ_E_BAD_FIELD,
                 "contacts[1].contact: required");
}

/* ---- mutated lines ---- */

static uint64_t rng_state;

static uint32_t
rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static const char *const corpus[] = {
    "{\"op\":\"hello\",\"role\":\"source\",\"name\":\"pbx1\",\"token\":\"demo\",\"id\":1}",
    "{\"op\":\"hello\",\"role\":\"agent\",\"agent\":\"a1001\",\"token\":\"demo\"}",
    "{\"op\":\"ping\",\"id\":\"p\"}",
    "{\"op\":\"contact.new\",\"id\":\"r1\",\"contact\":\"c-1\",\"channel\":\"chat\",\"queue\":"
    "\"sales\",\"customer\":{\"id\":\"cust9\",\"tier\":\"key_account\",\"lang\":\"es\","
    "\"persona\":\"amiable\"},\"skills\":{\"sales\":3,\"billing\":10},\"priority\":100,"
    "\"preferred_agent\":\"a1001\",\"due_at\":1700000000123}",
    "{\"op\":\"contact.no_answer\",\"contact\":\"c1\",\"agent\":\"a1\",\"reason\":\"busy\"}",
    "{\"op\":\"contact.transfer\",\"contact\":\"c3\",\"queue\":\"support\",\"id\":[1]}",
    "{\"op\":\"sync\",\"id\":5,\"contacts\":[\"c1\",{\"contact\":\"c2\",\"queue\":\"sales\","
    "\"channel\":\"email\",\"customer\":{\"tier\":\"loyal\"},\"skills\":{\"sales\":2},"
    "\"arrived_ms\":1700000000000},\"c3\"]}",
    "{\"op\":\"agent.state\",\"state\":\"not_ready\",\"reason\":\"lunch\"}",
    "{\"op\":\"offer.accept\",\"contact\":\"c\\u00e9\"}",
    "{\"op\":\"subscribe\",\"topics\":[\"queues\",\"alerts\"]}",
    "{\"op\":\"wrapup.done\"}",
};

/* Values a structural mutation puts somewhere in a request. */
static json_t *
random_value(void)
{
    switch (rng() % 14) {
    case 0:
        return json_null();
    case 1:
        return json_true();
    case 2:
        return json_integer((json_int_t)(rng() % 20) - 5);
    case 3:
        return json_integer((json_int_t)rng() << 31);
    case 4:
        return json_real(0.5);
    case 5:
        return json_string("");
    case 6:
        return json_string("sales");
    case 7:
        return json_string("a\x01z");
    case 8:
        return json_string("\xc2\x85");
    case 9:
        return json_array();
    case 10:
        return json_pack("[s, {s:s}]", "c9", "contact", "c10");
    case 11:
        return json_pack("{s:i}", "sales", (int)(rng() % 12));
    case 12:
        return json_string("voice");
    default:
        return json_object();
    }
}

static const char *const mutation_keys[] = {
    "op",       "id",     "contact",  "queue",  "channel", "customer", "skills",
    "priority", "due_at", "contacts", "topics", "role",    "token",    "tier",
    "persona",  "state",  "reason",   "agent",  "name",    "x",        "arrived_ms",
};

/* Set, replace or delete a random member in obj or one of its children. */
static void
mutate_tree(json_t *v, int depth)
{
    size_t n;

    if (json_is_array(v) && (n = json_array_size(v)) > 0 && depth < 4 && rng() % 2) {
        size_t i = rng() % n;

        if (rng() % 4 == 0)
            json_array_set_new(v, i, random_value());
        else
            mutate_tree(json_array_get(v, i), depth + 1);
        return;
    }
    if (!json_is_object(v))
        return;
    if (depth < 4 && rng() % 2) {
        const char *key;
        json_t *child;
        size_t pick = json_object_size(v) ? rng() % json_object_size(v) : 0, i = 0;

        json_object_foreach (v, key, child) {
            if (i++ == pick && (json_is_object(child) || json_is_array(child))) {
                mutate_tree(child, depth + 1);
                return;
            }
        }
    }
    {
        const char *key = mutation_keys[rng() % (sizeof(mutation_keys) / sizeof(mutation_keys[0]))];

        if (rng() % 3 == 0)
            json_object_del(v, key);
        else
            json_object_set_new(v, key, random_value());
    }
}

/* Parse buf; it may fail, but only with a parser's code and a message, and
 * the error reply echoing its id must be valid JSON. */
static void
check_line(const char *buf, size_t len, int must_be_json)
{
    struct rq_msg m;
    struct rq_error err;
    size_t olen;
    char *out;
    json_t *v;

    err.code = RQ_OK;
    err.message[0] = '\0';
    if (rq_proto_parse(buf, len, &m, &err) == 0) {
        assert_true((unsigned)m.op < RQ_OP__COUNT);
        assert_non_null(m.root);
        out = rq_proto_reply_ok(m.id, json_pack("{s:s}", "op", rq_op_name(m.op)), &olen);
    } else {
        if (err.code != RQ_E_BAD_JSON && err.code != RQ_E_BAD_FIELD && err.code != RQ_E_UNKNOWN_OP)
            fail_msg("'%.*s': code %s", (int)len, buf, rq_errcode_name(err.code));
        if (must_be_json && err.code == RQ_E_BAD_JSON && m.root == NULL)
            fail_msg("'%.*s': %s", (int)len, buf, err.message);
        assert_true(err.message[0] != '\0');
        assert_true(strlen(err.message) < RQ_ERR_LEN);
        out = rq_proto_reply_error(m.id, &err, &olen);
    }
    v = load_line(out, olen);
    if (m.id != NULL)
        assert_true(json_equal(json_object_get(v, "re"), m.id));
    else
        assert_null(json_object_get(v, "re"));
    json_decref(v);
    free(out);
    rq_msg_clear(&m);
}

static void
test_fuzz_bytes(void **state)
{
    static const char interesting[] = "{}[]\":,\\0-e.untf \x01\x7f\xc3\xa9\xff\xed\xf4";
    const size_t ncorpus = sizeof(corpus) / sizeof(corpus[0]);
    char buf[1024];
    int iter;

    (void)state;
    rng_state = 0x9e3779b97f4a7c15ull;
    for (iter = 0; iter < 6000; iter++) {
        const char *src = corpus[rng() % ncorpus];
        size_t len = strlen(src);
        int k, nmut = 1 + (int)(rng() % 4);

        memcpy(buf, src, len);
        for (k = 0; k < nmut; k++) {
            size_t pos = len ? rng() % len : 0;

            switch (rng() % 6) {
            case 0: /* flip a bit */
                if (len)
                    buf[pos] = (char)(buf[pos] ^ (1 << (rng() % 8)));
                break;
            case 1: /* overwrite with an interesting byte */
                if (len)
                    buf[pos] = interesting[rng() % (sizeof(interesting) - 1)];
                break;
            case 2: /* insert a byte */
                if (len + 1 < sizeof(buf)) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = interesting[rng() % (sizeof(interesting) - 1)];
                    len++;
                }
                break;
            case 3: /* delete a run */
                if (len) {
                    size_t n = 1 + rng() % 8;

                    if (n > len - pos)
                        n = len - pos;
                    memmove(buf + pos, buf + pos + n, len - pos - n);
                    len -= n;
                }
                break;
            case 4: /* truncate */
                len = pos;
                break;
            default: { /* splice a piece of another line in */
                const char *o = corpus[rng() % ncorpus];
                size_t olen = strlen(o), from = rng() % olen, n = 1 + rng() % 24;

                if (n > olen - from)
                    n = olen - from;
                if (len + n < sizeof(buf)) {
                    memmove(buf + pos + n, buf + pos, len - pos);
                    memcpy(buf + pos, o + from, n);
                    len += n;
                }
                break;
            }
            }
        }
        check_line(buf, len, 0);
    }
}

static void
test_fuzz_structure(void **state)
{
    const size_t ncorpus = sizeof(corpus) / sizeof(corpus[0]);
    int iter;

    (void)state;
    rng_state = 0x2545f4914f6cdd1dull;
    for (iter = 0; iter < 4000; iter++) {
        json_t *root = json_loads(corpus[rng() % ncorpus], 0, NULL);
        char *line;
        int k, nmut = 1 + (int)(rng() % 3);

        assert_non_null(root);
        for (k = 0; k < nmut; k++)
            mutate_tree(root, 0);
        line = json_dumps(root, JSON_COMPACT);
        assert_non_null(line);
        check_line(line, strlen(line), 1);
        tracked_free(line);
        json_decref(root);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_ops_without_fields),
        cmocka_unit_test(test_contact_new_full),
        cmocka_unit_test(test_contact_new_minimal),
        cmocka_unit_test(test_contact_refs),
        cmocka_unit_test(test_agent_state),
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_sync_limit),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_op_errors),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_id_echo_on_error),
        cmocka_unit_test(test_hello_errors),
        cmocka_unit_test(test_contact_new_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_role_table),
        cmocka_unit_test(test_reply_ok),
        cmocka_unit_test(test_reply_error),
        cmocka_unit_test(test_reply_escapes),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_round_trip_ids),
        cmocka_unit_test(test_msg_clear),
        cmocka_unit_test(test_fuzz_bytes),
        cmocka_unit_test(test_fuzz_structure),
    };

    json_set_alloc_funcs(tracked_malloc, tracked_free);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
