/*
 * least_skilled - a "best fit" agent-selection strategy: of the agents who
 * qualify for a contact, offer it to the one with the lowest skill score in
 * the skills the contact needs, so the most skilled agents stay free for
 * the contacts only they can take. Ties go to the agent idle longest.
 *
 * Use it in a queue with `strategy = "least_skilled";` once the plugin is
 * listed in `plugins = [ ... ];`.
 */
#include <ringq/plugin.h>

static size_t
pick(void *state, const struct ringq_contact_info *contact,
     const struct ringq_agent_info *const *agents, size_t n)
{
    size_t best = 0;

    (void)state;
    (void)contact;
    for (size_t i = 1; i < n; i++) {
        const struct ringq_agent_info *a = agents[i], *b = agents[best];
        if (a->skill_score < b->skill_score ||
            (a->skill_score == b->skill_score && a->idle_ms > b->idle_ms))
            best = i;
    }
    return best;
}

static int
init(const struct ringq_host_api *host, void **state)
{
    *state = NULL;
    if (host->abi_major != RINGQ_PLUGIN_ABI_MAJOR)
        return -1;
    host->log(RINGQ_LOG_INFO, "least_skilled", "strategy least_skilled ready");
    return 0;
}

static const struct ringq_strategy_ops ops = {
    .struct_size = sizeof(struct ringq_strategy_ops),
    .name = "least_skilled",
    .pick = pick,
};

RINGQ_PLUGIN_EXPORT const struct ringq_plugin ringq_plugin_v1 = {
    .abi_major = RINGQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct ringq_plugin),
    .name = "least_skilled",
    .kind = RINGQ_PLUGIN_STRATEGY,
    .init = init,
    .fini = NULL,
    .strategy = &ops,
};
