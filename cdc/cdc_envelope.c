/* Debezium-shaped keys and values for ferry-cdc, copied from wal2json's
 * tokens without unescaping them.
 * cdc/cdc_envelope.c
 *
 * Every field name comes from common/ferry_wire.h, pasted into the literal
 * fragments appended here, so the format has one owner and the hot path
 * still appends constant bytes. */
#include "cdc_envelope.h"

#include "ferry_wire.h"

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
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SOURCE
                            "\":{\"" FERRY_WIRE_F_SRC_VERSION "\":");
    ferry_buf_append_json_str(b, version, strlen(version));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SRC_CONNECTOR
                            "\":\"" FERRY_WIRE_V_CONNECTOR
                            "\",\"" FERRY_WIRE_F_SRC_NAME "\":");
    ferry_buf_append_json_str(b, name, strlen(name));
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SRC_TS_MS "\":");
    /* The db name goes after ts_ms and snapshot, so it is kept apart. */
    ferry_buf_init(&env->source_db);
    ferry_buf_append_lit(&env->source_db, ",\"" FERRY_WIRE_F_SRC_DB "\":");
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

#define SNAPSHOT_FLAG(v) ",\"" FERRY_WIRE_F_SRC_SNAPSHOT "\":\"" v "\""

static void
append_snapshot_flag(ferry_buf_t *b, cdc_env_snapshot_t snap)
{
    switch (snap) {
    case CDC_ENV_SNAPSHOT_TRUE:
        ferry_buf_append_lit(b, SNAPSHOT_FLAG(FERRY_WIRE_V_SNAPSHOT_TRUE));
        return;
    case CDC_ENV_SNAPSHOT_LAST:
        ferry_buf_append_lit(b, SNAPSHOT_FLAG(FERRY_WIRE_V_SNAPSHOT_LAST));
        return;
    case CDC_ENV_SNAPSHOT_INCREMENTAL:
        ferry_buf_append_lit(b,
                             SNAPSHOT_FLAG(FERRY_WIRE_V_SNAPSHOT_INCREMENTAL));
        return;
    default:
        ferry_buf_append_lit(b, SNAPSHOT_FLAG(FERRY_WIRE_V_SNAPSHOT_FALSE));
        return;
    }
}

/* Integer types go out as bare JSON numbers; the rest of the numbers as
 * strings so that no consumer rounds them through a double. */
static bool
is_int_type(ferry_json_tok_t type)
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
    case FERRY_JSON_NUMBER:
        if (is_int_type(col->type)) {
            ferry_buf_append(b, col->value.ptr, col->value.len);
        } else {
            ferry_buf_putc(b, '"');
            ferry_buf_append(b, col->value.ptr, col->value.len);
            ferry_buf_putc(b, '"');
        }
        return;
    case FERRY_JSON_STRING:
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
    case FERRY_JSON_ABSENT:
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
tok_same(ferry_json_tok_t a, ferry_json_tok_t b)
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
        ferry_json_tok_unescape(
            (ferry_json_tok_t){t->key_columns[i], strlen(t->key_columns[i])},
            name, sizeof(name));
    else
        ferry_json_tok_unescape(row->msg->pk.v[i].name, name, sizeof(name));
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

/* The table column j an UPDATE left out of cols: its entry in identity
 * (the old row), or NULL when identity does not hold it either. */
static const cdc_w2j_col_t *
old_value(const cdc_w2j_msg_t *m, const cdc_table_t *t, size_t j)
{
    return cdc_w2j_cols_find(&m->identity, t->columns[j], strlen(t->columns[j]),
                             j);
}

/* Moves *j to the next of the table's columns, from *j on, that cols
 * lacks; *at follows cols.  wal2json and the descriptor both list columns
 * in attnum order, so the next entry is almost always the one.  Returns
 * false past the last column. */
