/* Parking rows whose parent is not in the target yet, deletes that rows
 * still reference (those blocked by rows the mapping does not know retried
 * with a backoff), and children parked with their deleted parent; what
 * parked rows become when they are taken out again (the drain's rounds
 * are the batch's, sink_apply_batch.c).
 * sink/sink_park.c */
#include "ferry_log.h"
#include "ferry_time.h"
#include "sink_apply_int.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The wait before the next retry of a delete blocked by rows the mapping
 * does not know, after retries failed ones: 1 s doubling to 1 h, so that
 * a delete that waits for days costs a few dozen statements a day. */
static int
backoff_s(int retries)
{
    return retries >= 12 ? 3600 : 1 << retries;
}

/* --- parked rows written ------------------------------------------------ */

void
sink__park_drop(sink_apply_t *a)
{
    size_t i;

    for (i = 0; i < SINK_PARK_COLS; i++) {
        free(a->park_one[i]);
        a->park_one[i] = NULL;
    }
    ferry_buf_reset(&a->park_copy);
    a->n_park = 0;
}

/* Keeps one parked row's values (copied): the first as they are, every
 * one as a line of COPY text. */
static int
park_keep(sink_apply_t *a, const char *const *params, ferry_err_t *err)
{
    bool oom = false;
    size_t i;

    for (i = 0; a->n_park == 0 && i < SINK_PARK_COLS; i++)
        if (params[i] != NULL && (a->park_one[i] = strdup(params[i])) == NULL)
            oom = true;
    for (i = 0; i < SINK_PARK_COLS; i++) {
        ferry_buf_append_copy_field(&a->park_copy, params[i]);
        ferry_buf_putc(&a->park_copy, '\t');
    }
    ferry_buf_append_u64(&a->park_copy, a->n_park);
    ferry_buf_putc(&a->park_copy, '\n');
    a->n_park++;
    if (oom || a->park_copy.failed) {
        sink__park_drop(a);
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory parking rows");
    }
    return 0;
}

/* After a burst of parking, parked's statistics are those of a far
 * smaller table, and the drain's plan joined the parents by a scan of them
 * per parked row (40,000 rows of 1,000 parents: 2.7 s a round instead of
 * 70 ms).  Autovacuum catches up within minutes; the ordered mode (the
 * only writer) does not wait for it.  Not in scale-out: ANALYZE's lock
 * would queue the sinks behind each other's transactions. */
static int
analyze_if_due(sink_apply_t *a, ferry_err_t *err)
{
    if (a->shared || a->parked_unanalyzed < 10000 ||
        a->parked_unanalyzed * 5 < a->parked_rows)
        return 0;
    a->parked_unanalyzed = 0;
    return sink__push_plain(a, "analyze the parked table", a->analyze_sql, err);
}

int
sink__park_flush(sink_apply_t *a, ferry_err_t *err)
{
    size_t n = a->n_park;
    int rc;

    if (n == 0)
        return 0;
    a->parked_unanalyzed += (long)n;
    if (n == 1) {
        rc = sink_target_push(
            a->t,
            &(sink_stmt_t){.what = "park a row",
                           .sql = a->park_sql,
                           .n = SINK_PARK_COLS,
                           .params = (const char *const *)a->park_one},
            err);
    } else {
        rc = sink__push_plain(a, "empty the table of rows to park",
                              "TRUNCATE pg_temp.ferry_park_in", err);
        if (rc == 0)
            rc = sink_target_push_copy(a->t, "COPY the rows to park",
                                       "COPY pg_temp.ferry_park_in FROM STDIN",
                                       &a->park_copy, err);
        if (rc == 0)
            rc = sink_target_push(
                a->t,
                &(sink_stmt_t){.what = "park rows", .sql = a->park_many_sql},
                err);
        if (rc == 0)
            ferry_debug("parked %zu rows in one statement", n);
    }
    sink__park_drop(a);
    return rc != 0 ? rc : analyze_if_due(a, err);
}

