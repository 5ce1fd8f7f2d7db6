/*
 * model.h - the in-memory state of ringqd: queues, agents, contacts, routing
 * classes and the indexes that keep a routing decision cheap.
 *
 * Pure: no sockets, JSON or Redis here. The router (router.c) changes this
 * state through the functions below, which keep the indexes in step:
 *   - per medium, a bitset of agents that can take one more contact now;
 *   - per skill and level, a bitset of agents at that level or above;
 *   - per language and persona, a bitset of agents;
 *   - per routing class (one queue, medium, language and set of skill
 *     requirements) its waiting contacts, sorted in service order (so a
 *     contact's position is a binary search per class);
 *   - per skill and medium, the non-empty classes that need it, ordered by
 *     their first waiting contact, so a freed agent looks only at classes it
 *     might serve, best first, and stops at the first it fits.
 * The I/O layer reads these structures (for snapshots and pushes) but never
 * writes them.
 */
#ifndef RQ_MODEL_H
#define RQ_MODEL_H

#include <stdint.h>

#include <uthash.h>

#include "bitset.h"
#include "config.h"
#include "heap.h"

struct rq_strategy;

enum rq_contact_state {
    RQ_CS_WAITING = 0, /* in queue, not offered */
    RQ_CS_RINGING,     /* offered to an agent, not answered yet */
    RQ_CS_CONNECTED,   /* answered: agent and customer talking (or chatting) */
    RQ_CS_ENDED,       /* finished after being answered */
    RQ_CS_ABANDONED,   /* customer gave up before an answer */
};

/* What the agent chose: logged out, ready for work, or not ready (reason). */
enum rq_presence { RQ_PRES_LOGGED_OUT = 0, RQ_PRES_READY, RQ_PRES_NOT_READY };

/* What supervisors see: presence combined with the agent's current work. */
enum rq_agent_state {
    RQ_AS_LOGGED_OUT = 0,
    RQ_AS_READY,
    RQ_AS_NOT_READY,
    RQ_AS_RESERVED, /* an offer is ringing */
    RQ_AS_BUSY,     /* on one or more contacts */
    RQ_AS_WRAP_UP,
    RQ_AS__COUNT
};

const char *rq_contact_state_name(enum rq_contact_state s);
const char *rq_agent_state_name(enum rq_agent_state s);

/* Ordering class of a waiting contact: emergencies, then contacts past their
 * tier's maximum wait, then everyone else, each by deadline. */
enum rq_order_class { RQ_ORD_EMERGENCY = 0, RQ_ORD_OVERDUE = 1, RQ_ORD_NORMAL = 2 };

enum rq_timer_kind { RQ_TIMER_CONTACT = 1, RQ_TIMER_AGENT = 2 };

struct rq_timer {
    struct rq_heap_node node; /* in model->timers */
    uint64_t due_ms;          /* when it fires */
    int kind;                 /* enum rq_timer_kind: which struct embeds it */
};

/* Requirement set of a routing class (hashed: keep it zero-padded). */
struct rq_class_key {
    int queue; /* queue index */
    int media; /* enum rq_media */
    int lang;  /* required language index, or -1 */
    int n_reqs;
    struct rq_conf_skillref reqs[RQ_MAX_REQS]; /* sorted by skill index */
};

struct rq_class {
    struct rq_class_key key;
    struct rq_heap waiting;      /* memberships, sorted in service order (model.c) */
    int primary_skill;           /* skill index it is listed under, -1: the any list */
    struct rq_class *queue_next; /* next class of the same queue */
    UT_hash_handle hh;           /* model->classes, keyed by key */
    struct rq_heap_node ne_node; /* while non-empty: in rq_model_ne(primary_skill, media) */
};

/* A contact's place in one class: its own queue, or an overflow queue. */
struct rq_membership {
    struct rq_heap_node node; /* in cls->waiting */
    struct rq_class *cls;
    struct rq_contact *contact;
};

