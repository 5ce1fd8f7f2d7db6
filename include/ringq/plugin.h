/*
 * ringq/plugin.h - the only header a ringq plugin includes.
 *
 * A plugin is a shared object that exports one symbol,
 *
 *     RINGQ_PLUGIN_EXPORT const struct ringq_plugin ringq_plugin_v1 = { ... };
 *
 * initialised with designated initializers. ringqd loads it with
 * dlopen(RTLD_NOW | RTLD_LOCAL), refuses it before running any of its code
 * when abi_major differs from RINGQ_PLUGIN_ABI_MAJOR or struct_size is too
 * small, refuses a second plugin of the same name, then calls init with the
 * host API table. Plugins see the daemon only through that table and the
 * read-only structures passed to their callbacks, never its internals.
 *
 * Versioning: fields are only ever appended to these structures; each
 * carries struct_size so either side can tell which fields the other has.
 * A change that breaks old plugins bumps RINGQ_PLUGIN_ABI_MAJOR.
 */
#ifndef RINGQ_PLUGIN_H
#define RINGQ_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define RINGQ_PLUGIN_ABI_MAJOR 1
#define RINGQ_PLUGIN_ABI_MINOR 0
#define RINGQ_PLUGIN_SYMBOL    "ringq_plugin_v1"

/* Mark the exported description (plugins build with hidden visibility). */
#define RINGQ_PLUGIN_EXPORT __attribute__((__visibility__("default")))

enum ringq_plugin_kind {
    RINGQ_PLUGIN_STRATEGY = 1, /* agent selection: provides strategy */
};

/* Log levels for host->log (syslog numbers). */
enum ringq_log_level { RINGQ_LOG_ERR = 3, RINGQ_LOG_WARNING = 4, RINGQ_LOG_INFO = 6 };

/* What the daemon offers a plugin. */
struct ringq_host_api {
    uint32_t abi_major; /* RINGQ_PLUGIN_ABI_MAJOR of the daemon */
    uint32_t abi_minor; /* RINGQ_PLUGIN_ABI_MINOR of the daemon */
    size_t struct_size; /* sizeof(struct ringq_host_api) of the daemon */
    /* Log a line under the plugin's name. */
    void (*log)(int level, const char *plugin, const char *fmt, ...)
        __attribute__((__format__(printf, 3, 4)));
    /* The daemon's clock, ms since the epoch. */
    uint64_t (*now_ms)(void);
};

/* The contact a strategy places (read-only, valid during the call). */
struct ringq_contact_info {
    size_t struct_size;  /* sizeof(struct ringq_contact_info) of the daemon */
    const char *id;      /* contact id */
    const char *queue;   /* queue name */
    const char *tier;    /* customer tier name */
    const char *channel; /* voice|chat|email|callback */
    int priority;        /* current priority */
    uint64_t waited_ms;  /* time in the queue so far */
};

/* One agent that may take the contact (read-only, valid during the call). */
struct ringq_agent_info {
    size_t struct_size; /* sizeof(struct ringq_agent_info) of the daemon */
    const char *id;     /* agent id */
    uint64_t idle_ms;   /* time since the agent last finished work */
    uint32_t handled;   /* contacts answered since login */
    double occupancy;   /* share of logged-in time spent on contacts, 0..1 */
    int skill_score;    /* sum of its levels in the skills the contact needs */
    int load;           /* contacts it is on now (chats) */
};

struct ringq_strategy_ops {
    size_t struct_size; /* sizeof(struct ringq_strategy_ops) of the plugin */
    const char *name;   /* the strategy name queues use (strategy = "...") */
    /* Choose one of n (>= 1) agents; return its index 0..n-1. */
    size_t (*pick)(void *state, const struct ringq_contact_info *contact,
                   const struct ringq_agent_info *const *agents, size_t n);
};

struct ringq_plugin {
    uint32_t abi_major; /* RINGQ_PLUGIN_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor; /* RINGQ_PLUGIN_ABI_MINOR the plugin was built with */
    size_t struct_size; /* sizeof(struct ringq_plugin) of the plugin */
    const char *name;   /* unique plugin name */
    int kind;           /* enum ringq_plugin_kind */
    /* Called once after loading; *state is passed to every callback.
     * Returns 0, or -1 to refuse loading. May be NULL. */
    int (*init)(const struct ringq_host_api *host, void **state);
    /* Called once at shutdown, in reverse load order. May be NULL. */
    void (*fini)(void *state);
    const struct ringq_strategy_ops *strategy; /* kind RINGQ_PLUGIN_STRATEGY */
};

#endif
