/* Describes the captured tables (columns, key, replica identity) from the
 * source catalog, as mapping/map_catalog.c reads it.
 * cdc/cdc_tables.c */
#include "cdc_tables.h"

#include "ferry_log.h"
#include "map_catalog.h"

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

/* A new NULL-terminated array of copies of the n names (borrowed), or NULL
 * when out of memory. */
static char **
copy_names(const char *const *names, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));

    for (size_t i = 0; out != NULL && i < n; i++) {
        if ((out[i] = strdup(names[i])) == NULL) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            out = NULL;
        }
    }
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

/* How wal2json writes a column: it checks the attribute's own type (a
 * domain over integer is a string), so ferry's snapshot does too. */
static unsigned char
col_type(Oid type)
{
    switch (type) {
    case 20: /* bigint */
    case 21: /* smallint */
    case 23: /* integer */
        return CDC_ENV_COL_INT;
    case 16: /* boolean */
        return CDC_ENV_COL_BOOL;
    default:
        return CDC_ENV_COL_TEXT;
    }
}

/* Fills the snapshot's view of the table: column types and where each key
 * column is.  A key column missing from the table leaves key_index NULL
 * (the table cannot be snapshot; the mapping check reports it). */
static int
describe_snapshot(const map_pg_table_t *t, table_slot_t *slot)
{
    slot->types = calloc(slot->pub.ncolumns + 1, 1);
    slot->key_index = calloc(slot->pub.nkey + 1, sizeof(size_t));
    if (slot->types == NULL || slot->key_index == NULL)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < slot->pub.ncolumns; i++)
        slot->types[i] = col_type(t->columns[i].type_oid);
    for (size_t k = 0; k < slot->pub.nkey; k++) {
        size_t i;

        for (i = 0; i < slot->pub.ncolumns; i++)
            if (strcmp(slot->columns[i], slot->key[k]) == 0)
                break;
        if (i == slot->pub.ncolumns)
            return FERRY_OK;
        slot->key_index[k] = i;
    }
    slot->key_ok = true;
    return FERRY_OK;
}

/* Fills slot for entity e from t, its source table's catalog (borrowed).
 * Returns 0, FERRY_ENOMEM, or 1 for a problem added to report. */
static int
describe_table(const map_pg_table_t *t, const map_entity_t *e,
               table_slot_t *slot, char *report, size_t cap)
{
    /* What wal2json will send as the old row's identity decides whether
     * updates and deletes survive, whatever key the mapping names. */
    const map_pg_index_t *ident = map_catalog_identity_index(t);
    size_t ncols = t->n_columns, nkey = ident ? ident->n_columns : 0;
    const char *const *keys;
    char line[1024];

    if (t->replident == 'n' || (t->replident != 'f' && nkey == 0)) {
        snprintf(line, sizeof(line),
                 "table \"%s.%s\" has no primary key or replica identity, so "
                 "its updates and deletes would be lost: add a primary key or "
                 "run ALTER TABLE %s.%s REPLICA IDENTITY FULL",
                 e->source_schema, e->source_table, e->source_schema,
                 e->source_table);
        add_problem(report, cap, line);
        return 1;
    }
    if ((slot->columns = calloc(ncols + 1, sizeof(char *))) == NULL)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < ncols; i++) {
        if ((slot->columns[i] = strdup(t->columns[i].name)) == NULL)
            return FERRY_ENOMEM;
    }
    slot->index_key = nkey > 0 && e->n_key == 0;
    /* The mapping's key, else the identity's, or with REPLICA IDENTITY FULL
     * and no key the whole row. */
    if (e->n_key > 0) {
        keys = e->key;
        nkey = e->n_key;
    } else if (nkey > 0) {
        keys = ident->columns;
    } else {
        keys = (const char *const *)slot->columns;
        nkey = ncols;
    }
    if ((slot->key = copy_names(keys, nkey)) == NULL)
        return FERRY_ENOMEM;
    slot->pub.columns = (const char *const *)slot->columns;
    slot->pub.ncolumns = ncols;
    slot->pub.key_columns = (const char *const *)slot->key;
    slot->pub.nkey = nkey;
    return describe_snapshot(t, slot);
}

/* Reads entity e's source table through conn into slot.  Returns 0, a
 * negative status for a failure that stops everything, or 1 for a problem
 * added to report. */
static int
describe(PGconn *conn, const map_entity_t *e, table_slot_t *slot, char *report,
         size_t cap, ferry_err_t *err)
{
    map_pg_table_t t;
    char line[1024];
    int rc = map_catalog_table(conn, "source", e->source_schema,
                               e->source_table, &t, err);

    if (rc == 0 && !t.exists) {
        snprintf(line, sizeof(line),
                 "entity \"%s\": source table \"%s.%s\" does not exist",
                 e->name, e->source_schema, e->source_table);
        add_problem(report, cap, line);
        rc = 1;
    } else if (rc == 0 && (rc = describe_table(&t, e, slot, report, cap)) ==
                              FERRY_ENOMEM) {
        ferry_err_set(err, rc,
                      "out of memory describing source table \"%s.%s\"",
                      e->source_schema, e->source_table);
    }
    map_catalog_table_free(&t);
    return rc;
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
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory describing the captured tables");
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
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory describing source table "
                               "\"%s.%s\"",
                               e->source_schema, e->source_table);
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
