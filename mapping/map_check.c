/* Checking a mapping against the live source and target databases.
 * mapping/map_check.c
 *
 * Every table is read once up front; the checks then only compare the model
 * with those facts, so one missing table does not hide the problems of the
 * others.  A check that needs a fact that is missing (a column of a table
 * that does not exist) is skipped: the missing table is the problem to fix.
 */
#include "map_check.h"
#include "ferry_pg.h"
#include "map_catalog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct check {
    const map_config_t *cfg; /* the model */
    map_diags_t *diags;      /* where problems go */
    map_diags_t *warnings;   /* where warnings go, or NULL */
    PGconn *src_conn;        /* the source, for the value counts */
    map_pg_table_t *src;     /* per entity: its source table, if read */
    map_pg_table_t *tgt;     /* per entity: its target table, if read */
    bool have_src;           /* the source was reachable */
    bool have_tgt;           /* the target was reachable */
} check_t;

static map_diag_t *vadd(check_t *c, map_diags_t *list, map_pos_t pos,
                        const char *path, const char *prefix, const char *fmt,
                        va_list ap) FERRY_PRINTF(6, 0);

/* Adds prefix and the formatted message to list (NULL: dropped). */
static map_diag_t *
vadd(check_t *c, map_diags_t *list, map_pos_t pos, const char *path,
     const char *prefix, const char *fmt, va_list ap)
{
    char msg[1024];

    if (list == NULL)
        return NULL;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    return map_diags_add(list, c->cfg->path, pos, path, "%s%s", prefix, msg);
}

static map_diag_t *problem(check_t *c, map_pos_t pos, const char *path,
                           const char *fmt, ...) FERRY_PRINTF(4, 5);

static map_diag_t *
problem(check_t *c, map_pos_t pos, const char *path, const char *fmt, ...)
{
    map_diag_t *d;
    va_list ap;

    va_start(ap, fmt);
    d = vadd(c, c->diags, pos, path, "", fmt, ap);
    va_end(ap);
    return d;
}

/* A warning: what works but costs; it does not fail the check. */
static map_diag_t *warning(check_t *c, map_pos_t pos, const char *path,
                           const char *fmt, ...) FERRY_PRINTF(4, 5);

static map_diag_t *
warning(check_t *c, map_pos_t pos, const char *path, const char *fmt, ...)
{
    map_diag_t *d;
    va_list ap;

    va_start(ap, fmt);
    d = vadd(c, c->warnings, pos, path, "warning: ", fmt, ap);
    va_end(ap);
    return d;
}

static void
epath(char *buf, size_t len, const map_entity_t *e, const char *key)
{
    snprintf(buf, len, "entities.%s.%s", e->name, key);
}

/* The entity's key: as written, or the source primary key; NULL when
 * neither is known. */
static const char *const *
key_columns(check_t *c, size_t i, size_t *n)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_index_t *pk;

    *n = e->n_key;
    if (e->n_key > 0)
        return e->key;
    if (!c->src[i].exists || (pk = map_catalog_primary_key(&c->src[i])) == NULL)
        return NULL;
    *n = pk->n_columns;
    return pk->columns;
}

static bool
in_list(const char *const *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i], name) == 0)
            return true;
    }
    return false;
}

static void
replica_identity(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_table_t *t = &c->src[i];
    const char *const *ident = NULL;
    const char *const *key;
    size_t n_ident = 0;
    size_t n_key;
    char path[512];

    epath(path, sizeof(path), e, "source");
    if (t->replident == 'f')
        return;
    for (size_t x = 0; x < t->n_indexes; x++) {
        const map_pg_index_t *ix = &t->indexes[x];

        if ((t->replident == 'd' && ix->primary) ||
            (t->replident == 'i' && ix->replica_identity)) {
            ident = ix->columns;
            n_ident = ix->n_columns;
        }
    }
    if (ident == NULL) {
        map_diag_hint(
            problem(c, e->source_pos, path,
                    "source table \"%s.%s\" has %s, so its updates and "
                    "deletes would be lost",
                    e->source_schema, e->source_table,
                    t->replident == 'n' ? "REPLICA IDENTITY NOTHING"
                                        : "no primary key and no replica "
                                          "identity"),
            "ALTER TABLE %s.%s REPLICA IDENTITY FULL; (or add a primary key, "
            "or ALTER TABLE ... REPLICA IDENTITY USING INDEX a unique index)",
            e->source_schema, e->source_table);
        return;
    }
    key = key_columns(c, i, &n_key);
    for (size_t k = 0; key && k < n_key; k++) {
        if (in_list(ident, n_ident, key[k]))
            continue;
        map_diag_hint(problem(c, e->key_pos, path,
                              "key column \"%s\" is not part of the replica "
                              "identity of \"%s.%s\", so deletes could not be "
                              "matched",
                              key[k], e->source_schema, e->source_table),
                      "ALTER TABLE %s.%s REPLICA IDENTITY FULL;",
                      e->source_schema, e->source_table);
    }
}

