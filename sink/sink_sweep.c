/* The sweep after a re-snapshot: target rows the snapshot did not hold are
 * deleted as if the source had deleted them at the snapshot's LSN.
 * sink/sink_sweep.c
 *
 * Why it is exact: a snapshot applied at pair P leaves every key it holds
 * with a position (row_lsn, or the row's lsn column) at P or newer: the
 * snapshot row itself, or a newer change that made it stale.  A change streamed
 * while the snapshot was read or applied also has a position above P.  So a
 * target row whose key has no position at or above P is one the source no
 * longer has, and removing it undoes nothing that was streamed.  Rows parked or
 * recorded as errors are left alone: the source does have them, ferry only
 * could not apply their newest version yet.
 *
 * Each chunk's rows become delete events (with the entity's source key
 * columns, so that a delete parked for its children can be applied again
 * later from its text) and go through the batch like streamed deletes.
 */
#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "map_rules.h"
#include "sink_apply_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
target_col(ferry_buf_t *b, const char *name, void *arg)
{
    (void)arg;
    ferry_buf_printf(b, "t.%s", name);
}

static void
no_value(ferry_buf_t *b, const char *text, void *arg)
{
    (void)arg;
    ferry_buf_append_lit(b, "NULL");
    (void)text;
}

/* The chunk's query: $1 entity, $2 and $3 the snapshot's pair. */
static int
chunk_sql(const sink_apply_t *a, size_t idx, size_t limit, ferry_buf_t *b,
          ferry_err_t *err)
{
    const sink_plan_t *p = &a->plans[idx];
    const char *q = a->q_state;
    ferry_buf_t key;
    size_t i;
    int rc;

    ferry_buf_init(&key);
    if (p->n_lcols == 0) {
        ferry_buf_printf(b,
                         "SELECT r.legacy_key FROM %s.row_lsn r WHERE "
                         "r.entity = $1 AND (r.commit_lsn, r.change_lsn) < "
                         "($2::int8, $3::int8)",
                         q);
        ferry_buf_append_lit(&key, "r.legacy_key");
    } else {
        map_rules_legacy_key_sql(
            &key, (const char *const *)p->q_lcols, p->n_lcols,
            &(map_rules_sqlctx_t){target_col, no_value, NULL});
        ferry_buf_append_lit(b, "SELECT ");
        for (i = 0; i < p->n_lcols; i++)
            ferry_buf_printf(b, "%st.%s::text", i > 0 ? ", " : "",
                             p->q_lcols[i]);
        ferry_buf_printf(b, " FROM %s t WHERE ", p->q_target);
        for (i = 0; i < p->n_lcols; i++)
            ferry_buf_printf(b, "t.%s IS NOT NULL AND ", p->q_lcols[i]);
        if (p->q_soft != NULL)
            ferry_buf_printf(b, "t.%s IS NULL AND ", p->q_soft);
        /* An entity with an lsn column keeps its rows' positions in them
         * (row_lsn has its deletes', and those written before the column
         * was named). */
        if (p->q_lsn != NULL)
            ferry_buf_printf(b,
                             "(t.%s IS NULL OR t.%s < " SINK_SQL_LSN(
                                 "$2::int8", "$3::int8") ") AND ",
                             p->q_lsn, p->q_lsn);
        ferry_buf_printf(b,
                         "NOT EXISTS (SELECT 1 FROM %s.row_lsn r WHERE "
                         "r.entity = $1 AND r.legacy_key = %s AND "
                         "(r.commit_lsn, r.change_lsn) >= ($2::int8, "
                         "$3::int8))",
                         q, ferry_buf_cstr(&key));
    }
    ferry_buf_printf(b,
                     " AND NOT EXISTS (SELECT 1 FROM %s.parked x WHERE "
                     "x.entity = $1 AND x.legacy_key = %s) AND NOT EXISTS "
                     "(SELECT 1 FROM %s.errors x WHERE x.entity = $1 AND "
                     "x.legacy_key = %s) LIMIT %zu",
                     q, ferry_buf_cstr(&key), q, ferry_buf_cstr(&key), limit);
    rc = ferry_buf_status(&key, err, "building the sweep of entity \"%s\"",
                          p->e->name);
    ferry_buf_close(&key);
    return rc != 0
               ? rc
               : ferry_buf_status(b, err, "building the sweep of entity \"%s\"",
                                  p->e->name);
}

/* The name of key value i in the delete event: the entity's source key
 * column, or (keyed by the message key) a position. */
static void
key_name(ferry_buf_t *b, const map_entity_t *e, size_t i)
{
    char pos[24];

    if (i < e->n_key) {
        ferry_buf_append_json_str(b, e->key[i], strlen(e->key[i]));
        return;
    }
    snprintf(pos, sizeof(pos), "k%zu", i);
    ferry_buf_append_json_str(b, pos, strlen(pos));
}

