/* stats.c - service levels, ASA and AHT from a queue's raw counters. */
#include "stats.h"

double
rq_stats_service_level(const struct rq_qcounters *c, enum rq_sl_variant v)
{
    double at = (double)c->answered_in_target, a = (double)c->answered;
    double o = (double)(c->answered + c->abandoned), bt = (double)c->abandoned_in_target;

    switch (v) {
    case RQ_SL_ANSWERED_ONLY:
        return a > 0 ? 100.0 * at / a : -1;
    case RQ_SL_ABANDONS_NEGATIVE:
        return o > 0 ? 100.0 * at / o : -1;
    case RQ_SL_ABANDONS_IGNORED:
        return o - bt > 0 ? 100.0 * at / (o - bt) : -1;
    case RQ_SL_ABANDONS_POSITIVE:
        return o > 0 ? 100.0 * (at + bt) / o : -1;
    }
    return -1;
}

double
rq_stats_asa_s(const struct rq_qcounters *c)
{
    return c->answered ? (double)c->wait_ms_answered / 1000.0 / (double)c->answered : 0;
}

double
rq_stats_aht_s(const struct rq_qcounters *c)
{
    return c->handled ? (double)c->handle_ms / 1000.0 / (double)c->handled : 0;
}
