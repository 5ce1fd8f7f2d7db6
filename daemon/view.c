/* view.c - JSON views of queues, agents and contacts (see view.h). */
#include <string.h>

#include "stats.h"
#include "store.h"
#include "view.h"

/* Views report times against the router's own clock. */
static uint64_t
view_now(const struct rq_router *r)
{
    return rq_router_now(r);
}

static uint64_t
since(uint64_t now, uint64_t then)
{
    return now > then ? now - then : 0;
}

/* A string, or null when absent (or not valid UTF-8). */
static json_t *
jstr(const char *s)
{
    json_t *v;

    if (s == NULL)
        return json_null();
    v = json_string(s);
    return v != NULL ? v : json_null();
}

static json_t *
juint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* Set a member; jansson frees v when that fails (out of memory). */
static void
set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v);
}

json_t *
rq_view_seconds(uint64_t ms)
{
    if (ms % 1000u == 0)
        return juint(ms / 1000u);
    return json_real((double)ms / 1000.0);
}

/* A percentage or rate: -1 (nothing measured yet) becomes null. */
static json_t *
jpercent(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

const char *
rq_view_agent_reason(const struct rq_agent *a)
{
    if (a->presence != RQ_PRES_NOT_READY || a->reason[0] == '\0')
        return NULL;
    return a->reason;
}

int
rq_view_agent_in_queue(const struct rq_model *m, const struct rq_agent *a, const struct rq_queue *q)
{
    const struct rq_conf_queue *qc = q->conf;

    (void)m;
    for (int i = 0; i < qc->n_skills; i++) {
        if (a->levels[qc->skills[i].skill] < qc->skills[i].level)
            return 0;
    }
    return 1;
}

void
rq_view_queue_agents(const struct rq_model *m, const struct rq_queue *q, int counts[RQ_AS__COUNT])
{
    const struct rq_conf_queue *qc = q->conf;
    const struct rq_bitset *sets[RQ_MAX_REQS];
    size_t nwords;

    if (qc->n_skills == 0) {
        memcpy(counts, m->n_by_state, sizeof(int) * RQ_AS__COUNT);
        return;
    }
    memset(counts, 0, sizeof(int) * RQ_AS__COUNT);
    /* AND the skill/level indexes word by word: cost in words, not agents. */
    for (int i = 0; i < qc->n_skills; i++)
        sets[i] = &m->skill_ge[qc->skills[i].skill * RQ_MAX_LEVEL + qc->skills[i].level - 1];
    nwords = sets[0]->nwords;
    for (size_t w = 0; w < nwords; w++) {
        uint64_t word = sets[0]->words[w];
        for (int i = 1; i < qc->n_skills && word != 0; i++)
            word &= sets[i]->words[w];
        while (word != 0) {
            size_t idx = w * 64 + (size_t)__builtin_ctzll(word);
            if (idx < (size_t)m->n_agents)
                counts[m->agents[idx].state]++;
            word &= word - 1;
        }
    }
}

static json_t *
agents_by_state(const struct rq_model *m, const struct rq_queue *q)
{
    int counts[RQ_AS__COUNT];
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    rq_view_queue_agents(m, q, counts);
    for (int s = 0; s < RQ_AS__COUNT; s++)
        set(o, rq_agent_state_name((enum rq_agent_state)s), json_integer(counts[s]));
    return o;
}

/* {answered_only, abandons_negative, abandons_ignored, abandons_positive}: percent or null. */
static json_t *
sl_variants(const struct rq_qcounters *t)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    for (int v = RQ_SL_ANSWERED_ONLY; v <= RQ_SL_ABANDONS_POSITIVE; v++)
        set(o, rq_sl_variant_name((enum rq_sl_variant)v),
            jpercent(rq_stats_service_level(t, (enum rq_sl_variant)v)));
    return o;
}

/* One interval's figures, or null when there is none. */
static json_t *
interval_object(const struct rq_interval *iv, int have, enum rq_sl_variant v)
{
    json_t *o;

    if (!have || (o = json_object()) == NULL)
        return json_null();
    set(o, "start_ms", juint(iv->start_ms));
    set(o, "offered", juint(iv->c.offered));
    set(o, "answered", juint(iv->c.answered));
    set(o, "answered_in_target", juint(iv->c.answered_in_target));
    set(o, "abandoned", juint(iv->c.abandoned));
    set(o, "service_level", jpercent(rq_stats_service_level(&iv->c, v)));
    set(o, "aht_s", json_real(rq_stats_aht_s(&iv->c)));
    set(o, "asa_s", json_real(rq_stats_asa_s(&iv->c)));
    return o;
}

