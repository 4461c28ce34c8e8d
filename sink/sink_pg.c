/* Running statements on the target, with an idle hook.
 * sink/sink_pg.c */
#include "sink_pg.h"

#include <poll.h>

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

/* PQexecParams() (PQexec() with FERRY_PG_MULTI), running the idle hook
 * while the target works. */
static PGresult *
exec_idle(PGconn *conn, const char *sql, int n, const char *const *params,
          unsigned flags)
{
    PGresult *res = NULL, *next;

    if (!((flags & FERRY_PG_MULTI)
              ? PQsendQuery(conn, sql)
              : PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0)))
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
sink_pg_exec(PGconn *conn, const char *sql, int n, const char *const *params,
             PGresult **out, char *sqlstate, const char *what, unsigned flags,
             ferry_err_t *err)
{
    if (idle == NULL || conn != idle_conn)
        return ferry_pg_exec(conn, sql, n, params, out, sqlstate, what, flags,
                             err);
    return ferry_pg_result(conn, exec_idle(conn, sql, n, params, flags), out,
                           sqlstate, what, flags, err);
}
