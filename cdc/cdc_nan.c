/* Reading back NaN and Infinity that wal2json 2.5 sent as null.
 * cdc/cdc_nan.c */
#include "cdc_nan.h"

#include "ferry_buf.h"
#include "ferry_log.h"
#include "ferry_lsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns of one change read back at most (the rest keep null, warned). */
#define MAX_COLS 64

/* The values PostgreSQL prints for the three, and their JSON tokens. */
static const struct {
    const char *text;
    ferry_json_tok_t tok;
} specials[] = {
    {"NaN", {"\"NaN\"", 5}},
    {"Infinity", {"\"Infinity\"", 10}},
    {"-Infinity", {"\"-Infinity\"", 11}},
};

/* Appends the text form of a key value (a wal2json token) to b. */
static void
append_key_text(ferry_buf_t *b, const cdc_w2j_col_t *c)
{
    char tmp[256];
    size_t n;

    switch (c->kind) {
    case FERRY_JSON_STRING:
        if (c->type.ptr != NULL && c->type.len == 5 &&
            memcmp(c->type.ptr, "bytea", 5) == 0)
            ferry_buf_append_lit(b, "\\x");
        n = ferry_json_tok_unescape(
            (ferry_json_tok_t){c->value.ptr + 1, c->value.len - 2}, tmp,
            sizeof(tmp));
        if (n < sizeof(tmp)) {
            ferry_buf_append(b, tmp, n);
        } else {
            char *big = malloc(n + 1);

            if (big == NULL) {
                b->failed = true;
                return;
            }
            ferry_json_tok_unescape(
                (ferry_json_tok_t){c->value.ptr + 1, c->value.len - 2}, big,
                n + 1);
            ferry_buf_append(b, big, n);
            free(big);
        }
        return;
    case FERRY_JSON_TRUE:
        ferry_buf_putc(b, 't');
        return;
    case FERRY_JSON_FALSE:
        ferry_buf_putc(b, 'f');
        return;
    default:
        ferry_buf_append(b, c->value.ptr, c->value.len);
        return;
    }
}

/* Appends "a"::text,... for the candidate columns and the FROM and WHERE
 * clauses to sql, and the key values (NUL-separated) to keys.  Returns
 * false when a key column is missing from the change or quoting fails. */
static bool
build_query(PGconn *sql, const cdc_table_t *t, const cdc_w2j_msg_t *msg,
            const size_t *cand, size_t n, ferry_buf_t *q, ferry_buf_t *keys,
            size_t *offs)
{
    char *id;

    ferry_buf_append_lit(q, "SELECT ");
    for (size_t i = 0; i < n; i++) {
        const char *name = t->columns[cand[i]];

        if ((id = PQescapeIdentifier(sql, name, strlen(name))) == NULL)
            return false;
        ferry_buf_append_str(q, i ? ", " : "");
        ferry_buf_append_str(q, id);
        ferry_buf_append_lit(q, "::text");
        PQfreemem(id);
    }
    ferry_buf_append_lit(q, " FROM ");
    if ((id = PQescapeIdentifier(sql, t->schema, strlen(t->schema))) == NULL)
        return false;
    ferry_buf_append_str(q, id);
    PQfreemem(id);
    ferry_buf_putc(q, '.');
    if ((id = PQescapeIdentifier(sql, t->table, strlen(t->table))) == NULL)
        return false;
    ferry_buf_append_str(q, id);
    PQfreemem(id);
    for (size_t k = 0; k < t->nkey; k++) {
        const char *name = t->key_columns[k];
        const cdc_w2j_col_t *c =
            cdc_w2j_cols_find(&msg->columns, name, strlen(name), k);

        if (c == NULL || c->kind == FERRY_JSON_NULL ||
            (id = PQescapeIdentifier(sql, name, strlen(name))) == NULL)
            return false;
        ferry_buf_append_str(q, k ? " AND " : " WHERE ");
        ferry_buf_append_str(q, id);
        ferry_buf_append_lit(q, " = $");
        ferry_buf_append_u64(q, k + 1);
        PQfreemem(id);
        offs[k] = keys->len;
        append_key_text(keys, c);
        ferry_buf_putc(keys, '\0');
    }
    return true;
}

/* "id=7, b=x" for log lines, from the NUL-separated key values. */
static void
key_text(const cdc_table_t *t, const ferry_buf_t *keys, const size_t *offs,
         char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t k = 0; k < t->nkey && len < cap; k++) {
        int w = snprintf(out + len, cap - len, "%s%s=%.64s", k ? ", " : "",
                         t->key_columns[k], keys->data + offs[k]);

        if (w < 0)
            return;
        len += (size_t)w;
    }
}

