/* Applying one batch of source transactions: rows collapsed per key,
 * staged with COPY, then set-based statements per entity in dependency
 * order; rejected rows isolated with savepoints; parked rows drained.
 * sink/sink_batch.c */
#include "ferry_log.h"
#include "sink_apply_int.h"
#include "sink_pg.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
entity_name(const sink_apply_t *a, size_t idx)
{
    return a->cfg->entities[idx].name;
}

/* Writes a row or message the sink cannot apply to the errors table and
 * the dead-letter topic. */
static int
record_error(sink_apply_t *a, const char *entity, const char *lkey,
             const sink_event_t *ev, const char *sqlstate, const char *msg,
             ferry_err_t *err)
{
    sink_buf_t sql = {0};
    char part[16] = "", off[24] = "";
    const char *topic = NULL;
    const char *params[9];
    int partition = -1, rc;

    if (ev->pos.slot >= 0 && a->slot_topic != NULL)
        topic = a->slot_topic(a->arg, ev->pos.slot, &partition);
    if (topic != NULL) {
        snprintf(part, sizeof(part), "%d", partition);
        snprintf(off, sizeof(off), "%" PRId64, ev->pos.offset);
    }
    ferry_warn("%s%s%s%s%s%s topic \"%s\" partition %s offset %s: %s; "
               "recorded in %s.errors and sent to the dead-letter topic",
               entity != NULL ? "entity \"" : "message",
               entity != NULL ? entity : "", entity != NULL ? "\"" : "",
               lkey != NULL ? " legacy key \"" : "", lkey != NULL ? lkey : "",
               lkey != NULL ? "\"" : "", topic != NULL ? topic : "?", part, off,
               msg, a->cfg->state_schema);
    params[0] = entity;
    params[1] = lkey;
    params[2] = topic;
    params[3] = topic != NULL ? part : NULL;
    params[4] = topic != NULL ? off : NULL;
    params[5] = sqlstate != NULL && sqlstate[0] != '\0' ? sqlstate : NULL;
    params[6] = msg;
    params[7] = ev->raw_key;
    params[8] = ev->raw;
    if (sink_buf_printf(&sql,
                        "INSERT INTO %s.errors (entity, legacy_key, topic, "
                        "partition, kafka_offset, sqlstate, error, "
                        "event_key, event) VALUES ($1, $2, $3, $4, $5, $6, "
                        "$7, $8, $9)",
                        a->q_state) != 0)
        return FERRY_ENOMEM;
    rc = sink_pg_exec(a->conn, "record a rejected row", sql.data, 9, params,
                      NULL, NULL, err);
    sink_buf_free(&sql);
    if (rc != 0)
        return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
    a->stats.errors++;
    if (a->dlq != NULL && (rc = a->dlq(a->arg, ev, entity, msg)) != 0)
        return ferry_err_set(err, rc,
                             "could not send to the dead-letter topic");
    return 0;
}

/* Parks row: it waits for the parent missing_entity/missing_uuid, or, with
 * waits_children, for the rows that still reference it to go (a delete in
 * scale-out mode). */
