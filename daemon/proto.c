/*
 * proto.c - the NDJSON protocol: parse and validate one request line into a
 * struct rq_msg, and encode replies and pushes. Pure (jansson only): no I/O,
 * no logging, no routing state.
 *
 * Validation is strict: every field of every op is checked for presence,
 * type and range, and unknown fields are errors. An optional field whose
 * value is null counts as absent. Error messages name the field with its
 * path ("customer.tier: must be a string", "contacts[3].skills.sales: ...")
 * and quote at most RQ_LOG_INPUT_PREFIX bytes of any input, escaped, so
 * they are always printable UTF-8.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define QUOTE_BUF (RQ_LOG_INPUT_PREFIX * 4 + 4) /* worst case of escape_text on a prefix */
/* json_int_t is 64-bit (long long); <limits.h> is shadowed by daemon/limits.h. */
#define JSON_INT_MAX ((json_int_t)INT64_MAX)
#define STR_(x)      #x
#define STR(x)       STR_(x) /* a limit's value as a string literal */

/* ---- names and the role table ---- */

static const char *const op_names[RQ_OP__COUNT] = {
    [RQ_OP_HELLO] = "hello",
    [RQ_OP_PING] = "ping",
    [RQ_OP_CONTACT_NEW] = "contact.new",
    [RQ_OP_CONTACT_ANSWERED] = "contact.answered",
    [RQ_OP_CONTACT_NO_ANSWER] = "contact.no_answer",
    [RQ_OP_CONTACT_ABANDON] = "contact.abandon",
    [RQ_OP_CONTACT_END] = "contact.end",
    [RQ_OP_CONTACT_TRANSFER] = "contact.transfer",
    [RQ_OP_SYNC] = "sync",
    [RQ_OP_AGENT_STATE] = "agent.state",
    [RQ_OP_OFFER_ACCEPT] = "offer.accept",
    [RQ_OP_OFFER_REJECT] = "offer.reject",
    [RQ_OP_WRAPUP_DONE] = "wrapup.done",
    [RQ_OP_BYE] = "bye",
    [RQ_OP_SNAPSHOT] = "snapshot",
    [RQ_OP_SUBSCRIBE] = "subscribe",
    [RQ_OP_AGENT_SET] = "agent.set",
    [RQ_OP_CONTACT_MOVE] = "contact.move",
    [RQ_OP_CONTACT_PRIORITY] = "contact.priority",
    [RQ_OP_ADMIN_RELOAD] = "admin.reload",
    [RQ_OP_ADMIN_DRAIN] = "admin.drain",
};

#define ROLE_BIT(r) (1u << (r))
#define ANY_ROLE    (ROLE_BIT(RQ_ROLE_MONITOR + 1) - 1u) /* every role, none included */
#define R_SOURCE    ROLE_BIT(RQ_ROLE_SOURCE)
#define R_AGENT     ROLE_BIT(RQ_ROLE_AGENT)
#define R_MONITOR   ROLE_BIT(RQ_ROLE_MONITOR)

/* Which roles may send each op (bit per enum rq_role). */
static const unsigned op_roles[RQ_OP__COUNT] = {
    [RQ_OP_HELLO] = ANY_ROLE,
    [RQ_OP_PING] = ANY_ROLE,
    [RQ_OP_CONTACT_NEW] = R_SOURCE,
    [RQ_OP_CONTACT_ANSWERED] = R_SOURCE,
    [RQ_OP_CONTACT_NO_ANSWER] = R_SOURCE,
    [RQ_OP_CONTACT_ABANDON] = R_SOURCE,
    [RQ_OP_CONTACT_END] = R_SOURCE | R_AGENT,
    [RQ_OP_CONTACT_TRANSFER] = R_SOURCE,
    [RQ_OP_SYNC] = R_SOURCE,
    [RQ_OP_AGENT_STATE] = R_AGENT,
    [RQ_OP_OFFER_ACCEPT] = R_AGENT,
    [RQ_OP_OFFER_REJECT] = R_AGENT,
    [RQ_OP_WRAPUP_DONE] = R_AGENT,
    [RQ_OP_BYE] = R_SOURCE | R_AGENT | R_MONITOR,
    [RQ_OP_SNAPSHOT] = R_MONITOR,
    [RQ_OP_SUBSCRIBE] = R_MONITOR,
    [RQ_OP_AGENT_SET] = R_MONITOR,
    [RQ_OP_CONTACT_MOVE] = R_MONITOR,
    [RQ_OP_CONTACT_PRIORITY] = R_MONITOR,
    [RQ_OP_ADMIN_RELOAD] = R_MONITOR,
    [RQ_OP_ADMIN_DRAIN] = R_MONITOR,
};

