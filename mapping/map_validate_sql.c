/* The row queries of ferry-map validate: mapped content as text, both sides.
 * mapping/map_validate_sql.c
 *
 * The source side replays ferry-sink's value pipeline in SQL, the twin that
 * map_rules.h keeps next to the C (transforms, values, default, JSON check),
 * then casts to the target column's type, so that both sides print a column
 * the same way; the legacy key text comes from there too.  Refs are compared by
 * the parent's legacy key: the source has it in the ref's from columns, the
 * target gets it by joining the ref column to the parent's id and reading
 * the parent's legacy_id_column.  No UUID is computed.
 */
#include "map_validate_int.h"

#include "map_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
map__vsql_ident(ferry_buf_t *b, PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));

    if (q == NULL) {
        b->failed = true;
        return;
    }
    ferry_buf_append_str(b, q);
    PQfreemem(q);
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

/* What the rules' SQL callbacks (map_rules.h) need: the connection that
 * quotes identifiers, the alias of the table the columns are in, and the
 * side that collects the mapping's texts as parameters. */
typedef struct vsql_names {
    PGconn *conn;       /* borrowed: quotes identifiers */
    const char *alias;  /* borrowed: "s", "t" or "p" */
    map__vside_t *side; /* borrowed: takes parameters; NULL for keys */
} vsql_names_t;

/* alias."name" */
static void
names_column(ferry_buf_t *b, const char *name, void *arg)
{
    const vsql_names_t *nm = arg;

    ferry_buf_append_str(b, nm->alias);
    ferry_buf_putc(b, '.');
    map__vsql_ident(b, nm->conn, name);
}

/* $n, the text being the next parameter of the side. */
static void
names_value(ferry_buf_t *b, const char *text, void *arg)
{
    const vsql_names_t *nm = arg;

    if (nm->side == NULL) {
        b->failed = true;
        return;
    }
    ferry_buf_printf(b, "$%d", map__vside_param(nm->side, text));
}

/* alias.col as the legacy key text (map_rules_legacy_key_sql()). */
static void
key_expr(ferry_buf_t *b, PGconn *conn, const char *alias,
         const char *const *cols, size_t n)
{
    vsql_names_t nm = {conn, alias, NULL};
    map_rules_sqlctx_t sx = {names_column, names_value, &nm};

    map_rules_legacy_key_sql(b, cols, n, &sx);
}

static void
table_name(ferry_buf_t *b, PGconn *conn, const char *schema, const char *table)
{
    map__vsql_ident(b, conn, schema);
    ferry_buf_append_lit(b, ".");
    map__vsql_ident(b, conn, table);
}

/* EXISTS: the parent row the from columns name is in the source. */
static void
parent_exists(ferry_buf_t *b, PGconn *conn, const map_entity_t *p,
              const map_column_t *c)
{
    ferry_buf_append_lit(b, "EXISTS (SELECT 1 FROM ");
    table_name(b, conn, p->source_schema, p->source_table);
    ferry_buf_append_lit(b, " p WHERE ");
    for (size_t i = 0; i < p->n_key && i < c->n_from; i++) {
        ferry_buf_printf(b, "%sp.", i ? " AND " : "");
        map__vsql_ident(b, conn, p->key[i]);
        ferry_buf_append_lit(b, " = s.");
        map__vsql_ident(b, conn, c->from[i]);
    }
    ferry_buf_append_lit(b, ")");
}

/* The parent's legacy key as the source expects it in the target: the from
 * columns, or NULL with on_missing: null / deferred when the parent row is
 * not in the source (the sink writes NULL then). */
static void
source_ref_key(ferry_buf_t *b, PGconn *conn, const map_config_t *cfg,
               const map_column_t *c, size_t parent)
{
    bool nullable = c->deferred || c->on_missing == MAP_ON_MISSING_NULL;

    if (nullable) {
        ferry_buf_append_lit(b, "CASE WHEN ");
        parent_exists(b, conn, &cfg->entities[parent], c);
        ferry_buf_append_lit(b, " THEN ");
    }
    key_expr(b, conn, "s", c->from, c->n_from);
    if (nullable)
        ferry_buf_append_lit(b, " END");
}

/* A copy column: the sink's value pipeline in SQL (map_rules_value_sql()),
 * then the cast to the target type and back to text. */
