/* Applying a batch of source transactions: rows collapsed per key, staged,
 * then set-based statements per entity in dependency order (upserts
 * parents first, deletes children first), rejected rows isolated under
 * savepoints, truncates in their place; then the parked rows whose parent
 * is now there taken out and applied the same way (the drain).
 * sink/sink_apply_batch.c
 *
 * Everything here pushes steps onto the target's job (sink_target.h).
 * The order of the work is the order of the steps: a step that needs the
 * batch's rows as they are at that point (staging, flushing) is a call
 * step, so that it sees what the steps before it added or took out.
 */
#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"
#include "sink_apply_int.h"
#include "sink_stage.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
entity_matches(const map_entity_t *e, const sink_event_t *ev)
{
    return strcmp(e->source_schema, ev->schema) == 0 &&
           strcmp(e->source_table, ev->table) == 0;
}

/* The entities of a consumer slot's table, found at its first event and
 * checked against every later one (two string compares): a topic holds one
 * table, but nothing here relies on it. */
struct sink_ent_memo {
    char *schema, *table; /* owned: the table, or NULL before any event */
    size_t *idx;          /* owned: the matching entities' indexes */
    size_t n;             /* entries in idx */
};

void
sink__memo_free(sink_apply_t *a)
{
    for (size_t i = 0; i < a->n_memo; i++) {
        free(a->memo[i].schema);
        free(a->memo[i].table);
        free(a->memo[i].idx);
    }
    free(a->memo);
    a->memo = NULL;
    a->n_memo = 0;
}

/* Finds the entities of ev's table into *idx (n of them; borrowed from
 * the memo, or from buf of n_entities entries when ev has no slot or the
 * memo cannot grow), valid until the next call. */
static size_t
entities_of(sink_apply_t *a, const sink_event_t *ev, size_t *buf,
            const size_t **idx)
{
    struct sink_ent_memo *m = NULL;
    size_t n = 0, i;

    if (ev->pos.slot >= 0 && (size_t)ev->pos.slot < a->n_memo)
        m = &a->memo[ev->pos.slot];
    else if (ev->pos.slot >= 0) {
        size_t cap = (size_t)ev->pos.slot + 16;
        struct sink_ent_memo *g = realloc(a->memo, cap * sizeof(*g));

        if (g != NULL) {
            memset(g + a->n_memo, 0, (cap - a->n_memo) * sizeof(*g));
            a->memo = g;
            a->n_memo = cap;
            m = &a->memo[ev->pos.slot];
        }
    }
    if (m != NULL && m->schema != NULL && strcmp(m->schema, ev->schema) == 0 &&
        strcmp(m->table, ev->table) == 0) {
        *idx = m->idx;
        return m->n;
    }
    for (i = 0; i < a->cfg->n_entities; i++)
        if (entity_matches(&a->cfg->entities[i], ev))
            buf[n++] = i;
    *idx = buf;
    if (m == NULL)
        return n;
    free(m->schema);
    free(m->table);
    free(m->idx);
    m->schema = strdup(ev->schema);
    m->table = strdup(ev->table);
    m->idx = malloc((n + 1) * sizeof(size_t));
    if (m->schema == NULL || m->table == NULL || m->idx == NULL) {
        free(m->schema);
        free(m->table);
        free(m->idx);
        memset(m, 0, sizeof(*m));
        return n;
    }
    memcpy(m->idx, buf, n * sizeof(size_t));
    m->n = n;
    *idx = m->idx;
    return n;
}

/* A mapped source column is missing from ev: the source dropped or renamed
 * it.  Nothing of the batch is applied (the job fails, the transaction
 * rolls back, the offsets stay), and the message says where and what to
 * change; the sink resumes at this event once the mapping is fixed. */
static int
schema_drift(sink_apply_t *a, const map_entity_t *e, const sink_event_t *ev,
             const ferry_err_t *why, ferry_err_t *err)
{
    int partition = -1;
    const char *topic =
        ev->pos.slot >= 0 && a->slot_topic != NULL
            ? a->slot_topic(a->slot_arg, ev->pos.slot, &partition)
            : NULL;

    return ferry_err_set(
        err, FERRY_ESCHEMA,
        "entity \"%s\": %s of table \"%s\".\"%s\" at commit LSN " FERRY_LSN_FMT
        " (change " FERRY_LSN_FMT ", topic \"%s\" partition %d offset %" PRId64
        "): the source no longer has the column (dropped or renamed).  "
        "Change the mapping of entity \"%s\": map its target column from "
        "the column that replaced it, or remove it (docs/runbook.md, "
        "\"Changing the mapping during the transition\"); then start "
        "ferry-sink again: it resumes at this event, nothing is skipped",
        e->name, why->msg, ev->schema, ev->table,
        FERRY_LSN_ARGS(ev->pair.commit), FERRY_LSN_ARGS(ev->pair.change),
        topic != NULL ? topic : "?", partition, ev->pos.offset, e->name);
}