/* The delete event of a key whose n values are vals, at pair. */
static void
delete_event(const map_entity_t *e, char *const *vals, size_t n,
             sink_pair_t pair, ferry_buf_t *key, ferry_buf_t *val)
{
    size_t i;

    ferry_buf_putc(key, '{');
    for (i = 0; i < n; i++) {
        if (i > 0)
            ferry_buf_putc(key, ',');
        key_name(key, e, i);
        ferry_buf_putc(key, ':');
        ferry_buf_append_json_str(key, vals[i], strlen(vals[i]));
    }
    ferry_buf_putc(key, '}');
    ferry_buf_append_lit(val, "{\"" FERRY_WIRE_F_BEFORE "\":");
    ferry_buf_append(val, key->data, key->len);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_AFTER
                              "\":null,\"" FERRY_WIRE_F_SOURCE
                              "\":{\"" FERRY_WIRE_F_SRC_SCHEMA "\":");
    ferry_buf_append_json_str(val, e->source_schema, strlen(e->source_schema));
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_SRC_TABLE "\":");
    ferry_buf_append_json_str(val, e->source_table, strlen(e->source_table));
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_SRC_SEQUENCE "\":");
    ferry_wire_seq_append(val, pair.commit, pair.change);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_SRC_TS_MS "\":");
    ferry_buf_append_i64(val, ferry_wall_ms());
    ferry_buf_append_lit(val, "},\"" FERRY_WIRE_F_OP
                              "\":\"d\",\"" FERRY_WIRE_F_TS_MS "\":");
    ferry_buf_append_i64(val, ferry_wall_ms());
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_TRANSACTION
                              "\":null,\"ferry_sweep\":true}");
}

static void
free_values(char **vals, size_t n)
{
    size_t i;

    for (i = 0; vals != NULL && i < n; i++)
        free(vals[i]);
    free(vals);
}

/* One row of the chunk: its key values, then a delete through the batch. */
static int
sweep_row(sink_sweep_ctx_t *sw, PGresult *res, int r, ferry_err_t *err)
{
    sink_apply_t *a = sw->a;
    const sink_plan_t *p = &a->plans[sw->idx];
    const map_entity_t *e = p->e;
    char **vals = NULL;
    size_t n, i;
    ferry_buf_t key, val;
    sink_event_t *ev = NULL;
    int rc = 0;

    if (p->n_lcols == 0) {
        if (map_rules_legacy_key_split(PQgetvalue(res, r, 0), &vals, &n) != 0)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory sweeping entity \"%s\"",
                                 e->name);
    } else {
        n = p->n_lcols;
        if ((vals = calloc(n, sizeof(*vals))) == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory sweeping entity \"%s\"",
                                 e->name);
        for (i = 0; i < n; i++)
            if ((vals[i] = strdup(PQgetvalue(res, r, (int)i))) == NULL) {
                free_values(vals, n);
                return ferry_err_set(err, FERRY_ENOMEM,
                                     "out of memory sweeping entity \"%s\"",
                                     e->name);
            }
    }
    ferry_buf_init(&key);
    ferry_buf_init(&val);
    delete_event(e, vals, n, sw->pair, &key, &val);
    free_values(vals, n);
    if ((rc = ferry_buf_status(&key, err, "sweeping entity \"%s\"", e->name)) ==
            0 &&
        (rc = ferry_buf_status(&val, err, "sweeping entity \"%s\"", e->name)) ==
            0 &&
        sink_event_parse(key.data, key.len, val.data, val.len,
                         (sink_pos_t){-1, 0}, &ev) == FERRY_ENOMEM)
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory sweeping entity \"%s\"", e->name);
    ferry_buf_close(&key);
    ferry_buf_close(&val);
    if (rc != 0 || ev == NULL) {
        sink_event_free(ev);
        return rc != 0 ? rc
                       : ferry_err_set(err, FERRY_ENOMEM,
                                       "out of memory sweeping entity \"%s\"",
                                       e->name);
    }
    if ((rc = sink__keep_event(a, ev, err)) != 0)
        return rc;
    return sink__add_row(a, sw->idx, ev, err);
}

static int
chunk_done(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
           ferry_err_t *err)
{
    sink_sweep_ctx_t *sw = arg;
    int r;

    (void)aux, (void)rc, (void)sqlstate;
    *sw->got = (size_t)PQntuples(res);
    for (r = 0; r < PQntuples(res); r++)
        if ((rc = sweep_row(sw, res, r, err)) != 0)
            return rc;
    return PQntuples(res) > 0 ? sink__flush_push(sw->a, err) : 0;
}

int
sink_apply_push_sweep(sink_apply_t *a, size_t idx, sink_pair_t pair,
                      size_t limit, size_t *got, ferry_err_t *err)
{
    char c[24], ch[24];
    const char *p3[3] = {sink__entity_name(a, idx), c, ch};
    ferry_buf_t sql;
    int rc;

    /* The completion's context lives as long as the applier: one sweep at
     * a time. */
    a->sweep.a = a;
    a->sweep.idx = idx;
    a->sweep.pair = pair;
    a->sweep.got = got;
    *got = 0;
    snprintf(c, sizeof(c), "%" PRIu64, pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, pair.change);
    ferry_buf_init(&sql);
    if ((rc = chunk_sql(a, idx, limit, &sql, err)) == 0)
        rc = sink_target_push(a->t,
                              &(sink_stmt_t){.what = "find the rows to sweep",
                                             .sql = ferry_buf_cstr(&sql),
                                             .n = 3,
                                             .params = p3,
                                             .done = chunk_done,
                                             .arg = &a->sweep},
                              err);
    ferry_buf_close(&sql);
    return rc;
}
