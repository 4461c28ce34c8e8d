/* ferry-map validate: checksums per key bucket, then drill into differences.
 * mapping/map_validate.c
 *
 * Per entity: count both sides, checksum both sides per bucket of legacy keys
 * (md5 of the ordered row hashes, computed in each database), fetch keys and
 * row hashes only of the buckets that differ, name missing, extra and
 * changed keys, then fetch the columns of at most `limit` changed rows to
 * name the columns.  Parked rows (state_schema.parked) are left out of the
 * comparison on both sides and reported on their own.
 */
#include "map_validate_int.h"

#include "ferry_pg.h"
#include "map_rules.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Everything one run shares. */
typedef struct vctx {
    const map_config_t *cfg; /* borrowed: the model */
    PGconn *src;             /* borrowed: the source */
    PGconn *tgt;             /* borrowed: the target */
    long long bucket_rows;   /* rows per bucket */
    size_t limit;            /* listed rows per kind */
    bool state;              /* state_schema.parked and errors exist */
} vctx_t;

/* A differing key found by the drill-down. */
typedef struct vdiff {
    char *key;           /* owned */
    enum map_vkind kind; /* missing, extra or changed */
    char *columns;       /* owned, changed rows only */
    char *error;         /* owned, from state_schema.errors */
} vdiff_t;

/* A growing array of differing keys, in key order. */
typedef struct vdiffs {
    vdiff_t *v; /* owned */
    size_t n;   /* used */
    size_t cap; /* allocated */
} vdiffs_t;

/* Runs sql; returns the new result, or NULL with err set.  Any failure
 * is transient: validate compares in one snapshot and starts over. */
static PGresult *
run(PGconn *conn, const char *sql, int n, const char *const *params,
    const char *what, ferry_err_t *err)
{
    PGresult *res;

    if (ferry_pg_exec(conn, sql, n, params, &res, NULL, what,
                      FERRY_PG_ANY_TRANSIENT, err) != 0)
        return NULL;
    return res;
}

const char *
map_vkind_name(enum map_vkind k)
{
    static const char *const names[] = {"missing", "extra", "changed",
                                        "parked",  "stuck", "blocked"};

    return (unsigned)k < MAP_VKIND_COUNT ? names[k] : "?";
}

/* Appends s as an element of a PostgreSQL array literal. */
static void
array_elem(ferry_buf_t *b, const char *s)
{
    if (b->len > 1)
        ferry_buf_putc(b, ',');
    ferry_buf_putc(b, '"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            ferry_buf_putc(b, '\\');
        ferry_buf_putc(b, *s);
    }
    ferry_buf_putc(b, '"');
}

static int
diffs_add(vdiffs_t *d, const char *key, enum map_vkind kind)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        vdiff_t *p = realloc(d->v, cap * sizeof(*p));

        if (p == NULL)
            return FERRY_ENOMEM;
        d->v = p;
        d->cap = cap;
    }
    memset(&d->v[d->n], 0, sizeof(d->v[d->n]));
    d->v[d->n].kind = kind;
    if ((d->v[d->n].key = strdup(key)) == NULL)
        return FERRY_ENOMEM;
    d->n++;
    return 0;
}

static void
diffs_free(vdiffs_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].key);
        free(d->v[i].columns);
        free(d->v[i].error);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

