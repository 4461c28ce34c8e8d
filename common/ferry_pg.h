/* libpq helpers every ferry program shares: connecting, running a
 * statement, COPY, and telling an error that may pass from one that will
 * not.
 * common/ferry_pg.h
 *
 * Every failure is reported as "could not <what>: <server message>" in the
 * caller's ferry_err_t, with a class retry logic can key on:
 * - FERRY_ETRANSIENT: the connection was lost, or SQLSTATE class 08, 40001
 *   (serialization), 40P01 (deadlock), 53 (resources), 57 (operator
 *   intervention, a shutdown), 55P03 (lock not available) or 58 (system);
 * - FERRY_EDATA: classes 22 (data exception), 23 (integrity constraint),
 *   44 (check option) and P0 (PL/pgSQL raise): the row is bad, not the
 *   statement;
 * - FERRY_EFATAL: anything else (a mistake in the statement or the
 *   schema, a permission).
 * The flags below adjust that per call.
 *
 * Thread-safety: every function may be called from any thread, on
 * connections that thread owns (libpq's own rule).
 */
#ifndef FERRY_PG_H
#define FERRY_PG_H

#include "ferry_err.h"

#include <libpq-fe.h>

/* Flags of ferry_pg_exec(), ferry_pg_result() and the COPY helpers; or
 * them together, or pass 0. */
enum ferry_pg_flag {
    /* A data error is FERRY_EFATAL: the statement writes no row the caller
     * could isolate (state tables, offsets, DDL). */
    FERRY_PG_DATA_FATAL = 1 << 0,
    /* Every failure is FERRY_ETRANSIENT: the caller starts its whole step
     * again (a snapshot session, a catalog read, an import). */
    FERRY_PG_ANY_TRANSIENT = 1 << 1,
    /* sql may hold several statements separated by ';': it is sent with
     * the simple query protocol, so it takes no parameters, and the result
     * is the last statement's. */
    FERRY_PG_MULTI = 1 << 2
};

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

/* The class of SQLSTATE sqlstate (borrowed, five characters; NULL when the
 * server sent none, as for a lost connection): FERRY_ETRANSIENT,
 * FERRY_EDATA or FERRY_EFATAL, as listed at the top of this file. */
int ferry_pg_sqlstate_class(const char *sqlstate);

/* The class of the failed result res (borrowed, may be NULL) on conn
 * (borrowed): FERRY_ETRANSIENT when conn is broken or res carries no
 * SQLSTATE, else ferry_pg_sqlstate_class() of its SQLSTATE. */
int ferry_pg_class(PGconn *conn, const PGresult *res);

/* Runs sql (borrowed) with n text parameters (params, borrowed, NULL for
 * SQL NULL; n = 0 and params NULL for none) on conn (borrowed).
 *
 * On success returns 0 and, when out is not NULL, *out is the new result
 * (free with PQclear); without out the result is freed here.  On failure
 * returns the class of the error (adjusted by flags), sets err to "could
 * not <what>: <server message>" (what borrowed: "record a rejected row"),
 * leaves *out NULL and, when sqlstate is not NULL, copies the SQLSTATE
 * there (caller-owned, 6 bytes; "" when the server sent none). */
int ferry_pg_exec(PGconn *conn, const char *sql, int n,
                  const char *const *params, PGresult **out, char *sqlstate,
                  const char *what, unsigned flags, ferry_err_t *err) FERRY_WUR;

/* What ferry_pg_exec() does with the result once it has it, for callers
 * that send the statement themselves (asynchronously, say): takes
 * ownership of res (the last result of the statement on conn, NULL when
 * sending it failed) and returns, reports and hands it out as
 * ferry_pg_exec() does. */
int ferry_pg_result(PGconn *conn, PGresult *res, PGresult **out, char *sqlstate,
                    const char *what, unsigned flags,
                    ferry_err_t *err) FERRY_WUR;

/* Sends sql (borrowed), a COPY ... FROM STDIN, on conn (borrowed).  Returns
 * 0 once the server waits for rows (send them with PQputCopyData(), then
 * call ferry_pg_copy_end() or ferry_pg_copy_abort()), or the class of the
 * error, adjusted by flags, with err set to "could not <what>: <server
 * message>". */
int ferry_pg_copy_start(PGconn *conn, const char *sql, const char *what,
                        unsigned flags, ferry_err_t *err) FERRY_WUR;

/* Ends the COPY in progress on conn (borrowed), which then runs the
 * statement over the rows sent, and collects its results.  Returns 0, or
 * the class of the error (adjusted by flags; FERRY_ETRANSIENT when ending
 * it failed) with err set to "could not <what>: <message>" (what borrowed:
 * "COPY into the staging table"). */
int ferry_pg_copy_end(PGconn *conn, const char *what, unsigned flags,
                      ferry_err_t *err) FERRY_WUR;

/* Aborts the COPY in progress on conn (borrowed) for reason (borrowed,
 * for the server's log) and collects the refusal that follows, after a
 * failure of the caller's that it has reported already.  Should even that
 * fail, the connection's next statement says so. */
void ferry_pg_copy_abort(PGconn *conn, const char *reason);

#endif