static bool
next_missing(const cdc_table_t *t, const cdc_w2j_cols_t *cols, size_t *j,
             size_t *at)
{
    for (; *j < t->ncolumns; (*j)++) {
        const char *name = t->columns[*j];
        size_t n = strlen(name);

        if (*at < cols->n && ferry_json_tok_eq(cols->v[*at].name, name, n)) {
            (*at)++;
            continue;
        }
        if (cdc_w2j_cols_find(cols, name, n, *at) == NULL)
            return true;
    }
    return false;
}

/* Appends the new row of an UPDATE: wal2json's columns, then each column it
 * left out (an unchanged TOASTed value) that the old row holds: with
 * REPLICA IDENTITY FULL PostgreSQL logs the whole old row, TOAST values
 * detoasted, so the event is complete.  Returns whether some column is in
 * neither (then "absent" names it). */
static bool
append_new_row(ferry_buf_t *b, const cdc_w2j_msg_t *m, const cdc_table_t *t)
{
    bool unknown = false;
    size_t j = 0, at = 0;

    append_row(b, &m->columns);
    if (m->identity.n == 0 || b->failed)
        return next_missing(t, &m->columns, &j, &at);
    b->len--; /* reopen the object: its '}' is the last byte */
    for (; next_missing(t, &m->columns, &j, &at); j++) {
        const cdc_w2j_col_t *old = old_value(m, t, j);

        if (old == NULL) {
            unknown = true;
            continue;
        }
        if (b->len > 0 && b->data[b->len - 1] != '{')
            ferry_buf_putc(b, ',');
        append_member(b, old);
    }
    ferry_buf_putc(b, '}');
    return unknown;
}

/* Appends ,"absent":["c",...] for each table column that an UPDATE left out
 * (an unchanged TOASTed value) and the old row does not hold. */
static void
append_absent(ferry_buf_t *b, const cdc_w2j_msg_t *m, const cdc_table_t *t)
{
    bool any = false;

    for (size_t j = 0, at = 0; next_missing(t, &m->columns, &j, &at); j++) {
        const char *name = t->columns[j];

        if (old_value(m, t, j) != NULL)
            continue;
        if (any)
            ferry_buf_putc(b, ',');
        else
            ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_ABSENT "\":[");
        ferry_buf_append_json_str(b, name, strlen(name));
        any = true;
    }
    if (any)
        ferry_buf_putc(b, ']');
}

#define BEFORE "{\"" FERRY_WIRE_F_BEFORE "\":"
#define AFTER ",\"" FERRY_WIRE_F_AFTER "\":"

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
        ferry_buf_append_lit(b, BEFORE "null" AFTER);
        append_row(b, &m->columns);
        return snap ? FERRY_WIRE_OP_READ : FERRY_WIRE_OP_CREATE;
    case 'U':
        if (row->part == CDC_ENV_KEY_CHANGE_DELETE) {
            ferry_buf_append_lit(b, BEFORE);
            append_row(b, &m->identity);
            ferry_buf_append_lit(b, AFTER "null");
            return FERRY_WIRE_OP_DELETE;
        }
        ferry_buf_append_lit(b, BEFORE);
        if (m->identity.n > 0 && row->part == CDC_ENV_WHOLE)
            append_row(b, &m->identity);
        else
            ferry_buf_append_lit(b, "null");
        ferry_buf_append_lit(b, AFTER);
        if (append_new_row(b, m, row->table))
            append_absent(b, m, row->table);
        return row->part == CDC_ENV_KEY_CHANGE_CREATE ? FERRY_WIRE_OP_CREATE
                                                      : FERRY_WIRE_OP_UPDATE;
    case 'D':
        ferry_buf_append_lit(b, BEFORE);
        append_row(b, &m->identity);
        ferry_buf_append_lit(b, AFTER "null");
        return FERRY_WIRE_OP_DELETE;
    case 'T':
        ferry_buf_append_lit(b, BEFORE "null" AFTER "null");
        return FERRY_WIRE_OP_TRUNCATE;
    default:
        return 0;
    }
}

/* Appends "<xid>:<commit lsn>" without quotes, formatted at BEGIN. */
static void
append_tx_id(ferry_buf_t *b, const cdc_env_tx_t *tx)
{
    ferry_buf_append(b, tx->id_text, tx->id_len);
}

