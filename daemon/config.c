/*
 * config.c - libconfig file -> validated, immutable struct rq_conf.
 *
 * Everything is checked here, once, so the rest of ringqd can trust the
 * values: types, ranges, unknown settings (a typo must not pass silently),
 * duplicate names and every cross reference. The first problem found is
 * reported as "file:line: what is wrong" and nothing is returned; this layer
 * never logs and never exits.
 *
 * Loading runs in three passes over the parsed file: names first (skills,
 * tiers, queue names, each with a sorted index for duplicates and lookups),
 * then the queues and agents that refer to them, then the clients.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "plugin.h"
#include "log.h"

#define MAX_RINGS          100                   /* answer_rings at most */
#define MAX_RING_PHASE_MS  (60u * 1000u)         /* ring_on_s / ring_off_s at most */
#define MAX_SHORT_ABANDON  (3600u * 1000u)       /* short_abandon_s at most */
#define MAX_WRAP_UP_MS     (3600u * 1000u)       /* wrap_up_s at most */
#define MAX_PRIO_STEP_MS   (3600u * 1000u)       /* priority_step_s at most */
#define MAX_AHT_MS         (24u * 3600u * 1000u) /* default_aht_s at most */
#define MAX_SLA_FACTOR     10.0                  /* sla_factor at most */
#define MAX_AT_PERCENT     1000                  /* a step may come due well past the target */
#define MAX_CONTACTS_LIMIT 10000000              /* max_contacts at most */
#define MAX_CLIENTS_LIMIT  1000000               /* listen.max_clients at most */
#define MAX_TOKEN_LEN      1024                  /* agent and client tokens */
#define MAX_DISPLAY_LEN    256                   /* an agent's display name */
#define SUN_PATH_LEN       sizeof(((struct sockaddr_un *)NULL)->sun_path) /* with its NUL */
#define CTX_LEN            (RQ_MAX_ID_LEN + 64) /* "queue 'x': escalation step 8" */

/* Where the wallboard page is installed (daemon/CMakeLists.txt sets it). */
#ifndef RINGQ_WALLBOARD_PATH
#define RINGQ_WALLBOARD_PATH "/usr/share/ringq/wallboard.html"
#endif

/* A name in a sorted index: duplicates are found and references resolved by bsearch. */
struct name_ref {
    const char *name;            /* points into the rq_conf being built */
    int index;                   /* position in the rq_conf array, i.e. file order */
    const config_setting_t *src; /* where the name was given, for messages */
};

struct name_index {
    struct name_ref *refs; /* sorted by name, then by index */
    int n;
};

/* State of one rq_conf_load call. */
struct loader {
    config_t cfg;             /* the parsed file */
    const char *path;         /* the file name given to rq_conf_load */
    char *err;                /* caller's message buffer */
    size_t errlen;            /* its size */
    struct rq_conf *conf;     /* what is being built */
    struct name_index skills; /* conf->skills by name */
    struct name_index tiers;  /* conf->tiers by name */
    struct name_index queues; /* conf->queues by name */
};

/* A ring cadence: how long a ring lasts, in on and off parts. */
struct cadence {
    const char *name;
    uint32_t on_ms;  /* ringing */
    uint32_t off_ms; /* silence before the next ring */
};

/* The UK double ring (0.4 s on, 0.2 s off, 0.4 s on) counts as one 1 s burst. */
static const struct cadence cadences[] = {
    {"north_america", 2000, 4000},
    {"china", 1000, 4000},
    {"europe", 1000, 4000},
    {"uk", 1000, 2000},
};

static const char *const top_keys[] = {
    "log_level", "random_seed", "max_contacts",    "listen",         "tiers",    "default_tier",
    "skills",    "queues",      "agents",          "sources",        "monitors", "redis",
    "plugins",   "http",        "drain_timeout_s", "fallback_queue", NULL};
static const char *const redis_keys[] = {"enabled",
                                         "host",
                                         "port",
                                         "unix",
                                         "user",
                                         "password",
                                         "db",
                                         "prefix",
                                         "connect_timeout_s",
                                         "command_timeout_s",
                                         "journal_max",
                                         "max_pending",
                                         "max_held_bytes",
                                         "events_maxlen",
                                         "wait_at_start",
                                         NULL};
static const char *const http_keys[] = {
    "enabled", "host", "port", "wallboard", "tokens", "cors_origin", "metrics_token_required",
    NULL};
static const char *const http_token_keys[] = {"token", "role", "name", NULL};
static const char *const listen_keys[] = {"host",           "port",        "unix",
                                          "max_line_bytes", "max_clients", NULL};
static const char *const tier_keys[] = {"name", "sla_factor", "emergency", "max_wait_s", NULL};
static const char *const queue_keys[] = {"name",
                                         "answer_rings",
                                         "ring_cadence",
                                         "ring_on_s",
                                         "ring_off_s",
                                         "callback_target_s",
                                         "chat_target_s",
                                         "email_target_s",
                                         "goal_percent",
                                         "service_level",
                                         "short_abandon_s",
                                         "strategy",
                                         "ring_timeout_s",
                                         "wrap_up_s",
                                         "preferred_wait_s",
                                         "alert_percent",
                                         "priority_step_s",
                                         "default_aht_s",
                                         "closed",
                                         "skills",
                                         "max_wait_s",
                                         "escalation",
                                         NULL};
static const char *const step_keys[] = {
    "at_percent", "after_s", "relax_levels", "relax_language", "overflow", "raise_priority", NULL};
static const char *const agent_keys[] = {"id",       "name",      "token",    "skills",
                                         "capacity", "languages", "personas", NULL};
static const char *const capacity_keys[] = {"voice", "chat", "email", NULL};
static const char *const client_keys[] = {"name", "token", NULL};
static const char *const monitor_keys[] = {"name", "token", "role", NULL};
static const char *const monitor_role_names[] = {"monitor", "supervisor", "admin"};

static const char *const channel_names[RQ_CH__COUNT] = {"voice", "chat", "email", "callback"};
static const char *const media_names[RQ_MEDIA__COUNT] = {"voice", "chat", "email"};
static const char *const persona_names[RQ_PERSONA__COUNT] = {"authoritative", "analytical",
                                                             "amiable", "expressive"};
static const char *const http_role_names[] = {"wallboard", "supervisor", "admin"};
static const char *const sl_names[] = {"answered_only", "abandons_negative", "abandons_ignored",
                                       "abandons_positive"};

/* --- enum names -------------------------------------------------------- */

static int
name_lookup(const char *const *names, int n, const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return i;
    }
    return -1;
}

const char *
rq_channel_name(enum rq_channel ch)
{
    if ((unsigned)ch >= RQ_CH__COUNT)
        return "unknown";
    return channel_names[ch];
}

int
rq_channel_parse(const char *name, enum rq_channel *out)
{
    int i = name_lookup(channel_names, RQ_CH__COUNT, name);

    if (i < 0)
        return -1;
    *out = (enum rq_channel)i;
    return 0;
}

enum rq_media
rq_channel_media(enum rq_channel ch)
{
    switch (ch) {
    case RQ_CH_CHAT:
        return RQ_MEDIA_CHAT;
    case RQ_CH_EMAIL:
        return RQ_MEDIA_EMAIL;
    case RQ_CH_VOICE:
    case RQ_CH_CALLBACK:
    case RQ_CH__COUNT:
        break;
    }
    return RQ_MEDIA_VOICE;
}

const char *
rq_media_name(enum rq_media m)
{
    if ((unsigned)m >= RQ_MEDIA__COUNT)
        return "unknown";
    return media_names[m];
}

const char *
rq_persona_name(enum rq_persona p)
{
    if ((unsigned)p >= RQ_PERSONA__COUNT)
        return "unknown";
    return persona_names[p];
}

int
rq_persona_parse(const char *name, enum rq_persona *out)
{
    int i = name_lookup(persona_names, RQ_PERSONA__COUNT, name);

    if (i < 0)
        return -1;
    *out = (enum rq_persona)i;
    return 0;
}

const char *
rq_sl_variant_name(enum rq_sl_variant v)
{
    if ((unsigned)v >= sizeof(sl_names) / sizeof(sl_names[0]))
        return "unknown";
    return sl_names[v];
}

int
rq_sl_variant_parse(const char *name, enum rq_sl_variant *out)
{
    int i = name_lookup(sl_names, (int)(sizeof(sl_names) / sizeof(sl_names[0])), name);

    if (i < 0)
        return -1;
    *out = (enum rq_sl_variant)i;
    return 0;
}

const char *
rq_http_role_name(enum rq_http_role role)
{
    if (role < RQ_HTTP_ROLE_WALLBOARD || role > RQ_HTTP_ROLE_ADMIN)
        return "unknown";
    return http_role_names[role - RQ_HTTP_ROLE_WALLBOARD];
}

/* --- lookups ----------------------------------------------------------- */

