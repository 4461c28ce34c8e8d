/* The applier's set-up: each entity's plan and statements, built once; the
 * position bounds; the imported UUIDs; the session each connection needs.
 * sink/sink_apply.c */
#include "sink_apply.h"
#include "sink_apply_int.h"

#include "ferry_log.h"
#include "map_catalog.h"
#include "ferry_pg.h"
#include "map_idmap.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
sink__entity_name(const sink_apply_t *a, size_t idx)
{
    return a->cfg->entities[idx].name;
}

static char *
quote_ident(PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    char *copy = q != NULL ? strdup(q) : NULL;

    PQfreemem(q);
    return copy;
}

static char *
quote_table(PGconn *conn, const char *schema, const char *table)
{
    char *s = quote_ident(conn, schema), *t = quote_ident(conn, table);
    char *out = NULL;
    size_t len;

    if (s != NULL && t != NULL) {
        len = strlen(s) + strlen(t) + 2;
        out = malloc(len);
        if (out != NULL)
            snprintf(out, len, "%s.%s", s, t);
    }
    free(s);
    free(t);
    return out;
}

/* Quotes column name and copies its type from the catalog. */
static int
plan_column(PGconn *conn, const map_pg_table_t *t, const map_entity_t *e,
            const char *name, char **q, char **type, ferry_err_t *err)
{
    const map_pg_column_t *c = map_catalog_column(t, name);

    if (c == NULL)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "entity \"%s\": target column \"%s\" of table "
                             "\"%s.%s\" does not exist",
                             e->name, name, e->target_schema, e->target_table);
    *q = quote_ident(conn, name);
    *type = strdup(c->type);
    if (*q == NULL || *type == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory planning column \"%s\" of entity "
                             "\"%s\"",
                             name, e->name);
    return 0;
}

static int
plan_init(sink_apply_t *a, PGconn *conn, size_t idx, ferry_err_t *err)
{
    const map_entity_t *e = &a->cfg->entities[idx];
    sink_plan_t *p = &a->plans[idx];
    map_pg_table_t t;
    char stage[64];
    size_t i;
    int rc;

    memset(&t, 0, sizeof(t));
    p->e = e;
    p->index = idx;
    p->plans = a->plans;
    p->q_state = a->q_state;
    rc = map_catalog_table(conn, "target", e->target_schema, e->target_table,
                           &t, err);
    if (rc != 0)
        goto done;
    if (!t.exists) {
        rc = ferry_err_set(err, FERRY_ECONFIG,
                           "entity \"%s\": target table \"%s.%s\" does not "
                           "exist",
                           e->name, e->target_schema, e->target_table);
        goto done;
    }
    snprintf(stage, sizeof(stage), "ferry_stage_%zu", idx);
    p->q_target = quote_table(conn, e->target_schema, e->target_table);
    p->q_stage = quote_table(conn, "pg_temp", stage);
    p->n_lcols = e->n_legacy_id_columns;
    p->q_lcols = calloc(p->n_lcols + 1, sizeof(char *));
    p->lcol_types = calloc(p->n_lcols + 1, sizeof(char *));
    p->q_cols = calloc(e->n_columns + 1, sizeof(char *));
    p->col_types = calloc(e->n_columns + 1, sizeof(char *));
    if (p->q_target == NULL || p->q_stage == NULL || p->q_lcols == NULL ||
        p->lcol_types == NULL || p->q_cols == NULL || p->col_types == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory planning entity \"%s\"", e->name);
        goto done;
    }
    rc = plan_column(conn, &t, e, e->id_column, &p->q_id, &p->id_type, err);
    for (i = 0; rc == 0 && i < p->n_lcols; i++)
        rc = plan_column(conn, &t, e, e->legacy_id_columns[i], &p->q_lcols[i],
                         &p->lcol_types[i], err);
    for (i = 0; rc == 0 && i < e->n_columns; i++)
        rc = plan_column(conn, &t, e, e->columns[i].name, &p->q_cols[i],
                         &p->col_types[i], err);
    if (rc == 0 && e->delete_mode == MAP_DELETE_SOFT)
        rc = plan_column(conn, &t, e, e->soft_delete_column, &p->q_soft,
                         &p->soft_type, err);
