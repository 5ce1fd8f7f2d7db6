/*
 * errors.h - the protocol's error codes (docs/protocol.md), shared by the
 * parser, the routing core and the sessions. Low layers fill a struct
 * rq_error and return -1; only the caller logs or replies.
 */
#ifndef RQ_ERRORS_H
#define RQ_ERRORS_H

#include <stdarg.h>

#include "rq_limits.h"

enum rq_errcode {
    RQ_OK = 0,
    RQ_E_BAD_JSON,     /* the line is not a JSON object */
    RQ_E_TOO_LARGE,    /* the line is over max_line_bytes */
    RQ_E_UNKNOWN_OP,   /* no such op (or not for this role) */
    RQ_E_BAD_FIELD,    /* missing, unknown or ill-typed field; message names it */
    RQ_E_UNAUTHORIZED, /* hello missing or refused, or op not allowed for the role */
    RQ_E_NOT_FOUND,    /* unknown contact, agent or queue */
    RQ_E_BAD_STATE,    /* the object is not in a state that allows the op */
    RQ_E_DUPLICATE,    /* contact id already known */
    RQ_E_OVERLOADED,   /* too much work queued: retry later */
    RQ_E_UNAVAILABLE,  /* not taking this now (draining, store journal full) */
    RQ_E_BAD_CONFIG,   /* a reload's new file was refused (message: "file:line: ...") */
    RQ_E_INTERNAL,     /* a bug: never expected */
};

struct rq_error {
    enum rq_errcode code;
    char message[RQ_ERR_LEN];
};

/* "bad_json", "too_large", ... */
const char *rq_errcode_name(enum rq_errcode code);

/* Fill err (if not NULL) and return -1, so callers can `return rq_fail(...)`. */
int rq_fail(struct rq_error *err, enum rq_errcode code, const char *fmt, ...)
    __attribute__((__format__(printf, 3, 4)));

#endif
