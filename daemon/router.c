/*
 * router.c - matching contacts to agents: ordering, offers, ring-no-answer,
 * wrap-up, escalation, transfer and abandon (see router.h).
 *
 * Two decisions, both indexed:
 *   - a contact waits or arrives: the agents that may take it are the OR,
 *     over the classes it waits in, of (available for its medium AND skilled
 *     at each level AND speaking its language); the queue's strategy picks
 *     one of them;
 *   - an agent can take one more contact: it looks at the heads of the
 *     non-empty classes listed under its own skills (and those that need no
 *     skill) plus contacts waiting for it by preference, and takes the first
 *     in service order that it fits.
 * After every event no available agent fits a waiting contact, so neither
 * decision ever has to look further.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "stats.h"
#include "strategy/strategy.h"

struct rq_router {
    struct rq_model *m;            /* the state */
    const struct rq_conf *conf;    /* the configuration it was built from */
    const struct rq_clock *clock;  /* time source */
    const struct rq_hooks *hooks;  /* where changes are reported */
    void *harg;                    /* hooks' argument */
    uint64_t rng;                  /* strategy "random" */
    int draining;                  /* stopping: no new contacts, no new offers */
    struct rq_conf_agent *retired; /* confs of retiring agents (removed by a reload) */
    int n_retired;                 /* entries in retired */
};

#define QC_ADD(r, c, field, v)                                                                     \
    do {                                                                                           \
        struct rq_queue *q_ = &(r)->m->queues[(c)->queue];                                         \
        (void)rq_stats_roll(&q_->iv, now_ms(r));                                                   \
        q_->total.field += (v);                                                                    \
        q_->by_tier[(c)->tier].field += (v);                                                       \
        q_->iv.cur.c.field += (v);                                                                 \
    } while (0)

const char *
rq_change_name(enum rq_change chg)
{
    static const char *const names[] = {"queued",   "offered",   "requeued",
                                        "answered", "escalated", "transferred",
                                        "ended",    "abandoned", "priority"};
    return (unsigned)chg < sizeof(names) / sizeof(names[0]) ? names[chg] : "unknown";
}

static uint64_t
now_ms(const struct rq_router *r)
{
    return rq_clock_now(r->clock);
}

static void
hook_contact(struct rq_router *r, const struct rq_contact *c, enum rq_change chg)
{
    if (r->hooks->contact != NULL)
        r->hooks->contact(r->harg, c, chg);
}

static void
hook_queue(struct rq_router *r, int q)
{
    if (r->hooks->queue != NULL)
        r->hooks->queue(r->harg, &r->m->queues[q]);
}

static void
hook_alert(struct rq_router *r, const struct rq_contact *c, const char *what)
{
    if (r->hooks->alert != NULL)
        r->hooks->alert(r->harg, c, what);
}

/* Refresh a's indexes and derived state; report it when it changed or when
 * force is set (load or reason changed under the same state). Returns the
 * media the agent has become able to take. */
static unsigned
agent_update(struct rq_router *r, struct rq_agent *a, int force)
{
    int changed;
    unsigned gained;

    if (a->retiring && a->presence != RQ_PRES_LOGGED_OUT && a->load_total == 0 &&
        a->offer == NULL && !a->in_wrap) {
        /* removed by a reload and done with its last contact: it leaves */
        a->presence = RQ_PRES_LOGGED_OUT;
        a->reason[0] = '\0';
        force = 1;
    }
    gained = rq_model_agent_refresh(r->m, a, now_ms(r), &changed);

    if ((changed || force) && r->hooks->agent != NULL)
        r->hooks->agent(r->harg, a);
    return gained;
}

static void serve_agent(struct rq_router *r, struct rq_agent *a);
static double ewt_at(const struct rq_router *r, const struct rq_contact *c, int pos);
static void retired_free(struct rq_conf_agent *v, int n);
static void route_contact(struct rq_router *r, struct rq_contact *c);

static void
settle_agent(struct rq_router *r, struct rq_agent *a, int force)
{
    if (agent_update(r, a, force) != 0)
        serve_agent(r, a);
}

/*
 * Requirement sets.
 */

static int
skillref_cmp(const void *a, const void *b)
{
    const struct rq_conf_skillref *x = a, *y = b;

    return x->skill - y->skill;
}

/* Merge b into a (the higher level wins). -1 when more than RQ_MAX_REQS. */
static int
merge_reqs(struct rq_conf_skillref *a, int *na, const struct rq_conf_skillref *b, int nb)
{
    for (int i = 0; i < nb; i++) {
        int j;
        for (j = 0; j < *na; j++) {
            if (a[j].skill == b[i].skill) {
                if (b[i].level > a[j].level)
                    a[j].level = b[i].level;
                break;
            }
        }
        if (j == *na) {
            if (*na == RQ_MAX_REQS)
                return -1;
            a[(*na)++] = b[i];
        }
    }
    return 0;
}

/* The class key of contact c in queue q: its own requirements (own queue)
 * or the overflow queue's, relaxed as its escalation says. */
static void
contact_key(const struct rq_router *r, const struct rq_contact *c, int q, struct rq_class_key *k)
{
    const struct rq_conf_queue *cq = &r->conf->queues[q];
    int overdue = c->overdue;

    memset(k, 0, sizeof(*k));
    k->queue = q;
    k->media = rq_channel_media(c->channel);
    k->lang = (c->relax_language || overdue) ? -1 : c->lang_idx;
    if (q == c->queue) {
        k->n_reqs = c->n_reqs;
        memcpy(k->reqs, c->reqs, sizeof(c->reqs[0]) * (size_t)c->n_reqs);
    } else {
        k->n_reqs = cq->n_skills;
        memcpy(k->reqs, cq->skills, sizeof(cq->skills[0]) * (size_t)cq->n_skills);
    }
    for (int i = 0; i < k->n_reqs; i++) {
        int lv = overdue ? 1 : k->reqs[i].level - c->relax_levels;
        k->reqs[i].level = lv < 1 ? 1 : lv;
    }
    qsort(k->reqs, (size_t)k->n_reqs, sizeof(k->reqs[0]), skillref_cmp);
}

static void
leave_classes(struct rq_router *r, struct rq_contact *c)
{
    for (int i = 0; i < c->n_mem; i++)
        rq_model_class_remove(r->m, &c->mem[i]);
    c->n_mem = 0;
    if (rq_heap_node_linked(&c->pref_node) && c->preferred_agent != NULL) {
        struct rq_agent *a = rq_model_agent(r->m, c->preferred_agent);
        if (a != NULL)
            rq_heap_remove(&a->pref, &c->pref_node);
    }
}

/* Put a waiting contact into the classes its escalation allows (or into its
 * preferred agent's list while it holds for that agent). */
static void
join_classes(struct rq_router *r, struct rq_contact *c)
{
    int queues[RQ_MAX_MEMBERSHIPS];
    int nq = 0;

    leave_classes(r, c);
    if (c->pref_hold) {
        struct rq_agent *a = rq_model_agent(r->m, c->preferred_agent);
        if (a != NULL && rq_heap_push(&a->pref, &c->pref_node) == 0)
            return;
        c->pref_hold = 0;
    }
    queues[nq++] = c->queue;
    for (int i = 0; i < c->n_extra_queues && nq < RQ_MAX_MEMBERSHIPS; i++)
        queues[nq++] = c->extra_queues[i];
    for (int i = 0; i < nq; i++) {
        struct rq_class_key key;
        struct rq_class *cl;
        int dup = 0;
        contact_key(r, c, queues[i], &key);
        if ((cl = rq_model_class(r->m, &key)) == NULL)
            continue;
        for (int j = 0; j < c->n_mem; j++)
            dup |= c->mem[j].cls == cl;
        if (dup)
            continue;
        c->mem[c->n_mem].cls = cl;
        c->mem[c->n_mem].contact = c;
        c->mem[c->n_mem].node.idx = (size_t)-1;
        if (rq_model_class_insert(r->m, &c->mem[c->n_mem]) == 0)
            c->n_mem++;
    }
}

/* Recompute the ordering key after priority or class changes. */
static void
set_order(const struct rq_router *r, struct rq_contact *c)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];

    if (r->conf->tiers[c->tier].emergency)
        c->order_class = RQ_ORD_EMERGENCY;
    else
        c->order_class = c->overdue ? RQ_ORD_OVERDUE : RQ_ORD_NORMAL;
    c->order_ms = (int64_t)c->deadline_ms - (int64_t)c->priority * (int64_t)cq->priority_step_ms;
}

/* Target, deadline and maximum wait for c's current queue and arrival. */
static void
set_targets(const struct rq_router *r, struct rq_contact *c)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];
    const struct rq_conf_tier *t = &r->conf->tiers[c->tier];

    c->target_ms = (uint64_t)((double)cq->target_ms[c->channel] * t->sla_factor + 0.5);
    c->deadline_ms = c->due_at_ms ? c->due_at_ms : c->arrived_ms + c->target_ms;
    if (c->due_at_ms && c->due_at_ms > c->arrived_ms)
        c->target_ms = c->due_at_ms - c->arrived_ms;
    c->max_wait_at_ms = c->arrived_ms + cq->max_wait_ms[c->tier];
    c->tier_rank = t->rank;
    set_order(r, c);
}

static uint64_t
step_due(const struct rq_contact *c, const struct rq_conf_step *s)
{
    if (s->at_percent >= 0)
        return c->arrived_ms + c->target_ms * (uint64_t)s->at_percent / 100u;
    return c->arrived_ms + s->after_ms;
}