/* The monitor role each op needs (0, read-only, for all the others). */
static const enum rq_monitor_role op_monitor_roles[RQ_OP__COUNT] = {
    [RQ_OP_AGENT_SET] = RQ_MON_ROLE_SUPERVISOR,
    [RQ_OP_CONTACT_MOVE] = RQ_MON_ROLE_SUPERVISOR,
    [RQ_OP_CONTACT_PRIORITY] = RQ_MON_ROLE_SUPERVISOR,
    [RQ_OP_ADMIN_RELOAD] = RQ_MON_ROLE_ADMIN,
    [RQ_OP_ADMIN_DRAIN] = RQ_MON_ROLE_ADMIN,
};

const char *
rq_op_name(enum rq_op op)
{
    if ((unsigned)op >= RQ_OP__COUNT)
        return "unknown";
    return op_names[op];
}

const char *
rq_role_name(enum rq_role role)
{
    switch (role) {
    case RQ_ROLE_NONE:
        return "none";
    case RQ_ROLE_SOURCE:
        return "source";
    case RQ_ROLE_AGENT:
        return "agent";
    case RQ_ROLE_MONITOR:
        return "monitor";
    }
    return "unknown";
}

int
rq_op_allowed(enum rq_op op, enum rq_role role)
{
    if ((unsigned)op >= RQ_OP__COUNT || (unsigned)role > RQ_ROLE_MONITOR)
        return 0;
    return (op_roles[op] & ROLE_BIT(role)) != 0;
}

enum rq_monitor_role
rq_op_monitor_role(enum rq_op op)
{
    if ((unsigned)op >= RQ_OP__COUNT)
        return RQ_MON_ROLE_ADMIN;
    return op_monitor_roles[op];
}

const char *
rq_monitor_role_name(enum rq_monitor_role role)
{
    switch (role) {
    case RQ_MON_ROLE_MONITOR:
        return "monitor";
    case RQ_MON_ROLE_SUPERVISOR:
        return "supervisor";
    case RQ_MON_ROLE_ADMIN:
        return "admin";
    }
    return "unknown";
}

/* ---- escaping input for messages ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Is the sequence at s (of length len) a C0/C1 control character or DEL? */
static int
is_control_seq(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0] < 0x20 || s[0] == 0x7f;
    return len == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/*
 * Copy at most `max` bytes of src[0..n) into dst (size bytes, NUL-terminated)
 * as printable UTF-8: valid non-control characters are kept, control
 * characters and bytes that are not UTF-8 become \xNN, and with `quote` a
 * quote or backslash gets a backslash. "..." marks a cut. size >= 4.
 */
static void
escape_text(char *dst, size_t size, const char *src, size_t n, size_t max, int quote)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0, seq, k;
    int cut = 0;

    while (i < n) {
        char tmp[8];
        size_t tlen;

        seq = utf8_seq_len(s + i, n - i);
        if (seq == 0 || is_control_seq(s + i, seq)) {
            seq = 1;
            snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
            tlen = 4;
        } else if (quote && seq == 1 && (s[i] == '\'' || s[i] == '\\')) {
            tmp[0] = '\\';
            tmp[1] = (char)s[i];
            tlen = 2;
        } else {
            for (k = 0; k < seq; k++)
                tmp[k] = (char)s[i + k];
            tlen = seq;
        }
        if (i + seq > max || o + tlen + 4 > size) {
            cut = 1;
            break;
        }
        memcpy(dst + o, tmp, tlen);
        o += tlen;
        i += seq;
    }
    if (cut) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* escape_text of a NUL-terminated input with the usual prefix limit. */
