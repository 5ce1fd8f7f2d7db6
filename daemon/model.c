/*
 * model.c - ringqd's in-memory state and the indexes kept in step with it
 * (see model.h). Every change of an agent's availability goes through
 * rq_model_agent_refresh, every waiting contact through the class heaps, so
 * the router never scans all agents or all waiting contacts.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "strategy/strategy.h"

const char *
rq_contact_state_name(enum rq_contact_state s)
{
    static const char *const names[] = {"waiting", "ringing", "connected", "ended", "abandoned"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *
rq_agent_state_name(enum rq_agent_state s)
{
    static const char *const names[] = {"logged_out", "ready", "not_ready",
                                        "reserved",   "busy",  "wrap_up"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const double rq_wait_bucket_edges[RQ_WAIT_BUCKETS - 1] = {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0};

static int
timer_cmp(const struct rq_heap_node *a, const struct rq_heap_node *b)
{
    const struct rq_timer *ta = rq_container_of(a, struct rq_timer, node);
    const struct rq_timer *tb = rq_container_of(b, struct rq_timer, node);

    if (ta->due_ms != tb->due_ms)
        return ta->due_ms < tb->due_ms ? -1 : 1;
    return 0;
}

/* Service order: emergencies, then contacts past their maximum wait, then
 * the rest; within each by effective deadline, tier rank, arrival. */