int
sink__park_push(sink_apply_t *a, size_t idx, const sink_row_t *row,
                const char *missing_entity, const char *missing_uuid,
                bool waits_children, const char *blocked_by, ferry_err_t *err)
{
    const sink_taken_t *prev =
        row->ev->pos.slot < 0 ? sink__taken_of(a, row->ev) : NULL;
    char cl[24], ch[24], part[16], off[24], tries[16], delay[16];
    const char *topic = NULL;
    const char *params[SINK_PARK_COLS];
    int partition = -1, retries = 0, rc;

    if (row->ev->pos.slot >= 0 && a->slot_topic != NULL) {
        topic = a->slot_topic(a->slot_arg, row->ev->pos.slot, &partition);
    } else if (prev != NULL && prev->topic != NULL) {
        topic = prev->topic;
        partition = prev->partition;
    }
    /* A delete parked again after a retry counts it; a blocked one waits
     * twice as long as before. */
    if (waits_children && prev != NULL)
        retries = prev->retries + 1;
    if (blocked_by != NULL && (prev == NULL || prev->blocked_by == NULL))
        retries = 0;
    snprintf(tries, sizeof(tries), "%d", retries);
    snprintf(delay, sizeof(delay), "%d", backoff_s(retries));
    snprintf(cl, sizeof(cl), "%" PRIu64, row->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, row->pair.change);
    snprintf(part, sizeof(part), "%d", partition);
    snprintf(off, sizeof(off), "%" PRId64, row->ev->pos.offset);
    params[0] = sink__entity_name(a, idx);
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
    params[12] = blocked_by;
    params[13] = tries;
    params[14] = blocked_by != NULL ? delay : NULL;
    params[15] = prev != NULL ? prev->parked_at : NULL;
    if ((rc = park_keep(a, params, err)) != 0)
        return rc;
    if (waits_children && blocked_by != NULL) {
        int64_t due = ferry_mono_ms() + 1000 * (int64_t)backoff_s(retries);

        if (due < a->retry_at)
            a->retry_at = due;
        ferry_debug("entity \"%s\" legacy key \"%s\": delete blocked by "
                    "rows of %s, retried in %d s",
                    sink__entity_name(a, idx), row->lkey, blocked_by,
                    backoff_s(retries));
    } else if (waits_children) {
        a->retry_at = 0;
        ferry_debug("entity \"%s\" legacy key \"%s\": delete parked until "
                    "the rows that reference it are gone",
                    sink__entity_name(a, idx), row->lkey);
    } else {
        ferry_debug("entity \"%s\" legacy key \"%s\": parked until the %s "
                    "row %s arrives",
                    sink__entity_name(a, idx), row->lkey, missing_entity,
                    missing_uuid != NULL ? missing_uuid : "(no case)");
    }
    a->parked_rows++;
    a->ent_att[idx].parked++;
    return 0;
}

/* aux of a take-missing statement: entity index * 3 + policy. */
static int
took_missing(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
             ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = aux / 3;
    enum map_on_missing pol = (enum map_on_missing)(aux % 3);
    int i;

    (void)rc, (void)sqlstate;
    for (i = 0; i < PQntuples(res); i++) {
        size_t n = (size_t)atol(PQgetvalue(res, i, 0));
        size_t pe = (size_t)atol(PQgetvalue(res, i, 1));
        const char *uuid = PQgetvalue(res, i, 2);
        const sink_row_t *row = &a->sets[idx].rows[n];
        char msg[256];

        if (pol == MAP_ON_MISSING_PARK) {
            if ((rc = sink__park_push(a, idx, row, sink__entity_name(a, pe),
                                      uuid, false, NULL, err)) != 0)
                return rc;
            continue;
        }
        snprintf(msg, sizeof(msg),
                 "the parent row %s of entity \"%s\" is missing "
                 "(on_missing: error)",
                 uuid, sink__entity_name(a, pe));
        if ((rc = sink__reject(a, sink__entity_name(a, idx), row->lkey, row->ev,
                               NULL, msg, err)) != 0)
            return rc;
    }
    if ((rc = sink__park_flush(a, err)) != 0)
        return rc;
    /* Taking rows out may take the parent of others staged with them. */
    return PQntuples(res) > 0 ? sink__take_missing_push(a, idx, pol, err) : 0;
}

