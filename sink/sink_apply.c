/* The applier's set-up: each entity's plan and statements, built once; the
 * position bounds; the imported UUIDs; the session each connection needs.
 * sink/sink_apply.c */
#include "sink_apply.h"
#include "sink_apply_int.h"

#include "ferry_log.h"
#include "ferry_time.h"
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

/* The entity's lsn_column: it must hold a position (up to 2^127) exactly,
 * as ferry-map check also says. */
static int
plan_lsn_column(PGconn *conn, const map_pg_table_t *t, const map_entity_t *e,
                char **q, ferry_err_t *err)
{
    const map_pg_column_t *c = map_catalog_column(t, e->lsn_column);
    char *type = NULL;
    int rc = plan_column(conn, t, e, e->lsn_column, q, &type, err);

    if (rc == 0 && strcmp(c->base.name, "numeric") != 0)
        rc = ferry_err_set(err, FERRY_ECONFIG,
                           "entity \"%s\": lsn column \"%s\" of table "
                           "\"%s.%s\" has type %s (expected numeric; "
                           "ferry-map check tells more)",
                           e->name, e->lsn_column, e->target_schema,
                           e->target_table, type);
    free(type);
    return rc;
}

/* The foreign keys of the target that reference p's table, for the
 * diagnosis of a refused delete (sink_sql_delete_blockers()). */
static int
plan_fks(PGconn *conn, sink_plan_t *p, ferry_err_t *err)
{
    static const char *const sql =
        "SELECT n.nspname, r.relname, CASE WHEN cardinality(c.conkey) = 1 "
        "THEN (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = "
        "c.conrelid AND a.attnum = c.conkey[1]) END, CASE WHEN "
        "cardinality(c.confkey) = 1 THEN (SELECT a.attname FROM "
        "pg_attribute a WHERE a.attrelid = c.confrelid AND a.attnum = "
        "c.confkey[1]) END, format('%I.%I', n.nspname, r.relname), "
        "quote_literal(n.nspname || '.' || r.relname), (SELECT "
        "string_agg(format('c.%I = t.%I', fa.attname, pa.attname), ' AND ' "
        "ORDER BY k.i) FROM unnest(c.conkey, c.confkey) WITH ORDINALITY "
        "AS k(fk, pk, i) JOIN pg_attribute fa ON fa.attrelid = c.conrelid "
        "AND fa.attnum = k.fk JOIN pg_attribute pa ON pa.attrelid = "
        "c.confrelid AND pa.attnum = k.pk) FROM pg_constraint c JOIN "
        "pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = "
        "r.relnamespace WHERE c.contype = 'f' AND c.confrelid = "
        "$1::regclass ORDER BY 1, 2, c.conname";
    const char *p1[1] = {p->q_target};
    PGresult *res = NULL;
    int i, j, rc;

    rc = ferry_pg_exec(conn, sql, 1, p1, &res, NULL,
                       "read the foreign keys of a target table",
                       FERRY_PG_DATA_FATAL, err);
    if (rc != 0)
        return rc;
    p->fks = calloc((size_t)PQntuples(res) + 1, sizeof(*p->fks));
    for (i = 0; p->fks != NULL && i < PQntuples(res); i++) {
        char **f[7] = {&p->fks[i].schema,  &p->fks[i].table,
                       &p->fks[i].column,  &p->fks[i].ref_column,
                       &p->fks[i].q_table, &p->fks[i].name_lit,
                       &p->fks[i].cond};

        p->n_fks++;
        for (j = 0; j < 7; j++)
            if (!PQgetisnull(res, i, j) &&
                (*f[j] = strdup(PQgetvalue(res, i, j))) == NULL)
                rc = FERRY_ENOMEM;
    }
    if (p->fks == NULL || rc != 0)
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory reading the foreign keys of table "
                           "%s",
                           p->q_target);
    PQclear(res);
    return rc;
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
    p->n_plans = a->cfg->n_entities;
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
    if (rc == 0 && e->lsn_column != NULL)
        rc = plan_lsn_column(conn, &t, e, &p->q_lsn, err);
    if (rc == 0)
        rc = plan_fks(conn, p, err);
done:
    map_catalog_table_free(&t);
    return rc;
}

/* The statements of s that every entity has (the per-column ones are
 * apart). */
#define SQL_FIXED 25