static uint64_t
alert_due(const struct rq_router *r, const struct rq_contact *c)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];

    return c->arrived_ms + c->target_ms * (uint64_t)cq->alert_percent / 100u;
}

/* Arm c's timer for its next event (or clear it). */
static void
arm_contact(struct rq_router *r, struct rq_contact *c)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];
    uint64_t due = UINT64_MAX;

    if (c->state == RQ_CS_RINGING) {
        due = c->ring_deadline_ms;
        if (!c->alerted && alert_due(r, c) < due)
            due = alert_due(r, c); /* a long ring must not hide a missed target */
    } else if (c->state == RQ_CS_WAITING) {
        if (c->pref_hold && c->pref_until_ms < due)
            due = c->pref_until_ms;
        for (int i = 0; i < cq->n_steps; i++) {
            uint64_t d;
            if (c->steps_done & (1u << i))
                continue;
            d = step_due(c, &cq->steps[i]);
            if (d < due)
                due = d;
        }
        if (!c->alerted && alert_due(r, c) < due)
            due = alert_due(r, c);
        if (!c->overdue && c->max_wait_at_ms < due)
            due = c->max_wait_at_ms;
    }
    if (due == UINT64_MAX)
        rq_model_timer_clear(r->m, &c->timer);
    else
        rq_model_timer_set(r->m, &c->timer, due);
}

/*
 * Offers.
 */

static void
offer(struct rq_router *r, struct rq_contact *c, struct rq_agent *a)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];
    struct rq_queue *q = &r->m->queues[c->queue];
    uint64_t now = now_ms(r);

    leave_classes(r, c);
    c->pref_hold = 0;
    c->state = RQ_CS_RINGING;
    c->agent = a;
    c->offered_ms = now;
    c->ring_deadline_ms = now + cq->ring_timeout_ms;
    c->offers++;
    q->n_waiting--;
    q->n_ringing++;
    a->offer = c;
    arm_contact(r, c);
    if (r->hooks->offer != NULL)
        r->hooks->offer(r->harg, c, a);
    agent_update(r, a, 0);
    hook_contact(r, c, RQ_CHG_OFFERED);
    hook_queue(r, c->queue);
}

/* The agents that may take c now, into m->cand; 0 when there are none. */
static int
candidates(struct rq_router *r, const struct rq_contact *c)
{
    struct rq_model *m = r->m;
    int any = 0;

    if (c->n_mem == 0)
        rq_bitset_clear_all(&m->cand);
    for (int i = 0; i < c->n_mem; i++) {
        /* cand |= available AND each skill level AND language: one pass */
        const struct rq_class_key *k = &c->mem[i].cls->key;
        const uint64_t *sets[RQ_MAX_REQS + 1];
        const uint64_t *avail = m->avail[k->media].words;
        uint64_t found = 0;
        int ns = 0;
        for (int j = 0; j < k->n_reqs; j++)
            sets[ns++] = m->skill_ge[(size_t)k->reqs[j].skill * RQ_MAX_LEVEL +
                                     (size_t)(k->reqs[j].level - 1)]
                             .words;
        if (k->lang >= 0)
            sets[ns++] = m->lang_bs[k->lang].words;
        for (size_t w = 0; w < m->cand.nwords; w++) {
            uint64_t x = avail[w];
            for (int j = 0; x != 0 && j < ns; j++)
                x &= sets[j][w];
            m->cand.words[w] = i == 0 ? x : m->cand.words[w] | x; /* the first one clears */
            found |= x;
        }
        any |= found != 0;
    }
    if (any && c->persona >= 0) {
        /* Prefer agents good with the customer's persona, if any is free. */
        const uint64_t *pw = m->persona_bs[c->persona].words;
        uint64_t hit = 0;
        for (size_t w = 0; w < m->cand.nwords; w++)
            hit |= m->cand.words[w] & pw[w];
        for (size_t w = 0; hit != 0 && w < m->cand.nwords; w++)
            m->cand.words[w] &= pw[w];
    }
    return any;
}

static void
route_contact(struct rq_router *r, struct rq_contact *c)
{
    struct rq_model *m = r->m;
    struct rq_queue *q;
    struct rq_pick p;

    if (c->state != RQ_CS_WAITING || r->draining)
        return;
    if (c->pref_hold) {
        struct rq_agent *a = rq_model_agent(m, c->preferred_agent);
        struct rq_class_key key;
        contact_key(r, c, c->queue, &key);
        if (a != NULL && rq_model_agent_can_take(a, rq_channel_media(c->channel)) &&
            rq_model_agent_fits_class(m, &key, a))
            offer(r, c, a);
        return;
    }
    if (!candidates(r, c))
        return;
    q = &m->queues[c->queue];
    p.model = m;
    p.contact = c;
    p.queue = q;
    p.candidates = &m->cand;
    p.now_ms = now_ms(r);
    p.rng = &r->rng;
    p.strategy = q->strategy;
    offer(r, c, &m->agents[q->strategy->pick(&p)]);
}

static struct rq_contact *
better(struct rq_contact *best, struct rq_contact *c)
{
    return best == NULL || rq_contact_cmp(c, best) < 0 ? c : best;
}

/* The first waiting contact of the class in slot i of a non-empty-class heap. */
static struct rq_contact *
ne_first(const struct rq_heap *h, size_t i)
{
    const struct rq_class *cl = rq_container_of(h->slots[i], struct rq_class, ne_node);

    return rq_container_of(rq_heap_top(&cl->waiting), struct rq_membership, node)->contact;
}

/* Slots of h still to visit, a small binary heap by their first contacts. */
#define NE_FRONTIER 64

