/*
 * ringq-route - the routing core alone at call-center scale: no sockets, no
 * JSON, no Redis, an injected clock. Prints the time of each routing
 * decision (median, p99, p999, decisions/s) per built-in strategy, the heap
 * used per agent and per contact, and how a decision grows from 1k to 15k
 * agents, each figure with PASS/FAIL against DESIGN.md section 8.
 *
 *   ringq-route [--quick] [--agents N] [--queues N] [--skills N] [--waiting N]
 *               [--samples N] [--seed N] [--skew S] [--no-scaling]
 *
 * --skew is the Zipf exponent of the waiting contacts over the queues that
 * have no free agent (0.8: the longest queue holds a few percent of them;
 * 3: most of them, which shows what a position costs in a long queue).
 *
 * The configuration is generated as a libconfig file and loaded with
 * rq_conf_load, not built in memory: that is what ringqd runs on, and it
 * shows that the loader copes with 15,000 agents and 5,000 queues (its time
 * is printed, outside every measured figure). The file is removed at once.
 *
 * Two decisions are timed, one router call each (CLOCK_MONOTONIC around it):
 *   arrival   rq_router_contact_new of a contact some free agent may take:
 *             candidates (bitsets), the queue's strategy, the offer;
 *   agent     the call that makes a busy agent able to take one more
 *             contact while contacts it fits wait (rq_router_contact_end,
 *             or rq_router_wrapup_done when its queue has wrap-up): the
 *             agent looks through the waiting classes it might serve.
 * Between timed calls, untimed calls keep the state steady: offers are
 * answered, a contact offered on arrival is abandoned (its agent is free
 * again), and a contact an agent took is replaced by one like it, which
 * waits (that call is timed too and printed as "arrival, waits": position
 * and EWT included). Exit status 0 whatever the figures (a report); 1 when
 * the bench itself breaks.
 */
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "router.h"

#define T0 1700000000000ULL /* the injected clock's start, ms */

/* Targets of DESIGN.md section 8 / issue 7. */
#define TARGET_MEDIAN_US    10.0
#define TARGET_P99_US       50.0
#define TARGET_AGENT_BYTES  2048.0
#define TARGET_WAITING_BYTE 1024.0

#define N_STRATEGIES 6
static const char *const strategies[N_STRATEGIES] = {
    "longest_idle", "least_occupied", "round_robin", "most_skilled", "random", "fewest_contacts"};

#define N_TIERS 5
static const struct {
    const char *name;
    double sla_factor;
    int emergency;
    int max_wait_s;
} tiers[N_TIERS] = {
    {"emergency", 0.25, 1, 30}, {"key_account", 0.5, 0, 120}, {"loyal", 0.8, 0, 300},
    {"standard", 1.0, 0, 600},  {"prospect", 1.5, 0, 900},
};
static const double tier_share[N_TIERS] = {0.01, 0.05, 0.15, 0.60, 0.19}; /* of contacts */

#define N_LANGS 8
static const struct {
    const char *tag;
    double agents; /* share of agents speaking it */
} langs[N_LANGS] = {
    {"en", 0.85},    {"es", 0.25}, {"fr", 0.08}, {"de", 0.06},
    {"pt-BR", 0.05}, {"it", 0.03}, {"ja", 0.02}, {"zh", 0.02},
};
/* weights among the contacts that ask for a language */
static const double lang_weight[N_LANGS] = {0.55, 0.20, 0.07, 0.06, 0.05, 0.03, 0.02, 0.02};
#define LANG_SHARE    0.30 /* contacts that ask for a language */
#define PERSONA_SHARE 0.20 /* contacts with a known persona */
static const char *const personas[4] = {"authoritative", "analytical", "amiable", "expressive"};

#define VOICE_SHARE 0.10 /* voice-only agents; the rest are digital (chat + email) */
#define POOL_SHARE  0.05 /* agents left with spare capacity: the free agents of arrivals */
#define EMAIL_CAP   32   /* open emails per digital agent (the configuration's maximum) */

/* Kinds of timed calls. */
enum kind { K_ARRIVAL = 0, K_AGENT, K_WAITS, K_NOISE, K__COUNT };

struct params {
    int agents;    /* agents in the configuration */
    int queues;    /* queues */
    int skills;    /* skills, levels 1..10 */
    int waiting;   /* waiting contacts at least */
    int samples;   /* timed decisions (arrival + agent) */
    uint64_t seed; /* of the configuration and of the driver */
    double skew;   /* Zipf exponent of the waiting contacts over the busy queues */
};

struct sample {
    uint32_t ns;   /* the router call's time */
    uint8_t kind;  /* enum kind */
    uint8_t strat; /* strategy of the queue of the contact placed */
};

struct offer_ev {
    const struct rq_contact *c; /* offered contact */
    const struct rq_agent *a;   /* to this agent */
};

/* One built scenario: configuration, router, and what the driver knows. */
struct world {
    struct params p;
    struct rq_conf *conf;
    struct rq_router *r;
    const struct rq_model *m;
    uint64_t now;            /* the injected clock, ms */
    struct rq_clock clock;   /* reads now */
    struct offer_ev *offers; /* reported by the offer hook, answered after each call */
    size_t n_offers, cap_offers;
    uint64_t rng;        /* driver's generator */
    uint64_t next_id;    /* contact ids */
    unsigned char *pool; /* per agent: 1 = keeps spare capacity */
    int *pool_list;      /* the pool's agent indexes */
    int n_pool;
    int **agent_queues; /* per agent: queues whose skills it meets */
    int *n_agent_queues;
    int *hard; /* (queue << 2 | medium) pairs no available agent fits */
    int n_hard;
    double *hard_cdf;       /* Zipf over hard pairs: some queues hold most waiting contacts */
    size_t conf_bytes;      /* heap grown by rq_conf_load */
    size_t model_bytes;     /* heap grown by rq_router_new */
    size_t connected_bytes; /* heap grown while the connected contacts were added */
    size_t n_connected_added;
    size_t waiting_bytes; /* heap grown while waiting contacts were added */
    size_t n_waiting_added;
    double load_s; /* rq_conf_load's time */
    size_t conf_file_bytes;
    long misses[K__COUNT];  /* untimed retries: arrival not offered, agent took nothing, ... */
    uint64_t digest;        /* FNV-1a of every offer (contact, agent), in order */
    uint32_t *chase;        /* the noise probe's cycle of indexes (in cache) */
    int chase_steps;        /* steps of one probe: about a decision's time */
    struct sample *samples; /* the timed calls */
    size_t n_samples, cap_samples;
};

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "ringq-route: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (p == NULL)
        die("out of memory");
    return p;
}

