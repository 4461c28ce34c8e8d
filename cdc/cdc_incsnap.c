/* Watermark-based re-snapshot of chosen tables while streaming.
 * cdc/cdc_incsnap.c */
#include "cdc_incsnap.h"

#include "ferry_buf.h"
#include "cdc_repl.h"
#include "cdc_snapshot.h"
#include "ferry_log.h"
#include "ferry_time.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One row of the chunk, in the arena. */
typedef struct chunk_row {
    size_t koff, klen; /* its Kafka key */
    size_t voff, vlen; /* its value */
    bool dropped;      /* a streamed change of the key came first */
} chunk_row_t;

struct cdc_incsnap {
    const cdc_tables_t *tables; /* borrowed */
    const cdc_env_t *env;       /* borrowed */
    char signal_schema[256];    /* the signal table, "" for none */
    char signal_table[256];
    size_t chunk_rows;   /* rows per chunk */
    size_t *queue;       /* owned: table indexes to re-snapshot */
    size_t nqueue;       /* entries in queue; queue[0] is being read */
    char *sql_first;     /* owned: the current table's first query */
    char *sql_next;      /* owned: its next-chunk query */
    char **last_key;     /* owned: the last chunk's last key, as text */
    size_t nlast;        /* entries in last_key (0: first chunk) */
    const char **values; /* owned array: one row's values */
    int *lengths;        /* owned array: their lengths */
    ferry_buf_t arena;   /* owned: keys and values of the chunk */
    chunk_row_t *rows;   /* owned: the chunk's rows */
    size_t nrows, cap;   /* rows in the chunk, allocated */
    size_t pos;          /* the next row next_row() looks at */
    bool pending;        /* the chunk waits for its watermark */
    bool ready;          /* the watermark arrived: publish the chunk */
    bool last_chunk;     /* the chunk ends the table */
    bool first_chunk;    /* the chunk is the table's first */
    uint64_t gen;        /* the table's generation when it started */
    char hw[64];         /* the pending watermark's content */
    uint64_t hw_lsn;     /* its LSN */
    uint64_t seq;        /* watermarks written so far */
    uint64_t nonce;      /* tells this process's watermarks apart */
    uint64_t published;  /* rows published for the current table */
    int test_window_ms;  /* FERRY_TEST_RESNAPSHOT_WINDOW_MS: a pause
                            between read and watermark, for tests */
};

cdc_incsnap_t *
cdc_incsnap_new(const cdc_tables_t *tables, const cdc_env_t *env,
                const char *signal, size_t chunk_rows)
{
    cdc_incsnap_t *inc = calloc(1, sizeof(*inc));
    size_t n = cdc_tables_count(tables);
    struct timespec ts;

    if (inc == NULL)
        return NULL;
    inc->queue = calloc(n + 1, sizeof(*inc->queue));
    if (inc->queue == NULL) {
        free(inc);
        return NULL;
    }
    inc->tables = tables;
    inc->env = env;
    inc->chunk_rows = chunk_rows ? chunk_rows : 1024;
    if (signal != NULL) {
        const char *dot = strchr(signal, '.');

        if (dot != NULL) {
            snprintf(inc->signal_schema, sizeof(inc->signal_schema), "%.*s",
                     (int)(dot - signal), signal);
            snprintf(inc->signal_table, sizeof(inc->signal_table), "%s",
                     dot + 1);
        }
    }
    /* Tests widen each chunk's window so that concurrent changes land in
     * it; never set in production. */
    if (getenv("FERRY_TEST_RESNAPSHOT_WINDOW_MS") != NULL)
        inc->test_window_ms = atoi(getenv("FERRY_TEST_RESNAPSHOT_WINDOW_MS"));
    clock_gettime(CLOCK_REALTIME, &ts);
    inc->nonce = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    ferry_buf_init(&inc->arena);
    return inc;
}