/* The figures both queue views show beyond the raw counters: every SL
 * variant, the ring figure, EWT accuracy, the staffing advisor and the
 * running interval. */
static void
queue_figures(json_t *o, const struct rq_router *r, const struct rq_queue *q)
{
    const struct rq_conf_queue *qc = q->conf;
    const struct rq_qcounters *t = &q->total;
    uint64_t now = view_now(r);
    struct rq_ewt_error ee;
    struct rq_staffing st;
    struct rq_interval cur;
    int have;
    json_t *rings = json_object(), *ewt = json_object();

    if (rings == NULL || ewt == NULL) {
        json_decref(rings);
        json_decref(ewt);
        return;
    }
    set(o, "service_level_variants", sl_variants(t));
    set(o, "answered_immediately", juint(t->answered_immediately));
    set(o, "waited_percent", jpercent(rq_stats_waited_percent(t)));
    set(rings, "rings", juint(qc->answer_rings));
    set(rings, "target_s", rq_view_seconds(qc->target_ms[RQ_CH_VOICE]));
    set(rings, "answered", juint(t->answered_in_rings));
    set(rings, "percent", jpercent(rq_stats_rings_percent(t)));
    set(o, "answered_within_rings", rings);
    rq_stats_ewt_error(t, &ee);
    set(ewt, "n", juint(ee.n));
    set(ewt, "mean_abs", json_real(ee.mean_abs_s));
    set(ewt, "mean_signed", json_real(ee.mean_signed_s));
    set(o, "ewt_error_s", ewt);
    rq_stats_staffing(q, now, &st);
    set(o, "agents_needed", st.agents >= 0 ? json_integer(st.agents) : json_null());
    set(o, "traffic_erlangs", st.agents >= 0 ? json_real(st.traffic) : json_null());
    have = rq_stats_current(&q->iv, now, &cur) == 0;
    set(o, "interval", interval_object(&cur, have, qc->sl_variant));
}

/* What both the queue view and the queue_stats push carry: the queue now
 * and its main counters. */
static void
live_figures(json_t *o, const struct rq_router *r, const struct rq_queue *q)
{
    const struct rq_qcounters *t = &q->total;

    set(o, "waiting", json_integer(q->n_waiting));
    set(o, "ringing", json_integer(q->n_ringing));
    set(o, "connected", json_integer(q->n_connected));
    set(o, "longest_wait_s", rq_view_seconds(rq_router_longest_wait_ms(r, q)));
    set(o, "offered", juint(t->offered));
    set(o, "answered", juint(t->answered));
    set(o, "answered_in_target", juint(t->answered_in_target));
    set(o, "abandoned", juint(t->abandoned));
}

json_t *
rq_view_queue(const struct rq_router *r, const struct rq_queue *q)
{
    const struct rq_model *m = rq_router_model(r);
    const struct rq_conf_queue *qc = q->conf;
    const struct rq_qcounters *t = &q->total;
    json_t *o = json_object(), *targets = json_object();

    if (o == NULL || targets == NULL) {
        json_decref(o);
        json_decref(targets);
        return NULL;
    }
    set(o, "name", jstr(qc->name));
    for (int ch = 0; ch < RQ_CH__COUNT; ch++)
        set(targets, rq_channel_name((enum rq_channel)ch), rq_view_seconds(qc->target_ms[ch]));
    set(o, "targets", targets);
    set(o, "answer_rings", juint(qc->answer_rings));
    set(o, "ring_s", rq_view_seconds((uint64_t)qc->ring_on_ms + qc->ring_off_ms));
    set(o, "goal_percent", json_real(qc->goal_percent));
    set(o, "service_level_variant", jstr(rq_sl_variant_name(qc->sl_variant)));
    set(o, "strategy", jstr(qc->strategy));
    set(o, "closed", json_boolean(qc->closed));
    live_figures(o, r, q);
    set(o, "short_abandoned", juint(t->short_abandoned));
    set(o, "transferred_out", juint(t->transferred_out));
    set(o, "rona", juint(t->rona));
    set(o, "service_level", jpercent(rq_stats_service_level(t, qc->sl_variant)));
    set(o, "asa_s", json_real(rq_stats_asa_s(t)));
    set(o, "aht_s", json_real(rq_stats_aht_s(t)));
    set(o, "agents", agents_by_state(m, q));
    set(o, "flowed_out", juint(t->flowed_out));
    queue_figures(o, r, q);
    {
        struct rq_interval last;
        int have = rq_stats_last_complete(&q->iv, view_now(r), &last) == 0;
        json_t *tiers = json_object();

        set(o, "last_interval", interval_object(&last, have, qc->sl_variant));
        for (int i = 0; tiers != NULL && i < m->conf->n_tiers; i++) {
            const struct rq_qcounters *bt = &q->by_tier[i];
            json_t *to = json_object();
            if (to == NULL)
                break;
            set(to, "offered", juint(bt->offered));
            set(to, "answered", juint(bt->answered));
            set(to, "answered_in_target", juint(bt->answered_in_target));
            set(to, "abandoned", juint(bt->abandoned));
            set(to, "service_level", jpercent(rq_stats_service_level(bt, qc->sl_variant)));
            set(to, "asa_s", json_real(rq_stats_asa_s(bt)));
            set(tiers, m->conf->tiers[i].name, to);
        }
        set(o, "tiers", tiers != NULL ? tiers : json_null());
    }
    return o;
}

