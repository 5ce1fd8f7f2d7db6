/* errors.c - protocol error codes and the helper that fills them. */
#include <stdio.h>

#include "errors.h"

const char *
rq_errcode_name(enum rq_errcode code)
{
    switch (code) {
    case RQ_OK:
        return "ok";
    case RQ_E_BAD_JSON:
        return "bad_json";
    case RQ_E_TOO_LARGE:
        return "too_large";
    case RQ_E_UNKNOWN_OP:
        return "unknown_op";
    case RQ_E_BAD_FIELD:
        return "bad_field";
    case RQ_E_UNAUTHORIZED:
        return "unauthorized";
    case RQ_E_NOT_FOUND:
        return "not_found";
    case RQ_E_BAD_STATE:
        return "bad_state";
    case RQ_E_DUPLICATE:
        return "duplicate";
    case RQ_E_OVERLOADED:
        return "overloaded";
    case RQ_E_UNAVAILABLE:
        return "unavailable";
    case RQ_E_BAD_CONFIG:
        return "bad_config";
    case RQ_E_INTERNAL:
        return "internal";
    }
    return "internal";
}

int
rq_fail(struct rq_error *err, enum rq_errcode code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}