/* Index of the element of an array of n structs, each stride bytes and
 * starting with its `char *name`, whose name is name; -1 if none. */
static int
find_by_name(const void *array, size_t stride, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const char *const *elem = (const char *const *)((const char *)array + (size_t)i * stride);
        if (strcmp(*elem, name) == 0)
            return i;
    }
    return -1;
}

/* Position of name in a sorted index of n entries; -1 if absent. */
static int
name_bsearch(const struct rq_conf_name *ix, int n, const char *name)
{
    int lo = 0, hi = n - 1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ix[mid].name);

        if (c == 0)
            return ix[mid].index;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

int
rq_conf_skill_index(const struct rq_conf *conf, const char *name)
{
    if (conf->skill_index != NULL)
        return name_bsearch(conf->skill_index, conf->n_skills, name);
    return find_by_name(conf->skills, sizeof(conf->skills[0]), conf->n_skills, name);
}

int
rq_conf_tier_index(const struct rq_conf *conf, const char *name)
{
    if (conf->tier_index != NULL)
        return name_bsearch(conf->tier_index, conf->n_tiers, name);
    return find_by_name(conf->tiers, sizeof(conf->tiers[0]), conf->n_tiers, name);
}

int
rq_conf_queue_index(const struct rq_conf *conf, const char *name)
{
    if (conf->queue_index != NULL)
        return name_bsearch(conf->queue_index, conf->n_queues, name);
    return find_by_name(conf->queues, sizeof(conf->queues[0]), conf->n_queues, name);
}

/* --- freeing ----------------------------------------------------------- */

static void
free_clients(struct rq_conf_client *c, int n)
{
    if (c == NULL)
        return;
    for (int i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].token);
    }
    free(c);
}

void
rq_conf_free(struct rq_conf *conf)
{
    if (conf == NULL)
        return;
    free(conf->path);
    free(conf->log_level);
    free(conf->listen.host);
    free(conf->listen.unix_path);
    free(conf->redis.host);
    free(conf->redis.unix_path);
    free(conf->redis.user);
    free(conf->redis.password);
    free(conf->redis.prefix);
    free(conf->http.host);
    free(conf->http.wallboard);
    free(conf->http.cors_origin);
    if (conf->http.tokens != NULL) {
        for (int i = 0; i < conf->http.n_tokens; i++) {
            free(conf->http.tokens[i].token);
            free(conf->http.tokens[i].name);
        }
        free(conf->http.tokens);
    }
    if (conf->tiers != NULL) {
        for (int i = 0; i < conf->n_tiers; i++)
            free(conf->tiers[i].name);
        free(conf->tiers);
    }
    if (conf->skills != NULL) {
        for (int i = 0; i < conf->n_skills; i++)
            free(conf->skills[i].name);
        free(conf->skills);
    }
    if (conf->queues != NULL) {
        for (int i = 0; i < conf->n_queues; i++) {
            free(conf->queues[i].name);
            free(conf->queues[i].strategy);
            free(conf->queues[i].max_wait_ms);
        }
        free(conf->queues);
    }
    if (conf->agents != NULL) {
        for (int i = 0; i < conf->n_agents; i++) {
            struct rq_conf_agent *a = &conf->agents[i];

            free(a->id);
            free(a->name);
            free(a->token);
            for (int j = 0; j < a->n_langs; j++)
                free(a->langs[j]);
        }
        free(conf->agents);
    }
    free_clients(conf->sources, conf->n_sources);
    free_clients(conf->monitors, conf->n_monitors);
    free(conf->skill_index);
    free(conf->tier_index);
    free(conf->queue_index);
    free(conf);
}

/* --- messages ---------------------------------------------------------- */

/* Fill L->err with "file:line: ctx: message" (line and ctx when known); returns -1. */
static int fail(struct loader *L, const config_setting_t *s, const char *ctx, const char *fmt, ...)
    __attribute__((__format__(printf, 4, 5)));

static int
fail(struct loader *L, const config_setting_t *s, const char *ctx, const char *fmt, ...)
{
    char msg[RQ_ERR_LEN];
    const char *file = L->path;
    unsigned line = 0;
    va_list ap;

    if (s != NULL) {
        if (config_setting_source_file(s) != NULL)
            file = config_setting_source_file(s);
        line = config_setting_source_line(s);
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx == NULL)
        ctx = "";
    if (line > 0)
        snprintf(L->err, L->errlen, "%s:%u: %s%s%s", file, line, ctx, *ctx ? ": " : "", msg);
    else
        snprintf(L->err, L->errlen, "%s: %s%s%s", file, ctx, *ctx ? ": " : "", msg);
    return -1;
}

static int
oom(struct loader *L)
{
    return fail(L, NULL, NULL, "out of memory");
}

/* Edit distance, for "did you mean" hints; names are short. */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[RQ_MAX_NAME_LEN + 1];

    if (la > RQ_MAX_NAME_LEN || lb > RQ_MAX_NAME_LEN)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Reject members of group that are not in allowed; where names the group for people. */
static int
check_keys(struct loader *L, const config_setting_t *group, const char *const *allowed,
           const char *where)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);
        const char *hint = NULL;
        size_t best = 3;
        int known = 0;

        for (int k = 0; allowed[k] != NULL; k++) {
            size_t d;

            if (strcmp(name, allowed[k]) == 0) {
                known = 1;
                break;
            }
            d = distance(name, allowed[k]);
            if (d < best) {
                best = d;
                hint = allowed[k];
            }
        }
        if (known)
            continue;
        if (hint != NULL)
            return fail(L, m, NULL, "unknown setting '%s' %s (did you mean '%s'?)", name, where,
                        hint);
        return fail(L, m, NULL, "unknown setting '%s' %s", name, where);
    }
    return 0;
}

/* --- typed values ------------------------------------------------------ */

