/*
 * stats.h - service-level math on a queue's raw counters (pure).
 * Every standard variant is derived from the same counters:
 *   answered_only      A_t / A
 *   abandons_negative  A_t / O
 *   abandons_ignored   A_t / (O - B_t)
 *   abandons_positive  (A_t + B_t) / O
 * where O counts contacts that reached an outcome (answered or abandoned).
 */
#ifndef RQ_STATS_H
#define RQ_STATS_H

#include "config.h"
#include "model.h"

/* Percent 0..100, or -1 when there is nothing to measure yet. */
double rq_stats_service_level(const struct rq_qcounters *c, enum rq_sl_variant v);
/* Average speed of answer and average handle time, seconds (0 when none). */
double rq_stats_asa_s(const struct rq_qcounters *c);
double rq_stats_aht_s(const struct rq_qcounters *c);

#endif
