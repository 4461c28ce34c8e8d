/* Describes the captured tables (columns, types, key, replica identity)
 * from the source catalog, as mapping/map_catalog.c reads it, and again
 * when one changes while streaming.
 * cdc/cdc_tables.c */
#include "cdc_tables.h"

#include "ferry_log.h"
#include "map_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the catalog says about one table, replaced as a whole on refresh. */
typedef struct facts {
    char **columns; /* owned: every column in attnum order */
    char **types;   /* owned: format_type() of each column */
    size_t *lens;   /* owned: each column name's length, then each type's */
    unsigned char *flags;    /* owned: cdc_tables_col_flag per column */
    char **key;              /* owned: key columns */
    unsigned char *coltypes; /* owned: cdc_env_coltype_t per column */
    size_t *key_index;       /* owned: key columns' indexes in columns */
    size_t ncolumns;         /* entries in columns, types, flags */
    size_t nkey;             /* entries in key */
    bool index_key;          /* the key is a unique index's (orderable) */
    bool key_ok;             /* every key column is a column */
    char replident;          /* 'd', 'f' or 'i' */
} facts_t;

/* One table and the strings it owns. */
typedef struct table_slot {
    cdc_table_t pub;            /* what the envelope sees; points into f */
    const map_entity_t *entity; /* borrowed: the first entity reading it */
    char *qualified;            /* owned: "schema.table" */
    facts_t f;                  /* owned: the current facts */
    unsigned char *seen;        /* owned: scratch of cdc_tables_fit() */
    size_t order;               /* position in the dependency order */
    uint64_t generation;        /* refreshes that changed something */
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

static void
facts_free(facts_t *f)
{
    free_names(f->columns);
    free_names(f->types);
    free_names(f->key);
    free(f->flags);
    free(f->lens);
    free(f->coltypes);
    free(f->key_index);
    memset(f, 0, sizeof(*f));
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

/* Fills the per-column facts: types, flags, and where each key column
 * is.  A key column missing from the table leaves key_ok false (the table
 * cannot be snapshot; the mapping check reports it). */
static int
describe_columns(const map_pg_table_t *t, facts_t *f)
{
    f->types = calloc(f->ncolumns + 1, sizeof(char *));
    f->lens = calloc(2 * f->ncolumns + 1, sizeof(size_t));
    f->flags = calloc(f->ncolumns + 1, 1);
    f->coltypes = calloc(f->ncolumns + 1, 1);
    f->key_index = calloc(f->nkey + 1, sizeof(size_t));
    if (f->types == NULL || f->lens == NULL || f->flags == NULL ||
        f->coltypes == NULL || f->key_index == NULL)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < f->ncolumns; i++) {
        const map_pg_column_t *c = &t->columns[i];

        if ((f->types[i] = strdup(c->type)) == NULL)
            return FERRY_ENOMEM;
        f->lens[i] = strlen(c->name);
        f->lens[f->ncolumns + i] = strlen(c->type);
        f->coltypes[i] = col_type(c->type_oid);
        f->flags[i] =
            (unsigned char)((c->toastable ? CDC_TABLES_COL_TOASTABLE : 0) |
                            (map_catalog_is_nan_type(c) ? CDC_TABLES_COL_NAN
                                                        : 0) |
                            (c->not_null ? CDC_TABLES_COL_NOT_NULL : 0));
    }
    for (size_t k = 0; k < f->nkey; k++) {
        size_t i;

        for (i = 0; i < f->ncolumns; i++)
            if (strcmp(f->columns[i], f->key[k]) == 0)
                break;
        if (i == f->ncolumns)
            return FERRY_OK;
        f->key_index[k] = i;
    }
    f->key_ok = true;
    return FERRY_OK;
}

/* Fills f for entity e from t, its source table's catalog (borrowed).
 * Returns 0, FERRY_ENOMEM, or 1 for a problem added to report. */
static int
describe_table(const map_pg_table_t *t, const map_entity_t *e, facts_t *f,
               char *report, size_t cap)
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
    if ((f->columns = calloc(ncols + 1, sizeof(char *))) == NULL)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < ncols; i++) {
        if ((f->columns[i] = strdup(t->columns[i].name)) == NULL)
            return FERRY_ENOMEM;
    }
    f->ncolumns = ncols;
    f->replident = t->replident;
    f->index_key = nkey > 0 && e->n_key == 0;
    /* The mapping's key, else the identity's, or with REPLICA IDENTITY FULL
     * and no key the whole row. */
    if (e->n_key > 0) {
        keys = e->key;
        nkey = e->n_key;
    } else if (nkey > 0) {
        keys = ident->columns;
    } else {
        keys = (const char *const *)f->columns;
        nkey = ncols;
    }
    if ((f->key = copy_names(keys, nkey)) == NULL)
        return FERRY_ENOMEM;
    f->nkey = nkey;
    return describe_columns(t, f);
}

/* Reads entity e's source table through conn into f.  Returns 0, a
 * negative status for a failure that stops everything, or 1 for a problem
 * added to report. */