/* What the source blocks of a streamed change and of a snapshot read do
 * not share; the rest comes from env.  Numbers are decimal text, so that a
 * transaction formats its own once for all its events. */
typedef struct source {
    int64_t ts_us;               /* source.ts_us (and ts_ms, ts_ns) */
    cdc_env_snapshot_t snapshot; /* source.snapshot */
    const char *commit;          /* sequence[0]: the commit LSN */
    size_t commit_len;           /* bytes at commit */
    const char *change;          /* sequence[1]: the change's LSN */
    size_t change_len;           /* bytes at change */
    const char *lsn;             /* source.lsn */
    size_t lsn_len;              /* bytes at lsn */
    const char *schema;          /* source.schema, see escaped */
    size_t schema_len;           /* bytes at schema */
    const char *table;           /* source.table, see escaped */
    size_t table_len;            /* bytes at table */
    bool escaped;                /* schema and table are JSON-escaped
                                    already (wal2json's tokens); else raw */
    const char *xid;             /* source.txId, or "null" */
    size_t xid_len;              /* bytes at xid */
} source_t;

static inline void
append_name(ferry_buf_t *b, const char *s, size_t n, bool escaped)
{
    if (escaped)
        ferry_buf_append(b, s, n);
    else
        ferry_buf_append_json_esc(b, s, n);
}

/* Microseconds to milliseconds, rounding down (before 1970 too). */
static int64_t
us_to_ms(int64_t us)
{
    return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

/* Appends us in ms (after the "ts_ms": already written), then
 * <us_key>us<ns_key>us*1000 (the clocks read microseconds); the keys are
 * ,"<name>": literals, see APPEND_TIMES. */
static void
append_times(ferry_buf_t *b, int64_t us, const char *us_key, size_t us_len,
             const char *ns_key, size_t ns_len)
{
    ferry_buf_append_i64(b, us_to_ms(us));
    ferry_buf_append(b, us_key, us_len);
    ferry_buf_append_i64(b, us);
    ferry_buf_append(b, ns_key, ns_len);
    ferry_buf_append_i64(b, us * 1000);
}

#define TIME_KEY(f) ",\"" f "\":", sizeof(",\"" f "\":") - 1
#define APPEND_TIMES(b, us, f_us, f_ns)                                        \
    append_times((b), (us), TIME_KEY(f_us), TIME_KEY(f_ns))

/* Appends ,"source":{...}. */
static void
append_source(ferry_buf_t *b, const cdc_env_t *env, const source_t *s)
{
    ferry_buf_append(b, env->source_head.data, env->source_head.len);
    APPEND_TIMES(b, s->ts_us, FERRY_WIRE_F_SRC_TS_US, FERRY_WIRE_F_SRC_TS_NS);
    append_snapshot_flag(b, s->snapshot);
    ferry_buf_append(b, env->source_db.data, env->source_db.len);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SRC_SEQUENCE "\":");
    ferry_wire_seq_append_digits(b, s->commit, s->commit_len, s->change,
                                 s->change_len);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SRC_SCHEMA "\":\"");
    append_name(b, s->schema, s->schema_len, s->escaped);
    ferry_buf_append_lit(b, "\",\"" FERRY_WIRE_F_SRC_TABLE "\":\"");
    append_name(b, s->table, s->table_len, s->escaped);
    ferry_buf_append_lit(b, "\",\"" FERRY_WIRE_F_SRC_TXID "\":");
    ferry_buf_append(b, s->xid, s->xid_len);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SRC_LSN "\":");
    ferry_buf_append(b, s->lsn, s->lsn_len);
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_SRC_XMIN "\":null}");
}