/* --- random numbers (splitmix64: reproducible for a seed) -------------- */

static uint64_t
rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int
rnd_below(uint64_t *s, int n)
{
    return n <= 1 ? 0 : (int)(rnd(s) % (uint64_t)n);
}

static double
rnd_unit(uint64_t *s)
{
    return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* Cumulative Zipf weights 1/(k+1)^s over n items. */
static double *
zipf_cdf(int n, double s)
{
    double *cdf = xcalloc((size_t)n, sizeof(*cdf)), sum = 0;

    for (int k = 0; k < n; k++)
        cdf[k] = (sum += 1.0 / pow(k + 1, s));
    for (int k = 0; k < n; k++)
        cdf[k] /= sum;
    return cdf;
}

static int
zipf_draw(const double *cdf, int n, uint64_t *s)
{
    double u = rnd_unit(s);
    int lo = 0, hi = n - 1;

    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* An index 0..n-1 drawn in proportion to the weights w[0..n-1]. */
static int
draw_weighted(uint64_t *s, const double *w, int n)
{
    double sum = 0, u;

    for (int i = 0; i < n; i++)
        sum += w[i];
    u = rnd_unit(s) * sum;
    for (int i = 0; i < n - 1; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

/* --- the configuration file -------------------------------------------- */

/* Agents: 3..8 skills drawn Zipf-like (a few skills most agents have, a
 * long tail of specialities), levels 1..10 peaking mid-range, 1..3
 * languages, personas. Queues: each is modelled on one agent's skill set
 * (so someone can serve it), needing 1..3 of its skills at levels 1..7;
 * half escalate (relax a level at 50 %, then overflow to another queue and
 * drop the language at 100 %); strategies are assigned in turn, so every
 * strategy serves a sixth of the queues under the same load. */
static size_t
write_conf(FILE *f, const struct params *p)
{
    uint64_t rs = p->seed * 7919 + 1;
    double *skill_cdf = zipf_cdf(p->skills, 1.0);
    int(*ask)[8] = xcalloc((size_t)p->agents, sizeof(*ask));
    int(*alv)[8] = xcalloc((size_t)p->agents, sizeof(*alv));
    int *an = xcalloc((size_t)p->agents, sizeof(*an));
    long start = ftell(f);

    fprintf(f,
            "# generated by ringq-route --seed %llu\nlog_level = \"warning\";\n"
            "random_seed = %llu;\nmax_contacts = 2000000;\n",
            (unsigned long long)p->seed, (unsigned long long)p->seed + 1);
    fprintf(f, "tiers = (\n");
    for (int t = 0; t < N_TIERS; t++)
        fprintf(f, "  { name = \"%s\"; sla_factor = %g; emergency = %s; max_wait_s = %d; }%s\n",
                tiers[t].name, tiers[t].sla_factor, tiers[t].emergency ? "true" : "false",
                tiers[t].max_wait_s, t + 1 < N_TIERS ? "," : "");
    fprintf(f, ");\ndefault_tier = \"standard\";\nskills = [");
    for (int s = 0; s < p->skills; s++)
        fprintf(f, "%s\"sk%03d\"", s ? ", " : " ", s);
    fprintf(f, " ];\n");

    /* agents first in the generator (queues are modelled on them), last in the file */
    for (int i = 0; i < p->agents; i++) {
        int want = 3 + rnd_below(&rs, 6);
        for (int tries = 0; an[i] < want && tries < 100; tries++) {
            int s = zipf_draw(skill_cdf, p->skills, &rs), dup = 0;
            for (int k = 0; k < an[i]; k++)
                dup |= ask[i][k] == s;
            if (dup)
                continue;
            ask[i][an[i]] = s;
            alv[i][an[i]++] = 1 + (rnd_below(&rs, 10) + rnd_below(&rs, 10) + 1) / 2;
        }
    }

    fprintf(f, "queues = (\n");
    for (int q = 0; q < p->queues; q++) {
        int x = rnd_below(&rs, p->agents), nreq, wrap;
        int order[8];
        double u = rnd_unit(&rs);
        nreq = u < 0.6 ? 1 : u < 0.9 ? 2 : 3;
        if (nreq > an[x])
            nreq = an[x];
        for (int k = 0; k < an[x]; k++)
            order[k] = k;
        for (int k = an[x] - 1; k > 0; k--) {
            int j = rnd_below(&rs, k + 1), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        wrap = (int[]){0, 0, 5, 10}[rnd_below(&rs, 4)];
        fprintf(f, "  { name = \"q%04d\"; strategy = \"%s\"; wrap_up_s = %d; skills = {", q,
                strategies[q % N_STRATEGIES], wrap);
        for (int k = 0; k < nreq; k++) {
            int lv = alv[x][order[k]] < 7 ? alv[x][order[k]] : 7;
            fprintf(f, " sk%03d = %d;", ask[x][order[k]], 1 + rnd_below(&rs, lv));
        }
        fprintf(f, " };");
        if (rnd_unit(&rs) < 0.5 && p->queues > 1) {
            int ov = rnd_below(&rs, p->queues - 1);
            ov += ov >= q;
            fprintf(f,
                    "\n    escalation = ( { at_percent = 50; relax_levels = 1; },\n"
                    "                   { at_percent = 100; overflow = [ \"q%04d\" ]; "
                    "relax_language = true; } );",
                    ov);
        }
        fprintf(f, " }%s\n", q + 1 < p->queues ? "," : "");
    }
    fprintf(f, ");\nagents = (\n");
    for (int i = 0; i < p->agents; i++) {
        int voice = rnd_unit(&rs) < VOICE_SHARE, nl = 0;
        fprintf(f, "  { id = \"a%05d\"; token = \"t%05d\"; skills = {", i, i);
        for (int k = 0; k < an[i]; k++)
            fprintf(f, " sk%03d = %d;", ask[i][k], alv[i][k]);
        if (voice)
            fprintf(f, " };\n    capacity = { voice = 1; chat = 0; email = 0; };");
        else
            fprintf(f, " };\n    capacity = { voice = 0; chat = %d; email = %d; };",
                    3 + rnd_below(&rs, 6), EMAIL_CAP);
        fprintf(f, " languages = [");
        for (int l = 0; l < N_LANGS; l++) {
            if (rnd_unit(&rs) < langs[l].agents || (l == N_LANGS - 1 && nl == 0))
                fprintf(f, "%s\"%s\"", nl++ ? ", " : " ", langs[l].tag);
        }
        fprintf(f, " ];");
        {
            int np = 0;
            fprintf(f, " personas = [");
            for (int k = 0; k < 4; k++)
                if (rnd_unit(&rs) < 0.3)
                    fprintf(f, "%s\"%s\"", np++ ? ", " : " ", personas[k]);
            fprintf(f, " ];");
        }
        fprintf(f, " }%s\n", i + 1 < p->agents ? "," : "");
    }
    fprintf(f, ");\nsources = ( { name = \"pbx1\"; token = \"demo\"; } );\n");
    free(skill_cdf);
    free(ask);
    free(alv);
    free(an);
    return (size_t)(ftell(f) - start);
}

/* --- heap and time ----------------------------------------------------- */

/* Bytes in use: small chunks plus mmap()ed large ones (the agent array). */
static size_t
heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- driving the router ------------------------------------------------- */

static void
digest_str(uint64_t *h, const char *s)
{
    for (; *s != '\0'; s++)
        *h = (*h ^ (unsigned char)*s) * 0x100000001B3ULL;
    *h = (*h ^ 0xFF) * 0x100000001B3ULL;
}

static void
h_offer(void *arg, const struct rq_contact *c, const struct rq_agent *a)
{
    struct world *w = arg;

    digest_str(&w->digest, c->id);
    digest_str(&w->digest, a->id);
    if (w->n_offers == w->cap_offers) {
        w->cap_offers = w->cap_offers ? 2 * w->cap_offers : 64;
        w->offers = realloc(w->offers, w->cap_offers * sizeof(*w->offers));
        if (w->offers == NULL)
            die("out of memory");
    }
    w->offers[w->n_offers++] = (struct offer_ev){c, a};
}

static const struct rq_hooks hooks = {.offer = h_offer};

/* Answer every offer made (answers may lead to more offers). */
static void
answer_all(struct world *w)
{
    struct rq_error err;

    while (w->n_offers > 0) {
        struct offer_ev o = w->offers[--w->n_offers];
        if (o.c->state != RQ_CS_RINGING || o.c->agent != o.a)
            continue;
        if (rq_router_contact_answered(w->r, o.c->id, o.a->id, &err) < 0)
            die("answer %s: %s", o.c->id, err.message);
    }
}

static enum rq_channel
channel_for(struct world *w, enum rq_media md)
{
    if (md == RQ_MEDIA_VOICE)
        return rnd_unit(&w->rng) < 0.1 ? RQ_CH_CALLBACK : RQ_CH_VOICE;
    return md == RQ_MEDIA_CHAT ? RQ_CH_CHAT : RQ_CH_EMAIL;
}

/* What a new contact looks like, apart from its queue and channel. */
struct contact_spec {
    int queue;
    enum rq_channel channel;
    int tier;
    const char *lang;    /* or NULL */
    const char *persona; /* or NULL */
    int priority;
    uint64_t arrived_ms; /* 0: now */
};

static void
spec_random(struct world *w, struct contact_spec *s, int queue, enum rq_channel ch)
{
    memset(s, 0, sizeof(*s));
    s->queue = queue;
    s->channel = ch;
    s->tier = draw_weighted(&w->rng, tier_share, N_TIERS);
    if (rnd_unit(&w->rng) < LANG_SHARE)
        s->lang = langs[draw_weighted(&w->rng, lang_weight, N_LANGS)].tag;
    if (rnd_unit(&w->rng) < PERSONA_SHARE)
        s->persona = personas[rnd_below(&w->rng, 4)];
    if (rnd_unit(&w->rng) < 0.1)
        s->priority = 1 + rnd_below(&w->rng, 20);
}

/* contact.new; returns the contact (waiting or ringing) and its time in ns. */
static struct rq_contact *
add_contact(struct world *w, const struct contact_spec *s, uint64_t *ns)
{
    static const char *const ch_names[RQ_CH__COUNT] = {"voice", "chat", "email", "callback"};
    struct rq_contact_in in;
    struct rq_contact_result res;
    struct rq_error err;
    char id[32], cust[32];
    uint64_t t0, t1;

    memset(&in, 0, sizeof(in));
    snprintf(id, sizeof(id), "c%09llu", (unsigned long long)w->next_id++);
    snprintf(cust, sizeof(cust), "cu%08llu", (unsigned long long)(rnd(&w->rng) % 100000000u));
    in.id = id;
    in.channel = ch_names[s->channel];
    in.queue = w->conf->queues[s->queue].name;
    in.customer_id = cust;
    in.tier = tiers[s->tier].name;
    in.lang = s->lang;
    in.persona = s->persona;
    in.priority = s->priority;
    in.arrived_ms = s->arrived_ms;
    t0 = mono_ns();
    if (rq_router_contact_new(w->r, "pbx1", &in, &res, &err) < 0)
        die("contact.new %s: %s", id, err.message);
    t1 = mono_ns();
    if (ns != NULL)
        *ns = t1 - t0;
    {
        char reply[64]; /* the reply's position and EWT are part of the behaviour */
        snprintf(reply, sizeof(reply), "%d/%.17g", res.position, res.ewt_s);
        digest_str(&w->digest, reply);
    }
    return rq_model_contact(w->m, id);
}

static void
agent_cmd(struct world *w, const char *id, const char *state)
{
    struct rq_error err;

    if (state == NULL ? rq_router_agent_login(w->r, id, &err)
                      : rq_router_agent_state(w->r, id, state, NULL, &err))
        die("agent %s: %s", id, err.message);
}

static const struct rq_bitset *
skill_set(const struct rq_model *m, int skill, int level)
{
    return &m->skill_ge[(size_t)skill * RQ_MAX_LEVEL + (size_t)(level - 1)];
}

/* Does any agent available for medium md meet queue q's skills? */
static int
queue_has_free_agent(const struct world *w, int q, int md)
{
    const struct rq_conf_queue *cq = &w->conf->queues[q];
    const struct rq_bitset *av = &w->m->avail[md];

    for (size_t i = 0; i < av->nwords; i++) {
        uint64_t x = av->words[i];
        for (int k = 0; x != 0 && k < cq->n_skills; k++)
            x &= skill_set(w->m, cq->skills[k].skill, cq->skills[k].level)->words[i];
        if (x != 0)
            return 1;
    }
    return 0;
}

static int
agent_meets(const struct rq_agent *a, const struct rq_conf_queue *cq)
{
    for (int k = 0; k < cq->n_skills; k++)
        if (a->levels[cq->skills[k].skill] < cq->skills[k].level)
            return 0;
    return 1;
}

/* Per agent, the queues whose skills it meets (through per-skill lists). */
static void
index_agent_queues(struct world *w)
{
    int ns = w->conf->n_skills, nq = w->conf->n_queues;
    int **by_skill = xcalloc((size_t)ns, sizeof(*by_skill));
    int *n_by_skill = xcalloc((size_t)ns, sizeof(*n_by_skill));
    int *seen = xcalloc((size_t)nq, sizeof(*seen));
    int *buf = xcalloc((size_t)nq, sizeof(*buf));

    for (int q = 0; q < nq; q++)
        for (int k = 0; k < w->conf->queues[q].n_skills; k++)
            n_by_skill[w->conf->queues[q].skills[k].skill]++;
    for (int s = 0; s < ns; s++) {
        by_skill[s] = xcalloc((size_t)n_by_skill[s], sizeof(int));
        n_by_skill[s] = 0;
    }
    for (int q = 0; q < nq; q++)
        for (int k = 0; k < w->conf->queues[q].n_skills; k++) {
            int s = w->conf->queues[q].skills[k].skill;
            by_skill[s][n_by_skill[s]++] = q;
        }
    w->agent_queues = xcalloc((size_t)w->m->n_agents, sizeof(*w->agent_queues));
    w->n_agent_queues = xcalloc((size_t)w->m->n_agents, sizeof(*w->n_agent_queues));
    for (int i = 0; i < w->m->n_agents; i++) {
        const struct rq_agent *a = &w->m->agents[i];
        int n = 0;
        for (int k = 0; k < a->conf->n_skills; k++) {
            int s = a->conf->skills[k].skill;
            for (int j = 0; j < n_by_skill[s]; j++) {
                int q = by_skill[s][j];
                if (seen[q] == i + 1 || !agent_meets(a, &w->conf->queues[q]))
                    continue;
                seen[q] = i + 1;
                buf[n++] = q;
            }
        }
        w->agent_queues[i] = xcalloc((size_t)n, sizeof(int));
        memcpy(w->agent_queues[i], buf, (size_t)n * sizeof(int));
        w->n_agent_queues[i] = n;
    }
    for (int s = 0; s < ns; s++)
        free(by_skill[s]);
    free(by_skill);
    free(n_by_skill);
    free(seen);
    free(buf);
}

/* Offer agent i contacts of medium md (in queues it serves) until it can
 * take no more, or n contacts when n >= 0. They may go to any available
 * agent that fits: the strategy picks. Returns contacts added. */
static size_t
fill_agent(struct world *w, int i, enum rq_media md, int n)
{
    const struct rq_agent *a = &w->m->agents[i];
    struct contact_spec s;
    size_t added = 0;

    if (w->n_agent_queues[i] == 0)
        return 0;
    while (n < 0 ? rq_model_agent_can_take(a, md) : n-- > 0) {
        int q = w->agent_queues[i][rnd_below(&w->rng, w->n_agent_queues[i])];
        spec_random(w, &s, q, channel_for(w, md));
        s.lang = NULL; /* agent i must fit it */
        add_contact(w, &s, NULL);
        answer_all(w);
        added++;
        w->now++;
    }
    return added;
}

static size_t
total_waiting(const struct world *w)
{
    size_t n = 0;

    for (int q = 0; q < w->m->n_queues; q++)
        n += (size_t)w->m->queues[q].n_waiting;
    return n;
}

/* A waiting contact in a (queue, medium) no available agent fits. */
static struct rq_contact *
add_waiting(struct world *w, uint64_t max_age_ms, uint64_t *ns)
{
    int pair = w->hard[zipf_draw(w->hard_cdf, w->n_hard, &w->rng)];
    struct contact_spec s;

    spec_random(w, &s, pair >> 2, channel_for(w, (enum rq_media)(pair & 3)));
    if (max_age_ms > 0)
        s.arrived_ms = w->now - (rnd(&w->rng) % max_age_ms);
    return add_contact(w, &s, ns);
}

/* Build the scenario: agents logged in and ready, the non-pool agents
 * full, the pool's digital agents three quarters full and its voice agents
 * free, then the waiting contacts. */
static void
world_build(struct world *w, const struct params *p)
{
    char path[] = "/tmp/ringq-route.XXXXXX", err[RQ_ERR_LEN];
    FILE *f;
    int fd;
    size_t h0, h1;
    uint64_t t0;

    memset(w, 0, sizeof(*w));
    w->p = *p;
    w->rng = p->seed * 104729 + 17;
    w->digest = 0xCBF29CE484222325ULL;
    w->now = T0;
    w->clock.now_ms = rq_clock_manual_now;
    w->clock.arg = &w->now;
    if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
        die("cannot create %s", path);
    w->conf_file_bytes = write_conf(f, p);
    if (fclose(f) != 0)
        die("cannot write %s", path);
    h0 = heap_bytes();
    t0 = mono_ns();
    w->conf = rq_conf_load(path, err, sizeof(err));
    w->load_s = (double)(mono_ns() - t0) / 1e9;
    unlink(path);
    if (w->conf == NULL)
        die("generated configuration refused: %s", err);
    h1 = heap_bytes();
    w->conf_bytes = h1 - h0;
    if ((w->r = rq_router_new(w->conf, &w->clock, &hooks, w)) == NULL)
        die("rq_router_new failed");
    w->model_bytes = heap_bytes() - h1;
    w->m = rq_router_model(w->r);
    index_agent_queues(w);

    /* the pool: agents kept with spare capacity */
    w->pool = xcalloc((size_t)w->m->n_agents, 1);
    w->pool_list = xcalloc((size_t)w->m->n_agents, sizeof(int));
    for (int i = 0; i < w->m->n_agents; i++) {
        if (rnd_unit(&w->rng) < POOL_SHARE && w->n_agent_queues[i] > 0) {
            w->pool[i] = 1;
            w->pool_list[w->n_pool++] = i;
        }
    }
    for (int i = 0; i < w->m->n_agents; i++) {
        agent_cmd(w, w->m->agents[i].id, NULL);
        if (!w->pool[i])
            agent_cmd(w, w->m->agents[i].id, "ready");
    }

    /* connected contacts: everyone outside the pool full, the pool half */
    h0 = heap_bytes();
    for (int i = 0; i < w->m->n_agents; i++)
        for (int md = 0; md < RQ_MEDIA__COUNT && !w->pool[i]; md++)
            w->n_connected_added += fill_agent(w, i, (enum rq_media)md, -1);
    for (int k = 0; k < w->n_pool; k++)
        agent_cmd(w, w->m->agents[w->pool_list[k]].id, "ready");
    for (int k = 0; k < w->n_pool; k++) {
        const struct rq_conf_agent *ca = w->m->agents[w->pool_list[k]].conf;
        for (int md = 0; md < RQ_MEDIA__COUNT; md++) {
            /* voice agents of the pool stay free; digital ones three quarters full */
            int n = md == RQ_MEDIA_VOICE ? 0 : ca->capacity[md] * 3 / 4;
            if (rq_model_agent_can_take(&w->m->agents[w->pool_list[k]], (enum rq_media)md))
                w->n_connected_added += fill_agent(w, w->pool_list[k], (enum rq_media)md, n);
        }
    }
    w->connected_bytes = heap_bytes() - h0;

    /* (queue, medium) pairs whose contacts must wait: no available agent
     * meets the queue's skills, yet some agent could serve it later */
    {
        int nq = w->m->n_queues;
        unsigned char *served = xcalloc((size_t)nq, 1);
        for (int i = 0; i < w->m->n_agents; i++)
            for (int j = 0; j < w->n_agent_queues[i]; j++)
                for (int md = 0; md < RQ_MEDIA__COUNT; md++)
                    if (w->m->agents[i].conf->capacity[md] > 0)
                        served[w->agent_queues[i][j]] |= (unsigned char)(1u << md);
        w->hard = xcalloc((size_t)nq * RQ_MEDIA__COUNT, sizeof(int));
        for (int q = 0; q < nq; q++)
            for (int md = 0; md < RQ_MEDIA__COUNT; md++)
                if ((served[q] & (1u << md)) && !queue_has_free_agent(w, q, md))
                    w->hard[w->n_hard++] = q << 2 | md;
        free(served);
        if (w->n_hard == 0)
            die("no queue without a free agent: cannot make contacts wait");
        for (int k = w->n_hard - 1; k > 0; k--) { /* which pairs are the busy ones */
            int j = rnd_below(&w->rng, k + 1), t = w->hard[k];
            w->hard[k] = w->hard[j];
            w->hard[j] = t;
        }
        w->hard_cdf = zipf_cdf(w->n_hard, p->skew);
    }

    /* waiting contacts, arrived over the last minutes; then the escalation
     * steps that came due run (some contacts overflow or relax and find a
     * free agent), then fresh ones top the count up */
    h0 = heap_bytes();
    for (int k = 0; k < p->waiting; k++) {
        add_waiting(w, 120000, NULL);
        answer_all(w);
    }
    w->waiting_bytes = heap_bytes() - h0;
    w->n_waiting_added = (size_t)p->waiting;
    rq_router_run_timers(w->r);
    answer_all(w);
    while (total_waiting(w) < (size_t)p->waiting) {
        add_waiting(w, 0, NULL);
        answer_all(w);
        w->now++;
    }
}

static void
world_free(struct world *w)
{
    for (int i = 0; i < w->m->n_agents; i++)
        free(w->agent_queues[i]);
    free(w->agent_queues);
    free(w->n_agent_queues);
    free(w->pool);
    free(w->pool_list);
    free(w->hard);
    free(w->hard_cdf);
    free(w->offers);
    free(w->samples);
    free(w->chase);
    rq_router_free(w->r);
    rq_conf_free(w->conf);
}

/* --- the measured decisions -------------------------------------------- */

static void
record(struct world *w, enum kind k, int queue, uint64_t ns)
{
    if (w->n_samples == w->cap_samples) {
        w->cap_samples = w->cap_samples ? 2 * w->cap_samples : 4096;
        w->samples = realloc(w->samples, w->cap_samples * sizeof(*w->samples));
        if (w->samples == NULL)
            die("out of memory");
    }
    w->samples[w->n_samples++] = (struct sample){
        .ns = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns,
        .kind = (uint8_t)k,
        .strat = (uint8_t)(queue % N_STRATEGIES),
    };
}

static void
abandon(struct world *w, const char *id)
{
    struct rq_error err;
    char copy[64];

    snprintf(copy, sizeof(copy), "%s", id);
    if (rq_router_contact_abandon(w->r, copy, &err) < 0)
        die("abandon %s: %s", copy, err.message);
}

/* A contact arrives that a free agent of the pool may take; timed. The
 * offer is then abandoned (untimed), which leaves the agent free again. */
static void
step_arrival(struct world *w)
{
    for (int tries = 0; tries < 100; tries++) {
        int i = w->pool_list[rnd_below(&w->rng, w->n_pool)];
        const struct rq_agent *a = &w->m->agents[i];
        enum rq_media can[RQ_MEDIA__COUNT];
        int n_can = 0, q;
        struct contact_spec s;
        struct rq_contact *c;
        uint64_t ns;

        for (int md = 0; md < RQ_MEDIA__COUNT; md++)
            if (rq_model_agent_can_take(a, (enum rq_media)md))
                can[n_can++] = (enum rq_media)md;
        if (n_can == 0)
            continue;
        q = w->agent_queues[i][rnd_below(&w->rng, w->n_agent_queues[i])];
        spec_random(w, &s, q, channel_for(w, can[rnd_below(&w->rng, n_can)]));
        if (s.lang != NULL) /* a language the free agent speaks */
            s.lang = a->conf->langs[rnd_below(&w->rng, a->conf->n_langs)];
        w->now++;
        c = add_contact(w, &s, &ns);
        if (c->state == RQ_CS_RINGING) {
            record(w, K_ARRIVAL, q, ns);
            w->n_offers = 0; /* the offer of c: withdrawn by the abandon */
            abandon(w, c->id);
            answer_all(w);
            return;
        }
        w->misses[K_ARRIVAL]++; /* it waits: a queue's skills are not the whole story */
        answer_all(w);
        abandon(w, c->id);
        answer_all(w);
    }
    die("no free agent takes an arriving contact");
}

/* A waiting contact and a busy agent that fits its class and is on a
 * contact of the same medium; NULL when none is found. */
static const struct rq_agent *
busy_fit(struct world *w, const struct rq_contact **wc)
{
    for (int tries = 0; tries < 50; tries++) {
        int pair = w->hard[zipf_draw(w->hard_cdf, w->n_hard, &w->rng)];
        const struct rq_queue *q = &w->m->queues[pair >> 2];
        const struct rq_contact *c = NULL;
        const struct rq_class_key *k;
        const struct rq_bitset *set = &w->m->staffed;
        const struct rq_agent *pick = NULL;
        int n = 0, skip = rnd_below(&w->rng, 8);
        size_t start;

        for (const struct rq_contact *x = q->first; x != NULL && skip >= 0; x = x->q_next)
            if (x->state == RQ_CS_WAITING && x->n_mem > 0) {
                c = x;
                skip--;
            }
        if (c == NULL)
            continue;
        k = &c->mem[rnd_below(&w->rng, c->n_mem)].cls->key;
        if (k->n_reqs > 0)
            set = skill_set(w->m, k->reqs[0].skill, k->reqs[0].level);
        /* the first that fits after a random place: few agent structs are
         * read, so this untimed search leaves the caches much as they were */
        start = (size_t)rnd_below(&w->rng, (int)set->nbits);
        for (long i = rq_bitset_next(set, start); pick == NULL && n < 2;
             i = rq_bitset_next(set, (size_t)i + 1)) {
            const struct rq_agent *a;
            if (i < 0) { /* wrap around once */
                n++;
                i = rq_bitset_next(set, 0);
                if (i < 0)
                    break;
            }
            a = &w->m->agents[i];
            if (a->presence == RQ_PRES_READY && !a->in_wrap && a->offer == NULL &&
                a->load[k->media] > 0 && rq_model_agent_fits_class(w->m, k, a))
                pick = a;
        }
        if (pick != NULL) {
            *wc = c;
            return pick;
        }
    }
    return NULL;
}

/* A busy agent that fits waiting contacts becomes able to take one more;
 * timed: the call that frees it. Each contact it then takes is answered
 * and replaced by one like it, which waits (timed as "arrival, waits"). */
static void
step_agent(struct world *w)
{
    const struct rq_contact *wc = NULL, *end = NULL;
    const struct rq_agent *a = busy_fit(w, &wc);
    struct contact_spec taken[8];
    int n_taken = 0, wrap, queue;
    struct rq_error err;
    char cid[64], aid[64];
    uint64_t t0, t1;

    if (a == NULL)
        die("no busy agent fits a waiting contact");
    for (const struct rq_contact *x = a->active; x != NULL; x = x->agent_next)
        if (rq_channel_media(x->channel) == rq_channel_media(wc->channel) || end == NULL)
            end = x;
    snprintf(cid, sizeof(cid), "%s", end->id);
    snprintf(aid, sizeof(aid), "%s", a->id);
    queue = end->queue;
    wrap = w->conf->queues[end->queue].wrap_up_ms > 0;
    w->now++;
    if (wrap && rq_router_contact_end(w->r, cid, &err) < 0)
        die("end %s: %s", cid, err.message);
    t0 = mono_ns();
    if (wrap ? rq_router_wrapup_done(w->r, aid, &err) : rq_router_contact_end(w->r, cid, &err))
        die("%s %s: %s", wrap ? "wrapup.done" : "end", wrap ? aid : cid, err.message);
    t1 = mono_ns();
    for (size_t k = 0; k < w->n_offers && n_taken < 8; k++) {
        const struct rq_contact *c = w->offers[k].c;
        struct contact_spec *s = &taken[n_taken++];
        memset(s, 0, sizeof(*s));
        s->queue = c->queue;
        s->channel = c->channel;
        s->tier = c->tier;
        s->lang = c->lang_idx >= 0 ? w->m->langs[c->lang_idx] : NULL;
        s->persona = c->persona >= 0 ? personas[c->persona] : NULL;
        s->priority = c->base_priority;
    }
    record(w, K_AGENT, n_taken > 0 ? taken[0].queue : queue, t1 - t0);
    if (n_taken == 0)
        w->misses[K_AGENT]++;
    answer_all(w);
    for (int k = 0; k < n_taken; k++) {
        uint64_t ns;
        struct rq_contact *c;
        w->now++;
        c = add_contact(w, &taken[k], &ns);
        if (c->state == RQ_CS_WAITING)
            record(w, K_WAITS, taken[k].queue, ns);
        else
            w->misses[K_WAITS]++;
        answer_all(w);
    }
}

/*
 * The machine's own noise, measured the same way in the same run: a fixed
 * computation (a pointer chase through 64 KiB, in cache, no allocation),
 * timed once after every decision. Its median is set near the decisions'
 * median; its p99 is what a shared machine adds to any p99 measured here.
 */
#define CHASE_LEN 16384

static int cmp_u32(const void *a, const void *b);

static void
noise_init(struct world *w, double target_us)
{
    uint64_t s = 12345, best;
    uint32_t p = 0, runs[101];

    w->chase = xcalloc(CHASE_LEN, sizeof(*w->chase));
    for (uint32_t i = 0; i < CHASE_LEN; i++)
        w->chase[i] = i;
    for (uint32_t i = CHASE_LEN - 1; i > 0; i--) { /* one cycle through every slot */
        uint32_t j = (uint32_t)(rnd(&s) % i), t = w->chase[i];
        w->chase[i] = w->chase[j];
        w->chase[j] = t;
    }
    for (int rep = 0; rep < 101; rep++) { /* the median time of 1000 steps */
        uint64_t t0 = mono_ns();
        for (int k = 0; k < 1000; k++)
            p = w->chase[p];
        runs[rep] = (uint32_t)(mono_ns() - t0);
    }
    qsort(runs, 101, sizeof(runs[0]), cmp_u32);
    best = runs[50] ? runs[50] : 1;
    w->chase_steps = (int)(target_us * 1000.0 * 1000.0 / (double)best) + (int)(p & 1);
    if (w->chase_steps < 1)
        w->chase_steps = 1;
}

static void
noise_probe(struct world *w)
{
    uint32_t p = (uint32_t)rnd_below(&w->rng, CHASE_LEN);
    uint64_t t0 = mono_ns(), t1;

    for (int k = 0; k < w->chase_steps; k++)
        p = w->chase[p];
    t1 = mono_ns();
    __asm__ volatile("" : : "r"(p)); /* the chase is kept */
    record(w, K_NOISE, 0, t1 - t0);
}

/* One timed decision: an arrival or an agent freeing up, half each. */
static void
one_decision(struct world *w)
{
    if (rnd_below(&w->rng, 2) == 0)
        step_arrival(w);
    else
        step_agent(w);
}

static void
run_decisions(struct world *w, int n)
{
    for (int i = 0; i < n; i++) {
        one_decision(w);
        if (w->chase != NULL)
            noise_probe(w);
    }
}

/* --- figures ----------------------------------------------------------- */

struct figs {
    size_t n;
    double med, p99, p999, max; /* us */
    double per_s;               /* decisions per second of router time */
};

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Figures of the samples of the kinds in mask (1 << kind), strategy strat or -1. */
static struct figs
figures(const struct world *w, unsigned mask, int strat)
{
    uint32_t *v = xcalloc(w->n_samples, sizeof(*v));
    struct figs f = {0};
    double sum = 0;

    for (size_t i = 0; i < w->n_samples; i++) {
        const struct sample *s = &w->samples[i];
        if ((mask & (1u << s->kind)) && (strat < 0 || s->strat == strat)) {
            v[f.n++] = s->ns;
            sum += s->ns;
        }
    }
    if (f.n > 0) {
        qsort(v, f.n, sizeof(*v), cmp_u32);
        f.med = v[f.n / 2] / 1000.0;
        f.p99 = v[(size_t)((double)(f.n - 1) * 0.99)] / 1000.0;
        f.p999 = v[(size_t)((double)(f.n - 1) * 0.999)] / 1000.0;
        f.max = v[f.n - 1] / 1000.0;
        f.per_s = sum > 0 ? (double)f.n * 1e9 / sum : 0;
    }
    free(v);
    return f;
}

static const char *
verdict(int ok)
{
    return ok ? "PASS" : "FAIL";
}

static void
print_row(const char *strat, const char *what, struct figs f, int judged)
{
    printf("  %-16s %-15s %7zu %8.2f %8.2f %8.2f %9.2f %11.0f", strat, what, f.n, f.med, f.p99,
           f.p999, f.max, f.per_s);
    if (judged && f.n > 0)
        printf("   median %s  p99 %s", verdict(f.med < TARGET_MEDIAN_US),
               verdict(f.p99 < TARGET_P99_US));
    printf("\n");
}

static void
print_machine(int argc, char **argv)
{
    char line[512], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(model, sizeof(model), "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    printf("machine: %ld CPUs online (nproc), %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
    printf("command:");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
}

static int
longest_queue(const struct world *w)
{
    int n = 0;

    for (int q = 0; q < w->m->n_queues; q++)
        if (w->m->queues[q].n_waiting > n)
            n = w->m->queues[q].n_waiting;
    return n;
}

static size_t
live_contacts(const struct world *w)
{
    return w->m->n_contacts;
}

static void
print_scenario(const struct world *w, const struct params *p)
{
    printf("\nscenario (seed %llu):\n", (unsigned long long)p->seed);
    printf("  configuration: generated libconfig file of %.1f MiB, rq_conf_load took %.2f s\n",
           (double)w->conf_file_bytes / 1048576.0, w->load_s);
    printf("  %d agents: %.0f%% voice-only (voice 1), the rest digital (chat 3..8 and email %d at "
           "once);\n  3..8 skills each from %d (Zipf-like: a few skills most agents have, a long "
           "tail),\n  levels 1..10; 1..3 of %d languages; personas\n",
           p->agents, VOICE_SHARE * 100, EMAIL_CAP, p->skills, N_LANGS);
    printf("  %d queues: 1..3 skills at levels 1..7, half escalate (relax, overflow); "
           "strategies in turn;\n  tiers emergency/key_account/loyal/standard/prospect "
           "(1/5/15/60/19 %% of contacts)\n",
           p->queues);
    printf("  live contacts: %zu (connected or ringing %zu, waiting %zu) after %d timed "
           "decisions\n",
           live_contacts(w), live_contacts(w) - total_waiting(w), total_waiting(w), p->samples);
    printf("  waiting contacts spread over %d busy (queue, medium) pairs, Zipf exponent %g: the "
           "longest queue has %d\n",
           w->n_hard, p->skew, longest_queue(w));
    printf("  mix: a digital agent holds up to %d emails plus its chats (its personal work "
           "queue),\n  a voice agent one call; %.0f%% of agents (%d) keep spare capacity, all "
           "others are full.\n  That is how 15k agents hold ~500k live contacts: a large "
           "blended center with email backlog.\n",
           EMAIL_CAP, POOL_SHARE * 100, w->n_pool);
    printf("  digest of offers and replies %016llx (same seed, same routing: same digest)\n",
           (unsigned long long)w->digest);
    printf("  untimed retries: %ld arrivals waited, %ld freed agents took nothing, %ld "
           "replacements were offered at once\n",
           w->misses[K_ARRIVAL], w->misses[K_AGENT], w->misses[K_WAITS]);
}

static void
print_decisions(const struct world *w, const struct params *p)
{
    const unsigned both = 1u << K_ARRIVAL | 1u << K_AGENT;

    printf("\ndecisions at %d agents / %zu waiting (us per router call; decisions/s of router "
           "time, one core):\n",
           p->agents, total_waiting(w));
    printf("  %-16s %-15s %7s %8s %8s %8s %9s %11s\n", "strategy", "decision", "n", "median", "p99",
           "p999", "max", "decisions/s");
    for (int s = 0; s < N_STRATEGIES; s++) {
        print_row(strategies[s], "arrival", figures(w, 1u << K_ARRIVAL, s), 1);
        print_row("", "agent frees", figures(w, 1u << K_AGENT, s), 1);
        print_row("", "both", figures(w, both, s), 1);
    }
    print_row("all", "arrival", figures(w, 1u << K_ARRIVAL, -1), 1);
    print_row("all", "agent frees", figures(w, 1u << K_AGENT, -1), 1);
    print_row("all", "both", figures(w, both, -1), 1);
    print_row("all", "arrival, waits", figures(w, 1u << K_WAITS, -1), 0);
    print_row("noise floor", "fixed work", figures(w, 1u << K_NOISE, -1), 0);
    printf("  (an agent freeing up picks a contact, not an agent: no strategy runs; its rows are "
           "split by\n  the queue of the contact taken. \"arrival, waits\" is a contact.new "
           "that finds no agent:\n  its reply carries position and EWT. \"noise floor\": the "
           "same fixed in-cache computation\n  timed after every decision, sized to the "
           "decisions' median: whatever its p99 and p999 exceed\n  its median by, this "
           "machine adds to every p99 and p999 above)\n");
}

static void
print_memory(const struct world *w, const struct params *p)
{
    double per_conn =
        w->n_connected_added ? (double)w->connected_bytes / (double)w->n_connected_added : 0;
    double per_wait =
        w->n_waiting_added ? (double)w->waiting_bytes / (double)w->n_waiting_added : 0;

    printf("\nmemory (heap in use, mallinfo2 uordblks + hblkhd, before/after):\n");
    if (w->conf_bytes == 0 && w->model_bytes == 0) {
        printf("  n/a: this allocator does not report through mallinfo2 (sanitizer build?)\n");
        return;
    }
    printf("  configuration %.1f MiB + model %.1f MiB for %d agents and %d queues: %zu "
           "bytes/agent (queues included)\n",
           (double)w->conf_bytes / 1048576.0, (double)w->model_bytes / 1048576.0, p->agents,
           p->queues, (w->conf_bytes + w->model_bytes) / (size_t)p->agents);
    printf("  per connected contact: %.0f bytes (over %zu)\n", per_conn, w->n_connected_added);
    printf("  per waiting contact: %.0f bytes (over %zu, classes and heaps included)  %s "
           "(< %.0f)\n",
           per_wait, w->n_waiting_added, verdict(per_wait < TARGET_WAITING_BYTE),
           TARGET_WAITING_BYTE);
}

static void
print_scaling(const struct world *ws, const int *agents, const struct params *p, int samples)
{
    const unsigned both = 1u << K_ARRIVAL | 1u << K_AGENT;
    struct figs first = figures(&ws[0], both, -1), last = figures(&ws[4], both, -1);
    double ratio = first.med > 0 ? last.med / first.med : 0;
    double ratio99 = first.p99 > 0 ? last.p99 / first.p99 : 0;
    const char *shape = ratio <= 1.25  ? "flat"
                        : ratio <= 2.0 ? "logarithmic"
                        : ratio < 7.5  ? "between logarithmic and linear"
                                       : "linear";

    printf("\nscaling (queues %d, skills %d, waiting %d fixed; the five scales in memory at "
           "once, %d decisions\n  each, interleaved: the same machine moments for all, and "
           "caches shared by all, so colder\n  than for one daemon alone):\n",
           p->queues, p->skills, p->waiting, samples);
    printf("  %7s %9s %12s %12s %12s %10s\n", "agents", "contacts", "arrival med", "agent med",
           "both median", "both p99");
    for (int k = 0; k < 5; k++) {
        struct figs f = figures(&ws[k], both, -1);
        printf("  %7d %9zu %12.2f %12.2f %12.2f %10.2f\n", agents[k], live_contacts(&ws[k]),
               figures(&ws[k], 1u << K_ARRIVAL, -1).med, figures(&ws[k], 1u << K_AGENT, -1).med,
               f.med, f.p99);
    }
    printf("  ratio %d/%d agents: median x%.2f, p99 x%.2f (linear would be x%.1f): %s  %s\n"
           "  (flat: x1.25 or less; logarithmic: x2 or less, what log n and the caches "
           "give; linear: x7.5 or more)\n",
           agents[4], agents[0], ratio, ratio99, (double)agents[4] / agents[0], shape,
           verdict(ratio <= 2.0));
}

/* --- main --------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr, "usage: ringq-route [--quick] [--agents N] [--queues N] [--skills N] "
                    "[--waiting N] [--samples N] [--seed N] [--skew S] [--no-scaling]\n");
    exit(2);
}

static long
arg_num(int argc, char **argv, int *i, long lo, long hi)
{
    char *end;
    long v;

    if (*i + 1 >= argc)
        usage();
    v = strtol(argv[++*i], &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        usage();
    return v;
}

int
main(int argc, char **argv)
{
    struct params p = {15000, 5000, 200, 5000, 120000, 1, 0.8};
    int quick = 0, scaling = 1, scale_samples;
    int scale_agents[5] = {1000, 2000, 4000, 8000, 15000};
    struct world *ws = xcalloc(5, sizeof(*ws)), *w = &ws[4]; /* ws[4]: the full scale */
    double per_agent_marginal = -1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
            p = (struct params){1200, 400, 60, 400, 4000, p.seed, p.skew};
        } else if (strcmp(argv[i], "--agents") == 0) {
            p.agents = (int)arg_num(argc, argv, &i, 10, 1000000);
        } else if (strcmp(argv[i], "--queues") == 0) {
            p.queues = (int)arg_num(argc, argv, &i, 1, 100000);
        } else if (strcmp(argv[i], "--skills") == 0) {
            p.skills = (int)arg_num(argc, argv, &i, 1, 1000);
        } else if (strcmp(argv[i], "--waiting") == 0) {
            p.waiting = (int)arg_num(argc, argv, &i, 1, 1000000);
        } else if (strcmp(argv[i], "--samples") == 0) {
            p.samples = (int)arg_num(argc, argv, &i, 100, 100000000);
        } else if (strcmp(argv[i], "--seed") == 0) {
            p.seed = (uint64_t)arg_num(argc, argv, &i, 0, 1L << 40);
        } else if (strcmp(argv[i], "--skew") == 0) {
            if (i + 1 >= argc || (p.skew = strtod(argv[++i], NULL)) < 0 || p.skew > 10)
                usage();
        } else if (strcmp(argv[i], "--no-scaling") == 0) {
            scaling = 0;
        } else {
            usage();
        }
    }
    if (quick)
        for (int k = 0; k < 5; k++)
            scale_agents[k] = p.agents * (int[]){1, 2, 4, 8, 15}[k] / 15;
    else
        for (int k = 0; k < 5; k++)
            scale_agents[k] = p.agents * scale_agents[k] / 15000;
    scale_samples = p.samples / 6 > 1000 ? p.samples / 6 : 1000;
    scale_agents[4] = p.agents;

    printf("ringq bench/route: the routing core alone (no I/O, injected clock)\n");
    print_machine(argc, argv);

    world_build(w, &p);
    run_decisions(w, p.samples / 10); /* warm up, then the probe sized on it */
    noise_init(w, figures(w, 1u << K_ARRIVAL | 1u << K_AGENT, -1).med);
    w->n_samples = 0;
    run_decisions(w, p.samples);
    print_scenario(w, &p);
    print_decisions(w, &p);
    print_memory(w, &p);

    if (scaling) {
        /* Every scale in memory at once, their decisions interleaved: each
         * sees the same machine at the same moments, so their ratio holds
         * on a shared, noisy machine. */
        for (int k = 0; k < 4; k++) {
            struct params sp = p;
            sp.agents = scale_agents[k];
            world_build(&ws[k], &sp);
        }
        if (w->conf_bytes + w->model_bytes > ws[0].conf_bytes + ws[0].model_bytes)
            per_agent_marginal =
                (double)(w->conf_bytes + w->model_bytes - ws[0].conf_bytes - ws[0].model_bytes) /
                (double)(scale_agents[4] - scale_agents[0]);
        if (w->conf_bytes > 0)
            printf("  per agent (growth from %d to %d agents, configuration + model): %.0f "
                   "bytes  %s (< %.0f)\n",
                   scale_agents[0], scale_agents[4], per_agent_marginal,
                   verdict(per_agent_marginal >= 0 && per_agent_marginal < TARGET_AGENT_BYTES),
                   TARGET_AGENT_BYTES);
        w->n_samples = 0;
        for (int i = 0; i < scale_samples; i++)
            for (int k = 0; k < 5; k++)
                one_decision(&ws[k]);
        print_scaling(ws, scale_agents, &p, scale_samples);
        for (int k = 0; k < 4; k++)
            world_free(&ws[k]);
    } else if (w->conf_bytes > 0) {
        size_t all = (w->conf_bytes + w->model_bytes) / (size_t)p.agents;
        printf("  per agent (upper bound, queues included; the growth figure needs the "
               "scaling runs): %zu bytes  %s (< %.0f)\n",
               all, verdict((double)all < TARGET_AGENT_BYTES), TARGET_AGENT_BYTES);
    }
    world_free(w);
    free(ws);
    return 0;
}
