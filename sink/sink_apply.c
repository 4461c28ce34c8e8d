/* Applying source transactions to the target, set-based and in order.
 * sink/sink_apply.c */
#include "sink_apply.h"
#include "sink_apply_int.h"
#include "ferry_log.h"
#include "map_catalog.h"
#include "map_idmap.h"
#include "sink_pg.h"
#include "sink_row.h"
#include "sink_sql.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Returns 0, or FERRY_ENOMEM with err set when building a statement of s
 * (entity e) failed. */
static int
sql_status(const plan_sql_t *s, const map_entity_t *e, ferry_err_t *err)
{
    const ferry_buf_t *one[] = {
        &s->stage_ddl, &s->copy,     &s->stale,   &s->lock,    &s->unpark,
        &s->drain,     &s->upsert,   &s->upsert1, &s->del,     &s->del1,
        &s->row_lsn,   &s->truncate, &s->take[0], &s->take[1], &s->take[2]};
    const ferry_buf_t *per_col[] = {s->null_miss, s->defer_forget,
                                    s->defer_note, s->defer_patch};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(one) / sizeof(*one); i++)
        rc = ferry_buf_status(
            one[i], err, "building the statements of entity \"%s\"", e->name);
    for (size_t k = 0; rc == 0 && k < sizeof(per_col) / sizeof(*per_col); k++)
        for (size_t i = 0; rc == 0 && i < e->n_columns; i++)
            rc = ferry_buf_status(&per_col[k][i], err,
                                  "building the statements of entity \"%s\"",
                                  e->name);
    return rc;
}

static int
sql_init(sink_apply_t *a, size_t idx, ferry_err_t *err)
{
    const sink_plan_t *p = &a->plans[idx];
    plan_sql_t *s = &a->sql[idx];
    size_t i;

    s->null_miss = calloc(p->e->n_columns + 1, sizeof(ferry_buf_t));
    s->defer_forget = calloc(p->e->n_columns + 1, sizeof(ferry_buf_t));
    s->defer_note = calloc(p->e->n_columns + 1, sizeof(ferry_buf_t));
    s->defer_patch = calloc(p->e->n_columns + 1, sizeof(ferry_buf_t));
    if (s->null_miss == NULL || s->defer_forget == NULL ||
        s->defer_note == NULL || s->defer_patch == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory building the statements of "
                             "entity \"%s\"",
                             p->e->name);
    sink_sql_stage_ddl(p, &s->stage_ddl);
    ferry_buf_printf(&s->copy, "COPY %s FROM STDIN", p->q_stage);
    sink_sql_stale(p, &s->stale);
    sink_sql_lock_keys(p, &s->lock);
    sink_sql_unpark_stale(p, &s->unpark);
    sink_sql_drain(p, &s->drain);
    sink_sql_upsert(p, false, &s->upsert);
    sink_sql_upsert(p, true, &s->upsert1);
    sink_sql_delete(p, false, &s->del);
    sink_sql_delete(p, true, &s->del1);
    sink_sql_row_lsn(p, &s->row_lsn);
    sink_sql_truncate(p, &s->truncate);
    for (i = 0; i < 3; i++)
        sink_sql_take_missing(p, (enum map_on_missing)i, &s->take[i]);
    for (i = 0; i < p->e->n_columns; i++) {
        const map_column_t *c = &p->e->columns[i];

        if (c->kind != MAP_COLUMN_COPY &&
            (c->deferred || c->on_missing == MAP_ON_MISSING_NULL))
            sink_sql_null_missing(p, i, &s->null_miss[i]);
        /* A NULL written for a missing parent is filled in once the parent
         * arrives: the source row does reference it, and the parent may
         * only be late (another topic, a later batch, the snapshot). */
        if (c->kind != MAP_COLUMN_COPY &&
            (c->deferred || c->on_missing == MAP_ON_MISSING_NULL)) {
            sink_sql_defer_forget(p, i, &s->defer_forget[i]);
            sink_sql_defer_note(p, i, &s->defer_note[i]);
            sink_sql_defer_patch(p, i, &s->defer_patch[i]);
            s->has_deferred = true;
        }
    }
    return sql_status(s, p->e, err);
}