/* Appends ,"op":"<op>","ts_ms":..,"ts_us":..,"ts_ns":.. */
static void
append_op(ferry_buf_t *b, char op, int64_t ts_us)
{
    ferry_buf_append_lit(b, ",\"" FERRY_WIRE_F_OP "\":\"");
    ferry_buf_putc(b, op);
    ferry_buf_append_lit(b, "\",\"" FERRY_WIRE_F_TS_MS "\":");
    APPEND_TIMES(b, ts_us, FERRY_WIRE_F_TS_US, FERRY_WIRE_F_TS_NS);
}

int
cdc_env_row_value(const cdc_env_t *env, const cdc_env_tx_t *tx,
                  const cdc_env_row_t *row, ferry_buf_t *val, ferry_err_t *err)
{
    const cdc_w2j_msg_t *m = row->msg;
    char op = append_images(val, row);
    char change[20];

    if (op == 0)
        return ferry_err_set(err, FERRY_EDATA,
                             "cannot build a change event from wal2json "
                             "action \"%c\" of table \"%s\".\"%s\"",
                             row->msg->action ? row->msg->action : '?',
                             row->table->schema, row->table->table);
    source_t src = {.ts_us = tx->commit_ts_us,
                    .snapshot = row->snapshot,
                    .commit = tx->lsn_text,
                    .commit_len = tx->lsn_len,
                    .change = change,
                    .lsn = change,
                    .schema = m->schema.ptr,
                    .schema_len = m->schema.len,
                    .table = m->table.ptr,
                    .table_len = m->table.len,
                    .escaped = true,
                    .xid = tx->xid_text,
                    .xid_len = tx->xid_len};

    src.change_len = src.lsn_len = ferry_buf_u64_digits(m->lsn, change);
    append_source(val, env, &src);
    append_op(val, op, row->ts_us);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_TRANSACTION
                              "\":{\"" FERRY_WIRE_F_TXN_ID "\":\"");
    append_tx_id(val, tx);
    ferry_buf_append_lit(val, "\",\"" FERRY_WIRE_F_TXN_TOTAL_ORDER "\":");
    ferry_buf_append_u64(val, row->order.total_order);
    ferry_buf_append_lit(val,
                         ",\"" FERRY_WIRE_F_TXN_DATA_COLLECTION_ORDER "\":");
    ferry_buf_append_u64(val, row->order.data_collection_order);
    ferry_buf_append_lit(val, "}}");
    return ferry_buf_status(val, err,
                            "building the value of a change of table "
                            "\"%s\".\"%s\"",
                            row->table->schema, row->table->table);
}

/* Writes the decimal digits of v, with a '-' when negative, into out (no
 * NUL) and returns how many bytes there are. */
static size_t
i64_digits(int64_t v, char out[21])
{
    if (v >= 0)
        return ferry_buf_u64_digits((uint64_t)v, out);
    out[0] = '-';
    /* Negating through uint64_t is defined even for INT64_MIN. */
    return 1 + ferry_buf_u64_digits((uint64_t)0 - (uint64_t)v, out + 1);
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
    if (!cdc_env_parse_ts_us(begin->timestamp.ptr, begin->timestamp.len,
                             &tx->commit_ts_us))
        return ferry_err_set(
            err, FERRY_EDATA,
            "invalid commit timestamp \"%.*s\" of "
            "transaction %llu",
            (int)(begin->timestamp.len > 64 ? 64 : begin->timestamp.len),
            begin->timestamp.ptr, (unsigned long long)begin->xid);
    tx->commit_ts_ms = us_to_ms(tx->commit_ts_us);
    tx->xid = begin->xid;
    tx->commit_lsn = begin->lsn;
    /* Formatted once here: every event of the transaction repeats them. */
    tx->xid_len = ferry_buf_u64_digits(tx->xid, tx->xid_text);
    tx->lsn_len = ferry_buf_u64_digits(tx->commit_lsn, tx->lsn_text);
    tx->ts_len = i64_digits(tx->commit_ts_ms, tx->ts_text);
    tx->id_len = ferry_wire_txid_format(tx->xid, tx->commit_lsn, tx->id_text);
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
    ferry_buf_append_lit(key, "{\"" FERRY_WIRE_F_TXKEY_ID "\":\"");
    append_tx_id(key, tx);
    ferry_buf_append_lit(key, "\"}");
}