static int
is_int(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

static double
number(const config_setting_t *s)
{
    if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
        return config_setting_get_float(s);
    return (double)config_setting_get_int64(s);
}

static int
int_value(struct loader *L, const config_setting_t *s, const char *ctx, const char *what,
          long long lo, long long hi, long long *out)
{
    long long v;

    if (!is_int(s))
        return fail(L, s, ctx, "%s must be an integer", what);
    v = config_setting_get_int64(s);
    if (v < lo || v > hi)
        return fail(L, s, ctx, "%s %lld out of range %lld..%lld", what, v, lo, hi);
    *out = v;
    return 0;
}

/* A number in lo..hi, or (lo, hi] when lo_open; unit follows values in messages. */
static int
num_value(struct loader *L, const config_setting_t *s, const char *ctx, const char *what, double lo,
          int lo_open, double hi, const char *unit, double *out)
{
    double v;

    if (!config_setting_is_number(s))
        return fail(L, s, ctx, "%s must be a number", what);
    v = number(s);
    if (lo_open && v <= lo)
        return fail(L, s, ctx, "%s %g must be more than %g%s", what, v, lo, unit);
    if (v < lo || v > hi)
        return fail(L, s, ctx, "%s %g out of range %g..%g%s", what, v, lo, hi, unit);
    *out = v;
    return 0;
}

/* Seconds (int or float) -> ms, rounded; 0 allowed unless positive. */
static int
time_value(struct loader *L, const config_setting_t *s, const char *ctx, const char *what,
           int positive, uint32_t max_ms, uint32_t *out)
{
    double v, ms;

    if (!config_setting_is_number(s))
        return fail(L, s, ctx, "%s must be a number of seconds", what);
    v = number(s);
    if (!(v >= 0))
        return fail(L, s, ctx, "%s %g must not be negative", what, v);
    ms = v * 1000.0 + 0.5;
    if (ms >= (double)max_ms + 1.0)
        return fail(L, s, ctx, "%s %g out of range 0..%g s", what, v, max_ms / 1000.0);
    if (positive && (uint32_t)ms == 0)
        return fail(L, s, ctx, "%s %g must be more than 0 s", what, v);
    *out = (uint32_t)ms;
    return 0;
}

static int
bool_value(struct loader *L, const config_setting_t *s, const char *ctx, const char *what, int *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail(L, s, ctx, "%s must be true or false", what);
    *out = config_setting_get_bool(s) ? 1 : 0;
    return 0;
}

static int
str_value(struct loader *L, const config_setting_t *s, const char *ctx, const char *what,
          const char **out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(L, s, ctx, "%s must be a string", what);
    *out = config_setting_get_string(s);
    if (**out == '\0')
        return fail(L, s, ctx, "%s must not be empty", what);
    return 0;
}

/* The optional member key of group: 0 absent, 1 read into *out, -1 error. */
static int
opt_int(struct loader *L, const config_setting_t *group, const char *key, const char *ctx,
        long long lo, long long hi, long long *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    return int_value(L, s, ctx, key, lo, hi, out) < 0 ? -1 : 1;
}

static int
opt_num(struct loader *L, const config_setting_t *group, const char *key, const char *ctx,
        double lo, int lo_open, double hi, const char *unit, double *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    return num_value(L, s, ctx, key, lo, lo_open, hi, unit, out) < 0 ? -1 : 1;
}

static int
opt_time(struct loader *L, const config_setting_t *group, const char *key, const char *ctx,
         int positive, uint32_t max_ms, uint32_t *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    return time_value(L, s, ctx, key, positive, max_ms, out) < 0 ? -1 : 1;
}

static int
opt_bool(struct loader *L, const config_setting_t *group, const char *key, const char *ctx,
         int *out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    return bool_value(L, s, ctx, key, out) < 0 ? -1 : 1;
}

static int
opt_str(struct loader *L, const config_setting_t *group, const char *key, const char *ctx,
        const char **out)
{
    const config_setting_t *s = config_setting_get_member(group, key);

    if (s == NULL)
        return 0;
    return str_value(L, s, ctx, key, out) < 0 ? -1 : 1;
}

/* A required string member; missing is reported at the group's line. */
static int
req_str(struct loader *L, const config_setting_t *group, const char *key, const char *ctx,
        const char **out)
{
    int r = opt_str(L, group, key, ctx, out);

    if (r == 0)
        return fail(L, group, ctx, "missing '%s'", key);
    return r < 0 ? -1 : 0;
}

static int
dup_str(struct loader *L, const char *s, char **out)
{
    *out = strdup(s);
    return *out == NULL ? oom(L) : 0;
}

/* Like calloc, but never NULL for n == 0 so that NULL always means out of memory. */
static void *
alloc_array(size_t n, size_t size)
{
    return calloc(n > 0 ? n : 1, size);
}

/* --- names ------------------------------------------------------------- */

static int
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* Skill and tier names are also setting names in the file (skills = { sales = 3; }),
 * so they follow libconfig's rule: a letter, then letters, digits, '_' or '-'. */
static int
check_key_name(struct loader *L, const config_setting_t *s, const char *ctx, const char *what,
               const char *name)
{
    if (strlen(name) >= RQ_MAX_NAME_LEN)
        return fail(L, s, ctx, "%s '%s' is too long (at most %d characters)", what, name,
                    RQ_MAX_NAME_LEN - 1);
    if (!is_alpha(name[0]))
        goto bad;
    for (const char *p = name + 1; *p; p++) {
        if (!is_alnum(*p) && *p != '_' && *p != '-')
            goto bad;
    }
    return 0;
bad:
    return fail(L, s, ctx, "%s '%s' is not valid: use a letter, then letters, digits, '_' or '-'",
                what, name);
}

/* Queue names, agent ids and client names: letters, digits, '_', '-', '.', '@'. */
static int
check_id(struct loader *L, const config_setting_t *s, const char *ctx, const char *what,
         const char *id)
{
    if (strlen(id) >= RQ_MAX_ID_LEN)
        return fail(L, s, ctx, "%s '%s' is too long (at most %d characters)", what, id,
                    RQ_MAX_ID_LEN - 1);
    for (const char *p = id; *p; p++) {
        if (!is_alnum(*p) && strchr("_-.@", *p) == NULL)
            return fail(L, s, ctx,
                        "%s '%s' is not valid: use letters, digits, '_', '-', '.' or '@'", what,
                        id);
    }
    return 0;
}

/* Language tags such as "en" or "pt-BR". */
static int
check_lang(struct loader *L, const config_setting_t *s, const char *ctx, const char *lang)
{
    if (strlen(lang) >= RQ_MAX_NAME_LEN)
        return fail(L, s, ctx, "language '%s' is too long (at most %d characters)", lang,
                    RQ_MAX_NAME_LEN - 1);
    for (const char *p = lang; *p; p++) {
        if (!is_alnum(*p) && *p != '-' && *p != '_')
            return fail(L, s, ctx,
                        "language '%s' is not valid: use a tag such as \"en\" or "
                        "\"pt-BR\"",
                        lang);
    }
    return 0;
}

static int
cmp_ref(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

/* Sort ix and report the first duplicate in file order ("tier 'x' is defined twice"). */
static int
index_sort(struct loader *L, struct name_index *ix, const char *what)
{
    const struct name_ref *dup = NULL, *first = NULL;

    qsort(ix->refs, (size_t)ix->n, sizeof(ix->refs[0]), cmp_ref);
    for (int i = 1; i < ix->n; i++) {
        if (strcmp(ix->refs[i - 1].name, ix->refs[i].name) != 0)
            continue;
        if (dup == NULL || ix->refs[i].index < dup->index) {
            int j = i - 1;

            while (j > 0 && strcmp(ix->refs[j - 1].name, ix->refs[i].name) == 0)
                j--;
            dup = &ix->refs[i];
            first = &ix->refs[j];
        }
    }
    if (dup != NULL)
        return fail(L, dup->src, NULL, "%s '%s' is defined twice (first at line %u)", what,
                    dup->name, (unsigned)config_setting_source_line(first->src));
    return 0;
}

static int
index_find(const struct name_index *ix, const char *name)
{
    int lo = 0, hi = ix->n - 1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ix->refs[mid].name);

        if (c == 0)
            return ix->refs[mid].index;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* The list section key of the root, or NULL; it must be ( { ... }, ... ). */
static int
get_list(struct loader *L, const char *key, const config_setting_t **out)
{
    const config_setting_t *s = config_setting_get_member(config_root_setting(&L->cfg), key);

    *out = s;
    if (s == NULL)
        return 0;
    if (!config_setting_is_list(s))
        return fail(L, s, NULL, "%s must be a list of groups: %s = ( { ... }, { ... } );", key,
                    key);
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

        if (!config_setting_is_group(e))
            return fail(L, e, NULL, "%s: element %d must be a group { ... }", key, i + 1);
    }
    return 0;
}

/* A list or array of strings (languages, overflow queues, skill names). */
static int
check_str_list(struct loader *L, const config_setting_t *s, const char *ctx, const char *what,
               const char *example)
{
    if (!config_setting_is_array(s) && !config_setting_is_list(s))
        return fail(L, s, ctx, "%s must be a list of strings, e.g. %s = %s", what, what, example);
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v;

        if (str_value(L, e, ctx, what, &v) < 0)
            return -1;
    }
    return 0;
}

/* Name an item of a list for messages ("queue 'sales'", or "queue #3" while it has no
 * usable name) and reject its unknown settings. */
static int
begin_item(struct loader *L, const config_setting_t *g, const char *const *keys,
           const char *name_key, const char *kind, int i, char ctx[CTX_LEN])
{
    const config_setting_t *n = config_setting_get_member(g, name_key);
    char where[CTX_LEN + 8];

    if (n != NULL && config_setting_type(n) == CONFIG_TYPE_STRING &&
        *config_setting_get_string(n) != '\0' &&
        strlen(config_setting_get_string(n)) < RQ_MAX_ID_LEN)
        snprintf(ctx, CTX_LEN, "%s '%s'", kind, config_setting_get_string(n));
    else
        snprintf(ctx, CTX_LEN, "%s #%d", kind, i + 1);
    snprintf(where, sizeof(where), "in %s", ctx);
    return check_keys(L, g, keys, where);
}

/* --- sections ---------------------------------------------------------- */