done:
    map_catalog_table_free(&t);
    return rc;
}

/* The statements of s that every entity has (the per-column ones are
 * apart). */
#define SQL_FIXED 18

static void
fixed_sql(plan_sql_t *s, char **out[SQL_FIXED])
{
    char **fixed[SQL_FIXED] = {&s->stage_ddl, &s->copy,     &s->empty,
                               &s->drop_row,  &s->stale,    &s->lock,
                               &s->unpark,    &s->drain,    &s->upsert,
                               &s->upsert1,   &s->del,      &s->del1,
                               &s->row_lsn,   &s->truncate, &s->truncate_check,
                               &s->take[0],   &s->take[1],  &s->take[2]};

    memcpy(out, fixed, sizeof(fixed));
}

/* Hands b's statement over to *out; false when building it failed. */
static bool
take_sql(ferry_buf_t *b, char **out)
{
    *out = ferry_buf_take(b);
    return *out != NULL;
}

/* Builds entity idx's statements; FERRY_ENOMEM with err set. */
static int
sql_init(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    const sink_plan_t *p = &a->plans[idx];
    plan_sql_t *s = &a->sql[idx];
    size_t i, nc = p->e->n_columns + 1;
    ferry_buf_t b;
    bool ok = true;

    ferry_buf_init(&b);
    s->null_miss = calloc(nc, sizeof(char *));
    s->defer_forget = calloc(nc, sizeof(char *));
    s->defer_note = calloc(nc, sizeof(char *));
    s->defer_patch = calloc(nc, sizeof(char *));
    if (s->null_miss == NULL || s->defer_forget == NULL ||
        s->defer_note == NULL || s->defer_patch == NULL)
        goto oom;
#define BUILD(field, ...)                                                      \
    do {                                                                       \
        __VA_ARGS__;                                                           \
        ok = take_sql(&b, &(field)) && ok;                                     \
    } while (0)
    BUILD(s->stage_ddl, sink_sql_stage_ddl(p, &b));
    BUILD(s->copy, ferry_buf_printf(&b, "COPY %s FROM STDIN", p->q_stage));
    BUILD(s->empty, ferry_buf_printf(&b, "TRUNCATE %s", p->q_stage));
    BUILD(s->drop_row,
          ferry_buf_printf(&b, "DELETE FROM %s WHERE __n = $1", p->q_stage));
    BUILD(s->stale, sink_sql_stale(p, &b));
    BUILD(s->lock, sink_sql_lock_keys(p, &b));
    BUILD(s->unpark, sink_sql_unpark_stale(p, &b));
    BUILD(s->drain, sink_sql_drain(p, &b));
    BUILD(s->upsert, sink_sql_upsert(p, false, &b));
    BUILD(s->upsert1, sink_sql_upsert(p, true, &b));
    BUILD(s->del, sink_sql_delete(p, false, &b));
    BUILD(s->del1, sink_sql_delete(p, true, &b));
    BUILD(s->row_lsn, sink_sql_row_lsn(p, &b));
    BUILD(s->truncate, sink_sql_truncate(p, &b));
    BUILD(s->truncate_check, sink_sql_truncate_stale(p, &b));
    for (i = 0; i < 3; i++)
        BUILD(s->take[i], sink_sql_take_missing(p, (enum map_on_missing)i, &b));
    for (i = 0; ok && i < p->e->n_columns; i++) {
        const map_column_t *c = &p->e->columns[i];

        if (c->kind == MAP_COLUMN_COPY ||
            (!c->deferred && c->on_missing != MAP_ON_MISSING_NULL))
            continue;
        BUILD(s->null_miss[i], sink_sql_null_missing(p, i, &b));
        /* A NULL written for a missing parent is filled in once the parent
         * arrives: the source row does reference it, and the parent may
         * only be late (another topic, a later batch, the snapshot). */
        BUILD(s->defer_forget[i], sink_sql_defer_forget(p, i, &b));
        BUILD(s->defer_note[i], sink_sql_defer_note(p, i, &b));
        BUILD(s->defer_patch[i], sink_sql_defer_patch(p, i, &b));
        s->has_deferred = true;
    }
#undef BUILD
    if (ok)
        return 0;
oom:
    ferry_buf_close(&b);
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory building the statements of entity "
                         "\"%s\"",
                         p->e->name);
}

