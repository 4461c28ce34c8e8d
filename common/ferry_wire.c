/* The wire format between ferry-cdc and ferry-sink: topic names, the
 * sequence pair, the transaction id, and the control records.
 * common/ferry_wire.c */
#include "ferry_wire.h"

#include "ferry_lsn.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- Topics ------------------------------------------------------------ */

static const char *const topic_suffixes[] = {
    [FERRY_WIRE_TOPIC_TRANSACTION] = FERRY_WIRE_T_TRANSACTION,
    [FERRY_WIRE_TOPIC_HEARTBEAT] = FERRY_WIRE_T_HEARTBEAT,
    [FERRY_WIRE_TOPIC_SNAPSHOT] = FERRY_WIRE_T_SNAPSHOT,
    [FERRY_WIRE_TOPIC_DLQ] = FERRY_WIRE_T_DLQ,
    [FERRY_WIRE_TOPIC_SCHEMA] = FERRY_WIRE_T_SCHEMA,
};

#define N_TOPICS (sizeof(topic_suffixes) / sizeof(topic_suffixes[0]))

const char *
ferry_wire_topic_suffix(ferry_wire_topic_t kind)
{
    return (size_t)kind < N_TOPICS ? topic_suffixes[kind] : NULL;
}

void
ferry_wire_topic_append(ferry_buf_t *b, const char *prefix,
                        ferry_wire_topic_t kind)
{
    const char *suffix = ferry_wire_topic_suffix(kind);

    ferry_buf_append_str(b, prefix);
    ferry_buf_putc(b, '.');
    ferry_buf_append_str(b, suffix != NULL ? suffix : "");
}

bool
ferry_wire_topic_parse(const char *topic, size_t n, const char *prefix,
                       ferry_wire_topic_t *kind)
{
    size_t plen = strlen(prefix);
    const char *rest;
    size_t rlen;

    if (n <= plen + 1 || memcmp(topic, prefix, plen) != 0 || topic[plen] != '.')
        return false;
    rest = topic + plen + 1;
    rlen = n - plen - 1;
    for (size_t i = 0; i < N_TOPICS; i++)
        if (strlen(topic_suffixes[i]) == rlen &&
            memcmp(rest, topic_suffixes[i], rlen) == 0) {
            *kind = (ferry_wire_topic_t)i;
            return true;
        }
    return false;
}

/* ---- Numbers ------------------------------------------------------------ */

/* Reads 1 to 20 decimal digits at *p (before end) into *out, refusing
 * values beyond 64 bits, and moves *p past them. */
static bool
read_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (s >= end || *s < '0' || *s > '9')
        return false;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    *p = s;
    return true;
}