int
sink__take_missing_push(sink_apply_t *a, size_t idx, enum map_on_missing pol,
                        ferry_err_t *err)
{
    const char *sql = a->sql[idx].take[pol];

    if (sql[0] == '\0')
        return 0;
    return sink_target_push(
        a->t,
        &(sink_stmt_t){.what = "find rows whose parent is missing",
                       .sql = sql,
                       .done = took_missing,
                       .arg = a,
                       .aux = idx * 3 + (size_t)pol},
        err);
}

/* --- parents deleted under children ------------------------------------ */

void
sink__children_done(sink_apply_t *a, size_t idx, PGresult *res)
{
    long deleted = atol(PQgetvalue(res, 0, 0));
    long parked = atol(PQgetvalue(res, 0, 1));
    long nulled = atol(PQgetvalue(res, 0, 2));

    a->ent_att[idx].deleted += deleted;
    a->ent_att[idx].parked += parked;
    a->parked_rows += parked;
    a->parked_unanalyzed += parked; /* analyzed with the next park flush */
    if (parked > 0 || nulled > 0)
        ferry_info("entity \"%s\": %ld rows deleted under rows that still "
                   "referenced them: %ld of those parked with their "
                   "descendants, %ld refs set to NULL (on_missing)",
                   sink__entity_name(a, idx), deleted, parked, nulled);
}

/* The table named last on the first line of the target's message (the
 * referencing table of an FK violation), or "a table outside the
 * mapping": for a foreign key created after the sink started. */
static void
table_in(const char *msg, char *out, size_t len)
{
    const char *end = strchr(msg, '\n'), *q, *open = NULL, *close = NULL;

    if (end == NULL)
        end = msg + strlen(msg);
    for (q = msg; q < end; q++)
        if (*q == '"') {
            if (open != NULL && close == NULL) {
                close = q;
            } else {
                open = q;
                close = NULL;
            }
        }
    if (open != NULL && close != NULL)
        snprintf(out, len, "%.*s", (int)(close - open - 1), open + 1);
    else
        snprintf(out, len, "a table outside the mapping");
}

/* The diagnosis of a refused delete is in (or failed: then the target's
 * message names the table): children whose policy is error make it an
 * error (the parent stays, as the policy says); otherwise rows the
 * mapping does not know block it, and it waits. */
static int
diagnosed(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
          ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = aux >> 32, i = aux & 0xffffffffu;
    const sink_row_t *row = &a->sets[idx].rows[i];
    const sink_taken_t *prev =
        row->ev->pos.slot < 0 ? sink__taken_of(a, row->ev) : NULL;
    const char *name = sink__entity_name(a, idx);
    bool errors =
        res != NULL && PQntuples(res) > 0 && PQgetvalue(res, 0, 1)[0] == 't';
    char table[512], msg[sizeof(err->msg)];

    (void)sqlstate;
    if (res != NULL || rc != 0) {
        if (rc != 0)
            ferry_warn("entity \"%s\": %s", name, err->msg);
        if ((rc = sink__push_plain(a, "end a savepoint",
                                   rc != 0 ? "ROLLBACK TO ferry_row"
                                           : "RELEASE ferry_row",
                                   err)) != 0)
            return rc;
    }
    if (errors) {
        return sink__reject(a, name, row->lkey, row->ev, a->refused_state,
                            a->refused_msg, err);
    }
    if (res != NULL && PQntuples(res) > 0 && PQgetvalue(res, 0, 0)[0] != '\0')
        snprintf(table, sizeof(table), "%s", PQgetvalue(res, 0, 0));
    else
        table_in(a->refused_msg, table, sizeof(table));
    /* Recorded once: its retries are not news. */
    if (prev == NULL || prev->blocked_by == NULL) {
        snprintf(msg, sizeof(msg),
                 "the delete is blocked by rows of %s, which the mapping "
                 "does not know, that still reference the row: parked, and "
                 "retried until they are gone (%s)",
                 table, a->refused_msg);
        if ((rc = sink__reject(a, name, row->lkey, row->ev, a->refused_state,
                               msg, err)) != 0)
            return rc;
    }
    if ((rc = sink__park_push(a, idx, row, name, NULL, true, table, err)) != 0)
        return rc;
    return sink__park_flush(a, err);
}