static void
source_column(check_t *c, size_t i, map_pos_t pos, const char *path,
              const char *col, const char *what)
{
    const map_entity_t *e = &c->cfg->entities[i];

    if (map_catalog_column(&c->src[i], col) == NULL)
        problem(c, pos, path,
                "%s \"%s\" does not exist in source table "
                "\"%s.%s\"",
                what, col, e->source_schema, e->source_table);
}

static void
check_source(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    char path[512];

    if (!c->src[i].exists) {
        epath(path, sizeof(path), e, "source");
        problem(c, e->source_pos, path, "source table \"%s.%s\" does not exist",
                e->source_schema, e->source_table);
        return;
    }
    epath(path, sizeof(path), e, "key");
    for (size_t k = 0; k < e->n_key; k++)
        source_column(c, i, e->key_pos, path, e->key[k], "key column");
    if (e->n_key == 0 && map_catalog_primary_key(&c->src[i]) == NULL)
        map_diag_hint(problem(c, e->pos, path,
                              "no key given and source table \"%s.%s\" has "
                              "no primary key",
                              e->source_schema, e->source_table),
                      "set \"key: [COLUMN, ...]\" on the entity to the "
                      "columns that identify a row");
    for (size_t k = 0; k < e->n_columns; k++) {
        const map_column_t *col = &e->columns[k];

        snprintf(path, sizeof(path), "entities.%s.columns.%s", e->name,
                 col->name);
        for (size_t f = 0; f < col->n_from; f++)
            source_column(c, i, col->pos, path, col->from[f], "source column");
        if (col->discriminator)
            source_column(c, i, col->pos, path, col->discriminator,
                          "discriminator column");
    }
    replica_identity(c, i);
}

/* A target column ferry writes: it must exist and be writable; returns it
 * or NULL. */
static const map_pg_column_t *
target_column(check_t *c, size_t i, map_pos_t pos, const char *path,
              const char *col)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_column_t *tc = map_catalog_column(&c->tgt[i], col);

    if (tc == NULL)
        problem(c, pos, path,
                "target column \"%s\" does not exist in target "
                "table \"%s.%s\"",
                col, e->target_schema, e->target_table);
    else if (tc->generated)
        problem(c, pos, path,
                "target column \"%s\" of \"%s.%s\" is "
                "generated and cannot be written",
                col, e->target_schema, e->target_table);
    return tc;
}

static void
check_uuid(check_t *c, map_pos_t pos, const char *path,
           const map_pg_column_t *tc, const char *why)
{
    if (tc != NULL && strcmp(tc->base.name, "uuid") != 0)
        map_diag_hint(problem(c, pos, path,
                              "target column \"%s\" has type %s, but %s needs "
                              "uuid",
                              tc->name, tc->type, why),
                      "ALTER TABLE ... ALTER COLUMN %s TYPE uuid", tc->name);
}

/* The parent's key width, from the file or its source primary key. */
static void
check_ref_width(check_t *c, const map_entity_t *e, const map_column_t *col,
                size_t parent, const char *path)
{
    size_t n;

    if (c->cfg->entities[parent].n_key > 0 ||
        key_columns(c, parent, &n) == NULL || n == col->n_from)
        return;
    problem(c, col->pos, path,
            "%zu source column(s) for a ref to \"%s\", whose key (its source "
            "primary key) has %zu column(s)",
            col->n_from, c->cfg->entities[parent].name, n);
    (void)e;
}