static void
source_copy(ferry_buf_t *b, map__vside_t *s, PGconn *conn,
            const map_column_t *c, const map__vtype_t *type)
{
    vsql_names_t nm = {conn, "s", s};
    map_rules_sqlctx_t sx = {names_column, names_value, &nm};
    ferry_buf_t v = {0};

    map_rules_value_sql(&v, c, &sx);
    if (v.failed)
        b->failed = true;
    else if (type->cast != NULL)
        ferry_buf_printf(b, "(%s)::%s::text", ferry_buf_cstr(&v), type->cast);
    else
        ferry_buf_append_str(b, ferry_buf_cstr(&v));
    ferry_buf_close(&v);
}

static void
source_column(ferry_buf_t *b, map__vside_t *s, PGconn *conn,
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
    ferry_buf_append_lit(b, "CASE s.");
    map__vsql_ident(b, conn, c->discriminator);
    ferry_buf_append_lit(b, "::text");
    for (size_t i = 0; i < c->n_cases; i++) {
        ferry_buf_printf(b, " WHEN $%d::text THEN '%zu:' || ",
                         map__vside_param(s, c->cases[i].value),
                         c->cases[i].entity_index);
        source_ref_key(b, conn, cfg, c, c->cases[i].entity_index);
    }
    ferry_buf_append_lit(b, " END");
}

/* The row query's head and tail: key, bucket, columns, table, filter. */
static void
rows_head(ferry_buf_t *b, const char *key, int nb_param)
{
    ferry_buf_printf(b,
                     "SELECT %s AS k, ((('x' || substr(md5(%s), 1, 8))::bit(32)"
                     "::bigint) %% $%d::bigint) AS b",
                     key, key, nb_param);
}

static char *
finish(ferry_buf_t *b, map__vside_t *s)
{
    char *text = ferry_buf_take(b);

    if (text == NULL)
        s->oom = true;
    return text;
}

int
map__vside_source(const map_config_t *cfg, const map_entity_t *e, PGconn *conn,
                  const map__vtype_t *types, const char *parked_keys,
                  map__vside_t *out, ferry_err_t *err)
{
    ferry_buf_t key = {0}, cols = {0}, tab = {0}, b = {0}, cnt = {0};
    int parked = 0;

    memset(out, 0, sizeof(*out));
    (void)err;
    key_expr(&key, conn, "s", e->key, e->n_key);
    for (size_t i = 0; i < e->n_columns; i++) {
        ferry_buf_append_lit(&cols, ", ");
        source_column(&cols, out, conn, cfg, &e->columns[i], &types[i]);
        ferry_buf_printf(&cols, " AS c%zu", i);
    }
    table_name(&tab, conn, e->source_schema, e->source_table);
    ferry_buf_printf(&cnt, "SELECT count(*) FROM %s s", ferry_buf_cstr(&tab));
    if (parked_keys != NULL)
        parked = map__vside_param(out, parked_keys);
    out->n_cols = e->n_columns;
    rows_head(&b, ferry_buf_cstr(&key), out->n_params + 1);
    ferry_buf_printf(&b, "%s FROM %s s", ferry_buf_cstr(&cols),
                     ferry_buf_cstr(&tab));
    if (parked > 0)
        ferry_buf_printf(&b,
                         " WHERE NOT EXISTS (SELECT 1 FROM unnest($%d::text[]) "
                         "x(k) WHERE x.k = %s)",
                         parked, ferry_buf_cstr(&key));
    if (key.failed || cols.failed || tab.failed)
        b.failed = true;
    out->rows = finish(&b, out);
    out->count = finish(&cnt, out);
    out->n_count_params = 0;
    ferry_buf_close(&key);
    ferry_buf_close(&cols);
    ferry_buf_close(&tab);
    return out->oom ? FERRY_ENOMEM : 0;
}

/* The target's ref column as the parent's legacy key ("i:" prefixed for a
 * conditional ref); "?<uuid>" when it points at no row. */