json_t *
rq_view_queue_stats(const struct rq_router *r, const struct rq_queue *q)
{
    const struct rq_model *m = rq_router_model(r);
    const struct rq_conf_queue *qc = q->conf;
    const struct rq_qcounters *t = &q->total;
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    set(o, "queue", jstr(qc->name));
    live_figures(o, r, q);
    set(o, "target_s", rq_view_seconds(qc->target_ms[RQ_CH_VOICE]));
    set(o, "service_level", jpercent(rq_stats_service_level(t, qc->sl_variant)));
    set(o, "goal_percent", json_real(qc->goal_percent));
    set(o, "agents", agents_by_state(m, q));
    queue_figures(o, r, q);
    return o;
}

static json_t *
media_object(const int v[RQ_MEDIA__COUNT])
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    for (int md = 0; md < RQ_MEDIA__COUNT; md++)
        set(o, rq_media_name((enum rq_media)md), json_integer(v[md]));
    return o;
}

json_t *
rq_view_agent_state(const struct rq_router *r, const struct rq_agent *a)
{
    json_t *o = json_object();

    (void)r;
    if (o == NULL)
        return NULL;
    set(o, "agent", jstr(a->id));
    set(o, "state", jstr(rq_agent_state_name(a->state)));
    set(o, "reason", jstr(rq_view_agent_reason(a)));
    set(o, "since_ms", juint(a->state_since_ms));
    set(o, "load", media_object(a->load));
    return o;
}

json_t *
rq_view_agent(const struct rq_router *r, const struct rq_agent *a)
{
    const struct rq_model *m = rq_router_model(r);
    const struct rq_conf_agent *ac = a->conf;
    json_t *o = json_object(), *skills = json_object(), *langs = json_array();
    json_t *personas = json_array(), *contacts = json_array();

    if (o == NULL || skills == NULL || langs == NULL || personas == NULL || contacts == NULL) {
        json_decref(o);
        json_decref(skills);
        json_decref(langs);
        json_decref(personas);
        json_decref(contacts);
        return NULL;
    }
    set(o, "agent", jstr(a->id));
    set(o, "name", jstr(ac->name));
    set(o, "state", jstr(rq_agent_state_name(a->state)));
    set(o, "reason", jstr(rq_view_agent_reason(a)));
    set(o, "since_ms", juint(a->state_since_ms));
    for (int i = 0; i < ac->n_skills; i++)
        set(skills, m->conf->skills[ac->skills[i].skill].name, json_integer(ac->skills[i].level));
    set(o, "skills", skills);
    for (int i = 0; i < ac->n_langs; i++)
        json_array_append_new(langs, jstr(ac->langs[i]));
    set(o, "languages", langs);
    for (int p = 0; p < RQ_PERSONA__COUNT; p++) {
        if (ac->personas & (1u << p))
            json_array_append_new(personas, jstr(rq_persona_name((enum rq_persona)p)));
    }
    set(o, "personas", personas);
    set(o, "load", media_object(a->load));
    set(o, "capacity", media_object(ac->capacity));
    set(o, "handled", juint(a->handled));
    set(o, "answered", juint(a->handled));
    set(o, "rona", juint(a->rona));
    set(o, "aht_s", json_real(rq_stats_agent_aht_s(a)));
    set(o, "occupancy", jpercent(rq_stats_agent_occupancy(a, view_now(r))));
    set(o, "offer", a->offer != NULL ? jstr(a->offer->id) : json_null());
    for (const struct rq_contact *c = a->active; c != NULL; c = c->agent_next)
        json_array_append_new(contacts, jstr(c->id));
    set(o, "contacts", contacts);
    return o;
}