static void
check_copy(check_t *c, size_t i, const map_column_t *col,
           const map_pg_column_t *tc, const char *path)
{
    const map_pg_column_t *sc;

    if (col->n_from != 1 || tc == NULL || col->n_values > 0 ||
        (sc = map_catalog_column(&c->src[i], col->from[0])) == NULL)
        return;
    if (col->json) {
        if (!map_types_is_text(sc->base) && !map_types_is_json(sc->base))
            problem(c, col->pos, path,
                    "json: true needs a text source column, but \"%s\" has "
                    "type %s",
                    sc->name, sc->type);
        if (!map_types_is_json(tc->base) && !map_types_is_text(tc->base))
            problem(c, col->pos, path,
                    "json: true needs a json or jsonb target column, but "
                    "\"%s\" has type %s",
                    tc->name, tc->type);
        return;
    }
    if (col->n_transforms > 0 && !map_types_is_text(sc->base)) {
        problem(c, col->pos, path,
                "transform needs a text source column, but \"%s\" has type %s",
                sc->name, sc->type);
        return;
    }
    if (!map_types_compatible(
            col->n_transforms ? (map_type_t){"text", 'S'} : sc->base, tc->base))
        map_diag_hint(problem(c, col->pos, path,
                              "cannot copy source column \"%s\" (%s) into "
                              "target column \"%s\" (%s): not every value "
                              "would convert",
                              sc->name, sc->type, tc->name, tc->type),
                      "change the target type, or map the values with "
                      "\"values:\"");
}

static void
check_column(check_t *c, size_t i, const map_column_t *col)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_column_t *tc;
    char path[512];

    snprintf(path, sizeof(path), "entities.%s.columns.%s", e->name, col->name);
    tc = target_column(c, i, col->pos, path, col->name);
    if (col->kind == MAP_COLUMN_COPY) {
        if (c->src[i].exists)
            check_copy(c, i, col, tc, path);
        return;
    }
    check_uuid(c, col->pos, path, tc, "a ref");
    if (tc != NULL && tc->not_null && col->deferred)
        problem(c, col->pos, path,
                "target column \"%s\" is NOT NULL, but a deferred ref writes "
                "NULL first",
                tc->name);
    if (tc != NULL && tc->not_null && col->on_missing == MAP_ON_MISSING_NULL)
        problem(c, col->pos, path,
                "target column \"%s\" is NOT NULL, but on_missing: null "
                "writes NULL",
                tc->name);
    if (col->kind == MAP_COLUMN_REF)
        check_ref_width(c, e, col, col->ref_index, path);
    for (size_t k = 0; k < col->n_cases; k++)
        check_ref_width(c, e, col, col->cases[k].entity_index, path);
}

/* legacy_id_column: exists, takes the key's types, and is unique. */
static void
check_legacy_ids(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const char *const *key;
    size_t n_key;
    char path[512];

    if (e->n_legacy_id_columns == 0)
        return;
    epath(path, sizeof(path), e, "legacy_id_column");
    key = key_columns(c, i, &n_key);
    for (size_t k = 0; k < e->n_legacy_id_columns; k++) {
        const map_pg_column_t *tc = target_column(c, i, e->legacy_id_pos, path,
                                                  e->legacy_id_columns[k]);
        const map_pg_column_t *sc;

        if (tc == NULL || key == NULL || n_key != e->n_legacy_id_columns ||
            !c->src[i].exists ||
            (sc = map_catalog_column(&c->src[i], key[k])) == NULL)
            continue;
        if (!map_types_compatible(sc->base, tc->base))
            problem(c, e->legacy_id_pos, path,
                    "cannot copy key column \"%s\" (%s) into legacy id "
                    "column \"%s\" (%s)",
                    sc->name, sc->type, tc->name, tc->type);
    }
    if (!map_catalog_is_unique(&c->tgt[i], e->legacy_id_columns,
                               e->n_legacy_id_columns))
        map_diag_hint(problem(c, e->legacy_id_pos, path,
                              "legacy id column(s) of target table \"%s.%s\" "
                              "have no unique constraint or unique index",
                              e->target_schema, e->target_table),
                      "ALTER TABLE %s.%s ADD UNIQUE (...the legacy id "
                      "columns...);",
                      e->target_schema, e->target_table);
}