int
sink__add_row(sink_apply_t *a, size_t idx, sink_event_t *ev, ferry_err_t *err)
{
    const map_entity_t *e = &a->cfg->entities[idx];
    sink_row_t row;
    ferry_err_t rerr;
    int rc;

    rerr.status = 0;
    rerr.msg[0] = '\0';
    rc = sink_row_build(&a->uctx, e, ev, &row, &rerr);

    if (rc == FERRY_EDATA) {
        rc = sink__reject(a, e->name, row.lkey, ev, NULL, rerr.msg, err);
    } else if (rc == FERRY_ESCHEMA) {
        rc = schema_drift(a, e, ev, &rerr, err);
    } else if (rc == FERRY_ENOMEM) {
        rc = ferry_err_set(
            err, rc, "out of memory building a row of entity \"%s\"", e->name);
    } else if (row.park_entity != NULL) {
        rc = sink__park_push(a, idx, &row, row.park_entity, NULL, false, NULL,
                             err);
        if (rc == 0)
            rc = sink__park_flush(a, err);
    } else if (sink_rowset_add(&a->sets[idx], &row,
                               e->delete_mode == MAP_DELETE_SOFT) != 0) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory collecting the rows of entity "
                           "\"%s\"",
                           e->name);
    }
    sink_row_clear(&row);
    return rc;
}

static int
add_event(sink_apply_t *a, sink_event_t *ev, ferry_err_t *err)
{
    const size_t *idx;
    size_t i, n;
    int rc = 0;

    if (ev->op == 'X') {
        char msg[600];

        snprintf(msg, sizeof(msg), "malformed message: %s", ev->reason);
        return sink__reject(a, NULL, NULL, ev, NULL, msg, err);
    }
    n = entities_of(a, ev, a->ent_buf, &idx);
    for (i = 0; rc == 0 && i < n; i++)
        rc = sink__add_row(a, idx[i], ev, err);
    return rc;
}

/* --- one set statement, rejected rows isolated -------------------------- */

/* aux of the isolation steps: the entity index, the operation and the
 * staging row, packed.  The operation is 'u' (upsert), 'd' (delete) or
 * 'D' (delete with the children's policies, sink_sql_delete_children()). */
#define ISO_AUX(idx, op, i) (((idx) << 40) | ((size_t)(op) << 32) | (i))
#define ISO_IDX(aux) ((aux) >> 40)
#define ISO_OP(aux) ((char)(((aux) >> 32) & 0xff))
#define ISO_ROW(aux) ((aux)&0xffffffffu)

int
sink__push_plain(sink_apply_t *a, const char *what, const char *sql,
                 ferry_err_t *err)
{
    return sink_target_push(a->t, &(sink_stmt_t){.what = what, .sql = sql},
                            err);
}

/* The ordered mode on complete transactions: the children's own deletes
 * came first, so rows that still reference a deleted row get their
 * policy.  Elsewhere their deletes may be on their way in another batch
 * (scale-out, a rebuild's bulk load and the transactions it cut), and
 * the parent's delete waits for them. */
static bool
ordered(const sink_apply_t *a)
{
    return !a->shared && !a->park_deletes;
}

/* Whether the target refused a delete because rows still reference the
 * row (foreign_key_violation). */
static bool
fk_refusal(const char *sqlstate)
{
    return sqlstate != NULL && strcmp(sqlstate, "23503") == 0;
}

/* The delete of entity idx applies the children's policies. */
static bool
with_children(const sink_apply_t *a, size_t idx)
{
    return ordered(a) && a->sql[idx].del_children[0] != '\0';
}

static int
staged_counted(void *arg, size_t aux, PGresult *res, int rc,
               const char *sqlstate, ferry_err_t *err)
{
    sink_apply_t *a = arg;

    (void)rc, (void)sqlstate, (void)err;
    a->lsn_staged[aux] = PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : 0;
    return 0;
}

/* Rows of entity idx that the upsert's lsn guard skipped (n of them) were
 * older than their target rows: stale, as the stale check would have
 * said. */
static void
guard_skipped(sink_apply_t *a, size_t idx, long n)
{
    if (n <= 0)
        return;
    a->ent_att[idx].stale += n;
    ferry_debug("entity \"%s\": %ld rows older than their target rows "
                "skipped by the lsn column's guard",
                sink__entity_name(a, idx), n);
}

/* One staging row's statement is through: kept, or rolled back (with
 * whatever it did to the row's children) and the row parked (a delete
 * that rows still reference, when they may go later or the mapping does
 * not know them) or recorded as rejected. */
