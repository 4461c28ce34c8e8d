/* Reading tables, columns, unique indexes and replica identity from pg_catalog.
 * mapping/map_catalog.c */
#include "map_catalog.h"
#include "ferry_pg.h"
#include "map_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const table_sql =
    "SELECT c.oid, c.relreplident FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

static const char *const columns_sql =
    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
    "       COALESCE(bt.typname, t.typname), "
    "       COALESCE(bt.typcategory, t.typcategory), a.attnotnull, "
    "       a.atthasdef OR a.attidentity <> '', a.attgenerated <> '', "
    "       a.atttypid, t.typlen = -1 AND a.attstorage IN ('x', 'e') "
    "FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' "
    "     AND bt.oid = t.typbasetype "
    "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

static const char *const indexes_sql =
    "SELECT ic.relname, i.indisprimary, i.indisreplident, a.attname "
    "FROM pg_catalog.pg_index i "
    "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    "CROSS JOIN LATERAL unnest(i.indkey::pg_catalog.int2[]) "
    "     WITH ORDINALITY AS k(attnum, ord) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
    "     AND a.attnum = k.attnum "
    "WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid "
    "  AND i.indpred IS NULL AND i.indexprs IS NULL "
    "  AND k.ord <= i.indnkeyatts "
    "ORDER BY ic.relname, k.ord";

/* Runs a catalog query; NULL with err set when it failed.  Any failure is
 * transient: the caller reads the whole table again. */
static PGresult *
query(PGconn *conn, const char *side, const char *sql, int nparams,
      const char *const *params, ferry_err_t *err)
{
    PGresult *res;
    char what[64];

    snprintf(what, sizeof(what), "read the %s catalog", side);
    if (ferry_pg_exec(conn, sql, nparams, params, &res, NULL, what,
                      FERRY_PG_ANY_TRANSIENT, err) != 0)
        return NULL;
    return res;
}

static int
load_indexes(map_pg_table_t *t)
{
    PGresult *res = t->res_idx;
    int rows = PQntuples(res);
    size_t n = 0;

    t->indexes = calloc((size_t)rows + 1, sizeof(*t->indexes));
    if (t->indexes == NULL)
        return FERRY_ENOMEM;
    for (int r = 0; r < rows;) {
        map_pg_index_t *ix = &t->indexes[n++];
        const char *name = PQgetvalue(res, r, 0);
        int end = r;

        while (end < rows && strcmp(PQgetvalue(res, end, 0), name) == 0)
            end++;
        ix->name = name;
        ix->primary = PQgetvalue(res, r, 1)[0] == 't';
        ix->replica_identity = PQgetvalue(res, r, 2)[0] == 't';
        ix->columns = calloc((size_t)(end - r), sizeof(*ix->columns));
        if (ix->columns == NULL)
            return FERRY_ENOMEM;
        for (int i = r; i < end; i++)
            ix->columns[ix->n_columns++] = PQgetvalue(res, i, 3);
        r = end;
    }
    t->n_indexes = n;
    return 0;
}

int
map_catalog_table(PGconn *conn, const char *side, const char *schema,
                  const char *table, map_pg_table_t *out, ferry_err_t *err)
{
    const char *params[2] = {schema, table};
    PGresult *res = NULL;
    const char *oid;
    int rc = FERRY_ETRANSIENT;

    memset(out, 0, sizeof(*out));
    res = query(conn, side, table_sql, 2, params, err);
    if (res == NULL)
        goto done;
    if (PQntuples(res) == 0) {
        rc = 0;
        goto done;
    }
    out->exists = true;
    out->replident = PQgetvalue(res, 0, 1)[0];
    oid = PQgetvalue(res, 0, 0);
    out->res_cols = query(conn, side, columns_sql, 1, &oid, err);
    out->res_idx = query(conn, side, indexes_sql, 1, &oid, err);
    if (out->res_cols == NULL || out->res_idx == NULL)
        goto done;
    out->n_columns = (size_t)PQntuples(out->res_cols);
    out->columns = calloc(out->n_columns + 1, sizeof(*out->columns));
    rc = FERRY_ENOMEM;
    if (out->columns == NULL)
        goto done;
    for (size_t i = 0; i < out->n_columns; i++) {
        map_pg_column_t *c = &out->columns[i];
        int r = (int)i;

        c->name = PQgetvalue(out->res_cols, r, 0);
        c->type = PQgetvalue(out->res_cols, r, 1);
        c->base.name = PQgetvalue(out->res_cols, r, 2);
        c->base.category = PQgetvalue(out->res_cols, r, 3)[0];
        c->not_null = PQgetvalue(out->res_cols, r, 4)[0] == 't';
        c->has_default = PQgetvalue(out->res_cols, r, 5)[0] == 't';
        c->generated = PQgetvalue(out->res_cols, r, 6)[0] == 't';
        c->type_oid = (Oid)strtoul(PQgetvalue(out->res_cols, r, 7), NULL, 10);
        c->toastable = PQgetvalue(out->res_cols, r, 8)[0] == 't';
    }
    rc = load_indexes(out);

done:
    PQclear(res);
    if (rc == FERRY_ENOMEM)
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory reading the %s catalog of table "
                      "\"%s.%s\"",
                      side, schema, table);
    return rc;
}