static int
describe(PGconn *conn, const map_entity_t *e, facts_t *f, char *report,
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
    } else if (rc == 0 &&
               (rc = describe_table(&t, e, f, report, cap)) == FERRY_ENOMEM) {
        ferry_err_set(err, rc,
                      "out of memory describing source table \"%s.%s\"",
                      e->source_schema, e->source_table);
    }
    map_catalog_table_free(&t);
    if (rc != 0)
        facts_free(f);
    return rc;
}

/* Points the envelope's view and the scratch at slot's current facts. */
static int
publish_facts(table_slot_t *slot)
{
    free(slot->seen);
    slot->seen = calloc(slot->f.ncolumns + 1, 1);
    slot->pub.columns = (const char *const *)slot->f.columns;
    slot->pub.ncolumns = slot->f.ncolumns;
    slot->pub.key_columns = (const char *const *)slot->f.key;
    slot->pub.nkey = slot->f.nkey;
    return slot->seen != NULL ? FERRY_OK : FERRY_ENOMEM;
}

static long
find_slot(const cdc_tables_t *t, const char *schema, const char *table)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].pub.schema, schema) == 0 &&
            strcmp(t->v[i].pub.table, table) == 0)
            return (long)i;
    }
    return -1;
}

/* The first position in the apply order of an entity of slot i. */
static void
set_orders(cdc_tables_t *t, const map_config_t *cfg)
{
    for (size_t i = 0; i < t->n; i++)
        t->v[i].order = cfg->n_entities;
    for (size_t pos = 0; cfg->apply_order != NULL && pos < cfg->n_entities;
         pos++) {
        const map_entity_t *e = &cfg->entities[cfg->apply_order[pos]];
        long i = find_slot(t, e->source_schema, e->source_table);

        if (i >= 0 && t->v[i].order > pos)
            t->v[i].order = pos;
    }
}

/* Adds the slot of entity e's table; returns it, or NULL (err set). */
static table_slot_t *
add_slot(cdc_tables_t *t, const map_config_t *cfg, const map_entity_t *e,
         ferry_err_t *err)
{
    table_slot_t *slot = &t->v[t->n++];
    size_t qlen = strlen(e->source_schema) + strlen(e->source_table) + 2;

    slot->entity = e;
    slot->pub.schema = e->source_schema;
    slot->pub.table = e->source_table;
    slot->pub.topic = map_entity_topic(cfg, e);
    if ((slot->qualified = malloc(qlen)) == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory describing source table \"%s.%s\"",
                      e->source_schema, e->source_table);
        return NULL;
    }
    snprintf(slot->qualified, qlen, "%s.%s", e->source_schema, e->source_table);
    t->names[t->n - 1] = slot->qualified;
    return slot;
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

        if (find_slot(t, e->source_schema, e->source_table) >= 0)
            continue;
        if ((slot = add_slot(t, cfg, e, err)) == NULL) {
            rc = FERRY_ENOMEM;
            goto done;
        }
        rc = describe(conn, e, &slot->f, report, sizeof(report), err);
        if (rc == 0 && publish_facts(slot) != FERRY_OK)
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory describing source table "
                               "\"%s.%s\"",
                               e->source_schema, e->source_table);
        if (rc < 0)
            goto done;
        problems += rc;
        rc = FERRY_OK;
    }
    set_orders(t, cfg);
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
        free(t->v[i].seen);
        facts_free(&t->v[i].f);
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

long
cdc_tables_lookup(const cdc_tables_t *t, const char *schema, const char *table)
{
    return find_slot(t, schema, table);
}

const unsigned char *
cdc_tables_col_types(const cdc_tables_t *t, size_t i)
{
    return t->v[i].f.coltypes;
}

const size_t *
cdc_tables_key_index(const cdc_tables_t *t, size_t i)
{
    return t->v[i].f.key_ok ? t->v[i].f.key_index : NULL;
}

const unsigned char *
cdc_tables_col_flags(const cdc_tables_t *t, size_t i)
{
    return t->v[i].f.flags;
}

char
cdc_tables_replident(const cdc_tables_t *t, size_t i)
{
    return t->v[i].f.replident;
}

bool
cdc_tables_index_key(const cdc_tables_t *t, size_t i)
{
    return t->v[i].f.index_key;
}

size_t
cdc_tables_order(const cdc_tables_t *t, size_t i)
{
    return t->v[i].order;
}

uint64_t
cdc_tables_generation(const cdc_tables_t *t, size_t i)
{
    return t->v[i].generation;
}

const char *const *
cdc_tables_names(const cdc_tables_t *t)
{
    return (const char *const *)t->names;
}

static bool
matches(const cdc_table_t *tab, ferry_json_tok_t schema, ferry_json_tok_t table)
{
    return ferry_json_tok_eq(table, tab->table, strlen(tab->table)) &&
           ferry_json_tok_eq(schema, tab->schema, strlen(tab->schema));
}

const cdc_table_t *
cdc_tables_find(cdc_tables_t *t, ferry_json_tok_t schema,
                ferry_json_tok_t table)
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

