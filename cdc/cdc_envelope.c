/* Debezium-shaped keys and values for ferry-cdc, copied from wal2json's
 * tokens without unescaping them.
 * cdc/cdc_envelope.c */
#include "cdc_envelope.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_IS(tok, lit)                                                       \
    ((tok).len == sizeof(lit) - 1 && memcmp((tok).ptr, (lit), (tok).len) == 0)

int
cdc_env_init(cdc_env_t *env, const char *version, const char *name,
             const char *db, ferry_err_t *err)
{
    ferry_buf_t *b = &env->source_head;

    ferry_buf_init(b);
    ferry_buf_append_lit(b, ",\"source\":{\"version\":");
    ferry_buf_append_json_str(b, version, strlen(version));
    ferry_buf_append_lit(b, ",\"connector\":\"ferry\",\"name\":");
    ferry_buf_append_json_str(b, name, strlen(name));
    ferry_buf_append_lit(b, ",\"ts_ms\":");
    /* The db name goes after ts_ms and snapshot, so it is kept apart. */
    ferry_buf_init(&env->source_db);
    ferry_buf_append_lit(&env->source_db, ",\"db\":");
    ferry_buf_append_json_str(&env->source_db, db, strlen(db));
    if (ferry_buf_status(b, err, "building the envelope's source block") != 0 ||
        ferry_buf_status(&env->source_db, err,
                         "building the envelope's source block") != 0) {
        cdc_env_close(env);
        return FERRY_ENOMEM;
    }
    return 0;
}

void
cdc_env_close(cdc_env_t *env)
{
    ferry_buf_close(&env->source_head);
    ferry_buf_close(&env->source_db);
}

static const char *
snapshot_text(cdc_env_snapshot_t snap)
{
    switch (snap) {
    case CDC_ENV_SNAPSHOT_TRUE:
        return ",\"snapshot\":\"true\"";
    case CDC_ENV_SNAPSHOT_LAST:
        return ",\"snapshot\":\"last\"";
    default:
        return ",\"snapshot\":\"false\"";
    }
}

/* Integer types go out as bare JSON numbers; the rest of the numbers as
 * strings so that no consumer rounds them through a double. */
static bool
is_int_type(cdc_w2j_tok_t type)
{
    if (type.ptr == NULL)
        return false;
    return TOK_IS(type, "integer") || TOK_IS(type, "bigint") ||
           TOK_IS(type, "smallint");
}

