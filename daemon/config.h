/*
 * config.h - the validated, immutable configuration of ringqd.
 *
 * rq_conf_load() reads a libconfig file (conf/ringqd.conf is the annotated
 * sample), checks every value and cross-reference, and returns a struct
 * rq_conf, or NULL with "file:line: what is wrong" in err. Nothing in a
 * struct rq_conf changes after loading: a reload builds a new one and swaps.
 *
 * Cross references (a queue's skills, an agent's skills, a step's overflow
 * queues) are resolved to indexes into the arrays below.
 */
#ifndef RQ_CONFIG_H
#define RQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "rq_limits.h"

/* The channel a contact arrives on. */
enum rq_channel { RQ_CH_VOICE = 0, RQ_CH_CHAT, RQ_CH_EMAIL, RQ_CH_CALLBACK, RQ_CH__COUNT };

/* What an agent spends capacity on: a callback is a voice call. */
enum rq_media { RQ_MEDIA_VOICE = 0, RQ_MEDIA_CHAT, RQ_MEDIA_EMAIL, RQ_MEDIA__COUNT };

/* Customer personas (DESIGN section 1); a bit each in masks. */
enum rq_persona {
    RQ_PERSONA_AUTHORITATIVE = 0,
    RQ_PERSONA_ANALYTICAL,
    RQ_PERSONA_AMIABLE,
    RQ_PERSONA_EXPRESSIVE,
    RQ_PERSONA__COUNT
};

/* Service-level formula a queue's wallboard shows (DESIGN section 6). */
enum rq_sl_variant {
    RQ_SL_ANSWERED_ONLY = 0, /* A_t / A */
    RQ_SL_ABANDONS_NEGATIVE, /* A_t / O */
    RQ_SL_ABANDONS_IGNORED,  /* A_t / (O - B_t) */
    RQ_SL_ABANDONS_POSITIVE, /* (A_t + B_t) / O */
};

const char *rq_channel_name(enum rq_channel ch);
int rq_channel_parse(const char *name, enum rq_channel *out);
enum rq_media rq_channel_media(enum rq_channel ch);
const char *rq_media_name(enum rq_media m);
const char *rq_persona_name(enum rq_persona p);
int rq_persona_parse(const char *name, enum rq_persona *out);
const char *rq_sl_variant_name(enum rq_sl_variant v);
int rq_sl_variant_parse(const char *name, enum rq_sl_variant *out);

/* One skill requirement or one agent skill: index into conf->skills, level 1..10.
 * Two 16-bit fields, no padding: every contact, class key and agent holds an
 * array of them, and class keys are hashed as bytes. */
struct rq_conf_skillref {
    int16_t skill; /* index into rq_conf.skills (fewer than RQ_MAX_SKILLS) */
    int16_t level; /* 1..RQ_MAX_LEVEL */
};

struct rq_conf_listener {
    char *host;      /* TCP address to bind, NULL when no TCP listener */
    int port;        /* TCP port, 1..65535 */
    char *unix_path; /* Unix socket path, NULL when none */
};

struct rq_conf_tier {
    char *name;           /* "emergency", "key_account", ... */
    int rank;             /* position in the file: 0 is served first among equal deadlines */
    double sla_factor;    /* multiplies every target: 0.5 halves the wait allowed */
    int emergency;        /* 1: ordered ahead of every non-emergency contact */
    uint32_t max_wait_ms; /* hard maximum wait: past it the contact takes any skilled agent */
    int line;             /* line in the file, for messages */
};

struct rq_conf_skill {
    char *name; /* "sales", "billing", ... */
};

/* An escalation step: applied when a waiting contact reaches it. */
struct rq_conf_step {
    int at_percent;                     /* due at this % of the contact's target, or -1 */
    uint32_t after_ms;                  /* due this long after arrival (used when at_percent < 0) */
    int relax_levels;                   /* lower every required level by this much (floor 1) */
    int relax_language;                 /* 1: the customer's language is no longer required */
    int add_queues[RQ_MAX_STEP_QUEUES]; /* overflow queues whose agents may now take it */
    int n_add_queues;
    int raise_priority; /* added to the contact's priority */
    int line;
};