struct rq_contact {
    char *id;          /* the source's id, e.g. a SIP Call-ID */
    char *source;      /* name of the source that announced it */
    char *customer_id; /* may be NULL */
    char *lang;        /* customer's language, may be NULL */
    int lang_idx;      /* index into model->langs; -1: none asked or nobody speaks it */
    int persona;       /* enum rq_persona or -1 */
    enum rq_channel channel;
    int queue;                                     /* current queue index */
    int prev_queue;                                /* queue before the last transfer, -1 none */
    int tier;                                      /* tier index */
    int base_priority;                             /* as announced */
    int priority;                                  /* base plus what escalation steps raised */
    struct rq_conf_skillref own_reqs[RQ_MAX_REQS]; /* as announced by the source */
    int n_own_reqs;
    struct rq_conf_skillref reqs[RQ_MAX_REQS]; /* queue's and contact's own, merged */
    int n_reqs;
    char *preferred_agent;     /* agent id, may be NULL */
    uint64_t first_arrived_ms; /* first arrival at ringqd */
    uint64_t arrived_ms;       /* arrival in the current queue */
    uint64_t target_ms;        /* wait allowed: queue target x tier sla_factor */
    uint64_t deadline_ms;      /* arrived_ms + target_ms */
    int64_t order_ms;          /* deadline less priority x priority_step: the ordering key */
    int tier_rank;             /* the tier's rank, a tie-break */
    uint64_t max_wait_at_ms;   /* arrived_ms + the tier's maximum wait */
    uint64_t due_at_ms;        /* a callback's or email's due time from the source, or 0 */
    uint64_t seq;              /* arrival order, the last tie-break */
    enum rq_contact_state state;
    int order_class;        /* enum rq_order_class */
    unsigned steps_done;    /* bit i: escalation step i applied */
    int relax_levels;       /* sum of applied steps' relax_levels */
    int relax_language;     /* an applied step dropped the language */
    int alerted;            /* the about-to-miss alert went out */
    int overdue;            /* past the tier's maximum wait: any skilled agent will do */
    int pref_hold;          /* waiting for its preferred agent only */
    uint64_t pref_until_ms; /* end of that hold */
    int extra_queues[RQ_MAX_MEMBERSHIPS]; /* overflow queues added by steps */
    int n_extra_queues;
    struct rq_membership mem[RQ_MAX_MEMBERSHIPS]; /* classes it waits in */
    int n_mem;
    struct rq_heap_node pref_node; /* in the preferred agent's pref heap */
    struct rq_agent *agent;        /* offered to or connected with */
    struct rq_contact *agent_next; /* next of agent->active */
    uint64_t offered_ms;           /* current offer */
    uint64_t ring_deadline_ms;     /* current offer's ring timeout */
    uint64_t answered_ms;
    int offers;                         /* offers made so far */
    int answered_in_target;             /* answered within target_ms */
    int queued;                         /* had to wait: not offered on arrival */
    int64_t ewt_at_arrival_ms;          /* EWT told at contact.new, -1: none */
    struct rq_timer timer;              /* next escalation/alert/hold/ring event */
    struct rq_contact *q_prev, *q_next; /* queue's unanswered list, arrival order */
    unsigned reload_note;               /* RQ_RELOAD_* a reload did to it, not reported yet */
    UT_hash_handle hh;                  /* model->contacts */
};

/* What a reload did to a contact (router.c reports it once the I/O layer
 * runs on the new configuration). */
#define RQ_RELOAD_MOVED    1u /* its queue was removed: now in the fallback queue */
#define RQ_RELOAD_REQUEUED 2u /* its offer's agent was removed: waiting again */

struct rq_agent {
    int idx; /* index into model->agents and every bitset */
    const struct rq_conf_agent *conf;
    const char *id;                /* conf->id */
    uint8_t *levels;               /* level per skill index, 0 = lacks it */
    int langs[RQ_MAX_AGENT_LANGS]; /* language indexes */
    int n_langs;
    int load[RQ_MEDIA__COUNT]; /* connected contacts per medium */
    int load_total;
    enum rq_presence presence;
    char reason[RQ_MAX_REASON_LEN]; /* not_ready reason ("break", "rona", ...) */
    enum rq_agent_state state;      /* derived: see rq_model_agent_refresh */
    uint64_t state_since_ms;
    struct rq_contact *offer;  /* ringing offer, at most one at a time */
    struct rq_contact *active; /* connected contacts (via agent_next) */
    int in_wrap;               /* wrap-up running */
    uint64_t wrap_until_ms;
    uint64_t wrap_start_ms;
    int wrap_queue;                    /* queue whose contact the wrap-up follows */
    uint64_t idle_since_ms;            /* last time it had nothing to do */
    uint64_t login_ms;                 /* when it logged in */
    uint64_t work_ms;                  /* time on contacts and wrap-up since login */
    uint64_t work_since_ms;            /* start of the current stretch of work, 0 none */
    uint32_t handled;                  /* contacts answered since login */
    uint32_t ended;                    /* contacts ended since login (their time is in handle_ms) */
    uint64_t handle_ms;                /* talk + wrap-up time of those contacts */
    uint32_t rona;                     /* offers missed or rejected since login */
    struct rq_heap pref;               /* contacts waiting for this agent by preference */
    struct rq_timer timer;             /* wrap-up end */
    enum rq_presence restore_presence; /* recovered from the store: applied at next login */
    char restore_reason[RQ_MAX_REASON_LEN];
    uint64_t restore_wrap_until_ms; /* wrap-up under way at the restart: its end */
    int restore_wrap_queue;         /* and its queue, -1 unknown */
    void *udata;                    /* the I/O layer's session of this agent */
    int retiring;                   /* removed by a reload: finishes its contacts, then leaves */
    UT_hash_handle hh;              /* model->agent_by_id */
};

