/* The source's replication slot, read from pg_replication_slots.
 * mapping/map_slot.c */
#include "map_slot.h"

#include "ferry_lsn.h"
#include "ferry_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
lsn_or_zero(const PGresult *res, int col)
{
    uint64_t v = 0;

    if (PQgetisnull(res, 0, col) ||
        !ferry_lsn_parse(PQgetvalue(res, 0, col),
                         (size_t)PQgetlength(res, 0, col), &v))
        return 0;
    return v;
}

static int64_t
int_or_zero(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col)
               ? 0
               : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

int
map_slot_read(PGconn *conn, const char *name, map_slot_t *out, ferry_err_t *err)
{
    const char *params[1] = {name};
    char what[160];
    PGresult *res = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(what, sizeof(what), "read replication slot \"%s\"", name);
    /* pg_current_wal_lsn() fails on a standby; the slot is on the
     * primary. */
    rc = ferry_pg_exec(
        conn,
        "SELECT s.active, coalesce(s.active_pid, 0), "
        "s.confirmed_flush_lsn::text, s.restart_lsn::text, w.lsn::text, "
        "pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::bigint, "
        "pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint, "
        "coalesce(s.wal_status, ''), s.safe_wal_size "
        "FROM (SELECT pg_current_wal_lsn() AS lsn) w "
        "LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = $1",
        1, params, &res, NULL, what, 0, err);
    if (rc != 0)
        return rc;
    out->current = lsn_or_zero(res, 4);
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        out->exists = true;
        out->active = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        out->active_pid = (int)int_or_zero(res, 1);
        out->confirmed = lsn_or_zero(res, 2);
        out->restart = lsn_or_zero(res, 3);
        out->lag_bytes = int_or_zero(res, 5);
        out->retained_bytes = int_or_zero(res, 6);
        snprintf(out->wal_status, sizeof(out->wal_status), "%s",
                 PQgetvalue(res, 0, 7));
        out->safe_known = !PQgetisnull(res, 0, 8);
        out->safe_bytes = int_or_zero(res, 8);
    }
    PQclear(res);
    return 0;
}
