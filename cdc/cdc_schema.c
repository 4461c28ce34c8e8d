/* Schema changes of the captured tables: when to read the catalog again,
 * and the schema-change records.
 * cdc/cdc_schema.c */
#include "cdc_schema.h"

#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "map_catalog.h"

#include <stdlib.h>
#include <string.h>

/* Catalog reads that an ambiguous or unexplained change may cause, at
 * most one per table per this many ms. */
#define REREAD_MS 1000

/* Per table: the last catalog read and what it could not explain. */
typedef struct table_state {
    int64_t read_ms; /* monotonic ms of the last read, 0 for none */
    uint64_t unmet;  /* shape of the change the last read did not
                        explain, 0 for none */
} table_state_t;

struct cdc_schema {
    cdc_tables_t *tables; /* borrowed */
    const char *slot;     /* borrowed, for log lines */
    table_state_t *st;    /* owned: one per table */
    bool trigger;         /* the source has ferry's DDL event trigger */
    bool known;           /* trigger was read at least once */
};

cdc_schema_t *
cdc_schema_new(cdc_tables_t *tables, const char *slot)
{
    cdc_schema_t *sc = calloc(1, sizeof(*sc));

    if (sc == NULL)
        return NULL;
    sc->st = calloc(cdc_tables_count(tables) + 1, sizeof(*sc->st));
    if (sc->st == NULL) {
        free(sc);
        return NULL;
    }
    sc->tables = tables;
    sc->slot = slot;
    return sc;
}

void
cdc_schema_free(cdc_schema_t *sc)
{
    if (sc == NULL)
        return;
    free(sc->st);
    free(sc);
}

int
cdc_schema_check_trigger(cdc_schema_t *sc, PGconn *sql, ferry_err_t *err)
{
    bool installed;
    int rc = map_catalog_ddl_trigger(sql, "source", &installed, err);

    if (rc != 0)
        return rc;
    if (sc->known && installed == sc->trigger)
        return FERRY_OK;
    if (installed)
        ferry_info("slot \"%s\": the source's event trigger announces DDL "
                   "(\"" MAP_CATALOG_DDL_PREFIX "\" messages): schema "
                   "changes are seen exactly where they happen",
                   sc->slot);
    else
        ferry_warn("slot \"%s\": the source has no event trigger writing "
                   "\"" MAP_CATALOG_DDL_PREFIX "\" messages: a column "
                   "dropped less than a second after ferry-cdc last read its "
                   "table's catalog may be taken for an unchanged TOAST "
                   "value for up to a second; install it (docs/setup.md)",
                   sc->slot);
    sc->trigger = installed;
    sc->known = true;
    return FERRY_OK;
}

/* FNV-1a over the action and the columns' names and types: what a change
 * showed of its table. */
static uint64_t
shape_of(const cdc_w2j_msg_t *msg)
{
    uint64_t h = UINT64_C(14695981039346656037);

    h = (h ^ (unsigned char)msg->action) * UINT64_C(1099511628211);
    for (size_t k = 0; k < msg->columns.n; k++) {
        const cdc_w2j_col_t *c = &msg->columns.v[k];

        for (size_t i = 0; i < c->name.len; i++)
            h = (h ^ (unsigned char)c->name.ptr[i]) * UINT64_C(1099511628211);
        h = (h ^ 0xff) * UINT64_C(1099511628211);
        for (size_t i = 0; i < c->type.len; i++)
            h = (h ^ (unsigned char)c->type.ptr[i]) * UINT64_C(1099511628211);
        h = (h ^ 0xfe) * UINT64_C(1099511628211);
    }
    return h ? h : 1;
}

/* Builds the record of chg for table ti at lsn into key and val. */
static int
build_record(cdc_schema_t *sc, size_t ti, uint64_t lsn,
             const cdc_tables_change_t *chg, ferry_buf_t *key, ferry_buf_t *val,
             ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(sc->tables, ti);
    ferry_wire_schema_change_t rec = {.schema = t->schema,
                                      .table = t->table,
                                      .lsn = lsn,
                                      .ts_ms = ferry_wall_ms(),
                                      .old_columns = chg->old_columns,
                                      .n_old = chg->n_old,
                                      .new_columns = chg->new_columns,
                                      .n_new = chg->n_new};
    int rc;

    ferry_buf_reset(key);
    ferry_buf_reset(val);
    ferry_wire_schema_change_key(key, t->schema, t->table);
    ferry_wire_schema_change_value(val, &rec);
    if ((rc = ferry_buf_status(key, err,
                               "building the schema-change record of table "
                               "\"%s.%s\"",
                               t->schema, t->table)) != FERRY_OK)
        return rc;
    return ferry_buf_status(val, err,
                            "building the schema-change record of table "
                            "\"%s.%s\"",
                            t->schema, t->table);
}

