/* ferry's one logger: levels, a program name, and a timestamp per line.
 * common/ferry_log.h
 *
 * Lines go to stderr as "2026-11-21 19:40:01.123 ferry-cdc LEVEL: message".
 * Callers put the context in the message (slot, LSN as %X/%X, topic/partition/
 * offset, entity, legacy key).  Never log a password or a full DSN: use
 * ferry_log_dsn_safe() to describe a connection.  Thread-safe: each line is
 * written with one fprintf under stdio's own lock.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include "ferry_err.h"

#include <stddef.h>

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

#define ferry_debug(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)
#define ferry_info(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_warn(...) ferry_log(FERRY_LOG_WARNING, __VA_ARGS__)
#define ferry_error(...) ferry_log(FERRY_LOG_ERROR, __VA_ARGS__)

/* Writes into buf a description of a libpq conninfo string or URI that is
 * safe to log: host, port, dbname and user only, never a password.
 * buf is caller-owned; returns buf. */
char *ferry_log_dsn_safe(const char *dsn, char *buf, size_t buflen);

#endif
