/* libpq helpers every ferry program shares.
 * common/ferry_pg.c */
#include "ferry_pg.h"

#include "ferry_log.h"

#include <stddef.h>

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