struct rq_conf_queue {
    char *name;
    int line;
    uint32_t answer_rings;            /* voice target in rings */
    uint32_t ring_on_ms;              /* ring cadence: on ... */
    uint32_t ring_off_ms;             /* ... and off; a ring lasts on + off */
    uint32_t target_ms[RQ_CH__COUNT]; /* base target per channel (voice = rings x cadence) */
    double goal_percent;              /* share of contacts to answer within target, e.g. 80 */
    enum rq_sl_variant sl_variant;    /* the formula the wallboard shows */
    uint32_t short_abandon_ms;        /* abandons before this are "short" */
    char *strategy;                   /* agent-selection strategy name */
    uint32_t ring_timeout_ms;         /* an offer unanswered this long is ring-no-answer */
    uint32_t wrap_up_ms;              /* wrap-up after each contact of this queue */
    uint32_t preferred_wait_ms;       /* how long a contact waits for its preferred agent */
    int alert_percent;         /* alert when a waiting contact reaches this % of its target */
    uint32_t priority_step_ms; /* each priority point moves the deadline this much earlier */
    uint32_t default_aht_ms;   /* handle time assumed for EWT before any contact ended */
    int closed;                /* 1: contact.new is answered `unavailable` */
    struct rq_conf_skillref skills[RQ_MAX_REQS]; /* skills every contact of the queue needs */
    int n_skills;
    struct rq_conf_step steps[RQ_MAX_STEPS]; /* escalation steps, in due order */
    int n_steps;
    uint32_t *max_wait_ms; /* per tier (n_tiers entries): queue override or the tier's value */
};

struct rq_conf_agent {
    char *id;    /* "a1001": what softphones send in hello */
    char *name;  /* display name */
    char *token; /* shared secret of the agent's softphone */
    int line;
    struct rq_conf_skillref skills[RQ_MAX_AGENT_SKILLS];
    int n_skills;
    int capacity[RQ_MEDIA__COUNT];   /* contacts at once per medium (voice 0..1) */
    char *langs[RQ_MAX_AGENT_LANGS]; /* "en", "es", ... */
    int n_langs;
    unsigned personas; /* bit (1 << enum rq_persona) per persona the agent handles well */
};

/* Redis, the durable mirror of the live state (store.c, docs/redis.md). */
struct rq_conf_redis {
    int enabled;                 /* 0: live state in memory only */
    char *host;                  /* TCP host (NULL when unix_path is set) */
    int port;                    /* TCP port */
    char *unix_path;             /* Unix socket of the server, or NULL */
    char *user;                  /* ACL user (with password), or NULL */
    char *password;              /* AUTH password, or NULL */
    int db;                      /* SELECT this database */
    char *prefix;                /* key prefix, "ringq:" */
    uint32_t connect_timeout_ms; /* a connection attempt gives up after this */
    uint32_t command_timeout_ms; /* no answer this long: treated as an outage */
    size_t journal_max;          /* commands kept while Redis is unreachable */
    size_t max_pending;          /* commands not acknowledged; beyond, `overloaded` */
    size_t max_held_bytes;       /* replies held for Redis; beyond, reading pauses */
    size_t events_maxlen;        /* approximate cap of the events stream */
    int wait_at_start;           /* 1: at start-up, wait for Redis to recover state */
};

/* What an HTTP bearer token may do (docs/http.md); each role includes the ones before. */
enum rq_http_role {
    RQ_HTTP_ROLE_WALLBOARD = 1, /* read-only: GETs, the event stream */
    RQ_HTTP_ROLE_SUPERVISOR,    /* + change agents' states */
    RQ_HTTP_ROLE_ADMIN,         /* everything */
};

const char *rq_http_role_name(enum rq_http_role role);