/* Target NOT NULL columns without a default that nothing fills. */
static void
check_unfilled(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_table_t *t = &c->tgt[i];
    char path[512];

    epath(path, sizeof(path), e, "columns");
    for (size_t k = 0; k < t->n_columns; k++) {
        const map_pg_column_t *tc = &t->columns[k];

        if (!tc->not_null || tc->has_default || tc->generated ||
            strcmp(tc->name, e->id_column) == 0 ||
            map_entity_column(e, tc->name) != NULL ||
            in_list(e->legacy_id_columns, e->n_legacy_id_columns, tc->name) ||
            (e->lsn_column != NULL && strcmp(tc->name, e->lsn_column) == 0))
            continue;
        map_diag_hint(problem(c, e->pos, path,
                              "target column \"%s\" of \"%s.%s\" is NOT NULL "
                              "without a default, and nothing fills it",
                              tc->name, e->target_schema, e->target_table),
                      "map it under columns, or give it a default");
    }
}

/* An lsn column holds values up to 2^127: numeric, with no typmod or one
 * of 39 digits or more and no fraction (numeric(40,0)). */
static bool
lsn_type_ok(const map_pg_column_t *tc)
{
    int prec = 0, scale = -1;

    if (strcmp(tc->base.name, "numeric") != 0)
        return false;
    if (strcmp(tc->type, "numeric") == 0)
        return true;
    return sscanf(tc->type, "numeric(%d,%d)", &prec, &scale) == 2 &&
           prec >= 39 && scale == 0;
}

static void
check_target(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_column_t *tc;
    char path[512];

    if (!c->tgt[i].exists) {
        epath(path, sizeof(path), e, "target");
        problem(c, e->target_pos, path, "target table \"%s.%s\" does not exist",
                e->target_schema, e->target_table);
        return;
    }
    epath(path, sizeof(path), e, "id_column");
    tc = target_column(c, i, e->id_column_pos, path, e->id_column);
    check_uuid(c, e->id_column_pos, path, tc, "id_column");
    if (tc != NULL && !map_catalog_is_unique(&c->tgt[i], &e->id_column, 1))
        map_diag_hint(problem(c, e->id_column_pos, path,
                              "id column \"%s\" of \"%s.%s\" is not a primary "
                              "key or unique",
                              e->id_column, e->target_schema, e->target_table),
                      "ALTER TABLE %s.%s ADD PRIMARY KEY (%s);",
                      e->target_schema, e->target_table, e->id_column);
    check_legacy_ids(c, i);
    if (e->delete_mode == MAP_DELETE_SOFT) {
        epath(path, sizeof(path), e, "delete");
        tc = target_column(c, i, e->delete_pos, path, e->soft_delete_column);
        if (tc != NULL && tc->base.category != 'D')
            problem(c, e->delete_pos, path,
                    "soft delete column \"%s\" has type %s (expected a "
                    "timestamp)",
                    tc->name, tc->type);
    }
    if (e->lsn_column != NULL) {
        epath(path, sizeof(path), e, "lsn_column");
        tc = target_column(c, i, e->lsn_pos, path, e->lsn_column);
        if (tc != NULL && !lsn_type_ok(tc))
            map_diag_hint(problem(c, e->lsn_pos, path,
                                  "lsn column \"%s\" has type %s (expected "
                                  "numeric, unconstrained or of at least 39 "
                                  "digits and scale 0: it holds commit LSN * "
                                  "2^64 + change LSN)",
                                  tc->name, tc->type),
                          "ALTER TABLE %s.%s ALTER COLUMN %s TYPE numeric;",
                          e->target_schema, e->target_table, tc->name);
    }
    for (size_t k = 0; k < e->n_columns; k++)
        check_column(c, i, &e->columns[k]);
    check_unfilled(c, i);
}

/* The source columns entity i reads: every from, discriminator and key
 * column, each once, into cols (cap entries); returns how many. */
static size_t
read_columns(check_t *c, size_t i, const char **cols, size_t cap)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const char *const *key;
    size_t n = 0, n_key;

