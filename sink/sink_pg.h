/* libpq helpers of ferry-sink: running a statement and classifying its
 * error as transient, bad data or fatal.
 * sink/sink_pg.h
 *
 * A connection belongs to one thread at a time.
 */
#ifndef SINK_PG_H
#define SINK_PG_H

#include "ferry_err.h"

#include <libpq-fe.h>

/* The class of a failed result res (borrowed, may be NULL) on conn:
 * FERRY_ETRANSIENT for a lost connection, class 08, 40001, 40P01, 53, 57,
 * 55P03 and 58; FERRY_EDATA for classes 22, 23, 44 and P0 (the row is
 * bad); FERRY_EFATAL otherwise. */
int sink_pg_class(PGconn *conn, const PGresult *res);

/* Work to do while the target executes a statement: returns how much it
 * did (0 when there is nothing to do now). */
typedef int (*sink_pg_idle_fn)(void *arg);

/* From now on, sink_pg_exec() on conn (borrowed) runs fn(arg) while it
 * waits for the target's answer, instead of blocking, so that the sink
 * reads and parses the next messages while the target applies the
 * current batch.  fn must not use conn.  NULL fn turns it off.  One
 * connection at a time (the sink has one target connection). */
void sink_pg_set_idle(PGconn *conn, sink_pg_idle_fn fn, void *arg);

/* Runs sql (borrowed) with n text parameters (borrowed, NULL for SQL
 * NULL).  On success returns 0 and, when out is not NULL, *out is the new
 * result (PQclear it).  On failure returns the class of the error, sets err
 * ("what": message) and, when sqlstate is not NULL, copies the SQLSTATE into
 * it (6 bytes). */
int sink_pg_exec(PGconn *conn, const char *what, const char *sql, int n,
                 const char *const *params, PGresult **out, char *sqlstate,
                 ferry_err_t *err) FERRY_WUR;

#endif