static void
skip_blanks(const char **p, const char *end)
{
    while (*p < end &&
           (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
        (*p)++;
}

static bool
expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/* ---- source.sequence ---------------------------------------------------- */

void
ferry_wire_seq_append_digits(ferry_buf_t *b, const char *commit, size_t clen,
                             const char *change, size_t chlen)
{
    /* The array is inside a JSON string, so its quotes are escaped. */
    ferry_buf_append_lit(b, "\"[\\\"");
    ferry_buf_append(b, commit, clen);
    ferry_buf_append_lit(b, "\\\",\\\"");
    ferry_buf_append(b, change, chlen);
    ferry_buf_append_lit(b, "\\\"]\"");
}

void
ferry_wire_seq_append(ferry_buf_t *b, uint64_t commit, uint64_t change)
{
    char c[20], l[20];
    size_t clen = ferry_buf_u64_digits(commit, c);
    size_t llen = ferry_buf_u64_digits(change, l);

    ferry_wire_seq_append_digits(b, c, clen, l, llen);
}

/* One element: blanks, then a quoted number. */
static bool
seq_item(const char **p, const char *end, uint64_t *out)
{
    skip_blanks(p, end);
    return expect(p, end, '"') && read_u64(p, end, out) && expect(p, end, '"');
}

bool
ferry_wire_seq_decode(const char *s, size_t n, uint64_t *commit,
                      uint64_t *change)
{
    const char *p = s, *end = s + n;
    uint64_t c, l;

    if (s == NULL)
        return false;
    skip_blanks(&p, end);
    if (!expect(&p, end, '[') || !seq_item(&p, end, &c))
        return false;
    skip_blanks(&p, end);
    if (!expect(&p, end, ',') || !seq_item(&p, end, &l))
        return false;
    skip_blanks(&p, end);
    if (!expect(&p, end, ']'))
        return false;
    skip_blanks(&p, end);
    if (p != end)
        return false;
    *commit = c;
    *change = l;
    return true;
}

/* ---- The transaction id ------------------------------------------------- */

size_t
ferry_wire_txid_format(uint64_t xid, uint64_t commit,
                       char out[FERRY_WIRE_TXID_LEN])
{
    size_t n = ferry_buf_u64_digits(xid, out);

    out[n++] = ':';
    n += ferry_buf_u64_digits(commit, out + n);
    out[n] = '\0';
    return n;
}

void
ferry_wire_txid_append(ferry_buf_t *b, uint64_t xid, uint64_t commit)
{
    char id[FERRY_WIRE_TXID_LEN];
    size_t n = ferry_wire_txid_format(xid, commit, id);

    ferry_buf_append(b, id, n);
}

bool
ferry_wire_txid_decode(const char *s, size_t n, uint64_t *xid, uint64_t *commit)
{
    const char *p = s, *end = s + n;
    uint64_t x, c;

    if (s == NULL || !read_u64(&p, end, &x) || !expect(&p, end, ':') ||
        !read_u64(&p, end, &c) || p != end)
        return false;
    *xid = x;
    *commit = c;
    return true;
}

/* ---- Heartbeats --------------------------------------------------------- */

void
ferry_wire_heartbeat_key(ferry_buf_t *b, const char *prefix)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_HBKEY_SERVER_NAME "\":");
    ferry_buf_append_json_str(b, prefix, strlen(prefix));
    ferry_buf_putc(b, '}');
}

void
ferry_wire_heartbeat_value(ferry_buf_t *b, int64_t ts_ms, uint64_t lsn)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_HB_TS_MS "\":");
    ferry_buf_append_i64(b, ts_ms);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_HB_LSN "\":\"");
    ferry_buf_append_lsn(b, lsn);
    ferry_buf_append_lit(b, "\"}");
}

/* ---- Decoding records --------------------------------------------------- */

/* Parses v[0..n) as a JSON object: a new reference (json_decref()), or
 * NULL with err set. */
static json_t *
load_object(const void *v, size_t n, const char *what, ferry_err_t *err)
{
    json_error_t jerr;
    json_t *o = v != NULL ? json_loadb(v, n, 0, &jerr) : NULL;

    if (o == NULL) {
        ferry_err_set(err, FERRY_EDATA, "%s is not JSON: %s", what,
                      v != NULL ? jerr.text : "no value");
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        ferry_err_set(err, FERRY_EDATA, "%s is not a JSON object", what);
        return NULL;
    }
    return o;
}

/* The non-empty string member name of o without NUL bytes (borrowed from
 * o), or NULL. */
static const char *
get_name(const json_t *o, const char *name)
{
    const json_t *s = json_object_get(o, name);
    const char *v = json_string_value(s);

    if (v == NULL || v[0] == '\0' || strlen(v) != json_string_length(s))
        return NULL;
    return v;
}

/* The "X/X" member name of o into *lsn. */
static bool
get_lsn(const json_t *o, const char *name, uint64_t *lsn)
{
    const json_t *s = json_object_get(o, name);

    return json_is_string(s) &&
           ferry_lsn_parse(json_string_value(s), json_string_length(s), lsn);
}

static bool
get_ms(const json_t *o, const char *name, int64_t *ms)
{
    const json_t *i = json_object_get(o, name);

    if (!json_is_integer(i))
        return false;
    *ms = (int64_t)json_integer_value(i);
    return true;
}

/* Copies s into the string area at *p and returns the copy. */
static const char *
copy_str(char **p, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = memcpy(*p, s, n);

    *p += n;
    return d;
}