static const char *const ddl_trigger_sql =
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger e "
    "JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid "
    "WHERE e.evtevent = 'ddl_command_end' AND e.evtenabled IN ('O', 'A') "
    "  AND p.prosrc LIKE '%pg_logical_emit_message%' "
    "  AND p.prosrc LIKE '%" MAP_CATALOG_DDL_PREFIX "%')";

int
map_catalog_ddl_trigger(PGconn *conn, const char *side, bool *installed,
                        ferry_err_t *err)
{
    PGresult *res = query(conn, side, ddl_trigger_sql, 0, NULL, err);

    *installed = false;
    if (res == NULL)
        return FERRY_ETRANSIENT;
    *installed = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

bool
map_catalog_is_nan_type(const map_pg_column_t *c)
{
    return strcmp(c->base.name, "numeric") == 0 ||
           strcmp(c->base.name, "float4") == 0 ||
           strcmp(c->base.name, "float8") == 0;
}

void
map_catalog_table_free(map_pg_table_t *t)
{
    for (size_t i = 0; t->indexes && i < t->n_indexes; i++)
        free(t->indexes[i].columns);
    free(t->indexes);
    free(t->columns);
    PQclear(t->res_cols);
    PQclear(t->res_idx);
    memset(t, 0, sizeof(*t));
}

const map_pg_column_t *
map_catalog_column(const map_pg_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->n_columns; i++) {
        if (strcmp(t->columns[i].name, name) == 0)
            return &t->columns[i];
    }
    return NULL;
}

const map_pg_index_t *
map_catalog_primary_key(const map_pg_table_t *t)
{
    for (size_t i = 0; i < t->n_indexes; i++) {
        if (t->indexes[i].primary)
            return &t->indexes[i];
    }
    return NULL;
}

const map_pg_index_t *
map_catalog_identity_index(const map_pg_table_t *t)
{
    if (t->replident != 'i')
        return map_catalog_primary_key(t);
    for (size_t i = 0; i < t->n_indexes; i++) {
        if (t->indexes[i].replica_identity)
            return &t->indexes[i];
    }
    return NULL;
}

static bool
contains(const char *const *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i], name) == 0)
            return true;
    }
    return false;
}

bool
map_catalog_is_unique(const map_pg_table_t *t, const char *const *cols,
                      size_t n)
{
    for (size_t i = 0; i < t->n_indexes; i++) {
        const map_pg_index_t *ix = &t->indexes[i];
        size_t j;

        for (j = 0; j < ix->n_columns && contains(cols, n, ix->columns[j]); j++)
            ;
        if (j == ix->n_columns && j > 0)
            return true;
    }
    return false;
}

/* Copies the primary key's column names of e's source table into the
 * model. */
static int
resolve_one(map_config_t *cfg, map_entity_t *e, PGconn *src, ferry_err_t *err)
{
    map_pg_table_t t;
    const map_pg_index_t *pk;
    const char **key;
    int rc = map_catalog_table(src, "source", e->source_schema, e->source_table,
                               &t, err);

    if (rc != 0)
        goto done;
    rc = FERRY_ECONFIG;
    if (!t.exists) {
        ferry_err_set(err, FERRY_ECONFIG,
                      "entity \"%s\": source table \"%s.%s\" does not exist",
                      e->name, e->source_schema, e->source_table);
        goto done;
    }
    pk = map_catalog_primary_key(&t);
    if (pk == NULL) {
        ferry_err_set(err, FERRY_ECONFIG,
                      "entity \"%s\": no key given and source table "
                      "\"%s.%s\" has no primary key",
                      e->name, e->source_schema, e->source_table);
        goto done;
    }
    rc = FERRY_ENOMEM;
    key = map__alloc(cfg->arena, pk->n_columns * sizeof(*key));
    if (key == NULL)
        goto done;
    for (size_t i = 0; i < pk->n_columns; i++) {
        key[i] = map__strdup(cfg->arena, pk->columns[i]);
        if (key[i] == NULL)
            goto done;
    }
    e->key = key;
    e->n_key = pk->n_columns;
    rc = 0;

done:
    if (rc == FERRY_ENOMEM)
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory copying the key of entity \"%s\"",
                      e->name);
    map_catalog_table_free(&t);
    return rc;
}

int
map_catalog_resolve_keys(map_config_t *cfg, PGconn *src, ferry_err_t *err)
{
    for (size_t i = 0; i < cfg->n_entities; i++) {
        /* The model's memory is the arena's and writable; only the API
         * hands it out as const. */
        map_entity_t *e = (map_entity_t *)&cfg->entities[i];
        int rc;

        if (e->n_key > 0)
            continue;
        rc = resolve_one(cfg, e, src, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