/* Pushes statement sql with its one parameter (copied) under the savepoint
 * ferry_row, its data errors seen by done, which ends the savepoint. */
static int
push_guarded(sink_apply_t *a, const char *what, const char *sql,
             const char *param, sink_stmt_fn done, size_t aux, ferry_err_t *err)
{
    const char *p1[1] = {param};
    int rc = sink__push_plain(a, "set a savepoint", "SAVEPOINT ferry_row", err);

    if (rc != 0)
        return rc;
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = what,
                                           .sql = sql,
                                           .n = 1,
                                           .params = p1,
                                           .flags = SINK_STMT_DATA_OK,
                                           .done = done,
                                           .arg = a,
                                           .aux = aux},
                            err);
}

int
sink__refused_push(sink_apply_t *a, size_t idx, size_t i, const char *sqlstate,
                   const char *msg, ferry_err_t *err)
{
    char num[24];

    snprintf(a->refused_msg, sizeof(a->refused_msg), "%s", msg);
    snprintf(a->refused_state, sizeof(a->refused_state), "%s", sqlstate);
    if (a->sql[idx].blockers[0] == '\0')
        return diagnosed(a, (idx << 32) | i, NULL, 0, sqlstate, err);
    snprintf(num, sizeof(num), "%zu", i);
    /* Should the query fail, the batch goes on. */
    return push_guarded(a, "find the rows that still reference a row",
                        a->sql[idx].blockers, num, diagnosed, (idx << 32) | i,
                        err);
}

/* --- parked rows taken out again --------------------------------------- */

/* A parked target row is back (or a newer one was there), or could not
 * be put back: recorded with the row as its event. */
static int
restored(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = aux >> 32, n = aux & 0xffffffffu;
    char msg[sizeof(err->msg)];

    (void)res;
    if (rc == 0)
        return sink__push_plain(a, "release a savepoint", "RELEASE ferry_row",
                                err);
    snprintf(msg, sizeof(msg),
             "a parked row of entity \"%s\" could not be "
             "put back: %s",
             sink__entity_name(a, idx), err->msg);
    if ((rc = sink__push_plain(a, "roll back to a savepoint",
                               "ROLLBACK TO ferry_row", err)) != 0)
        return rc;
    return sink__reject(a, sink__entity_name(a, idx), a->taken_info[n].lkey,
                        a->taken[n], sqlstate, msg, err);
}

int
sink__restore_push(sink_apply_t *a, size_t idx, const char *json, size_t n,
                   ferry_err_t *err)
{
    int rc;

    if (a->sql[idx].restore[0] == '\0') {
        return sink__reject(a, sink__entity_name(a, idx), a->taken_info[n].lkey,
                            a->taken[n], NULL,
                            "a parked row of an entity without legacy id "
                            "columns cannot be put back",
                            err);
    }
    rc = push_guarded(a, "put a parked row back", a->sql[idx].restore, json,
                      restored, (idx << 32) | n, err);
    if (rc == 0)
        ferry_debug("entity \"%s\" legacy key \"%s\": putting back a row "
                    "parked with its parent",
                    sink__entity_name(a, idx),
                    a->taken_info[n].lkey != NULL ? a->taken_info[n].lkey
                                                  : "?");
    return rc;
}

/* The columns of SINK_SQL_TAKEN_COLS. */
enum {
    T_ENTITY,
    T_EVENT_KEY,
    T_EVENT,
    T_OFFSET,
    T_KIND,
    T_LKEY,
    T_TOPIC,
    T_PARTITION,
    T_BLOCKED_BY,
    T_RETRIES,
    T_PARKED_AT
};

/* A new copy of column c of row r, NULL for SQL NULL; *oom set when the
 * copy failed. */
static char *
col_dup(const PGresult *res, int r, int c, bool *oom)
{
    char *s;

    if (PQgetisnull(res, r, c))
        return NULL;
    if ((s = strdup(PQgetvalue(res, r, c))) == NULL)
        *oom = true;
    return s;
}