static void
free_imported(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

static int
load_imported(sink_apply_t *a, PGconn *conn, ferry_err_t *err)
{
    ferry_buf_t sql;
    PGresult *res = NULL;
    int i, rc;

    ferry_buf_init(&sql);
    ferry_buf_printf(&sql,
                     "SELECT entity || chr(31) || legacy_key, uuid::text "
                     "FROM %s.id_map WHERE source = 'import'",
                     a->q_state);
    if ((rc = ferry_buf_status(&sql, err, "reading the id-map")) != 0)
        return rc;
    rc = ferry_pg_exec(conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                       "read the id-map", FERRY_PG_DATA_FATAL, err);
    for (i = 0; rc == 0 && i < PQntuples(res); i++) {
        char *u = strdup(PQgetvalue(res, i, 1));

        if (u == NULL || sink_map_put(a->imported, PQgetvalue(res, i, 0), u)) {
            free(u);
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory reading the id-map (%d rows)",
                               PQntuples(res));
        }
    }
    PQclear(res);
    ferry_buf_close(&sql);
    return rc;
}

/* The statements of the state tables the applier writes, built once. */
static int
state_sql_init(sink_apply_t *a, ferry_err_t *err)
{
    const char *q = a->q_state;
    ferry_buf_t b;
    bool ok = true;

    ferry_buf_init(&b);
    ferry_buf_printf(&b,
                     "INSERT INTO %s.row_lsn_max AS m (entity, commit_lsn) "
                     "VALUES ($1, $2) ON CONFLICT (entity) DO UPDATE SET "
                     "commit_lsn = greatest(m.commit_lsn, "
                     "EXCLUDED.commit_lsn)",
                     q);
    ok = take_sql(&b, &a->bound_sql) && ok;
    ferry_buf_printf(&b, "SELECT entity, commit_lsn FROM %s.row_lsn_max", q);
    ok = take_sql(&b, &a->bounds_sql) && ok;
    ferry_buf_printf(&b,
                     "INSERT INTO %s.parked (entity, legacy_key, "
                     "missing_entity, missing_uuid, commit_lsn, change_lsn, "
                     "topic, partition, kafka_offset, event_key, event, "
                     "waits_for) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                     "$10, $11, $12)",
                     q);
    ok = take_sql(&b, &a->park_sql) && ok;
    ferry_buf_printf(&b,
                     "SELECT count(*) FROM %s.parked WHERE waits_for = "
                     "'parent'",
                     q);
    ok = take_sql(&b, &a->count_sql) && ok;
    ferry_buf_printf(&b, "SELECT count(*) FROM %s.parked", q);
    ok = take_sql(&b, &a->count_all_sql) && ok;
    ferry_buf_printf(&b,
                     "WITH r AS (DELETE FROM %s.row_lsn WHERE entity = $1), "
                     "p AS (DELETE FROM %s.parked WHERE entity = $1) INSERT "
                     "INTO %s.truncated VALUES ($1, $2, $3) ON CONFLICT "
                     "(entity) DO UPDATE SET commit_lsn = "
                     "EXCLUDED.commit_lsn, change_lsn = EXCLUDED.change_lsn",
                     q, q, q);
    ok = take_sql(&b, &a->truncated_sql) && ok;
    sink_sql_retry_blocked(q, &b);
    ok = take_sql(&b, &a->retry_sql) && ok;
    if (ok)
        return 0;
    ferry_buf_close(&b);
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory building the state statements");
}