static void
reset_table(cdc_incsnap_t *inc)
{
    free(inc->sql_first);
    free(inc->sql_next);
    inc->sql_first = inc->sql_next = NULL;
    for (size_t i = 0; i < inc->nlast; i++)
        free(inc->last_key[i]);
    free(inc->last_key);
    inc->last_key = NULL;
    inc->nlast = 0;
    free(inc->values);
    free(inc->lengths);
    inc->values = NULL;
    inc->lengths = NULL;
    inc->published = 0;
}

/* The current table's description changed (cdc_tables_generation()):
 * its queries and arrays no longer fit, and a chunk read or built with the
 * old columns must not be published.  Its re-snapshot starts again. */
static void
restart_table(cdc_incsnap_t *inc)
{
    const cdc_table_t *t = cdc_tables_get(inc->tables, inc->queue[0]);

    ferry_info("re-snapshot of table \"%s.%s\" starts again: its columns "
               "or key changed",
               t->schema, t->table);
    reset_table(inc);
    inc->pending = inc->ready = false;
    inc->nrows = 0;
}

void
cdc_incsnap_free(cdc_incsnap_t *inc)
{
    if (inc == NULL)
        return;
    reset_table(inc);
    free(inc->queue);
    free(inc->rows);
    ferry_buf_close(&inc->arena);
    free(inc);
}

bool
cdc_incsnap_is_signal(const cdc_incsnap_t *inc, const cdc_w2j_msg_t *msg)
{
    return inc->signal_table[0] != '\0' &&
           ferry_json_tok_eq(msg->table, inc->signal_table,
                             strlen(inc->signal_table)) &&
           ferry_json_tok_eq(msg->schema, inc->signal_schema,
                             strlen(inc->signal_schema));
}

int
cdc_incsnap_request(cdc_incsnap_t *inc, size_t ti, ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(inc->tables, ti);

    for (size_t i = 0; i < inc->nqueue; i++)
        if (inc->queue[i] == ti)
            return FERRY_OK;
    if (!cdc_tables_index_key(inc->tables, ti) ||
        cdc_tables_key_index(inc->tables, ti) == NULL)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "cannot re-snapshot table \"%s.%s\": it has no "
                             "primary key or replica identity index to read "
                             "it in chunks by",
                             t->schema, t->table);
    inc->queue[inc->nqueue++] = ti;
    ferry_info("re-snapshot of table \"%s.%s\" queued (%zu in the queue)",
               t->schema, t->table, inc->nqueue);
    return FERRY_OK;
}

/* Unescapes a JSON string token into a new string (free), or NULL. */
static char *
tok_string(ferry_json_tok_t tok)
{
    json_t *j = json_loadb(tok.ptr, tok.len, JSON_DECODE_ANY, NULL);
    char *s = json_is_string(j) ? strdup(json_string_value(j)) : NULL;

    json_decref(j);
    return s;
}

/* The index of the captured table named "schema.table" (raw), or -1. */
static long
table_by_name(const cdc_incsnap_t *inc, const char *name)
{
    size_t n = cdc_tables_count(inc->tables);

    for (size_t i = 0; i < n; i++) {
        const cdc_table_t *t = cdc_tables_get(inc->tables, i);
        size_t sl = strlen(t->schema);

        if (strncmp(name, t->schema, sl) == 0 && name[sl] == '.' &&
            strcmp(name + sl + 1, t->table) == 0)
            return (long)i;
    }
    return -1;
}

/* Queues the tables of one signal (list, borrowed) parents first: in the
 * mapping's dependency order, whatever order the signal lists them in, so
 * that a consumer applying the re-snapshots one by one never sees a child
 * row before its parent's. */
