/*
 * stats.h - statistics of ringqd (pure: no I/O, no clock of its own).
 *
 * The router keeps raw counters (struct rq_qcounters in model.h) per queue,
 * per tier and per 15-minute interval, and a few per agent; everything
 * shown is derived here from them, so every figure can be recomputed from
 * the counters alone.
 *
 * Service level: every standard variant comes from the same counters,
 *   answered_only      A_t / A
 *   abandons_negative  A_t / O
 *   abandons_ignored   A_t / (O - B_t)
 *   abandons_positive  (A_t + B_t) / O
 * where A is answered, A_t answered within target, B_t abandoned within
 * target and O the contacts that reached an outcome (answered or
 * abandoned). Each queue names the variant its wallboard shows.
 *
 * Intervals: the running interval's counters are added to as the router
 * counts; rq_stats_roll, given the router's "now", closes it and starts the
 * next one when its time is up, keeping the last RQ_STATS_INTERVALS.
 *
 * Staffing: Erlang C (M/M/N, no abandons) on the last complete interval's
 * arrival rate and handle time gives the agents needed to meet a goal.
 */
#ifndef RQ_STATS_H
#define RQ_STATS_H

#include <stdint.h>

#include "config.h"
#include "model.h"

#define RQ_STATS_INTERVAL_MS (15u * 60u * 1000u) /* one interval: 15 minutes */
#define RQ_STATS_INTERVALS   96                  /* completed intervals kept: 24 hours */
#define RQ_STATS_MIN_LIVE_MS 60000u /* live arrival rates span at least this much time */
#define RQ_STATS_MAX_AGENTS  100000 /* rq_staffing_needed searches no further */

/*
 * Figures from one set of counters (a queue, a tier or an interval).
 */

/* Percent 0..100 by variant v, or -1 when there is nothing to measure yet. */
double rq_stats_service_level(const struct rq_qcounters *c, enum rq_sl_variant v);
/* Average speed of answer and average handle time, seconds (0 when none). */
double rq_stats_asa_s(const struct rq_qcounters *c);
double rq_stats_aht_s(const struct rq_qcounters *c);
/* Percent of answered contacts that waited in queue (Erlang C's P(wait):
 * no agent took them on arrival), or -1 when none was answered. */
double rq_stats_waited_percent(const struct rq_qcounters *c);
/* Percent of answered contacts answered within the queue's answer_rings
 * rings (its voice target, regardless of tier), or -1 when none. */
double rq_stats_rings_percent(const struct rq_qcounters *c);

/* EWT accuracy: what answered contacts were told at arrival against what
 * they waited. mean_signed_s > 0: they waited longer than told. */
struct rq_ewt_error {
    uint64_t n;           /* answered contacts that were told an EWT */
    double mean_abs_s;    /* mean of |real wait - EWT|, seconds (0 when n is 0) */
    double mean_signed_s; /* mean of (real wait - EWT), seconds (0 when n is 0) */
};
void rq_stats_ewt_error(const struct rq_qcounters *c, struct rq_ewt_error *out);

/*
 * Intervals.
 */

/* Make the running interval the one that holds now_ms: a running interval
 * whose time is up goes to the ring (followed by empty intervals for any
 * that passed without a count), and a new one starts. The first call also
 * sets since_ms. Returns 0, or -1 when the ring could not grow (the
 * completed interval is dropped; counting goes on). A clock that moved
 * back is ignored. */
int rq_stats_roll(struct rq_intervals *iv, uint64_t now_ms);
/* Free the ring; iv is empty afterwards. */
void rq_stats_iv_free(struct rq_intervals *iv);
/* The completed interval `back` places before the newest (0: the newest),
 * as of the last roll, or NULL when there is none that far back. */
const struct rq_interval *rq_stats_interval(const struct rq_intervals *iv, int back);
/* The interval running at now_ms into *out: the running interval when it
 * holds now_ms, else an empty one (nothing counted since it began).
 * Returns -1 (out zeroed) when nothing was ever counted. */
int rq_stats_current(const struct rq_intervals *iv, uint64_t now_ms, struct rq_interval *out);
/* The last complete interval as of now_ms into *out (the running interval
 * when its time is up, an empty one when a whole interval passed without a
 * count). Returns -1 (out zeroed) when no interval has completed yet. */
int rq_stats_last_complete(const struct rq_intervals *iv, uint64_t now_ms, struct rq_interval *out);

/*
 * Agents.
 */

/* Occupancy: percent of the agent's logged-in time spent on contacts,
 * offers and wrap-up; -1 while logged out (or no time has passed). */
double rq_stats_agent_occupancy(const struct rq_agent *a, uint64_t now_ms);
/* The agent's average handle time (talk + wrap-up), seconds, 0 when none. */
double rq_stats_agent_aht_s(const struct rq_agent *a);

/*
 * Erlang C: N agents, offered traffic A = arrival rate x AHT (Erlangs).
 */

/* Erlang B blocking probability, by the stable recursion
 * B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)). */
double rq_erlang_b(int agents, double traffic_erlangs);
/* Probability that a contact waits; 1 when agents <= traffic (the queue
 * grows without bound). */
double rq_erlang_c(int agents, double traffic_erlangs);
/* Share 0..1 answered within target_s: 1 - C exp(-(N - A) target / AHT);
 * 0 when agents <= traffic. */
double rq_erlang_sl(int agents, double traffic_erlangs, double target_s, double aht_s);
/* Average speed of answer, seconds: C AHT / (N - A); -1 when agents <=
 * traffic (unbounded). */
double rq_erlang_asa(int agents, double traffic_erlangs, double aht_s);
/* The smallest N whose rq_erlang_sl reaches goal (0..1] for arrivals at
 * rate_per_s with handle time aht_s; 0 when there is no traffic, -1 when
 * the inputs are invalid or more than RQ_STATS_MAX_AGENTS would be needed. */
int rq_staffing_needed(double rate_per_s, double aht_s, double target_s, double goal);

/* What the staffing advisor used and found for one queue. */
struct rq_staffing {
    int agents;        /* agents needed to meet the goal, -1: unknown (no data) */
    double rate_per_s; /* arrival rate (offered per second) */
    double aht_s;      /* handle time */
    double traffic;    /* rate x AHT, Erlangs */
    int from_interval; /* 1: the last complete interval, 0: live since the first count */
};
/* The staffing advisor for queue q at now_ms: Erlang C on the last complete
 * interval's arrival rate and AHT, against the queue's voice target and
 * goal. Until ringqd has counted through a whole interval (it starts
 * mid-interval) it uses the live rate: everything offered since its first
 * count, over at least RQ_STATS_MIN_LIVE_MS. Without a contact ended in
 * that time the AHT is the queue's total one, then its default_aht.
 * Returns out->agents (-1 before the first count). */
int rq_stats_staffing(const struct rq_queue *q, uint64_t now_ms, struct rq_staffing *out);

#endif