static int
row_done(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = ISO_IDX(aux), i = ISO_ROW(aux);
    char op = ISO_OP(aux);
    const sink_row_t *row = &a->sets[idx].rows[i];
    bool refused = op != 'u' && fk_refusal(sqlstate);
    char num[24], msg[sizeof(err->msg)];
    const char *p1[1] = {num};

    if (rc == 0) {
        if (op == 'D')
            sink__children_done(a, idx, res);
        if (op == 'u' && a->sql[idx].count_up[0] != '\0')
            guard_skipped(a, idx, atol(PQcmdTuples(res)) == 0 ? 1 : 0);
        return sink__push_plain(a, "release a savepoint", "RELEASE ferry_row",
                                err);
    }
    snprintf(msg, sizeof(msg), "%s", err->msg);
    snprintf(num, sizeof(num), "%zu", i);
    if ((rc = sink__push_plain(a, "roll back to a savepoint",
                               "ROLLBACK TO ferry_row", err)) != 0)
        return rc;
    /* A delete parked while its children's deletes were on their way
     * (slot -1: it came out of parked) stays parked. */
    if (refused && ordered(a)) {
        rc = sink__refused_push(a, idx, i, sqlstate, msg, err);
    } else if (refused &&
               (a->shared || a->park_deletes || row->ev->pos.slot < 0)) {
        rc = sink__park_push(a, idx, row, sink__entity_name(a, idx), NULL, true,
                             NULL, err);
        if (rc == 0)
            rc = sink__park_flush(a, err);
    } else {
        rc = sink__reject(a, sink__entity_name(a, idx), row->lkey, row->ev,
                          sqlstate, msg, err);
    }
    if (rc == 0)
        rc = sink_target_push(a->t,
                              &(sink_stmt_t){.what = "drop a rejected row",
                                             .sql = a->sql[idx].drop_row,
                                             .n = 1,
                                             .params = p1},
                              err);
    return rc;
}

static int set_done(void *arg, size_t aux, PGresult *res, int rc,
                    const char *sqlstate, ferry_err_t *err);

/* Pushes the statement sql of entity idx for operation op (ISO_AUX) under
 * the savepoint the caller set; row_n is the staging row for a per-row
 * statement, or -1 for the set. */
static int
push_iso(sink_apply_t *a, size_t idx, char op, const char *sql, long row_n,
         ferry_err_t *err)
{
    char num[24];
    const char *p1[1] = {num};

    snprintf(num, sizeof(num), "%ld", row_n);
    return sink_target_push(
        a->t,
        &(sink_stmt_t){.what = op == 'u' ? "upsert rows" : "delete rows",
                       .sql = sql,
                       .n = row_n >= 0 ? 1 : 0,
                       .params = p1,
                       .flags = SINK_STMT_DATA_OK,
                       .count = op == 'u'   ? &a->ent_att[idx].upserted
                                : op == 'd' ? &a->ent_att[idx].deleted
                                            : NULL,
                       .done = row_n >= 0 ? row_done : set_done,
                       .arg = a,
                       .aux = ISO_AUX(idx, op, row_n >= 0 ? (size_t)row_n : 0)},
        err);
}

/* The set statement is through: kept; or, when rows still reference rows
 * it deletes, rolled back and run again with the children's policies;
 * or, when the target rejected it for bad data, rolled back and run again
 * row by row (each under its own savepoint, a row's children with it) so
 * that only the rows the target rejects are set aside. */
static int
set_done(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = ISO_IDX(aux), i;
    char op = ISO_OP(aux), row_op = op;
    const rowset_t *s = &a->sets[idx];
    const char *one = a->sql[idx].upsert1;

    if (rc == 0) {
        if (op == 'D')
            sink__children_done(a, idx, res);
        if (op == 'u' && a->sql[idx].count_up[0] != '\0')
            guard_skipped(a, idx, a->lsn_staged[idx] - atol(PQcmdTuples(res)));
        return sink__push_plain(a, "release a savepoint", "RELEASE ferry_set",
                                err);
    }
    /* Deletes parked for their children are retried at every commit, and
     * children are expected under a deleted parent: not news. */
    if (op != 'u' && (!ordered(a) || fk_refusal(sqlstate)))
        ferry_debug("entity \"%s\": %s; isolating the rejected rows",
                    sink__entity_name(a, idx), err->msg);
    else
        ferry_info("entity \"%s\": %s; isolating the rejected rows",
                   sink__entity_name(a, idx), err->msg);
    if ((rc = sink__push_plain(a, "roll back to a savepoint",
                               "ROLLBACK TO ferry_set", err)) != 0)
        return rc;
    if (op == 'd' && with_children(a, idx) && fk_refusal(sqlstate))
        return push_iso(a, idx, 'D', a->sql[idx].del_children, -1, err);
    if (op != 'u') {
        row_op = with_children(a, idx) ? 'D' : 'd';
        one = row_op == 'D' ? a->sql[idx].del1_children : a->sql[idx].del1;
    }
    for (i = 0; rc == 0 && i < s->n; i++) {
        if (s->rows[i].op != (op == 'u' ? 'u' : 'd'))
            continue;
        rc = sink__push_plain(a, "set a savepoint", "SAVEPOINT ferry_row", err);
        if (rc == 0)
            rc = push_iso(a, idx, row_op, one, (long)i, err);
    }
    return rc != 0 ? rc
                   : sink__push_plain(a, "release a savepoint",
                                      "RELEASE ferry_set", err);
}

