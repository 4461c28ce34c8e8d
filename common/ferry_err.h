/* ferry's error classes and the caller-owned error report.
 * common/ferry_err.h
 *
 * A fallible function returns 0 or one of the negative FERRY_E* classes and,
 * when the caller passes a ferry_err_t, fills it with a message that carries
 * context (slot, LSN, topic/partition/offset, entity, legacy key).  Retry
 * logic keys on the class: only FERRY_ETRANSIENT is worth retrying.
 */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stddef.h>

#define FERRY_WUR __attribute__((warn_unused_result))
#define FERRY_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum ferry_status {
    FERRY_OK = 0,
    FERRY_ECONFIG = -1,    /* bad configuration; fix the file or flags */
    FERRY_ETRANSIENT = -2, /* network, broker, serialization; retry */
    FERRY_EFATAL = -3,     /* cannot go on; stop without confirming */
    FERRY_EDATA = -4,      /* bad input data; isolate and record */
    FERRY_ENOMEM = -5,     /* allocation failed */
    FERRY_ESCHEMA = -6     /* the source's schema no longer matches the
                              mapping: stop, keep the position, fix the
                              mapping */
};

typedef struct ferry_err {
    int status;     /* the class of the last error set, FERRY_OK if none */
    char msg[1024]; /* lower-case message without a trailing period */
} ferry_err_t;

/* Sets status and message; err may be NULL.  Returns status so that callers
 * can write "return ferry_err_set(err, FERRY_ECONFIG, ...)". */
int ferry_err_set(ferry_err_t *err, int status, const char *fmt, ...)
    FERRY_PRINTF(3, 4);

/* Prefixes the existing message with more context ("entity \"x\": ...").
 * Returns err->status, or FERRY_EFATAL when err is NULL. */
int ferry_err_prefix(ferry_err_t *err, const char *fmt, ...) FERRY_PRINTF(2, 3);

/* Returns a static name for a status ("config", "transient", ...). */
const char *ferry_status_name(int status);

#endif