static void
quote_str(char *dst, size_t size, const char *src)
{
    escape_text(dst, size, src, strlen(src), RQ_LOG_INPUT_PREFIX, 1);
}

/* ---- field helpers ---- */

/* Where in the request we are: "" at the top, "customer.", "contacts[3]." ... */
struct pctx {
    struct rq_error *err; /* filled on failure */
    char prefix[64];      /* path of the enclosing object, ending in '.' (or empty) */
};

static int field_fail(const struct pctx *p, const char *field, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

/* bad_field "<prefix><field>: <message>". */
static int
field_fail(const struct pctx *p, const char *field, const char *fmt, ...)
{
    char text[RQ_ERR_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return rq_fail(p->err, RQ_E_BAD_FIELD, "%s%s: %s", p->prefix, field, text);
}

/* Reject members of obj not named in `fields` (NULL-terminated); at the top
 * level "op" and "id" are always allowed. */
static int
check_fields(const struct pctx *p, json_t *obj, const char *const *fields, int top)
{
    const char *key;
    json_t *v;

    json_object_foreach (obj, key, v) {
        const char *const *f;
        char q[QUOTE_BUF];

        if (top && (strcmp(key, "op") == 0 || strcmp(key, "id") == 0))
            continue;
        for (f = fields; *f != NULL; f++)
            if (strcmp(key, *f) == 0)
                break;
        if (*f != NULL)
            continue;
        quote_str(q, sizeof(q), key);
        return rq_fail(p->err, RQ_E_BAD_FIELD, "unknown field '%s%s'", p->prefix, q);
    }
    return 0;
}

static int
has_control(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;

    for (i = 0; i < len; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return 1;
        if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] < 0xa0)
            return 1;
    }
    return 0;
}

#define F_REQUIRED 0x1u /* the field must be present (and not null) */
#define F_IDENT    0x2u /* non-empty, no control characters */

/* Check string value v of field `field`: flags F_IDENT, max bytes (0: any). */
static int
check_string(const struct pctx *p, const char *field, json_t *v, unsigned flags, size_t max,
             const char **out)
{
    const char *s;
    size_t len;

    if (!json_is_string(v))
        return field_fail(p, field, "must be a string");
    s = json_string_value(v);
    len = json_string_length(v);
    if ((flags & F_IDENT) && len == 0)
        return field_fail(p, field, "must not be empty");
    if (max > 0 && len > max)
        return field_fail(p, field, "longer than %zu bytes", max);
    if ((flags & F_IDENT) && has_control(s, len))
        return field_fail(p, field, "must not contain control characters");
    *out = s;
    return 0;
}

/* Optional or required string member `key` of obj; *out NULL when absent. */
static int
get_string(const struct pctx *p, json_t *obj, const char *key, unsigned flags, size_t max,
           const char **out)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL || (json_is_null(v) && !(flags & F_REQUIRED))) {
        if (flags & F_REQUIRED)
            return field_fail(p, key, "required");
        return 0;
    }
    return check_string(p, key, v, flags, max, out);
}