/* ---- Snapshot records --------------------------------------------------- */

static const char *
snap_status_name(ferry_wire_snap_status_t s)
{
    switch (s) {
    case FERRY_WIRE_SNAP_COMPLETE:
        return FERRY_WIRE_V_SNAP_COMPLETE;
    case FERRY_WIRE_SNAP_TABLE_STARTED:
        return FERRY_WIRE_V_SNAP_TABLE_STARTED;
    case FERRY_WIRE_SNAP_TABLE_COMPLETE:
        return FERRY_WIRE_V_SNAP_TABLE_COMPLETE;
    default:
        return FERRY_WIRE_V_SNAP_STARTED;
    }
}

/* The status named s, or 0. */
static ferry_wire_snap_status_t
snap_status_parse(const char *s)
{
    static const ferry_wire_snap_status_t all[] = {
        FERRY_WIRE_SNAP_STARTED, FERRY_WIRE_SNAP_COMPLETE,
        FERRY_WIRE_SNAP_TABLE_STARTED, FERRY_WIRE_SNAP_TABLE_COMPLETE};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(s, snap_status_name(all[i])) == 0)
            return all[i];
    return (ferry_wire_snap_status_t)0;
}

void
ferry_wire_snaprec_key(ferry_buf_t *b, const char *slot)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_SNAPKEY_SLOT "\":");
    ferry_buf_append_json_str(b, slot, strlen(slot));
    ferry_buf_putc(b, '}');
}

void
ferry_wire_snaprec_table_key(ferry_buf_t *b, const char *slot,
                             const char *schema, const char *table)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_SNAPKEY_SLOT "\":");
    ferry_buf_append_json_str(b, slot, strlen(slot));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SNAPKEY_SCHEMA "\":");
    ferry_buf_append_json_str(b, schema, strlen(schema));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SNAPKEY_TABLE "\":");
    ferry_buf_append_json_str(b, table, strlen(table));
    ferry_buf_putc(b, '}');
}

void
ferry_wire_snaprec_value(ferry_buf_t *b, const ferry_wire_snaprec_t *rec)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_SNAP_SLOT "\":");
    ferry_buf_append_json_str(b, rec->slot, strlen(rec->slot));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SNAP_STATUS "\":\"");
    ferry_buf_append_str(b, snap_status_name(rec->status));
    ferry_buf_putc(b, '"');
    if (ferry_wire_snap_is_table(rec->status)) {
        ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SNAP_SCHEMA "\":");
        ferry_buf_append_json_str(b, rec->schema, strlen(rec->schema));
        ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SNAP_TABLE "\":");
        ferry_buf_append_json_str(b, rec->table, strlen(rec->table));
    }
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SNAP_LSN "\":\"");
    ferry_buf_append_lsn(b, rec->lsn);
    ferry_buf_append_lit(b, "\",\"" FERRY_WIRE_F_SNAP_TS_MS "\":");
    ferry_buf_append_i64(b, rec->ts_ms);
    ferry_buf_putc(b, '}');
}