int
sink_apply_new(const map_config_t *cfg, PGconn *conn, sink_target_t *t,
               sink_dlq_t *dlq, sink_slot_topic_fn slot_topic, void *arg,
               sink_apply_t **out, ferry_err_t *err)
{
    sink_apply_t *a = calloc(1, sizeof(*a));
    size_t i;
    int rc = FERRY_ENOMEM;

    *out = NULL;
    if (a == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory creating the applier");
    a->cfg = cfg;
    a->t = t;
    a->dlq = dlq;
    a->slot_topic = slot_topic;
    a->slot_arg = arg;
    a->blocked_maybe = true; /* unknown until looked at */
    a->plans = calloc(cfg->n_entities + 1, sizeof(*a->plans));
    a->sql = calloc(cfg->n_entities + 1, sizeof(*a->sql));
    a->sets = calloc(cfg->n_entities + 1, sizeof(*a->sets));
    a->lsn_bound = calloc(cfg->n_entities + 1, sizeof(*a->lsn_bound));
    a->q_state = quote_ident(conn, cfg->state_schema);
    a->imported = sink_map_new();
    if (a->plans == NULL || a->sql == NULL || a->sets == NULL ||
        a->lsn_bound == NULL || a->q_state == NULL || a->imported == NULL) {
        ferry_err_set(err, FERRY_ENOMEM, "out of memory creating the applier");
        goto fail;
    }
    memcpy(a->uctx.ns.b, cfg->uuid_namespace, 16);
    a->uctx.cfg = cfg;
    a->uctx.imported = a->imported;
    /* Every plan first: an entity's SQL names its parents' tables, and a
     * deferred ref's parent may come later in the list. */
    for (i = 0; i < cfg->n_entities; i++)
        if ((rc = plan_init(a, conn, i, err)) != 0)
            goto fail;
    for (i = 0; i < cfg->n_entities; i++) {
        if ((rc = sql_init(a, i, err)) != 0)
            goto fail;
        if ((a->sets[i].index = sink_map_new()) == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory creating the applier");
            goto fail;
        }
    }
    if ((rc = state_sql_init(a, err)) != 0 ||
        (rc = load_imported(a, conn, err)) != 0)
        goto fail;
    *out = a;
    return 0;
fail:
    sink_apply_free(a);
    return rc;
}

static void
plan_free(sink_plan_t *p, size_t n_cols)
{
    size_t i;

    for (i = 0; i < p->n_lcols && p->q_lcols != NULL; i++) {
        free(p->q_lcols[i]);
        free(p->lcol_types[i]);
    }
    for (i = 0; i < n_cols && p->q_cols != NULL; i++) {
        free(p->q_cols[i]);
        free(p->col_types[i]);
    }
    free(p->q_lcols);
    free(p->lcol_types);
    free(p->q_cols);
    free(p->col_types);
    free(p->q_target);
    free(p->q_stage);
    free(p->q_id);
    free(p->id_type);
    free(p->q_soft);
    free(p->soft_type);
}

static void
sql_free(plan_sql_t *s, size_t n_cols)
{
    char **fixed[SQL_FIXED];
    size_t i;

    fixed_sql(s, fixed);
    for (i = 0; i < SQL_FIXED; i++)
        free(*fixed[i]);
    for (i = 0; i < n_cols; i++) {
        if (s->null_miss != NULL)
            free(s->null_miss[i]);
        if (s->defer_forget != NULL)
            free(s->defer_forget[i]);
        if (s->defer_note != NULL)
            free(s->defer_note[i]);
        if (s->defer_patch != NULL)
            free(s->defer_patch[i]);
    }
    free(s->null_miss);
    free(s->defer_forget);
    free(s->defer_note);
    free(s->defer_patch);
}

void
sink_apply_free(sink_apply_t *a)
{
    size_t i;

    if (a == NULL)
        return;
    sink_apply_rolled_back(a);
    for (i = 0; i < a->cfg->n_entities; i++) {
        size_t nc = a->cfg->entities[i].n_columns;

        if (a->plans != NULL)
            plan_free(&a->plans[i], nc);
        if (a->sql != NULL)
            sql_free(&a->sql[i], nc);
        if (a->sets != NULL)
            sink_rowset_free(&a->sets[i]);
    }
    free(a->plans);
    free(a->sql);
    free(a->sets);
    free(a->lsn_bound);
    free(a->bound_sql);
    free(a->bounds_sql);
    free(a->retry_sql);
    free(a->park_sql);
    free(a->count_sql);
    free(a->count_all_sql);
    free(a->truncated_sql);
    free(a->taken);
    free(a->truncs);
    free(a->txs);
    free(a->q_state);
    if (a->imported != NULL)
        sink_map_each(a->imported, free_imported, NULL);
    sink_map_free(a->imported);
    free(a);
}

/* Keeps, for each entity, the higher of the bound in the table and the one
 * in memory: another sink may have written positions meanwhile (a
 * scale-out sink sets them to the largest LSN).  An entity with no row
 * has no positions yet. */
static int
got_bounds(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
           ferry_err_t *err)
{
    sink_apply_t *a = arg;
    int i;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    for (i = 0; i < PQntuples(res); i++) {
        uint64_t b = strtoull(PQgetvalue(res, i, 1), NULL, 10);
        const map_entity_t *e =
            map_config_entity(a->cfg, PQgetvalue(res, i, 0));

        if (e != NULL && b > a->lsn_bound[e - a->cfg->entities])
            a->lsn_bound[e - a->cfg->entities] = b;
    }
    return 0;
}

static int
got_parked(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
           ferry_err_t *err)
{
    sink_apply_t *a = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    a->parked_rows = atol(PQgetvalue(res, 0, 0));
    a->blocked_maybe = true;
    return 0;
}

int
sink_apply_push_session(sink_apply_t *a, ferry_err_t *err)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < a->cfg->n_entities; i++)
        rc = sink_target_push(a->t,
                              &(sink_stmt_t){.what = "create a staging table",
                                             .sql = a->sql[i].stage_ddl},
                              err);
    if (rc == 0)
        rc = sink_target_push(a->t,
                              &(sink_stmt_t){.what = "read the position bounds",
                                             .sql = a->bounds_sql,
                                             .done = got_bounds,
                                             .arg = a},
                              err);
    if (rc == 0)
        rc = sink_target_push(a->t,
                              &(sink_stmt_t){.what = "count parked rows",
                                             .sql = a->count_all_sql,
                                             .done = got_parked,
                                             .arg = a},
                              err);
    return rc;
}