static void
request_in_order(cdc_incsnap_t *inc, const json_t *list)
{
    size_t n = cdc_tables_count(inc->tables), want = 0;
    bool *asked = calloc(n + 1, sizeof(bool));
    ferry_err_t err = {0, ""};

    if (asked == NULL) {
        ferry_warn("signal ignored: out of memory");
        return;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *name = json_string_value(json_array_get(list, i));
        long ti = name != NULL ? table_by_name(inc, name) : -1;

        if (name != NULL && ti < 0)
            ferry_warn("signal ignored: table \"%s\" is not captured", name);
        else if (ti >= 0 && !asked[ti]) {
            asked[ti] = true;
            want++;
        }
    }
    while (want-- > 0) {
        size_t best = n;

        for (size_t i = 0; i < n; i++)
            if (asked[i] &&
                (best == n || cdc_tables_order(inc->tables, i) <
                                  cdc_tables_order(inc->tables, best)))
                best = i;
        asked[best] = false;
        if (cdc_incsnap_request(inc, best, &err) != FERRY_OK)
            ferry_warn("signal ignored: %s", err.msg);
    }
    free(asked);
}

void
cdc_incsnap_signal(cdc_incsnap_t *inc, const cdc_w2j_msg_t *msg)
{
    const cdc_w2j_col_t *type = cdc_w2j_cols_find(&msg->columns, "type", 4, 1);
    const cdc_w2j_col_t *data = cdc_w2j_cols_find(&msg->columns, "data", 4, 2);
    char *ts = NULL, *ds = NULL;
    json_t *doc = NULL, *list;

    if (msg->action != 'I')
        return;
    if (type == NULL || data == NULL || type->kind != FERRY_JSON_STRING ||
        data->kind != FERRY_JSON_STRING ||
        (ts = tok_string(type->value)) == NULL ||
        (ds = tok_string(data->value)) == NULL) {
        ferry_warn("signal ignored: a signal row needs text columns \"type\" "
                   "and \"data\"");
        goto done;
    }
    if (strcmp(ts, "execute-snapshot") != 0) {
        ferry_warn("signal ignored: unknown type \"%s\"", ts);
        goto done;
    }
    doc = json_loads(ds, 0, NULL);
    list = json_object_get(doc, "data-collections");
    if (!json_is_array(list)) {
        ferry_warn("signal ignored: data is not {\"data-collections\": "
                   "[\"schema.table\", ...]}");
        goto done;
    }
    request_in_order(inc, list);

done:
    json_decref(doc);
    free(ts);
    free(ds);
}

bool
cdc_incsnap_want_chunk(const cdc_incsnap_t *inc)
{
    return inc->nqueue > 0 && !inc->pending && !inc->ready;
}

/* Writes the high watermark and remembers its content and LSN. */
static int
write_watermark(cdc_incsnap_t *inc, PGconn *sql, ferry_err_t *err)
{
    const char *p[1] = {inc->hw};
    PGresult *res;
    int rc = FERRY_OK;

    snprintf(inc->hw, sizeof(inc->hw), "hw:%" PRIu64 ":%" PRIu64, inc->nonce,
             ++inc->seq);
    res = PQexecParams(sql,
                       "SELECT pg_catalog.pg_logical_emit_message(false, "
                       "'ferry', $1)",
                       1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK ||
        !ferry_lsn_parse(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
                         &inc->hw_lsn))
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not write a snapshot watermark: %s",
                           PQerrorMessage(sql));
    PQclear(res);
    return rc;
}