static void
frontier_push(const struct rq_heap *h, size_t *open, size_t *n, size_t slot)
{
    size_t i = (*n)++;

    while (i > 0 && rq_contact_cmp(ne_first(h, slot), ne_first(h, open[(i - 1) / 2])) < 0) {
        open[i] = open[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    open[i] = slot;
}

static void
frontier_pop(const struct rq_heap *h, size_t *open, size_t *n)
{
    size_t last = open[--*n], i = 0;

    for (;;) {
        size_t l = 2 * i + 1, best = l;
        if (l >= *n)
            break;
        if (l + 1 < *n && rq_contact_cmp(ne_first(h, open[l + 1]), ne_first(h, open[l])) < 0)
            best = l + 1;
        if (rq_contact_cmp(ne_first(h, open[best]), ne_first(h, last)) >= 0)
            break;
        open[i] = open[best];
        i = best;
    }
    open[i] = last;
}

/* The best of best and the first contacts of the classes in h that a fits.
 * h is visited in service order (an ordered walk from its root), so this
 * stops at the first class a fits, or as soon as the rest comes after best:
 * a freed agent looks at a few classes, not at every class that waits. */
static struct rq_contact *
best_in_heap(struct rq_router *r, struct rq_agent *a, const struct rq_heap *h,
             struct rq_contact *best)
{
    size_t open[NE_FRONTIER], n = 0;

    if (h->len > 0)
        open[n++] = 0;
    while (n > 0) {
        size_t slot = open[0];
        const struct rq_class *cl = rq_container_of(h->slots[slot], struct rq_class, ne_node);
        struct rq_contact *c = ne_first(h, slot);
        if (best != NULL && rq_contact_cmp(c, best) >= 0)
            return best;
        if (rq_model_agent_fits_class(r->m, &cl->key, a))
            return c;
        frontier_pop(h, open, &n);
        for (size_t ch = 2 * slot + 1; ch <= 2 * slot + 2 && ch < h->len; ch++) {
            if (n == NE_FRONTIER) { /* a long run of classes a does not fit: look at all */
                for (size_t i = 0; i < h->len; i++) {
                    cl = rq_container_of(h->slots[i], struct rq_class, ne_node);
                    if (rq_model_agent_fits_class(r->m, &cl->key, a))
                        best = better(best, ne_first(h, i));
                }
                return best;
            }
            frontier_push(h, open, &n, ch);
        }
    }
    return best;
}

/* a can take one more contact: give it the first waiting one it fits. */
static void
serve_agent(struct rq_router *r, struct rq_agent *a)
{
    struct rq_contact *best = NULL;
    struct rq_heap_node *top = rq_heap_top(&a->pref);

    if (a->presence != RQ_PRES_READY || a->offer != NULL || r->draining)
        return;
    if (top != NULL) {
        struct rq_contact *c = rq_container_of(top, struct rq_contact, pref_node);
        if (rq_model_agent_can_take(a, rq_channel_media(c->channel)))
            best = c;
    }
    for (int md = 0; md < RQ_MEDIA__COUNT; md++) {
        if (!rq_model_agent_can_take(a, (enum rq_media)md))
            continue;
        for (int k = 0; k < a->conf->n_skills; k++)
            best = best_in_heap(r, a, rq_model_ne(r->m, a->conf->skills[k].skill, md), best);
        best = best_in_heap(r, a, rq_model_ne(r->m, -1, md), best);
    }
    if (best != NULL)
        offer(r, best, a);
}

/* Back to waiting (keeping arrival and deadline) and route again. */
static void
requeue(struct rq_router *r, struct rq_contact *c, enum rq_change chg)
{
    struct rq_queue *q = &r->m->queues[c->queue];

    c->state = RQ_CS_WAITING;
    c->agent = NULL;
    q->n_waiting++;
    join_classes(r, c);
    arm_contact(r, c);
    hook_contact(r, c, chg);
    hook_queue(r, c->queue);
    route_contact(r, c);
    c->queued = chg == RQ_CHG_REQUEUED || c->state == RQ_CS_WAITING;
}

/* Withdraw c's ringing offer. rona_reason non-NULL: the agent missed or
 * refused it and goes not_ready with that reason. */
static void
withdraw(struct rq_router *r, struct rq_contact *c, const char *why, const char *rona_reason)
{
    struct rq_agent *a = c->agent;
    struct rq_queue *q = &r->m->queues[c->queue];

    a->offer = NULL;
    c->agent = NULL;
    q->n_ringing--;
    if (r->hooks->revoke != NULL)
        r->hooks->revoke(r->harg, c, a, why);
    if (rona_reason != NULL) {
        a->presence = RQ_PRES_NOT_READY;
        snprintf(a->reason, sizeof(a->reason), "%s", rona_reason);
        QC_ADD(r, c, rona, 1);
        a->rona++;
    }
    agent_update(r, a, rona_reason != NULL);
    if (c->state == RQ_CS_RINGING)
        requeue(r, c, RQ_CHG_REQUEUED);
    serve_agent(r, a);
}

/*
 * Contacts.
 */

static int
find_contact(struct rq_router *r, const char *id, struct rq_contact **out, struct rq_error *err)
{
    if ((*out = rq_model_contact(r->m, id)) == NULL)
        return rq_fail(err, RQ_E_NOT_FOUND, "contact '%s' not found", id);
    return 0;
}

static int
find_agent(struct rq_router *r, const char *id, struct rq_agent **out, struct rq_error *err)
{
    if ((*out = rq_model_agent(r->m, id)) == NULL)
        return rq_fail(err, RQ_E_NOT_FOUND, "agent '%s' not found", id);
    return 0;
}

static char *
dup_or_null(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

/* Validate in and create the contact, waiting (not yet routed). count: add
 * it to the queue's offered counters (not for a restored contact). */
static int
create_contact(struct rq_router *r, const char *source, const struct rq_contact_in *in, int count,
               struct rq_contact **out, struct rq_error *err)
{
    const struct rq_conf *conf = r->conf;
    struct rq_conf_skillref own[RQ_MAX_REQS], merged[RQ_MAX_REQS];
    int n_own = 0, n_merged, qi, tier = conf->default_tier, persona = -1;
    enum rq_channel ch = RQ_CH_VOICE;
    enum rq_persona pe;
    uint64_t now = now_ms(r);
    struct rq_contact *c;
    struct rq_agent *pa = NULL;

    if (in->id == NULL || in->id[0] == '\0')
        return rq_fail(err, RQ_E_BAD_FIELD, "contact: required");
    if (rq_model_contact(r->m, in->id) != NULL)
        return rq_fail(err, RQ_E_DUPLICATE, "contact '%s' already exists", in->id);
    if (r->m->n_contacts >= conf->max_contacts)
        return rq_fail(err, RQ_E_OVERLOADED, "%zu live contacts: at the configured maximum",
                       r->m->n_contacts);
    if (in->queue == NULL)
        return rq_fail(err, RQ_E_BAD_FIELD, "queue: required");
    if ((qi = rq_conf_queue_index(conf, in->queue)) < 0)
        return rq_fail(err, RQ_E_NOT_FOUND, "queue '%s' not found", in->queue);
    if (count && r->draining)
        return rq_fail(err, RQ_E_UNAVAILABLE, "ringqd is stopping: not taking new contacts");
    if (count && conf->queues[qi].closed)
        return rq_fail(err, RQ_E_UNAVAILABLE, "queue '%s' is closed", in->queue);
    if (in->channel != NULL && rq_channel_parse(in->channel, &ch) < 0)
        return rq_fail(err, RQ_E_BAD_FIELD, "channel: unknown channel '%s'", in->channel);
    if (in->tier != NULL && (tier = rq_conf_tier_index(conf, in->tier)) < 0)
        return rq_fail(err, RQ_E_BAD_FIELD, "customer.tier: unknown tier '%s'", in->tier);
    if (in->persona != NULL) {
        if (rq_persona_parse(in->persona, &pe) < 0)
            return rq_fail(err, RQ_E_BAD_FIELD, "customer.persona: unknown persona '%s'",
                           in->persona);
        persona = (int)pe;
    }
    if (in->due_at_ms > now + RQ_MAX_DUE_AHEAD_MS)
        return rq_fail(err, RQ_E_BAD_FIELD, "due_at: more than %u days ahead",
                       (unsigned)(RQ_MAX_DUE_AHEAD_MS / 86400000u));
    if (in->priority < 0 || in->priority > RQ_MAX_PRIORITY)
        return rq_fail(err, RQ_E_BAD_FIELD, "priority: must be 0..%d", RQ_MAX_PRIORITY);
    for (int i = 0; i < in->n_skills; i++) {
        int s = rq_conf_skill_index(conf, in->skills[i].name);
        if (s < 0)
            return rq_fail(err, RQ_E_BAD_FIELD, "skills.%s: unknown skill", in->skills[i].name);
        if (in->skills[i].level < 1 || in->skills[i].level > RQ_MAX_LEVEL)
            return rq_fail(err, RQ_E_BAD_FIELD, "skills.%s: level must be 1..%d",
                           in->skills[i].name, RQ_MAX_LEVEL);
        own[n_own].skill = s;
        own[n_own++].level = in->skills[i].level;
    }
    n_merged = conf->queues[qi].n_skills;
    memcpy(merged, conf->queues[qi].skills, sizeof(merged[0]) * (size_t)n_merged);
    if (merge_reqs(merged, &n_merged, own, n_own) < 0)
        return rq_fail(err, RQ_E_BAD_FIELD, "skills: more than %d with the queue's own",
                       RQ_MAX_REQS);
    if (in->preferred_agent != NULL)
        pa = rq_model_agent(r->m, in->preferred_agent); /* unknown: ignored */

    if ((c = rq_model_contact_alloc(r->m, in->id)) == NULL)
        return rq_fail(err, RQ_E_INTERNAL, "out of memory");
    c->source = dup_or_null(source);
    c->customer_id = dup_or_null(in->customer_id);
    c->lang = dup_or_null(in->lang);
    c->preferred_agent = pa != NULL ? strdup(pa->id) : NULL;
    /* A language nobody speaks cannot be required: it would only starve. */
    c->lang_idx = rq_model_lang_index(r->m, in->lang);
    c->persona = persona;
    c->channel = ch;
    c->queue = qi;
    c->prev_queue = -1;
    c->tier = tier;
    c->base_priority = c->priority = in->priority;
    memcpy(c->own_reqs, own, sizeof(own[0]) * (size_t)n_own);
    c->n_own_reqs = n_own;
    memcpy(c->reqs, merged, sizeof(merged[0]) * (size_t)n_merged);
    c->n_reqs = n_merged;
    c->arrived_ms = in->arrived_ms && in->arrived_ms <= now ? in->arrived_ms : now;
    c->first_arrived_ms = c->arrived_ms;
    c->due_at_ms = in->due_at_ms;
    c->state = RQ_CS_WAITING;
    c->queued = 1;
    c->ewt_at_arrival_ms = -1;
    set_targets(r, c);
    if (count)
        QC_ADD(r, c, offered, 1);
    rq_model_queue_append(r->m, c);
    r->m->queues[qi].n_waiting++;
    if (pa != NULL && pa->presence != RQ_PRES_LOGGED_OUT && conf->queues[qi].preferred_wait_ms) {
        struct rq_class_key key;
        contact_key(r, c, qi, &key);
        if (rq_model_agent_fits_class(r->m, &key, pa)) {
            c->pref_hold = 1;
            c->pref_until_ms = c->arrived_ms + conf->queues[qi].preferred_wait_ms;
        }
    }
    *out = c;
    return 0;
}

int
rq_router_contact_new(struct rq_router *r, const char *source, const struct rq_contact_in *in,
                      struct rq_contact_result *res, struct rq_error *err)
{
    struct rq_contact *c;

    if (create_contact(r, source, in, 1, &c, err) < 0)
        return -1;
    join_classes(r, c);
    arm_contact(r, c);
    hook_contact(r, c, RQ_CHG_QUEUED);
    hook_queue(r, c->queue);
    if (res != NULL) {
        res->position = 0;
        res->ewt_s = 0;
    }
    route_contact(r, c);
    c->queued = c->state == RQ_CS_WAITING;
    c->ewt_at_arrival_ms = 0;
    if (c->state == RQ_CS_WAITING) {
        int pos = rq_router_position(r, c);
        double ewt = ewt_at(r, c, pos);
        c->ewt_at_arrival_ms = (int64_t)(ewt * 1000.0 + 0.5);
        if (res != NULL) {
            res->position = pos;
            res->ewt_s = ewt;
        }
    }
    return 0;
}

int
rq_router_contact_restore(struct rq_router *r, const char *source, const struct rq_contact_in *in,
                          const struct rq_contact_restore *rs, struct rq_error *err)
{
    struct rq_contact *c;
    struct rq_agent *a = NULL;

    if (rs->state == RQ_CS_CONNECTED &&
        (rs->agent == NULL || (a = rq_model_agent(r->m, rs->agent)) == NULL))
        return rq_fail(err, RQ_E_NOT_FOUND, "contact '%s': agent '%s' not found", in->id,
                       rs->agent != NULL ? rs->agent : "");
    if (create_contact(r, source, in, 0, &c, err) < 0)
        return -1;
    if (rs->first_arrived_ms != 0 && rs->first_arrived_ms <= c->arrived_ms)
        c->first_arrived_ms = rs->first_arrived_ms;
    c->offers = rs->offers;
    c->alerted = rs->alerted;
    if (a != NULL) {
        struct rq_queue *q = &r->m->queues[c->queue];
        enum rq_media md = rq_channel_media(c->channel);
        c->pref_hold = 0;
        c->state = RQ_CS_CONNECTED;
        c->agent = a;
        c->answered_ms = rs->answered_ms ? rs->answered_ms : now_ms(r);
        c->answered_in_target = c->answered_ms - c->arrived_ms <= c->target_ms;
        c->agent_next = a->active;
        a->active = c;
        a->load[md]++;
        a->load_total++;
        q->n_waiting--;
        q->n_connected++;
        rq_model_queue_unlink(r->m, c);
        agent_update(r, a, 1);
        hook_contact(r, c, RQ_CHG_ANSWERED);
    } else {
        /* waiting, or ringing when the old process died: waits again */
        join_classes(r, c);
        arm_contact(r, c);
        hook_contact(r, c, rs->state == RQ_CS_RINGING ? RQ_CHG_REQUEUED : RQ_CHG_QUEUED);
        route_contact(r, c);
    }
    hook_queue(r, c->queue);
    return 0;
}

int
rq_router_agent_restore(struct rq_router *r, const char *agent, const char *presence,
                        const char *reason, uint64_t wrap_until_ms, const char *wrap_queue)
{
    struct rq_agent *a = rq_model_agent(r->m, agent);

    if (a == NULL)
        return -1;
    if (presence != NULL && strcmp(presence, "ready") == 0)
        a->restore_presence = RQ_PRES_READY;
    else if (presence != NULL && strcmp(presence, "not_ready") == 0)
        a->restore_presence = RQ_PRES_NOT_READY;
    else
        a->restore_presence = RQ_PRES_LOGGED_OUT;
    snprintf(a->restore_reason, sizeof(a->restore_reason), "%s", reason != NULL ? reason : "");
    a->restore_wrap_until_ms = wrap_until_ms;
    a->restore_wrap_queue = wrap_queue != NULL ? rq_conf_queue_index(r->conf, wrap_queue) : -1;
    return 0;
}

void
rq_router_queue_restore(struct rq_router *r, int queue, const struct rq_qcounters *total,
                        const struct rq_qcounters *by_tier)
{
    struct rq_queue *q = &r->m->queues[queue];

    q->total = *total;
    for (int t = 0; t < r->conf->n_tiers; t++)
        q->by_tier[t] = by_tier[t];
    if (total->handled > 0)
        q->aht_ewma_ms = (double)total->handle_ms / (double)total->handled;
    hook_queue(r, queue);
}

/* Histogram bucket of a wait against the contact's target. */
static int
wait_bucket(uint64_t waited, uint64_t target)
{
    for (int i = 0; i < RQ_WAIT_BUCKETS - 1; i++)
        if ((double)waited <= rq_wait_bucket_edges[i] * (double)target)
            return i;
    return RQ_WAIT_BUCKETS - 1;
}

/* Connect ringing contact c with its agent. */
static void
answer(struct rq_router *r, struct rq_contact *c)
{
    struct rq_agent *a = c->agent;
    struct rq_queue *q = &r->m->queues[c->queue];
    enum rq_media md = rq_channel_media(c->channel);
    uint64_t now = now_ms(r), waited = now - c->arrived_ms;
    struct rq_class_key own;

    a->offer = NULL;
    a->load[md]++;
    a->load_total++;
    a->handled++;
    c->agent_next = a->active;
    a->active = c;
    c->state = RQ_CS_CONNECTED;
    c->answered_ms = now;
    c->answered_in_target = waited <= c->target_ms;
    q->n_ringing--;
    q->n_connected++;
    rq_model_queue_unlink(r->m, c);
    QC_ADD(r, c, answered, 1);
    QC_ADD(r, c, answered_in_target, (uint64_t)c->answered_in_target);
    QC_ADD(r, c, wait_ms_answered, waited);
    QC_ADD(r, c, wait_buckets[wait_bucket(waited, c->target_ms)], 1);
    QC_ADD(r, c, answered_immediately, (uint64_t)!c->queued);
    QC_ADD(r, c, answered_in_rings, (uint64_t)(waited <= q->conf->target_ms[RQ_CH_VOICE]));
    if (c->ewt_at_arrival_ms >= 0) {
        uint64_t ewt = (uint64_t)c->ewt_at_arrival_ms;
        QC_ADD(r, c, ewt_answered, 1);
        QC_ADD(r, c, ewt_over_ms, waited > ewt ? waited - ewt : 0);
        QC_ADD(r, c, ewt_under_ms, waited < ewt ? ewt - waited : 0);
    }
    contact_key(r, c, c->queue, &own);
    if (!rq_model_agent_fits_class(r->m, &own, a))
        QC_ADD(r, c, flowed_out, 1);
    arm_contact(r, c);
    agent_update(r, a, 1);
    hook_contact(r, c, RQ_CHG_ANSWERED);
    hook_queue(r, c->queue);
    serve_agent(r, a); /* a chat agent may take another */
}

static void
unlink_active(struct rq_agent *a, struct rq_contact *c)
{
    for (struct rq_contact **pp = &a->active; *pp != NULL; pp = &(*pp)->agent_next) {
        if (*pp == c) {
            *pp = c->agent_next;
            c->agent_next = NULL;
            return;
        }
    }
}

/* The agent's part of a connected contact is over: load, handle time, wrap-up. */
static void
release_agent(struct rq_router *r, struct rq_contact *c)
{
    struct rq_agent *a = c->agent;
    struct rq_queue *q = &r->m->queues[c->queue];
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];
    enum rq_media md = rq_channel_media(c->channel);
    uint64_t now = now_ms(r), talk = now - c->answered_ms;

    unlink_active(a, c);
    a->load[md]--;
    a->load_total--;
    q->n_connected--; /* c->agent stays: the final report names who handled it */
    QC_ADD(r, c, handle_ms, talk);
    QC_ADD(r, c, handled, 1);
    a->handle_ms += talk;
    a->ended++;
    q->aht_ewma_ms = 0.8 * q->aht_ewma_ms + 0.2 * (double)(talk + cq->wrap_up_ms);
    if (cq->wrap_up_ms > 0 && a->presence != RQ_PRES_LOGGED_OUT) {
        if (!a->in_wrap)
            a->wrap_start_ms = now;
        a->in_wrap = 1;
        a->wrap_queue = c->queue;
        if (now + cq->wrap_up_ms > a->wrap_until_ms)
            a->wrap_until_ms = now + cq->wrap_up_ms;
        rq_model_timer_set(r->m, &a->timer, a->wrap_until_ms);
    }
}

static void
end_wrap(struct rq_router *r, struct rq_agent *a)
{
    uint64_t now = now_ms(r);

    a->in_wrap = 0;
    a->wrap_until_ms = 0;
    rq_model_timer_clear(r->m, &a->timer);
    if (a->wrap_queue >= 0) { /* unknown for a wrap-up resumed after a restart */
        struct rq_queue *q = &r->m->queues[a->wrap_queue];
        q->total.handle_ms += now - a->wrap_start_ms;
        (void)rq_stats_roll(&q->iv, now);
        q->iv.cur.c.handle_ms += now - a->wrap_start_ms;
    }
    a->handle_ms += now - a->wrap_start_ms;
    settle_agent(r, a, 1);
}

static void
finish(struct rq_router *r, struct rq_contact *c, enum rq_change chg)
{
    int q = c->queue;

    hook_contact(r, c, chg);
    hook_queue(r, q);
    rq_model_contact_free(r->m, c);
}

static void
abandon(struct rq_router *r, struct rq_contact *c)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];
    struct rq_queue *q = &r->m->queues[c->queue];
    struct rq_agent *a = NULL;
    uint64_t waited = now_ms(r) - c->arrived_ms;

    if (c->state == RQ_CS_RINGING) {
        a = c->agent;
        a->offer = NULL;
        q->n_ringing--;
        if (r->hooks->revoke != NULL)
            r->hooks->revoke(r->harg, c, a, "abandoned");
        /* c->agent stays for the final report: it rang there */
    } else {
        leave_classes(r, c);
        q->n_waiting--;
    }
    rq_model_queue_unlink(r->m, c);
    c->state = RQ_CS_ABANDONED;
    QC_ADD(r, c, abandoned, 1);
    QC_ADD(r, c, abandoned_in_target, (uint64_t)(waited <= c->target_ms));
    QC_ADD(r, c, short_abandoned, (uint64_t)(waited < cq->short_abandon_ms));
    finish(r, c, RQ_CHG_ABANDONED);
    if (a != NULL)
        settle_agent(r, a, 0);
}

