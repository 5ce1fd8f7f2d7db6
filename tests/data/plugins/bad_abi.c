/* A plugin built for another ABI: ringqd must refuse it without calling it. */
#include <ringq/plugin.h>

static int
init(const struct ringq_host_api *host, void **state)
{
    (void)host;
    (void)state;
    __builtin_trap(); /* never reached: the ABI check comes first */
}

RINGQ_PLUGIN_EXPORT const struct ringq_plugin ringq_plugin_v1 = {
    .abi_major = 99,
    .abi_minor = 0,
    .struct_size = sizeof(struct ringq_plugin),
    .name = "from_the_future",
    .kind = RINGQ_PLUGIN_STRATEGY,
    .init = init,
};