#define ADD(name)                                                              \
    do {                                                                       \
        if (n < cap && !in_list(cols, n, (name)))                              \
            cols[n++] = (name);                                                \
    } while (0)
    key = key_columns(c, i, &n_key);
    for (size_t k = 0; key != NULL && k < n_key; k++)
        ADD(key[k]);
    for (size_t k = 0; k < e->n_columns; k++) {
        const map_column_t *col = &e->columns[k];

        for (size_t f = 0; f < col->n_from; f++)
            ADD(col->from[f]);
        if (col->discriminator != NULL)
            ADD(col->discriminator);
    }
#undef ADD
    return n;
}

/* Without REPLICA IDENTITY FULL, an UPDATE that leaves a TOASTed value
 * unchanged sends it as "absent": the event alone cannot rebuild the row,
 * so a compacted topic loses the value once the older event is gone. */
static void
warn_toast(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_table_t *t = &c->src[i];
    const char *cols[256];
    char names[512] = "", path[512];
    size_t n = read_columns(c, i, cols, 256), found = 0, len = 0;

    if (t->replident == 'f')
        return;
    for (size_t k = 0; k < n; k++) {
        const map_pg_column_t *sc = map_catalog_column(t, cols[k]);
        int w;

        if (sc == NULL || !sc->toastable)
            continue;
        w = snprintf(names + len, sizeof(names) - len, "%s%s",
                     found++ ? ", " : "", sc->name);
        if (w > 0 && (size_t)w < sizeof(names) - len)
            len += (size_t)w;
    }
    if (found == 0)
        return;
    epath(path, sizeof(path), e, "source");
    map_diag_hint(
        warning(c, e->source_pos, path,
                "source table \"%s.%s\" has TOAST-able columns the mapping "
                "reads (%s) and no REPLICA IDENTITY FULL: an UPDATE that "
                "leaves such a value unchanged is published without it "
                "(\"absent\"), so a compacted topic loses the value once "
                "the older event is compacted away, and a rebuild from it "
                "writes NULL",
                e->source_schema, e->source_table, names),
        "ALTER TABLE %s.%s REPLICA IDENTITY FULL; (every UPDATE and DELETE "
        "then logs the whole old row: more WAL)",
        e->source_schema, e->source_table);
}

/* Appends count(*) FILTER (WHERE "c" IN (NaN, Infinity, -Infinity)) for
 * column name to q. */
static bool
append_nan_count(PGconn *src, char *q, size_t cap, const char *name)
{
    char *id = PQescapeIdentifier(src, name, strlen(name));
    size_t len = strlen(q);
    int w;

    if (id == NULL)
        return false;
    w = snprintf(q + len, cap - len,
                 "%scount(*) FILTER (WHERE %s IN ('NaN', 'Infinity', "
                 "'-Infinity'))",
                 len > 7 ? ", " : "", id);
    PQfreemem(id);
    return w > 0 && (size_t)w < cap - len;
}

/* Counts NaN and Infinity in the numeric and float columns entity i reads:
 * wal2json 2.5 streams them as null. */
static void
warn_nan(check_t *c, size_t i)
{
    const map_entity_t *e = &c->cfg->entities[i];
    const map_pg_table_t *t = &c->src[i];
    const char *cols[256];
    const map_pg_column_t *nan[64];
    size_t n = read_columns(c, i, cols, 256), nn = 0;
    char q[8192] = "SELECT ", path[512], *qs, *qt;
    ferry_err_t err = {0, ""};
    PGresult *res = NULL;
    size_t len;

    for (size_t k = 0; k < n && nn < 64; k++) {
        const map_pg_column_t *sc = map_catalog_column(t, cols[k]);

        if (sc != NULL && map_catalog_is_nan_type(sc) &&
            append_nan_count(c->src_conn, q, sizeof(q), sc->name))
            nan[nn++] = sc;
    }
    if (nn == 0)
        return;
    qs = PQescapeIdentifier(c->src_conn, e->source_schema,
                            strlen(e->source_schema));
    qt = PQescapeIdentifier(c->src_conn, e->source_table,
                            strlen(e->source_table));
    len = strlen(q);
    snprintf(q + len, sizeof(q) - len, " FROM %s.%s", qs ? qs : "",
             qt ? qt : "");
    PQfreemem(qs);
    PQfreemem(qt);
    epath(path, sizeof(path), e, "source");
    if (ferry_pg_exec(c->src_conn, q, 0, NULL, &res, NULL,
                      "count NaN and Infinity values", FERRY_PG_ANY_TRANSIENT,
                      &err) != 0) {
        warning(c, e->source_pos, path, "%s", err.msg);
        return;
    }
    for (size_t k = 0; k < nn; k++) {
        const char *cnt = PQgetvalue(res, 0, (int)k);

        if (strcmp(cnt, "0") == 0)
            continue;
        warning(c, e->source_pos, path,
                "source column \"%s\" (%s) of \"%s.%s\" holds %s NaN or "
                "Infinity value(s): wal2json 2.5 streams them as null; "
                "%s",
                nan[k]->name, nan[k]->type, e->source_schema, e->source_table,
                cnt,
                nan[k]->not_null
                    ? "the column is NOT NULL, so ferry-cdc reads such a value "
                      "back from the row (and warns)"
                    : "the column is nullable, so a streamed change cannot "
                      "carry them (the snapshot does): the target gets NULL");
    }
    PQclear(res);
}