/* Runs the set statement all of entity idx for the staged rows of op ('u'
 * or 'd') under a savepoint, isolating rejected rows. */
static int
push_set(sink_apply_t *a, size_t idx, const char *all, char op,
         ferry_err_t *err)
{
    int rc = sink__push_plain(a, "set a savepoint", "SAVEPOINT ferry_set", err);

    if (rc != 0)
        return rc;
    return push_iso(a, idx, op, all, -1, err);
}

/* --- one entity --------------------------------------------------------- */

static int
push_upserts(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    const plan_sql_t *q = &a->sql[idx];
    const char *p1[1] = {sink__entity_name(a, idx)};
    size_t i;
    int rc;

    if ((rc = sink_stage_push(a->t, a->cfg, &a->plans[idx], &a->sets[idx],
                              a->sql[idx].empty, a->sql[idx].copy, err)) != 0)
        return rc;
    if (a->shared &&
        (rc = sink_target_push(a->t,
                               &(sink_stmt_t){.what = "lock the staged keys",
                                              .sql = q->lock,
                                              .n = 1,
                                              .params = p1},
                               err)) != 0)
        return rc;
    /* Rows above the entity's bound are newer than every position it
     * holds: none can be stale (sink_apply_int.h), and the check (an index
     * probe per row) is skipped.  Streaming, that is every batch. */
    if ((a->shared || a->sets[idx].min_commit <= a->lsn_bound[idx]) &&
        (rc = sink_target_push(a->t,
                               &(sink_stmt_t){.what = "drop stale rows",
                                              .sql = q->stale,
                                              .n = 1,
                                              .params = p1,
                                              .count = &a->ent_att[idx].stale},
                               err)) != 0)
        return rc;
    if (a->shared && q->lock_parents[0] != '\0' &&
        (rc = sink_target_push(a->t,
                               &(sink_stmt_t){.what = "lock the staged rows' "
                                                      "parents",
                                              .sql = q->lock_parents},
                               err)) != 0)
        return rc;
    if ((rc = sink__take_missing_push(a, idx, MAP_ON_MISSING_PARK, err)) != 0 ||
        (rc = sink__take_missing_push(a, idx, MAP_ON_MISSING_ERROR, err)) != 0)
        return rc;
    for (i = 0; rc == 0 && i < a->cfg->entities[idx].n_columns; i++) {
        const char *p2[2] = {sink__entity_name(a, idx),
                             a->cfg->entities[idx].columns[i].name};

        /* A deferred ref: a new value replaces a pending patch, a missing
         * parent becomes one (sink_sql.h). */
        if (q->defer_note[i] != NULL) {
            rc = sink_target_push(
                a->t,
                &(sink_stmt_t){.what = "forget pending deferred refs",
                               .sql = q->defer_forget[i],
                               .n = 2,
                               .params = p2},
                err);
            if (rc == 0)
                rc = sink_target_push(
                    a->t,
                    &(sink_stmt_t){.what = "note pending deferred refs",
                                   .sql = q->defer_note[i],
                                   .n = 2,
                                   .params = p2},
                    err);
        }
        if (rc == 0 && q->null_miss[i] != NULL)
            rc = sink__push_plain(a, "null a missing parent", q->null_miss[i],
                                  err);
    }
    if (rc != 0)
        return rc;
    if (q->count_up[0] != '\0' &&
        (rc = sink_target_push(a->t,
                               &(sink_stmt_t){.what = "count staged upserts",
                                              .sql = q->count_up,
                                              .done = staged_counted,
                                              .arg = a,
                                              .aux = idx},
                               err)) != 0)
        return rc;
    return push_set(a, idx, q->upsert, 'u', err);
}

/* Raises entity idx's position bound to commit, before positions up to
 * it are written.  Always written, in the transaction that writes the
 * positions: one rolled back may have raised the bound in memory only (a
 * bound too high there is only a check not skipped). */