static void
end_contact(struct rq_router *r, struct rq_contact *c)
{
    struct rq_agent *a = c->agent;

    release_agent(r, c);
    c->state = RQ_CS_ENDED;
    finish(r, c, RQ_CHG_ENDED);
    settle_agent(r, a, 1);
}

int
rq_router_contact_answered(struct rq_router *r, const char *contact, const char *agent,
                           struct rq_error *err)
{
    struct rq_contact *c;
    struct rq_agent *a;

    if (find_contact(r, contact, &c, err) < 0 || find_agent(r, agent, &a, err) < 0)
        return -1;
    if (c->state == RQ_CS_CONNECTED && c->agent == a)
        return 0; /* repeated report of the same answer */
    if (c->state != RQ_CS_RINGING || c->agent != a)
        return rq_fail(err, RQ_E_BAD_STATE, "contact '%s' is %s, not ringing at agent '%s'",
                       contact, rq_contact_state_name(c->state), agent);
    answer(r, c);
    return 0;
}

int
rq_router_contact_no_answer(struct rq_router *r, const char *contact, const char *agent,
                            const char *reason, struct rq_error *err)
{
    struct rq_contact *c;
    struct rq_agent *a;

    if (find_contact(r, contact, &c, err) < 0 || find_agent(r, agent, &a, err) < 0)
        return -1;
    if (c->state != RQ_CS_RINGING || c->agent != a)
        return rq_fail(err, RQ_E_BAD_STATE, "contact '%s' is %s, not ringing at agent '%s'",
                       contact, rq_contact_state_name(c->state), agent);
    withdraw(r, c, reason != NULL ? reason : "no_answer", "rona");
    return 0;
}