static int
take_one(sink_apply_t *a, const PGresult *res, int r, ferry_err_t *err)
{
    const char *k = PQgetisnull(res, r, T_EVENT_KEY)
                        ? NULL
                        : PQgetvalue(res, r, T_EVENT_KEY);
    const char *entity = PQgetvalue(res, r, T_ENTITY);
    const char *val = PQgetvalue(res, r, T_EVENT);
    const map_entity_t *e = map_config_entity(a->cfg, entity);
    bool is_row = strcmp(PQgetvalue(res, r, T_KIND), "row") == 0;
    sink_pos_t pos = {-1, atoll(PQgetvalue(res, r, T_OFFSET))};
    sink_taken_t info = {0};
    sink_event_t *ev = NULL;
    bool oom = false;
    int prc, rc;

    /* A target row parses as a malformed event: it is only kept as the
     * text to record should it fail. */
    prc = sink_event_parse(k, k != NULL ? strlen(k) : 0, val, strlen(val), pos,
                           &ev);
    info.parked = true;
    info.lkey = col_dup(res, r, T_LKEY, &oom);
    info.topic = col_dup(res, r, T_TOPIC, &oom);
    info.blocked_by = col_dup(res, r, T_BLOCKED_BY, &oom);
    info.parked_at = col_dup(res, r, T_PARKED_AT, &oom);
    info.partition = atoi(PQgetvalue(res, r, T_PARTITION));
    info.retries = atoi(PQgetvalue(res, r, T_RETRIES));
    if (ev == NULL || oom) {
        sink_event_free(ev);
        sink__taken_clear(&info);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory taking a parked row of entity "
                             "\"%s\" out",
                             entity);
    }
    if ((rc = sink__keep_taken(a, ev, &info, err)) != 0)
        return rc;
    a->round_got++;
    if (e != NULL && is_row)
        return sink__restore_push(a, (size_t)(e - a->cfg->entities), val,
                                  a->n_taken - 1, err);
    if (prc != 0 || e == NULL) {
        char msg[600];

        snprintf(msg, sizeof(msg), "a parked row of entity \"%s\" %s", entity,
                 prc != 0 ? "no longer parses" : "is no longer mapped");
        return sink__reject(a, e != NULL ? e->name : NULL,
                            a->taken_info[a->n_taken - 1].lkey, ev, NULL, msg,
                            err);
    }
    return sink__add_row(a, (size_t)(e - a->cfg->entities), ev, err);
}

int
sink__took_parked(void *arg, size_t aux, PGresult *res, int rc,
                  const char *sqlstate, ferry_err_t *err)
{
    sink_apply_t *a = arg;
    int r;

    (void)rc, (void)sqlstate;
    /* Retried deletes parked again are counted again. */
    if (aux == 1)
        a->parked_rows -= PQntuples(res);
    for (r = 0; r < PQntuples(res); r++)
        if ((rc = take_one(a, res, r, err)) != 0)
            return rc;
    return 0;
}

/* When the next blocked delete left in parked is due. */
static int
due_read(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_apply_t *a = arg;
    double s;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    if (PQgetisnull(res, 0, 0))
        return 0;
    s = atof(PQgetvalue(res, 0, 0));
    a->retry_at = ferry_mono_ms() + (s > 0 ? (int64_t)(s * 1000) : 0);
    return 0;
}

int
sink__retry_push(sink_apply_t *a, ferry_err_t *err)
{
    int rc;

    /* Nothing left is due until the read below says so; what is parked
     * again in this attempt brings it forward. */
    a->retry_at = INT64_MAX;
    rc = sink_target_push(a->t,
                          &(sink_stmt_t){.what = "take parked rows",
                                         .sql = a->retry_sql,
                                         .done = sink__took_parked,
                                         .arg = a,
                                         .aux = 1},
                          err);
    if (rc == 0)
        rc = sink_target_push(
            a->t,
            &(sink_stmt_t){.what = "read when the next blocked delete is due",
                           .sql = a->due_sql,
                           .done = due_read,
                           .arg = a},
            err);
    return rc;
}