/* What the built-in strategies compare, per agent index, in one dense
 * array (rq_model.keys): a decision reads a few bytes per candidate, in
 * index order, instead of one agent struct each. rq_model_agent_refresh
 * copies them from the agent, as it sets the agent's availability: a change
 * of these agent fields is followed by a refresh before any decision. */
struct rq_agent_key {
    uint64_t idle_since_ms; /* rq_agent.idle_since_ms */
    uint64_t login_ms;      /* rq_agent.login_ms */
    uint64_t work_ms;       /* rq_agent.work_ms */
    uint64_t work_since_ms; /* rq_agent.work_since_ms */
    const uint8_t *levels;  /* rq_agent.levels */
    uint32_t handled;       /* rq_agent.handled */
};

/* Wait histogram of answered contacts: bucket upper edges as a share of the
 * contact's own target (so a queue's "within target" is one bucket edge),
 * the last bucket is +Inf. */
#define RQ_WAIT_BUCKETS 8
extern const double rq_wait_bucket_edges[RQ_WAIT_BUCKETS - 1]; /* 0.25 .. 4 x target */

/* Live counters of a queue (stats.c derives the service levels). */
struct rq_qcounters {
    uint64_t offered; /* contacts that arrived (or were transferred in) */
    uint64_t answered;
    uint64_t answered_in_target;
    uint64_t abandoned;
    uint64_t abandoned_in_target; /* abandoned before reaching the target */
    uint64_t short_abandoned;     /* abandoned under short_abandon_ms */
    uint64_t transferred_out;
    uint64_t flowed_out;                    /* answered by an agent through an overflow step */
    uint64_t rona;                          /* offers not answered in time */
    uint64_t wait_ms_answered;              /* sum of waits of answered contacts (ASA) */
    uint64_t handle_ms;                     /* sum of talk + wrap of ended contacts (AHT) */
    uint64_t handled;                       /* contacts whose handle time is in handle_ms */
    uint64_t wait_buckets[RQ_WAIT_BUCKETS]; /* answered waits, not cumulative */
    uint64_t answered_immediately; /* answered without waiting in queue (Erlang C's 1 - P(wait)) */
    uint64_t answered_in_rings;    /* answered within answer_rings rings, whatever the tier */
    uint64_t ewt_answered;         /* answered contacts told an EWT at arrival */
    uint64_t ewt_over_ms;          /* sum of (real wait - EWT) where it waited longer than told */
    uint64_t ewt_under_ms;         /* sum of (EWT - real wait) where it waited less */
};

/* Every single-valued field of struct rq_qcounters (wait_buckets aside),
 * for code that handles them all alike: X(field). */
#define RQ_QCOUNTER_FIELDS(X)                                                                      \
    X(offered)                                                                                     \
    X(answered)                                                                                    \
    X(answered_in_target)                                                                          \
    X(abandoned)                                                                                   \
    X(abandoned_in_target)                                                                         \
    X(short_abandoned)                                                                             \
    X(transferred_out)                                                                             \
    X(flowed_out)                                                                                  \
    X(rona)                                                                                        \
    X(wait_ms_answered)                                                                            \
    X(handle_ms)                                                                                   \
    X(handled)                                                                                     \
    X(answered_immediately)                                                                        \
    X(answered_in_rings)                                                                           \
    X(ewt_answered)                                                                                \
    X(ewt_over_ms)                                                                                 \
    X(ewt_under_ms)

/* The counters of one interval of RQ_STATS_INTERVAL_MS (stats.h). */
struct rq_interval {
    uint64_t start_ms;     /* its start, a multiple of the interval length; 0: none yet */
    struct rq_qcounters c; /* what happened in it */
};

/* A queue's interval history, rolled by stats.c as the router counts. */
struct rq_intervals {
    struct rq_interval cur;   /* the running interval */
    uint64_t since_ms;        /* first count ever (start of the live rates) */
    struct rq_interval *ring; /* completed intervals, consecutive; NULL until one completes */
    int cap;                  /* slots allocated in ring */
    int n;                    /* completed intervals held */
    int head;                 /* slot the next completed interval goes to */
};