int
rq_router_contact_abandon(struct rq_router *r, const char *contact, struct rq_error *err)
{
    struct rq_contact *c;

    if (find_contact(r, contact, &c, err) < 0)
        return -1;
    if (c->state == RQ_CS_CONNECTED)
        return rq_fail(err, RQ_E_BAD_STATE, "contact '%s' is connected: send contact.end", contact);
    abandon(r, c);
    return 0;
}

int
rq_router_contact_end(struct rq_router *r, const char *contact, struct rq_error *err)
{
    struct rq_contact *c;

    if (find_contact(r, contact, &c, err) < 0)
        return -1;
    if (c->state != RQ_CS_CONNECTED)
        abandon(r, c); /* the customer hung up before anyone answered */
    else
        end_contact(r, c);
    return 0;
}

int
rq_router_contact_drop(struct rq_router *r, const char *contact, struct rq_error *err)
{
    return rq_router_contact_end(r, contact, err);
}

int
rq_router_contact_transfer(struct rq_router *r, const char *contact, const char *queue,
                           struct rq_error *err)
{
    struct rq_contact *c;
    struct rq_agent *a = NULL;
    struct rq_conf_skillref merged[RQ_MAX_REQS];
    int qi, n_merged, old;

    if (find_contact(r, contact, &c, err) < 0)
        return -1;
    if ((qi = rq_conf_queue_index(r->conf, queue)) < 0)
        return rq_fail(err, RQ_E_NOT_FOUND, "queue '%s' not found", queue);
    if (qi == c->queue && c->state != RQ_CS_CONNECTED)
        return rq_fail(err, RQ_E_BAD_STATE, "contact '%s' is already waiting in queue '%s'",
                       contact, queue);
    if (r->conf->queues[qi].closed)
        return rq_fail(err, RQ_E_UNAVAILABLE, "queue '%s' is closed", queue);
    n_merged = r->conf->queues[qi].n_skills;
    memcpy(merged, r->conf->queues[qi].skills, sizeof(merged[0]) * (size_t)n_merged);
    if (merge_reqs(merged, &n_merged, c->own_reqs, c->n_own_reqs) < 0)
        return rq_fail(err, RQ_E_BAD_FIELD, "queue: too many skills with the contact's own");

    old = c->queue;
    c->prev_queue = old;
    if (c->state == RQ_CS_CONNECTED) {
        a = c->agent;
        release_agent(r, c);
        c->agent = NULL;
    } else {
        if (c->state == RQ_CS_RINGING) {
            a = c->agent;
            a->offer = NULL;
            r->m->queues[old].n_ringing--;
            if (r->hooks->revoke != NULL)
                r->hooks->revoke(r->harg, c, a, "transferred");
            c->agent = NULL;
        } else {
            r->m->queues[old].n_waiting--;
        }
        leave_classes(r, c);
        rq_model_queue_unlink(r->m, c);
    }
    QC_ADD(r, c, transferred_out, 1);
    c->queue = qi;
    memcpy(c->reqs, merged, sizeof(merged[0]) * (size_t)n_merged);
    c->n_reqs = n_merged;
    c->arrived_ms = now_ms(r);
    c->steps_done = 0;
    c->relax_levels = c->relax_language = c->alerted = 0;
    c->n_extra_queues = 0;
    c->pref_hold = 0;
    c->priority = c->base_priority;
    c->overdue = 0;
    c->due_at_ms = 0;
    c->ewt_at_arrival_ms = -1;
    set_targets(r, c);
    QC_ADD(r, c, offered, 1);
    rq_model_queue_append(r->m, c);
    hook_queue(r, old);
    requeue(r, c, RQ_CHG_TRANSFERRED);
    if (a != NULL)
        settle_agent(r, a, 1);
    return 0;
}

int
rq_router_contact_priority(struct rq_router *r, const char *contact, int priority,
                           struct rq_error *err)
{
    struct rq_contact *c;
    int raised;

    if (find_contact(r, contact, &c, err) < 0)
        return -1;
    if (priority < 0 || priority > RQ_MAX_PRIORITY)
        return rq_fail(err, RQ_E_BAD_FIELD, "priority: must be an integer 0..%d", RQ_MAX_PRIORITY);
    if (c->state != RQ_CS_WAITING && c->state != RQ_CS_RINGING)
        return rq_fail(err, RQ_E_BAD_STATE,
                       "contact '%s' is %s: only a waiting or ringing contact has a priority",
                       contact, rq_contact_state_name(c->state));
    raised = c->priority - c->base_priority; /* escalation steps' share */
    c->base_priority = priority;
    c->priority = priority + raised > RQ_MAX_PRIORITY ? RQ_MAX_PRIORITY : priority + raised;
    set_order(r, c);
    if (c->state == RQ_CS_WAITING)
        join_classes(r, c); /* out of every heap and back in at the new key */
    hook_contact(r, c, RQ_CHG_PRIORITY);
    hook_queue(r, c->queue);
    return 0;
}

/*
 * Agents.
 */

int
rq_router_agent_login(struct rq_router *r, const char *agent, struct rq_error *err)
{
    struct rq_agent *a;
    uint64_t now = now_ms(r);

    if (find_agent(r, agent, &a, err) < 0)
        return -1;
    if (a->presence != RQ_PRES_LOGGED_OUT)
        return 0; /* a new session of an agent already logged in */
    if (a->retiring)
        return rq_fail(err, RQ_E_NOT_FOUND, "agent '%s' was removed from the configuration", agent);
    if (a->restore_presence != RQ_PRES_LOGGED_OUT) {
        /* back after a restart of ringqd: as it was before */
        a->presence = a->restore_presence;
        snprintf(a->reason, sizeof(a->reason), "%s", a->restore_reason);
        a->restore_presence = RQ_PRES_LOGGED_OUT;
        if (a->restore_wrap_until_ms > now) {
            /* its wrap-up resumes until the stored end */
            a->in_wrap = 1;
            a->wrap_start_ms = now;
            a->wrap_until_ms = a->restore_wrap_until_ms;
            a->wrap_queue = a->restore_wrap_queue;
            rq_model_timer_set(r->m, &a->timer, a->wrap_until_ms);
        }
        a->restore_wrap_until_ms = 0;
    } else {
        a->presence = RQ_PRES_NOT_READY;
        snprintf(a->reason, sizeof(a->reason), "login");
    }
    a->login_ms = a->idle_since_ms = now;
    a->work_ms = 0;
    a->work_since_ms = a->load_total > 0 ? now : 0;
    a->handled = 0;
    a->ended = 0;
    a->handle_ms = 0;
    a->rona = 0;
    settle_agent(r, a, 1);
    return 0;
}

int
rq_router_agent_logout(struct rq_router *r, const char *agent, struct rq_error *err)
{
    struct rq_agent *a;
    struct rq_heap_node *n;

    if (find_agent(r, agent, &a, err) < 0)
        return -1;
    if (a->presence == RQ_PRES_LOGGED_OUT)
        return 0;
    a->presence = RQ_PRES_LOGGED_OUT;
    a->reason[0] = '\0';
    if (a->in_wrap) {
        a->in_wrap = 0;
        a->wrap_until_ms = 0;
        rq_model_timer_clear(r->m, &a->timer);
    }
    if (a->offer != NULL)
        withdraw(r, a->offer, "logged_out", NULL);
    /* Contacts holding for this agent stop waiting for it. */
    while ((n = rq_heap_top(&a->pref)) != NULL) {
        struct rq_contact *c = rq_container_of(n, struct rq_contact, pref_node);
        rq_heap_remove(&a->pref, n);
        c->pref_hold = 0;
        join_classes(r, c);
        arm_contact(r, c);
        route_contact(r, c);
    }
    agent_update(r, a, 1);
    return 0;
}

int
rq_router_agent_state(struct rq_router *r, const char *agent, const char *state, const char *reason,
                      struct rq_error *err)
{
    struct rq_agent *a;

    if (find_agent(r, agent, &a, err) < 0)
        return -1;
    if (a->presence == RQ_PRES_LOGGED_OUT)
        return rq_fail(err, RQ_E_BAD_STATE, "agent '%s' is logged out", agent);
    if (a->retiring)
        return rq_fail(err, RQ_E_BAD_STATE,
                       "agent '%s' was removed from the configuration: it finishes its "
                       "contacts and is logged out",
                       agent);
    if (strcmp(state, "ready") == 0) {
        a->presence = RQ_PRES_READY;
        a->reason[0] = '\0';
    } else if (strcmp(state, "not_ready") == 0) {
        a->presence = RQ_PRES_NOT_READY;
        snprintf(a->reason, sizeof(a->reason), "%s", reason != NULL ? reason : "");
    } else {
        return rq_fail(err, RQ_E_BAD_FIELD, "state: must be ready or not_ready");
    }
    settle_agent(r, a, 1);
    return 0;
}

static int
offered_to(struct rq_router *r, const char *agent, const char *contact, struct rq_agent **pa,
           struct rq_contact **pc, struct rq_error *err)
{
    if (find_agent(r, agent, pa, err) < 0 || find_contact(r, contact, pc, err) < 0)
        return -1;
    if ((*pc)->state != RQ_CS_RINGING || (*pc)->agent != *pa)
        return rq_fail(err, RQ_E_BAD_STATE, "contact '%s' is not offered to agent '%s'", contact,
                       agent);
    return 0;
}