static bool
is_plain_int(const char *p, size_t n)
{
    size_t i = n > 0 && p[0] == '-' ? 1 : 0;

    if (i == n)
        return false;
    for (; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* Appends one column's value in ferry's lossless text form. */
static void
append_value(ferry_buf_t *b, const cdc_w2j_col_t *col)
{
    switch (col->kind) {
    case CDC_W2J_NUMBER:
        if (is_int_type(col->type)) {
            ferry_buf_append(b, col->value.ptr, col->value.len);
        } else {
            ferry_buf_putc(b, '"');
            ferry_buf_append(b, col->value.ptr, col->value.len);
            ferry_buf_putc(b, '"');
        }
        return;
    case CDC_W2J_STRING:
        /* wal2json drops bytea's "\x"; put it back, JSON-escaped. */
        if (col->type.ptr != NULL && TOK_IS(col->type, "bytea")) {
            ferry_buf_append_lit(b, "\"\\\\x");
            ferry_buf_append(b, col->value.ptr + 1, col->value.len - 1);
            return;
        }
        /* numeric-data-types-as-string (wal2json 2.6+) quotes integers. */
        if (is_int_type(col->type) &&
            is_plain_int(col->value.ptr + 1, col->value.len - 2)) {
            ferry_buf_append(b, col->value.ptr + 1, col->value.len - 2);
            return;
        }
        ferry_buf_append(b, col->value.ptr, col->value.len);
        return;
    case CDC_W2J_ABSENT:
        ferry_buf_append_lit(b, "null");
        return;
    default:
        ferry_buf_append(b, col->value.ptr, col->value.len);
        return;
    }
}

/* Appends "name":value. */
static inline void
append_member(ferry_buf_t *b, const cdc_w2j_col_t *col)
{
    ferry_buf_putc(b, '"');
    ferry_buf_append(b, col->name.ptr, col->name.len);
    ferry_buf_append_lit(b, "\":");
    append_value(b, col);
}

/* Appends {"a":1,...} with every column of cols. */
static void
append_row(ferry_buf_t *b, const cdc_w2j_cols_t *cols)
{
    ferry_buf_putc(b, '{');
    for (size_t i = 0; i < cols->n; i++) {
        if (i > 0)
            ferry_buf_putc(b, ',');
        append_member(b, &cols->v[i]);
    }
    ferry_buf_putc(b, '}');
}

static bool
tok_same(cdc_w2j_tok_t a, cdc_w2j_tok_t b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Finds key column i of the table in cols: by the descriptor's name, or by
 * wal2json's "pk" entry when the descriptor names no key. */
static const cdc_w2j_col_t *
find_key_col(const cdc_w2j_msg_t *msg, const cdc_table_t *t,
             const cdc_w2j_cols_t *cols, size_t i)
{
    if (t->nkey > 0)
        return cdc_w2j_cols_find(cols, t->key_columns[i],
                                 strlen(t->key_columns[i]), i);
    for (size_t j = 0; j < cols->n; j++) {
        size_t k = (i + j) % cols->n;

        if (tok_same(cols->v[k].name, msg->pk.v[i].name))
            return &cols->v[k];
    }
    return NULL;
}

static int
key_missing(const cdc_env_row_t *row, size_t i, ferry_err_t *err)
{
    const cdc_table_t *t = row->table;
    char name[256];

    if (t->nkey > 0)
        cdc_w2j_tok_unescape(
            (cdc_w2j_tok_t){t->key_columns[i], strlen(t->key_columns[i])}, name,
            sizeof(name));
    else
        cdc_w2j_tok_unescape(row->msg->pk.v[i].name, name, sizeof(name));
    return ferry_err_set(err, FERRY_EDATA,
                         "key column \"%s\" of table \"%s\".\"%s\" is missing "
                         "from the change at LSN %X/%X",
                         name, t->schema, t->table,
                         (unsigned)(row->msg->lsn >> 32),
                         (unsigned)row->msg->lsn);
}

/* Appends the key object from cols (new values or old identity). */
static int
append_key(const cdc_env_row_t *row, const cdc_w2j_cols_t *cols,
           ferry_buf_t *key, ferry_err_t *err)
{
    const cdc_table_t *t = row->table;
    size_t nkey = t->nkey > 0 ? t->nkey : row->msg->pk.n;

    if (nkey == 0)
        return ferry_err_set(err, FERRY_EDATA,
                             "table \"%s\".\"%s\" has no key columns: give it "
                             "a primary key or a replica identity",
                             t->schema, t->table);
    ferry_buf_putc(key, '{');
    for (size_t i = 0; i < nkey; i++) {
        const cdc_w2j_col_t *col = find_key_col(row->msg, t, cols, i);

        if (col == NULL)
            return key_missing(row, i, err);
        if (i > 0)
            ferry_buf_putc(key, ',');
        append_member(key, col);
    }
    ferry_buf_putc(key, '}');
    return ferry_buf_status(key, err,
                            "building the key of a change of table "
                            "\"%s\".\"%s\"",
                            t->schema, t->table);
}

static bool
uses_old_key(const cdc_env_row_t *row)
{
    return row->msg->action == 'D' ||
           (row->msg->action == 'U' && row->part == CDC_ENV_KEY_CHANGE_DELETE);
}

int
cdc_env_row_key(const cdc_env_row_t *row, ferry_buf_t *key, ferry_err_t *err)
{
    if (row->msg->action == 'T')
        return 0;
    if (uses_old_key(row))
        return append_key(row, &row->msg->identity, key, err);
    return append_key(row, &row->msg->columns, key, err);
}

int
cdc_env_tombstone_key(const cdc_env_row_t *row, ferry_buf_t *key,
                      ferry_err_t *err)
{
    if (!uses_old_key(row))
        return ferry_err_set(err, FERRY_EDATA,
                             "a tombstone follows only a delete of table "
                             "\"%s\".\"%s\"",
                             row->table->schema, row->table->table);
    return append_key(row, &row->msg->identity, key, err);
}

bool
cdc_env_key_changed(const cdc_w2j_msg_t *msg, const cdc_table_t *t)
{
    cdc_env_row_t row = {.msg = msg, .table = t};
    size_t nkey = t->nkey > 0 ? t->nkey : msg->pk.n;

    if (msg->action != 'U' || msg->identity.n == 0)
        return false;
    for (size_t i = 0; i < nkey; i++) {
        const cdc_w2j_col_t *o = find_key_col(msg, t, &msg->identity, i);
        const cdc_w2j_col_t *n = find_key_col(msg, t, &msg->columns, i);

        if (o != NULL && n != NULL &&
            (o->kind != n->kind || !tok_same(o->value, n->value)))
            return true;
    }
    (void)row;
    return false;
}

/* Appends ,"absent":["c",...] for each table column that an UPDATE left out
 * (an unchanged TOASTed value), if there is any. */
static void
append_absent(ferry_buf_t *b, const cdc_w2j_cols_t *cols, const cdc_table_t *t)
{
    size_t at = 0;
    bool any = false;

    for (size_t j = 0; j < t->ncolumns; j++) {
        const char *name = t->columns[j];
        size_t n = strlen(name);

        /* wal2json and the descriptor both list columns in attnum order,
         * so the next entry is almost always the one. */
        if (at < cols->n && cdc_w2j_tok_eq(cols->v[at].name, name, n)) {
            at++;
            continue;
        }
        if (cdc_w2j_cols_find(cols, name, n, at) != NULL)
            continue;
        if (any)
            ferry_buf_putc(b, ',');
        else
            ferry_buf_append_lit(b, ",\"absent\":[");
        ferry_buf_append_json_str(b, name, n);
        any = true;
    }
    if (any)
        ferry_buf_putc(b, ']');
}

/* Appends "before":..,"after":.. and returns the op letter, or 0. */
static char
append_images(ferry_buf_t *b, const cdc_env_row_t *row)
{
    const cdc_w2j_msg_t *m = row->msg;
    bool snap = row->snapshot != CDC_ENV_SNAPSHOT_FALSE;

    if (row->part != CDC_ENV_WHOLE && m->action != 'U')
        return 0;
    switch (m->action) {
    case 'I':
        ferry_buf_append_lit(b, "{\"before\":null,\"after\":");
        append_row(b, &m->columns);
        return snap ? 'r' : 'c';
    case 'U':
        if (row->part == CDC_ENV_KEY_CHANGE_DELETE) {
            ferry_buf_append_lit(b, "{\"before\":");
            append_row(b, &m->identity);
            ferry_buf_append_lit(b, ",\"after\":null");
            return 'd';
        }
        ferry_buf_append_lit(b, "{\"before\":");
        if (m->identity.n > 0 && row->part == CDC_ENV_WHOLE)
            append_row(b, &m->identity);
        else
            ferry_buf_append_lit(b, "null");
        ferry_buf_append_lit(b, ",\"after\":");
        append_row(b, &m->columns);
        append_absent(b, &m->columns, row->table);
        return row->part == CDC_ENV_KEY_CHANGE_CREATE ? 'c' : 'u';
    case 'D':
        ferry_buf_append_lit(b, "{\"before\":");
        append_row(b, &m->identity);
        ferry_buf_append_lit(b, ",\"after\":null");
        return 'd';
    case 'T':
        ferry_buf_append_lit(b, "{\"before\":null,\"after\":null");
        return 't';
    default:
        return 0;
    }
}

/* Appends "<xid>:<commit lsn>" without quotes. */
static void
append_tx_id(ferry_buf_t *b, const cdc_env_tx_t *tx)
{
    ferry_buf_append_str(b, tx->xid_text);
    ferry_buf_putc(b, ':');
    ferry_buf_append_str(b, tx->lsn_text);
}

static void
append_source(ferry_buf_t *b, const cdc_env_t *env, const cdc_env_tx_t *tx,
              const cdc_env_row_t *row)
{
    const cdc_w2j_msg_t *m = row->msg;

    char lsn[20];
    size_t lsn_len = ferry_buf_u64_digits(m->lsn, lsn);

    ferry_buf_append(b, env->source_head.data, env->source_head.len);
    ferry_buf_append_str(b, tx->ts_text);
    ferry_buf_append_str(b, snapshot_text(row->snapshot));
    ferry_buf_append(b, env->source_db.data, env->source_db.len);
    ferry_buf_append_lit(b, ",\"sequence\":\"[\\\"");
    ferry_buf_append_str(b, tx->lsn_text);
    ferry_buf_append_lit(b, "\\\",\\\"");
    ferry_buf_append(b, lsn, lsn_len);
    ferry_buf_append_lit(b, "\\\"]\",\"schema\":\"");
    ferry_buf_append(b, m->schema.ptr, m->schema.len);
    ferry_buf_append_lit(b, "\",\"table\":\"");
    ferry_buf_append(b, m->table.ptr, m->table.len);
    ferry_buf_append_lit(b, "\",\"txId\":");
    ferry_buf_append_str(b, tx->xid_text);
    ferry_buf_append_lit(b, ",\"lsn\":");
    ferry_buf_append(b, lsn, lsn_len);
    ferry_buf_append_lit(b, ",\"xmin\":null}");
}

int
cdc_env_row_value(const cdc_env_t *env, const cdc_env_tx_t *tx,
                  const cdc_env_row_t *row, ferry_buf_t *val, ferry_err_t *err)
{
    char op = append_images(val, row);

    if (op == 0)
        return ferry_err_set(err, FERRY_EDATA,
                             "cannot build a change event from wal2json "
                             "action \"%c\" of table \"%s\".\"%s\"",
                             row->msg->action ? row->msg->action : '?',
                             row->table->schema, row->table->table);
    append_source(val, env, tx, row);
    ferry_buf_append_lit(val, ",\"op\":\"");
    ferry_buf_putc(val, op);
    ferry_buf_append_lit(val, "\",\"ts_ms\":");
    ferry_buf_append_i64(val, row->ts_ms);
    ferry_buf_append_lit(val, ",\"transaction\":{\"id\":\"");
    append_tx_id(val, tx);
    ferry_buf_append_lit(val, "\",\"total_order\":");
    ferry_buf_append_u64(val, row->order.total_order);
    ferry_buf_append_lit(val, ",\"data_collection_order\":");
    ferry_buf_append_u64(val, row->order.data_collection_order);
    ferry_buf_append_lit(val, "}}");
    return ferry_buf_status(val, err,
                            "building the value of a change of table "
                            "\"%s\".\"%s\"",
                            row->table->schema, row->table->table);
}

void
cdc_env_tx_init(cdc_env_tx_t *tx)
{
    memset(tx, 0, sizeof(*tx));
}

void
cdc_env_tx_close(cdc_env_tx_t *tx)
{
    free(tx->tables);
    memset(tx, 0, sizeof(*tx));
}

int
cdc_env_tx_begin(cdc_env_tx_t *tx, const cdc_w2j_msg_t *begin, ferry_err_t *err)
{
    const char *missing = NULL;

    if (begin->action != 'B')
        return ferry_err_set(err, FERRY_EDATA,
                             "a transaction starts with wal2json action "
                             "\"B\", not \"%c\"",
                             begin->action ? begin->action : '?');
    if (!begin->has_xid)
        missing = "xid (include-xids)";
    else if (!begin->has_lsn)
        missing = "lsn (include-lsn)";
    else if (begin->timestamp.ptr == NULL)
        missing = "timestamp (include-timestamp)";
    if (missing != NULL)
        return ferry_err_set(err, FERRY_EDATA,
                             "wal2json BEGIN message without %s", missing);
    if (!cdc_env_parse_ts_ms(begin->timestamp.ptr, begin->timestamp.len,
                             &tx->commit_ts_ms))
        return ferry_err_set(
            err, FERRY_EDATA,
            "invalid commit timestamp \"%.*s\" of "
            "transaction %llu",
            (int)(begin->timestamp.len > 64 ? 64 : begin->timestamp.len),
            begin->timestamp.ptr, (unsigned long long)begin->xid);
    tx->xid = begin->xid;
    tx->commit_lsn = begin->lsn;
    /* Formatted once here: every event of the transaction repeats them. */
    snprintf(tx->xid_text, sizeof(tx->xid_text), "%" PRIu64, tx->xid);
    snprintf(tx->lsn_text, sizeof(tx->lsn_text), "%" PRIu64, tx->commit_lsn);
    snprintf(tx->ts_text, sizeof(tx->ts_text), "%" PRId64, tx->commit_ts_ms);
    tx->total = 0;
    tx->ntables = 0;
    tx->last = 0;
    return 0;
}

int
cdc_env_tx_count(cdc_env_tx_t *tx, const cdc_table_t *table,
                 cdc_env_order_t *order, ferry_err_t *err)
{
    size_t i = tx->last;

    if (i >= tx->ntables || tx->tables[i].table != table) {
        for (i = 0; i < tx->ntables && tx->tables[i].table != table; i++)
            ;
        if (i == tx->ntables) {
            if (tx->ntables == tx->cap) {
                size_t cap = tx->cap < 8 ? 8 : tx->cap * 2;
                cdc_env_tx_table_t *v = realloc(tx->tables, cap * sizeof(*v));

                if (v == NULL)
                    return ferry_err_set(err, FERRY_ENOMEM,
                                         "could not count the events of "
                                         "%zu tables",
                                         cap);
                tx->tables = v;
                tx->cap = cap;
            }
            tx->tables[i].table = table;
            tx->tables[i].count = 0;
            tx->ntables++;
        }
        tx->last = i;
    }
    order->total_order = ++tx->total;
    order->data_collection_order = ++tx->tables[i].count;
    return 0;
}

void
cdc_env_tx_key(const cdc_env_tx_t *tx, ferry_buf_t *key)
{
    ferry_buf_append_lit(key, "{\"id\":\"");
    append_tx_id(key, tx);
    ferry_buf_append_lit(key, "\"}");
}

static void
append_tx_head(const cdc_env_tx_t *tx, ferry_buf_t *val, const char *status)
{
    ferry_buf_append_lit(val, "{\"status\":\"");
    ferry_buf_append_str(val, status);
    ferry_buf_append_lit(val, "\",\"id\":\"");
    append_tx_id(val, tx);
    ferry_buf_append_lit(val, "\",\"ts_ms\":");
    ferry_buf_append_str(val, tx->ts_text);
}

void
cdc_env_tx_begin_value(const cdc_env_tx_t *tx, ferry_buf_t *val)
{
    append_tx_head(tx, val, "BEGIN");
    ferry_buf_append_lit(val,
                         ",\"event_count\":null,\"data_collections\":null}");
}

void
cdc_env_tx_end_value(const cdc_env_tx_t *tx, ferry_buf_t *val)
{
    append_tx_head(tx, val, "END");
    ferry_buf_append_lit(val, ",\"event_count\":");
    ferry_buf_append_u64(val, tx->total);
    ferry_buf_append_lit(val, ",\"data_collections\":[");
    for (size_t i = 0; i < tx->ntables; i++) {
        const cdc_table_t *t = tx->tables[i].table;

        if (i > 0)
            ferry_buf_putc(val, ',');
        ferry_buf_append_lit(val, "{\"data_collection\":\"");
        ferry_buf_append_json_esc(val, t->schema, strlen(t->schema));
        ferry_buf_putc(val, '.');
        ferry_buf_append_json_esc(val, t->table, strlen(t->table));
        ferry_buf_append_lit(val, "\",\"event_count\":");
        ferry_buf_append_u64(val, tx->tables[i].count);
        ferry_buf_putc(val, '}');
    }
    ferry_buf_append_lit(val, "]}");
}

/* Appends one snapshot column in the form streaming gives it. */
static void
append_read_value(ferry_buf_t *b, unsigned char type, const char *v, int len)
{
    if (v == NULL) {
        ferry_buf_append_lit(b, "null");
        return;
    }
    switch (type) {
    case CDC_ENV_COL_INT:
        ferry_buf_append(b, v, (size_t)len);
        return;
    case CDC_ENV_COL_BOOL:
        if (len > 0 && v[0] == 't')
            ferry_buf_append_lit(b, "true");
        else
            ferry_buf_append_lit(b, "false");
        return;
    default:
        ferry_buf_append_json_str(b, v, (size_t)len);
        return;
    }
}

static void
append_read_member(ferry_buf_t *b, const cdc_env_read_t *r, size_t i)
{
    const cdc_table_t *t = r->table;
    const char *name = t->columns[i];

    ferry_buf_append_json_str(b, name, strlen(name));
    ferry_buf_putc(b, ':');
    append_read_value(b, r->col_types ? r->col_types[i] : CDC_ENV_COL_TEXT,
                      r->values[i], r->lengths[i]);
}

int
cdc_env_read_key(const cdc_env_read_t *r, ferry_buf_t *key, ferry_err_t *err)
{
    const cdc_table_t *t = r->table;

    if (r->key_index == NULL || t->nkey == 0)
        return ferry_err_set(err, FERRY_EDATA,
                             "table \"%s\".\"%s\" has no key columns to "
                             "snapshot by",
                             t->schema, t->table);
    ferry_buf_putc(key, '{');
    for (size_t k = 0; k < t->nkey; k++) {
        size_t i = r->key_index[k];

        if (r->values[i] == NULL)
            return ferry_err_set(err, FERRY_EDATA,
                                 "key column \"%s\" of table \"%s\".\"%s\" "
                                 "is NULL in the snapshot",
                                 t->columns[i], t->schema, t->table);
        if (k > 0)
            ferry_buf_putc(key, ',');
        append_read_member(key, r, i);
    }
    ferry_buf_putc(key, '}');
    return ferry_buf_status(key, err,
                            "building the key of a snapshot row of table "
                            "\"%s\".\"%s\"",
                            t->schema, t->table);
}

int
cdc_env_read_value(const cdc_env_t *env, const cdc_env_read_t *r,
                   ferry_buf_t *val, ferry_err_t *err)
{
    const cdc_table_t *t = r->table;
    char lsn[20];
    size_t lsn_len = ferry_buf_u64_digits(r->lsn, lsn);

    ferry_buf_append_lit(val, "{\"before\":null,\"after\":{");
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (i > 0)
            ferry_buf_putc(val, ',');
        append_read_member(val, r, i);
    }
    ferry_buf_putc(val, '}');
    ferry_buf_append(val, env->source_head.data, env->source_head.len);
    ferry_buf_append_i64(val, r->source_ts_ms);
    ferry_buf_append_str(val, snapshot_text(r->snapshot));
    ferry_buf_append(val, env->source_db.data, env->source_db.len);
    ferry_buf_append_lit(val, ",\"sequence\":\"[\\\"");
    ferry_buf_append(val, lsn, lsn_len);
    ferry_buf_append_lit(val, "\\\",\\\"0\\\"]\",\"schema\":\"");
    ferry_buf_append_json_esc(val, t->schema, strlen(t->schema));
    ferry_buf_append_lit(val, "\",\"table\":\"");
    ferry_buf_append_json_esc(val, t->table, strlen(t->table));
    ferry_buf_append_lit(val, "\",\"txId\":null,\"lsn\":");
    ferry_buf_append(val, lsn, lsn_len);
    ferry_buf_append_lit(val, ",\"xmin\":null},\"op\":\"r\",\"ts_ms\":");
    ferry_buf_append_i64(val, r->ts_ms);
    ferry_buf_append_lit(val, ",\"transaction\":null}");
    return ferry_buf_status(val, err,
                            "building the value of a snapshot row of table "
                            "\"%s\".\"%s\"",
                            t->schema, t->table);
}

/* Reads exactly n digits at *p into *v. */
static bool
digits(const char **p, const char *end, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

static bool
lit(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses "+HH", "+HH:MM" or "+HH:MM:SS" into seconds east of UTC. */
static bool
parse_offset(const char **p, const char *end, int *secs)
{
    int sign, hh, mm = 0, ss = 0;

    if (*p >= end || (**p != '+' && **p != '-'))
        return false;
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (!digits(p, end, 2, &hh))
        return false;
    if (lit(p, end, ':') && !digits(p, end, 2, &mm))
        return false;
    if (lit(p, end, ':') && !digits(p, end, 2, &ss))
        return false;
    *secs = sign * (hh * 3600 + mm * 60 + ss);
    return true;
}

bool
cdc_env_parse_ts_ms(const char *s, size_t n, int64_t *ms)
{
    const char *p = s, *end = s + n;
    int y, mo, d, h, mi, sec, off = 0, frac_ms = 0, scale = 100;

    if (!digits(&p, end, 4, &y) || !lit(&p, end, '-') ||
        !digits(&p, end, 2, &mo) || !lit(&p, end, '-') ||
        !digits(&p, end, 2, &d) || !lit(&p, end, ' ') ||
        !digits(&p, end, 2, &h) || !lit(&p, end, ':') ||
        !digits(&p, end, 2, &mi) || !lit(&p, end, ':') ||
        !digits(&p, end, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    if (lit(&p, end, '.')) {
        if (p >= end || *p < '0' || *p > '9')
            return false;
        for (; p < end && *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac_ms += (*p - '0') * scale;
    }
    if (p < end && !parse_offset(&p, end, &off))
        return false;
    if (p != end)
        return false;
    *ms =
        ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off) *
            1000 +
        frac_ms;
    return true;
}