/* One bearer token of the HTTP API. */
struct rq_conf_http_token {
    char *token;            /* the secret, sent as "Authorization: Bearer <token>" */
    enum rq_http_role role; /* what it may do */
    char *name;             /* who holds it, for logs */
    int line;               /* line in the file, for messages */
};

/* The HTTP API, event stream, metrics and wallboard page (http.c). */
struct rq_conf_http {
    int enabled;                       /* 0: no http section, no HTTP listener */
    char *host;                        /* address to bind, "127.0.0.1" */
    int port;                          /* TCP port, 7341 */
    char *wallboard;                   /* path of the wallboard page served at /wallboard */
    struct rq_conf_http_token *tokens; /* bearer tokens */
    int n_tokens;                      /* entries in tokens */
    char *cors_origin;                 /* Access-Control-Allow-Origin value, or NULL (no CORS) */
    int metrics_token_required;        /* 1: /metrics needs a token like the API */
};

/* A client that may connect as a source or a monitor. */
/* What a monitor may do besides watching (monitors' `role`); each includes the ones before. */
enum rq_monitor_role {
    RQ_MON_ROLE_MONITOR = 0, /* read-only: snapshot, subscribe */
    RQ_MON_ROLE_SUPERVISOR,  /* + agent.set, contact.move, contact.priority */
    RQ_MON_ROLE_ADMIN,       /* + admin.reload, admin.drain */
};

struct rq_conf_client {
    char *name;                /* the name sent in hello */
    char *token;               /* its shared secret */
    int line;                  /* line in the file, for messages */
    enum rq_monitor_role role; /* monitors only (sources: always RQ_MON_ROLE_MONITOR) */
};

/* One entry of a sorted name index of struct rq_conf. */
struct rq_conf_name {
    const char *name; /* the element's own name (not a copy) */
    int index;        /* its position in its array */
};

struct rq_conf {
    char *path;                     /* the file this came from */
    char *log_level;                /* "info" unless set */
    struct rq_conf_listener listen; /* NDJSON protocol listeners */
    struct rq_conf_redis redis;     /* the live-state mirror */
    struct rq_conf_http http;       /* the HTTP API (enabled by an http section) */
    size_t max_line_bytes;          /* NDJSON line limit */
    int max_clients;                /* connections at once */
    uint64_t random_seed;           /* 0: seeded from the clock */
    size_t max_contacts;            /* live contacts at most; beyond, contact.new is `overloaded` */
    uint32_t drain_timeout_ms;      /* on stop, wait this long for offers and calls to finish */
    int fallback_queue; /* queue index taking a removed queue's contacts at a reload, -1 */

    struct rq_conf_tier *tiers;
    int n_tiers;
    int default_tier; /* tier of contacts that name none ("standard") */
    struct rq_conf_skill *skills;
    int n_skills;
    struct rq_conf_queue *queues;
    int n_queues;
    struct rq_conf_agent *agents;
    int n_agents;
    struct rq_conf_client *sources;
    int n_sources;
    struct rq_conf_client *monitors;
    int n_monitors;
    /* Sorted by name (n_skills, n_tiers, n_queues entries), built by
     * rq_conf_load for the lookups below: 5,000 queues are found by bsearch.
     * NULL in a configuration built by hand; the lookups then scan. */
    struct rq_conf_name *skill_index;
    struct rq_conf_name *tier_index;
    struct rq_conf_name *queue_index;
};

/* Load and validate path. On error returns NULL and fills err with
 * "path:line: message" (line omitted when there is none). */
struct rq_conf *rq_conf_load(const char *path, char *err, size_t errlen);
void rq_conf_free(struct rq_conf *conf);

/* Lookups by name; -1 when absent (each struct has its name first). */
int rq_conf_skill_index(const struct rq_conf *conf, const char *name);
int rq_conf_tier_index(const struct rq_conf *conf, const char *name);
int rq_conf_queue_index(const struct rq_conf *conf, const char *name);

/* Known strategy names (built-ins); the config checks queues against it. */
int rq_strategy_known(const char *name);

#endif