int
rq_router_offer_accept(struct rq_router *r, const char *agent, const char *contact,
                       struct rq_error *err)
{
    struct rq_agent *a;
    struct rq_contact *c;

    if ((c = rq_model_contact(r->m, contact)) != NULL && c->state == RQ_CS_CONNECTED &&
        c->agent != NULL && strcmp(c->agent->id, agent) == 0)
        return 0; /* the source reported the answer first */
    if (offered_to(r, agent, contact, &a, &c, err) < 0)
        return -1;
    answer(r, c);
    return 0;
}

int
rq_router_offer_reject(struct rq_router *r, const char *agent, const char *contact,
                       struct rq_error *err)
{
    struct rq_agent *a;
    struct rq_contact *c;

    if (offered_to(r, agent, contact, &a, &c, err) < 0)
        return -1;
    withdraw(r, c, "rejected", "rejected");
    return 0;
}

int
rq_router_agent_end(struct rq_router *r, const char *agent, const char *contact,
                    struct rq_error *err)
{
    struct rq_agent *a;
    struct rq_contact *c;

    if (find_agent(r, agent, &a, err) < 0 || find_contact(r, contact, &c, err) < 0)
        return -1;
    if (c->state != RQ_CS_CONNECTED || c->agent != a)
        return rq_fail(err, RQ_E_BAD_STATE, "contact '%s' is not connected to agent '%s'", contact,
                       agent);
    end_contact(r, c);
    return 0;
}

int
rq_router_wrapup_done(struct rq_router *r, const char *agent, struct rq_error *err)
{
    struct rq_agent *a;

    if (find_agent(r, agent, &a, err) < 0)
        return -1;
    if (!a->in_wrap)
        return rq_fail(err, RQ_E_BAD_STATE, "agent '%s' is not in wrap-up", agent);
    end_wrap(r, a);
    return 0;
}

/*
 * Timers.
 */

static void
contact_timer(struct rq_router *r, struct rq_contact *c, uint64_t now)
{
    const struct rq_conf_queue *cq = &r->conf->queues[c->queue];
    int changed = 0;

    if (c->state == RQ_CS_RINGING) {
        if (!c->alerted && now >= alert_due(r, c)) {
            c->alerted = 1;
            hook_alert(r, c, "near_target");
        }
        if (now >= c->ring_deadline_ms)
            withdraw(r, c, "rona", "rona");
        else
            arm_contact(r, c);
        return;
    }
    if (c->state != RQ_CS_WAITING)
        return;
    if (c->pref_hold && now >= c->pref_until_ms) {
        c->pref_hold = 0;
        changed = 1;
    }
    for (int i = 0; i < cq->n_steps; i++) {
        const struct rq_conf_step *s = &cq->steps[i];
        if ((c->steps_done & (1u << i)) || step_due(c, s) > now)
            continue;
        c->steps_done |= 1u << i;
        c->relax_levels += s->relax_levels;
        c->relax_language |= s->relax_language;
        c->priority += s->raise_priority;
        if (c->priority > RQ_MAX_PRIORITY)
            c->priority = RQ_MAX_PRIORITY;
        for (int k = 0; k < s->n_add_queues && c->n_extra_queues < RQ_MAX_MEMBERSHIPS - 1; k++)
            c->extra_queues[c->n_extra_queues++] = s->add_queues[k];
        changed = 1;
    }
    if (!c->alerted && now >= alert_due(r, c)) {
        c->alerted = 1;
        hook_alert(r, c, "near_target");
    }
    if (!c->overdue && now >= c->max_wait_at_ms) {
        c->overdue = 1;
        hook_alert(r, c, "max_wait");
        changed = 1;
    }
    if (changed) {
        set_order(r, c);
        join_classes(r, c);
        hook_contact(r, c, RQ_CHG_ESCALATED);
    }
    arm_contact(r, c);
    if (changed)
        route_contact(r, c);
}

uint64_t
rq_router_next_timer(const struct rq_router *r)
{
    struct rq_heap_node *top = rq_heap_top(&r->m->timers);

    return top == NULL ? UINT64_MAX : rq_container_of(top, struct rq_timer, node)->due_ms;
}

void
rq_router_run_timers(struct rq_router *r)
{
    uint64_t now = now_ms(r);
    struct rq_heap_node *top;

    while ((top = rq_heap_top(&r->m->timers)) != NULL) {
        struct rq_timer *t = rq_container_of(top, struct rq_timer, node);
        if (t->due_ms > now)
            break;
        rq_heap_remove(&r->m->timers, top);
        if (t->kind == RQ_TIMER_CONTACT) {
            contact_timer(r, rq_container_of(t, struct rq_contact, timer), now);
        } else {
            struct rq_agent *a = rq_container_of(t, struct rq_agent, timer);
            if (a->in_wrap && now >= a->wrap_until_ms)
                end_wrap(r, a);
        }
    }
}

/*
 * Figures and life cycle.
 */

int
rq_router_position(const struct rq_router *r, const struct rq_contact *c)
{
    size_t ahead = 0;

    if (c->state != RQ_CS_WAITING)
        return 0;
    for (const struct rq_class *cl = r->m->queues[c->queue].classes; cl != NULL;
         cl = cl->queue_next)
        ahead += rq_model_class_rank(cl, c); /* binary search: classes are kept sorted */
    return (int)ahead + 1;
}

/* EWT of c at position pos: agents logged in with its skills share the queue. */
static double
ewt_at(const struct rq_router *r, const struct rq_contact *c, int pos)
{
    const struct rq_model *m = r->m;
    const uint64_t *sets[RQ_MAX_REQS];
    struct rq_class_key k;
    size_t staffed = 0;

    if (pos == 0)
        return 0;
    contact_key(r, c, c->queue, &k);
    for (int j = 0; j < k.n_reqs; j++) /* popcount(staffed AND each skill level): one pass */
        sets[j] =
            m->skill_ge[(size_t)k.reqs[j].skill * RQ_MAX_LEVEL + (size_t)(k.reqs[j].level - 1)]
                .words;
    for (size_t w = 0; w < m->staffed.nwords; w++) {
        uint64_t x = m->staffed.words[w];
        for (int j = 0; x != 0 && j < k.n_reqs; j++)
            x &= sets[j][w];
        if (x != 0) /* most words are: a popcount may be a libgcc call */
            staffed += (size_t)__builtin_popcountll(x);
    }
    return (double)pos * m->queues[c->queue].aht_ewma_ms / 1000.0 / (double)(staffed ? staffed : 1);
}

double
rq_router_ewt_s(const struct rq_router *r, const struct rq_contact *c)
{
    return ewt_at(r, c, rq_router_position(r, c));
}

uint64_t
rq_router_longest_wait_ms(const struct rq_router *r, const struct rq_queue *q)
{
    uint64_t now = now_ms(r);

    return q->first != NULL && now > q->first->arrived_ms ? now - q->first->arrived_ms : 0;
}

struct rq_router *
rq_router_new(const struct rq_conf *conf, const struct rq_clock *clock,
              const struct rq_hooks *hooks, void *hooks_arg)
{
    static const struct rq_hooks none = {0};
    struct rq_router *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    if ((r->m = rq_model_new(conf)) == NULL) {
        free(r);
        return NULL;
    }
    r->conf = conf;
    r->clock = clock;
    r->hooks = hooks != NULL ? hooks : &none;
    r->harg = hooks_arg;
    r->rng = conf->random_seed ? conf->random_seed : (rq_clock_now(clock) | 1u);
    return r;
}

void
rq_router_free(struct rq_router *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->m->n_queues; i++)
        rq_stats_iv_free(&r->m->queues[i].iv);
    rq_model_free(r->m);
    retired_free(r->retired, r->n_retired);
    free(r);
}

const struct rq_model *
rq_router_model(const struct rq_router *r)
{
    return r->m;
}

void
rq_router_drain(struct rq_router *r)
{
    r->draining = 1;
}

size_t
rq_router_in_progress(const struct rq_router *r)
{
    size_t n = 0;

    for (int i = 0; i < r->m->n_queues; i++)
        n += (size_t)(r->m->queues[i].n_ringing + r->m->queues[i].n_connected);
    return n;
}

uint64_t
rq_router_now(const struct rq_router *r)
{
    return now_ms(r);
}

struct rq_agent *
rq_router_agent_mut(struct rq_router *r, const char *id)
{
    return rq_model_agent(r->m, id);
}

/*
 * Reload (router.h): a new model for a new configuration, every live
 * contact and agent carried over by name.
 */

/* The state of one reload while the new model is being built. */
struct reload {
    struct rq_router *r;           /* the running router: old model, old conf */
    struct rq_router nr;           /* the same over the new model, hooks silenced */
    const struct rq_conf *nc;      /* the new configuration */
    int *qmap, *tmap, *smap;       /* old queue, tier, skill index -> new, -1: gone */
    struct rq_conf_agent *retired; /* confs of removed agents still on contacts */
    int n_retired;
    struct rq_contact **revoke; /* old contacts whose offer's agent is gone */
    int n_revoke;
    void **gone; /* udata of removed agents */
    int n_gone;
    struct nc_agent *nc_mem;    /* one per agent of nc, hashed in nc_agents */
    struct nc_agent *nc_agents; /* nc's agent ids */
};