/* Builds the chunk's events into the arena and keeps the last key. */
static int
keep_rows(cdc_incsnap_t *inc, size_t ti, PGresult *res, ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(inc->tables, ti);
    const size_t *kidx = cdc_tables_key_index(inc->tables, ti);
    cdc_env_read_t r = {.table = t,
                        .col_types = cdc_tables_col_types(inc->tables, ti),
                        .key_index = kidx,
                        .values = inc->values,
                        .lengths = inc->lengths,
                        .snapshot = CDC_ENV_SNAPSHOT_INCREMENTAL,
                        .lsn = inc->hw_lsn,
                        .source_ts_us = ferry_wall_us(),
                        .ts_us = ferry_wall_us()};
    int n = PQntuples(res), rc;

    ferry_buf_reset(&inc->arena);
    inc->nrows = 0;
    for (int i = 0; i < n; i++) {
        chunk_row_t *row = &inc->rows[inc->nrows++];

        for (size_t c = 0; c < t->ncolumns; c++) {
            inc->values[c] =
                PQgetisnull(res, i, (int)c) ? NULL : PQgetvalue(res, i, (int)c);
            inc->lengths[c] = PQgetlength(res, i, (int)c);
        }
        row->koff = inc->arena.len;
        if ((rc = cdc_env_read_key(&r, &inc->arena, err)) != FERRY_OK)
            return rc;
        row->klen = inc->arena.len - row->koff;
        row->voff = inc->arena.len;
        if ((rc = cdc_env_read_value(inc->env, &r, &inc->arena, err)) != 0)
            return rc;
        row->vlen = inc->arena.len - row->voff;
        row->dropped = false;
    }
    for (size_t k = 0; n > 0 && k < t->nkey; k++) {
        free(inc->last_key[k]);
        inc->last_key[k] = strdup(PQgetvalue(res, n - 1, (int)kidx[k]));
        if (inc->last_key[k] == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory keeping the last key of a "
                                 "chunk of table \"%s.%s\"",
                                 t->schema, t->table);
    }
    if (n > 0)
        inc->nlast = t->nkey;
    return ferry_buf_status(&inc->arena, err,
                            "building a chunk of the snapshot of table "
                            "\"%s.%s\"",
                            t->schema, t->table);
}

/* Prepares the queries and arrays for the table at the head of the queue. */
static int
start_table(cdc_incsnap_t *inc, PGconn *sql, size_t ti, ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(inc->tables, ti);

    if (inc->sql_first != NULL)
        return FERRY_OK;
    inc->values = calloc(t->ncolumns + 1, sizeof(*inc->values));
    inc->lengths = calloc(t->ncolumns + 1, sizeof(*inc->lengths));
    inc->last_key = calloc(t->nkey + 1, sizeof(*inc->last_key));
    if (inc->cap < inc->chunk_rows) {
        free(inc->rows);
        inc->rows = calloc(inc->chunk_rows, sizeof(*inc->rows));
        inc->cap = inc->rows ? inc->chunk_rows : 0;
    }
    if (inc->values == NULL || inc->lengths == NULL || inc->last_key == NULL ||
        inc->rows == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory starting the re-snapshot of table "
                             "\"%s.%s\"",
                             t->schema, t->table);
    inc->gen = cdc_tables_generation(inc->tables, ti);
    ferry_info("re-snapshot of table \"%s.%s\" started", t->schema, t->table);
    if (cdc_snapshot_keyset_sql(sql, t, cdc_tables_key_index(inc->tables, ti),
                                &inc->sql_first, &inc->sql_next) != FERRY_OK)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory building the re-snapshot queries "
                             "of table \"%s.%s\"",
                             t->schema, t->table);
    return FERRY_OK;
}

static void
finish_table(cdc_incsnap_t *inc)
{
    const cdc_table_t *t = cdc_tables_get(inc->tables, inc->queue[0]);

    ferry_info("re-snapshot of table \"%s.%s\" complete: %" PRIu64 " rows",
               t->schema, t->table, inc->published);
    reset_table(inc);
    memmove(inc->queue, inc->queue + 1, (inc->nqueue - 1) * sizeof(size_t));
    inc->nqueue--;
}

