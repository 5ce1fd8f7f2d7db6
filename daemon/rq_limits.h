/*
 * rq_limits.h - every size and time limit of ringqd in one place.
 *
 * A read path checks one of these before it buffers more; a limit that
 * closes a connection bumps a counter and logs at most RQ_LOG_INPUT_PREFIX
 * escaped bytes of the input.
 */
#ifndef RQ_LIMITS_H
#define RQ_LIMITS_H

#define RQ_ERR_LEN           256    /* error message buffers (file:line: text) */
#define RQ_MAX_ID_LEN        128    /* contact, agent, queue, customer ids */
#define RQ_MAX_NAME_LEN      64     /* skill, tier, language, reason names */
#define RQ_MAX_REASON_LEN    64     /* not_ready reason */
#define RQ_MAX_REQS          16     /* skill requirements of one contact */
#define RQ_MAX_LEVEL         10     /* proficiency levels are 1..10 */
#define RQ_MAX_SKILLS        32767  /* skills in a configuration (a skill index is 16 bits) */
#define RQ_MAX_STEPS         8      /* escalation steps of one queue */
#define RQ_MAX_STEP_QUEUES   4      /* overflow queues one step adds */
#define RQ_MAX_MEMBERSHIPS   8      /* own queue + overflow queues of a contact */
#define RQ_MAX_AGENT_SKILLS  64     /* skills of one agent */
#define RQ_MAX_AGENT_LANGS   8      /* languages of one agent */
#define RQ_MAX_CAPACITY      32     /* contacts of one medium at once per agent */
#define RQ_MAX_PRIORITY      100    /* contact priority 0..100 */
#define RQ_MAX_SYNC_CONTACTS 100000 /* ids in one sync request */

#define RQ_DEFAULT_MAX_LINE    65536 /* max_line_bytes of the NDJSON protocol */
#define RQ_PREAUTH_MAX_LINE    4096  /* line limit before a successful hello */
#define RQ_MIN_MAX_LINE        1024
#define RQ_MAX_MAX_LINE        (16 * 1024 * 1024)
#define RQ_OUTPUT_HIGH_WATER   (4 * 1024 * 1024) /* a client that lets this pile up is dropped */
#define RQ_DEFAULT_MAX_CLIENTS 10000
#define RQ_LOG_INPUT_PREFIX    64    /* bytes of bad input quoted in a log line */
#define RQ_HELLO_TIMEOUT_MS    10000 /* a connection must say hello within this */

#define RQ_MAX_RING_TIMEOUT_MS (600u * 1000u)
#define RQ_MAX_DUE_AHEAD_MS    (90ull * 24u * 3600u * 1000u) /* due_at at most 90 days ahead */
#define RQ_MAX_TARGET_MS       (7u * 24u * 3600u * 1000u)    /* a week: email targets */

#endif