/* An agent id of the new configuration, for finding it in one step. */
struct nc_agent {
    const char *id;    /* nc->agents[i].id */
    UT_hash_handle hh; /* in reload.nc_agents */
};

typedef int rq_name_lookup(const struct rq_conf *conf, const char *name);

/* Old index -> index in nc of the same name (every conf struct has its name
 * first), -1 where nc has none. */
static int *
name_map(const struct rq_conf *nc, const void *arr, int n, size_t stride, rq_name_lookup *find)
{
    int *map = calloc((size_t)(n > 0 ? n : 1), sizeof(*map));

    for (int i = 0; map != NULL && i < n; i++)
        map[i] = find(nc, *(char *const *)(const void *)((const char *)arr + (size_t)i * stride));
    return map;
}

/* Hash the new configuration's agent ids (every old agent is looked up). */
static int
index_nc_agents(struct reload *R)
{
    const struct rq_conf *nc = R->nc;

    if ((R->nc_mem = calloc((size_t)(nc->n_agents ? nc->n_agents : 1), sizeof(*R->nc_mem))) == NULL)
        return -1;
    for (int i = 0; i < nc->n_agents; i++) {
        R->nc_mem[i].id = nc->agents[i].id;
        HASH_ADD_KEYPTR(hh, R->nc_agents, R->nc_mem[i].id, strlen(R->nc_mem[i].id), &R->nc_mem[i]);
    }
    return 0;
}

/* Does the new configuration have agent id? */
static int
agent_in_nc(const struct reload *R, const char *id)
{
    struct nc_agent *e = NULL;

    HASH_FIND_STR(R->nc_agents, id, e);
    return e != NULL;
}

static void
retired_free(struct rq_conf_agent *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].id);
        free(v[i].name);
        free(v[i].token);
    }
    free(v);
}

/* A removed agent's conf, for the time it finishes its contacts: no skills,
 * languages or personas (it is never offered anything again). */
static int
retire_conf(struct rq_conf_agent *dst, const struct rq_conf_agent *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->id = strdup(src->id);
    dst->name = src->name != NULL ? strdup(src->name) : NULL;
    dst->token = src->token != NULL ? strdup(src->token) : NULL;
    dst->line = src->line;
    memcpy(dst->capacity, src->capacity, sizeof(dst->capacity));
    return dst->id == NULL || (src->name != NULL && dst->name == NULL) ||
                   (src->token != NULL && dst->token == NULL)
               ? -1
               : 0;
}

static void
qcounters_add(struct rq_qcounters *dst, const struct rq_qcounters *src)
{
#define RQ_ADD(field) dst->field += src->field;
    RQ_QCOUNTER_FIELDS(RQ_ADD)
#undef RQ_ADD
    for (int i = 0; i < RQ_WAIT_BUCKETS; i++)
        dst->wait_buckets[i] += src->wait_buckets[i];
}

/* Refuse what the new file cannot take; list the agents that retire. */
static int
reload_check(struct reload *R, struct rq_error *err)
{
    const struct rq_model *m = R->r->m;

    for (int q = 0; q < m->n_queues; q++) {
        const struct rq_queue *oq = &m->queues[q];
        int live = oq->n_waiting + oq->n_ringing + oq->n_connected;
        if (R->qmap[q] < 0 && live > 0 && R->nc->fallback_queue < 0)
            return rq_fail(err, RQ_E_BAD_CONFIG,
                           "%s: queue '%s' has %d live contacts and is not in the new file: set "
                           "fallback_queue to the queue that takes them",
                           R->nc->path, oq->conf->name, live);
    }
    if ((R->retired = calloc((size_t)(m->n_agents ? m->n_agents : 1), sizeof(*R->retired))) == NULL)
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    for (int i = 0; i < m->n_agents; i++) {
        const struct rq_agent *a = &m->agents[i];
        if (agent_in_nc(R, a->id) || (a->load_total == 0 && !a->in_wrap))
            continue;
        if (retire_conf(&R->retired[R->n_retired++], a->conf) < 0)
            return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    }
    return 0;
}

static void
reload_queues(struct reload *R)
{
    const struct rq_model *om = R->r->m;

    for (int q = 0; q < om->n_queues; q++) {
        const struct rq_queue *oq = &om->queues[q];
        struct rq_queue *nq;
        if (R->qmap[q] < 0)
            continue;
        nq = &R->nr.m->queues[R->qmap[q]];
        nq->total = oq->total;
        for (int t = 0; t < R->r->conf->n_tiers; t++)
            if (R->tmap[t] >= 0)
                qcounters_add(&nq->by_tier[R->tmap[t]], &oq->by_tier[t]);
        nq->iv = oq->iv; /* moved for good at the commit */
        nq->aht_ewma_ms = oq->aht_ewma_ms;
        if (oq->rr_cursor >= 0 && oq->rr_cursor < om->n_agents) {
            const struct rq_agent *a = rq_model_agent(R->nr.m, om->agents[oq->rr_cursor].id);
            nq->rr_cursor = a != NULL ? a->idx : -1;
        }
    }
}

static int
reload_agents(struct reload *R, struct rq_error *err)
{
    const struct rq_model *om = R->r->m;
    struct rq_model *nm = R->nr.m;

    for (int i = 0; i < nm->n_agents; i++) {
        struct rq_agent *a = &nm->agents[i];
        const struct rq_agent *o = rq_model_agent(om, a->id);
        if (o == NULL)
            continue;
        a->presence = o->presence;
        memcpy(a->reason, o->reason, sizeof(a->reason));
        if (a->retiring) {
            a->presence = RQ_PRES_NOT_READY;
            snprintf(a->reason, sizeof(a->reason), "removed");
        }
        a->in_wrap = o->in_wrap;
        a->wrap_until_ms = o->wrap_until_ms;
        a->wrap_start_ms = o->wrap_start_ms;
        a->wrap_queue = o->wrap_queue >= 0 ? R->qmap[o->wrap_queue] : -1;
        a->idle_since_ms = o->idle_since_ms;
        a->login_ms = o->login_ms;
        a->work_ms = o->work_ms;
        a->work_since_ms = o->work_since_ms;
        a->handled = o->handled;
        a->ended = o->ended;
        a->handle_ms = o->handle_ms;
        a->rona = o->rona;
        a->restore_presence = o->restore_presence;
        memcpy(a->restore_reason, o->restore_reason, sizeof(a->restore_reason));
        a->restore_wrap_until_ms = o->restore_wrap_until_ms;
        a->restore_wrap_queue = o->restore_wrap_queue >= 0 ? R->qmap[o->restore_wrap_queue] : -1;
        a->udata = o->udata;
        if (a->in_wrap)
            rq_model_timer_set(nm, &a->timer, a->wrap_until_ms);
    }
    if ((R->gone = calloc((size_t)(om->n_agents ? om->n_agents : 1), sizeof(*R->gone))) == NULL)
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    for (int i = 0; i < om->n_agents; i++)
        if (om->agents[i].udata != NULL && rq_model_agent(nm, om->agents[i].id) == NULL)
            R->gone[R->n_gone++] = om->agents[i].udata;
    return 0;
}

