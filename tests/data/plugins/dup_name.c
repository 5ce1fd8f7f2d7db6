/* A second plugin that claims the name of strategy_least_skilled. */
#include <ringq/plugin.h>

static size_t
pick(void *state, const struct ringq_contact_info *c, const struct ringq_agent_info *const *a,
     size_t n)
{
    (void)state;
    (void)c;
    (void)a;
    return n - 1;
}

static const struct ringq_strategy_ops ops = {
    .struct_size = sizeof(struct ringq_strategy_ops), .name = "last_one", .pick = pick};

RINGQ_PLUGIN_EXPORT const struct ringq_plugin ringq_plugin_v1 = {
    .abi_major = RINGQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct ringq_plugin),
    .name = "least_skilled",
    .kind = RINGQ_PLUGIN_STRATEGY,
    .strategy = &ops,
};