/* The cached column named by tok, looking at hint first; -1 if none. */
static long
find_column(const facts_t *f, ferry_json_tok_t tok, size_t hint)
{
    if (hint < f->ncolumns &&
        ferry_json_tok_eq(tok, f->columns[hint], f->lens[hint]))
        return (long)hint;
    for (size_t j = 0; j < f->ncolumns; j++)
        if (j != hint && ferry_json_tok_eq(tok, f->columns[j], f->lens[j]))
            return (long)j;
    return -1;
}

long
cdc_tables_column(const cdc_tables_t *t, size_t i, ferry_json_tok_t name,
                  size_t hint)
{
    return find_column(&t->v[i].f, name, hint);
}

cdc_tables_fit_t
cdc_tables_fit(cdc_tables_t *t, size_t i, const cdc_w2j_msg_t *msg)
{
    table_slot_t *slot = &t->v[i];
    const facts_t *f = &slot->f;
    const cdc_w2j_cols_t *cols = &msg->columns;
    cdc_tables_fit_t fit = CDC_TABLES_FIT;
    size_t at = 0;

    if (msg->action != 'I' && msg->action != 'U')
        return CDC_TABLES_FIT;
    memset(slot->seen, 0, f->ncolumns);
    for (size_t k = 0; k < cols->n; k++) {
        /* Both lists are in attnum order: the next cached column is almost
         * always the one. */
        long j = find_column(f, cols->v[k].name, at);

        if (j < 0)
            return CDC_TABLES_STALE;
        if (cols->v[k].type.ptr != NULL &&
            !ferry_json_tok_eq(cols->v[k].type, f->types[j],
                               strlen(f->types[j])))
            return CDC_TABLES_STALE;
        slot->seen[j] = 1;
        at = (size_t)j + 1;
    }
    for (size_t j = 0; j < f->ncolumns; j++) {
        if (slot->seen[j])
            continue;
        if (msg->action == 'I' || !(f->flags[j] & CDC_TABLES_COL_TOASTABLE))
            return CDC_TABLES_STALE;
        fit = CDC_TABLES_MAYBE_TOAST;
    }
    return fit;
}

/* Whether a and b list the same columns with the same types. */
static bool
same_columns(const facts_t *a, const facts_t *b)
{
    if (a->ncolumns != b->ncolumns)
        return false;
    for (size_t j = 0; j < a->ncolumns; j++)
        if (strcmp(a->columns[j], b->columns[j]) != 0 ||
            strcmp(a->types[j], b->types[j]) != 0)
            return false;
    return true;
}

static bool
same_keys(const facts_t *a, const facts_t *b)
{
    if (a->nkey != b->nkey || a->replident != b->replident ||
        a->index_key != b->index_key)
        return false;
    for (size_t k = 0; k < a->nkey; k++)
        if (strcmp(a->key[k], b->key[k]) != 0)
            return false;
    for (size_t j = 0; j < a->ncolumns && j < b->ncolumns; j++)
        if (a->flags[j] != b->flags[j])
            return false;
    return true;
}

/* A new array of the n columns and types of f (strings borrowed). */
static ferry_wire_column_t *
wire_columns(const facts_t *f)
{
    ferry_wire_column_t *v = calloc(f->ncolumns + 1, sizeof(*v));

    for (size_t j = 0; v != NULL && j < f->ncolumns; j++) {
        v[j].name = f->columns[j];
        v[j].type = f->types[j];
    }
    return v;
}

int
cdc_tables_refresh(cdc_tables_t *t, size_t i, PGconn *conn,
                   cdc_tables_change_t *chg, ferry_err_t *err)
{
    table_slot_t *slot = &t->v[i];
    facts_t nf, *old;
    char report[512];
    int rc;

    memset(chg, 0, sizeof(*chg));
    memset(&nf, 0, sizeof(nf));
    report[0] = '\0';
    rc = describe(conn, slot->entity, &nf, report, sizeof(report), err);
    if (rc == 1) {
        ferry_warn("%s; ferry-cdc keeps what it knew of the table", report);
        return FERRY_OK;
    }
    if (rc != FERRY_OK)
        return rc;
    chg->columns = !same_columns(&slot->f, &nf);
    chg->keys = !same_keys(&slot->f, &nf);
    if (!chg->columns && !chg->keys) {
        facts_free(&nf);
        return FERRY_OK;
    }
    if ((old = malloc(sizeof(*old))) == NULL) {
        facts_free(&nf);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory describing source table \"%s\"",
                             slot->qualified);
    }
    *old = slot->f;
    slot->f = nf;
    slot->generation++;
    chg->old_facts = old;
    chg->old_columns = wire_columns(old);
    chg->n_old = old->ncolumns;
    chg->new_columns = wire_columns(&slot->f);
    chg->n_new = slot->f.ncolumns;
    if (publish_facts(slot) != FERRY_OK || chg->old_columns == NULL ||
        chg->new_columns == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory describing source table \"%s\"",
                             slot->qualified);
    return FERRY_OK;
}

void
cdc_tables_change_clear(cdc_tables_change_t *chg)
{
    if (chg->old_facts != NULL) {
        facts_free(chg->old_facts);
        free(chg->old_facts);
    }
    free(chg->old_columns);
    free(chg->new_columns);
    memset(chg, 0, sizeof(*chg));
}