static int
load_globals(struct loader *L)
{
    const config_setting_t *root = config_root_setting(&L->cfg);
    struct rq_conf *c = L->conf;
    const config_setting_t *s;
    const char *level = "info";
    long long v;
    int r;

    if (opt_str(L, root, "log_level", NULL, &level) < 0)
        return -1;
    s = config_setting_get_member(root, "log_level");
    if (s != NULL) {
        enum rq_loglevel lv;

        if (rq_log_level_parse(level, &lv) < 0)
            return fail(L, s, NULL,
                        "unknown log_level '%s' (error, warning, notice, info or debug)", level);
    }
    if (dup_str(L, level, &c->log_level) < 0)
        return -1;

    s = config_setting_get_member(root, "random_seed");
    if (s != NULL) {
        if (!is_int(s))
            return fail(L, s, NULL, "random_seed must be an integer");
        if (config_setting_get_int64(s) < 0)
            return fail(L, s, NULL, "random_seed %lld must not be negative",
                        config_setting_get_int64(s));
        c->random_seed = (uint64_t)config_setting_get_int64(s);
    }

    c->max_contacts = 1000000;
    r = opt_int(L, root, "max_contacts", NULL, 1, MAX_CONTACTS_LIMIT, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        c->max_contacts = (size_t)v;
    /* 0: stop at once (the state is in Redis); at most an hour */
    if (opt_time(L, root, "drain_timeout_s", NULL, 0, 3600u * 1000u, &c->drain_timeout_ms) < 0)
        return -1;
    return 0;
}

static int
load_listen(struct loader *L)
{
    const config_setting_t *g = config_setting_get_member(config_root_setting(&L->cfg), "listen");
    struct rq_conf_listener *ln = &L->conf->listen;
    const char *host = NULL, *unix_path = NULL;
    const config_setting_t *port;
    long long v;
    int r;

    L->conf->max_line_bytes = RQ_DEFAULT_MAX_LINE;
    L->conf->max_clients = RQ_DEFAULT_MAX_CLIENTS;
    if (g == NULL) {
        /* No section: the documented defaults (DESIGN section 5). */
        ln->port = 7340;
        if (dup_str(L, "127.0.0.1", &ln->host) < 0 ||
            dup_str(L, "/run/ringq/ringqd.sock", &ln->unix_path) < 0)
            return -1;
        return 0;
    }
    if (!config_setting_is_group(g))
        return fail(L, g, NULL, "listen must be a group: listen = { host = ...; port = ...; };");
    if (check_keys(L, g, listen_keys, "in listen") < 0)
        return -1;
    if (opt_str(L, g, "host", "listen", &host) < 0 ||
        opt_str(L, g, "unix", "listen", &unix_path) < 0)
        return -1;
    port = config_setting_get_member(g, "port");
    if (port != NULL) {
        if (int_value(L, port, "listen", "port", 1, 65535, &v) < 0)
            return -1;
        if (host == NULL)
            return fail(L, port, "listen",
                        "port is set but host is not (omit both to disable TCP)");
        ln->port = (int)v;
    } else if (host != NULL) {
        ln->port = 7340;
    }
    if (host == NULL && unix_path == NULL)
        return fail(L, g, "listen", "no listener: set host and port, or unix, or both");
    if (unix_path != NULL && strlen(unix_path) >= SUN_PATH_LEN)
        return fail(L, config_setting_get_member(g, "unix"), "listen",
                    "unix path is too long (at most %zu bytes)", SUN_PATH_LEN - 1);
    if (host != NULL && dup_str(L, host, &ln->host) < 0)
        return -1;
    if (unix_path != NULL && dup_str(L, unix_path, &ln->unix_path) < 0)
        return -1;

    r = opt_int(L, g, "max_line_bytes", "listen", RQ_MIN_MAX_LINE, RQ_MAX_MAX_LINE, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        L->conf->max_line_bytes = (size_t)v;
    r = opt_int(L, g, "max_clients", "listen", 1, MAX_CLIENTS_LIMIT, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        L->conf->max_clients = (int)v;
    return 0;
}

static int
load_redis(struct loader *L)
{
    const config_setting_t *g = config_setting_get_member(config_root_setting(&L->cfg), "redis");
    struct rq_conf_redis *rc = &L->conf->redis;
    const char *host = NULL, *unix_path = NULL, *user = NULL, *password = NULL;
    const char *prefix = "ringq:";
    long long v;
    int r;

    rc->port = 6379;
    rc->connect_timeout_ms = 2000;
    rc->command_timeout_ms = 5000;
    rc->journal_max = 100000;
    rc->max_pending = 100000;
    rc->max_held_bytes = 16u * 1024u * 1024u;
    rc->events_maxlen = 100000;
    rc->wait_at_start = 1;
    if (g == NULL) /* no section: live state stays in memory only */
        return dup_str(L, prefix, &rc->prefix);
    if (!config_setting_is_group(g))
        return fail(L, g, NULL, "redis must be a group: redis = { host = ...; port = ...; };");
    if (check_keys(L, g, redis_keys, "in redis") < 0)
        return -1;
    rc->enabled = 1;
    if (opt_bool(L, g, "enabled", "redis", &rc->enabled) < 0 ||
        opt_str(L, g, "host", "redis", &host) < 0 ||
        opt_str(L, g, "unix", "redis", &unix_path) < 0 ||
        opt_str(L, g, "user", "redis", &user) < 0 ||
        opt_str(L, g, "password", "redis", &password) < 0 ||
        opt_str(L, g, "prefix", "redis", &prefix) < 0 ||
        opt_bool(L, g, "wait_at_start", "redis", &rc->wait_at_start) < 0 ||
        opt_time(L, g, "connect_timeout_s", "redis", 1, 60000, &rc->connect_timeout_ms) < 0 ||
        opt_time(L, g, "command_timeout_s", "redis", 1, 600000, &rc->command_timeout_ms) < 0)
        return -1;
    if ((r = opt_int(L, g, "port", "redis", 1, 65535, &v)) < 0)
        return -1;
    if (r > 0)
        rc->port = (int)v;
    if ((r = opt_int(L, g, "db", "redis", 0, 1000, &v)) < 0)
        return -1;
    if (r > 0)
        rc->db = (int)v;
    if ((r = opt_int(L, g, "journal_max", "redis", 100, 100000000, &v)) < 0)
        return -1;
    if (r > 0)
        rc->journal_max = (size_t)v;
    if ((r = opt_int(L, g, "max_pending", "redis", 100, 100000000, &v)) < 0)
        return -1;
    if (r > 0)
        rc->max_pending = (size_t)v;
    if ((r = opt_int(L, g, "max_held_bytes", "redis", 65536, 4294967296LL, &v)) < 0)
        return -1;
    if (r > 0)
        rc->max_held_bytes = (size_t)v;
    if ((r = opt_int(L, g, "events_maxlen", "redis", 0, 100000000, &v)) < 0)
        return -1;
    if (r > 0)
        rc->events_maxlen = (size_t)v;
    if (host != NULL && unix_path != NULL)
        return fail(L, config_setting_get_member(g, "unix"), "redis",
                    "set host/port or unix, not both");
    if (user != NULL && password == NULL)
        return fail(L, config_setting_get_member(g, "user"), "redis",
                    "user needs a password (AUTH user password)");
    if (prefix[0] == '\0' || strlen(prefix) > RQ_MAX_NAME_LEN)
        return fail(L, config_setting_get_member(g, "prefix"), "redis",
                    "prefix must be 1..%d bytes", RQ_MAX_NAME_LEN);
    if (dup_str(L, prefix, &rc->prefix) < 0 ||
        (unix_path == NULL && dup_str(L, host != NULL ? host : "127.0.0.1", &rc->host) < 0) ||
        (unix_path != NULL && dup_str(L, unix_path, &rc->unix_path) < 0) ||
        (user != NULL && dup_str(L, user, &rc->user) < 0) ||
        (password != NULL && dup_str(L, password, &rc->password) < 0))
        return -1;
    return 0;
}

/* plugins = [ "strategy_least_skilled.so", ... ]: shared objects loaded
 * before the queues, so queues can name the strategies they provide.
 * Relative paths are relative to the configuration file's directory. */
static int
load_plugins(struct loader *L)
{
    const config_setting_t *g = config_setting_get_member(config_root_setting(&L->cfg), "plugins");
    int n;

    if (g == NULL)
        return 0;
    if (!config_setting_is_array(g) && !config_setting_is_list(g))
        return fail(L, g, NULL, "plugins must be a list of paths: plugins = [ \"x.so\" ];");
    n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
        const char *path = config_setting_get_string(e);
        char full[4096], perr[RQ_ERR_LEN + 512];
        if (path == NULL || path[0] == '\0')
            return fail(L, e, "plugins", "each entry must be a path (a string)");
        if (path[0] == '/') {
            snprintf(full, sizeof(full), "%s", path);
        } else {
            const char *slash = strrchr(L->path, '/');
            int dirlen = slash != NULL ? (int)(slash - L->path) : 1;
            snprintf(full, sizeof(full), "%.*s/%s", dirlen, slash != NULL ? L->path : ".", path);
        }
        if (rq_plugin_load(full, perr, sizeof(perr)) != 0)
            return fail(L, e, "plugins", "%s", perr);
    }
    return 0;
}

/* http.tokens = ( { token; role; name; } ): unique names, unique secrets. */
static int
load_http_tokens(struct loader *L, const config_setting_t *list)
{
    struct rq_conf_http *h = &L->conf->http;
    struct name_index names = {NULL, 0};
    int n, rc = -1;

    if (!config_setting_is_list(list))
        return fail(L, list, "http",
                    "tokens must be a list of groups: tokens = ( { token = ...; role = ...; "
                    "name = ...; } );");
    n = config_setting_length(list);
    h->tokens = alloc_array((size_t)n, sizeof(h->tokens[0]));
    names.refs = alloc_array((size_t)n, sizeof(names.refs[0]));
    if (h->tokens == NULL || names.refs == NULL) {
        oom(L);
        goto done;
    }
    h->n_tokens = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct rq_conf_http_token *t = &h->tokens[i];
        const char *name, *token, *role;
        char ctx[CTX_LEN];
        int r;

        if (!config_setting_is_group(g)) {
            fail(L, g, "http", "tokens: element %d must be a group { ... }", i + 1);
            goto done;
        }
        if (begin_item(L, g, http_token_keys, "name", "http token", i, ctx) < 0 ||
            req_str(L, g, "name", ctx, &name) < 0 ||
            check_id(L, config_setting_get_member(g, "name"), ctx, "name", name) < 0 ||
            dup_str(L, name, &t->name) < 0)
            goto done;
        t->line = config_setting_source_line(g);
        names.refs[i] = (struct name_ref){t->name, i, g};
        names.n = i + 1;
        if (req_str(L, g, "token", ctx, &token) < 0)
            goto done;
        if (strlen(token) > MAX_TOKEN_LEN) {
            fail(L, config_setting_get_member(g, "token"), ctx,
                 "token is too long (at most %d bytes)", MAX_TOKEN_LEN);
            goto done;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(h->tokens[j].token, token) == 0) {
                fail(L, config_setting_get_member(g, "token"), ctx,
                     "the same token as http token '%s' (line %d): give each its own",
                     h->tokens[j].name, h->tokens[j].line);
                goto done;
            }
        }
        if (dup_str(L, token, &t->token) < 0 || req_str(L, g, "role", ctx, &role) < 0)
            goto done;
        r = name_lookup(http_role_names,
                        (int)(sizeof(http_role_names) / sizeof(http_role_names[0])), role);
        if (r < 0) {
            fail(L, config_setting_get_member(g, "role"), ctx,
                 "unknown role '%s' (wallboard, supervisor or admin)", role);
            goto done;
        }
        t->role = (enum rq_http_role)(RQ_HTTP_ROLE_WALLBOARD + r);
    }
    rc = index_sort(L, &names, "http token");
done:
    free(names.refs);
    return rc;
}