static void
free_imported(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

/* Reads the entities' LSN bounds (sink_apply_int.h) through conn, keeping
 * the higher of the table's and the one in memory: at start, and after a
 * reconnect, when another sink may have written positions meanwhile (a
 * scale-out sink sets them to the largest LSN).  An entity with no row has
 * no positions yet. */
static int
read_bounds(sink_apply_t *a, PGconn *conn, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    int i, rc;

    ferry_buf_printf(&sql, "SELECT entity, commit_lsn FROM %s.row_lsn_max",
                     a->q_state);
    rc = ferry_buf_status(&sql, err, "reading the position bounds");
    if (rc == 0)
        rc = sink_pg_exec(conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "read the position bounds", 0, err);
    for (i = 0; rc == 0 && i < PQntuples(res); i++) {
        uint64_t b = strtoull(PQgetvalue(res, i, 1), NULL, 10);
        size_t e;

        for (e = 0; e < a->cfg->n_entities; e++)
            if (strcmp(a->cfg->entities[e].name, PQgetvalue(res, i, 0)) == 0 &&
                b > a->lsn_bound[e])
                a->lsn_bound[e] = b;
    }
    PQclear(res);
    ferry_buf_close(&sql);
    return rc;
}

static int
load_imported(sink_apply_t *a, PGconn *conn, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    int i, rc;

    ferry_buf_printf(&sql,
                     "SELECT entity || chr(31) || legacy_key, uuid::text "
                     "FROM %s.id_map WHERE source = 'import'",
                     a->q_state);
    rc = ferry_buf_status(&sql, err, "reading the id-map");
    if (rc == 0)
        rc = sink_pg_exec(conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "read the id-map", 0, err);
    for (i = 0; rc == 0 && i < PQntuples(res); i++) {
        char *u = strdup(PQgetvalue(res, i, 1));

        if (u == NULL || sink_map_put(a->imported, PQgetvalue(res, i, 0), u)) {
            free(u);
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory reading the id-map");
        }
    }
    PQclear(res);
    ferry_buf_close(&sql);
    return rc;
}

int
sink_apply_new(const map_config_t *cfg, PGconn *conn, sink_dlq_fn dlq,
               sink_slot_topic_fn slot_topic, void *arg, sink_apply_t **out,
               ferry_err_t *err)
{
    sink_apply_t *a = calloc(1, sizeof(*a));
    size_t i;
    int rc = FERRY_ENOMEM;

    *out = NULL;
    if (a == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory creating the applier");
    a->cfg = cfg;
    a->dlq = dlq;
    a->slot_topic = slot_topic;
    a->arg = arg;
    a->blocked_maybe = true; /* unknown until looked at */
    a->plans = calloc(cfg->n_entities + 1, sizeof(*a->plans));
    a->sql = calloc(cfg->n_entities + 1, sizeof(*a->sql));
    a->sets = calloc(cfg->n_entities + 1, sizeof(*a->sets));
    a->lsn_bound = calloc(cfg->n_entities + 1, sizeof(*a->lsn_bound));
    a->q_state = quote_ident(conn, cfg->state_schema);
    a->imported = sink_map_new();
    if (a->plans == NULL || a->sql == NULL || a->sets == NULL ||
        a->lsn_bound == NULL || a->q_state == NULL || a->imported == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory creating the applier");
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
    ferry_buf_printf(&a->bound_sql,
                     "INSERT INTO %s.row_lsn_max AS m (entity, commit_lsn) "
                     "VALUES ($1, $2) ON CONFLICT (entity) DO UPDATE SET "
                     "commit_lsn = greatest(m.commit_lsn, EXCLUDED.commit_lsn)",
                     a->q_state);
    sink_sql_retry_blocked(a->q_state, &a->retry_sql);
    if ((rc = ferry_buf_status(&a->bound_sql, err,
                               "building the statements of the applier")) !=
            0 ||
        (rc = ferry_buf_status(&a->retry_sql, err,
                               "building the statements of the applier")) !=
            0 ||
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
    size_t i;

    ferry_buf_close(&s->stage_ddl);
    ferry_buf_close(&s->copy);
    ferry_buf_close(&s->stale);
    ferry_buf_close(&s->lock);
    ferry_buf_close(&s->unpark);
    ferry_buf_close(&s->drain);
    ferry_buf_close(&s->upsert);
    ferry_buf_close(&s->upsert1);
    ferry_buf_close(&s->del);
    ferry_buf_close(&s->del1);
    ferry_buf_close(&s->row_lsn);
    ferry_buf_close(&s->truncate);
    for (i = 0; i < 3; i++)
        ferry_buf_close(&s->take[i]);
    for (i = 0; i < n_cols; i++) {
        if (s->null_miss != NULL)
            ferry_buf_close(&s->null_miss[i]);
        if (s->defer_forget != NULL)
            ferry_buf_close(&s->defer_forget[i]);
        if (s->defer_note != NULL)
            ferry_buf_close(&s->defer_note[i]);
        if (s->defer_patch != NULL)
            ferry_buf_close(&s->defer_patch[i]);
    }
    free(s->null_miss);
    free(s->defer_forget);
    free(s->defer_note);
    free(s->defer_patch);
}

void
sink__rowset_clear(rowset_t *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        sink_row_clear(&s->rows[i]);
    s->n = 0;
    if (s->index != NULL && sink_map_count(s->index) > 0) {
        sink_map_free(s->index);
        s->index = sink_map_new();
    }
}

void
sink_apply_free(sink_apply_t *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; i < a->cfg->n_entities; i++) {
        size_t nc = a->cfg->entities[i].n_columns;

        if (a->plans != NULL)
            plan_free(&a->plans[i], nc);
        if (a->sql != NULL)
            sql_free(&a->sql[i], nc);
        if (a->sets != NULL) {
            sink__rowset_clear(&a->sets[i]);
            free(a->sets[i].rows);
            sink_map_free(a->sets[i].index);
        }
    }
    free(a->plans);
    free(a->sql);
    free(a->sets);
    free(a->lsn_bound);
    ferry_buf_close(&a->bound_sql);
    ferry_buf_close(&a->retry_sql);
    free(a->q_state);
    if (a->imported != NULL)
        sink_map_each(a->imported, free_imported, NULL);
    sink_map_free(a->imported);
    ferry_buf_close(&a->copybuf);
    free(a);
}

int
sink_apply_attach(sink_apply_t *a, PGconn *conn, ferry_err_t *err)
{
    size_t i;
    int rc;

    a->conn = conn;
    for (i = 0; i < a->cfg->n_entities; i++)
        if ((rc = sink_pg_exec(conn, ferry_buf_cstr(&a->sql[i].stage_ddl), 0,
                               NULL, NULL, NULL, "create a staging table", 0,
                               err)) != 0)
            return rc;
    return read_bounds(a, conn, err);
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
sink_apply_forget_bounds(sink_apply_t *a, ferry_err_t *err)
{
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < a->cfg->n_entities; i++) {
        const char *p2[2] = {a->cfg->entities[i].name, "9223372036854775807"};

        rc = sink_pg_exec(a->conn, ferry_buf_cstr(&a->bound_sql), 2, p2, NULL,
                          NULL, "set the position bounds", 0, err);
    }
    return rc;
}

void
sink_apply_set_park_deletes(sink_apply_t *a, bool on)
{
    a->park_deletes = on;
}

void
sink_apply_set_parked(sink_apply_t *a, long parked_rows)
{
    a->parked_rows = parked_rows;
    a->blocked_maybe = true;
}