static void
fixed_sql(plan_sql_t *s, char **out[SQL_FIXED])
{
    char **fixed[SQL_FIXED] = {
        &s->stage_ddl,    &s->copy,          &s->empty,
        &s->drop_row,     &s->stale,         &s->lock,
        &s->unpark,       &s->drain,         &s->upsert,
        &s->upsert1,      &s->del,           &s->del1,
        &s->row_lsn,      &s->truncate,      &s->truncate_check,
        &s->take[0],      &s->take[1],       &s->take[2],
        &s->del_children, &s->del1_children, &s->blockers,
        &s->restore,      &s->trunc_keys,    &s->count_up,
        &s->lock_parents};

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
    BUILD(s->lock_parents, sink_sql_lock_parents(p, &b));
    BUILD(s->unpark, sink_sql_unpark_stale(p, &b));
    BUILD(s->drain, sink_sql_drain(p, &b));
    BUILD(s->upsert, sink_sql_upsert(p, false, &b));
    BUILD(s->upsert1, sink_sql_upsert(p, true, &b));
    BUILD(s->del, sink_sql_delete(p, false, &b));
    BUILD(s->del1, sink_sql_delete(p, true, &b));
    BUILD(s->row_lsn, sink_sql_row_lsn(p, &b));
    BUILD(s->truncate, sink_sql_truncate(p, &b));
    BUILD(s->truncate_check, sink_sql_truncate_stale(p, &b));
    if (p->q_lsn != NULL)
        BUILD(s->count_up,
              ferry_buf_printf(&b, "SELECT count(*) FROM %s WHERE __op = 'u'",
                               p->q_stage));
    else
        BUILD(s->count_up, (void)0);
    BUILD(s->trunc_keys, sink_sql_truncate_keys(p, &b));
    BUILD(s->del_children, sink_sql_delete_children(p, false, &b));
    BUILD(s->del1_children, sink_sql_delete_children(p, true, &b));
    BUILD(s->blockers, sink_sql_delete_blockers(p, &b));
    /* Only an entity with legacy id columns is ever parked as a row. */
    if (p->n_lcols > 0)
        BUILD(s->restore, sink_sql_restore_row(p, &b));
    else
        BUILD(s->restore, (void)0);
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
    /* One row (parameters), or the rows COPYed into pg_temp.ferry_park_in
     * (sink_park.c), into the same columns. */
#define PARK_INTO                                                              \
    "INSERT INTO %s.parked (" PARK_COLS ", next_retry_at, parked_at) "
#define PARK_COLS                                                              \
    "entity, legacy_key, missing_entity, missing_uuid, commit_lsn, "           \
    "change_lsn, topic, partition, kafka_offset, event_key, event, "           \
    "waits_for, blocked_by, retries"
    ferry_buf_printf(&b,
                     PARK_INTO "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                               "$10, $11, $12, $13, $14::int, now() + "
                               "$15::int * interval '1 second', "
                               "coalesce($16::timestamptz, now()))",
                     q);
    ok = take_sql(&b, &a->park_sql) && ok;
    ferry_buf_printf(&b,
                     PARK_INTO "SELECT " PARK_COLS
                               ", now() + delay_s * interval '1 second', "
                               "coalesce(parked_at, now()) FROM "
                               "pg_temp.ferry_park_in ORDER BY n",
                     q);
#undef PARK_INTO
#undef PARK_COLS
    ok = take_sql(&b, &a->park_many_sql) && ok;
    ferry_buf_printf(&b, "ANALYZE %s.parked", q);
    ok = take_sql(&b, &a->analyze_sql) && ok;
    ferry_buf_printf(&b,
                     "SELECT extract(epoch FROM min(coalesce(next_retry_at, "
                     "now())) - now()) FROM %s.parked WHERE waits_for = "
                     "'children'",
                     q);
    ok = take_sql(&b, &a->due_sql) && ok;
    ferry_buf_printf(&b,
                     "SELECT count(*) FROM %s.parked WHERE waits_for = "
                     "'parent'",
                     q);
    ok = take_sql(&b, &a->count_sql) && ok;
    ferry_buf_printf(&b, "SELECT count(*) FROM %s.parked", q);
    ok = take_sql(&b, &a->count_all_sql) && ok;
    ferry_buf_printf(
        &b, "SELECT entity, count(*) FROM %s.parked GROUP BY entity", q);
    ok = take_sql(&b, &a->count_by_sql) && ok;
    ferry_buf_printf(&b,
                     "WITH r AS (DELETE FROM %s.row_lsn WHERE entity = $1), "
                     "p AS (DELETE FROM %s.parked WHERE entity = $1), d AS "
                     "(DELETE FROM %s.deferred WHERE entity = $1) INSERT "
                     "INTO %s.truncated VALUES ($1, $2, $3) ON CONFLICT "
                     "(entity) DO UPDATE SET commit_lsn = "
                     "EXCLUDED.commit_lsn, change_lsn = EXCLUDED.change_lsn",
                     q, q, q, q);
    ok = take_sql(&b, &a->truncated_sql) && ok;
    sink_sql_retry_blocked(q, SINK_RETRY_LIMIT, &b);
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
    a->plans = calloc(cfg->n_entities + 1, sizeof(*a->plans));
    a->sql = calloc(cfg->n_entities + 1, sizeof(*a->sql));
    a->sets = calloc(cfg->n_entities + 1, sizeof(*a->sets));
    a->lsn_bound = calloc(cfg->n_entities + 1, sizeof(*a->lsn_bound));
    a->lsn_staged = calloc(cfg->n_entities + 1, sizeof(*a->lsn_staged));
    a->ent_buf = calloc(cfg->n_entities + 1, sizeof(*a->ent_buf));
    a->ent = calloc(cfg->n_entities + 1, sizeof(*a->ent));
    a->ent_att = calloc(cfg->n_entities + 1, sizeof(*a->ent_att));
    a->parked_by_att = calloc(cfg->n_entities + 1, sizeof(*a->parked_by_att));
    a->q_state = quote_ident(conn, cfg->state_schema);
    a->imported = sink_map_new();
    if (a->plans == NULL || a->sql == NULL || a->sets == NULL ||
        a->lsn_bound == NULL || a->lsn_staged == NULL || a->ent_buf == NULL ||
        a->ent == NULL || a->ent_att == NULL || a->parked_by_att == NULL ||
        a->q_state == NULL || a->imported == NULL) {
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
    free(p->q_lsn);
    for (i = 0; i < p->n_fks; i++) {
        free(p->fks[i].schema);
        free(p->fks[i].table);
        free(p->fks[i].column);
        free(p->fks[i].ref_column);
        free(p->fks[i].q_table);
        free(p->fks[i].name_lit);
        free(p->fks[i].cond);
    }
    free(p->fks);
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
    free(a->lsn_staged);
    free(a->ent_buf);
    sink__memo_free(a);
    free(a->ent);
    free(a->ent_att);
    free(a->parked_by_att);
    free(a->count_by_sql);
    free(a->bound_sql);
    free(a->bounds_sql);
    free(a->retry_sql);
    free(a->due_sql);
    free(a->park_sql);
    free(a->park_many_sql);
    free(a->analyze_sql);
    sink__park_drop(a);
    ferry_buf_close(&a->park_copy);
    free(a->count_sql);
    free(a->count_all_sql);
    free(a->truncated_sql);
    free(a->taken);
    free(a->taken_info);
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

static int push_recount(sink_apply_t *a, size_t aux, ferry_err_t *err);

static int
got_parked(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
           ferry_err_t *err)
{
    sink_apply_t *a = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    a->parked_rows = atol(PQgetvalue(res, 0, 0));
    a->retry_at = 0;
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
        rc = sink_target_push(
            a->t,
            &(sink_stmt_t){.what = "create the table of a truncate's UUIDs",
                           .sql = "CREATE TEMP TABLE IF NOT EXISTS "
                                  "pg_temp.ferry_trunc (id uuid)"},
            err);
    /* The rows a statement's result parks, written in one COPY. */
    if (rc == 0)
        rc = sink_target_push(
            a->t,
            &(sink_stmt_t){
                .what = "create the table of rows to park",
                .sql = "CREATE TEMP TABLE IF NOT EXISTS pg_temp.ferry_park_in "
                       "(entity text, legacy_key text, missing_entity text, "
                       "missing_uuid uuid, commit_lsn bigint, change_lsn "
                       "bigint, topic text, partition int, kafka_offset "
                       "bigint, event_key text, event text, waits_for text, "
                       "blocked_by text, retries int, delay_s int, parked_at "
                       "timestamptz, n int)"},
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
    if (rc == 0)
        rc = push_recount(a, 1, err);
    return rc;
}

/* Frees what the attempt took out of parked and empties the sets. */
static void
attempt_clear(sink_apply_t *a)
{
    size_t i;

    for (i = 0; a->sets != NULL && i < a->cfg->n_entities; i++)
        sink_rowset_clear(&a->sets[i]);
    sink__park_drop(a);
    sink__taken_drop(a);
    a->n_truncs = 0;
    a->n_txs = 0;
    if (a->ent_att != NULL)
        memset(a->ent_att, 0, (a->cfg->n_entities + 1) * sizeof(*a->ent_att));
    a->recounted_att = false;
}

void
sink_apply_committed(sink_apply_t *a)
{
    size_t i;

    for (i = 0; i <= a->cfg->n_entities; i++) {
        sink_apply_counts_t *to = &a->ent[i];
        const sink_apply_counts_t *from = &a->ent_att[i];

        to->upserted += from->upserted;
        to->deleted += from->deleted;
        to->stale += from->stale;
        to->parked += from->parked;
        to->drained += from->drained;
        to->errors += from->errors;
        if (a->recounted_att)
            to->parked_now = a->parked_by_att[i];
    }
    if (a->recounted_att) {
        a->counted_at = ferry_mono_ms();
        a->counted_rows = a->recount_rows;
    }
    attempt_clear(a);
}

void
sink_apply_rolled_back(sink_apply_t *a)
{
    attempt_clear(a);
    a->retry_at = 0;
}

void
sink_apply_get_stats(const sink_apply_t *a, sink_apply_stats_t *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i <= a->cfg->n_entities; i++) {
        out->applied += a->ent[i].upserted + a->ent[i].deleted;
        out->stale += a->ent[i].stale;
        out->parked += a->ent[i].parked;
        out->drained += a->ent[i].drained;
        out->errors += a->ent[i].errors;
    }
}

void
sink_apply_entity_counts(const sink_apply_t *a, size_t idx,
                         sink_apply_counts_t *out)
{
    *out = a->ent[idx <= a->cfg->n_entities ? idx : a->cfg->n_entities];
}

int
sink__reject(sink_apply_t *a, const char *entity, const char *lkey,
             const sink_event_t *ev, const char *sqlstate, const char *msg,
             ferry_err_t *err)
{
    const map_entity_t *e =
        entity != NULL ? map_config_entity(a->cfg, entity) : NULL;

    a->ent_att[e != NULL ? (size_t)(e - a->cfg->entities) : a->cfg->n_entities]
        .errors++;
    return sink_dlq_record(a->dlq, a->t, entity, lkey, ev, sqlstate, msg, err);
}

/* The count of parked rows by entity is in: into the attempt's (aux 0,
 * adopted at commit) or, at a session's start, the committed one. */
static int
recounted(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
          ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t i, n = a->cfg->n_entities;
    int r;

    (void)rc, (void)sqlstate, (void)err;
    memset(a->parked_by_att, 0, (n + 1) * sizeof(*a->parked_by_att));
    for (r = 0; r < PQntuples(res); r++) {
        const map_entity_t *e =
            map_config_entity(a->cfg, PQgetvalue(res, r, 0));

        a->parked_by_att[e != NULL ? (size_t)(e - a->cfg->entities) : n] +=
            atol(PQgetvalue(res, r, 1));
    }
    if (aux == 0) {
        a->recounted_att = true;
        a->recount_rows = a->parked_rows;
        return 0;
    }
    for (i = 0; i <= n; i++)
        a->ent[i].parked_now = a->parked_by_att[i];
    a->counted_at = ferry_mono_ms();
    a->counted_rows = a->parked_rows;
    return 0;
}

static int
push_recount(sink_apply_t *a, size_t aux, ferry_err_t *err)
{
    return sink_target_push(a->t,
                            &(sink_stmt_t){.what = "count parked rows by "
                                                   "entity",
                                           .sql = a->count_by_sql,
                                           .done = recounted,
                                           .arg = a,
                                           .aux = aux},
                            err);
}

bool
sink_apply_recount_due(const sink_apply_t *a)
{
    return a->counted_at != 0 && a->parked_rows != a->counted_rows &&
           ferry_mono_ms() - a->counted_at >= 1000;
}

int
sink_apply_push_recount(sink_apply_t *a, ferry_err_t *err)
{
    return push_recount(a, 0, err);
}

static int
recount_call(void *arg, size_t aux, ferry_err_t *err)
{
    sink_apply_t *a = arg;

    (void)aux;
    if (a->counted_at != 0 && !sink_apply_recount_due(a) &&
        ferry_mono_ms() - a->counted_at < 60000)
        return 0;
    return push_recount(a, 0, err);
}

int
sink__recount_push(sink_apply_t *a, ferry_err_t *err)
{
    return sink_target_push_call(a->t, recount_call, a, 0, err);
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
