/*
 * plugin.h - the plugin host: dlopen, ABI checks, the registry of plugin
 * strategies (include/ringq/plugin.h is the plugins' side).
 */
#ifndef RQ_PLUGIN_H
#define RQ_PLUGIN_H

#include <stddef.h>

struct rq_strategy;

/* Load the plugin at path and register what it provides. Loading the same
 * file again is a no-op. Returns 0, or -1 with err filled ("path: ..."). */
int rq_plugin_load(const char *path, char *err, size_t errlen);
/* The strategy a loaded plugin registered under name, or NULL. */
const struct rq_strategy *rq_plugin_strategy(const char *name);
/* Call every plugin's fini (reverse load order) and unload them. */
void rq_plugin_unload_all(void);

#endif
