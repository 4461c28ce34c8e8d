/* libpq helpers every ferry program shares: connecting, and telling a
 * refusal that retrying cannot fix from an outage that may pass.
 * common/ferry_pg.h
 *
 * Thread-safety: every function may be called from any thread, on
 * connections that thread owns (libpq's own rule).
 */
#ifndef FERRY_PG_H
#define FERRY_PG_H

#include "ferry_err.h"

#include <libpq-fe.h>

/* Opens a connection with the libpq conninfo string or URI dsn, adding
 * fallback_application_name=appname and, when replication is not NULL,
 * replication=<replication> ("database" for logical replication).  what names
 * the side in messages ("source", "target").
 *
 * Returns a new connection (free with PQfinish) or NULL with err set to:
 * - FERRY_ECONFIG when the server answered and refused us (no such database
 *   or role, authentication failed, an unparsable dsn): retrying cannot help;
 * - FERRY_ETRANSIENT when it could not be reached or is not accepting
 *   connections yet (starting up, shutting down): it may pass.
 * The message names the server with ferry_log_dsn_safe(), never a password.
 * All pointers are borrowed. */
PGconn *ferry_pg_connect(const char *dsn, const char *replication,
                         const char *appname, const char *what,
                         ferry_err_t *err) FERRY_WUR;

#endif