int
rq_contact_cmp(const struct rq_contact *a, const struct rq_contact *b)
{
    if (a->order_class != b->order_class)
        return a->order_class < b->order_class ? -1 : 1;
    if (a->order_ms != b->order_ms)
        return a->order_ms < b->order_ms ? -1 : 1;
    if (a->tier_rank != b->tier_rank)
        return a->tier_rank < b->tier_rank ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

static int
membership_cmp(const struct rq_heap_node *a, const struct rq_heap_node *b)
{
    const struct rq_membership *ma = rq_container_of(a, struct rq_membership, node);
    const struct rq_membership *mb = rq_container_of(b, struct rq_membership, node);

    return rq_contact_cmp(ma->contact, mb->contact);
}

/* Non-empty classes by their first waiting contacts. */
static int
class_cmp(const struct rq_heap_node *a, const struct rq_heap_node *b)
{
    const struct rq_class *ca = rq_container_of(a, struct rq_class, ne_node);
    const struct rq_class *cb = rq_container_of(b, struct rq_class, ne_node);

    return membership_cmp(rq_heap_top(&ca->waiting), rq_heap_top(&cb->waiting));
}

static int
pref_cmp(const struct rq_heap_node *a, const struct rq_heap_node *b)
{
    return rq_contact_cmp(rq_container_of(a, struct rq_contact, pref_node),
                          rq_container_of(b, struct rq_contact, pref_node));
}

int
rq_model_lang_index(const struct rq_model *m, const char *lang)
{
    if (lang == NULL)
        return -1;
    for (int i = 0; i < m->n_langs; i++)
        if (strcmp(m->langs[i], lang) == 0)
            return i;
    return -1;
}

static int
intern_lang(struct rq_model *m, const char *lang)
{
    int i = rq_model_lang_index(m, lang);
    char **nl;

    if (i >= 0)
        return i;
    nl = realloc(m->langs, (size_t)(m->n_langs + 1) * sizeof(*nl));
    if (nl == NULL)
        return -1;
    m->langs = nl;
    if ((m->langs[m->n_langs] = strdup(lang)) == NULL)
        return -1;
    return m->n_langs++;
}

static struct rq_bitset *
skill_bs(const struct rq_model *m, int skill, int level)
{
    return &m->skill_ge[(size_t)skill * RQ_MAX_LEVEL + (size_t)(level - 1)];
}

static int
build_agents(struct rq_model *m, const struct rq_conf_agent *extra, int n_extra)
{
    const struct rq_conf *conf = m->conf;
    size_t n = (size_t)conf->n_agents + (size_t)n_extra;

    if ((m->agents = calloc(n ? n : 1, sizeof(*m->agents))) == NULL)
        return -1;
    m->n_agents = (int)n;
    for (int i = 0; i < m->n_agents; i++) {
        const struct rq_conf_agent *ca =
            i < conf->n_agents ? &conf->agents[i] : &extra[i - conf->n_agents];
        struct rq_agent *a = &m->agents[i];
        a->idx = i;
        a->retiring = i >= conf->n_agents;
        a->conf = ca;
        a->id = ca->id;
        a->presence = RQ_PRES_LOGGED_OUT;
        a->state = RQ_AS_LOGGED_OUT;
        a->pref.cmp = pref_cmp;
        rq_heap_init(&a->pref, pref_cmp);
        a->timer.node.idx = (size_t)-1;
        a->timer.kind = RQ_TIMER_AGENT;
        if ((a->levels = calloc((size_t)(conf->n_skills ? conf->n_skills : 1), 1)) == NULL)
            return -1;
        for (int k = 0; k < ca->n_skills; k++) {
            int s = ca->skills[k].skill, lv = ca->skills[k].level;
            a->levels[s] = (uint8_t)lv;
            for (int l = 1; l <= lv; l++)
                rq_bitset_set(skill_bs(m, s, l), (size_t)i);
        }
        for (int k = 0; k < ca->n_langs; k++) {
            int li = intern_lang(m, ca->langs[k]);
            if (li < 0)
                return -1;
            a->langs[a->n_langs++] = li;
        }
        for (int p = 0; p < RQ_PERSONA__COUNT; p++)
            if (ca->personas & (1u << p))
                rq_bitset_set(&m->persona_bs[p], (size_t)i);
        HASH_ADD_KEYPTR(hh, m->agent_by_id, a->id, strlen(a->id), a);
        m->n_by_state[RQ_AS_LOGGED_OUT]++;
    }
    if ((m->lang_bs = calloc((size_t)(m->n_langs ? m->n_langs : 1), sizeof(*m->lang_bs))) == NULL)
        return -1;
    for (int l = 0; l < m->n_langs; l++)
        if (rq_bitset_init(&m->lang_bs[l], n) < 0)
            return -1;
    for (int i = 0; i < m->n_agents; i++)
        for (int k = 0; k < m->agents[i].n_langs; k++)
            rq_bitset_set(&m->lang_bs[m->agents[i].langs[k]], (size_t)i);
    return 0;
}

static void
contact_destroy(struct rq_contact *c)
{
    /* c->id lives in c's own allocation (rq_model_contact_alloc) */
    free(c->source);
    free(c->customer_id);
    free(c->lang);
    free(c->preferred_agent);
    free(c);
}

struct rq_model *
rq_model_new(const struct rq_conf *conf)
{
    return rq_model_new_ex(conf, NULL, 0);
}

struct rq_model *
rq_model_new_ex(const struct rq_conf *conf, const struct rq_conf_agent *extra, int n_extra)
{
    struct rq_model *m = calloc(1, sizeof(*m));
    size_t na = (size_t)conf->n_agents + (size_t)n_extra;

    if (m == NULL)
        return NULL;
    m->conf = conf;
    rq_heap_init(&m->timers, timer_cmp);
    for (int md = 0; md < RQ_MEDIA__COUNT; md++)
        if (rq_bitset_init(&m->avail[md], na) < 0)
            goto fail;
    for (int p = 0; p < RQ_PERSONA__COUNT; p++)
        if (rq_bitset_init(&m->persona_bs[p], na) < 0)
            goto fail;
    if (rq_bitset_init(&m->tmp, na) < 0 || rq_bitset_init(&m->cand, na) < 0 ||
        rq_bitset_init(&m->staffed, na) < 0)
        goto fail;
    if ((m->keys = calloc(na ? na : 1, sizeof(*m->keys))) == NULL)
        goto fail;
    m->skill_ge =
        calloc((size_t)(conf->n_skills ? conf->n_skills : 1) * RQ_MAX_LEVEL, sizeof(*m->skill_ge));
    m->ne = calloc((size_t)(conf->n_skills + 1) * RQ_MEDIA__COUNT, sizeof(*m->ne));
    if (m->skill_ge == NULL || m->ne == NULL)
        goto fail;
    for (int i = 0; i < (conf->n_skills + 1) * RQ_MEDIA__COUNT; i++)
        rq_heap_init(&m->ne[i], class_cmp);
    for (size_t i = 0; i < (size_t)conf->n_skills * RQ_MAX_LEVEL; i++)
        if (rq_bitset_init(&m->skill_ge[i], na) < 0)
            goto fail;
    if (build_agents(m, extra, n_extra) < 0)
        goto fail;
    if ((m->queues = calloc((size_t)(conf->n_queues ? conf->n_queues : 1), sizeof(*m->queues))) ==
        NULL)
        goto fail;
    m->n_queues = conf->n_queues;
    for (int i = 0; i < conf->n_queues; i++) {
        struct rq_queue *q = &m->queues[i];
        q->idx = i;
        q->conf = &conf->queues[i];
        q->strategy = rq_strategy_find(q->conf->strategy);
        if (q->strategy == NULL)
            q->strategy = rq_strategy_find("longest_idle");
        q->rr_cursor = -1;
        q->aht_ewma_ms = q->conf->default_aht_ms;
        q->by_tier = calloc((size_t)(conf->n_tiers ? conf->n_tiers : 1), sizeof(*q->by_tier));
        if (q->by_tier == NULL)
            goto fail;
    }
    return m;
fail:
    rq_model_free(m);
    return NULL;
}

void
rq_model_free(struct rq_model *m)
{
    struct rq_contact *c, *ctmp;
    struct rq_class *cl, *cltmp;

    if (m == NULL)
        return;
    HASH_ITER (hh, m->contacts, c, ctmp) {
        HASH_DEL(m->contacts, c);
        contact_destroy(c);
    }
    HASH_ITER (hh, m->classes, cl, cltmp) {
        HASH_DEL(m->classes, cl);
        rq_heap_free(&cl->waiting);
        free(cl);
    }
    HASH_CLEAR(hh, m->agent_by_id);
    if (m->agents != NULL) {
        for (int i = 0; i < m->n_agents; i++) {
            free(m->agents[i].levels);
            rq_heap_free(&m->agents[i].pref);
        }
        free(m->agents);
    }
    if (m->queues != NULL) {
        for (int i = 0; i < m->n_queues; i++)
            free(m->queues[i].by_tier);
        free(m->queues);
    }
    for (int md = 0; md < RQ_MEDIA__COUNT; md++)
        rq_bitset_free(&m->avail[md]);
    for (int p = 0; p < RQ_PERSONA__COUNT; p++)
        rq_bitset_free(&m->persona_bs[p]);
    if (m->skill_ge != NULL) {
        for (size_t i = 0; i < (size_t)m->conf->n_skills * RQ_MAX_LEVEL; i++)
            rq_bitset_free(&m->skill_ge[i]);
        free(m->skill_ge);
    }
    if (m->lang_bs != NULL) {
        for (int l = 0; l < m->n_langs; l++)
            rq_bitset_free(&m->lang_bs[l]);
        free(m->lang_bs);
    }
    for (int l = 0; l < m->n_langs; l++)
        free(m->langs[l]);
    free(m->langs);
    if (m->ne != NULL) {
        for (int i = 0; i < (m->conf->n_skills + 1) * RQ_MEDIA__COUNT; i++)
            rq_heap_free(&m->ne[i]);
        free(m->ne);
    }
    rq_bitset_free(&m->tmp);
    rq_bitset_free(&m->cand);
    rq_bitset_free(&m->staffed);
    free(m->keys);
    rq_heap_free(&m->timers);
    free(m);
}

struct rq_agent *
rq_model_agent(const struct rq_model *m, const char *id)
{
    struct rq_agent *a = NULL;

    HASH_FIND_STR(m->agent_by_id, id, a);
    return a;
}

struct rq_contact *
rq_model_contact(const struct rq_model *m, const char *id)
{
    struct rq_contact *c = NULL;

    HASH_FIND_STR(m->contacts, id, c);
    return c;
}

static int
agent_speaks(const struct rq_agent *a, int lang)
{
    for (int k = 0; k < a->n_langs; k++)
        if (a->langs[k] == lang)
            return 1;
    return 0;
}

int
rq_model_agent_fits_class(const struct rq_model *m, const struct rq_class_key *k,
                          const struct rq_agent *a)
{
    (void)m;
    for (int i = 0; i < k->n_reqs; i++)
        if (a->levels[k->reqs[i].skill] < k->reqs[i].level)
            return 0;
    return k->lang < 0 || agent_speaks(a, k->lang);
}

int
rq_model_agent_can_take(const struct rq_agent *a, enum rq_media md)
{
    const struct rq_conf_agent *ca = a->conf;

    if (a->presence != RQ_PRES_READY || a->offer != NULL || a->in_wrap)
        return 0;
    if (a->load[md] >= ca->capacity[md])
        return 0;
    if (md == RQ_MEDIA_VOICE)
        return a->load_total == 0;
    return a->load[RQ_MEDIA_VOICE] == 0;
}

static enum rq_agent_state
derive_state(const struct rq_agent *a)
{
    if (a->presence == RQ_PRES_LOGGED_OUT)
        return RQ_AS_LOGGED_OUT;
    if (a->offer != NULL)
        return RQ_AS_RESERVED;
    if (a->load_total > 0)
        return RQ_AS_BUSY;
    if (a->in_wrap)
        return RQ_AS_WRAP_UP;
    if (a->presence == RQ_PRES_NOT_READY)
        return RQ_AS_NOT_READY;
    return RQ_AS_READY;
}

unsigned
rq_model_agent_refresh(struct rq_model *m, struct rq_agent *a, uint64_t now, int *changed)
{
    unsigned gained = 0;
    enum rq_agent_state st = derive_state(a);
    int working = a->load_total > 0 || a->in_wrap || a->offer != NULL;

    for (int md = 0; md < RQ_MEDIA__COUNT; md++) {
        int was = rq_bitset_test(&m->avail[md], (size_t)a->idx);
        int now_can = rq_model_agent_can_take(a, (enum rq_media)md);
        if (now_can && !was) {
            rq_bitset_set(&m->avail[md], (size_t)a->idx);
            gained |= 1u << md;
        } else if (!now_can && was) {
            rq_bitset_clear(&m->avail[md], (size_t)a->idx);
        }
    }
    /* Occupancy: time on contacts, offers and wrap-up since login. */
    if (working && a->work_since_ms == 0 && a->presence != RQ_PRES_LOGGED_OUT) {
        a->work_since_ms = now;
    } else if (!working && a->work_since_ms != 0) {
        a->work_ms += now - a->work_since_ms;
        a->work_since_ms = 0;
        a->idle_since_ms = now;
    }
    if (a->presence == RQ_PRES_LOGGED_OUT)
        rq_bitset_clear(&m->staffed, (size_t)a->idx);
    else
        rq_bitset_set(&m->staffed, (size_t)a->idx);
    m->keys[a->idx] = (struct rq_agent_key){
        .idle_since_ms = a->idle_since_ms,
        .login_ms = a->login_ms,
        .work_ms = a->work_ms,
        .work_since_ms = a->work_since_ms,
        .levels = a->levels,
        .handled = a->handled,
    };
    *changed = st != a->state;
    if (*changed) {
        m->n_by_state[a->state]--;
        m->n_by_state[st]++;
        a->state = st;
        a->state_since_ms = now;
    }
    return gained;
}

/* The skill of k that the fewest agents have at the level asked: the list a
 * freed agent is least likely to have to look through in vain. */
static int
primary_skill(const struct rq_model *m, const struct rq_class_key *k)
{
    int best = -1;
    size_t best_n = 0;

    for (int i = 0; i < k->n_reqs; i++) {
        size_t n = rq_bitset_count(skill_bs(m, k->reqs[i].skill, k->reqs[i].level));
        if (best < 0 || n < best_n) {
            best = k->reqs[i].skill;
            best_n = n;
        }
    }
    return best;
}

struct rq_class *
rq_model_class(struct rq_model *m, const struct rq_class_key *key)
{
    struct rq_class *cl = NULL;
    unsigned hashv;

    /* Hash what the key holds, not its zero padding (equal keys have equal
     * prefixes); the table still compares whole keys. */
    HASH_VALUE(key,
               offsetof(struct rq_class_key, reqs) + (size_t)key->n_reqs * sizeof(key->reqs[0]),
               hashv);
    HASH_FIND_BYHASHVALUE(hh, m->classes, key, sizeof(*key), hashv, cl);
    if (cl != NULL)
        return cl;
    if ((cl = calloc(1, sizeof(*cl))) == NULL)
        return NULL;
    memcpy(&cl->key, key, sizeof(*key));
    rq_heap_init(&cl->waiting, membership_cmp);
    cl->ne_node.idx = (size_t)-1;
    cl->primary_skill = primary_skill(m, key);
    cl->queue_next = m->queues[key->queue].classes;
    m->queues[key->queue].classes = cl;
    HASH_ADD_BYHASHVALUE(hh, m->classes, key, sizeof(cl->key), hashv, cl);
    return cl;
}

const struct rq_heap *
rq_model_ne(const struct rq_model *m, int skill, enum rq_media md)
{
    int row = skill < 0 ? m->conf->n_skills : skill;

    return &m->ne[(size_t)row * RQ_MEDIA__COUNT + (size_t)md];
}

static struct rq_heap *
ne_heap(struct rq_model *m, const struct rq_class *cl)
{
    return (struct rq_heap *)rq_model_ne(m, cl->primary_skill, (enum rq_media)cl->key.media);
}

/*
 * A class's waiting memberships are kept sorted in service order, not just
 * as a heap: a sorted array is also a valid min-heap (rq_heap_top and every
 * reader of the heap stay right), and a contact's rank in a class is then a
 * binary search, so a position costs O(classes x log n) instead of
 * O(position). Insertion and removal move the tail of the array (memmove:
 * sequential, about a microsecond for thousands). A membership's node.idx
 * only tells whether it is in its class (0) or not ((size_t)-1); the
 * rq_heap_* functions that move nodes are never used on these arrays.
 */

static struct rq_contact *
class_at(const struct rq_class *cl, size_t i)
{
    return rq_container_of(cl->waiting.slots[i], struct rq_membership, node)->contact;
}

size_t
rq_model_class_rank(const struct rq_class *cl, const struct rq_contact *c)
{
    size_t lo = 0, hi = cl->waiting.len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rq_contact_cmp(class_at(cl, mid), c) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int
rq_model_class_insert(struct rq_model *m, struct rq_membership *mb)
{
    struct rq_class *cl = mb->cls;
    struct rq_heap *h = &cl->waiting;
    size_t at;

    if (h->len == h->cap) {
        size_t ncap = h->cap ? 2 * h->cap : 2; /* most classes hold a contact or two */
        struct rq_heap_node **ns = realloc(h->slots, ncap * sizeof(*ns));
        if (ns == NULL)
            return -1;
        h->slots = ns;
        h->cap = ncap;
    }
    at = rq_model_class_rank(cl, mb->contact);
    memmove(&h->slots[at + 1], &h->slots[at], (h->len - at) * sizeof(h->slots[0]));
    h->slots[at] = &mb->node;
    h->len++;
    mb->node.idx = 0;
    if (!rq_heap_node_linked(&cl->ne_node)) {
        if (rq_heap_push(ne_heap(m, cl), &cl->ne_node) < 0) {
            h->len = 0; /* it was empty */
            mb->node.idx = (size_t)-1;
            return -1;
        }
    } else if (at == 0) {
        rq_heap_update(ne_heap(m, cl), &cl->ne_node); /* a new first contact */
    }
    return 0;
}

void
rq_model_class_remove(struct rq_model *m, struct rq_membership *mb)
{
    struct rq_class *cl = mb->cls;
    struct rq_heap *h = &cl->waiting;
    size_t at;

    if (!rq_heap_node_linked(&mb->node))
        return;
    at = rq_model_class_rank(cl, mb->contact);
    if (at >= h->len || h->slots[at] != &mb->node) {
        /* its order changed while it waited (set_order before leaving) */
        for (at = 0; at < h->len && h->slots[at] != &mb->node; at++)
            ;
        if (at == h->len)
            return;
    }
    memmove(&h->slots[at], &h->slots[at + 1], (h->len - at - 1) * sizeof(h->slots[0]));
    h->len--;
    mb->node.idx = (size_t)-1;
    if (h->len == 0)
        rq_heap_remove(ne_heap(m, cl), &cl->ne_node);
    else if (at == 0)
        rq_heap_update(ne_heap(m, cl), &cl->ne_node);
}

void
rq_model_timer_set(struct rq_model *m, struct rq_timer *t, uint64_t due_ms)
{
    if (rq_heap_node_linked(&t->node)) {
        t->due_ms = due_ms;
        rq_heap_update(&m->timers, &t->node);
        return;
    }
    t->due_ms = due_ms;
    /* A push fails only when memory is out; the timer then fires at the
     * next one that does, as run_timers re-reads every contact it visits. */
    (void)rq_heap_push(&m->timers, &t->node);
}

void
rq_model_timer_clear(struct rq_model *m, struct rq_timer *t)
{
    rq_heap_remove(&m->timers, &t->node);
}

struct rq_contact *
rq_model_contact_alloc(struct rq_model *m, const char *id)
{
    size_t len = strlen(id);
    struct rq_contact *c = calloc(1, sizeof(*c) + len + 1);

    if (c == NULL)
        return NULL;
    /* The id right after the struct: one allocation less per contact. */
    c->id = memcpy((char *)(c + 1), id, len + 1);
    c->timer.node.idx = (size_t)-1;
    c->timer.kind = RQ_TIMER_CONTACT;
    c->pref_node.idx = (size_t)-1;
    c->lang_idx = -1;
    c->persona = -1;
    c->seq = m->seq++;
    HASH_ADD_KEYPTR(hh, m->contacts, c->id, len, c);
    m->n_contacts++;
    return c;
}

void
rq_model_contact_free(struct rq_model *m, struct rq_contact *c)
{
    HASH_DEL(m->contacts, c);
    m->n_contacts--;
    rq_model_timer_clear(m, &c->timer);
    contact_destroy(c);
}

void
rq_model_queue_append(struct rq_model *m, struct rq_contact *c)
{
    struct rq_queue *q = &m->queues[c->queue];

    c->q_next = NULL;
    c->q_prev = q->last;
    if (q->last != NULL)
        q->last->q_next = c;
    else
        q->first = c;
    q->last = c;
}

void
rq_model_queue_unlink(struct rq_model *m, struct rq_contact *c)
{
    struct rq_queue *q = &m->queues[c->queue];

    if (c->q_prev != NULL)
        c->q_prev->q_next = c->q_next;
    else if (q->first == c)
        q->first = c->q_next;
    else
        return; /* not linked */
    if (c->q_next != NULL)
        c->q_next->q_prev = c->q_prev;
    else
        q->last = c->q_prev;
    c->q_prev = c->q_next = NULL;
}
