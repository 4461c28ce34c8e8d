/* Loads the captured tables' columns and keys from the source catalog.
 * cdc/cdc_tables.c */
#include "cdc_tables.h"

#include "ferry_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One table and the strings it owns. */
typedef struct table_slot {
    cdc_table_t pub;      /* what the envelope sees; points into the fields */
    char *qualified;      /* owned: "schema.table" */
    char **columns;       /* owned: every column in attnum order */
    char **key;           /* owned: key columns */
    unsigned char *types; /* owned: cdc_env_coltype_t per column */
    size_t *key_index;    /* owned: key columns' indexes in columns */
    bool index_key;       /* the key is a unique index's (orderable) */
    bool key_ok;          /* every key column is a column */
} table_slot_t;

struct cdc_tables {
    table_slot_t *v;    /* owned: n tables */
    size_t n;           /* number of tables */
    const char **names; /* owned array of borrowed "schema.table" */
    size_t last;        /* index of the last table found */
};

static const char *const columns_sql =
    "SELECT a.attname FROM pg_catalog.pg_attribute a "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

/* How wal2json writes each column: it checks the attribute's own type
 * (a domain over integer is a string), so ferry's snapshot does too. */
static const char *const types_sql =
    "SELECT CASE WHEN a.atttypid IN (20, 21, 23) THEN 1 "
    " WHEN a.atttypid = 16 THEN 2 ELSE 0 END "
    "FROM pg_catalog.pg_attribute a "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

/* The key wal2json sends as identity: the primary key, or the replica
 * identity index. */
static const char *const key_sql =
    "SELECT a.attname FROM pg_catalog.pg_index i "
    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
    " AND a.attnum = k.attnum "
    "WHERE i.indrelid = $1::oid AND "
    " (CASE WHEN $2 = 'i' THEN i.indisreplident ELSE i.indisprimary END) "
    "ORDER BY k.ord";

static const char *const table_sql =
    "SELECT c.oid, c.relreplident::text FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

static char **
fetch_names(PGconn *conn, const char *sql, int nparams, const char **params,
            size_t *n, ferry_err_t *err)
{
    PGresult *res =
        PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    char **out = NULL;
    int rows;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ferry_err_set(err, FERRY_ETRANSIENT,
                      "could not read the source catalog: %s",
                      PQerrorMessage(conn));
        goto done;
    }
    rows = PQntuples(res);
    out = calloc((size_t)rows + 1, sizeof(char *));
    if (out == NULL) {
        ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < rows; i++) {
        out[i] = strdup(PQgetvalue(res, i, 0));
        if (out[i] == NULL) {
            ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            for (int j = 0; j < i; j++)
                free(out[j]);
            free(out);
            out = NULL;
            goto done;
        }
    }
    *n = (size_t)rows;

done:
    PQclear(res);
    return out;
}

static void
free_names(char **names)
{
    if (names == NULL)
        return;
    for (char **p = names; *p != NULL; p++)
        free(*p);
    free(names);
}

/* Appends a line to the accumulated problem report. */
static void
add_problem(char *report, size_t cap, const char *line)
{
    size_t len = strlen(report);

    snprintf(report + len, cap - len, "%s%s", len ? "; " : "", line);
}

/* Fills the snapshot's view of the table: column types and where each key
 * column is.  A key column missing from the table leaves key_index NULL
 * (the table cannot be snapshot; the mapping check reports it). */
static int
describe_snapshot(PGconn *conn, const char *oid, table_slot_t *slot,
                  ferry_err_t *err)
{
    const char *params[1] = {oid};
    size_t n = 0;
    char **types = fetch_names(conn, types_sql, 1, params, &n, err);
    int rc = FERRY_OK;

    if (types == NULL)
        return err ? err->status : FERRY_EFATAL;
    slot->types = calloc(n + 1, 1);
    if (slot->types == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && i < slot->pub.ncolumns; i++)
        slot->types[i] = (unsigned char)(types[i][0] - '0');
    slot->key_index = calloc(slot->pub.nkey + 1, sizeof(size_t));
    if (slot->key_index == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < slot->pub.nkey; k++) {
        size_t i;

        for (i = 0; i < slot->pub.ncolumns; i++)
            if (strcmp(slot->columns[i], slot->key[k]) == 0)
                break;
        if (i == slot->pub.ncolumns)
            goto done;
        slot->key_index[k] = i;
    }
    slot->key_ok = true;

done:
    free_names(types);
    return rc;
}

/* Fills slot for entity e.  Returns 0, a negative status for a failure
 * that stops everything, or 1 for a problem added to report. */
