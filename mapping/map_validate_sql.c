/* The row queries of ferry-map validate: mapped content as text, both sides.
 * mapping/map_validate_sql.c
 *
 * The source side replays ferry-sink's value pipeline in SQL (transforms,
 * values, default, JSON check, then the cast to the target column's type) so
 * that both sides print a column the same way.  Refs are compared by the
 * parent's legacy key: the source has it in the ref's from columns, the
 * target gets it by joining the ref column to the parent's id and reading
 * the parent's legacy_id_column.  No UUID is computed.
 */
#include "map_validate_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const map__vjson_fn_sql =
    "CREATE OR REPLACE FUNCTION pg_temp.ferry_json_or_null(v text) "
    "RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$ "
    "BEGIN PERFORM v::json; RETURN v; "
    "EXCEPTION WHEN others THEN RETURN NULL; END $f$";

void
map__vsql_add(map__vsql_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        size_t room = b->cap - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->s != NULL && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t cap = b->cap ? b->cap : 256;
            char *p;

            while (cap - b->len <= (size_t)n)
                cap *= 2;
            p = realloc(b->s, cap);
            if (p == NULL) {
                b->oom = true;
                return;
            }
            b->s = p;
            b->cap = cap;
        }
    }
}

void
map__vsql_ident(map__vsql_t *b, PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));

    if (q == NULL) {
        b->oom = true;
        return;
    }
    map__vsql_add(b, "%s", q);
    PQfreemem(q);
}