struct rq_queue {
    int idx;
    const struct rq_conf_queue *conf;
    const struct rq_strategy *strategy;
    struct rq_class *classes;        /* classes of this queue (via queue_next) */
    struct rq_contact *first, *last; /* unanswered contacts, arrival order */
    int n_waiting;                   /* state waiting */
    int n_ringing;
    int n_connected;
    long rr_cursor;               /* round robin: last agent index picked */
    double aht_ewma_ms;           /* recent handle time, for EWT */
    struct rq_qcounters total;    /* since start */
    struct rq_qcounters *by_tier; /* n_tiers counters */
    struct rq_intervals iv;       /* 15-minute intervals (stats.c; freed by rq_stats_iv_free) */
};

struct rq_model {
    const struct rq_conf *conf;
    struct rq_queue *queues;
    int n_queues;
    struct rq_agent *agents;
    int n_agents;
    struct rq_agent *agent_by_id; /* hash */
    struct rq_contact *contacts;  /* hash by id */
    size_t n_contacts;
    char **langs; /* languages agents speak */
    int n_langs;
    struct rq_bitset avail[RQ_MEDIA__COUNT]; /* can take one more contact of the medium now */
    struct rq_bitset *skill_ge; /* [skill * RQ_MAX_LEVEL + level - 1]: level or above */
    struct rq_bitset *lang_bs;  /* per language */
    struct rq_bitset persona_bs[RQ_PERSONA__COUNT];
    struct rq_bitset staffed; /* logged in */
    struct rq_class *classes; /* hash by key */
    struct rq_heap timers;
    uint64_t seq;                 /* next contact sequence number */
    int n_by_state[RQ_AS__COUNT]; /* agents per derived state */
    struct rq_bitset tmp;         /* scratch for decisions */
    struct rq_bitset cand;        /* scratch: candidates of a decision */
    /* Non-empty classes per primary skill and medium, each heap ordered by
     * the classes' first waiting contacts (see rq_model_ne). */
    struct rq_heap *ne;
    struct rq_agent_key *keys; /* n_agents: what strategies compare (struct rq_agent_key) */
};

/* Build the model for conf (every agent logged out, no contacts). */
struct rq_model *rq_model_new(const struct rq_conf *conf);
/* The same, plus n_extra agents the file no longer has (a reload removed
 * them while they were on contacts): indexes conf->n_agents and up, marked
 * retiring. Their confs must outlive the model. */
struct rq_model *rq_model_new_ex(const struct rq_conf *conf, const struct rq_conf_agent *extra,
                                 int n_extra);
void rq_model_free(struct rq_model *m);

struct rq_agent *rq_model_agent(const struct rq_model *m, const char *id);
struct rq_contact *rq_model_contact(const struct rq_model *m, const char *id);
int rq_model_lang_index(const struct rq_model *m, const char *lang);

/* Compare two contacts in service order (<0: a first). */
int rq_contact_cmp(const struct rq_contact *a, const struct rq_contact *b);

/* Agent a's skill levels and languages meet class key k (availability aside). */
int rq_model_agent_fits_class(const struct rq_model *m, const struct rq_class_key *k,
                              const struct rq_agent *a);

/* Can the agent take one more contact of medium md now? */
int rq_model_agent_can_take(const struct rq_agent *a, enum rq_media md);

/*
 * Index maintenance, for the router only.
 */

/* Recompute a's derived state and availability bits at now. Returns a mask
 * of media (1 << enum rq_media) the agent has become able to take; *changed
 * is set to 1 when the derived state changed. */
unsigned rq_model_agent_refresh(struct rq_model *m, struct rq_agent *a, uint64_t now, int *changed);

/* The class for key, created on first use (NULL on allocation failure). */
struct rq_class *rq_model_class(struct rq_model *m, const struct rq_class_key *key);
/* The non-empty classes of primary skill `skill` (-1: classes that need no
 * skill) and medium md, as a heap of rq_class.ne_node ordered by each
 * class's first waiting contact. */
const struct rq_heap *rq_model_ne(const struct rq_model *m, int skill, enum rq_media md);
int rq_model_class_insert(struct rq_model *m, struct rq_membership *mb);
/* Number of cl's waiting memberships ordered before c: O(log n). */
size_t rq_model_class_rank(const struct rq_class *cl, const struct rq_contact *c);
void rq_model_class_remove(struct rq_model *m, struct rq_membership *mb);

void rq_model_timer_set(struct rq_model *m, struct rq_timer *t, uint64_t due_ms);
void rq_model_timer_clear(struct rq_model *m, struct rq_timer *t);

struct rq_contact *rq_model_contact_alloc(struct rq_model *m, const char *id);
void rq_model_contact_free(struct rq_model *m, struct rq_contact *c);
void rq_model_queue_append(struct rq_model *m, struct rq_contact *c);
void rq_model_queue_unlink(struct rq_model *m, struct rq_contact *c);

#endif