/* http = { host; port; wallboard; tokens; cors_origin; metrics_token_required; }.
 * No section: no HTTP listener. */
static int
load_http(struct loader *L)
{
    const config_setting_t *g = config_setting_get_member(config_root_setting(&L->cfg), "http");
    struct rq_conf_http *h = &L->conf->http;
    const char *host = "127.0.0.1", *wallboard = RINGQ_WALLBOARD_PATH, *cors = NULL;
    const config_setting_t *tokens;
    long long v;
    int r;

    h->port = 7341;
    if (g == NULL)
        return 0;
    if (!config_setting_is_group(g))
        return fail(L, g, NULL, "http must be a group: http = { host = ...; port = ...; };");
    if (check_keys(L, g, http_keys, "in http") < 0)
        return -1;
    h->enabled = 1;
    if (opt_bool(L, g, "enabled", "http", &h->enabled) < 0 ||
        opt_str(L, g, "host", "http", &host) < 0 ||
        opt_str(L, g, "wallboard", "http", &wallboard) < 0 ||
        opt_str(L, g, "cors_origin", "http", &cors) < 0 ||
        opt_bool(L, g, "metrics_token_required", "http", &h->metrics_token_required) < 0)
        return -1;
    if ((r = opt_int(L, g, "port", "http", 1, 65535, &v)) < 0)
        return -1;
    if (r > 0)
        h->port = (int)v;
    if (cors != NULL && strpbrk(cors, "\r\n") != NULL)
        return fail(L, config_setting_get_member(g, "cors_origin"), "http",
                    "cors_origin must be one line, e.g. \"https://wall.example.com\"");
    if (dup_str(L, host, &h->host) < 0 || dup_str(L, wallboard, &h->wallboard) < 0 ||
        (cors != NULL && dup_str(L, cors, &h->cors_origin) < 0))
        return -1;
    tokens = config_setting_get_member(g, "tokens");
    if (tokens != NULL && load_http_tokens(L, tokens) < 0)
        return -1;
    return 0;
}

static int
load_skills(struct loader *L)
{
    const config_setting_t *s = config_setting_get_member(config_root_setting(&L->cfg), "skills");
    struct rq_conf *c = L->conf;
    int n;

    if (s == NULL)
        return 0;
    if (check_str_list(L, s, NULL, "skills", "[ \"sales\", \"support\" ]") < 0)
        return -1;
    n = config_setting_length(s);
    if (n > RQ_MAX_SKILLS)
        return fail(L, s, NULL, "%d skills, at most %d", n, RQ_MAX_SKILLS);
    c->skills = alloc_array((size_t)n, sizeof(c->skills[0]));
    L->skills.refs = alloc_array((size_t)n, sizeof(L->skills.refs[0]));
    if (c->skills == NULL || L->skills.refs == NULL)
        return oom(L);
    c->n_skills = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_get_string(e);

        if (check_key_name(L, e, NULL, "skill name", name) < 0 ||
            dup_str(L, name, &c->skills[i].name) < 0)
            return -1;
        L->skills.refs[i] = (struct name_ref){c->skills[i].name, i, e};
    }
    L->skills.n = n;
    return index_sort(L, &L->skills, "skill");
}

static int
load_tiers(struct loader *L)
{
    const config_setting_t *root = config_root_setting(&L->cfg);
    const config_setting_t *list, *def;
    struct rq_conf *c = L->conf;
    const char *name;
    int n;

    if (get_list(L, "tiers", &list) < 0)
        return -1;
    if (list == NULL)
        return fail(L, NULL, NULL,
                    "no tiers defined: add tiers = ( { name = \"standard\"; } ); at least");
    n = config_setting_length(list);
    if (n == 0)
        return fail(L, list, NULL, "tiers is empty: define at least one tier");
    c->tiers = alloc_array((size_t)n, sizeof(c->tiers[0]));
    L->tiers.refs = alloc_array((size_t)n, sizeof(L->tiers.refs[0]));
    if (c->tiers == NULL || L->tiers.refs == NULL)
        return oom(L);
    c->n_tiers = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct rq_conf_tier *t = &c->tiers[i];
        char ctx[CTX_LEN];
        double f;
        int r;

        if (begin_item(L, g, tier_keys, "name", "tier", i, ctx) < 0 ||
            req_str(L, g, "name", ctx, &name) < 0)
            return -1;
        if (check_key_name(L, config_setting_get_member(g, "name"), ctx, "tier name", name) < 0 ||
            dup_str(L, name, &t->name) < 0)
            return -1;
        t->rank = i;
        t->line = config_setting_source_line(g);
        t->sla_factor = 1.0;
        t->max_wait_ms = 600u * 1000u;
        r = opt_num(L, g, "sla_factor", ctx, 0, 1, MAX_SLA_FACTOR, "", &f);
        if (r < 0)
            return -1;
        if (r > 0)
            t->sla_factor = f;
        if (opt_bool(L, g, "emergency", ctx, &t->emergency) < 0 ||
            opt_time(L, g, "max_wait_s", ctx, 1, RQ_MAX_TARGET_MS, &t->max_wait_ms) < 0)
            return -1;
        L->tiers.refs[i] = (struct name_ref){t->name, i, g};
    }
    L->tiers.n = n;
    if (index_sort(L, &L->tiers, "tier") < 0)
        return -1;

    def = config_setting_get_member(root, "default_tier");
    if (def != NULL) {
        if (str_value(L, def, NULL, "default_tier", &name) < 0)
            return -1;
        c->default_tier = index_find(&L->tiers, name);
        if (c->default_tier < 0)
            return fail(L, def, NULL, "default_tier '%s' is not defined in tiers", name);
    } else {
        c->default_tier = index_find(&L->tiers, "standard");
        if (c->default_tier < 0)
            c->default_tier = n - 1;
    }
    return 0;
}

static int
load_queue_names(struct loader *L, const config_setting_t **listp)
{
    const config_setting_t *list;
    struct rq_conf *c = L->conf;
    int n;

    if (get_list(L, "queues", &list) < 0)
        return -1;
    *listp = list;
    if (list == NULL)
        return fail(L, NULL, NULL, "no queues defined: add queues = ( { name = \"sales\"; } );");
    n = config_setting_length(list);
    if (n == 0)
        return fail(L, list, NULL, "queues is empty: define at least one queue");
    c->queues = alloc_array((size_t)n, sizeof(c->queues[0]));
    L->queues.refs = alloc_array((size_t)n, sizeof(L->queues.refs[0]));
    if (c->queues == NULL || L->queues.refs == NULL)
        return oom(L);
    c->n_queues = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct rq_conf_queue *q = &c->queues[i];
        char ctx[CTX_LEN];
        const char *name;

        if (begin_item(L, g, queue_keys, "name", "queue", i, ctx) < 0 ||
            req_str(L, g, "name", ctx, &name) < 0 ||
            check_id(L, config_setting_get_member(g, "name"), ctx, "queue name", name) < 0 ||
            dup_str(L, name, &q->name) < 0)
            return -1;
        q->line = config_setting_source_line(g);
        L->queues.refs[i] = (struct name_ref){q->name, i, g};
    }
    L->queues.n = n;
    return index_sort(L, &L->queues, "queue");
}