static void
add_stats(sink_apply_stats_t *to, const sink_apply_stats_t *from)
{
    to->applied += from->applied;
    to->stale += from->stale;
    to->parked += from->parked;
    to->drained += from->drained;
    to->errors += from->errors;
}

/* Frees what the attempt took out of parked and empties the sets. */
static void
attempt_clear(sink_apply_t *a)
{
    size_t i;

    for (i = 0; a->sets != NULL && i < a->cfg->n_entities; i++)
        sink_rowset_clear(&a->sets[i]);
    for (i = 0; i < a->n_taken; i++)
        sink_event_free(a->taken[i]);
    a->n_taken = 0;
    a->n_truncs = 0;
    a->n_txs = 0;
    memset(&a->att, 0, sizeof(a->att));
}

void
sink_apply_committed(sink_apply_t *a)
{
    add_stats(&a->stats, &a->att);
    attempt_clear(a);
}

void
sink_apply_rolled_back(sink_apply_t *a)
{
    attempt_clear(a);
    a->blocked_maybe = true;
}

void
sink_apply_get_stats(const sink_apply_t *a, sink_apply_stats_t *out)
{
    *out = a->stats;
}

void
sink_apply_set_shared(sink_apply_t *a, bool shared)
{
    a->shared = shared;
}

int
sink_apply_push_forget_bounds(sink_apply_t *a, ferry_err_t *err)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < a->cfg->n_entities; i++) {
        const char *p2[2] = {a->cfg->entities[i].name, "9223372036854775807"};

        rc = sink_target_push(a->t,
                              &(sink_stmt_t){.what = "set the position bounds",
                                             .sql = a->bound_sql,
                                             .n = 2,
                                             .params = p2},
                              err);
    }
    return rc;
}

void
sink_apply_set_park_deletes(sink_apply_t *a, bool on)
{
    a->park_deletes = on;
}

long
sink_apply_parked(const sink_apply_t *a)
{
    return a->parked_rows;
}