/* Reads table ti's catalog again; why names the cause in log lines. */
static int
reread(cdc_schema_t *sc, PGconn *sql, size_t ti, uint64_t lsn, const char *why,
       ferry_buf_t *key, ferry_buf_t *val, cdc_schema_result_t *res,
       ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(sc->tables, ti);
    cdc_tables_change_t chg;
    int rc;

    sc->st[ti].read_ms = ferry_mono_ms();
    sc->st[ti].unmet = 0;
    rc = cdc_tables_refresh(sc->tables, ti, sql, &chg, err);
    if (rc != FERRY_OK) {
        if (PQstatus(sql) == CONNECTION_BAD)
            PQreset(sql);
        cdc_tables_change_clear(&chg);
        return ferry_err_prefix(err,
                                "could not read the catalog of table "
                                "\"%s.%s\" again (%s)",
                                t->schema, t->table, why);
    }
    res->refreshed = chg.columns || chg.keys;
    if (chg.columns &&
        (rc = build_record(sc, ti, lsn, &chg, key, val, err)) == FERRY_OK) {
        res->announce = true;
        ferry_info("slot \"%s\": table \"%s.%s\" changed at " FERRY_LSN_FMT
                   " (%s): %zu columns, %zu before; announced on the schema "
                   "topic",
                   sc->slot, t->schema, t->table, FERRY_LSN_ARGS(lsn), why,
                   chg.n_new, chg.n_old);
    } else if (chg.keys) {
        ferry_info("slot \"%s\": the key or replica identity of table "
                   "\"%s.%s\" changed at " FERRY_LSN_FMT " (%s)",
                   sc->slot, t->schema, t->table, FERRY_LSN_ARGS(lsn), why);
    }
    cdc_tables_change_clear(&chg);
    return rc;
}

int
cdc_schema_on_change(cdc_schema_t *sc, PGconn *sql, size_t ti,
                     const cdc_w2j_msg_t *msg, ferry_buf_t *key,
                     ferry_buf_t *val, cdc_schema_result_t *res,
                     ferry_err_t *err)
{
    cdc_tables_fit_t fit = cdc_tables_fit(sc->tables, ti, msg);
    table_state_t *st = &sc->st[ti];
    int64_t now;
    uint64_t shape = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    res->table = ti;
    if (fit == CDC_TABLES_FIT || (fit == CDC_TABLES_MAYBE_TOAST && sc->trigger))
        return FERRY_OK;
    now = ferry_mono_ms();
    if (fit == CDC_TABLES_MAYBE_TOAST) {
        if (st->read_ms != 0 && now - st->read_ms < REREAD_MS)
            return FERRY_OK;
    } else {
        shape = shape_of(msg);
        if (st->unmet == shape && now - st->read_ms < REREAD_MS)
            return FERRY_OK;
    }
    rc = reread(sc, sql, ti, msg->lsn,
                fit == CDC_TABLES_STALE
                    ? "a change did not fit its columns"
                    : "an update left out a TOAST-able column",
                key, val, res, err);
    /* Still not explained: remember it, so that the same shape does not
     * read the catalog again within a second. */
    if (rc == FERRY_OK && fit == CDC_TABLES_STALE &&
        cdc_tables_fit(sc->tables, ti, msg) == CDC_TABLES_STALE)
        st->unmet = shape;
    return rc;
}

/* One identifier of s at *p, quoted or not, into out; advances *p. */
static bool
parse_ident(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    size_t n = 0;

    if (*s == '"') {
        for (s++;; s++) {
            if (*s == '\0')
                return false;
            if (*s == '"' && s[1] != '"')
                break;
            if (*s == '"')
                s++;
            if (n + 1 >= cap)
                return false;
            out[n++] = *s;
        }
        s++;
    } else {
        while (*s != '\0' && *s != '.' && *s != '"') {
            if (n + 1 >= cap)
                return false;
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    *p = s;
    return n > 0;
}

bool
cdc_schema_parse_name(const char *s, char *schema, char *table, size_t cap)
{
    return parse_ident(&s, schema, cap) && *s++ == '.' &&
           parse_ident(&s, table, cap) && *s == '\0';
}

int
cdc_schema_on_message(cdc_schema_t *sc, PGconn *sql, const cdc_w2j_msg_t *msg,
                      bool *handled, ferry_buf_t *key, ferry_buf_t *val,
                      cdc_schema_result_t *res, ferry_err_t *err)
{
    char text[1024], schema[256], table[256];
    ferry_json_tok_t content = msg->content;
    long ti;

    memset(res, 0, sizeof(*res));
    *handled = ferry_json_tok_eq(msg->prefix, MAP_CATALOG_DDL_PREFIX,
                                 strlen(MAP_CATALOG_DDL_PREFIX));
    if (!*handled || content.ptr == NULL || content.len < 2 ||
        content.ptr[0] != '"')
        return FERRY_OK;
    content.ptr++;
    content.len -= 2;
    if (ferry_json_tok_unescape(content, text, sizeof(text)) >= sizeof(text) ||
        !cdc_schema_parse_name(text, schema, table, sizeof(schema))) {
        ferry_warn("slot \"%s\": ignoring a \"" MAP_CATALOG_DDL_PREFIX
                   "\" message at " FERRY_LSN_FMT " that names no table",
                   sc->slot, FERRY_LSN_ARGS(msg->lsn));
        return FERRY_OK;
    }
    if ((ti = cdc_tables_lookup(sc->tables, schema, table)) < 0)
        return FERRY_OK; /* DDL on a table ferry does not capture */
    res->table = (size_t)ti;
    return reread(sc, sql, (size_t)ti, msg->lsn,
                  "DDL announced by the event "
                  "trigger",
                  key, val, res, err);
}