/* Points column c at the special value text, if it is one. */
static bool
patch(cdc_w2j_col_t *c, const char *text)
{
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        if (strcmp(text, specials[i].text) == 0) {
            c->value = specials[i].tok;
            c->kind = FERRY_JSON_STRING;
            return true;
        }
    }
    return false;
}

/* Reads the candidates back and patches or warns. */
static int
read_back(PGconn *sql, const cdc_table_t *t, cdc_w2j_msg_t *msg,
          const size_t *cand, const size_t *at, size_t n, ferry_err_t *err)
{
    ferry_buf_t q, keys;
    size_t offs[64];
    const char *params[64];
    char ktext[512];
    PGresult *res = NULL;
    int rc = FERRY_OK;

    ferry_buf_init(&q);
    ferry_buf_init(&keys);
    if (t->nkey > 64 || !build_query(sql, t, msg, cand, n, &q, &keys, offs) ||
        ferry_buf_status(&q, NULL, "building a query") != 0 ||
        ferry_buf_status(&keys, NULL, "building a query") != 0) {
        ferry_warn("table \"%s.%s\": cannot read back the NaN or Infinity of "
                   "the change at " FERRY_LSN_FMT
                   " (its key is not in the change): null is published",
                   t->schema, t->table, FERRY_LSN_ARGS(msg->lsn));
        goto done;
    }
    for (size_t k = 0; k < t->nkey; k++)
        params[k] = keys.data + offs[k];
    key_text(t, &keys, offs, ktext, sizeof(ktext));
    res = PQexecParams(sql, ferry_buf_cstr(&q), (int)t->nkey, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not read back row %s of table \"%s.%s\" "
                           "(a NaN or Infinity at " FERRY_LSN_FMT "): %s",
                           ktext, t->schema, t->table, FERRY_LSN_ARGS(msg->lsn),
                           PQerrorMessage(sql));
        if (PQstatus(sql) == CONNECTION_BAD)
            PQreset(sql);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *col = t->columns[cand[i]];
        const char *now = PQntuples(res) == 1 && !PQgetisnull(res, 0, (int)i)
                              ? PQgetvalue(res, 0, (int)i)
                              : NULL;

        ferry_logctx_t ctx = FERRY_LOGCTX_NONE;

        ctx.lsn = msg->lsn;
        ctx.key = ktext;
        if (now != NULL && patch(&msg->columns.v[at[i]], now))
            ferry_log_ctx(
                FERRY_LOG_WARNING, &ctx,
                "table \"%s.%s\" column \"%s\" key %s at " FERRY_LSN_FMT
                ": wal2json sent null for a NOT NULL column (NaN or "
                "Infinity); published the row's current value %s",
                t->schema, t->table, col, ktext, FERRY_LSN_ARGS(msg->lsn), now);
        else
            ferry_log_ctx(
                FERRY_LOG_WARNING, &ctx,
                "table \"%s.%s\" column \"%s\" key %s at " FERRY_LSN_FMT
                ": wal2json sent null for a NOT NULL column (NaN or "
                "Infinity), and the row changed meanwhile (%s%s): "
                "published null; the later change carries its newer "
                "state",
                t->schema, t->table, col, ktext, FERRY_LSN_ARGS(msg->lsn),
                now != NULL ? "now " : "no such row now",
                now != NULL ? now : "");
    }

done:
    PQclear(res);
    ferry_buf_close(&q);
    ferry_buf_close(&keys);
    return rc;
}

int
cdc_nan_recover(const cdc_tables_t *tables, size_t ti, cdc_w2j_msg_t *msg,
                PGconn *sql, ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(tables, ti);
    const unsigned char *flags = cdc_tables_col_flags(tables, ti);
    const unsigned char need = CDC_TABLES_COL_NAN | CDC_TABLES_COL_NOT_NULL;
    size_t cand[MAX_COLS], at[MAX_COLS], n = 0;

    if (msg->action != 'I' && msg->action != 'U')
        return FERRY_OK;
    for (size_t k = 0; k < msg->columns.n; k++) {
        cdc_w2j_col_t *c = &msg->columns.v[k];
        long j;

        if (c->kind != FERRY_JSON_NULL)
            continue;
        j = cdc_tables_column(tables, ti, c->name, k);
        if (j < 0 || (flags[j] & need) != need)
            continue;
        if (n == MAX_COLS) {
            ferry_warn("table \"%s.%s\": more than %d NOT NULL numeric "
                       "columns arrived as null at " FERRY_LSN_FMT
                       "; the rest stay null",
                       t->schema, t->table, MAX_COLS, FERRY_LSN_ARGS(msg->lsn));
            break;
        }
        cand[n] = (size_t)j;
        at[n++] = k;
    }
    if (n == 0)
        return FERRY_OK;
    return read_back(sql, t, msg, cand, at, n, err);
}