static int
push_raise_bound(sink_apply_t *a, size_t idx, uint64_t commit, ferry_err_t *err)
{
    char c[24];
    const char *p2[2] = {sink__entity_name(a, idx), c};

    if (a->shared)
        return 0;
    if (commit > a->lsn_bound[idx])
        a->lsn_bound[idx] = commit;
    snprintf(c, sizeof(c), "%" PRIu64, commit);
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "raise the position bound",
                                           .sql = a->bound_sql,
                                           .n = 2,
                                           .params = p2},
                            err);
}

/* Parked rows of the staged keys that are older than what was applied
 * could only ever be stale. */
static int
unparked(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_apply_t *a = arg;
    long n = atol(PQcmdTuples(res));

    (void)rc, (void)sqlstate, (void)err;
    if (n > 0)
        ferry_debug("entity \"%s\": %ld parked rows superseded by newer "
                    "events",
                    sink__entity_name(a, aux), n);
    a->parked_rows -= n;
    return 0;
}

/* Only when rows are parked, counted when the step runs (the deletes
 * before it may have parked children): the statement is cheap, not
 * free. */
static int
unpark_call(void *arg, size_t idx, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    const char *p1[1] = {sink__entity_name(a, idx)};

    if (a->parked_rows <= 0 && !a->shared)
        return 0;
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "drop superseded parked "
                                                   "rows",
                                           .sql = a->sql[idx].unpark,
                                           .n = 1,
                                           .params = p1,
                                           .done = unparked,
                                           .arg = a,
                                           .aux = idx},
                            err);
}

static int
push_deletes(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    const plan_sql_t *q = &a->sql[idx];
    const char *p1[1] = {sink__entity_name(a, idx)};
    int rc;

    if ((rc = push_set(a, idx, q->del, 'd', err)) != 0 ||
        (rc = push_raise_bound(a, idx, a->sets[idx].max_commit, err)) != 0 ||
        (rc = sink_target_push(a->t,
                               &(sink_stmt_t){.what = "record row positions",
                                              .sql = q->row_lsn,
                                              .n = 1,
                                              .params = p1},
                               err)) != 0)
        return rc;
    return sink_target_push_call(a->t, unpark_call, a, idx, err);
}

static int
patched(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
        ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = aux >> 16, ci = aux & 0xffff;
    long n = atol(PQcmdTuples(res));

    (void)rc, (void)sqlstate, (void)err;
    if (n > 0)
        ferry_debug("entity \"%s\": patched %ld deferred refs in column "
                    "\"%s\"",
                    sink__entity_name(a, idx), n,
                    a->cfg->entities[idx].columns[ci].name);
    return 0;
}

/* Writes the parent's UUID into deferred ref columns whose parent is now
 * in the target. */
static int
push_patch_deferred(sink_apply_t *a, ferry_err_t *err)
{
    size_t idx, i;
    int rc = 0;

    for (idx = 0; rc == 0 && idx < a->cfg->n_entities; idx++) {
        const map_entity_t *e = &a->cfg->entities[idx];

        if (!a->sql[idx].has_deferred)
            continue;
        for (i = 0; rc == 0 && i < e->n_columns; i++) {
            const char *p2[2] = {e->name, e->columns[i].name};

            if (a->sql[idx].defer_patch[i] == NULL)
                continue;
            rc = sink_target_push(
                a->t,
                &(sink_stmt_t){.what = "patch deferred refs",
                               .sql = a->sql[idx].defer_patch[i],
                               .n = 2,
                               .params = p2,
                               .done = patched,
                               .arg = a,
                               .aux = (idx << 16) | i},
                err);
        }
    }
    return rc;
}

/* The rows of the flush are applied: the sets start again empty. */
static int
clear_sets(void *arg, size_t aux, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t k;

    (void)aux, (void)err;
    for (k = 0; k < a->cfg->n_entities; k++)
        sink_rowset_clear(&a->sets[k]);
    return 0;
}

int
sink__flush_push(sink_apply_t *a, ferry_err_t *err)
{
    size_t n = a->cfg->n_entities, k;
    int rc = 0;

    for (k = 0; rc == 0 && k < n; k++) {
        size_t idx = a->cfg->apply_order[k];

        if (a->sets[idx].n > 0)
            rc = push_upserts(a, idx, err);
    }
    for (k = n; rc == 0 && k > 0; k--) {
        size_t idx = a->cfg->apply_order[k - 1];

        if (a->sets[idx].n > 0)
            rc = push_deletes(a, idx, err);
    }
    if (rc == 0)
        rc = push_patch_deferred(a, err);
    return rc != 0 ? rc : sink_target_push_call(a->t, clear_sets, a, 0, err);
}