/* skills = { name = level; ... } of a queue (requirements) or an agent (proficiency). */
static int
load_skillrefs(struct loader *L, const config_setting_t *g, const char *ctx,
               struct rq_conf_skillref *out, int max, int *n_out)
{
    const config_setting_t *s = config_setting_get_member(g, "skills");
    int n;

    *n_out = 0;
    if (s == NULL)
        return 0;
    if (!config_setting_is_group(s))
        return fail(L, s, ctx,
                    "skills must be a group of name = level, e.g. skills = { sales = 3; }");
    n = config_setting_length(s);
    if (n > max)
        return fail(L, s, ctx, "%d skills, at most %d", n, max);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(e);
        int idx = index_find(&L->skills, name);

        if (idx < 0)
            return fail(L, e, ctx, "skill '%s' is not defined in skills", name);
        if (!is_int(e))
            return fail(L, e, ctx, "skill '%s': level must be an integer 1..%d", name,
                        RQ_MAX_LEVEL);
        if (config_setting_get_int64(e) < 1 || config_setting_get_int64(e) > RQ_MAX_LEVEL)
            return fail(L, e, ctx, "skill '%s' level %lld out of range 1..%d", name,
                        config_setting_get_int64(e), RQ_MAX_LEVEL);
        out[i].skill = (int16_t)idx; /* idx < n_skills <= RQ_MAX_SKILLS */
        out[i].level = (int16_t)config_setting_get_int64(e);
    }
    *n_out = n;
    return 0;
}

static int
load_cadence(struct loader *L, const config_setting_t *g, const char *ctx, struct rq_conf_queue *q)
{
    const config_setting_t *cad = config_setting_get_member(g, "ring_cadence");
    const config_setting_t *on = config_setting_get_member(g, "ring_on_s");
    const config_setting_t *off = config_setting_get_member(g, "ring_off_s");
    const char *name;

    q->ring_on_ms = cadences[0].on_ms;
    q->ring_off_ms = cadences[0].off_ms;
    if (cad != NULL && (on != NULL || off != NULL))
        return fail(L, on != NULL ? on : off, ctx,
                    "ring_cadence and ring_on_s/ring_off_s exclude each other: give one or the "
                    "other");
    if (cad != NULL) {
        if (str_value(L, cad, ctx, "ring_cadence", &name) < 0)
            return -1;
        for (size_t i = 0; i < sizeof(cadences) / sizeof(cadences[0]); i++) {
            if (strcmp(name, cadences[i].name) == 0) {
                q->ring_on_ms = cadences[i].on_ms;
                q->ring_off_ms = cadences[i].off_ms;
                return 0;
            }
        }
        return fail(L, cad, ctx,
                    "unknown ring_cadence '%s' (china, europe, north_america or uk; or give "
                    "ring_on_s and ring_off_s)",
                    name);
    }
    if (on == NULL && off == NULL)
        return 0;
    if (on == NULL || off == NULL)
        return fail(L, on != NULL ? on : off, ctx,
                    "ring_on_s and ring_off_s go together: give both");
    if (time_value(L, on, ctx, "ring_on_s", 1, MAX_RING_PHASE_MS, &q->ring_on_ms) < 0 ||
        time_value(L, off, ctx, "ring_off_s", 0, MAX_RING_PHASE_MS, &q->ring_off_ms) < 0)
        return -1;
    return 0;
}

/* max_wait_s = { tier = seconds; ... }: per-tier overrides of the tiers' max_wait_s. */
static int
load_max_wait(struct loader *L, const config_setting_t *g, const char *ctx, struct rq_conf_queue *q)
{
    const config_setting_t *s = config_setting_get_member(g, "max_wait_s");
    struct rq_conf *c = L->conf;

    q->max_wait_ms = alloc_array((size_t)c->n_tiers, sizeof(q->max_wait_ms[0]));
    if (q->max_wait_ms == NULL)
        return oom(L);
    for (int i = 0; i < c->n_tiers; i++)
        q->max_wait_ms[i] = c->tiers[i].max_wait_ms;
    if (s == NULL)
        return 0;
    if (!config_setting_is_group(s))
        return fail(L, s, ctx,
                    "max_wait_s must be a group of tier = seconds, e.g. max_wait_s = { prospect "
                    "= 600; }");
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *tier = config_setting_name(e);
        int t = index_find(&L->tiers, tier);
        char what[RQ_MAX_NAME_LEN + 16];

        if (t < 0)
            return fail(L, e, ctx, "max_wait_s: tier '%s' is not defined in tiers", tier);
        snprintf(what, sizeof(what), "max_wait_s.%s", tier);
        if (time_value(L, e, ctx, what, 1, RQ_MAX_TARGET_MS, &q->max_wait_ms[t]) < 0)
            return -1;
    }
    return 0;
}

static int
load_step(struct loader *L, const config_setting_t *g, const char *qctx, int qi, int si,
          struct rq_conf_step *st)
{
    const config_setting_t *at = config_setting_get_member(g, "at_percent");
    const config_setting_t *after = config_setting_get_member(g, "after_s");
    const config_setting_t *ov = config_setting_get_member(g, "overflow");
    char ctx[CTX_LEN + 24];
    char where[CTX_LEN + 32];
    long long v;
    int r;

    snprintf(ctx, sizeof(ctx), "%s: escalation step %d", qctx, si + 1);
    snprintf(where, sizeof(where), "in %s", ctx);
    if (check_keys(L, g, step_keys, where) < 0)
        return -1;
    st->line = config_setting_source_line(g);
    st->at_percent = -1;
    if (at == NULL && after == NULL)
        return fail(L, g, ctx, "give at_percent or after_s (when the step comes due)");
    if (at != NULL && after != NULL)
        return fail(L, after, ctx, "give at_percent or after_s, not both");
    if (at != NULL) {
        if (int_value(L, at, ctx, "at_percent", 0, MAX_AT_PERCENT, &v) < 0)
            return -1;
        st->at_percent = (int)v;
    } else if (time_value(L, after, ctx, "after_s", 0, RQ_MAX_TARGET_MS, &st->after_ms) < 0) {
        return -1;
    }

    r = opt_int(L, g, "relax_levels", ctx, 0, RQ_MAX_LEVEL - 1, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        st->relax_levels = (int)v;
    if (opt_bool(L, g, "relax_language", ctx, &st->relax_language) < 0)
        return -1;
    r = opt_int(L, g, "raise_priority", ctx, 0, RQ_MAX_PRIORITY, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        st->raise_priority = (int)v;

    if (ov != NULL) {
        int n;

        if (check_str_list(L, ov, ctx, "overflow", "[ \"support\" ]") < 0)
            return -1;
        n = config_setting_length(ov);
        if (n > RQ_MAX_STEP_QUEUES)
            return fail(L, ov, ctx, "overflow lists %d queues, at most %d", n, RQ_MAX_STEP_QUEUES);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(ov, (unsigned)i);
            const char *name = config_setting_get_string(e);
            int q = index_find(&L->queues, name);

            if (q < 0)
                return fail(L, e, ctx, "overflow queue '%s' is not defined in queues", name);
            if (q == qi)
                return fail(L, e, ctx, "overflow to the queue itself ('%s')", name);
            for (int j = 0; j < st->n_add_queues; j++) {
                if (st->add_queues[j] == q)
                    return fail(L, e, ctx, "overflow names queue '%s' twice", name);
            }
            st->add_queues[st->n_add_queues++] = q;
        }
    }
    if (st->relax_levels == 0 && !st->relax_language && st->n_add_queues == 0 &&
        st->raise_priority == 0)
        return fail(L, g, ctx,
                    "the step does nothing: give relax_levels, relax_language, overflow or "
                    "raise_priority");
    return 0;
}

static int
load_steps(struct loader *L, const config_setting_t *g, const char *ctx, int qi,
           struct rq_conf_queue *q)
{
    const config_setting_t *s = config_setting_get_member(g, "escalation");
    const struct rq_conf_step *last_at = NULL, *last_after = NULL;
    int n;

    if (s == NULL)
        return 0;
    if (!config_setting_is_list(s))
        return fail(L, s, ctx, "escalation must be a list of steps: escalation = ( { ... } );");
    n = config_setting_length(s);
    if (n > RQ_MAX_STEPS)
        return fail(L, s, ctx, "escalation has %d steps, at most %d", n, RQ_MAX_STEPS);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct rq_conf_step *st = &q->steps[i];