/* ferry-cdc's DDL event trigger (docs/setup.md). */
static int
warn_ddl_trigger(check_t *c, ferry_err_t *err)
{
    bool installed;
    int rc = map_catalog_ddl_trigger(c->src_conn, "source", &installed, err);

    if (rc != 0 || installed)
        return rc;
    map_diag_hint(
        warning(c, (map_pos_t){0, 0}, "source",
                "the source has no event trigger writing \"%s\" messages: "
                "ferry-cdc then learns of a schema change only from the "
                "changes after it, and a TOAST-able column dropped less than "
                "a second after its last catalog read of the table can be "
                "published as unchanged (\"absent\") instead of gone, so the "
                "target keeps the old value",
                MAP_CATALOG_DDL_PREFIX),
        "install the event trigger of docs/setup.md (DDL event trigger) on "
        "the source");
    return 0;
}

static int
read_tables(check_t *c, PGconn *src, PGconn *tgt, ferry_err_t *err)
{
    for (size_t i = 0; i < c->cfg->n_entities; i++) {
        const map_entity_t *e = &c->cfg->entities[i];
        int rc;

        if (src) {
            rc = map_catalog_table(src, "source", e->source_schema,
                                   e->source_table, &c->src[i], err);
            if (rc != 0)
                return ferry_err_prefix(err, "source table \"%s.%s\"",
                                        e->source_schema, e->source_table);
        }
        if (tgt) {
            rc = map_catalog_table(tgt, "target", e->target_schema,
                                   e->target_table, &c->tgt[i], err);
            if (rc != 0)
                return ferry_err_prefix(err, "target table \"%s.%s\"",
                                        e->target_schema, e->target_table);
        }
    }
    return 0;
}

int
map_check_run(const map_config_t *cfg, PGconn *src, PGconn *tgt,
              map_diags_t *diags, map_diags_t *warnings, ferry_err_t *err)
{
    check_t c = {
        .cfg = cfg, .diags = diags, .warnings = warnings, .src_conn = src};
    size_t n = cfg->n_entities;
    int rc = FERRY_ENOMEM;

    c.have_src = src != NULL;
    c.have_tgt = tgt != NULL;
    c.src = calloc(n + 1, sizeof(*c.src));
    c.tgt = calloc(n + 1, sizeof(*c.tgt));
    if (c.src == NULL || c.tgt == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory reading the tables of %zu entities", n);
        goto done;
    }
    rc = read_tables(&c, src, tgt, err);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (c.have_src)
            check_source(&c, i);
        if (c.have_tgt)
            check_target(&c, i);
        if (c.have_src && warnings != NULL && c.src[i].exists) {
            warn_toast(&c, i);
            warn_nan(&c, i);
        }
    }
    if (c.have_src && warnings != NULL && (rc = warn_ddl_trigger(&c, err)) != 0)
        goto done;
    if (diags->oom || (warnings != NULL && warnings->oom)) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory recording what the check found");
        goto done;
    }
    rc = 0;

done:
    for (size_t i = 0; c.src && c.tgt && i < n; i++) {
        map_catalog_table_free(&c.src[i]);
        map_catalog_table_free(&c.tgt[i]);
    }
    free(c.src);
    free(c.tgt);
    return rc;
}