/* As a call step: the rows added by the steps before are complete. */
static int
flush_call(void *arg, size_t aux, ferry_err_t *err)
{
    (void)aux;
    return sink__flush_push(arg, err);
}

/* --- truncates ---------------------------------------------------------- */

static int
truncated(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
          ferry_err_t *err)
{
    sink_apply_t *a = arg;
    const sink_event_t *ev = a->truncs[aux].ev;
    size_t idx = a->truncs[aux].idx;
    char cl[24], ch[24];
    const char *p3[3] = {sink__entity_name(a, idx), cl, ch};

    (void)res;
    if (rc != 0) {
        /* The target refused (rows that reference them): recorded, and
         * the state left as it was. */
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        if ((rc = sink__push_plain(a, "roll back to a savepoint",
                                   "ROLLBACK TO ferry_set", err)) != 0)
            return rc;
        return sink__reject(a, sink__entity_name(a, idx), NULL, ev, sqlstate,
                            msg, err);
    }
    snprintf(cl, sizeof(cl), "%" PRIu64, ev->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, ev->pair.change);
    ferry_info("entity \"%s\": applying a source TRUNCATE",
               sink__entity_name(a, idx));
    if ((rc = sink__push_plain(a, "release a savepoint", "RELEASE ferry_set",
                               err)) != 0 ||
        (rc = push_raise_bound(a, idx, ev->pair.commit, err)) != 0)
        return rc;
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "record a truncate",
                                           .sql = a->truncated_sql,
                                           .n = 3,
                                           .params = p3},
                            err);
}

static int trunc_deleted(void *arg, size_t aux, PGresult *res, int rc,
                         const char *sqlstate, ferry_err_t *err);

/* The delete of truncate aux (all of it, or a chunk of UUIDs) under the
 * savepoint, seen by done. */
static int
push_trunc_delete(sink_apply_t *a, size_t aux, sink_stmt_fn done,
                  ferry_err_t *err)
{
    return sink_target_push(
        a->t,
        &(sink_stmt_t){.what = "truncate the target table",
                       .sql = a->sql[a->truncs[aux].idx].truncate,
                       .flags = SINK_STMT_DATA_OK,
                       .count = &a->ent_att[a->truncs[aux].idx].deleted,
                       .done = done,
                       .arg = a,
                       .aux = aux},
        err);
}

/* A chunk of keys ferry applied is in: their UUIDs (imported or derived)
 * are staged and their rows deleted; no key left ends the truncate. */
static int
trunc_fetched(void *arg, size_t aux, PGresult *res, int rc,
              const char *sqlstate, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = a->truncs[aux].idx;

    (void)rc, (void)sqlstate;
    if (PQntuples(res) == 0)
        return sink_target_push(a->t,
                                &(sink_stmt_t){.what = "close a cursor",
                                               .sql = "CLOSE ferry_trunc_keys",
                                               .done = truncated,
                                               .arg = a,
                                               .aux = aux},
                                err);
    if ((rc = sink_stage_push_uuids(a->t, &a->uctx, sink__entity_name(a, idx),
                                    res, err)) != 0)
        return rc;
    return push_trunc_delete(a, aux, trunc_deleted, err);
}

static int
push_fetch(sink_apply_t *a, size_t aux, ferry_err_t *err)
{
    /* Keys of the rows an entity without legacy id columns had applied,
     * read per chunk so that memory stays bounded. */
    static const char fetch[] = "FETCH FORWARD 10000 FROM ferry_trunc_keys";

    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "read the keys to truncate",
                                           .sql = fetch,
                                           .done = trunc_fetched,
                                           .arg = a,
                                           .aux = aux},
                            err);
}

/* A chunk is deleted: on to the next; a refusal ends the truncate as the
 * one statement's would. */
static int
trunc_deleted(void *arg, size_t aux, PGresult *res, int rc,
              const char *sqlstate, ferry_err_t *err)
{
    sink_apply_t *a = arg;

    if (rc != 0)
        return truncated(arg, aux, res, rc, sqlstate, err);
    if ((rc = sink__push_plain(a, "empty the truncate's UUIDs",
                               "TRUNCATE pg_temp.ferry_trunc", err)) != 0)
        return rc;
    return push_fetch(a, aux, err);
}

/* The truncate is not stale: run it under a savepoint.  An entity without
 * legacy id columns deletes only the rows ferry applied: the keys in
 * row_lsn, turned into UUIDs here, a chunk at a time. */