        if (!config_setting_is_group(e))
            return fail(L, e, ctx, "escalation step %d must be a group { ... }", i + 1);
        if (load_step(L, e, ctx, qi, i, st) < 0)
            return -1;
        q->n_steps = i + 1;
        /* Steps of one kind must come due in the order they are listed. */
        if (st->at_percent >= 0) {
            if (last_at != NULL && st->at_percent < last_at->at_percent)
                return fail(L, e, ctx,
                            "escalation step %d (at %d%%) comes before step at %d%% on line %d: "
                            "list steps in the order they come due",
                            i + 1, st->at_percent, last_at->at_percent, last_at->line);
            last_at = st;
        } else {
            if (last_after != NULL && st->after_ms < last_after->after_ms)
                return fail(L, e, ctx,
                            "escalation step %d (after %g s) comes before step after %g s on "
                            "line %d: list steps in the order they come due",
                            i + 1, st->after_ms / 1000.0, last_after->after_ms / 1000.0,
                            last_after->line);
            last_after = st;
        }
    }
    return 0;
}

static int
load_queue(struct loader *L, const config_setting_t *g, int qi)
{
    struct rq_conf_queue *q = &L->conf->queues[qi];
    const char *s;
    char ctx[CTX_LEN];
    long long v;
    double d;
    int r;

    snprintf(ctx, sizeof(ctx), "queue '%s'", q->name);

    q->answer_rings = 3;
    r = opt_int(L, g, "answer_rings", ctx, 1, MAX_RINGS, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        q->answer_rings = (uint32_t)v;
    if (load_cadence(L, g, ctx, q) < 0)
        return -1;
    q->target_ms[RQ_CH_VOICE] = q->answer_rings * (q->ring_on_ms + q->ring_off_ms);
    q->target_ms[RQ_CH_CALLBACK] = 3600u * 1000u;
    q->target_ms[RQ_CH_CHAT] = 60u * 1000u;
    q->target_ms[RQ_CH_EMAIL] = 14400u * 1000u;
    if (opt_time(L, g, "callback_target_s", ctx, 1, RQ_MAX_TARGET_MS,
                 &q->target_ms[RQ_CH_CALLBACK]) < 0 ||
        opt_time(L, g, "chat_target_s", ctx, 1, RQ_MAX_TARGET_MS, &q->target_ms[RQ_CH_CHAT]) < 0 ||
        opt_time(L, g, "email_target_s", ctx, 1, RQ_MAX_TARGET_MS, &q->target_ms[RQ_CH_EMAIL]) < 0)
        return -1;

    q->goal_percent = 80.0;
    r = opt_num(L, g, "goal_percent", ctx, 0, 1, 100, "", &d);
    if (r < 0)
        return -1;
    if (r > 0)
        q->goal_percent = d;

    q->sl_variant = RQ_SL_ABANDONS_IGNORED;
    r = opt_str(L, g, "service_level", ctx, &s);
    if (r < 0)
        return -1;
    if (r > 0 && rq_sl_variant_parse(s, &q->sl_variant) < 0)
        return fail(L, config_setting_get_member(g, "service_level"), ctx,
                    "unknown service_level '%s' (answered_only, abandons_negative, "
                    "abandons_ignored or abandons_positive)",
                    s);

    q->short_abandon_ms = 5000;
    if (opt_time(L, g, "short_abandon_s", ctx, 0, MAX_SHORT_ABANDON, &q->short_abandon_ms) < 0)
        return -1;

    s = "longest_idle";
    r = opt_str(L, g, "strategy", ctx, &s);
    if (r < 0)
        return -1;
    if (!rq_strategy_known(s))
        return fail(L, config_setting_get_member(g, "strategy"), ctx, "unknown strategy '%s'", s);
    if (dup_str(L, s, &q->strategy) < 0)
        return -1;

    q->ring_timeout_ms = 15000;
    q->wrap_up_ms = 0;
    q->preferred_wait_ms = 30000;
    q->priority_step_ms = 5000;
    q->default_aht_ms = 180000;
    if (opt_time(L, g, "ring_timeout_s", ctx, 1, RQ_MAX_RING_TIMEOUT_MS, &q->ring_timeout_ms) < 0 ||
        opt_time(L, g, "wrap_up_s", ctx, 0, MAX_WRAP_UP_MS, &q->wrap_up_ms) < 0 ||
        opt_time(L, g, "preferred_wait_s", ctx, 0, RQ_MAX_TARGET_MS, &q->preferred_wait_ms) < 0 ||
        opt_time(L, g, "priority_step_s", ctx, 0, MAX_PRIO_STEP_MS, &q->priority_step_ms) < 0 ||
        opt_time(L, g, "default_aht_s", ctx, 1, MAX_AHT_MS, &q->default_aht_ms) < 0)
        return -1;

    q->alert_percent = 80;
    r = opt_int(L, g, "alert_percent", ctx, 1, 100, &v);
    if (r < 0)
        return -1;
    if (r > 0)
        q->alert_percent = (int)v;

    if (opt_bool(L, g, "closed", ctx, &q->closed) < 0 ||
        load_skillrefs(L, g, ctx, q->skills, RQ_MAX_REQS, &q->n_skills) < 0 ||
        load_max_wait(L, g, ctx, q) < 0 || load_steps(L, g, ctx, qi, q) < 0)
        return -1;
    return 0;
}

static int
load_capacity(struct loader *L, const config_setting_t *g, const char *ctx, struct rq_conf_agent *a)
{
    const config_setting_t *s = config_setting_get_member(g, "capacity");
    char where[CTX_LEN + 16];

    for (int m = 0; m < RQ_MEDIA__COUNT; m++)
        a->capacity[m] = 1;
    if (s == NULL)
        return 0;
    if (!config_setting_is_group(s))
        return fail(
            L, s, ctx,
            "capacity must be a group, e.g. capacity = { voice = 1; chat = 3; email = 5; }");
    snprintf(where, sizeof(where), "in %s capacity", ctx);
    if (check_keys(L, s, capacity_keys, where) < 0)
        return -1;
    for (int m = 0; m < RQ_MEDIA__COUNT; m++) {
        const config_setting_t *e = config_setting_get_member(s, media_names[m]);
        char what[32];
        long long v;

        if (e == NULL)
            continue;
        snprintf(what, sizeof(what), "capacity.%s", media_names[m]);
        if (int_value(L, e, ctx, what, 0, m == RQ_MEDIA_VOICE ? 1 : RQ_MAX_CAPACITY, &v) < 0)
            return -1;
        a->capacity[m] = (int)v;
    }
    if (a->capacity[RQ_MEDIA_VOICE] + a->capacity[RQ_MEDIA_CHAT] + a->capacity[RQ_MEDIA_EMAIL] == 0)
        return fail(L, s, ctx, "capacity is 0 for every medium: the agent could take no contact");
    return 0;
}

static int
load_langs(struct loader *L, const config_setting_t *g, const char *ctx, struct rq_conf_agent *a)
{
    const config_setting_t *s = config_setting_get_member(g, "languages");
    int n;

    if (s == NULL)
        return 0;
    if (check_str_list(L, s, ctx, "languages", "[ \"en\", \"es\" ]") < 0)
        return -1;
    n = config_setting_length(s);
    if (n > RQ_MAX_AGENT_LANGS)
        return fail(L, s, ctx, "%d languages, at most %d", n, RQ_MAX_AGENT_LANGS);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *lang = config_setting_get_string(e);

        if (check_lang(L, e, ctx, lang) < 0)
            return -1;
        for (int j = 0; j < a->n_langs; j++) {
            if (strcmp(a->langs[j], lang) == 0)
                return fail(L, e, ctx, "language '%s' is listed twice", lang);
        }
        if (dup_str(L, lang, &a->langs[a->n_langs]) < 0)
            return -1;
        a->n_langs++;
    }
    return 0;
}

static int
load_personas(struct loader *L, const config_setting_t *g, const char *ctx, struct rq_conf_agent *a)
{
    const config_setting_t *s = config_setting_get_member(g, "personas");

    if (s == NULL)
        return 0;
    if (check_str_list(L, s, ctx, "personas", "[ \"analytical\", \"amiable\" ]") < 0)
        return -1;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_get_string(e);
        enum rq_persona p;

        if (rq_persona_parse(name, &p) < 0)
            return fail(L, e, ctx,
                        "unknown persona '%s' (authoritative, analytical, amiable or expressive)",
                        name);
        if (a->personas & (1u << p))
            return fail(L, e, ctx, "persona '%s' is listed twice", name);
        a->personas |= 1u << p;
    }
    return 0;
}