/* Arrival order, then sequence: the order queues list their contacts in. */
static int
arrival_cmp(const void *a, const void *b)
{
    const struct rq_contact *x = *(struct rq_contact *const *)a;
    const struct rq_contact *y = *(struct rq_contact *const *)b;

    if (x->arrived_ms != y->arrived_ms)
        return x->arrived_ms < y->arrived_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *
dup_field(const char *s, int *oom)
{
    char *d = dup_or_null(s);

    if (s != NULL && d == NULL)
        *oom = 1;
    return d;
}

/* o's copy in the new model, in the same state. */
static int
reload_contact(struct reload *R, const struct rq_contact *o, struct rq_error *err)
{
    struct rq_router *nr = &R->nr;
    const struct rq_conf *nc = R->nc;
    struct rq_model *nm = nr->m;
    struct rq_contact *c = rq_model_contact_alloc(nm, o->id);
    const struct rq_conf_queue *cq;
    struct rq_agent *a = NULL;
    struct rq_queue *q;
    int oom = 0, moved;

    if (c == NULL)
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    c->seq = o->seq;
    c->source = dup_field(o->source, &oom);
    c->customer_id = dup_field(o->customer_id, &oom);
    c->lang = dup_field(o->lang, &oom);
    if (o->preferred_agent != NULL && rq_model_agent(nm, o->preferred_agent) != NULL)
        c->preferred_agent = dup_field(o->preferred_agent, &oom);
    if (oom)
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    c->lang_idx = rq_model_lang_index(nm, c->lang);
    c->persona = o->persona;
    c->channel = o->channel;
    moved = R->qmap[o->queue] < 0;
    c->queue = moved ? nc->fallback_queue : R->qmap[o->queue];
    c->prev_queue = moved ? -1 : o->prev_queue >= 0 ? R->qmap[o->prev_queue] : -1;
    c->tier = R->tmap[o->tier] >= 0 ? R->tmap[o->tier] : nc->default_tier;
    c->base_priority = o->base_priority;
    for (int i = 0; i < o->n_own_reqs; i++)
        if (R->smap[o->own_reqs[i].skill] >= 0) {
            c->own_reqs[c->n_own_reqs].skill = R->smap[o->own_reqs[i].skill];
            c->own_reqs[c->n_own_reqs++].level = o->own_reqs[i].level;
        }
    cq = &nc->queues[c->queue];
    c->n_reqs = cq->n_skills;
    memcpy(c->reqs, cq->skills, sizeof(c->reqs[0]) * (size_t)cq->n_skills);
    if (merge_reqs(c->reqs, &c->n_reqs, c->own_reqs, c->n_own_reqs) < 0) {
        c->n_reqs = cq->n_skills; /* the queue's own requirements, at least */
        memcpy(c->reqs, cq->skills, sizeof(c->reqs[0]) * (size_t)cq->n_skills);
    }
    c->first_arrived_ms = o->first_arrived_ms;
    c->arrived_ms = o->arrived_ms;
    c->due_at_ms = o->due_at_ms;
    c->alerted = o->alerted;
    c->offers = o->offers;
    c->queued = o->queued;
    c->ewt_at_arrival_ms = o->ewt_at_arrival_ms;
    c->answered_ms = o->answered_ms;
    c->answered_in_target = o->answered_in_target;
    c->priority = c->base_priority;
    if (!moved) { /* escalation applied so far stays applied */
        c->steps_done = o->steps_done & ((cq->n_steps >= 32 ? 0u : 1u << cq->n_steps) - 1u);
        c->relax_levels = o->relax_levels;
        c->relax_language = o->relax_language;
        c->overdue = o->overdue;
        c->priority = o->priority;
        for (int i = 0; i < o->n_extra_queues; i++) {
            int x = R->qmap[o->extra_queues[i]];
            if (x >= 0 && x != c->queue)
                c->extra_queues[c->n_extra_queues++] = x;
        }
        if (o->pref_hold && c->preferred_agent != NULL) {
            c->pref_hold = 1;
            c->pref_until_ms = o->pref_until_ms;
        }
    }
    c->reload_note = moved ? RQ_RELOAD_MOVED : 0;
    if (!moved && R->tmap[o->tier] >= 0) {
        /* It keeps the target it arrived under, and so its place: new
         * targets are for contacts that arrive from now on. */
        c->target_ms = o->target_ms;
        c->deadline_ms = o->deadline_ms;
        c->max_wait_at_ms = o->max_wait_at_ms;
        c->order_class = o->order_class;
        c->order_ms = o->order_ms;
        c->tier_rank = o->tier_rank;
    } else {
        set_targets(nr, c);
    }
    q = &nm->queues[c->queue];
    if (o->agent != NULL)
        a = rq_model_agent(nm, o->agent->id);
    if (o->state == RQ_CS_CONNECTED) {
        enum rq_media md = rq_channel_media(c->channel);
        if (a == NULL)
            return rq_fail(err, RQ_E_INTERNAL, "reload: contact '%s': agent '%s' lost", o->id,
                           o->agent->id);
        c->state = RQ_CS_CONNECTED;
        c->agent = a;
        c->agent_next = a->active;
        a->active = c;
        a->load[md]++;
        a->load_total++;
        q->n_connected++;
        return 0;
    }
    rq_model_queue_append(nm, c);
    if (o->state == RQ_CS_RINGING && a != NULL && !a->retiring) {
        c->state = RQ_CS_RINGING;
        c->agent = a;
        c->offered_ms = o->offered_ms;
        c->ring_deadline_ms = o->ring_deadline_ms;
        a->offer = c;
        q->n_ringing++;
    } else {
        if (o->state == RQ_CS_RINGING) {
            R->revoke[R->n_revoke++] = (struct rq_contact *)o;
            c->reload_note |= RQ_RELOAD_REQUEUED;
        }
        c->state = RQ_CS_WAITING;
        q->n_waiting++;
        join_classes(nr, c);
    }
    arm_contact(nr, c);
    return 0;
}

static int
reload_contacts(struct reload *R, struct rq_error *err)
{
    const struct rq_model *om = R->r->m;
    struct rq_contact **v = calloc(om->n_contacts ? om->n_contacts : 1, sizeof(*v));
    size_t n = 0;
    int rc = 0;

    R->revoke = calloc(om->n_contacts ? om->n_contacts : 1, sizeof(*R->revoke));
    if (v == NULL || R->revoke == NULL) {
        free(v);
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    }
    for (struct rq_contact *c = om->contacts; c != NULL; c = c->hh.next)
        v[n++] = c;
    qsort(v, n, sizeof(*v), arrival_cmp);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = reload_contact(R, v[i], err);
    free(v);
    return rc;
}

/* Derived states and indexes of the new model's agents. */
static void
reload_refresh_agents(struct reload *R)
{
    struct rq_model *nm = R->nr.m;
    uint64_t now = now_ms(R->r);

    for (int i = 0; i < nm->n_agents; i++) {
        struct rq_agent *a = &nm->agents[i];
        const struct rq_agent *o = rq_model_agent(R->r->m, a->id);
        int changed;
        (void)rq_model_agent_refresh(nm, a, now, &changed);
        if (o != NULL && o->state == a->state)
            a->state_since_ms = o->state_since_ms;
    }
}

static void
reload_free(struct reload *R)
{
    free(R->qmap);
    free(R->tmap);
    free(R->smap);
    free(R->revoke);
    free(R->gone);
    HASH_CLEAR(hh, R->nc_agents);
    free(R->nc_mem);
    if (R->retired != NULL)
        retired_free(R->retired, R->n_retired);
}

static void
reload_report(const struct reload *R, struct rq_reload_report *rep)
{
    const struct rq_model *om = R->r->m, *nm = R->nr.m;

    memset(rep, 0, sizeof(*rep));
    for (int q = 0; q < om->n_queues; q++)
        rep->queues_removed += R->qmap[q] < 0;
    rep->queues_added = nm->n_queues - (om->n_queues - rep->queues_removed);
    for (int i = 0; i < om->n_agents; i++)
        rep->agents_removed += !agent_in_nc(R, om->agents[i].id);
    for (int i = 0; i < R->nc->n_agents; i++)
        rep->agents_added += rq_model_agent(om, R->nc->agents[i].id) == NULL;
    for (const struct rq_contact *c = nm->contacts; c != NULL; c = c->hh.next)
        rep->moved += (c->reload_note & RQ_RELOAD_MOVED) != 0;
    rep->revoked = R->n_revoke;
    rep->retiring = R->n_retired;
    rep->n_gone = R->n_gone;
}

int
rq_router_reload(struct rq_router *r, const struct rq_conf *nc, struct rq_reload_report *rep,
                 struct rq_error *err)
{
    static const struct rq_hooks silent = {0};
    const struct rq_conf *oc = r->conf;
    struct rq_model *om = r->m;
    struct reload R;

    memset(&R, 0, sizeof(R));
    R.r = r;
    R.nc = nc;
    R.nr = *r;
    R.nr.hooks = &silent;
    R.nr.conf = nc;
    R.qmap = name_map(nc, oc->queues, oc->n_queues, sizeof(oc->queues[0]), rq_conf_queue_index);
    R.tmap = name_map(nc, oc->tiers, oc->n_tiers, sizeof(oc->tiers[0]), rq_conf_tier_index);
    R.smap = name_map(nc, oc->skills, oc->n_skills, sizeof(oc->skills[0]), rq_conf_skill_index);
    if (R.qmap == NULL || R.tmap == NULL || R.smap == NULL || index_nc_agents(&R) < 0) {
        reload_free(&R);
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    }
    if (reload_check(&R, err) < 0) {
        reload_free(&R);
        return -1;
    }
    if ((R.nr.m = rq_model_new_ex(nc, R.retired, R.n_retired)) == NULL) {
        reload_free(&R);
        return rq_fail(err, RQ_E_INTERNAL, "reload: out of memory");
    }
    reload_queues(&R);
    if (reload_agents(&R, err) < 0 || reload_contacts(&R, err) < 0) {
        rq_model_free(R.nr.m); /* its intervals are still the old model's */
        reload_free(&R);
        return -1;
    }
    reload_refresh_agents(&R);
    R.nr.m->seq = om->seq;
    if (rep != NULL) {
        reload_report(&R, rep);
        rep->gone_udata = R.gone;
        R.gone = NULL;
    }

    /* Commit. The revokes go out while the I/O layer still knows the old
     * configuration, with the old objects. */
    for (int i = 0; i < R.n_revoke; i++)
        if (r->hooks->revoke != NULL)
            r->hooks->revoke(r->harg, R.revoke[i], R.revoke[i]->agent, "removed");
    for (int q = 0; q < om->n_queues; q++) {
        if (R.qmap[q] >= 0)
            memset(&om->queues[q].iv, 0, sizeof(om->queues[q].iv)); /* moved */
        else
            rq_stats_iv_free(&om->queues[q].iv);
    }
    rq_model_free(om);
    retired_free(r->retired, r->n_retired);
    r->retired = R.retired;
    r->n_retired = R.n_retired;
    R.retired = NULL;
    r->m = R.nr.m;
    r->conf = nc;
    reload_free(&R);
    return 0;
}

void
rq_router_reload_settle(struct rq_router *r)
{
    struct rq_model *m = r->m;

    for (struct rq_contact *c = m->contacts; c != NULL; c = c->hh.next) {
        if (c->reload_note & RQ_RELOAD_MOVED)
            hook_contact(r, c, RQ_CHG_TRANSFERRED);
        else if (c->reload_note & RQ_RELOAD_REQUEUED)
            hook_contact(r, c, RQ_CHG_REQUEUED);
        c->reload_note = 0;
    }
    for (int i = 0; i < m->n_agents; i++)
        agent_update(r, &m->agents[i], 1);
    for (int q = 0; q < m->n_queues; q++)
        hook_queue(r, q);
    /* Skills, capacities and queues may have changed: every agent that can
     * take a contact looks once (see the invariant at the top). */
    for (int i = 0; i < m->n_agents; i++)
        serve_agent(r, &m->agents[i]);
}

const struct rq_conf *
rq_router_conf(const struct rq_router *r)
{
    return r->conf;
}