static void
append_tx_head(const cdc_env_tx_t *tx, ferry_buf_t *val, const char *status)
{
    ferry_buf_append_lit(val, "{\"" FERRY_WIRE_F_TXEV_STATUS "\":\"");
    ferry_buf_append_str(val, status);
    ferry_buf_append_lit(val, "\",\"" FERRY_WIRE_F_TXEV_ID "\":\"");
    append_tx_id(val, tx);
    ferry_buf_append_lit(val, "\",\"" FERRY_WIRE_F_TXEV_TS_MS "\":");
    ferry_buf_append(val, tx->ts_text, tx->ts_len);
}

void
cdc_env_tx_begin_value(const cdc_env_tx_t *tx, ferry_buf_t *val)
{
    append_tx_head(tx, val, FERRY_WIRE_V_TX_BEGIN);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_TXEV_EVENT_COUNT
                              "\":null,\"" FERRY_WIRE_F_TXEV_DATA_COLLECTIONS
                              "\":null}");
}

void
cdc_env_tx_end_value(const cdc_env_tx_t *tx, ferry_buf_t *val)
{
    append_tx_head(tx, val, FERRY_WIRE_V_TX_END);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_TXEV_EVENT_COUNT "\":");
    ferry_buf_append_u64(val, tx->total);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_TXEV_DATA_COLLECTIONS "\":[");
    for (size_t i = 0; i < tx->ntables; i++) {
        const cdc_table_t *t = tx->tables[i].table;

        if (i > 0)
            ferry_buf_putc(val, ',');
        ferry_buf_append_lit(val, "{\"" FERRY_WIRE_F_TXEV_DC_NAME "\":\"");
        ferry_buf_append_json_esc(val, t->schema, strlen(t->schema));
        ferry_buf_putc(val, '.');
        ferry_buf_append_json_esc(val, t->table, strlen(t->table));
        ferry_buf_append_lit(val,
                             "\",\"" FERRY_WIRE_F_TXEV_DC_EVENT_COUNT "\":");
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
    /* A snapshot row sorts as [<hand-off LSN>, 0], below every change
     * streamed after the hand-off (docs/format.md); source.lsn is the
     * hand-off LSN and txId is null. */
    source_t src = {.ts_us = r->source_ts_us,
                    .snapshot = r->snapshot,
                    .commit = lsn,
                    .change = "0",
                    .change_len = 1,
                    .lsn = lsn,
                    .schema = t->schema,
                    .schema_len = strlen(t->schema),
                    .table = t->table,
                    .table_len = strlen(t->table),
                    .escaped = false,
                    .xid = "null",
                    .xid_len = 4};

    src.commit_len = src.lsn_len = ferry_buf_u64_digits(r->lsn, lsn);
    ferry_buf_append_lit(val, BEFORE "null" AFTER "{");
    for (size_t i = 0; i < t->ncolumns; i++) {
        if (i > 0)
            ferry_buf_putc(val, ',');
        append_read_member(val, r, i);
    }
    ferry_buf_putc(val, '}');
    append_source(val, env, &src);
    append_op(val, FERRY_WIRE_OP_READ, r->ts_us);
    ferry_buf_append_lit(val, ",\"" FERRY_WIRE_F_TRANSACTION "\":null}");
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
    int64_t us;

    if (!cdc_env_parse_ts_us(s, n, &us))
        return false;
    *ms = us_to_ms(us);
    return true;
}

bool
cdc_env_parse_ts_us(const char *s, size_t n, int64_t *us)
{
    const char *p = s, *end = s + n;
    int y, mo, d, h, mi, sec, off = 0, frac_us = 0, scale = 100000;

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
            frac_us += (*p - '0') * scale;
    }
    if (p < end && !parse_offset(&p, end, &off))
        return false;
    if (p != end)
        return false;
    *us =
        ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off) *
            INT64_C(1000000) +
        frac_us;
    return true;
}
