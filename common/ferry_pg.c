/* libpq helpers every ferry program shares.
 * common/ferry_pg.c */
#include "ferry_pg.h"

#include "ferry_log.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

PGconn *
ferry_pg_connect(const char *dsn, const char *replication, const char *appname,
                 const char *what, ferry_err_t *err)
{
    const char *keys[4] = {"dbname", "fallback_application_name", NULL, NULL};
    const char *vals[4] = {dsn, appname, NULL, NULL};
    char safe[256];
    PGconn *conn;
    int status;

    if (replication != NULL) {
        keys[2] = "replication";
        vals[2] = replication;
    }
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL) {
        ferry_err_set(err, FERRY_ENOMEM, "out of memory connecting to the %s",
                      what);
        return NULL;
    }
    if (PQstatus(conn) == CONNECTION_OK)
        return conn;
    /* libpq keeps the server's SQLSTATE of a failed start-up to itself, but
     * PQping reads it: PQPING_OK means the server is up and accepting
     * connections, so it was us it refused (database, role, password).
     * Anything else (no answer, "the database system is starting up") may
     * pass.  A full server ("too many clients") also answers PQPING_OK and
     * so counts as a refusal; supervisors restart the program for that. */
    switch (PQpingParams(keys, vals, 1)) {
    case PQPING_OK:
    case PQPING_NO_ATTEMPT:
        status = FERRY_ECONFIG;
        break;
    default:
        status = FERRY_ETRANSIENT;
        break;
    }
    ferry_err_set(err, status, "could not connect to the %s (%s): %s", what,
                  ferry_log_dsn_safe(dsn, safe, sizeof(safe)),
                  PQerrorMessage(conn));
    PQfinish(conn);
    return NULL;
}

int
ferry_pg_sqlstate_class(const char *st)
{
    if (st == NULL || strncmp(st, "08", 2) == 0 || strcmp(st, "40001") == 0 ||
        strcmp(st, "40P01") == 0 || strncmp(st, "53", 2) == 0 ||
        strncmp(st, "57", 2) == 0 || strcmp(st, "55P03") == 0 ||
        strncmp(st, "58", 2) == 0)
        return FERRY_ETRANSIENT;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
        strncmp(st, "44", 2) == 0 || strncmp(st, "P0", 2) == 0)
        return FERRY_EDATA;
    return FERRY_EFATAL;
}

int
ferry_pg_class(PGconn *conn, const PGresult *res)
{
    if (PQstatus(conn) == CONNECTION_BAD || res == NULL)
        return FERRY_ETRANSIENT;
    return ferry_pg_sqlstate_class(PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

/* The class of a failure of res, adjusted by flags. */
static int
flagged_class(PGconn *conn, const PGresult *res, unsigned flags)
{
    int rc = ferry_pg_class(conn, res);

    if (flags & FERRY_PG_ANY_TRANSIENT)
        return FERRY_ETRANSIENT;
    if (rc == FERRY_EDATA && (flags & FERRY_PG_DATA_FATAL))
        return FERRY_EFATAL;
    return rc;
}

/* Sets err to "could not <what>: <message of res, or of conn>". */
static int
report(PGconn *conn, const PGresult *res, int rc, const char *what,
       ferry_err_t *err)
{
    const char *msg =
        res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);

    /* ferry_err_set() trims libpq's trailing newline; a message that is
     * only that means the server went away without a word. */
    if (strspn(msg, "\n ") == strlen(msg))
        msg = "the connection to the server was lost";
    return ferry_err_set(err, rc, "could not %s: %s", what, msg);
}

int
ferry_pg_result(PGconn *conn, PGresult *res, PGresult **out, char *sqlstate,
                const char *what, unsigned flags, ferry_err_t *err)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (sqlstate != NULL)
        sqlstate[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out != NULL)
            *out = res;
        else
            PQclear(res);
        return 0;
    }
    rc = report(conn, res, flagged_class(conn, res, flags), what, err);
    state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (sqlstate != NULL && state != NULL)
        snprintf(sqlstate, 6, "%s", state);
    PQclear(res);
    return rc;
}

int
ferry_pg_exec(PGconn *conn, const char *sql, int n, const char *const *params,
              PGresult **out, char *sqlstate, const char *what, unsigned flags,
              ferry_err_t *err)
{
    PGresult *res =
        (flags & FERRY_PG_MULTI)
            ? PQexec(conn, sql)
            : PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

    return ferry_pg_result(conn, res, out, sqlstate, what, flags, err);
}

int
ferry_pg_copy_start(PGconn *conn, const char *sql, const char *what,
                    unsigned flags, ferry_err_t *err)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COPY_IN)
        rc = report(conn, res, flagged_class(conn, res, flags), what, err);
    PQclear(res);
    return rc;
}

int
ferry_pg_copy_end(PGconn *conn, const char *what, unsigned flags,
                  ferry_err_t *err)
{
    PGresult *res;
    int rc = 0;

    if (PQputCopyEnd(conn, NULL) != 1)
        rc = report(conn, NULL, FERRY_ETRANSIENT, what, err);
    /* Every result must be read before the connection takes a statement
     * again; the first failure is the one reported. */
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = report(conn, res, flagged_class(conn, res, flags), what, err);
        PQclear(res);
    }
    return rc;
}

void
ferry_pg_copy_abort(PGconn *conn, const char *reason)
{
    PGresult *res;

    (void)PQputCopyEnd(conn, reason);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
}