/* Index of s in the NULL-terminated names, or -1. */
static int
name_index(const char *const *names, const char *s)
{
    int i;

    for (i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

/* A string that must be one of names (listed as `allowed` in messages);
 * *idx -1 when absent. */
static int
get_enum(const struct pctx *p, json_t *obj, const char *key, unsigned flags,
         const char *const *names, const char *allowed, const char **out, int *idx)
{
    char q[QUOTE_BUF];

    *idx = -1;
    if (get_string(p, obj, key, flags & F_REQUIRED, 0, out) < 0)
        return -1;
    if (*out == NULL)
        return 0;
    *idx = name_index(names, *out);
    if (*idx < 0) {
        quote_str(q, sizeof(q), *out);
        *out = NULL;
        return field_fail(p, key, "'%s' is not one of %s", q, allowed);
    }
    return 0;
}

/* Optional integer member in [min, max]; `range` describes it for messages.
 * *out untouched when absent. */
static int
get_int(const struct pctx *p, json_t *obj, const char *key, json_int_t min, json_int_t max,
        const char *range, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    json_int_t n;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return field_fail(p, key, "must be %s", range);
    n = json_integer_value(v);
    if (n < min || n > max)
        return field_fail(p, key, "must be %s", range);
    *out = n;
    return 0;
}

/* ---- op parsers ---- */

static const char *const f_none[] = {NULL};
static const char *const f_hello[] = {"role", "name", "token", "agent", NULL};
static const char *const f_contact[] = {"contact", NULL};
static const char *const f_answered[] = {"contact", "agent", NULL};
static const char *const f_no_answer[] = {"contact", "agent", "reason", NULL};
static const char *const f_transfer[] = {"contact", "queue", NULL};
static const char *const f_contact_new[] = {"contact",         "channel", "queue",
                                            "customer",        "skills",  "priority",
                                            "preferred_agent", "due_at",  NULL};
static const char *const f_sync_item[] = {"contact",    "channel",  "queue",           "customer",
                                          "skills",     "priority", "preferred_agent", "due_at",
                                          "arrived_ms", NULL};
static const char *const f_customer[] = {"id", "tier", "lang", "persona", NULL};
static const char *const f_sync[] = {"contacts", NULL};
static const char *const f_state[] = {"state", "reason", NULL};
static const char *const f_subscribe[] = {"topics", NULL};
static const char *const f_agent_set[] = {"agent", "state", "reason", NULL};
static const char *const f_priority[] = {"contact", "priority", NULL};

static const char *const role_names[] = {"source", "agent", "monitor", NULL};
static const char *const channel_names[] = {"voice", "chat", "email", "callback", NULL};
static const char *const persona_names[] = {"authoritative", "analytical", "amiable", "expressive",
                                            NULL};
static const char *const state_names[] = {"ready", "not_ready", NULL};
static const char *const set_state_names[] = {"ready", "not_ready", "logged_out", NULL};
static const char *const topic_names[] = {"queues", "agents", "contacts", "alerts", NULL};

static int
parse_hello(const struct pctx *p, json_t *root, struct rq_msg *msg)
{
    const char *role;
    int idx;

    if (get_enum(p, root, "role", F_REQUIRED, role_names, "source, agent, monitor", &role, &idx) <
        0)
        return -1;
    msg->u.hello.role = (enum rq_role)(RQ_ROLE_SOURCE + idx);
    if (get_string(p, root, "token", F_REQUIRED, 0, &msg->u.hello.token) < 0 ||
        get_string(p, root, "name", F_IDENT, RQ_MAX_ID_LEN, &msg->u.hello.name) < 0 ||
        get_string(p, root, "agent", F_IDENT, RQ_MAX_ID_LEN, &msg->u.hello.agent) < 0)
        return -1;
    if (msg->u.hello.role == RQ_ROLE_AGENT) {
        if (msg->u.hello.agent == NULL)
            return field_fail(p, "agent", "required with role agent");
        if (msg->u.hello.name != NULL)
            return field_fail(p, "name", "not allowed with role agent (the agent id names it)");
    } else {
        if (msg->u.hello.name == NULL)
            return field_fail(p, "name", "required with role %s", role);
        if (msg->u.hello.agent != NULL)
            return field_fail(p, "agent", "only allowed with role agent");
    }
    return 0;
}

static int
parse_customer(const struct pctx *outer, json_t *v, struct rq_contact_in *in)
{
    struct pctx p = {.err = outer->err};
    const char *persona;
    int idx;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return field_fail(outer, "customer", "must be an object");
    snprintf(p.prefix, sizeof(p.prefix), "%.40scustomer.", outer->prefix);
    if (check_fields(&p, v, f_customer, 0) < 0 ||
        get_string(&p, v, "id", F_IDENT, RQ_MAX_ID_LEN, &in->customer_id) < 0 ||
        get_string(&p, v, "tier", F_IDENT, RQ_MAX_NAME_LEN, &in->tier) < 0 ||
        get_string(&p, v, "lang", F_IDENT, RQ_MAX_NAME_LEN, &in->lang) < 0 ||
        get_enum(&p, v, "persona", 0, persona_names,
                 "authoritative, analytical, amiable, expressive", &persona, &idx) < 0)
        return -1;
    in->persona = persona;
    return 0;
}

static int
parse_skills(const struct pctx *p, json_t *v, struct rq_contact_in *in)
{
    const char *key;
    json_t *lv;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return field_fail(p, "skills", "must be an object of skill name to level");
    if (json_object_size(v) > RQ_MAX_REQS)
        return field_fail(p, "skills", "at most %d skills", RQ_MAX_REQS);
    json_object_foreach (v, key, lv) {
        size_t klen = strlen(key);
        char q[QUOTE_BUF], field[QUOTE_BUF + 8];

        if (klen == 0)
            return field_fail(p, "skills", "empty skill name");
        quote_str(q, sizeof(q), key);
        snprintf(field, sizeof(field), "skills.%s", q);
        if (klen > RQ_MAX_NAME_LEN)
            return field_fail(p, field, "skill name longer than %d bytes", RQ_MAX_NAME_LEN);
        if (has_control(key, klen))
            return field_fail(p, field, "skill name must not contain control characters");
        if (!json_is_integer(lv) || json_integer_value(lv) < 1 ||
            json_integer_value(lv) > RQ_MAX_LEVEL)
            return field_fail(p, field, "level must be an integer 1..%d", RQ_MAX_LEVEL);
        in->skills[in->n_skills].name = key;
        in->skills[in->n_skills].level = (int)json_integer_value(lv);
        in->n_skills++;
    }
    return 0;
}

/* The fields of contact.new (and of a full sync entry, with arrived_ms). */
static int
parse_contact(const struct pctx *p, json_t *obj, struct rq_contact_in *in, int sync_item)
{
    json_int_t prio = 0, due = 0, arrived = 0;
    int idx;

    if (check_fields(p, obj, sync_item ? f_sync_item : f_contact_new, !sync_item) < 0 ||
        get_string(p, obj, "contact", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN, &in->id) < 0 ||
        get_enum(p, obj, "channel", 0, channel_names, "voice, chat, email, callback", &in->channel,
                 &idx) < 0 ||
        get_string(p, obj, "queue", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN, &in->queue) < 0 ||
        parse_customer(p, json_object_get(obj, "customer"), in) < 0 ||
        parse_skills(p, json_object_get(obj, "skills"), in) < 0 ||
        get_int(p, obj, "priority", 0, RQ_MAX_PRIORITY, "an integer 0.." STR(RQ_MAX_PRIORITY),
                &prio) < 0 ||
        get_string(p, obj, "preferred_agent", F_IDENT, RQ_MAX_ID_LEN, &in->preferred_agent) < 0 ||
        get_int(p, obj, "due_at", 0, JSON_INT_MAX, "a non-negative integer (ms since the epoch)",
                &due) < 0)
        return -1;
    if (sync_item && get_int(p, obj, "arrived_ms", 0, JSON_INT_MAX,
                             "a non-negative integer (ms since the epoch)", &arrived) < 0)
        return -1;
    in->priority = (int)prio;
    in->due_at_ms = (uint64_t)due;
    in->arrived_ms = (uint64_t)arrived;
    return 0;
}

static int
parse_sync(const struct pctx *p, json_t *root, struct rq_msg *msg)
{
    json_t *list = json_object_get(root, "contacts"), *v;
    size_t i, n;

    if (list == NULL)
        return field_fail(p, "contacts", "required");
    if (!json_is_array(list))
        return field_fail(p, "contacts", "must be an array of contact ids or objects");
    n = json_array_size(list);
    if (n > RQ_MAX_SYNC_CONTACTS)
        return field_fail(p, "contacts", "at most %d contacts", RQ_MAX_SYNC_CONTACTS);
    if (n == 0)
        return 0;
    msg->u.sync.items = calloc(n, sizeof(*msg->u.sync.items));
    if (msg->u.sync.items == NULL)
        return rq_fail(p->err, RQ_E_INTERNAL, "out of memory for %zu sync contacts", n);
    json_array_foreach (list, i, v) {
        struct rq_sync_item *it = &msg->u.sync.items[i];
        char field[32];

        snprintf(field, sizeof(field), "contacts[%zu]", i);
        if (json_is_string(v)) {
            if (check_string(p, field, v, F_IDENT, RQ_MAX_ID_LEN, &it->id) < 0)
                return -1;
        } else if (json_is_object(v)) {
            struct pctx ip = {.err = p->err};

            snprintf(ip.prefix, sizeof(ip.prefix), "%s.", field);
            if (parse_contact(&ip, v, &it->in, 1) < 0)
                return -1;
            it->id = it->in.id;
            it->full = 1;
        } else {
            return field_fail(p, field, "must be a contact id or an object");
        }
        msg->u.sync.n = i + 1;
    }
    return 0;
}

static int
parse_subscribe(const struct pctx *p, json_t *root, struct rq_msg *msg)
{
    json_t *list = json_object_get(root, "topics"), *v;
    size_t i;

    msg->u.subscribe.topics = RQ_TOPIC_ALL;
    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return field_fail(p, "topics", "must be an array of topic names");
    if (json_array_size(list) == 0)
        return field_fail(p, "topics", "must not be empty (omit it for all topics)");
    msg->u.subscribe.topics = 0;
    json_array_foreach (list, i, v) {
        char field[32], q[QUOTE_BUF];
        int idx;

        snprintf(field, sizeof(field), "topics[%zu]", i);
        if (!json_is_string(v))
            return field_fail(p, field, "must be a string");
        idx = name_index(topic_names, json_string_value(v));
        if (idx < 0) {
            quote_str(q, sizeof(q), json_string_value(v));
            return field_fail(p, field, "'%s' is not one of queues, agents, contacts, alerts", q);
        }
        msg->u.subscribe.topics |= 1u << idx;
    }
    return 0;
}

static int
parse_op(const struct pctx *p, json_t *root, struct rq_msg *msg)
{
    const char *state;
    int idx;

    switch (msg->op) {
    case RQ_OP_HELLO:
        return check_fields(p, root, f_hello, 1) < 0 ? -1 : parse_hello(p, root, msg);
    case RQ_OP_PING:
    case RQ_OP_WRAPUP_DONE:
    case RQ_OP_BYE:
    case RQ_OP_SNAPSHOT:
    case RQ_OP_ADMIN_RELOAD:
    case RQ_OP_ADMIN_DRAIN:
        return check_fields(p, root, f_none, 1);
    case RQ_OP_CONTACT_NEW:
        return parse_contact(p, root, &msg->u.contact, 0);
    case RQ_OP_CONTACT_ANSWERED:
    case RQ_OP_CONTACT_NO_ANSWER:
        if (check_fields(p, root, msg->op == RQ_OP_CONTACT_ANSWERED ? f_answered : f_no_answer, 1) <
                0 ||
            get_string(p, root, "contact", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN,
                       &msg->u.ref.contact) < 0 ||
            get_string(p, root, "agent", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN, &msg->u.ref.agent) <
                0 ||
            get_string(p, root, "reason", F_IDENT, RQ_MAX_REASON_LEN, &msg->u.ref.reason) < 0)
            return -1;
        return 0;
    case RQ_OP_CONTACT_ABANDON:
    case RQ_OP_CONTACT_END:
    case RQ_OP_OFFER_ACCEPT:
    case RQ_OP_OFFER_REJECT:
        if (check_fields(p, root, f_contact, 1) < 0)
            return -1;
        return get_string(p, root, "contact", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN,
                          &msg->u.ref.contact);
    case RQ_OP_CONTACT_TRANSFER:
    case RQ_OP_CONTACT_MOVE:
        if (check_fields(p, root, f_transfer, 1) < 0 ||
            get_string(p, root, "contact", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN,
                       &msg->u.ref.contact) < 0)
            return -1;
        return get_string(p, root, "queue", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN, &msg->u.ref.queue);
    case RQ_OP_SYNC:
        return check_fields(p, root, f_sync, 1) < 0 ? -1 : parse_sync(p, root, msg);
    case RQ_OP_AGENT_STATE:
        if (check_fields(p, root, f_state, 1) < 0 ||
            get_enum(p, root, "state", F_REQUIRED, state_names, "ready, not_ready", &state, &idx) <
                0)
            return -1;
        msg->u.state.state = state;
        return get_string(p, root, "reason", F_IDENT, RQ_MAX_REASON_LEN, &msg->u.state.reason);
    case RQ_OP_SUBSCRIBE:
        return check_fields(p, root, f_subscribe, 1) < 0 ? -1 : parse_subscribe(p, root, msg);
    case RQ_OP_AGENT_SET:
        if (check_fields(p, root, f_agent_set, 1) < 0 ||
            get_string(p, root, "agent", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN, &msg->u.set.agent) <
                0 ||
            get_enum(p, root, "state", F_REQUIRED, set_state_names, "ready, not_ready, logged_out",
                     &state, &idx) < 0 ||
            get_string(p, root, "reason", F_IDENT, RQ_MAX_REASON_LEN, &msg->u.set.reason) < 0)
            return -1;
        msg->u.set.state = state;
        if (msg->u.set.reason != NULL && strcmp(state, "not_ready") != 0)
            return field_fail(p, "reason", "only with state not_ready");
        return 0;
    case RQ_OP_CONTACT_PRIORITY: {
        json_int_t prio = -1;

        if (check_fields(p, root, f_priority, 1) < 0 ||
            get_string(p, root, "contact", F_REQUIRED | F_IDENT, RQ_MAX_ID_LEN,
                       &msg->u.prio.contact) < 0 ||
            get_int(p, root, "priority", 0, RQ_MAX_PRIORITY, "an integer 0.." STR(RQ_MAX_PRIORITY),
                    &prio) < 0)
            return -1;
        if (prio < 0)
            return field_fail(p, "priority", "required");
        msg->u.prio.priority = (int)prio;
        return 0;
    }
    case RQ_OP__COUNT:
        break;
    }
    return rq_fail(p->err, RQ_E_INTERNAL, "op %d has no parser", (int)msg->op);
}

int
rq_proto_parse(const char *line, size_t len, struct rq_msg *msg, struct rq_error *err)
{
    struct pctx p = {.err = err};
    json_error_t jerr;
    json_t *root, *id, *op;
    const char *nul;
    char q[QUOTE_BUF];
    int i;

    memset(msg, 0, sizeof(*msg));
    /* Strings cannot hold NUL: a raw NUL byte is refused here, and "\u0000"
     * by jansson (no JSON_ALLOW_NUL), so every string below is a C string. */
    nul = memchr(line, '\0', len);
    if (nul != NULL)
        return rq_fail(err, RQ_E_BAD_JSON, "invalid JSON at column %zu: NUL byte",
                       (size_t)(nul - line) + 1);
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        escape_text(q, sizeof(q), jerr.text, strlen(jerr.text), sizeof(jerr.text), 0);
        return rq_fail(err, RQ_E_BAD_JSON, "invalid JSON at column %d: %s", jerr.column, q);
    }
    msg->root = root;
    if (!json_is_object(root))
        return rq_fail(err, RQ_E_BAD_JSON, "a request must be a JSON object");

    id = json_object_get(root, "id");
    if (id != NULL) {
        if (json_is_object(id) || json_is_array(id))
            return rq_fail(err, RQ_E_BAD_FIELD, "id: must be a string or number");
        msg->id = id;
    }

    op = json_object_get(root, "op");
    if (op == NULL)
        return rq_fail(err, RQ_E_BAD_FIELD, "op: required");
    if (!json_is_string(op))
        return rq_fail(err, RQ_E_BAD_FIELD, "op: must be a string");
    for (i = 0; i < RQ_OP__COUNT; i++)
        if (strcmp(op_names[i], json_string_value(op)) == 0)
            break;
    if (i == RQ_OP__COUNT) {
        escape_text(q, sizeof(q), json_string_value(op), json_string_length(op),
                    RQ_LOG_INPUT_PREFIX, 1);
        return rq_fail(err, RQ_E_UNKNOWN_OP, "unknown op '%s'", q);
    }
    msg->op = (enum rq_op)i;
    return parse_op(&p, root, msg);
}

void
rq_msg_clear(struct rq_msg *msg)
{
    if (msg->op == RQ_OP_SYNC)
        free(msg->u.sync.items);
    json_decref(msg->root);
    memset(msg, 0, sizeof(*msg));
}

/* ---- encoders ---- */

/* A growing output buffer for json_dump_callback. */
struct outbuf {
    char *data;  /* malloc'd */
    size_t len;  /* bytes used */
    size_t size; /* bytes allocated */
};

static int
outbuf_add(const char *buf, size_t size, void *data)
{
    struct outbuf *ob = data;

    if (ob->len + size + 2 > ob->size) {
        size_t nsize = ob->size ? ob->size : 256;
        char *n;

        while (ob->len + size + 2 > nsize)
            nsize *= 2;
        n = realloc(ob->data, nsize);
        if (n == NULL)
            return -1;
        ob->data = n;
        ob->size = nsize;
    }
    memcpy(ob->data + ob->len, buf, size);
    ob->len += size;
    return 0;
}

/* Encode obj (decref'd) as one compact line ending in "\n"; NULL if obj is
 * NULL or out of memory. */
static char *
encode_line(json_t *obj, size_t *len)
{
    struct outbuf ob = {NULL, 0, 0};
    int rc;

    if (obj == NULL)
        return NULL;
    rc = json_dump_callback(obj, outbuf_add, &ob, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(obj);
    if (rc < 0 || ob.data == NULL) {
        free(ob.data);
        return NULL;
    }
    ob.data[ob.len++] = '\n';
    ob.data[ob.len] = '\0';
    if (len != NULL)
        *len = ob.len;
    return ob.data;
}

/* Add the members of `more` (stolen; may be NULL) that obj lacks. Returns -1
 * (obj decref'd) if more is not an object or memory runs out. */
static int
merge_members(json_t *obj, json_t *more)
{
    int rc = 0;

    if (more == NULL)
        return 0;
    if (!json_is_object(more) || json_object_update_missing(obj, more) < 0)
        rc = -1;
    json_decref(more);
    if (rc < 0)
        json_decref(obj);
    return rc;
}

/* {"re": id, "ok": ok} (re only with an id), or NULL. */
static json_t *
reply_head(json_t *id, int ok)
{
    json_t *obj = json_object();

    if (obj == NULL)
        return NULL;
    if ((id != NULL && json_object_set(obj, "re", id) < 0) ||
        json_object_set_new(obj, "ok", json_boolean(ok)) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *
rq_proto_reply_ok(json_t *id, json_t *extra, size_t *len)
{
    json_t *obj = reply_head(id, 1);

    if (obj == NULL) {
        json_decref(extra);
        return NULL;
    }
    if (merge_members(obj, extra) < 0)
        return NULL;
    return encode_line(obj, len);
}

char *
rq_proto_reply_error(json_t *id, const struct rq_error *err, size_t *len)
{
    /* The message may hold input cut mid-character: re-escape it. */
    char text[RQ_ERR_LEN * 4 + 4];
    enum rq_errcode code = err != NULL ? err->code : RQ_E_INTERNAL;
    const char *msg = err != NULL ? err->message : "";
    json_t *obj = reply_head(id, 0), *e;

    if (obj == NULL)
        return NULL;
    escape_text(text, sizeof(text), msg, strnlen(msg, RQ_ERR_LEN), RQ_ERR_LEN, 0);
    e = json_pack("{s:s, s:s}", "code", rq_errcode_name(code), "message", text);
    if (e == NULL || json_object_set_new(obj, "error", e) < 0) {
        json_decref(obj);
        return NULL;
    }
    return encode_line(obj, len);
}

char *
rq_proto_push(const char *ev, json_t *body, size_t *len)
{
    json_t *obj = json_object();

    if (obj == NULL || ev == NULL || json_object_set_new(obj, "ev", json_string(ev)) < 0) {
        json_decref(obj);
        json_decref(body);
        return NULL;
    }
    if (merge_members(obj, body) < 0)
        return NULL;
    return encode_line(obj, len);
}
