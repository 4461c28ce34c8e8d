/* How ferry-sink runs a statement on the target: common/ferry_pg.h's
 * ferry_pg_exec(), with work to do while it waits.
 * sink/sink_pg.h
 *
 * Error classes, messages and flags are ferry_pg.h's.  A connection
 * belongs to one thread at a time.
 */
#ifndef SINK_PG_H
#define SINK_PG_H

#include "ferry_err.h"
#include "ferry_pg.h"

#include <libpq-fe.h>

/* Work to do while the target executes a statement: returns how much it
 * did (0 when there is nothing to do now). */
typedef int (*sink_pg_idle_fn)(void *arg);

/* From now on, sink_pg_exec() on conn (borrowed) runs fn(arg) while it
 * waits for the target's answer, instead of blocking, so that the sink
 * reads and parses the next messages while the target applies the
 * current batch.  fn must not use conn.  NULL fn turns it off.  One
 * connection at a time (the sink has one target connection). */
void sink_pg_set_idle(PGconn *conn, sink_pg_idle_fn fn, void *arg);

/* ferry_pg_exec() (the same parameters, results and ownership), which on
 * the connection with an idle hook runs the hook while the target works. */
int sink_pg_exec(PGconn *conn, const char *sql, int n,
                 const char *const *params, PGresult **out, char *sqlstate,
                 const char *what, unsigned flags, ferry_err_t *err) FERRY_WUR;

#endif