static int
truncate_checked(void *arg, size_t aux, PGresult *res, int rc,
                 const char *sqlstate, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = a->truncs[aux].idx;

    (void)rc, (void)sqlstate;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return 0;
    if ((rc = sink__push_plain(a, "set a savepoint", "SAVEPOINT ferry_set",
                               err)) != 0)
        return rc;
    if (a->sql[idx].trunc_keys[0] != '\0') {
        if ((rc = sink__push_plain(a, "empty the truncate's UUIDs",
                                   "TRUNCATE pg_temp.ferry_trunc", err)) != 0 ||
            (rc = sink__push_plain(a, "open the keys to truncate",
                                   a->sql[idx].trunc_keys, err)) != 0)
            return rc;
        return push_fetch(a, aux, err);
    }
    return push_trunc_delete(a, aux, truncated, err);
}

/* Pushes the stale check of truncate event ev of entity idx, which runs
 * the truncate when it is not stale. */
static int
push_truncate(sink_apply_t *a, size_t idx, const sink_event_t *ev,
              ferry_err_t *err)
{
    char cl[24], ch[24];
    const char *p3[3] = {sink__entity_name(a, idx), cl, ch};

    if (a->n_truncs == a->cap_truncs) {
        size_t cap = a->cap_truncs ? a->cap_truncs * 2 : 8;
        sink_trunc_t *grown = realloc(a->truncs, cap * sizeof(*grown));

        if (grown == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory queueing a truncate of "
                                 "entity \"%s\"",
                                 sink__entity_name(a, idx));
        a->truncs = grown;
        a->cap_truncs = cap;
    }
    a->truncs[a->n_truncs] = (sink_trunc_t){idx, ev};
    snprintf(cl, sizeof(cl), "%" PRIu64, ev->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, ev->pair.change);
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "check a truncate",
                                           .sql = a->sql[idx].truncate_check,
                                           .n = 3,
                                           .params = p3,
                                           .done = truncate_checked,
                                           .arg = a,
                                           .aux = a->n_truncs++},
                            err);
}

/* A run of truncate events: children before parents. */
static int
push_truncates(sink_apply_t *a, sink_event_t *const *evs, size_t n,
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
                rc = push_truncate(a, idx, evs[j], err);
    }
    return rc;
}

/* --- parked rows taken out again ------------------------------------- */

int
sink__keep_event(sink_apply_t *a, sink_event_t *ev, ferry_err_t *err)
{
    sink_taken_t none = {0};

    return sink__keep_taken(a, ev, &none, err);
}

void
sink__taken_clear(sink_taken_t *info)
{
    free(info->lkey);
    free(info->blocked_by);
    free(info->topic);
    free(info->parked_at);
    memset(info, 0, sizeof(*info));
}

int
sink__keep_taken(sink_apply_t *a, sink_event_t *ev, sink_taken_t *info,
                 ferry_err_t *err)
{
    if (a->n_taken == a->cap_taken) {
        size_t cap = a->cap_taken ? a->cap_taken * 2 : 64;
        sink_event_t **grown = realloc(a->taken, cap * sizeof(*grown));
        sink_taken_t *more = NULL;

        if (grown != NULL) {
            a->taken = grown;
            more = realloc(a->taken_info, cap * sizeof(*more));
        }
        if (more == NULL) {
            sink_event_free(ev);
            sink__taken_clear(info);
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory taking parked rows out");
        }
        a->taken_info = more;
        a->cap_taken = cap;
    }
    a->taken_info[a->n_taken] = *info;
    a->taken[a->n_taken++] = ev;
    memset(info, 0, sizeof(*info));
    return 0;
}

const sink_taken_t *
sink__taken_of(const sink_apply_t *a, const sink_event_t *ev)
{
    size_t i;

    for (i = a->n_taken; i > 0; i--)
        if (a->taken[i - 1] == ev)
            return a->taken_info[i - 1].parked ? &a->taken_info[i - 1] : NULL;
    return NULL;
}

static int drain_round(void *arg, size_t round, ferry_err_t *err);

void
sink__taken_drop(sink_apply_t *a)
{
    size_t i;

    for (i = 0; i < a->n_taken; i++) {
        sink_event_free(a->taken[i]);
        sink__taken_clear(&a->taken_info[i]);
    }
    a->n_taken = 0;
}

/* After a round's takes: what they freed is applied, then the next round
 * looks again. */
static int
drain_after(void *arg, size_t round, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t got = a->round_got;
    int rc;

    a->parked_rows -= (long)got;
    a->ent_att[a->cfg->n_entities].drained += (long)got;
    if (got == 0)
        return 0;
    if ((rc = sink__flush_push(a, err)) != 0)
        return rc;
    /* A full round may have left rows of the same parents behind. */
    a->round_full = got >= SINK_DRAIN_ROUND;
    return sink_target_push_call(a->t, drain_round, a, round + 1, err);
}

/* One entity's take-out in a round, within what is left of the round's
 * SINK_DRAIN_ROUND rows (the takes before it are in by now). */