json_t *
rq_view_customer(const struct rq_router *r, const struct rq_contact *c)
{
    const struct rq_conf *conf = rq_router_model(r)->conf;
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    set(o, "id", jstr(c->customer_id));
    set(o, "tier", jstr(conf->tiers[c->tier].name));
    set(o, "lang", jstr(c->lang));
    set(o, "persona",
        c->persona >= 0 ? jstr(rq_persona_name((enum rq_persona)c->persona)) : json_null());
    return o;
}

json_t *
rq_view_contact(const struct rq_router *r, const struct rq_contact *c)
{
    const struct rq_conf *conf = rq_router_model(r)->conf;
    uint64_t now = view_now(r);
    json_t *o = json_object(), *skills = json_object();

    if (o == NULL || skills == NULL) {
        json_decref(o);
        json_decref(skills);
        return NULL;
    }
    set(o, "contact", jstr(c->id));
    set(o, "state", jstr(rq_contact_state_name(c->state)));
    set(o, "channel", jstr(rq_channel_name(c->channel)));
    set(o, "queue", jstr(conf->queues[c->queue].name));
    set(o, "tier", jstr(conf->tiers[c->tier].name));
    set(o, "source", jstr(c->source));
    set(o, "customer", rq_view_customer(r, c));
    set(o, "priority", json_integer(c->priority));
    for (int i = 0; i < c->n_reqs; i++)
        set(skills, conf->skills[c->reqs[i].skill].name, json_integer(c->reqs[i].level));
    set(o, "skills", skills);
    set(o, "arrived_ms", juint(c->arrived_ms));
    set(o, "deadline_ms", juint(c->deadline_ms));
    set(o, "target_s", rq_view_seconds(c->target_ms));
    /* the wait stops at the answer */
    set(o, "waited_s",
        rq_view_seconds(since(c->answered_ms != 0 ? c->answered_ms : now, c->arrived_ms)));
    if (c->state == RQ_CS_WAITING) {
        set(o, "position", json_integer(rq_router_position(r, c)));
        set(o, "ewt_s", json_real(rq_router_ewt_s(r, c)));
    }
    if (c->ewt_at_arrival_ms >= 0)
        set(o, "ewt_at_arrival_s", rq_view_seconds((uint64_t)c->ewt_at_arrival_ms));
    set(o, "agent", c->agent != NULL ? jstr(c->agent->id) : json_null());
    set(o, "escalation_steps", json_integer(__builtin_popcount(c->steps_done)));
    set(o, "preferred_agent", jstr(c->preferred_agent));
    return o;
}

json_t *
rq_view_snapshot(const struct rq_router *r)
{
    const struct rq_model *m = rq_router_model(r);
    json_t *o = json_object(), *queues = json_array(), *agents = json_array();
    json_t *contacts = json_array();
    const struct rq_contact *c, *tmp;
    size_t n = 0;

    if (o == NULL || queues == NULL || agents == NULL || contacts == NULL) {
        json_decref(o);
        json_decref(queues);
        json_decref(agents);
        json_decref(contacts);
        return NULL;
    }
    for (int i = 0; i < m->n_queues; i++)
        json_array_append_new(queues, rq_view_queue(r, &m->queues[i]));
    for (int i = 0; i < m->n_agents; i++)
        json_array_append_new(agents, rq_view_agent(r, &m->agents[i]));
    HASH_ITER (hh, m->contacts, c, tmp) {
        if (n++ == RQ_VIEW_MAX_CONTACTS) {
            set(o, "contacts_truncated", json_true());
            break;
        }
        json_array_append_new(contacts, rq_view_contact(r, c));
    }
    set(o, "queues", queues);
    set(o, "agents", agents);
    set(o, "contacts", contacts);
    return o;
}

json_t *
rq_view_store(const struct rq_store *s)
{
    struct rq_store_stats st;
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    set(o, "enabled", json_boolean(s != NULL));
    if (s == NULL)
        return o;
    rq_store_get_stats(s, &st);
    set(o, "connected", json_boolean(st.connected));
    set(o, "journal", juint(st.journal_cmds));
    set(o, "journal_limit", juint(st.journal_limit));
    set(o, "resync_pending", json_boolean(st.resync_pending));
    set(o, "outages", juint(st.outages));
    set(o, "batches", juint(st.batches));
    set(o, "commands", juint(st.commands));
    set(o, "down_since_ms", st.down_since_ms ? juint(st.down_since_ms) : json_null());
    return o;
}
