/* ferry's one logger: levels, a program name, and a timestamp per line.
 * common/ferry_log.h
 *
 * Lines go to stderr as "2026-11-21 19:40:01.123 ferry-cdc LEVEL: message".
 * Callers put the context in the message (slot, LSN as %X/%X, topic/partition/
 * offset, entity, legacy key).  Never log a password or a full DSN: use
 * ferry_log_dsn_safe() to describe a connection.
 *
 * With the JSON format (--log-format json, or FERRY_LOG_FORMAT=json) each
 * line is one JSON object: time (RFC 3339, UTC), level, program, message,
 * the program's standing fields (ferry_log_set_field(): slot, group) and,
 * for ferry_log_ctx(), the line's context (slot, lsn, entity, key, topic,
 * partition, offset) as fields of their own.
 *
 * Thread-safe: each line is written with one fprintf under stdio's own
 * lock; set the format and the standing fields before other threads log.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include "ferry_err.h"

#include <stddef.h>
#include <stdint.h>

enum ferry_log_level {
    FERRY_LOG_DEBUG = 0,
    FERRY_LOG_INFO = 1,
    FERRY_LOG_WARNING = 2,
    FERRY_LOG_ERROR = 3
};

/* Sets the program name shown on every line; borrowed, must outlive use. */
void ferry_log_init(const char *progname);

/* Lines below level are dropped.  The default is FERRY_LOG_INFO, or the
 * level named by the FERRY_LOG_LEVEL environment variable. */
void ferry_log_set_level(enum ferry_log_level level);
enum ferry_log_level ferry_log_get_level(void);

/* Parses "debug", "info", "warning" or "error"; returns false otherwise. */
int ferry_log_parse_level(const char *name, enum ferry_log_level *out);

void ferry_log(enum ferry_log_level level, const char *fmt, ...)
    FERRY_PRINTF(2, 3);

/* The context of one line, for the JSON format's fields (the text format
 * shows only the message, which says it too).  Unset fields are NULL, 0
 * for lsn, -1 for partition and offset. */
typedef struct ferry_logctx {
    const char *slot;   /* the replication slot */
    uint64_t lsn;       /* an LSN, 0 for none */
    const char *entity; /* the mapping's entity */
    const char *key;    /* a legacy key */
    const char *topic;  /* a Kafka topic ... */
    int partition;      /* ... partition ... */
    int64_t offset;     /* ... and offset */
} ferry_logctx_t;

/* An unset context; start from it: ferry_logctx_t c = FERRY_LOGCTX_NONE. */
#define FERRY_LOGCTX_NONE                                                      \
    {                                                                          \
        NULL, 0, NULL, NULL, NULL, -1, -1                                      \
    }

/* As ferry_log(), with ctx (borrowed, may be NULL). */
void ferry_log_ctx(enum ferry_log_level level, const ferry_logctx_t *ctx,
                   const char *fmt, ...) FERRY_PRINTF(3, 4);

/* How lines are written. */
enum ferry_log_format { FERRY_LOG_TEXT = 0, FERRY_LOG_JSON = 1 };

/* Sets the format; the default is FERRY_LOG_TEXT, or FERRY_LOG_JSON when
 * FERRY_LOG_FORMAT=json is in the environment at ferry_log_init(). */
void ferry_log_set_format(enum ferry_log_format format);

/* Parses "text" or "json"; returns false otherwise. */
int ferry_log_parse_format(const char *name, enum ferry_log_format *out);

/* Adds a standing field (key and value copied; a second call with the same
 * key replaces it) to every JSON line: the slot of ferry-cdc, say.  At
 * most 8.  Returns 0, or -1 when there is no room or memory. */
int ferry_log_set_field(const char *key, const char *value);

#define ferry_debug(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)
#define ferry_info(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_warn(...) ferry_log(FERRY_LOG_WARNING, __VA_ARGS__)
#define ferry_error(...) ferry_log(FERRY_LOG_ERROR, __VA_ARGS__)

/* Writes into buf a description of a libpq conninfo string or URI that is
 * safe to log: host, port, dbname and user only, never a password.
 * buf is caller-owned; returns buf. */
char *ferry_log_dsn_safe(const char *dsn, char *buf, size_t buflen);

#endif