int
cdc_incsnap_read_chunk(cdc_incsnap_t *inc, PGconn *sql, ferry_err_t *err)
{
    size_t ti = inc->queue[0];
    const cdc_table_t *t = cdc_tables_get(inc->tables, ti);
    const char *params[1 + 64];
    char limit[24];
    PGresult *res;
    int rc;

    if (t->nkey > 64)
        return ferry_err_set(err, FERRY_ECONFIG, "too many key columns");
    if (inc->sql_first != NULL &&
        inc->gen != cdc_tables_generation(inc->tables, ti))
        restart_table(inc);
    if (!cdc_tables_index_key(inc->tables, ti) ||
        cdc_tables_key_index(inc->tables, ti) == NULL) {
        /* Its key changed under the re-snapshot: nothing to read it by. */
        ferry_warn("re-snapshot of table \"%s.%s\" abandoned: it has no "
                   "primary key or replica identity index to read it in "
                   "chunks by any more",
                   t->schema, t->table);
        reset_table(inc);
        memmove(inc->queue, inc->queue + 1, (inc->nqueue - 1) * sizeof(size_t));
        inc->nqueue--;
        return FERRY_OK;
    }
    if ((rc = start_table(inc, sql, ti, err)) != FERRY_OK)
        return rc;
    snprintf(limit, sizeof(limit), "%zu", inc->chunk_rows);
    params[0] = limit;
    for (size_t k = 0; k < inc->nlast; k++)
        params[k + 1] = inc->last_key[k];
    res = PQexecParams(sql, inc->nlast ? inc->sql_next : inc->sql_first,
                       1 + (int)inc->nlast, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not read a chunk of table \"%s.%s\": %s",
                           t->schema, t->table, PQerrorMessage(sql));
        PQclear(res);
        return rc;
    }
    inc->last_chunk = (size_t)PQntuples(res) < inc->chunk_rows;
    inc->first_chunk = inc->nlast == 0;
    /* The window opened with the read; the watermark closes it.  An empty
     * chunk gets its watermark too: its LSN is the table's last (or first
     * and last) in the snapshot records. */
    if (inc->test_window_ms > 0)
        usleep((useconds_t)inc->test_window_ms * 1000);
    if ((rc = write_watermark(inc, sql, err)) == FERRY_OK &&
        (rc = keep_rows(inc, ti, res, err)) == FERRY_OK)
        inc->pending = true;
    PQclear(res);
    return rc;
}

void
cdc_incsnap_on_change(cdc_incsnap_t *inc, const cdc_table_t *t, const char *key,
                      size_t klen, bool truncate)
{
    if (!inc->pending || cdc_tables_get(inc->tables, inc->queue[0]) != t)
        return;
    for (size_t i = 0; i < inc->nrows; i++) {
        chunk_row_t *row = &inc->rows[i];

        if (truncate || (row->klen == klen &&
                         memcmp(inc->arena.data + row->koff, key, klen) == 0))
            row->dropped = true;
    }
}

bool
cdc_incsnap_on_message(cdc_incsnap_t *inc, const cdc_w2j_msg_t *msg)
{
    ferry_json_tok_t content = msg->content;

    if (!inc->pending || !ferry_json_tok_eq(msg->prefix, "ferry", 5) ||
        content.ptr == NULL || content.len < 2)
        return false;
    content.ptr++;
    content.len -= 2;
    if (!ferry_json_tok_eq(content, inc->hw, strlen(inc->hw)))
        return false;
    if (inc->gen != cdc_tables_generation(inc->tables, inc->queue[0])) {
        restart_table(inc);
        return false;
    }
    inc->pending = false;
    inc->ready = true;
    inc->pos = 0;
    return true;
}

void
cdc_incsnap_chunk(const cdc_incsnap_t *inc, size_t *ti, uint64_t *lsn,
                  bool *first, bool *last)
{
    *ti = inc->queue[0];
    *lsn = inc->hw_lsn;
    *first = inc->first_chunk;
    *last = inc->last_chunk;
}

bool
cdc_incsnap_next_row(cdc_incsnap_t *inc, size_t *ti, const char **key,
                     size_t *klen, const char **val, size_t *vlen)
{
    if (!inc->ready)
        return false;
    while (inc->pos < inc->nrows) {
        chunk_row_t *row = &inc->rows[inc->pos++];

        if (row->dropped)
            continue;
        *ti = inc->queue[0];
        *key = inc->arena.data + row->koff;
        *klen = row->klen;
        *val = inc->arena.data + row->voff;
        *vlen = row->vlen;
        inc->published++;
        return true;
    }
    inc->ready = false;
    if (inc->last_chunk)
        finish_table(inc);
    return false;
}
