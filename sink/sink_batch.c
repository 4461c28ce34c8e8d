/* Applying one batch of source transactions: rows collapsed per key,
 * staged with COPY, then set-based statements per entity in dependency
 * order; rejected rows isolated with savepoints; parked rows drained.
 * sink/sink_batch.c
 *
 * Only a batch's upserts and deletes (run_set()) touch rows the target may
 * reject one by one; every other statement runs with FERRY_PG_DATA_FATAL,
 * so that a data error never leaves sink_apply_txs() as FERRY_EDATA. */
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
    ferry_buf_t sql = {0};
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
    ferry_buf_printf(&sql,
                     "INSERT INTO %s.errors (entity, legacy_key, topic, "
                     "partition, kafka_offset, sqlstate, error, event_key, "
                     "event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     a->q_state);
    rc = ferry_buf_status(&sql, err, "recording a rejected row");
    if (rc == 0)
        rc = sink_pg_exec(a->conn, ferry_buf_cstr(&sql), 9, params, NULL, NULL,
                          "record a rejected row", FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    if (rc != 0)
        return rc;
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
    ferry_buf_t sql = {0};
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
    ferry_buf_printf(&sql,
                     "INSERT INTO %s.parked (entity, legacy_key, "
                     "missing_entity, missing_uuid, commit_lsn, change_lsn, "
                     "topic, partition, kafka_offset, event_key, event, "
                     "waits_for) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                     "$10, $11, $12)",
                     a->q_state);
    rc = ferry_buf_status(&sql, err, "parking a row of entity \"%s\"",
                          entity_name(a, idx));
    if (rc == 0)
        rc = sink_pg_exec(a->conn, ferry_buf_cstr(&sql), 12, params, NULL, NULL,
                          "park a row", FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    if (rc != 0)
        return rc;
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

/* Appends row r (number n of the staging table) of entity idx to the COPY
 * data; the caller checks the buffer. */
static void
copy_row(sink_apply_t *a, size_t idx, size_t n, const sink_row_t *r)
{
    const map_entity_t *e = &a->cfg->entities[idx];
    ferry_buf_t *b = &a->copybuf;
    size_t i;

    ferry_buf_printf(b, "%zu\t%c\t", n, r->op);
    ferry_buf_append_copy_field(b, r->lkey);
    ferry_buf_printf(b, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%s\t",
                     (int64_t)r->pair.commit, (int64_t)r->pair.change, r->ts_ms,
                     r->uuid);
    if (r->soft_deleted)
        ferry_buf_printf(b, "%" PRId64 "\t", r->del_ts_ms);
    else
        ferry_buf_append_lit(b, "\\N\t");
    if (r->absent == NULL || r->op == 'd') {
        ferry_buf_append_lit(b, "\\N");
    } else {
        for (i = 0; i < r->n_cols; i++) {
            ferry_buf_putc(b, i == 0 ? '{' : ',');
            ferry_buf_putc(b, r->absent[i] ? 't' : 'f');
        }
        ferry_buf_append_str(b, r->n_cols == 0 ? "{}" : "}");
    }
    for (i = 0; i < a->plans[idx].n_lcols; i++) {
        ferry_buf_putc(b, '\t');
        ferry_buf_append_copy_field(b, i < r->n_key ? r->keyvals[i] : NULL);
    }
    for (i = 0; i < e->n_columns; i++) {
        ferry_buf_putc(b, '\t');
        ferry_buf_append_copy_field(b, r->op == 'u' ? r->vals[i] : NULL);
        if (e->columns[i].kind == MAP_COLUMN_COND_REF) {
            const map_entity_t *pe =
                r->op == 'u' && r->ref_entity[i] != NULL
                    ? map_config_entity(a->cfg, r->ref_entity[i])
                    : NULL;

            if (pe != NULL)
                ferry_buf_printf(b, "\t%zu", (size_t)(pe - a->cfg->entities));
            else
                ferry_buf_append_lit(b, "\t\\N");
        }
    }
    ferry_buf_putc(b, '\n');
}

/* The staging table holds text only: a COPY into it rejects no row. */
#define COPY_WHAT "COPY into the staging table"

/* TRUNCATE the staging table, then COPY the entity's rows into it. */
static int
stage_rows(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    rowset_t *s = &a->sets[idx];
    ferry_buf_t sql = {0};
    size_t i;
    int rc;

    ferry_buf_printf(&sql, "TRUNCATE %s", a->plans[idx].q_stage);
    rc = ferry_buf_status(&sql, err,
                          "emptying the staging table of entity "
                          "\"%s\"",
                          entity_name(a, idx));
    if (rc == 0)
        rc = sink_pg_exec(a->conn, ferry_buf_cstr(&sql), 0, NULL, NULL, NULL,
                          "empty the staging table", FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    if (rc != 0 || (rc = ferry_pg_copy_start(
                        a->conn, ferry_buf_cstr(&a->sql[idx].copy),
                        "start " COPY_WHAT, FERRY_PG_DATA_FATAL, err)) != 0)
        return rc;
    ferry_buf_reset(&a->copybuf);
    s->min_commit = UINT64_MAX;
    s->max_commit = 0;
    for (i = 0; i < s->n; i++) {
        uint64_t c = s->rows[i].pair.commit;

        s->min_commit = c < s->min_commit ? c : s->min_commit;
        s->max_commit = c > s->max_commit ? c : s->max_commit;
        copy_row(a, idx, i, &s->rows[i]);
        if (a->copybuf.failed) {
            ferry_pg_copy_abort(a->conn, "out of memory");
            return ferry_buf_status(&a->copybuf, err,
                                    "staging the rows of entity \"%s\"",
                                    entity_name(a, idx));
        }
        if (a->copybuf.len >= (1u << 20) || i + 1 == s->n) {
            if (PQputCopyData(a->conn, a->copybuf.data, (int)a->copybuf.len) !=
                1) {
                rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not %s: %s",
                                   COPY_WHAT, PQerrorMessage(a->conn));
                ferry_pg_copy_abort(a->conn, "could not send the rows");
                return rc;
            }
            ferry_buf_reset(&a->copybuf);
        }
    }
    return ferry_pg_copy_end(a->conn, COPY_WHAT, FERRY_PG_DATA_FATAL, err);
}

/* Runs sql as sink_pg_exec() does (*rc its result); returns the number of
 * rows it touched. */
static long
exec_count(sink_apply_t *a, const char *what, const char *sql, int n,
           const char *const *params, int *rc, char *sqlstate, unsigned flags,
           ferry_err_t *err)
{
    PGresult *res;
    long count = 0;

    *rc =
        sink_pg_exec(a->conn, sql, n, params, &res, sqlstate, what, flags, err);
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
    ferry_buf_t drop = {0};
    const char *p1[1] = {num};
    size_t i;
    int rc;

    if ((rc = sink_pg_exec(a->conn, "SAVEPOINT ferry_set", 0, NULL, NULL, NULL,
                           "set a savepoint", FERRY_PG_DATA_FATAL, err)) != 0)
        return rc;
    /* The one statement whose data errors are the rows' own. */
    a->stats.applied += exec_count(a, what, all, 0, NULL, &rc, state, 0, err);
    if (rc == 0)
        return sink_pg_exec(a->conn, "RELEASE ferry_set", 0, NULL, NULL, NULL,
                            "release a savepoint", FERRY_PG_DATA_FATAL, err);
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
    if ((rc = sink_pg_exec(a->conn, "ROLLBACK TO ferry_set", 0, NULL, NULL,
                           NULL, "roll back to a savepoint",
                           FERRY_PG_DATA_FATAL, err)) != 0)
        return rc;
    ferry_buf_printf(&drop, "DELETE FROM %s WHERE __n = $1",
                     a->plans[idx].q_stage);
    if ((rc = ferry_buf_status(&drop, err,
                               "isolating the rejected rows of entity "
                               "\"%s\"",
                               entity_name(a, idx))) != 0)
        return rc;
    for (i = 0; rc == 0 && i < s->n; i++) {
        if (s->rows[i].op != op)
            continue;
        snprintf(num, sizeof(num), "%zu", i);
        rc = sink_pg_exec(a->conn, "SAVEPOINT ferry_row", 0, NULL, NULL, NULL,
                          "set a savepoint", FERRY_PG_DATA_FATAL, err);
        if (rc != 0)
            break;
        a->stats.applied += exec_count(a, what, one, 1, p1, &rc, state, 0, err);
        if (rc == 0) {
            rc = sink_pg_exec(a->conn, "RELEASE ferry_row", 0, NULL, NULL, NULL,
                              "release a savepoint", FERRY_PG_DATA_FATAL, err);
            continue;
        }
        if (rc != FERRY_EDATA)
            break;
        rc = sink_pg_exec(a->conn, "ROLLBACK TO ferry_row", 0, NULL, NULL, NULL,
                          "roll back to a savepoint", FERRY_PG_DATA_FATAL, err);
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
            rc = sink_pg_exec(a->conn, ferry_buf_cstr(&drop), 1, p1, NULL, NULL,
                              "drop a rejected row", FERRY_PG_DATA_FATAL, err);
    }
    ferry_buf_close(&drop);
    if (rc == 0)
        rc = sink_pg_exec(a->conn, "RELEASE ferry_set", 0, NULL, NULL, NULL,
                          "release a savepoint", FERRY_PG_DATA_FATAL, err);
    return rc;
}

/* Staged upserts whose parent is missing: parked, or recorded as bad.
 * *taken receives how many rows left the stage. */
static int
take_missing(sink_apply_t *a, size_t idx, enum map_on_missing pol, int *taken,
             ferry_err_t *err)
{
    const char *sql = ferry_buf_cstr(&a->sql[idx].take[pol]);
    PGresult *res = NULL;
    int i, rc;

    *taken = 0;
    if (sql[0] == '\0')
        return 0;
    rc = sink_pg_exec(a->conn, sql, 0, NULL, &res, NULL,
                      "find rows whose parent is missing", FERRY_PG_DATA_FATAL,
                      err);
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
    plan_sql_t *q = &a->sql[idx];
    const char *p1[1] = {entity_name(a, idx)};
    size_t i;
    int rc;

    if ((rc = stage_rows(a, idx, err)) != 0)
        return rc;
    if (a->shared && (rc = sink_pg_exec(a->conn, ferry_buf_cstr(&q->lock), 1,
                                        p1, NULL, NULL, "lock the staged keys",
                                        FERRY_PG_DATA_FATAL, err)) != 0)
        return rc;
    /* Rows above the entity's bound are newer than every position it
     * holds: none can be stale (sink_apply_int.h), and the check (an index
     * probe per row) is skipped.  Streaming, that is every batch. */
    if (a->shared || a->sets[idx].min_commit <= a->lsn_bound[idx])
        a->stats.stale +=
            exec_count(a, "drop stale rows", ferry_buf_cstr(&q->stale), 1, p1,
                       &rc, NULL, FERRY_PG_DATA_FATAL, err);
    if (rc != 0 ||
        (rc = take_all_missing(a, idx, MAP_ON_MISSING_PARK, err)) != 0 ||
        (rc = take_all_missing(a, idx, MAP_ON_MISSING_ERROR, err)) != 0)
        return rc;
    for (i = 0; i < a->cfg->entities[idx].n_columns; i++) {
        const char *p2[2] = {entity_name(a, idx),
                             a->cfg->entities[idx].columns[i].name};

        /* A deferred ref: a new value replaces a pending patch, a missing
         * parent becomes one (sink_sql.h). */
        if (q->defer_note[i].len > 0 &&
            ((rc = sink_pg_exec(a->conn, ferry_buf_cstr(&q->defer_forget[i]), 2,
                                p2, NULL, NULL, "forget pending deferred refs",
                                FERRY_PG_DATA_FATAL, err)) != 0 ||
             (rc = sink_pg_exec(a->conn, ferry_buf_cstr(&q->defer_note[i]), 2,
                                p2, NULL, NULL, "note pending deferred refs",
                                FERRY_PG_DATA_FATAL, err)) != 0))
            return rc;
        if (q->null_miss[i].len > 0 &&
            (rc = sink_pg_exec(a->conn, ferry_buf_cstr(&q->null_miss[i]), 0,
                               NULL, NULL, NULL, "null a missing parent",
                               FERRY_PG_DATA_FATAL, err)) != 0)
            return rc;
    }
    return run_set(a, idx, "upsert rows", ferry_buf_cstr(&q->upsert),
                   ferry_buf_cstr(&q->upsert1), 'u', err);
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
    return sink_pg_exec(a->conn, ferry_buf_cstr(&a->bound_sql), 2, p2, NULL,
                        NULL, "raise the position bound", FERRY_PG_DATA_FATAL,
                        err);
}

static int
delete_step(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    plan_sql_t *q = &a->sql[idx];
    const char *p1[1] = {entity_name(a, idx)};
    int rc;

    if ((rc = run_set(a, idx, "delete rows", ferry_buf_cstr(&q->del),
                      ferry_buf_cstr(&q->del1), 'd', err)) != 0)
        return rc;
    if ((rc = raise_bound(a, idx, a->sets[idx].max_commit, err)) != 0 ||
        (rc = sink_pg_exec(a->conn, ferry_buf_cstr(&q->row_lsn), 1, p1, NULL,
                           NULL, "record row positions", FERRY_PG_DATA_FATAL,
                           err)) != 0)
        return rc;
    /* Only when rows are parked: the statement is cheap, not free. */
    if (a->parked_rows > 0 || a->shared) {
        long n = exec_count(a, "drop superseded parked rows",
                            ferry_buf_cstr(&q->unpark), 1, p1, &rc, NULL,
                            FERRY_PG_DATA_FATAL, err);

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

            if (a->sql[idx].defer_patch[i].len == 0)
                continue;
            n = exec_count(a, "patch deferred refs",
                           ferry_buf_cstr(&a->sql[idx].defer_patch[i]), 2, p2,
                           &rc, NULL, FERRY_PG_DATA_FATAL, err);
            if (rc == 0 && n > 0)
                ferry_debug("entity \"%s\": patched %ld deferred refs in "
                            "column \"%s\"",
                            e->name, n, e->columns[i].name);
        }
    }
    return rc;
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

/* What a source TRUNCATE of an entity does to the state tables (after its
 * target rows are gone): the statement's head and tail around the quoted
 * state schema, its parameters ($1 entity, $2 $3 the event's positions)
 * and what it is for. */
static const struct truncate_step {
    const char *head, *tail, *what;
    int n_params;
} truncate_steps[] = {
    {"DELETE FROM ", ".row_lsn WHERE entity = $1", "truncate row positions", 1},
    {"DELETE FROM ", ".parked WHERE entity = $1", "drop parked rows", 1},
    {"INSERT INTO ",
     ".truncated VALUES ($1, $2, $3) ON CONFLICT (entity) DO UPDATE SET "
     "commit_lsn = EXCLUDED.commit_lsn, change_lsn = EXCLUDED.change_lsn",
     "record a truncate", 3},
};

static int
truncate_one(sink_apply_t *a, size_t idx, const sink_event_t *ev,
             ferry_err_t *err)
{
    char cl[24], ch[24];
    const char *p[3] = {entity_name(a, idx), cl, ch};
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    bool stale;
    size_t i;
    int rc;

    snprintf(cl, sizeof(cl), "%" PRIu64, ev->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, ev->pair.change);
    ferry_buf_printf(
        &sql,
        "SELECT EXISTS (SELECT 1 FROM %s.truncated WHERE entity = $1 AND "
        "(commit_lsn, change_lsn) >= ($2::int8, $3::int8)) OR EXISTS "
        "(SELECT 1 FROM %s.row_lsn WHERE entity = $1 AND (commit_lsn, "
        "change_lsn) > ($2::int8, $3::int8))",
        a->q_state, a->q_state);
    rc = ferry_buf_status(&sql, err, "applying a TRUNCATE of entity \"%s\"",
                          entity_name(a, idx));
    if (rc == 0)
        rc = sink_pg_exec(a->conn, ferry_buf_cstr(&sql), 3, p, &res, NULL,
                          "check a truncate", FERRY_PG_DATA_FATAL, err);
    stale = rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (rc != 0 || stale)
        goto done;
    rc = run_set(a, idx, "truncate the target table",
                 ferry_buf_cstr(&a->sql[idx].truncate),
                 ferry_buf_cstr(&a->sql[idx].truncate), 0, err);
    if (rc == 0)
        rc = raise_bound(a, idx, ev->pair.commit, err);
    for (i = 0; rc == 0 && i < sizeof(truncate_steps) / sizeof(*truncate_steps);
         i++) {
        const struct truncate_step *t = &truncate_steps[i];

        ferry_buf_reset(&sql);
        ferry_buf_append_str(&sql, t->head);
        ferry_buf_append_str(&sql, a->q_state);
        ferry_buf_append_str(&sql, t->tail);
        rc = ferry_buf_status(&sql, err,
                              "applying a TRUNCATE of entity "
                              "\"%s\"",
                              entity_name(a, idx));
        if (rc == 0)
            rc = sink_pg_exec(a->conn, ferry_buf_cstr(&sql), t->n_params, p,
                              NULL, NULL, t->what, FERRY_PG_DATA_FATAL, err);
    }
    if (rc == 0)
        ferry_info("entity \"%s\": applied a source TRUNCATE",
                   entity_name(a, idx));
done:
    ferry_buf_close(&sql);
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

    rc = sink_pg_exec(a->conn, sql, n, params, &res, NULL, "take parked rows",
                      FERRY_PG_DATA_FATAL, err);
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
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    int rc;

    ferry_buf_printf(&sql,
                     "SELECT count(*) FROM %s.parked WHERE waits_for = "
                     "'parent'",
                     a->q_state);
    rc = ferry_buf_status(&sql, err, "counting the parked rows");
    if (rc == 0)
        rc = sink_pg_exec(a->conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "count parked rows", FERRY_PG_DATA_FATAL, err);
    if (rc == 0)
        a->parked_rows = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    ferry_buf_close(&sql);
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

            rc = take_parked(a, ferry_buf_cstr(&a->sql[i].drain), 1, p1, &evs,
                             &n_evs, &got, err);
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
        rc = take_parked(a, ferry_buf_cstr(&a->retry_sql), 0, NULL, &blocked,
                         &n_blocked, &got, err);
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
