/* Running statements and classifying errors.
 * sink/sink_pg.c */
#include "sink_pg.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

static PGconn *idle_conn;    /* borrowed: the connection with a hook */
static sink_pg_idle_fn idle; /* the hook */
static void *idle_arg;       /* its argument */

void
sink_pg_set_idle(PGconn *conn, sink_pg_idle_fn fn, void *arg)
{
    idle_conn = fn != NULL ? conn : NULL;
    idle = fn;
    idle_arg = arg;
}

/* PQexecParams(), running the idle hook while the target works. */
static PGresult *
exec_idle(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL, *next;

    if (!PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0))
        return NULL;
    while (PQconsumeInput(conn) && PQisBusy(conn)) {
        struct pollfd pfd = {PQsocket(conn), POLLIN, 0};

        if (idle(idle_arg) > 0)
            continue;
        (void)poll(&pfd, 1, 100);
    }
    /* Like PQexecParams(): the last result (the error, if any). */
    while ((next = PQgetResult(conn)) != NULL) {
        PQclear(res);
        res = next;
        if (PQresultStatus(res) == PGRES_COPY_IN ||
            PQresultStatus(res) == PGRES_COPY_OUT)
            break;
    }
    return res;
}

int
sink_pg_class(PGconn *conn, const PGresult *res)
{
    const char *st =
        res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (PQstatus(conn) == CONNECTION_BAD || st == NULL)
        return FERRY_ETRANSIENT;
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "40001") == 0 ||
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
sink_pg_exec(PGconn *conn, const char *what, const char *sql, int n,
             const char *const *params, PGresult **out, char *sqlstate,
             ferry_err_t *err)
{
    PGresult *res;
    ExecStatusType st;
    int rc = 0;

    if (out != NULL)
        *out = NULL;
    if (sqlstate != NULL)
        sqlstate[0] = '\0';
    if (idle != NULL && conn == idle_conn)
        res = exec_idle(conn, sql, n, params);
    else
        res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out != NULL) {
            *out = res;
            return 0;
        }
        PQclear(res);
        return 0;
    }
    rc = sink_pg_class(conn, res);
    if (sqlstate != NULL && res != NULL &&
        PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL)
        snprintf(sqlstate, 6, "%s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
    {
        char msg[800];
        size_t len;

        snprintf(msg, sizeof(msg), "%s",
                 res != NULL ? PQresultErrorMessage(res)
                             : PQerrorMessage(conn));
        len = strlen(msg);
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
            msg[--len] = '\0';
        if (len == 0)
            snprintf(msg, sizeof(msg), "connection to the target lost");
        ferry_err_set(err, rc, "could not %s: %s", what, msg);
    }
    PQclear(res);
    return rc;
}