static int
describe(PGconn *conn, const map_entity_t *e, table_slot_t *slot, char *report,
         size_t cap, ferry_err_t *err)
{
    const char *params[2] = {e->source_schema, e->source_table};
    char line[1024], oid[32], replident[4];
    size_t ncols = 0, nkey = 0;
    PGresult *res =
        PQexecParams(conn, table_sql, 2, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ferry_err_set(err, FERRY_ETRANSIENT,
                      "could not read the source catalog: %s",
                      PQerrorMessage(conn));
        PQclear(res);
        return FERRY_ETRANSIENT;
    }
    if (PQntuples(res) != 1) {
        snprintf(line, sizeof(line),
                 "entity \"%s\": source table \"%s.%s\" does not exist",
                 e->name, e->source_schema, e->source_table);
        add_problem(report, cap, line);
        PQclear(res);
        return 1;
    }
    snprintf(oid, sizeof(oid), "%s", PQgetvalue(res, 0, 0));
    snprintf(replident, sizeof(replident), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);

    params[0] = oid;
    params[1] = replident;
    slot->columns = fetch_names(conn, columns_sql, 1, params, &ncols, err);
    if (slot->columns == NULL)
        return err ? err->status : FERRY_EFATAL;
    /* What wal2json will send as the old row's identity decides whether
     * updates and deletes survive, whatever key the mapping names. */
    slot->key = fetch_names(conn, key_sql, 2, params, &nkey, err);
    if (slot->key == NULL)
        return err ? err->status : FERRY_EFATAL;
    if (replident[0] == 'n' || (replident[0] != 'f' && nkey == 0)) {
        snprintf(line, sizeof(line),
                 "table \"%s.%s\" has no primary key or replica identity, so "
                 "its updates and deletes would be lost: add a primary key or "
                 "run ALTER TABLE %s.%s REPLICA IDENTITY FULL",
                 e->source_schema, e->source_table, e->source_schema,
                 e->source_table);
        add_problem(report, cap, line);
        return 1;
    }
    slot->index_key = nkey > 0 && e->n_key == 0;
    if (e->n_key > 0 || nkey == 0) {
        /* The mapping's key, or with REPLICA IDENTITY FULL and no key the
         * whole row. */
        free_names(slot->key);
        slot->key = calloc((e->n_key ? e->n_key : ncols) + 1, sizeof(char *));
        if (slot->key == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        nkey = e->n_key ? e->n_key : ncols;
        for (size_t i = 0; i < nkey; i++) {
            slot->key[i] = strdup(e->n_key ? e->key[i] : slot->columns[i]);
            if (slot->key[i] == NULL)
                return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        }
    }
    slot->pub.columns = (const char *const *)slot->columns;
    slot->pub.ncolumns = ncols;
    slot->pub.key_columns = (const char *const *)slot->key;
    slot->pub.nkey = nkey;
    return describe_snapshot(conn, oid, slot, err);
}

static bool
already_have(const cdc_tables_t *t, const map_entity_t *e)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].pub.schema, e->source_schema) == 0 &&
            strcmp(t->v[i].pub.table, e->source_table) == 0)
            return true;
    }
    return false;
}

int
cdc_tables_load(PGconn *conn, const map_config_t *cfg, cdc_tables_t **out,
                ferry_err_t *err)
{
    cdc_tables_t *t = calloc(1, sizeof(*t));
    char report[sizeof(err->msg) - 64];
    int rc = FERRY_OK, problems = 0;

    report[0] = '\0';
    if (t == NULL ||
        (t->v = calloc(cfg->n_entities + 1, sizeof(*t->v))) == NULL ||
        (t->names = calloc(cfg->n_entities + 1, sizeof(char *))) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < cfg->n_entities; i++) {
        const map_entity_t *e = &cfg->entities[i];
        table_slot_t *slot;
        size_t qlen;

        if (already_have(t, e))
            continue;
        slot = &t->v[t->n++];
        slot->pub.schema = e->source_schema;
        slot->pub.table = e->source_table;
        slot->pub.topic = map_entity_topic(cfg, e);
        qlen = strlen(e->source_schema) + strlen(e->source_table) + 2;
        slot->qualified = malloc(qlen);
        if (slot->qualified == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            goto done;
        }
        snprintf(slot->qualified, qlen, "%s.%s", e->source_schema,
                 e->source_table);
        t->names[t->n - 1] = slot->qualified;
        rc = describe(conn, e, slot, report, sizeof(report), err);
        if (rc < 0)
            goto done;
        problems += rc;
        rc = FERRY_OK;
    }
    if (problems > 0)
        rc = ferry_err_set(err, FERRY_ECONFIG, "%s", report);

done:
    if (rc != FERRY_OK) {
        cdc_tables_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}

void
cdc_tables_free(cdc_tables_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; t->v != NULL && i < t->n; i++) {
        free(t->v[i].qualified);
        free_names(t->v[i].columns);
        free_names(t->v[i].key);
        free(t->v[i].types);
        free(t->v[i].key_index);
    }
    free(t->v);
    free(t->names);
    free(t);
}

size_t
cdc_tables_count(const cdc_tables_t *t)
{
    return t->n;
}

const cdc_table_t *
cdc_tables_get(const cdc_tables_t *t, size_t i)
{
    return &t->v[i].pub;
}

size_t
cdc_tables_index(const cdc_tables_t *t, const cdc_table_t *tab)
{
    /* pub is the first member of each slot. */
    return (size_t)((const table_slot_t *)(const void *)tab - t->v);
}

const unsigned char *
cdc_tables_col_types(const cdc_tables_t *t, size_t i)
{
    return t->v[i].types;
}

const size_t *
cdc_tables_key_index(const cdc_tables_t *t, size_t i)
{
    return t->v[i].key_ok ? t->v[i].key_index : NULL;
}

bool
cdc_tables_index_key(const cdc_tables_t *t, size_t i)
{
    return t->v[i].index_key;
}

const char *const *
cdc_tables_names(const cdc_tables_t *t)
{
    return (const char *const *)t->names;
}

static bool
matches(const cdc_table_t *tab, cdc_w2j_tok_t schema, cdc_w2j_tok_t table)
{
    return cdc_w2j_tok_eq(table, tab->table, strlen(tab->table)) &&
           cdc_w2j_tok_eq(schema, tab->schema, strlen(tab->schema));
}

const cdc_table_t *
cdc_tables_find(cdc_tables_t *t, cdc_w2j_tok_t schema, cdc_w2j_tok_t table)
{
    if (t->n == 0)
        return NULL;
    if (matches(&t->v[t->last].pub, schema, table))
        return &t->v[t->last].pub;
    for (size_t i = 0; i < t->n; i++) {
        if (matches(&t->v[i].pub, schema, table)) {
            t->last = i;
            return &t->v[i].pub;
        }
    }
    return NULL;
}
