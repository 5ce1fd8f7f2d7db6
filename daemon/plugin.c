/*
 * plugin.c - loads plugins (shared objects exporting ringq_plugin_v1),
 * refuses mismatched builds before running their code, and adapts their
 * strategies to the router's struct rq_pick.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringq/plugin.h>

#include "clock.h"
#include "log.h"
#include "model.h"
#include "plugin.h"
#include "strategy/strategy.h"

struct plugin {
    char *path;                   /* as loaded */
    void *handle;                 /* dlopen handle */
    const struct ringq_plugin *p; /* its exported description */
    void *state;                  /* what its init returned */
    struct rq_strategy strategy;  /* the router's view of its strategy */
    struct plugin *next;          /* load order */
};

static struct plugin *plugins; /* newest first */

static void
host_log(int level, const char *plugin, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (level <= RINGQ_LOG_ERR)
        log_warnx("plugin %s: error: %s", plugin, buf);
    else if (level <= RINGQ_LOG_WARNING)
        log_warnx("plugin %s: %s", plugin, buf);
    else
        log_info("plugin %s: %s", plugin, buf);
}

static uint64_t
host_now(void)
{
    return rq_clock_now(&rq_clock_real);
}

static const struct ringq_host_api host = {
    .abi_major = RINGQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct ringq_host_api),
    .log = host_log,
    .now_ms = host_now,
};

/* Candidates as the plugin sees them; reused between picks. */
static struct ringq_agent_info *infos;
static const struct ringq_agent_info **ptrs;
static int *indexes; /* agent index of each candidate */
static size_t cap;

static int
pick_adapter(const struct rq_pick *pk)
{
    const struct plugin *pl = pk->strategy->impl;
    const struct rq_conf *conf = pk->model->conf;
    const struct rq_contact *c = pk->contact;
    struct ringq_contact_info ci = {
        .struct_size = sizeof(ci),
        .id = c->id,
        .queue = pk->queue->conf->name,
        .tier = conf->tiers[c->tier].name,
        .channel = rq_channel_name(c->channel),
        .priority = c->priority,
        .waited_ms = pk->now_ms > c->arrived_ms ? pk->now_ms - c->arrived_ms : 0,
    };
    size_t n = 0, chosen;
    long first = rq_bitset_next(pk->candidates, 0);

    RQ_BITSET_FOREACH (pk->candidates, i) {
        const struct rq_agent *a = &pk->model->agents[i];
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct ringq_agent_info *ni = realloc(infos, ncap * sizeof(*ni));
            const struct ringq_agent_info **np;
            int *ni2;
            if (ni == NULL)
                return (int)first;
            infos = ni;
            if ((np = realloc(ptrs, ncap * sizeof(*np))) == NULL)
                return (int)first;
            ptrs = np;
            if ((ni2 = realloc(indexes, ncap * sizeof(*ni2))) == NULL)
                return (int)first;
            indexes = ni2;
            cap = ncap;
        }
        infos[n] = (struct ringq_agent_info){
            .struct_size = sizeof(struct ringq_agent_info),
            .id = a->id,
            .idle_ms = pk->now_ms > a->idle_since_ms ? pk->now_ms - a->idle_since_ms : 0,
            .handled = a->handled,
            .occupancy = rq_agent_occupancy(a, pk->now_ms),
            .skill_score = rq_agent_skill_score(a, c),
            .load = a->load_total,
        };
        indexes[n] = a->idx;
        n++;
    }
    for (size_t k = 0; k < n; k++)
        ptrs[k] = &infos[k];
    chosen = pl->p->strategy->pick(pl->state, &ci, ptrs, n);
    if (chosen >= n) {
        log_warnx("plugin %s: strategy %s picked %zu of %zu agents: using the first", pl->p->name,
                  pl->strategy.name, chosen, n);
        return (int)first;
    }
    return indexes[chosen];
}