static vdiff_t *
diffs_find(vdiffs_t *d, const char *key)
{
    size_t lo = 0, hi = d->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(d->v[mid].key, key);

        if (c == 0)
            return &d->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Runs query q of side s with extra parameters (bucket count, filter). */
static PGresult *
side_query(PGconn *conn, const map__vside_t *s, const char *q, const char *nb,
           const char *filter, const char *what, ferry_err_t *err)
{
    const char **p = calloc((size_t)s->n_params + 2, sizeof(*p));
    PGresult *res;
    int n = s->n_params;

    if (p == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory preparing the query to %s", what);
        return NULL;
    }
    if (n > 0)
        memcpy(p, s->params, (size_t)n * sizeof(*p));
    p[n++] = nb;
    if (filter != NULL)
        p[n++] = filter;
    res = run(conn, q, n, p, what, err);
    free(p);
    return res;
}

/* The target column types, for the source side's casts. */
static int
load_types(vctx_t *cx, const map_entity_t *e, map__vtype_t *types,
           char **problem, ferry_err_t *err)
{
    static const char *const sql =
        "SELECT a.attname, CASE WHEN bn.nspname = 'pg_catalog' THEN "
        "pg_catalog.format_type(COALESCE(bt.oid, t.oid), CASE WHEN "
        "t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) END "
        "FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
        "LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' "
        "     AND bt.oid = t.typbasetype "
        "JOIN pg_catalog.pg_namespace bn "
        "  ON bn.oid = COALESCE(bt.typnamespace, t.typnamespace) "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 "
        "  AND NOT a.attisdropped";
    const char *params[2] = {e->target_schema, e->target_table};
    PGresult *res =
        run(cx->tgt, sql, 2, params, "read the target catalog", err);
    char msg[512];

    if (res == NULL)
        return FERRY_ETRANSIENT;
    msg[0] = '\0';
    if (PQntuples(res) == 0)
        snprintf(msg, sizeof(msg), "target table %s.%s does not exist",
                 e->target_schema, e->target_table);
    for (size_t i = 0; i < e->n_columns && msg[0] == '\0'; i++) {
        for (int r = 0; r < PQntuples(res); r++) {
            if (strcmp(PQgetvalue(res, r, 0), e->columns[i].name) != 0)
                continue;
            types[i].found = true;
            if (!PQgetisnull(res, r, 1) &&
                (types[i].cast = strdup(PQgetvalue(res, r, 1))) == NULL) {
                PQclear(res);
                return ferry_err_set(err, FERRY_ENOMEM,
                                     "out of memory reading the type of "
                                     "target column \"%s\"",
                                     e->columns[i].name);
            }
        }
        if (!types[i].found)
            snprintf(msg, sizeof(msg), "target column \"%s\" does not exist",
                     e->columns[i].name);
    }
    PQclear(res);
    if (msg[0] != '\0' && (*problem = strdup(msg)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory reporting that %s", msg);
    return 0;
}

/* The parked rows of entity e: counted, listed in parked (the missing
 * entity in columns; for a delete blocked by rows the mapping does not
 * know, the blocking tables), stuck ones found (their parent is in the
 * target), and their keys as an array literal for the source side.  The
 * newest parked row of a key says what the key is. */
static int
load_parked(vctx_t *cx, const map_entity_t *e, map_ventity_t *out,
            vdiffs_t *parked, char **keys, ferry_err_t *err)
{
    size_t ne = cx->cfg->n_entities;
    ferry_buf_t q = {0}, arr = {0};
    const char **pp = calloc(ne + 1, sizeof(*pp));
    PGresult *res = NULL;
    int rc = 0;

    *keys = NULL;
    if (pp == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory reading the parked rows");
    pp[0] = e->name;
    ferry_buf_append_lit(&q, "SELECT DISTINCT ON (x.legacy_key COLLATE \"C\") "
                             "x.legacy_key, CASE WHEN x.waits_for = "
                             "'children' AND x.blocked_by IS NOT NULL THEN "
                             "x.blocked_by ELSE x.missing_entity END, CASE "
                             "WHEN x.waits_for = 'children' AND "
                             "x.blocked_by IS NOT NULL THEN 'b'");
    for (size_t i = 0; i < ne; i++) {
        const map_entity_t *p = &cx->cfg->entities[i];

        pp[i + 1] = p->name;
        ferry_buf_printf(&q,
                         " WHEN x.missing_entity = $%zu AND EXISTS "
                         "(SELECT 1 FROM ",
                         i + 2);
        map__vsql_ident(&q, cx->tgt, p->target_schema);
        ferry_buf_append_lit(&q, ".");
        map__vsql_ident(&q, cx->tgt, p->target_table);
        ferry_buf_append_lit(&q, " y WHERE y.");
        map__vsql_ident(&q, cx->tgt, p->id_column);
        ferry_buf_append_lit(&q, " = x.missing_uuid) THEN 't'");
    }
    ferry_buf_append_lit(&q, " ELSE 'f' END FROM ");
    map__vsql_ident(&q, cx->tgt, cx->cfg->state_schema);
    ferry_buf_append_lit(&q, ".parked x WHERE x.entity = $1 "
                             "ORDER BY x.legacy_key COLLATE \"C\", x.id DESC");
    if ((rc = ferry_buf_status(&q, err,
                               "building the query of the parked rows")) == 0 &&
        (res = run(cx->tgt, ferry_buf_cstr(&q), (int)ne + 1, pp,
                   "read the parked rows", err)) == NULL)
        rc = err->status;
    free(pp);
    ferry_buf_close(&q);
    if (rc != 0)
        return rc;
    ferry_buf_append_lit(&arr, "{");
    for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
        char c = PQgetvalue(res, r, 2)[0];
        enum map_vkind k = c == 't'   ? MAP_VKIND_STUCK
                           : c == 'b' ? MAP_VKIND_BLOCKED
                                      : MAP_VKIND_PARKED;

        out->n[k]++;
        array_elem(&arr, PQgetvalue(res, r, 0));
        if ((rc = diffs_add(parked, PQgetvalue(res, r, 0), k)) == 0 &&
            (parked->v[parked->n - 1].columns =
                 strdup(PQgetvalue(res, r, 1))) == NULL)
            rc = FERRY_ENOMEM;
    }
    ferry_buf_append_lit(&arr, "}");
    PQclear(res);
    if (rc != 0)
        rc = ferry_err_set(err, rc, "out of memory listing the parked rows");
    else if ((rc = ferry_buf_status(
                  &arr, err, "listing the keys of the parked rows")) == 0 &&
             (*keys = ferry_buf_take(&arr)) == NULL)
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory listing the keys of the parked "
                           "rows");
    ferry_buf_close(&arr);
    return rc;
}

/* Bucket checksums of one side: rows of (b, count, md5) ordered by b. */
static PGresult *
checksums(PGconn *conn, const map__vside_t *s, const char *nb, ferry_err_t *err)
{
    ferry_buf_t q = {0};
    PGresult *res;

    ferry_buf_append_lit(&q,
                         "SELECT b, count(*), md5(string_agg(h, '' ORDER BY k "
                         "COLLATE \"C\")) FROM (");
    map__vsql_hashed(&q, s);
    ferry_buf_append_lit(&q, ") x GROUP BY b ORDER BY b");
    res = ferry_buf_status(&q, err, "building the checksum query") == 0
              ? side_query(conn, s, ferry_buf_cstr(&q), nb, NULL,
                           "compute checksums", err)
              : NULL;
    ferry_buf_close(&q);
    return res;
}

/* Compares the bucket checksums; fills a bigint[] literal of the differing
 * buckets and counts them. */
static void
diff_buckets(PGresult *a, PGresult *b, ferry_buf_t *arr, long long *n)
{
    int i = 0, j = 0, na = PQntuples(a), nb = PQntuples(b);

    ferry_buf_append_lit(arr, "{");
    while (i < na || j < nb) {
        long long ba = i < na ? atoll(PQgetvalue(a, i, 0)) : -1;
        long long bb = j < nb ? atoll(PQgetvalue(b, j, 0)) : -1;
        long long which;

        if (j >= nb || (i < na && ba < bb)) {
            which = ba;
            i++;
        } else if (i >= na || bb < ba) {
            which = bb;
            j++;
        } else {
            bool same = strcmp(PQgetvalue(a, i, 1), PQgetvalue(b, j, 1)) == 0 &&
                        strcmp(PQgetvalue(a, i, 2), PQgetvalue(b, j, 2)) == 0;

            i++;
            j++;
            if (same)
                continue;
            which = ba;
        }
        ferry_buf_printf(arr, "%s%lld", *n > 0 ? "," : "", which);
        (*n)++;
    }
    ferry_buf_append_lit(arr, "}");
}

/* Keys and row hashes of the differing buckets, merged into diffs. */
static int
drill(vctx_t *cx, const map__vside_t *ss, const map__vside_t *ts,
      const char *nb, const char *buckets, vdiffs_t *d, ferry_err_t *err)
{
    ferry_buf_t qs = {0}, qt = {0};
    PGresult *a = NULL, *b = NULL;
    int rc = FERRY_ENOMEM;
    int i = 0, j = 0, na, nt;

    ferry_buf_append_lit(&qs, "SELECT k, h FROM (");
    map__vsql_hashed(&qs, ss);
    ferry_buf_printf(&qs,
                     ") x WHERE b = ANY($%d::bigint[]) ORDER BY k "
                     "COLLATE \"C\"",
                     ss->n_params + 2);
    ferry_buf_append_lit(&qt, "SELECT k, h FROM (");
    map__vsql_hashed(&qt, ts);
    ferry_buf_printf(&qt,
                     ") x WHERE b = ANY($%d::bigint[]) ORDER BY k "
                     "COLLATE \"C\"",
                     ts->n_params + 2);
    if ((rc = ferry_buf_status(&qs, err, "building the drill-down query")) !=
            0 ||
        (rc = ferry_buf_status(&qt, err, "building the drill-down query")) != 0)
        goto done;
    a = side_query(cx->src, ss, ferry_buf_cstr(&qs), nb, buckets,
                   "read source rows", err);
    b = a ? side_query(cx->tgt, ts, ferry_buf_cstr(&qt), nb, buckets,
                       "read target rows", err)
          : NULL;
    if (b == NULL) {
        rc = err->status;
        goto done;
    }
    na = PQntuples(a);
    nt = PQntuples(b);
    rc = 0;
    while (rc == 0 && (i < na || j < nt)) {
        int c = i >= na   ? 1
                : j >= nt ? -1
                          : strcmp(PQgetvalue(a, i, 0), PQgetvalue(b, j, 0));

        if (c < 0) {
            rc = diffs_add(d, PQgetvalue(a, i++, 0), MAP_VKIND_MISSING);
        } else if (c > 0) {
            rc = diffs_add(d, PQgetvalue(b, j++, 0), MAP_VKIND_EXTRA);
        } else {
            if (strcmp(PQgetvalue(a, i, 1), PQgetvalue(b, j, 1)) != 0)
                rc = diffs_add(d, PQgetvalue(a, i, 0), MAP_VKIND_CHANGED);
            i++;
            j++;
        }
    }
    if (rc != 0)
        ferry_err_set(err, rc, "out of memory listing the differing rows");
done:
    PQclear(a);
    PQclear(b);
    ferry_buf_close(&qs);
    ferry_buf_close(&qt);
    return rc;
}

/* The column values of up to limit changed rows: names the columns. */
static int
name_columns(vctx_t *cx, const map_entity_t *e, const map__vside_t *ss,
             const map__vside_t *ts, const char *nb, vdiffs_t *d,
             ferry_err_t *err)
{
    ferry_buf_t keys = {0}, qs = {0}, qt = {0};
    PGresult *a = NULL, *b = NULL;
    size_t listed = 0;
    int rc;

    ferry_buf_append_lit(&keys, "{");
    for (size_t i = 0; i < d->n && listed < cx->limit; i++)
        if (d->v[i].kind == MAP_VKIND_CHANGED) {
            array_elem(&keys, d->v[i].key);
            listed++;
        }
    ferry_buf_append_lit(&keys, "}");
    if (listed == 0) {
        ferry_buf_close(&keys);
        return 0;
    }
    ferry_buf_printf(&qs, "SELECT * FROM (%s) r WHERE k = ANY($%d::text[])",
                     ss->rows, ss->n_params + 2);
    ferry_buf_printf(&qt, "SELECT * FROM (%s) r WHERE k = ANY($%d::text[])",
                     ts->rows, ts->n_params + 2);
    if ((rc = ferry_buf_status(&keys, err, "listing the changed rows")) != 0 ||
        (rc = ferry_buf_status(&qs, err,
                               "building the query of the changed "
                               "rows")) != 0 ||
        (rc = ferry_buf_status(&qt, err,
                               "building the query of the changed "
                               "rows")) != 0)
        goto done;
    a = side_query(cx->src, ss, ferry_buf_cstr(&qs), nb, ferry_buf_cstr(&keys),
                   "read source rows", err);
    b = a ? side_query(cx->tgt, ts, ferry_buf_cstr(&qt), nb,
                       ferry_buf_cstr(&keys), "read target rows", err)
          : NULL;
    if (b == NULL) {
        rc = err->status;
        goto done;
    }
    rc = 0;
    for (int r = 0; r < PQntuples(a) && rc == 0; r++) {
        vdiff_t *v = diffs_find(d, PQgetvalue(a, r, 0));
        ferry_buf_t cols = {0};

        for (int t = 0; v != NULL && t < PQntuples(b); t++) {
            if (strcmp(PQgetvalue(b, t, 0), v->key) != 0)
                continue;
            for (size_t c = 0; c < e->n_columns; c++) {
                int f = (int)c + 2;
                bool same =
                    PQgetisnull(a, r, f) == PQgetisnull(b, t, f) &&
                    strcmp(PQgetvalue(a, r, f), PQgetvalue(b, t, f)) == 0;

                if (!same)
                    ferry_buf_printf(&cols, "%s%s", cols.len ? ", " : "",
                                     e->columns[c].name);
            }
        }
        if ((rc = ferry_buf_status(&cols, err, "naming the changed columns")) ==
                0 &&
            v != NULL && cols.len > 0 &&
            (v->columns = ferry_buf_take(&cols)) == NULL)
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory naming the changed columns");
        ferry_buf_close(&cols);
    }
done:
    PQclear(a);
    PQclear(b);
    ferry_buf_close(&keys);
    ferry_buf_close(&qs);
    ferry_buf_close(&qt);
    return rc;
}

/* Attaches the sink's last error for each differing key. */
static int
attach_errors(vctx_t *cx, const map_entity_t *e, vdiffs_t *d,
              long long *errored, ferry_err_t *err)
{
    ferry_buf_t keys = {0}, q = {0};
    const char *params[2];
    PGresult *res;

    if (d->n == 0 || !cx->state)
        return 0;
    ferry_buf_append_lit(&keys, "{");
    for (size_t i = 0; i < d->n; i++)
        array_elem(&keys, d->v[i].key);
    ferry_buf_append_lit(&keys, "}");
    ferry_buf_append_lit(&q,
                         "SELECT DISTINCT ON (legacy_key) legacy_key, error "
                         "FROM ");
    map__vsql_ident(&q, cx->tgt, cx->cfg->state_schema);
    ferry_buf_append_lit(&q, ".errors WHERE entity = $1 AND legacy_key = "
                             "ANY($2::text[]) ORDER BY legacy_key, id DESC");
    if (ferry_buf_status(&keys, err, "listing the differing rows") != 0 ||
        ferry_buf_status(&q, err, "building the query of the errors") != 0) {
        ferry_buf_close(&keys);
        ferry_buf_close(&q);
        return FERRY_ENOMEM;
    }
    params[0] = e->name;
    params[1] = ferry_buf_cstr(&keys);
    res = run(cx->tgt, ferry_buf_cstr(&q), 2, params, "read the errors", err);
    ferry_buf_close(&keys);
    ferry_buf_close(&q);
    if (res == NULL)
        return err->status;
    for (int r = 0; r < PQntuples(res); r++) {
        vdiff_t *v = diffs_find(d, PQgetvalue(res, r, 0));

        if (v == NULL || v->error != NULL)
            continue;
        if ((v->error = strdup(PQgetvalue(res, r, 1))) == NULL) {
            PQclear(res);
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory reading the sink's error for "
                                 "legacy key \"%s\"",
                                 v->key);
        }
        (*errored)++;
    }
    PQclear(res);
    return 0;
}

/* Target ref values that point at no row of their entity (or entities). */
static int
count_unresolved(vctx_t *cx, const map_entity_t *e, long long *n,
                 ferry_err_t *err)
{
    for (size_t i = 0; i < e->n_columns; i++) {
        const map_column_t *c = &e->columns[i];
        size_t np = c->kind == MAP_COLUMN_REF ? 1 : c->n_cases;
        ferry_buf_t q = {0};
        PGresult *res;

        if (c->kind == MAP_COLUMN_COPY)
            continue;
        ferry_buf_append_lit(&q, "SELECT count(*) FROM ");
        map__vsql_ident(&q, cx->tgt, e->target_schema);
        ferry_buf_append_lit(&q, ".");
        map__vsql_ident(&q, cx->tgt, e->target_table);
        ferry_buf_append_lit(&q, " t WHERE t.");
        map__vsql_ident(&q, cx->tgt, c->name);
        ferry_buf_append_lit(&q, " IS NOT NULL");
        for (size_t k = 0; k < np; k++) {
            const map_entity_t *p =
                &cx->cfg->entities[c->kind == MAP_COLUMN_REF
                                       ? c->ref_index
                                       : c->cases[k].entity_index];

            ferry_buf_append_lit(&q, " AND NOT EXISTS (SELECT 1 FROM ");
            map__vsql_ident(&q, cx->tgt, p->target_schema);
            ferry_buf_append_lit(&q, ".");
            map__vsql_ident(&q, cx->tgt, p->target_table);
            ferry_buf_append_lit(&q, " p WHERE p.");
            map__vsql_ident(&q, cx->tgt, p->id_column);
            ferry_buf_append_lit(&q, " = t.");
            map__vsql_ident(&q, cx->tgt, c->name);
            ferry_buf_append_lit(&q, ")");
        }
        res = ferry_buf_status(&q, err,
                               "building the count of unresolved refs of "
                               "column \"%s\"",
                               c->name) == 0
                  ? run(cx->tgt, ferry_buf_cstr(&q), 0, NULL,
                        "count unresolved refs", err)
                  : NULL;
        ferry_buf_close(&q);
        if (res == NULL)
            return err->status;
        *n += atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return 0;
}

static long long
count_rows(PGconn *conn, const map__vside_t *s, const char *what,
           ferry_err_t *err)
{
    PGresult *res = run(conn, s->count, 0, NULL, what, err);
    long long n;

    if (res == NULL)
        return -1;
    n = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

/* Moves up to limit rows of each kind from d (and parked) into the report. */
static int
list_rows(vctx_t *cx, map_ventity_t *out, vdiffs_t *d, vdiffs_t *parked)
{
    size_t per[MAP_VKIND_COUNT] = {0};
    vdiffs_t *lists[2] = {d, parked};

    out->rows = calloc(d->n + parked->n + 1, sizeof(*out->rows));
    if (out->rows == NULL)
        return FERRY_ENOMEM;
    for (int k = 0; k < MAP_VKIND_COUNT; k++)
        for (int l = 0; l < 2; l++)
            for (size_t i = 0; i < lists[l]->n; i++) {
                vdiff_t *v = &lists[l]->v[i];
                map_vrow_t *r = &out->rows[out->n_rows];

                if ((int)v->kind != k || per[k] >= cx->limit)
                    continue;
                per[k]++;
                r->kind = v->kind;
                r->key = v->key;
                r->error = v->error;
                if (l == 0)
                    r->columns = v->columns;
                else if (v->kind == MAP_VKIND_BLOCKED)
                    r->blocked_by = v->columns;
                else
                    r->waits_on = v->columns;
                v->key = v->columns = v->error = NULL;
                out->n_rows++;
            }
    return 0;
}

/* Compares one entity; fills out.  Problems that stop the comparison of
 * this entity go to out->problem. */
static int
validate_entity(vctx_t *cx, const map_entity_t *e, map_ventity_t *out,
                ferry_err_t *err)
{
    map__vtype_t *types = calloc(e->n_columns + 1, sizeof(*types));
    map__vside_t ss = {0}, ts = {0};
    vdiffs_t d = {0}, parked = {0};
    ferry_buf_t barr = {0};
    PGresult *ca = NULL, *cb = NULL;
    char *pkeys = NULL;
    char nb[32];
    int rc = FERRY_ENOMEM;

    out->name = e->name;
    if (types == NULL) {
        ferry_err_set(err, rc, "out of memory reading the target column types");
        goto done;
    }
    if ((rc = load_types(cx, e, types, &out->problem, err)) != 0 ||
        out->problem != NULL)
        goto done;
    if (cx->state && (rc = load_parked(cx, e, out, &parked, &pkeys, err)) != 0)
        goto done;
    rc = map__vside_target(cx->cfg, e, cx->tgt,
                           cx->state ? cx->cfg->state_schema : NULL, &ts, err);
    if (rc == FERRY_ENOMEM)
        ferry_err_set(err, rc, "out of memory building the target's queries");
    if (rc == 0 && (rc = map__vside_source(cx->cfg, e, cx->src, types, pkeys,
                                           &ss, err)) == FERRY_ENOMEM)
        ferry_err_set(err, rc, "out of memory building the source's queries");
    if (rc == FERRY_ECONFIG) {
        out->problem = strdup(err->msg);
        rc = out->problem != NULL
                 ? 0
                 : ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory reporting why the entity "
                                 "cannot be compared");
        goto done;
    }
    if (rc != 0)
        goto done;
    out->source_rows = count_rows(cx->src, &ss, "count source rows", err);
    out->target_rows = out->source_rows < 0
                           ? -1
                           : count_rows(cx->tgt, &ts, "count target rows", err);
    if (out->target_rows < 0) {
        rc = err->status;
        goto done;
    }
    out->buckets = (out->source_rows > out->target_rows ? out->source_rows
                                                        : out->target_rows) /
                       cx->bucket_rows +
                   1;
    snprintf(nb, sizeof(nb), "%lld", out->buckets);
    ca = checksums(cx->src, &ss, nb, err);
    cb = ca ? checksums(cx->tgt, &ts, nb, err) : NULL;
    if (cb == NULL) {
        rc = err->status;
        goto done;
    }
    diff_buckets(ca, cb, &barr, &out->diff_buckets);
    rc = ferry_buf_status(&barr, err, "listing the differing buckets");
    if (rc == 0 && out->diff_buckets > 0)
        rc = drill(cx, &ss, &ts, nb, ferry_buf_cstr(&barr), &d, err);
    if (rc == 0)
        rc = name_columns(cx, e, &ss, &ts, nb, &d, err);
    if (rc == 0)
        rc = attach_errors(cx, e, &d, &out->errored, err);
    if (rc == 0)
        rc = count_unresolved(cx, e, &out->unresolved, err);
    for (size_t i = 0; rc == 0 && i < d.n; i++)
        out->n[d.v[i].kind]++;
    if (rc == 0 && list_rows(cx, out, &d, &parked) != 0)
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory listing the differing rows in the "
                           "report");
done:
    if (rc != 0)
        ferry_err_prefix(err, "entity \"%s\"", e->name);
    out->agree =
        rc == 0 && out->problem == NULL && out->n[MAP_VKIND_MISSING] == 0 &&
        out->n[MAP_VKIND_EXTRA] == 0 && out->n[MAP_VKIND_CHANGED] == 0 &&
        out->n[MAP_VKIND_STUCK] == 0 && out->n[MAP_VKIND_BLOCKED] == 0 &&
        out->unresolved == 0;
    PQclear(ca);
    PQclear(cb);
    ferry_buf_close(&barr);
    free(pkeys);
    diffs_free(&d);
    diffs_free(&parked);
    map__vside_free(&ss);
    map__vside_free(&ts);
    for (size_t i = 0; types != NULL && i < e->n_columns; i++)
        free(types[i].cast);
    free(types);
    return rc;
}

/* Same output settings on both sessions (the target's TimeZone, the one
 * ferry-sink's casts ran in), the JSON helper on the source, and a
 * repeatable-read snapshot on each side. */
static int
setup(vctx_t *cx, bool json, ferry_err_t *err)
{
    static const char *const set_sql =
        "SELECT set_config('TimeZone', $1, false), "
        "set_config('DateStyle', 'ISO, MDY', false), "
        "set_config('IntervalStyle', 'postgres', false), "
        "set_config('extra_float_digits', '1', false), "
        "set_config('bytea_output', 'hex', false)";
    static const char *const state_sql =
        "SELECT to_regclass(quote_ident($1) || '.parked') IS NOT NULL AND "
        "to_regclass(quote_ident($1) || '.errors') IS NOT NULL";
    static const char *const begin_sql =
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    PGresult *res;
    char tz[128];
    const char *p[1];

    res = run(cx->tgt, "SELECT current_setting('TimeZone')", 0, NULL,
              "read the target's TimeZone", err);
    if (res == NULL)
        return err->status;
    snprintf(tz, sizeof(tz), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    p[0] = tz;
    for (int side = 0; side < 2; side++) {
        PGconn *c = side ? cx->tgt : cx->src;

        if ((res = run(c, set_sql, 1, p, "set the session up", err)) == NULL)
            return err->status;
        PQclear(res);
    }
    if (json) {
        if ((res = run(cx->src, map_rules_json_fn_sql, 0, NULL,
                       "create a temporary function on the source", err)) ==
            NULL)
            return err->status;
        PQclear(res);
    }
    p[0] = cx->cfg->state_schema;
    if ((res = run(cx->tgt, state_sql, 1, p, "look for the state schema",
                   err)) == NULL)
        return err->status;
    cx->state = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    for (int side = 0; side < 2; side++) {
        if ((res = run(side ? cx->tgt : cx->src, begin_sql, 0, NULL,
                       "begin a snapshot", err)) == NULL)
            return err->status;
        PQclear(res);
    }
    return 0;
}

static int
count_errors(vctx_t *cx, map_vreport_t *r, ferry_err_t *err)
{
    ferry_buf_t q = {0};
    PGresult *res;

    if (!cx->state)
        return 0;
    ferry_buf_append_lit(&q, "SELECT count(*) FROM ");
    map__vsql_ident(&q, cx->tgt, cx->cfg->state_schema);
    ferry_buf_append_lit(&q, ".errors");
    res =
        ferry_buf_status(&q, err, "building the count of the errors") == 0
            ? run(cx->tgt, ferry_buf_cstr(&q), 0, NULL, "count the errors", err)
            : NULL;
    ferry_buf_close(&q);
    if (res == NULL)
        return err->status;
    r->errors_total = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int
map_validate_run(const map_config_t *cfg, PGconn *src, PGconn *tgt,
                 const map_vopts_t *opts, map_vreport_t **out, ferry_err_t *err)
{
    vctx_t cx = {cfg, src, tgt, 1000, 20, false};
    map_vreport_t *r = calloc(1, sizeof(*r));
    struct timespec t0, t1;
    bool json = false;
    int rc = 0;

    *out = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (opts != NULL && opts->bucket_rows > 0)
        cx.bucket_rows = opts->bucket_rows;
    if (opts != NULL && opts->limit > 0)
        cx.limit = opts->limit;
    if (r == NULL || (r->entities = calloc(cfg->n_entities + 1,
                                           sizeof(*r->entities))) == NULL) {
        free(r);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory creating the report of %zu "
                             "entities",
                             cfg->n_entities);
    }
    for (size_t i = 0; i < cfg->n_entities; i++)
        for (size_t c = 0; c < cfg->entities[i].n_columns; c++)
            json = json || cfg->entities[i].columns[c].json;
    rc = setup(&cx, json, err);
    r->state_found = cx.state;
    if (rc == 0)
        rc = count_errors(&cx, r, err);
    r->agree = true;
    for (size_t i = 0; rc == 0 && i < cfg->n_entities; i++) {
        const map_entity_t *e = &cfg->entities[cfg->apply_order[i]];

        rc = validate_entity(&cx, e, &r->entities[i], err);
        r->n_entities++;
        r->agree = r->agree && r->entities[i].agree;
    }
    PQclear(PQexec(src, "COMMIT"));
    PQclear(PQexec(tgt, "COMMIT"));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) +
                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc != 0) {
        map_validate_report_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void
map_validate_report_free(map_vreport_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_entities; i++) {
        map_ventity_t *e = &r->entities[i];

        for (size_t k = 0; k < e->n_rows; k++) {
            free(e->rows[k].key);
            free(e->rows[k].columns);
            free(e->rows[k].error);
            free(e->rows[k].waits_on);
            free(e->rows[k].blocked_by);
        }
        free(e->rows);
        free(e->problem);
    }
    free(r->entities);
    free(r);
}