static int
load_agents(struct loader *L)
{
    const config_setting_t *list;
    struct rq_conf *c = L->conf;
    struct name_index ids = {NULL, 0};
    int n, rc = -1;

    if (get_list(L, "agents", &list) < 0)
        return -1;
    if (list == NULL)
        return 0;
    n = config_setting_length(list);
    c->agents = alloc_array((size_t)n, sizeof(c->agents[0]));
    ids.refs = alloc_array((size_t)n, sizeof(ids.refs[0]));
    if (c->agents == NULL || ids.refs == NULL) {
        oom(L);
        goto out;
    }
    c->n_agents = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        struct rq_conf_agent *a = &c->agents[i];
        const char *id, *name, *token;
        char ctx[CTX_LEN];
        int r;

        if (begin_item(L, g, agent_keys, "id", "agent", i, ctx) < 0 ||
            req_str(L, g, "id", ctx, &id) < 0 ||
            check_id(L, config_setting_get_member(g, "id"), ctx, "agent id", id) < 0 ||
            dup_str(L, id, &a->id) < 0)
            goto out;
        a->line = config_setting_source_line(g);
        ids.refs[i] = (struct name_ref){a->id, i, g};
        ids.n = i + 1;

        r = opt_str(L, g, "name", ctx, &name);
        if (r < 0)
            goto out;
        if (r == 0)
            name = id;
        if (strlen(name) >= MAX_DISPLAY_LEN) {
            fail(L, config_setting_get_member(g, "name"), ctx,
                 "name is too long (at most %d bytes)", MAX_DISPLAY_LEN - 1);
            goto out;
        }
        if (dup_str(L, name, &a->name) < 0)
            goto out;
        if (req_str(L, g, "token", ctx, &token) < 0)
            goto out;
        if (strlen(token) > MAX_TOKEN_LEN) {
            fail(L, config_setting_get_member(g, "token"), ctx,
                 "token is too long (at most %d bytes)", MAX_TOKEN_LEN);
            goto out;
        }
        if (dup_str(L, token, &a->token) < 0 ||
            load_skillrefs(L, g, ctx, a->skills, RQ_MAX_AGENT_SKILLS, &a->n_skills) < 0 ||
            load_capacity(L, g, ctx, a) < 0 || load_langs(L, g, ctx, a) < 0 ||
            load_personas(L, g, ctx, a) < 0)
            goto out;
    }
    rc = index_sort(L, &ids, "agent");
out:
    free(ids.refs);
    return rc;
}

/* sources = ( { name; token; } ) and monitors likewise: who may say hello in that role. */
static int
load_clients(struct loader *L, const char *key, const char *kind, struct rq_conf_client **out,
             int *n_out)
{
    const config_setting_t *list;
    struct name_index names = {NULL, 0};
    struct rq_conf_client *cl;
    int n, rc = -1;

    if (get_list(L, key, &list) < 0)
        return -1;
    if (list == NULL)
        return 0;
    n = config_setting_length(list);
    cl = alloc_array((size_t)n, sizeof(cl[0]));
    names.refs = alloc_array((size_t)n, sizeof(names.refs[0]));
    *out = cl;
    if (cl == NULL || names.refs == NULL) {
        oom(L);
        goto done;
    }
    *n_out = n;
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        const char *name, *token;
        char ctx[CTX_LEN];

        if (begin_item(L, g, strcmp(key, "monitors") == 0 ? monitor_keys : client_keys, "name",
                       kind, i, ctx) < 0 ||
            req_str(L, g, "name", ctx, &name) < 0 ||
            check_id(L, config_setting_get_member(g, "name"), ctx, "name", name) < 0 ||
            dup_str(L, name, &cl[i].name) < 0)
            goto done;
        cl[i].line = config_setting_source_line(g);
        names.refs[i] = (struct name_ref){cl[i].name, i, g};
        names.n = i + 1;
        if (req_str(L, g, "token", ctx, &token) < 0)
            goto done;
        if (strlen(token) > MAX_TOKEN_LEN) {
            fail(L, config_setting_get_member(g, "token"), ctx,
                 "token is too long (at most %d bytes)", MAX_TOKEN_LEN);
            goto done;
        }
        if (dup_str(L, token, &cl[i].token) < 0)
            goto done;
        if (strcmp(key, "monitors") == 0) {
            const char *role;
            int r = opt_str(L, g, "role", ctx, &role);
            if (r < 0)
                goto done;
            if (r > 0) {
                int ri = name_lookup(
                    monitor_role_names,
                    (int)(sizeof(monitor_role_names) / sizeof(monitor_role_names[0])), role);
                if (ri < 0) {
                    fail(L, config_setting_get_member(g, "role"), ctx,
                         "unknown role '%s' (monitor, supervisor or admin)", role);
                    goto done;
                }
                cl[i].role = (enum rq_monitor_role)ri;
            }
        }
    }
    rc = index_sort(L, &names, kind);
done:
    free(names.refs);
    return rc;
}

/* Open path ourselves: a clear message when it is missing, and a directory never
 * reaches the libconfig scanner (which aborts the process on a read error). */
static FILE *
open_conf(struct loader *L)
{
    struct stat st;
    FILE *f = fopen(L->path, "r");

    if (f == NULL) {
        fail(L, NULL, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0) {
        fail(L, NULL, NULL, "cannot open: %s", strerror(errno));
        fclose(f);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        fail(L, NULL, NULL, "cannot open: %s", strerror(EISDIR));
        fclose(f);
        return NULL;
    }
    return f;
}

/* fallback_queue = "support": where a reload moves the live contacts of a
 * queue the new file no longer has. */
static int
load_fallback_queue(struct loader *L)
{
    const config_setting_t *g =
        config_setting_get_member(config_root_setting(&L->cfg), "fallback_queue");
    const char *name;

    L->conf->fallback_queue = -1;
    if (g == NULL)
        return 0;
    if (str_value(L, g, NULL, "fallback_queue", &name) < 0)
        return -1;
    if ((L->conf->fallback_queue = index_find(&L->queues, name)) < 0)
        return fail(L, g, NULL, "fallback_queue '%s' is not defined in queues", name);
    return 0;
}

/* Keep a sorted name index in the configuration, for rq_conf_*_index. */
static int
keep_index(struct loader *L, const struct name_index *ix, struct rq_conf_name **out)
{
    struct rq_conf_name *v = alloc_array((size_t)ix->n, sizeof(*v));

    if (v == NULL)
        return oom(L);
    for (int i = 0; i < ix->n; i++)
        v[i] = (struct rq_conf_name){ix->refs[i].name, ix->refs[i].index};
    *out = v;
    return 0;
}

static int
parse(struct loader *L)
{
    const config_setting_t *queues;
    FILE *f;
    int ok;

    f = open_conf(L);
    if (f == NULL)
        return -1;
    ok = config_read(&L->cfg, f);
    fclose(f);
    if (!ok) {
        const char *file = config_error_file(&L->cfg);

        if (config_error_type(&L->cfg) == CONFIG_ERR_FILE_IO || config_error_line(&L->cfg) <= 0)
            snprintf(L->err, L->errlen, "%s: %s", file != NULL ? file : L->path,
                     config_error_text(&L->cfg));
        else
            snprintf(L->err, L->errlen, "%s:%d: %s", file != NULL ? file : L->path,
                     config_error_line(&L->cfg), config_error_text(&L->cfg));
        return -1;
    }

    L->conf = calloc(1, sizeof(*L->conf));
    if (L->conf == NULL)
        return oom(L);
    if (dup_str(L, L->path, &L->conf->path) < 0)
        return -1;
    if (check_keys(L, config_root_setting(&L->cfg), top_keys, "at the top level") < 0 ||
        load_globals(L) < 0 || load_listen(L) < 0 || load_redis(L) < 0 || load_http(L) < 0 ||
        load_plugins(L) < 0 || load_skills(L) < 0 || load_tiers(L) < 0 ||
        load_queue_names(L, &queues) < 0)
        return -1;
    for (int i = 0; i < L->conf->n_queues; i++) {
        if (load_queue(L, config_setting_get_elem(queues, (unsigned)i), i) < 0)
            return -1;
    }
    if (load_fallback_queue(L) < 0 || load_agents(L) < 0 ||
        load_clients(L, "sources", "source", &L->conf->sources, &L->conf->n_sources) < 0 ||
        load_clients(L, "monitors", "monitor", &L->conf->monitors, &L->conf->n_monitors) < 0)
        return -1;
    if (keep_index(L, &L->skills, &L->conf->skill_index) < 0 ||
        keep_index(L, &L->tiers, &L->conf->tier_index) < 0 ||
        keep_index(L, &L->queues, &L->conf->queue_index) < 0)
        return -1;
    return 0;
}

struct rq_conf *
rq_conf_load(const char *path, char *err, size_t errlen)
{
    char dummy[RQ_ERR_LEN];
    struct loader L;
    struct rq_conf *conf = NULL;

    memset(&L, 0, sizeof(L));
    L.path = path != NULL ? path : "(no file)";
    L.err = err != NULL && errlen > 0 ? err : dummy;
    L.errlen = err != NULL && errlen > 0 ? errlen : sizeof(dummy);
    L.err[0] = '\0';
    config_init(&L.cfg);
    if (parse(&L) == 0) {
        conf = L.conf;
        L.conf = NULL;
    }
    rq_conf_free(L.conf);
    free(L.skills.refs);
    free(L.tiers.refs);
    free(L.queues.refs);
    config_destroy(&L.cfg);
    return conf;
}