static int refuse(void *handle, char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((__format__(printf, 5, 6)));

static int
refuse(void *handle, char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", path, msg);
    if (handle != NULL)
        dlclose(handle);
    return -1;
}

int
rq_plugin_load(const char *path, char *err, size_t errlen)
{
    const struct ringq_plugin *p;
    struct plugin *pl;
    void *handle;

    for (pl = plugins; pl != NULL; pl = pl->next)
        if (strcmp(pl->path, path) == 0)
            return 0;
    if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
        return refuse(NULL, err, errlen, path, "cannot load: %s", dlerror());
    p = dlsym(handle, RINGQ_PLUGIN_SYMBOL);
    if (p == NULL)
        return refuse(handle, err, errlen, path, "not a ringq plugin: it exports no %s",
                      RINGQ_PLUGIN_SYMBOL);
    if (p->abi_major != RINGQ_PLUGIN_ABI_MAJOR)
        return refuse(handle, err, errlen, path,
                      "built for plugin ABI %u.%u, this ringqd has ABI %d.%d: rebuild it "
                      "against this ringq's include/ringq/plugin.h",
                      p->abi_major, p->abi_minor, RINGQ_PLUGIN_ABI_MAJOR, RINGQ_PLUGIN_ABI_MINOR);
    if (p->struct_size < offsetof(struct ringq_plugin, strategy) + sizeof(p->strategy))
        return refuse(handle, err, errlen, path, "plugin description too short (%zu bytes)",
                      p->struct_size);
    if (p->name == NULL || p->name[0] == '\0')
        return refuse(handle, err, errlen, path, "plugin has no name");
    for (pl = plugins; pl != NULL; pl = pl->next)
        if (strcmp(pl->p->name, p->name) == 0)
            return refuse(handle, err, errlen, path,
                          "a plugin named '%s' is already loaded from %s", p->name, pl->path);
    if (p->kind != RINGQ_PLUGIN_STRATEGY)
        return refuse(handle, err, errlen, path, "plugin '%s' has unknown kind %d", p->name,
                      p->kind);
    if (p->strategy == NULL || p->strategy->pick == NULL || p->strategy->name == NULL ||
        p->strategy->struct_size < sizeof(struct ringq_strategy_ops))
        return refuse(handle, err, errlen, path, "strategy plugin '%s' provides no strategy",
                      p->name);
    if (rq_strategy_find(p->strategy->name) != NULL)
        return refuse(handle, err, errlen, path, "strategy '%s' already exists", p->strategy->name);
    if ((pl = calloc(1, sizeof(*pl))) == NULL || (pl->path = strdup(path)) == NULL) {
        free(pl);
        return refuse(handle, err, errlen, path, "out of memory");
    }
    pl->handle = handle;
    pl->p = p;
    if (p->init != NULL && p->init(&host, &pl->state) != 0) {
        free(pl->path);
        free(pl);
        return refuse(handle, err, errlen, path, "plugin '%s' refused to start", p->name);
    }
    pl->strategy.name = p->strategy->name;
    pl->strategy.pick = pick_adapter;
    pl->strategy.impl = pl;
    pl->next = plugins;
    plugins = pl;
    return 0;
}

const struct rq_strategy *
rq_plugin_strategy(const char *name)
{
    for (struct plugin *pl = plugins; pl != NULL; pl = pl->next)
        if (strcmp(pl->strategy.name, name) == 0)
            return &pl->strategy;
    return NULL;
}

void
rq_plugin_unload_all(void)
{
    /* newest first is the reverse of load order */
    while (plugins != NULL) {
        struct plugin *pl = plugins;
        plugins = pl->next;
        if (pl->p->fini != NULL)
            pl->p->fini(pl->state);
        dlclose(pl->handle);
        free(pl->path);
        free(pl);
    }
    free(infos);
    free(ptrs);
    free(indexes);
    infos = NULL;
    ptrs = NULL;
    indexes = NULL;
    cap = 0;
}