/* Copies the record's strings into one block that out->mem owns. */
static int
snaprec_own(ferry_wire_snaprec_t *out, const char *slot, const char *schema,
            const char *table, ferry_err_t *err)
{
    size_t ls = strlen(slot) + 1;
    size_t lsc = schema ? strlen(schema) + 1 : 0;
    size_t lt = table ? strlen(table) + 1 : 0;
    char *p;

    if ((out->mem = malloc(ls + lsc + lt)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory decoding a snapshot record");
    p = out->mem;
    out->slot = copy_str(&p, slot);
    out->schema = schema ? copy_str(&p, schema) : NULL;
    out->table = table ? copy_str(&p, table) : NULL;
    return 0;
}

int
ferry_wire_snaprec_decode(const void *v, size_t n, ferry_wire_snaprec_t *out,
                          ferry_err_t *err)
{
    json_t *o;
    const char *slot, *status, *schema = NULL, *table = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if ((o = load_object(v, n, "snapshot record", err)) == NULL)
        return FERRY_EDATA;
    slot = get_name(o, FERRY_WIRE_F_SNAP_SLOT);
    status = json_string_value(json_object_get(o, FERRY_WIRE_F_SNAP_STATUS));
    if (slot == NULL || status == NULL) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "snapshot record without \"%s\" or \"%s\"",
                           FERRY_WIRE_F_SNAP_SLOT, FERRY_WIRE_F_SNAP_STATUS);
        goto done;
    }
    if ((out->status = snap_status_parse(status)) == 0) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "snapshot record of slot \"%s\" with unknown "
                           "status \"%.64s\"",
                           slot, status);
        goto done;
    }
    if (ferry_wire_snap_is_table(out->status) &&
        ((schema = get_name(o, FERRY_WIRE_F_SNAP_SCHEMA)) == NULL ||
         (table = get_name(o, FERRY_WIRE_F_SNAP_TABLE)) == NULL)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "snapshot record \"%s\" of slot \"%s\" without "
                           "\"%s\" or \"%s\"",
                           status, slot, FERRY_WIRE_F_SNAP_SCHEMA,
                           FERRY_WIRE_F_SNAP_TABLE);
        goto done;
    }
    if (!get_lsn(o, FERRY_WIRE_F_SNAP_LSN, &out->lsn) ||
        !get_ms(o, FERRY_WIRE_F_SNAP_TS_MS, &out->ts_ms)) {
        rc =
            ferry_err_set(err, FERRY_EDATA,
                          "snapshot record of slot \"%s\" without an "
                          "\"X/X\" \"%s\" or an integer \"%s\"",
                          slot, FERRY_WIRE_F_SNAP_LSN, FERRY_WIRE_F_SNAP_TS_MS);
        goto done;
    }
    rc = snaprec_own(out, slot, schema, table, err);
done:
    json_decref(o);
    if (rc != 0) {
        free(out->mem);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

void
ferry_wire_snaprec_clear(ferry_wire_snaprec_t *rec)
{
    free(rec->mem);
    memset(rec, 0, sizeof(*rec));
}

/* ---- Schema-change records ---------------------------------------------- */

void
ferry_wire_schema_change_key(ferry_buf_t *b, const char *schema,
                             const char *table)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_SCHKEY_SCHEMA "\":");
    ferry_buf_append_json_str(b, schema, strlen(schema));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SCHKEY_TABLE "\":");
    ferry_buf_append_json_str(b, table, strlen(table));
    ferry_buf_putc(b, '}');
}

static void
append_columns(ferry_buf_t *b, const ferry_wire_column_t *cols, size_t n)
{
    ferry_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ferry_buf_putc(b, ',');
        ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_SCH_COL_NAME "\":");
        ferry_buf_append_json_str(b, cols[i].name, strlen(cols[i].name));
        ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SCH_COL_TYPE "\":");
        ferry_buf_append_json_str(b, cols[i].type, strlen(cols[i].type));
        ferry_buf_putc(b, '}');
    }
    ferry_buf_putc(b, ']');
}

void
ferry_wire_schema_change_value(ferry_buf_t *b,
                               const ferry_wire_schema_change_t *sc)
{
    ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_SCH_SCHEMA "\":");
    ferry_buf_append_json_str(b, sc->schema, strlen(sc->schema));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SCH_TABLE "\":");
    ferry_buf_append_json_str(b, sc->table, strlen(sc->table));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SCH_LSN "\":\"");
    ferry_buf_append_lsn(b, sc->lsn);
    ferry_buf_append_lit(b, "\",\"" FERRY_WIRE_F_SCH_TS_MS "\":");
    ferry_buf_append_i64(b, sc->ts_ms);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SCH_OLD_COLUMNS "\":");
    append_columns(b, sc->old_columns, sc->n_old);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SCH_NEW_COLUMNS "\":");
    append_columns(b, sc->new_columns, sc->n_new);
    ferry_buf_putc(b, '}');
}