static int
drain_entity(void *arg, size_t i, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    char left[24];
    const char *p2[2] = {sink__entity_name(a, i), left};

    if (a->round_got >= SINK_DRAIN_ROUND)
        return 0;
    snprintf(left, sizeof(left), "%zu", SINK_DRAIN_ROUND - a->round_got);
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "take parked rows",
                                           .sql = a->sql[i].drain,
                                           .n = 2,
                                           .params = p2,
                                           .done = sink__took_parked,
                                           .arg = a},
                            err);
}

static int
drain_round(void *arg, size_t round, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t i;
    int rc = 0;

    /* What earlier rounds took out is applied: only this round's rows are
     * held, however many are parked. */
    if (round > 0)
        sink__taken_drop(a);
    a->round_got = 0;
    /* 32 rounds follow chains of parents parked under parents; rounds
     * that were full go on past that (a parent with many parked rows). */
    if (a->parked_rows <= 0 || round >= 4096 || (round >= 32 && !a->round_full))
        return 0;
    for (i = 0; rc == 0 && i < a->cfg->n_entities; i++)
        rc = sink_target_push_call(a->t, drain_entity, a, i, err);
    return rc != 0 ? rc
                   : sink_target_push_call(a->t, drain_after, a, round, err);
}

/* Scale-out: other sinks park rows too, so the count kept here is only a
 * hint; read the table's, then drain. */
static int
counted(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
        ferry_err_t *err)
{
    sink_apply_t *a = arg;

    (void)aux, (void)rc, (void)sqlstate;
    a->parked_rows = atol(PQgetvalue(res, 0, 0));
    return sink_target_push_call(a->t, drain_round, a, 0, err);
}

static int
drain_push(sink_apply_t *a, ferry_err_t *err)
{
    if (a->shared)
        return sink_target_push(a->t,
                                &(sink_stmt_t){.what = "count parked rows",
                                               .sql = a->count_sql,
                                               .done = counted,
                                               .arg = a},
                                err);
    return sink_target_push_call(a->t, drain_round, a, 0, err);
}

/* --- the batch ---------------------------------------------------------- */

/* aux of add_events(): the transaction and the event to go on from. */
#define TX_AUX(t, j) (((size_t)(t) << 32) | (size_t)(j))

/* Adds the events of transaction aux>>32 from event aux&0xffffffff on,
 * up to a run of truncates: the rows before it are flushed, the truncates
 * run, and the events after them are added by a call step of their own. */
static int
add_events(void *arg, size_t aux, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t t = aux >> 32, j = aux & 0xffffffffu, k;
    const sink_tx_t *tx = a->txs[t];
    int rc = 0;

    for (; rc == 0 && j < tx->n_events; j++) {
        if (tx->events[j]->op != 't') {
            rc = add_event(a, tx->events[j], err);
            continue;
        }
        for (k = j; k < tx->n_events && tx->events[k]->op == 't'; k++)
            ;
        if ((rc = sink__flush_push(a, err)) == 0 &&
            (rc = push_truncates(a, tx->events + j, k - j, err)) == 0 &&
            k < tx->n_events)
            rc = sink_target_push_call(a->t, add_events, a, TX_AUX(t, k), err);
        return rc;
    }
    return rc;
}

int
sink_apply_push_txs(sink_apply_t *a, sink_tx_t *const *txs, size_t n,
                    ferry_err_t *err)
{
    size_t t;
    int rc = 0;

    /* The caller's array may be its own local: the steps run later. */
    if (n > a->cap_txs) {
        sink_tx_t **grown = realloc(a->txs, n * sizeof(*grown));

        if (grown == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory queueing %zu transactions", n);
        a->txs = grown;
        a->cap_txs = n;
    }
    if (n > 0)
        memcpy(a->txs, txs, n * sizeof(*txs));
    a->n_txs = n;
    /* Deletes parked because rows still referenced them are queued again
     * once due (those rows' deletes may have been applied since, by
     * another sink or in another batch; rows the mapping does not know
     * are waited for with a backoff); a delete still blocked is parked
     * again.  Another sink may park too, hence every batch when shared. */
    if (a->shared || a->park_deletes || ferry_mono_ms() >= a->retry_at)
        rc = sink__retry_push(a, err);
    for (t = 0; rc == 0 && t < n; t++)
        if (txs[t]->n_events > 0)
            rc = sink_target_push_call(a->t, add_events, a, TX_AUX(t, 0), err);
    if (rc == 0)
        rc = sink_target_push_call(a->t, flush_call, a, 0, err);
    if (rc == 0)
        rc = drain_push(a, err);
    if (rc == 0)
        rc = sink__recount_push(a, err);
    return rc;
}
