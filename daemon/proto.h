/*
 * proto.h - the NDJSON protocol (docs/protocol.md): one JSON object per
 * line in, a validated struct rq_msg out, or an error with a code and a
 * message that names the field. Pure: no I/O, no routing state.
 */
#ifndef RQ_PROTO_H
#define RQ_PROTO_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"
#include "router.h"

enum rq_role { RQ_ROLE_NONE = 0, RQ_ROLE_SOURCE, RQ_ROLE_AGENT, RQ_ROLE_MONITOR };

enum rq_op {
    RQ_OP_HELLO = 0,
    RQ_OP_PING,
    RQ_OP_CONTACT_NEW,
    RQ_OP_CONTACT_ANSWERED,
    RQ_OP_CONTACT_NO_ANSWER,
    RQ_OP_CONTACT_ABANDON,
    RQ_OP_CONTACT_END,
    RQ_OP_CONTACT_TRANSFER,
    RQ_OP_SYNC,
    RQ_OP_AGENT_STATE,
    RQ_OP_OFFER_ACCEPT,
    RQ_OP_OFFER_REJECT,
    RQ_OP_WRAPUP_DONE,
    RQ_OP_BYE,
    RQ_OP_SNAPSHOT,
    RQ_OP_SUBSCRIBE,
    RQ_OP_AGENT_SET,        /* monitor with role supervisor: set an agent's state */
    RQ_OP_CONTACT_MOVE,     /* supervisor: move a contact to another queue */
    RQ_OP_CONTACT_PRIORITY, /* supervisor: set a contact's priority */
    RQ_OP_ADMIN_RELOAD,     /* monitor with role admin: reload the configuration (SIGHUP) */
    RQ_OP_ADMIN_DRAIN,      /* admin: drain and stop (SIGTERM) */
    RQ_OP__COUNT
};

/* Monitor topics (bits). */
#define RQ_TOPIC_QUEUES   0x1u
#define RQ_TOPIC_AGENTS   0x2u
#define RQ_TOPIC_CONTACTS 0x4u
#define RQ_TOPIC_ALERTS   0x8u
#define RQ_TOPIC_ALL      0xfu

/* One entry of a sync request: an id alone, or a whole contact. */
struct rq_sync_item {
    const char *id;          /* contact id */
    int full;                /* 1: `in` holds the whole contact (queue, customer...) */
    struct rq_contact_in in; /* valid when full */
};

struct rq_msg {
    json_t *root; /* the parsed line: owns every string below */
    json_t *id;   /* the client's "id" (borrowed from root), NULL when absent */
    enum rq_op op;
    union {
        struct {
            enum rq_role role;
            const char *name;  /* client name (source/monitor) */
            const char *token; /* shared secret */
            const char *agent; /* agent id (role agent) */
        } hello;
        struct rq_contact_in contact; /* contact.new */
        struct {
            const char *contact; /* every op that names a contact */
            const char *agent;   /* contact.answered, contact.no_answer */
            const char *queue;   /* contact.transfer */
            const char *reason;  /* contact.no_answer (optional) */
        } ref;
        struct {
            const char *state;  /* "ready" | "not_ready" */
            const char *reason; /* optional */
        } state;
        struct {
            struct rq_sync_item *items; /* malloc'd, freed by rq_msg_clear */
            size_t n;
        } sync;
        struct {
            unsigned topics; /* RQ_TOPIC_* */
        } subscribe;
        struct {
            const char *agent;  /* agent id */
            const char *state;  /* "ready" | "not_ready" | "logged_out" */
            const char *reason; /* optional (not_ready) */
        } set;                  /* agent.set */
        struct {
            const char *contact; /* contact id */
            int priority;        /* 0..RQ_MAX_PRIORITY */
        } prio;                  /* contact.priority (contact.move uses ref) */
    } u;
};

/* Parse one line (without its newline). Returns 0, or -1 with err set.
 * Either way msg->id is set when the line was a JSON object with an id,
 * and the caller must call rq_msg_clear. */
int rq_proto_parse(const char *line, size_t len, struct rq_msg *msg, struct rq_error *err);
void rq_msg_clear(struct rq_msg *msg);

const char *rq_op_name(enum rq_op op);
const char *rq_role_name(enum rq_role role);
/* May role send op? (hello and ping: any role) */
int rq_op_allowed(enum rq_op op, enum rq_role role);
/* The monitor role (config `role`) a monitor needs to send op. */
enum rq_monitor_role rq_op_monitor_role(enum rq_op op);
const char *rq_monitor_role_name(enum rq_monitor_role role);

/* Encode replies as one line ending in '\n' (malloc'd; free()). `extra`
 * (may be NULL) is an object whose members are added to the reply; its
 * reference is stolen. id may be NULL. */
char *rq_proto_reply_ok(json_t *id, json_t *extra, size_t *len);
char *rq_proto_reply_error(json_t *id, const struct rq_error *err, size_t *len);
/* Encode a push: {"ev": ev, ...members of body}. Steals body. */
char *rq_proto_push(const char *ev, json_t *body, size_t *len);

#endif