/* Checks a column list and adds the bytes its strings need to *bytes. */
static bool
measure_columns(const json_t *a, size_t *bytes)
{
    size_t i;
    const json_t *c;

    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, c)
    {
        const char *name = get_name(c, FERRY_WIRE_F_SCH_COL_NAME);
        const char *type = get_name(c, FERRY_WIRE_F_SCH_COL_TYPE);

        if (name == NULL || type == NULL)
            return false;
        *bytes += strlen(name) + strlen(type) + 2;
    }
    return true;
}

static void
copy_columns(const json_t *a, ferry_wire_column_t *cols, char **strs)
{
    size_t i;
    const json_t *c;

    json_array_foreach(a, i, c)
    {
        cols[i].name = copy_str(strs, get_name(c, FERRY_WIRE_F_SCH_COL_NAME));
        cols[i].type = copy_str(strs, get_name(c, FERRY_WIRE_F_SCH_COL_TYPE));
    }
}

int
ferry_wire_schema_change_decode(const void *v, size_t n,
                                ferry_wire_schema_change_t *out,
                                ferry_err_t *err)
{
    json_t *o, *oldc, *newc;
    const char *schema, *table;
    size_t bytes, ncols;
    ferry_wire_column_t *cols;
    char *strs;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if ((o = load_object(v, n, "schema-change record", err)) == NULL)
        return FERRY_EDATA;
    schema = get_name(o, FERRY_WIRE_F_SCH_SCHEMA);
    table = get_name(o, FERRY_WIRE_F_SCH_TABLE);
    if (schema == NULL || table == NULL) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "schema-change record without \"%s\" or \"%s\"",
                           FERRY_WIRE_F_SCH_SCHEMA, FERRY_WIRE_F_SCH_TABLE);
        goto done;
    }
    if (!get_lsn(o, FERRY_WIRE_F_SCH_LSN, &out->lsn) ||
        !get_ms(o, FERRY_WIRE_F_SCH_TS_MS, &out->ts_ms)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "schema-change record of table \"%s\".\"%s\" "
                           "without an \"X/X\" \"%s\" or an integer \"%s\"",
                           schema, table, FERRY_WIRE_F_SCH_LSN,
                           FERRY_WIRE_F_SCH_TS_MS);
        goto done;
    }
    oldc = json_object_get(o, FERRY_WIRE_F_SCH_OLD_COLUMNS);
    newc = json_object_get(o, FERRY_WIRE_F_SCH_NEW_COLUMNS);
    bytes = strlen(schema) + strlen(table) + 2;
    if (!measure_columns(oldc, &bytes) || !measure_columns(newc, &bytes)) {
        rc =
            ferry_err_set(err, FERRY_EDATA,
                          "schema-change record of table \"%s\".\"%s\": "
                          "\"%s\" and \"%s\" must be arrays of {\"%s\", "
                          "\"%s\"} with non-empty strings",
                          schema, table, FERRY_WIRE_F_SCH_OLD_COLUMNS,
                          FERRY_WIRE_F_SCH_NEW_COLUMNS,
                          FERRY_WIRE_F_SCH_COL_NAME, FERRY_WIRE_F_SCH_COL_TYPE);
        goto done;
    }
    /* One block: the column arrays, then every string. */
    out->n_old = json_array_size(oldc);
    out->n_new = json_array_size(newc);
    ncols = out->n_old + out->n_new;
    if ((out->mem = malloc(ncols * sizeof(*cols) + bytes)) == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory decoding the schema-change record "
                           "of table \"%s\".\"%s\"",
                           schema, table);
        goto done;
    }
    cols = out->mem;
    strs = (char *)(cols + ncols);
    out->schema = copy_str(&strs, schema);
    out->table = copy_str(&strs, table);
    copy_columns(oldc, cols, &strs);
    copy_columns(newc, cols + out->n_old, &strs);
    out->old_columns = cols;
    out->new_columns = cols + out->n_old;
done:
    json_decref(o);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

void
ferry_wire_schema_change_clear(ferry_wire_schema_change_t *sc)
{
    free(sc->mem);
    memset(sc, 0, sizeof(*sc));
}