static int
target_ref(ferry_buf_t *b, PGconn *conn, const map_config_t *cfg,
           const map_column_t *c, ferry_err_t *err)
{
    size_t n = c->kind == MAP_COLUMN_REF ? 1 : c->n_cases;

    ferry_buf_append_lit(b, "CASE WHEN t.");
    map__vsql_ident(b, conn, c->name);
    ferry_buf_append_lit(b, " IS NULL THEN NULL ELSE COALESCE(");
    for (size_t i = 0; i < n; i++) {
        size_t pi =
            c->kind == MAP_COLUMN_REF ? c->ref_index : c->cases[i].entity_index;
        const map_entity_t *p = &cfg->entities[pi];

        if (p->n_legacy_id_columns == 0)
            return ferry_err_set(err, FERRY_ECONFIG,
                                 "column \"%s\" refers to entity \"%s\", "
                                 "which has no legacy_id_column",
                                 c->name, p->name);
        ferry_buf_append_lit(b, "(SELECT ");
        if (c->kind == MAP_COLUMN_COND_REF)
            ferry_buf_printf(b, "'%zu:' || ", pi);
        key_expr(b, conn, "p", p->legacy_id_columns, p->n_legacy_id_columns);
        ferry_buf_append_lit(b, " FROM ");
        table_name(b, conn, p->target_schema, p->target_table);
        ferry_buf_append_lit(b, " p WHERE p.");
        map__vsql_ident(b, conn, p->id_column);
        ferry_buf_append_lit(b, " = t.");
        map__vsql_ident(b, conn, c->name);
        ferry_buf_append_lit(b, "), ");
    }
    ferry_buf_append_lit(b, "'?' || t.");
    map__vsql_ident(b, conn, c->name);
    ferry_buf_append_lit(b, "::text) END");
    return 0;
}

/* WHERE of the target side: rows ferry owns, not soft-deleted. */
static void
target_filter(ferry_buf_t *b, PGconn *conn, const map_entity_t *e)
{
    for (size_t i = 0; i < e->n_legacy_id_columns; i++) {
        ferry_buf_printf(b, "%st.", i ? " AND " : " WHERE ");
        map__vsql_ident(b, conn, e->legacy_id_columns[i]);
        ferry_buf_append_lit(b, " IS NOT NULL");
    }
    if (e->delete_mode == MAP_DELETE_SOFT) {
        ferry_buf_append_lit(b, " AND t.");
        map__vsql_ident(b, conn, e->soft_delete_column);
        ferry_buf_append_lit(b, " IS NULL");
    }
}

int
map__vside_target(const map_config_t *cfg, const map_entity_t *e, PGconn *conn,
                  const char *state_schema, map__vside_t *out, ferry_err_t *err)
{
    ferry_buf_t key = {0}, cols = {0}, tab = {0}, where = {0}, b = {0},
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

        ferry_buf_append_lit(&cols, ", ");
        if (c->kind == MAP_COLUMN_COPY) {
            ferry_buf_append_lit(&cols, "t.");
            map__vsql_ident(&cols, conn, c->name);
            ferry_buf_append_lit(&cols, "::text");
        } else {
            rc = target_ref(&cols, conn, cfg, c, err);
        }
        ferry_buf_printf(&cols, " AS c%zu", i);
    }
    table_name(&tab, conn, e->target_schema, e->target_table);
    target_filter(&where, conn, e);
    ferry_buf_printf(&cnt, "SELECT count(*) FROM %s t%s", ferry_buf_cstr(&tab),
                     ferry_buf_cstr(&where));
    if (state_schema != NULL) {
        int en = map__vside_param(out, e->name);

        ferry_buf_append_lit(&where, " AND NOT EXISTS (SELECT 1 FROM ");
        map__vsql_ident(&where, conn, state_schema);
        ferry_buf_printf(
            &where, ".parked x WHERE x.entity = $%d AND x.legacy_key = %s)", en,
            ferry_buf_cstr(&key));
    }
    out->n_cols = e->n_columns;
    rows_head(&b, ferry_buf_cstr(&key), out->n_params + 1);
    ferry_buf_printf(&b, "%s FROM %s t%s", ferry_buf_cstr(&cols),
                     ferry_buf_cstr(&tab), ferry_buf_cstr(&where));
    if (key.failed || cols.failed || tab.failed || where.failed)
        b.failed = true;
    out->rows = finish(&b, out);
    out->count = finish(&cnt, out);
    out->n_count_params = 0;
    ferry_buf_close(&key);
    ferry_buf_close(&cols);
    ferry_buf_close(&tab);
    ferry_buf_close(&where);
    if (rc != 0)
        return rc;
    return out->oom ? FERRY_ENOMEM : 0;
}

void
map__vsql_hashed(ferry_buf_t *b, const map__vside_t *s)
{
    ferry_buf_append_lit(b, "SELECT k, b, md5(concat_ws(',', quote_literal(k)");
    for (size_t i = 0; i < s->n_cols; i++)
        ferry_buf_printf(b, ", quote_nullable(c%zu)", i);
    ferry_buf_printf(b, ")) AS h FROM (%s) r", s->rows ? s->rows : "");
}