static int
park_row(sink_apply_t *a, size_t idx, const sink_row_t *row,
         const char *missing_entity, const char *missing_uuid,
         bool waits_children, ferry_err_t *err)
{
    sink_buf_t sql = {0};
    char cl[24], ch[24], part[16], off[24];
    const char *topic = NULL;
    const char *params[12];
    int partition = -1, rc;

    if (row->ev->pos.slot >= 0 && a->slot_topic != NULL)
        topic = a->slot_topic(a->arg, row->ev->pos.slot, &partition);
    snprintf(cl, sizeof(cl), "%" PRIu64, row->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, row->pair.change);
    snprintf(part, sizeof(part), "%d", partition);
    snprintf(off, sizeof(off), "%" PRId64, row->ev->pos.offset);
    params[0] = entity_name(a, idx);
    params[1] = row->lkey;
    params[2] = missing_entity;
    params[3] = missing_uuid;
    params[4] = cl;
    params[5] = ch;
    params[6] = topic;
    params[7] = topic != NULL ? part : NULL;
    params[8] = topic != NULL ? off : NULL;
    params[9] = row->ev->raw_key;
    params[10] = row->ev->raw;
    params[11] = waits_children ? "children" : "parent";
    if (sink_buf_printf(&sql,
                        "INSERT INTO %s.parked (entity, legacy_key, "
                        "missing_entity, missing_uuid, commit_lsn, "
                        "change_lsn, topic, partition, kafka_offset, "
                        "event_key, event, waits_for) VALUES ($1, $2, $3, "
                        "$4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        a->q_state) != 0)
        return FERRY_ENOMEM;
    rc = sink_pg_exec(a->conn, "park a row", sql.data, 12, params, NULL, NULL,
                      err);
    sink_buf_free(&sql);
    if (rc != 0)
        return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
    if (waits_children) {
        a->blocked_maybe = true;
        ferry_debug("entity \"%s\" legacy key \"%s\": delete parked until "
                    "the rows that reference it are gone",
                    entity_name(a, idx), row->lkey);
    } else {
        ferry_debug("entity \"%s\" legacy key \"%s\": parked until the %s "
                    "row %s arrives",
                    entity_name(a, idx), row->lkey, missing_entity,
                    missing_uuid != NULL ? missing_uuid : "(no case)");
    }
    a->parked_rows++;
    a->stats.parked++;
    return 0;
}

/* Adds row (its contents moved) to the entity's set, merging with an
 * earlier row of the same key. */
static int
rowset_add(rowset_t *s, sink_row_t *row, bool soft)
{
    uintptr_t at = (uintptr_t)sink_map_get(s->index, row->lkey);

    if (at != 0) {
        /* An older event of the key (a parked row drained next to a newer
         * one) would be stale on its own: it never overwrites. */
        if (sink_pair_cmp(row->pair, s->rows[at - 1].pair) < 0)
            return 0;
        sink_row_merge(&s->rows[at - 1], row, soft);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        sink_row_t *r = realloc(s->rows, cap * sizeof(*r));

        if (r == NULL)
            return FERRY_ENOMEM;
        s->rows = r;
        s->cap = cap;
    }
    if (sink_map_put(s->index, row->lkey, (void *)(uintptr_t)(s->n + 1)))
        return FERRY_ENOMEM;
    s->rows[s->n++] = *row;
    memset(row, 0, sizeof(*row));
    return 0;
}

/* Builds the row of entity idx from ev and queues it. */
static int
add_row(sink_apply_t *a, size_t idx, sink_event_t *ev, ferry_err_t *err)
{
    sink_row_t row;
    ferry_err_t rerr = {0, ""};
    int rc = sink_row_build(&a->uctx, &a->cfg->entities[idx], ev, &row, &rerr);

    if (rc == FERRY_EDATA)
        rc = record_error(a, entity_name(a, idx), row.lkey, ev, NULL, rerr.msg,
                          err);
    else if (rc == FERRY_ENOMEM)
        rc = ferry_err_set(err, rc, "out of memory");
    else if (row.park_entity != NULL)
        rc = park_row(a, idx, &row, row.park_entity, NULL, false, err);
    else if (rowset_add(&a->sets[idx], &row,
                        a->cfg->entities[idx].delete_mode == MAP_DELETE_SOFT) !=
             0)
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    sink_row_clear(&row);
    return rc;
}

static bool
entity_matches(const map_entity_t *e, const sink_event_t *ev)
{
    return strcmp(e->source_schema, ev->schema) == 0 &&
           strcmp(e->source_table, ev->table) == 0;
}

static int
copy_row(sink_apply_t *a, size_t idx, size_t n, const sink_row_t *r)
{
    const map_entity_t *e = &a->cfg->entities[idx];
    sink_buf_t *b = &a->copybuf;
    size_t i;
    int rc = 0;

    rc |= sink_buf_printf(b, "%zu\t%c\t", n, r->op);
    rc |= sink_buf_copy_field(b, r->lkey);
    rc |= sink_buf_printf(b, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%s\t",
                          (int64_t)r->pair.commit, (int64_t)r->pair.change,
                          r->ts_ms, r->uuid);
    if (r->soft_deleted)
        rc |= sink_buf_printf(b, "%" PRId64 "\t", r->del_ts_ms);
    else
        rc |= sink_buf_adds(b, "\\N\t");
    if (r->absent == NULL || r->op == 'd') {
        rc |= sink_buf_add(b, "\\N", 2);
    } else {
        for (i = 0; i < r->n_cols; i++)
            rc |= sink_buf_adds(b, i == 0 ? "{" : ",") |
                  sink_buf_adds(b, r->absent[i] ? "t" : "f");
        rc |= sink_buf_adds(b, r->n_cols == 0 ? "{}" : "}");
    }
    for (i = 0; i < a->plans[idx].n_lcols; i++) {
        rc |= sink_buf_add(b, "\t", 1);
        rc |= sink_buf_copy_field(b, i < r->n_key ? r->keyvals[i] : NULL);
    }
    for (i = 0; i < e->n_columns; i++) {
        rc |= sink_buf_add(b, "\t", 1);
        rc |= sink_buf_copy_field(b, r->op == 'u' ? r->vals[i] : NULL);
        if (e->columns[i].kind == MAP_COLUMN_COND_REF) {
            const map_entity_t *pe =
                r->op == 'u' && r->ref_entity[i] != NULL
                    ? map_config_entity(a->cfg, r->ref_entity[i])
                    : NULL;

            if (pe != NULL)
                rc |= sink_buf_printf(b, "\t%zu",
                                      (size_t)(pe - a->cfg->entities));
            else
                rc |= sink_buf_adds(b, "\t\\N");
        }
    }
    rc |= sink_buf_add(b, "\n", 1);
    return rc != 0 ? FERRY_ENOMEM : 0;
}

static int
copy_end(PGconn *conn, const char *errmsg, ferry_err_t *err)
{
    PGresult *res;
    int rc = 0;

    if (PQputCopyEnd(conn, errmsg) != 1)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not finish COPY into the staging table: %s",
                           PQerrorMessage(conn));
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = ferry_err_set(err, sink_pg_class(conn, res),
                               "could not COPY into the staging table: %s",
                               PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
}

/* TRUNCATE the staging table, then COPY the entity's rows into it. */
static int
stage_rows(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    rowset_t *s = &a->sets[idx];
    sink_buf_t sql = {0};
    PGresult *res;
    size_t i;
    int rc;

    if (sink_buf_printf(&sql, "TRUNCATE %s", a->plans[idx].q_stage) != 0)
        return FERRY_ENOMEM;
    rc = sink_pg_exec(a->conn, "empty the staging table", sql.data, 0, NULL,
                      NULL, NULL, err);
    sink_buf_free(&sql);
    if (rc != 0)
        return rc;
    res = PQexec(a->conn, a->sql[idx].copy.data);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = ferry_err_set(err, sink_pg_class(a->conn, res),
                           "could not start COPY into the staging table: %s",
                           PQresultErrorMessage(res));
        PQclear(res);
        return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
    }
    PQclear(res);
    sink_buf_reset(&a->copybuf);
    s->min_commit = UINT64_MAX;
    s->max_commit = 0;
    for (i = 0; i < s->n; i++) {
        uint64_t c = s->rows[i].pair.commit;

        s->min_commit = c < s->min_commit ? c : s->min_commit;
        s->max_commit = c > s->max_commit ? c : s->max_commit;
        if (copy_row(a, idx, i, &s->rows[i]) != 0)
            return copy_end(a->conn, "out of memory", err), FERRY_ENOMEM;
        if (a->copybuf.len >= (1u << 20) || i + 1 == s->n) {
            if (PQputCopyData(a->conn, a->copybuf.data, (int)a->copybuf.len) !=
                1)
                return copy_end(a->conn, NULL, err), FERRY_ETRANSIENT;
            sink_buf_reset(&a->copybuf);
        }
    }
    return copy_end(a->conn, NULL, err);
}

static long
exec_count(sink_apply_t *a, const char *what, const char *sql, int n,
           const char *const *params, int *rc, char *sqlstate, ferry_err_t *err)
{
    PGresult *res;
    long count = 0;

    *rc = sink_pg_exec(a->conn, what, sql, n, params, &res, sqlstate, err);
    if (*rc == 0) {
        count = atol(PQcmdTuples(res));
        PQclear(res);
    }
    return count;
}

/* Runs the set statement all; when the target rejects it for bad data,
 * runs one (a copy restricted to staging row $1) row by row, each under
 * a savepoint, and records the rows the target rejects. */
static int
run_set(sink_apply_t *a, size_t idx, const char *what, const char *all,
        const char *one, char op, ferry_err_t *err)
{
    rowset_t *s = &a->sets[idx];
    char state[6], num[24];
    sink_buf_t drop = {0};
    const char *p1[1] = {num};
    size_t i;
    int rc;

    if ((rc = sink_pg_exec(a->conn, "set a savepoint", "SAVEPOINT ferry_set", 0,
                           NULL, NULL, NULL, err)) != 0)
        return rc;
    a->stats.applied += exec_count(a, what, all, 0, NULL, &rc, state, err);
    if (rc == 0)
        return sink_pg_exec(a->conn, "release a savepoint", "RELEASE ferry_set",
                            0, NULL, NULL, NULL, err);
    if (rc != FERRY_EDATA)
        return rc;
    /* Deletes parked for their children are retried at every commit: that
     * is expected, not news. */
    if ((a->shared || a->park_deletes) && op == 'd')
        ferry_debug("entity \"%s\": %s; isolating the rejected rows",
                    entity_name(a, idx), err->msg);
    else
        ferry_info("entity \"%s\": %s; isolating the rejected rows",
                   entity_name(a, idx), err->msg);
    if ((rc = sink_pg_exec(a->conn, "roll back to a savepoint",
                           "ROLLBACK TO ferry_set", 0, NULL, NULL, NULL,
                           err)) != 0)
        return rc;
    if (sink_buf_printf(&drop, "DELETE FROM %s WHERE __n = $1",
                        a->plans[idx].q_stage) != 0)
        return FERRY_ENOMEM;
    for (i = 0; rc == 0 && i < s->n; i++) {
        if (s->rows[i].op != op)
            continue;
        snprintf(num, sizeof(num), "%zu", i);
        rc = sink_pg_exec(a->conn, "set a savepoint", "SAVEPOINT ferry_row", 0,
                          NULL, NULL, NULL, err);
        if (rc != 0)
            break;
        a->stats.applied += exec_count(a, what, one, 1, p1, &rc, state, err);
        if (rc == 0) {
            rc = sink_pg_exec(a->conn, "release a savepoint",
                              "RELEASE ferry_row", 0, NULL, NULL, NULL, err);
            continue;
        }
        if (rc != FERRY_EDATA)
            break;
        rc = sink_pg_exec(a->conn, "roll back to a savepoint",
                          "ROLLBACK TO ferry_row", 0, NULL, NULL, NULL, err);
        /* Scale-out: the children's deletes are on partitions another sink
         * owns and may simply not be applied yet; a rebuild's bulk load and
         * the transactions it cut apply them in another batch.  A delete
         * parked for that (slot -1: it came out of parked) stays parked. */
        if (rc == 0 && op == 'd' && strcmp(state, "23503") == 0 &&
            (a->shared || a->park_deletes || s->rows[i].ev->pos.slot < 0))
            rc = park_row(a, idx, &s->rows[i], entity_name(a, idx), NULL, true,
                          err);
        else if (rc == 0)
            rc = record_error(a, entity_name(a, idx), s->rows[i].lkey,
                              s->rows[i].ev, state, err->msg, err);
        if (rc == 0)
            rc = sink_pg_exec(a->conn, "drop a rejected row", drop.data, 1, p1,
                              NULL, NULL, err);
    }
    sink_buf_free(&drop);
    if (rc == 0)
        rc = sink_pg_exec(a->conn, "release a savepoint", "RELEASE ferry_set",
                          0, NULL, NULL, NULL, err);
    return rc;
}

/* Staged upserts whose parent is missing: parked, or recorded as bad.
 * *taken receives how many rows left the stage. */
static int
take_missing(sink_apply_t *a, size_t idx, enum map_on_missing pol, int *taken,
             ferry_err_t *err)
{
    const char *sql = a->sql[idx].take[pol].data;
    const char *p1[1] = {entity_name(a, idx)};
    PGresult *res = NULL;
    int i, rc;

    *taken = 0;
    if (sql == NULL || sql[0] == '\0')
        return 0;
    rc = sink_pg_exec(a->conn, "find rows whose parent is missing", sql, 0,
                      NULL, &res, NULL, err);
    (void)p1;
    *taken = rc == 0 ? PQntuples(res) : 0;
    for (i = 0; rc == 0 && i < PQntuples(res); i++) {
        size_t n = (size_t)atol(PQgetvalue(res, i, 0));
        size_t pe = (size_t)atol(PQgetvalue(res, i, 1));
        const char *uuid = PQgetvalue(res, i, 2);
        const sink_row_t *row = &a->sets[idx].rows[n];
        char msg[256];

        if (pol == MAP_ON_MISSING_PARK) {
            rc = park_row(a, idx, row, entity_name(a, pe), uuid, false, err);
            continue;
        }
        snprintf(msg, sizeof(msg),
                 "the parent row %s of entity \"%s\" is missing "
                 "(on_missing: error)",
                 uuid, entity_name(a, pe));
        rc = record_error(a, entity_name(a, idx), row->lkey, row->ev, NULL, msg,
                          err);
    }
    PQclear(res);
    return rc;
}

/* Takes the rows whose parent is missing until none is left: a row whose
 * parent is staged with it (a self-reference, a reply to a comment) loses
 * that parent when the parent itself is taken, so one pass is not enough. */
static int
take_all_missing(sink_apply_t *a, size_t idx, enum map_on_missing pol,
                 ferry_err_t *err)
{
    int taken, rc;

    do {
        rc = take_missing(a, idx, pol, &taken, err);
    } while (rc == 0 && taken > 0);
    return rc;
}

static int
upsert_step(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    const plan_sql_t *q = &a->sql[idx];
    const char *p1[1] = {entity_name(a, idx)};
    size_t i;
    int rc;

    if ((rc = stage_rows(a, idx, err)) != 0)
        return rc;
    if (a->shared &&
        (rc = sink_pg_exec(a->conn, "lock the staged keys", q->lock.data, 1, p1,
                           NULL, NULL, err)) != 0)
        return rc;
    /* Rows above the entity's bound are newer than every position it
     * holds: none can be stale (sink_apply_int.h), and the check (an index
     * probe per row) is skipped.  Streaming, that is every batch. */
    if (a->shared || a->sets[idx].min_commit <= a->lsn_bound[idx])
        a->stats.stale += exec_count(a, "drop stale rows", q->stale.data, 1, p1,
                                     &rc, NULL, err);
    if (rc != 0 ||
        (rc = take_all_missing(a, idx, MAP_ON_MISSING_PARK, err)) != 0 ||
        (rc = take_all_missing(a, idx, MAP_ON_MISSING_ERROR, err)) != 0)
        return rc;
    for (i = 0; i < a->cfg->entities[idx].n_columns; i++) {
        const char *p2[2] = {entity_name(a, idx),
                             a->cfg->entities[idx].columns[i].name};

        /* A deferred ref: a new value replaces a pending patch, a missing
         * parent becomes one (sink_sql.h). */
        if (q->defer_note[i].data != NULL &&
            ((rc = sink_pg_exec(a->conn, "forget pending deferred refs",
                                q->defer_forget[i].data, 2, p2, NULL, NULL,
                                err)) != 0 ||
             (rc = sink_pg_exec(a->conn, "note pending deferred refs",
                                q->defer_note[i].data, 2, p2, NULL, NULL,
                                err)) != 0))
            return rc;
        if (q->null_miss[i].data != NULL &&
            (rc = sink_pg_exec(a->conn, "null a missing parent",
                               q->null_miss[i].data, 0, NULL, NULL, NULL,
                               err)) != 0)
            return rc;
    }
    return run_set(a, idx, "upsert rows", q->upsert.data, q->upsert1.data, 'u',
                   err);
}

/* Raises entity idx's position bound to commit, before positions up to
 * it are written.  Always written, in the transaction that writes the
 * positions: one rolled back may have raised the bound in memory only (a
 * bound too high there is only a check not skipped). */
static int
raise_bound(sink_apply_t *a, size_t idx, uint64_t commit, ferry_err_t *err)
{
    char c[24];
    const char *p2[2] = {entity_name(a, idx), c};

    if (a->shared)
        return 0;
    if (commit > a->lsn_bound[idx])
        a->lsn_bound[idx] = commit;
    snprintf(c, sizeof(c), "%" PRIu64, commit);
    return sink_pg_exec(a->conn, "raise the position bound", a->bound_sql.data,
                        2, p2, NULL, NULL, err);
}

static int
delete_step(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    const plan_sql_t *q = &a->sql[idx];
    const char *p1[1] = {entity_name(a, idx)};
    int rc;

    if ((rc = run_set(a, idx, "delete rows", q->del.data, q->del1.data, 'd',
                      err)) != 0)
        return rc;
    if ((rc = raise_bound(a, idx, a->sets[idx].max_commit, err)) != 0 ||
        (rc = sink_pg_exec(a->conn, "record row positions", q->row_lsn.data, 1,
                           p1, NULL, NULL, err)) != 0)
        return rc;
    /* Only when rows are parked: the statement is cheap, not free. */
    if (a->parked_rows > 0 || a->shared) {
        long n = exec_count(a, "drop superseded parked rows", q->unpark.data, 1,
                            p1, &rc, NULL, err);

        if (rc != 0)
            return rc;
        if (n > 0)
            ferry_debug("entity \"%s\": %ld parked rows superseded by newer "
                        "events",
                        entity_name(a, idx), n);
        a->parked_rows -= n;
    }
    return 0;
}

/* Writes the parent's UUID into deferred ref columns whose parent is now
 * in the target. */
static int
patch_deferred(sink_apply_t *a, ferry_err_t *err)
{
    size_t idx, i;
    int rc = 0;

    for (idx = 0; rc == 0 && idx < a->cfg->n_entities; idx++) {
        const map_entity_t *e = &a->cfg->entities[idx];

        if (!a->sql[idx].has_deferred)
            continue;
        for (i = 0; rc == 0 && i < e->n_columns; i++) {
            const char *p2[2] = {e->name, e->columns[i].name};
            long n;

            if (a->sql[idx].defer_patch[i].data == NULL)
                continue;
            n = exec_count(a, "patch deferred refs",
                           a->sql[idx].defer_patch[i].data, 2, p2, &rc, NULL,
                           err);
            if (rc == 0 && n > 0)
                ferry_debug("entity \"%s\": patched %ld deferred refs in "
                            "column \"%s\"",
                            e->name, n, e->columns[i].name);
        }
    }
    return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
}

/* Applies every queued row: upserts parents first, deletes children
 * first. */
static int
flush(sink_apply_t *a, ferry_err_t *err)
{
    size_t n = a->cfg->n_entities, k;
    int rc = 0;

    for (k = 0; rc == 0 && k < n; k++) {
        size_t idx = a->cfg->apply_order[k];

        if (a->sets[idx].n > 0)
            rc = upsert_step(a, idx, err);
    }
    for (k = n; rc == 0 && k > 0; k--) {
        size_t idx = a->cfg->apply_order[k - 1];

        if (a->sets[idx].n > 0)
            rc = delete_step(a, idx, err);
    }
    if (rc == 0)
        rc = patch_deferred(a, err);
    for (k = 0; k < n; k++)
        sink__rowset_clear(&a->sets[k]);
    return rc;
}

static int
truncate_one(sink_apply_t *a, size_t idx, const sink_event_t *ev,
             ferry_err_t *err)
{
    char cl[24], ch[24];
    const char *p[3] = {entity_name(a, idx), cl, ch};
    sink_buf_t sql = {0};
    PGresult *res = NULL;
    bool stale;
    int rc;

    snprintf(cl, sizeof(cl), "%" PRIu64, ev->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, ev->pair.change);
    if (sink_buf_printf(
            &sql,
            "SELECT EXISTS (SELECT 1 FROM %s.truncated WHERE entity = $1 AND "
            "(commit_lsn, change_lsn) >= ($2::int8, $3::int8)) OR EXISTS "
            "(SELECT 1 FROM %s.row_lsn WHERE entity = $1 AND (commit_lsn, "
            "change_lsn) > ($2::int8, $3::int8))",
            a->q_state, a->q_state) != 0)
        return FERRY_ENOMEM;
    rc = sink_pg_exec(a->conn, "check a truncate", sql.data, 3, p, &res, NULL,
                      err);
    stale = rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    sink_buf_reset(&sql);
    if (rc != 0 || stale)
        goto done;
    rc = run_set(a, idx, "truncate the target table", a->sql[idx].truncate.data,
                 a->sql[idx].truncate.data, 0, err);
    if (rc == 0 &&
        sink_buf_printf(
            &sql,
            "DELETE FROM %s.row_lsn WHERE entity = $1; "
            "DELETE FROM %s.parked WHERE entity = $1; "
            "INSERT INTO %s.truncated VALUES ($1, $2, $3) ON CONFLICT "
            "(entity) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, "
            "change_lsn = EXCLUDED.change_lsn",
            a->q_state, a->q_state, a->q_state) != 0)
        rc = FERRY_ENOMEM;
    /* Three statements: run them one by one (parameters need one each). */
    if (rc == 0) {
        char *s1 = sql.data, *s2 = strchr(s1, ';'), *s3;

        *s2 = '\0';
        s2 += 2;
        s3 = strchr(s2, ';');
        *s3 = '\0';
        s3 += 2;
        if ((rc = raise_bound(a, idx, ev->pair.commit, err)) == 0 &&
            (rc = sink_pg_exec(a->conn, "truncate row positions", s1, 1, p,
                               NULL, NULL, err)) == 0 &&
            (rc = sink_pg_exec(a->conn, "drop parked rows", s2, 1, p, NULL,
                               NULL, err)) == 0)
            rc = sink_pg_exec(a->conn, "record a truncate", s3, 3, p, NULL,
                              NULL, err);
    }
    if (rc == 0)
        ferry_info("entity \"%s\": applied a source TRUNCATE",
                   entity_name(a, idx));
done:
    sink_buf_free(&sql);
    return rc;
}

/* A run of truncate events: children before parents. */
static int
apply_truncates(sink_apply_t *a, sink_event_t *const *evs, size_t n,
                ferry_err_t *err)
{
    size_t k, j;
    int rc = 0;

    for (k = a->cfg->n_entities; rc == 0 && k > 0; k--) {
        size_t idx = a->cfg->apply_order[k - 1];
        const map_entity_t *e = &a->cfg->entities[idx];

        if (e->truncate_mode == MAP_TRUNCATE_IGNORE)
            continue;
        for (j = 0; rc == 0 && j < n; j++)
            if (entity_matches(e, evs[j]))
                rc = truncate_one(a, idx, evs[j], err);
    }
    return rc;
}

static int
add_event(sink_apply_t *a, sink_event_t *ev, ferry_err_t *err)
{
    size_t i;
    int rc = 0;

    if (ev->op == 'X') {
        char msg[600];

        snprintf(msg, sizeof(msg), "malformed message: %s", ev->reason);
        return record_error(a, NULL, NULL, ev, NULL, msg, err);
    }
    for (i = 0; rc == 0 && i < a->cfg->n_entities; i++)
        if (entity_matches(&a->cfg->entities[i], ev))
            rc = add_row(a, i, ev, err);
    return rc;
}

/* Runs sql (a query returning entity, event_key, event, kafka_offset of
 * parked rows it took out, oldest first) and queues those events again;
 * they are appended to *evs (grown with realloc, *n_evs entries, owned by
 * the caller) because the queued rows borrow them.  *got counts them. */
static int
take_parked(sink_apply_t *a, const char *sql, int n, const char *const *params,
            sink_event_t ***evs, size_t *n_evs, size_t *got, ferry_err_t *err)
{
    PGresult *res = NULL;
    int r, rc;

    rc = sink_pg_exec(a->conn, "take parked rows", sql, n, params, &res, NULL,
                      err);
    for (r = 0; rc == 0 && r < PQntuples(res); r++) {
        const char *k = PQgetisnull(res, r, 1) ? NULL : PQgetvalue(res, r, 1);
        const map_entity_t *e =
            map_config_entity(a->cfg, PQgetvalue(res, r, 0));
        sink_pos_t pos = {-1, atoll(PQgetvalue(res, r, 3))};
        sink_event_t *ev = NULL, **grown;

        grown = realloc(*evs, (*n_evs + 1) * sizeof(**evs));
        if (grown == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            break;
        }
        *evs = grown;
        rc = sink_event_parse(k, k != NULL ? strlen(k) : 0,
                              PQgetvalue(res, r, 2),
                              strlen(PQgetvalue(res, r, 2)), pos, &ev);
        if (ev == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            break;
        }
        (*evs)[(*n_evs)++] = ev;
        (*got)++;
        /* Taken out of parked: applied, or recorded, never dropped. */
        if (rc != 0 || e == NULL) {
            char msg[600];

            snprintf(msg, sizeof(msg), "a parked row of entity \"%s\" %s",
                     PQgetvalue(res, r, 0),
                     rc != 0 ? "no longer parses" : "is no longer mapped");
            rc = record_error(a, e != NULL ? e->name : NULL, NULL, ev, NULL,
                              msg, err);
            continue;
        }
        rc = add_row(a, (size_t)(e - a->cfg->entities), ev, err);
    }
    PQclear(res);
    return rc;
}

/* Scale-out: other sinks park rows too, so the count kept here is only a
 * hint; read the table's. */
static int
count_parked(sink_apply_t *a, ferry_err_t *err)
{
    sink_buf_t sql = {0};
    PGresult *res = NULL;
    int rc;

    if (sink_buf_printf(&sql,
                        "SELECT count(*) FROM %s.parked WHERE waits_for = "
                        "'parent'",
                        a->q_state) != 0)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    rc = sink_pg_exec(a->conn, "count parked rows", sql.data, 0, NULL, &res,
                      NULL, err);
    if (rc == 0)
        a->parked_rows = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    sink_buf_free(&sql);
    return rc;
}

/* Parked rows whose missing parent is now in the target go through the
 * batch again, oldest first; repeated while that frees more. */
static int
drain(sink_apply_t *a, ferry_err_t *err)
{
    sink_event_t **evs = NULL;
    size_t n_evs = 0, i;
    int round, rc = 0;

    if (a->shared)
        rc = count_parked(a, err);
    for (round = 0; rc == 0 && round < 32 && a->parked_rows > 0; round++) {
        size_t got = 0;

        for (i = 0; rc == 0 && i < a->cfg->n_entities; i++) {
            const char *p1[1] = {entity_name(a, i)};

            rc = take_parked(a, a->sql[i].drain.data, 1, p1, &evs, &n_evs, &got,
                             err);
        }
        a->parked_rows -= (long)got;
        a->stats.drained += (long)got;
        if (got == 0)
            break;
        if (rc == 0)
            rc = flush(a, err);
    }
    for (i = 0; i < n_evs; i++)
        sink_event_free(evs[i]);
    free(evs);
    return rc;
}

int
sink_apply_txs(sink_apply_t *a, sink_tx_t *const *txs, size_t n,
               ferry_err_t *err)
{
    sink_event_t **blocked = NULL;
    size_t n_blocked = 0, t, j, k;
    int rc = 0;

    /* Deletes parked because rows still referenced them are queued again
     * (those rows' deletes may have been applied since, by another sink or
     * in another batch); a delete still blocked is parked again. */
    if (a->shared || a->park_deletes || a->blocked_maybe) {
        size_t got = 0;

        a->blocked_maybe = false;
        rc = take_parked(a, a->retry_sql.data, 0, NULL, &blocked, &n_blocked,
                         &got, err);
    }

    for (t = 0; rc == 0 && t < n; t++) {
        const sink_tx_t *tx = txs[t];

        for (j = 0; rc == 0 && j < tx->n_events; j++) {
            if (tx->events[j]->op != 't') {
                rc = add_event(a, tx->events[j], err);
                continue;
            }
            for (k = j; k < tx->n_events && tx->events[k]->op == 't'; k++)
                ;
            if ((rc = flush(a, err)) == 0)
                rc = apply_truncates(a, tx->events + j, k - j, err);
            j = k - 1;
        }
    }
    if (rc == 0)
        rc = flush(a, err);
    if (rc == 0)
        rc = drain(a, err);
    for (t = 0; t < a->cfg->n_entities; t++)
        sink__rowset_clear(&a->sets[t]);
    for (t = 0; t < n_blocked; t++)
        sink_event_free(blocked[t]);
    free(blocked);
    return rc;
}