void
map__vsql_free(map__vsql_t *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

int
map__vside_param(map__vside_t *s, const char *value)
{
    if (s->n_params == s->cap_params) {
        int cap = s->cap_params ? s->cap_params * 2 : 16;
        const char **p = realloc(s->params, (size_t)cap * sizeof(*p));

        if (p == NULL) {
            s->oom = true;
            return 0;
        }
        s->params = p;
        s->cap_params = cap;
    }
    s->params[s->n_params++] = value;
    return s->n_params;
}

void
map__vside_free(map__vside_t *s)
{
    free(s->rows);
    free(s->count);
    free(s->params);
    memset(s, 0, sizeof(*s));
}

/* alias.col as the legacy key text: each value's \ and , escaped by \,
 * joined by ","; NULL when any value is NULL. */
static void
key_expr(map__vsql_t *b, PGconn *conn, const char *alias,
         const char *const *cols, size_t n)
{
    map__vsql_add(b, "(");
    for (size_t i = 0; i < n; i++) {
        map__vsql_add(b, "%sreplace(replace(%s.", i ? " || ',' || " : "",
                      alias);
        map__vsql_ident(b, conn, cols[i]);
        map__vsql_add(b, "::text, E'\\\\', E'\\\\\\\\'), ',', E'\\\\,')");
    }
    map__vsql_add(b, ")");
}

static void
table_name(map__vsql_t *b, PGconn *conn, const char *schema, const char *table)
{
    map__vsql_ident(b, conn, schema);
    map__vsql_add(b, ".");
    map__vsql_ident(b, conn, table);
}

/* EXISTS: the parent row the from columns name is in the source. */
static void
parent_exists(map__vsql_t *b, PGconn *conn, const map_entity_t *p,
              const map_column_t *c)
{
    map__vsql_add(b, "EXISTS (SELECT 1 FROM ");
    table_name(b, conn, p->source_schema, p->source_table);
    map__vsql_add(b, " p WHERE ");
    for (size_t i = 0; i < p->n_key && i < c->n_from; i++) {
        map__vsql_add(b, "%sp.", i ? " AND " : "");
        map__vsql_ident(b, conn, p->key[i]);
        map__vsql_add(b, " = s.");
        map__vsql_ident(b, conn, c->from[i]);
    }
    map__vsql_add(b, ")");
}

/* The parent's legacy key as the source expects it in the target: the from
 * columns, or NULL with on_missing: null / deferred when the parent row is
 * not in the source (the sink writes NULL then). */
static void
source_ref_key(map__vsql_t *b, PGconn *conn, const map_config_t *cfg,
               const map_column_t *c, size_t parent)
{
    bool nullable = c->deferred || c->on_missing == MAP_ON_MISSING_NULL;

    if (nullable) {
        map__vsql_add(b, "CASE WHEN ");
        parent_exists(b, conn, &cfg->entities[parent], c);
        map__vsql_add(b, " THEN ");
    }
    key_expr(b, conn, "s", c->from, c->n_from);
    if (nullable)
        map__vsql_add(b, " END");
}

static void
source_copy(map__vsql_t *b, map__vside_t *s, PGconn *conn,
            const map_column_t *c, const map__vtype_t *type)
{
    map__vsql_t v = {0};

    if (c->n_from > 0) {
        map__vsql_add(&v, "s.");
        map__vsql_ident(&v, conn, c->from[0]);
        map__vsql_add(&v, "::text");
    } else {
        map__vsql_add(&v, "NULL::text");
    }
    for (size_t i = 0; i < c->n_transforms && !v.oom; i++) {
        map__vsql_t w = {0};

        switch (c->transforms[i]) {
        case MAP_TRANSFORM_TRIM:
            map__vsql_add(&w, "btrim(%s, E' \\t\\n\\r\\f\\x0b')", v.s);
            break;
        case MAP_TRANSFORM_LOWER:
            map__vsql_add(&w,
                          "translate(%s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
                          "'abcdefghijklmnopqrstuvwxyz')",
                          v.s);
            break;
        case MAP_TRANSFORM_UPPER:
            map__vsql_add(&w,
                          "translate(%s, 'abcdefghijklmnopqrstuvwxyz', "
                          "'ABCDEFGHIJKLMNOPQRSTUVWXYZ')",
                          v.s);
            break;
        case MAP_TRANSFORM_NULLIF_EMPTY:
            map__vsql_add(&w, "NULLIF(%s, '')", v.s);
            break;
        }
        map__vsql_free(&v);
        v = w;
    }
    if (c->n_values > 0 && !v.oom) {
        map__vsql_t w = {0};

        map__vsql_add(&w, "CASE %s", v.s);
        for (size_t i = 0; i < c->n_values; i++) {
            int k = map__vside_param(s, c->values[i].key);

            if (c->values[i].value == NULL)
                map__vsql_add(&w, " WHEN $%d::text THEN NULL", k);
            else
                map__vsql_add(&w, " WHEN $%d::text THEN $%d::text", k,
                              map__vside_param(s, c->values[i].value));
        }
        map__vsql_add(&w, " ELSE %s END", v.s);
        map__vsql_free(&v);
        v = w;
    }
    if (c->default_value != NULL && !v.oom) {
        map__vsql_t w = {0};

        map__vsql_add(&w, "COALESCE(%s, $%d::text)", v.s,
                      map__vside_param(s, c->default_value));
        map__vsql_free(&v);
        v = w;
    }
    if (c->json && !v.oom) {
        map__vsql_t w = {0};

        map__vsql_add(&w, "pg_temp.ferry_json_or_null(%s)", v.s);
        map__vsql_free(&v);
        v = w;
    }
    if (v.oom)
        b->oom = true;
    else if (type->cast != NULL)
        map__vsql_add(b, "(%s)::%s::text", v.s, type->cast);
    else
        map__vsql_add(b, "%s", v.s);
    map__vsql_free(&v);
}

static void
source_column(map__vsql_t *b, map__vside_t *s, PGconn *conn,
              const map_config_t *cfg, const map_column_t *c,
              const map__vtype_t *type)
{
    if (c->kind == MAP_COLUMN_COPY) {
        source_copy(b, s, conn, c, type);
        return;
    }
    if (c->kind == MAP_COLUMN_REF) {
        source_ref_key(b, conn, cfg, c, c->ref_index);
        return;
    }
    map__vsql_add(b, "CASE s.");
    map__vsql_ident(b, conn, c->discriminator);
    map__vsql_add(b, "::text");
    for (size_t i = 0; i < c->n_cases; i++) {
        map__vsql_add(b, " WHEN $%d::text THEN '%zu:' || ",
                      map__vside_param(s, c->cases[i].value),
                      c->cases[i].entity_index);
        source_ref_key(b, conn, cfg, c, c->cases[i].entity_index);
    }
    map__vsql_add(b, " END");
}

/* The row query's head and tail: key, bucket, columns, table, filter. */
static void
rows_head(map__vsql_t *b, const char *key, int nb_param)
{
    map__vsql_add(b,
                  "SELECT %s AS k, ((('x' || substr(md5(%s), 1, 8))::bit(32)"
                  "::bigint) %% $%d::bigint) AS b",
                  key, key, nb_param);
}

static char *
finish(map__vsql_t *b, map__vside_t *s)
{
    if (b->oom) {
        s->oom = true;
        map__vsql_free(b);
        return NULL;
    }
    return b->s;
}

int
map__vside_source(const map_config_t *cfg, const map_entity_t *e, PGconn *conn,
                  const map__vtype_t *types, const char *parked_keys,
                  map__vside_t *out, ferry_err_t *err)
{
    map__vsql_t key = {0}, cols = {0}, tab = {0}, b = {0}, cnt = {0};
    int parked = 0;

    memset(out, 0, sizeof(*out));
    (void)err;
    key_expr(&key, conn, "s", e->key, e->n_key);
    for (size_t i = 0; i < e->n_columns; i++) {
        map__vsql_add(&cols, ", ");
        source_column(&cols, out, conn, cfg, &e->columns[i], &types[i]);
        map__vsql_add(&cols, " AS c%zu", i);
    }
    table_name(&tab, conn, e->source_schema, e->source_table);
    map__vsql_add(&cnt, "SELECT count(*) FROM %s s", tab.s ? tab.s : "");
    if (parked_keys != NULL)
        parked = map__vside_param(out, parked_keys);
    out->n_cols = e->n_columns;
    rows_head(&b, key.s ? key.s : "", out->n_params + 1);
    map__vsql_add(&b, "%s FROM %s s", cols.s ? cols.s : "", tab.s ? tab.s : "");
    if (parked > 0)
        map__vsql_add(&b,
                      " WHERE NOT EXISTS (SELECT 1 FROM unnest($%d::text[]) "
                      "x(k) WHERE x.k = %s)",
                      parked, key.s ? key.s : "");
    if (key.oom || cols.oom || tab.oom)
        b.oom = true;
    out->rows = finish(&b, out);
    out->count = finish(&cnt, out);
    out->n_count_params = 0;
    map__vsql_free(&key);
    map__vsql_free(&cols);
    map__vsql_free(&tab);
    return out->oom ? FERRY_ENOMEM : 0;
}

/* The target's ref column as the parent's legacy key ("i:" prefixed for a
 * conditional ref); "?<uuid>" when it points at no row. */
static int
target_ref(map__vsql_t *b, PGconn *conn, const map_config_t *cfg,
           const map_column_t *c, ferry_err_t *err)
{
    size_t n = c->kind == MAP_COLUMN_REF ? 1 : c->n_cases;

    map__vsql_add(b, "CASE WHEN t.");
    map__vsql_ident(b, conn, c->name);
    map__vsql_add(b, " IS NULL THEN NULL ELSE COALESCE(");
    for (size_t i = 0; i < n; i++) {
        size_t pi =
            c->kind == MAP_COLUMN_REF ? c->ref_index : c->cases[i].entity_index;
        const map_entity_t *p = &cfg->entities[pi];

        if (p->n_legacy_id_columns == 0)
            return ferry_err_set(err, FERRY_ECONFIG,
                                 "column \"%s\" refers to entity \"%s\", "
                                 "which has no legacy_id_column",
                                 c->name, p->name);
        map__vsql_add(b, "(SELECT ");
        if (c->kind == MAP_COLUMN_COND_REF)
            map__vsql_add(b, "'%zu:' || ", pi);
        key_expr(b, conn, "p", p->legacy_id_columns, p->n_legacy_id_columns);
        map__vsql_add(b, " FROM ");
        table_name(b, conn, p->target_schema, p->target_table);
        map__vsql_add(b, " p WHERE p.");
        map__vsql_ident(b, conn, p->id_column);
        map__vsql_add(b, " = t.");
        map__vsql_ident(b, conn, c->name);
        map__vsql_add(b, "), ");
    }
    map__vsql_add(b, "'?' || t.");
    map__vsql_ident(b, conn, c->name);
    map__vsql_add(b, "::text) END");
    return 0;
}

/* WHERE of the target side: rows ferry owns, not soft-deleted. */
static void
target_filter(map__vsql_t *b, PGconn *conn, const map_entity_t *e)
{
    for (size_t i = 0; i < e->n_legacy_id_columns; i++) {
        map__vsql_add(b, "%st.", i ? " AND " : " WHERE ");
        map__vsql_ident(b, conn, e->legacy_id_columns[i]);
        map__vsql_add(b, " IS NOT NULL");
    }
    if (e->delete_mode == MAP_DELETE_SOFT) {
        map__vsql_add(b, " AND t.");
        map__vsql_ident(b, conn, e->soft_delete_column);
        map__vsql_add(b, " IS NULL");
    }
}

int
map__vside_target(const map_config_t *cfg, const map_entity_t *e, PGconn *conn,
                  const char *state_schema, map__vside_t *out, ferry_err_t *err)
{
    map__vsql_t key = {0}, cols = {0}, tab = {0}, where = {0}, b = {0},
                cnt = {0};
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (e->n_legacy_id_columns == 0)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "no legacy_id_column: the target does not say "
                             "which legacy row a row holds");
    key_expr(&key, conn, "t", e->legacy_id_columns, e->n_legacy_id_columns);
    for (size_t i = 0; i < e->n_columns && rc == 0; i++) {
        const map_column_t *c = &e->columns[i];

        map__vsql_add(&cols, ", ");
        if (c->kind == MAP_COLUMN_COPY) {
            map__vsql_add(&cols, "t.");
            map__vsql_ident(&cols, conn, c->name);
            map__vsql_add(&cols, "::text");
        } else {
            rc = target_ref(&cols, conn, cfg, c, err);
        }
        map__vsql_add(&cols, " AS c%zu", i);
    }
    table_name(&tab, conn, e->target_schema, e->target_table);
    target_filter(&where, conn, e);
    map__vsql_add(&cnt, "SELECT count(*) FROM %s t%s", tab.s ? tab.s : "",
                  where.s ? where.s : "");
    if (state_schema != NULL) {
        int en = map__vside_param(out, e->name);

        map__vsql_add(&where, " AND NOT EXISTS (SELECT 1 FROM ");
        map__vsql_ident(&where, conn, state_schema);
        map__vsql_add(&where,
                      ".parked x WHERE x.entity = $%d AND x.legacy_key = %s)",
                      en, key.s ? key.s : "");
    }
    out->n_cols = e->n_columns;
    rows_head(&b, key.s ? key.s : "", out->n_params + 1);
    map__vsql_add(&b, "%s FROM %s t%s", cols.s ? cols.s : "",
                  tab.s ? tab.s : "", where.s ? where.s : "");
    if (key.oom || cols.oom || tab.oom || where.oom)
        b.oom = true;
    out->rows = finish(&b, out);
    out->count = finish(&cnt, out);
    out->n_count_params = 0;
    map__vsql_free(&key);
    map__vsql_free(&cols);
    map__vsql_free(&tab);
    map__vsql_free(&where);
    if (rc != 0)
        return rc;
    return out->oom ? FERRY_ENOMEM : 0;
}

void
map__vsql_hashed(map__vsql_t *b, const map__vside_t *s)
{
    map__vsql_add(b, "SELECT k, b, md5(concat_ws(',', quote_literal(k)");
    for (size_t i = 0; i < s->n_cols; i++)
        map__vsql_add(b, ", quote_nullable(c%zu)", i);
    map__vsql_add(b, ")) AS h FROM (%s) r", s->rows ? s->rows : "");
}
