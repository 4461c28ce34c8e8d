/* The snapshot readers: keyset chunks in one imported snapshot, op "r"
 * events, and the hand-off of the final row as "last".
 * cdc/cdc_snapshot.c */
#include "cdc_snapshot.h"

#include "cdc_progress.h"
#include "cdc_repl.h"
#include "ferry_log.h"
#include "ferry_pg.h"
#include "ferry_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16

/* The pages sampled (TABLESAMPLE SYSTEM) to find the ranges' bounds. */
#define SAMPLE_PAGES 256

/* One piece of the snapshot's work: a table, or one key range of a big
 * table.  A range holds the keys after lo (all from the first key when
 * lo is NULL) up to hi included (to the last key when hi is NULL). */
typedef struct unit {
    size_t ti; /* the table's index */
    char **lo; /* owned: nkey key values as text, or NULL */
    char **hi; /* owned: nkey key values as text, or NULL */
} unit_t;

/* What the readers share; fields without a lock note are set before the
 * threads start and only read afterwards. */
typedef struct shared {
    const cdc_snapshot_ctx_t *ctx;   /* borrowed */
    const cdc_snapshot_opts_t *opts; /* borrowed */
    uint64_t lsn;                    /* source.lsn of every row */
    int64_t ts_us;                   /* source.ts_us: snapshot start */
    cdc_progress_t *prog;            /* owned; thread-safe counters */
    unit_t *units;                   /* owned: the work, tables in order,
                                        a table's ranges in key order */
    size_t nunits;                   /* entries in units */
    pthread_mutex_t mu;              /* guards the fields below */
    size_t next_unit;                /* the next unit to hand out */
    size_t *units_left;              /* owned: per table, its units not
                                        done yet */
    bool *started;                   /* owned: per table, a unit of it
                                        began */
    bool have_final;                 /* final_* hold the latest table's
                                        final row, not yet published */
    rd_kafka_topic_t *final_topic;   /* its topic */
    ferry_buf_t final_key;           /* owned: its key */
    ferry_buf_t final_true;          /* owned: its value as "true" */
    ferry_buf_t final_last;          /* owned: its value as "last" */
    ferry_err_t err;                 /* the first reader error */
    atomic_bool abort;               /* a reader failed or a stop came */
    atomic_int running;              /* readers still working */
} shared_t;

/* One reader thread and its connection. */
typedef struct reader {
    shared_t *sh;               /* borrowed */
    PGconn *conn;               /* owned: in the snapshot's transaction */
    pthread_t thread;           /* valid when started */
    bool started;               /* the thread was created */
    ferry_buf_t key, val;       /* owned: the row being published */
    ferry_buf_t hkey, htrue;    /* owned: the held row (last of a chunk) */
    ferry_buf_t hlast;          /* owned: the held row as "last" */
    bool held;                  /* hkey/htrue/hlast hold a row */
    const unsigned char *types; /* borrowed: the table's column types */
    const size_t *key_index;    /* borrowed: the table's key columns */
    const char **values;        /* owned array: one row's text values */
    int *lengths;               /* owned array: their lengths */
    size_t cap;                 /* entries allocated in both */
    char sql_first[1 << 13];    /* the table's first-chunk query */
    char *sql_next;             /* owned: the next-chunk query */
} reader_t;

void
cdc_snapshot_opts_init(cdc_snapshot_opts_t *opts)
{
    opts->threads = 2;
    opts->chunk_rows = 10000;
    opts->split_bytes = 10u << 20;
    opts->max_inflight = 100000;
    /* Only tests set it: it holds a snapshot open long enough to watch. */
    opts->test_chunk_delay_ms =
        getenv("FERRY_TEST_SNAPSHOT_CHUNK_DELAY_MS") != NULL
            ? atoi(getenv("FERRY_TEST_SNAPSHOT_CHUNK_DELAY_MS"))
            : 0;
}

static int
show(PGconn *conn, const char *name, char *out, size_t cap, ferry_err_t *err)
{
    char sql[64];
    PGresult *res;
    int rc = FERRY_OK;

    snprintf(sql, sizeof(sql), "SHOW %s", name);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not read setting \"%s\" of the source: %s",
                           name, PQerrorMessage(conn));
    else
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

int
cdc_snapshot_gucs_read(PGconn *conn, cdc_snapshot_gucs_t *g, ferry_err_t *err)
{
    int rc;

    if ((rc = show(conn, "TimeZone", g->timezone, sizeof(g->timezone), err)) !=
            FERRY_OK ||
        (rc = show(conn, "DateStyle", g->datestyle, sizeof(g->datestyle),
                   err)) != FERRY_OK ||
        (rc = show(conn, "IntervalStyle", g->intervalstyle,
                   sizeof(g->intervalstyle), err)) != FERRY_OK)
        return rc;
    return show(conn, "extra_float_digits", g->extra_float,
                sizeof(g->extra_float), err);
}

static bool
aborted(const shared_t *sh)
{
    return atomic_load(&((shared_t *)sh)->abort) || *sh->ctx->stop;
}

/* Records the first failure and stops the other readers. */
static int
reader_fail(shared_t *sh, const ferry_err_t *err, int rc)
{
    pthread_mutex_lock(&sh->mu);
    if (sh->err.status == FERRY_OK) {
        sh->err = *err;
        sh->err.status = rc;
    }
    pthread_mutex_unlock(&sh->mu);
    atomic_store(&sh->abort, true);
    return rc;
}

/* Produces one snapshot message, waiting while too many are in flight. */
static int
send_row(shared_t *sh, rd_kafka_topic_t *topic, const ferry_buf_t *key,
         const ferry_buf_t *val, ferry_err_t *err)
{
    cdc_producer_t *p = sh->ctx->prod;
    int rc;

    while (cdc_producer_untracked_inflight(p) >= sh->opts->max_inflight) {
        if (aborted(sh))
            return ferry_err_set(err, FERRY_ETRANSIENT, "snapshot stopped");
        usleep(500);
    }
    for (;;) {
        rc = cdc_producer_send_untracked(p, topic, key->data, key->len,
                                         val->data, val->len, err);
        if (rc != FERRY_ETRANSIENT)
            return rc;
        if (aborted(sh))
            return ferry_err_set(err, FERRY_ETRANSIENT, "snapshot stopped");
        usleep(500);
    }
}

/* Builds the key and value of one row into key and val. */
static int
build_row(reader_t *rd, const cdc_table_t *t, cdc_env_snapshot_t snap,
          ferry_buf_t *key, ferry_buf_t *val, bool with_key, ferry_err_t *err)
{
    cdc_env_read_t r = {.table = t,
                        .col_types = rd->types,
                        .key_index = rd->key_index,
                        .values = rd->values,
                        .lengths = rd->lengths,
                        .snapshot = snap,
                        .lsn = rd->sh->lsn,
                        .source_ts_us = rd->sh->ts_us,
                        .ts_us = ferry_wall_us()};
    int rc;

    if (with_key) {
        ferry_buf_reset(key);
        if ((rc = cdc_env_read_key(&r, key, err)) != FERRY_OK)
            return rc;
    }
    ferry_buf_reset(val);
    return cdc_env_read_value(rd->sh->ctx->env, &r, val, err);
}

/* Publishes the rows of res.  The last row is held back (built as "true"
 * and as "last"), because it may turn out to be the snapshot's final row;
 * the previous held row is published first. */
static int
emit_rows(reader_t *rd, size_t ti, PGresult *res, ferry_err_t *err)
{
    shared_t *sh = rd->sh;
    const cdc_table_t *t = cdc_tables_get(sh->ctx->tables, ti);
    rd_kafka_topic_t *topic = sh->ctx->topics[ti];
    int n = PQntuples(res), rc;

    for (int r = 0; r < n; r++) {
        for (size_t c = 0; c < t->ncolumns; c++) {
            rd->values[c] =
                PQgetisnull(res, r, (int)c) ? NULL : PQgetvalue(res, r, (int)c);
            rd->lengths[c] = PQgetlength(res, r, (int)c);
        }
        if (rd->held) {
            if ((rc = send_row(sh, topic, &rd->hkey, &rd->htrue, err)) != 0)
                return rc;
            rd->held = false;
            cdc_progress_add(sh->prog, ti, 1);
        }
        if (r == n - 1) {
            if ((rc = build_row(rd, t, CDC_ENV_SNAPSHOT_TRUE, &rd->hkey,
                                &rd->htrue, true, err)) != FERRY_OK ||
                (rc = build_row(rd, t, CDC_ENV_SNAPSHOT_LAST, NULL, &rd->hlast,
                                false, err)) != FERRY_OK)
                return rc;
            rd->held = true;
            continue;
        }
        if ((rc = build_row(rd, t, CDC_ENV_SNAPSHOT_TRUE, &rd->key, &rd->val,
                            true, err)) != FERRY_OK ||
            (rc = send_row(sh, topic, &rd->key, &rd->val, err)) != FERRY_OK)
            return rc;
        cdc_progress_add(sh->prog, ti, 1);
    }
    return FERRY_OK;
}

/* At the end of a table: its final row becomes the snapshot's candidate
 * final row, and the previous candidate is published as "true".  The
 * buffers are swapped, never copied. */
static int
hand_over_final(reader_t *rd, size_t ti, ferry_err_t *err)
{
    shared_t *sh = rd->sh;
    ferry_buf_t tmp;
    int rc = FERRY_OK;

    if (!rd->held)
        return FERRY_OK;
    pthread_mutex_lock(&sh->mu);
    if (sh->have_final)
        rc =
            send_row(sh, sh->final_topic, &sh->final_key, &sh->final_true, err);
    if (rc == FERRY_OK) {
        tmp = sh->final_key;
        sh->final_key = rd->hkey;
        rd->hkey = tmp;
        tmp = sh->final_true;
        sh->final_true = rd->htrue;
        rd->htrue = tmp;
        tmp = sh->final_last;
        sh->final_last = rd->hlast;
        rd->hlast = tmp;
        sh->final_topic = sh->ctx->topics[ti];
        sh->have_final = true;
        rd->held = false;
    }
    pthread_mutex_unlock(&sh->mu);
    if (rc == FERRY_OK)
        cdc_progress_add(sh->prog, ti, 1);
    return rc;
}

/* Appends "a","b" (quoted identifiers of names[idx[i]] or names[i]) to out;
 * returns false when it does not fit or quoting fails. */
static bool
append_idents(PGconn *conn, char *out, size_t cap, const char *const *names,
              const size_t *idx, size_t n)
{
    size_t len = strlen(out);

    for (size_t i = 0; i < n; i++) {
        const char *name = names[idx ? idx[i] : i];
        char *q = PQescapeIdentifier(conn, name, strlen(name));
        int w;

        if (q == NULL)
            return false;
        w = snprintf(out + len, cap - len, "%s%s", i ? "," : "", q);
        PQfreemem(q);
        if (w < 0 || (size_t)w >= cap - len)
            return false;
        len += (size_t)w;
    }
    return true;
}

/* Writes the table's queries: first chunk and next chunk for keyset
 * reads, or the cursor's query.  Returns false if they do not fit. */
/* Appends ",$first,...": n parameter placeholders from first on. */
static void
append_params(char *out, size_t cap, size_t first, size_t n)
{
    for (size_t k = 0; k < n; k++)
        snprintf(out + strlen(out), cap - strlen(out), "%s$%zu", k ? "," : "",
                 first + k);
}

/* The queries of table t, or of a key range of it: sql_first reads the
 * first chunk ($1 the chunk size, then the range's upper bound when
 * has_hi); sql_next the chunk after a key ($2... that key, then the upper
 * bound).  A range with a lower bound starts with sql_next. */
static bool
build_queries(reader_t *rd, const cdc_table_t *t, bool keyset, bool has_hi)
{
    char from[1024] = "", keys[2048] = "", after[1024] = "",
         first_hi[1024] = "", next_hi[1024] = "";
    char *qs = PQescapeIdentifier(rd->conn, t->schema, strlen(t->schema));
    char *qt = PQescapeIdentifier(rd->conn, t->table, strlen(t->table));
    size_t cap;
    bool ok = qs != NULL && qt != NULL;

    if (ok)
        snprintf(from, sizeof(from), "%s.%s", qs, qt);
    PQfreemem(qs);
    PQfreemem(qt);
    snprintf(rd->sql_first, sizeof(rd->sql_first), "%s",
             keyset ? "SELECT "
                    : "DECLARE ferry_snap NO SCROLL CURSOR FOR "
                      "SELECT ");
    if (!ok || !append_idents(rd->conn, rd->sql_first, sizeof(rd->sql_first),
                              t->columns, NULL, t->ncolumns))
        return false;
    append_params(after, sizeof(after), 2, t->nkey);
    if (keyset && !append_idents(rd->conn, keys, sizeof(keys), t->columns,
                                 rd->key_index, t->nkey))
        return false;
    if (has_hi) {
        snprintf(first_hi, sizeof(first_hi), " WHERE (%s) <= (", keys);
        append_params(first_hi, sizeof(first_hi), 2, t->nkey);
        snprintf(first_hi + strlen(first_hi),
                 sizeof(first_hi) - strlen(first_hi), ")");
        snprintf(next_hi, sizeof(next_hi), " AND (%s) <= (", keys);
        append_params(next_hi, sizeof(next_hi), t->nkey + 2, t->nkey);
        snprintf(next_hi + strlen(next_hi), sizeof(next_hi) - strlen(next_hi),
                 ")");
    }
    cap = strlen(rd->sql_first) + strlen(from) + 3 * strlen(keys) +
          strlen(after) + strlen(next_hi) + 128;
    free(rd->sql_next);
    if ((rd->sql_next = malloc(cap)) == NULL)
        return false;
    snprintf(rd->sql_next, cap,
             "%s FROM %s WHERE (%s) > (%s)%s ORDER BY %s "
             "LIMIT $1",
             rd->sql_first, from, keys, after, next_hi, keys);
    snprintf(rd->sql_first + strlen(rd->sql_first),
             sizeof(rd->sql_first) - strlen(rd->sql_first), " FROM %s%s%s%s%s",
             from, first_hi, keyset ? " ORDER BY " : "", keyset ? keys : "",
             keyset ? " LIMIT $1" : "");
    return strlen(rd->sql_first) + 1 < sizeof(rd->sql_first);
}

int
cdc_snapshot_keyset_sql(PGconn *conn, const cdc_table_t *t,
                        const size_t *key_index, char **first, char **next)
{
    char cols[1 << 13] = "", keys[2048] = "", params[1024] = "";
    char *qs = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
    char *qt = PQescapeIdentifier(conn, t->table, strlen(t->table));
    size_t cap;
    bool ok =
        qs != NULL && qt != NULL &&
        append_idents(conn, cols, sizeof(cols), t->columns, NULL,
                      t->ncolumns) &&
        append_idents(conn, keys, sizeof(keys), t->columns, key_index, t->nkey);

    *first = *next = NULL;
    for (size_t k = 0; ok && k < t->nkey; k++)
        snprintf(params + strlen(params), sizeof(params) - strlen(params),
                 "%s$%zu", k ? "," : "", k + 2);
    cap = strlen(cols) + 2 * strlen(keys) + strlen(params) + 2048;
    if (ok && (*first = malloc(cap)) != NULL && (*next = malloc(cap)) != NULL) {
        snprintf(*first, cap, "SELECT %s FROM %s.%s ORDER BY %s LIMIT $1", cols,
                 qs, qt, keys);
        snprintf(*next, cap,
                 "SELECT %s FROM %s.%s WHERE (%s) > (%s) ORDER BY %s "
                 "LIMIT $1",
                 cols, qs, qt, keys, params, keys);
    } else {
        free(*first);
        *first = NULL;
        ok = false;
    }
    PQfreemem(qs);
    PQfreemem(qt);
    return ok ? FERRY_OK : FERRY_ENOMEM;
}

static int
query_failed(reader_t *rd, const cdc_table_t *t, PGresult *res,
             ferry_err_t *err)
{
    ferry_err_set(err, FERRY_ETRANSIENT,
                  "could not read table \"%s.%s\" for the snapshot: %s",
                  t->schema, t->table, PQerrorMessage(rd->conn));
    PQclear(res);
    return FERRY_ETRANSIENT;
}

/* Reads a table, or a key range of it (u), in keyset chunks: the key
 * values of each chunk's last row (still in the previous result) are the
 * next chunk's lower bound. */
static int
read_keyset(reader_t *rd, const unit_t *u, const cdc_table_t *t,
            ferry_err_t *err)
{
    const char *params[1 + 2 * 64];
    char limit[24];
    PGresult *prev = NULL, *res;
    int rc = FERRY_OK, n, np;
    bool after;

    if (t->nkey > 64)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "table \"%s.%s\" has more than 64 key columns",
                             t->schema, t->table);
    snprintf(limit, sizeof(limit), "%zu", rd->sh->opts->chunk_rows);
    params[0] = limit;
    for (;;) {
        if (aborted(rd->sh)) {
            rc = ferry_err_set(err, FERRY_ETRANSIENT, "snapshot stopped");
            break;
        }
        if (rd->sh->opts->test_chunk_delay_ms > 0)
            usleep((useconds_t)rd->sh->opts->test_chunk_delay_ms * 1000);
        /* $2...: the key to read after (the previous chunk's last, or the
         * range's lower bound), then the range's upper bound. */
        after = prev != NULL || u->lo != NULL;
        np = 1;
        for (size_t k = 0; after && k < t->nkey; k++)
            params[np++] = prev != NULL ? PQgetvalue(prev, PQntuples(prev) - 1,
                                                     (int)rd->key_index[k])
                                        : u->lo[k];
        for (size_t k = 0; u->hi != NULL && k < t->nkey; k++)
            params[np++] = u->hi[k];
        res = PQexecParams(rd->conn, after ? rd->sql_next : rd->sql_first, np,
                           NULL, params, NULL, NULL, 0);
        PQclear(prev);
        prev = NULL;
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            return query_failed(rd, t, res, err);
        n = PQntuples(res);
        if ((rc = emit_rows(rd, u->ti, res, err)) != FERRY_OK ||
            (size_t)n < rd->sh->opts->chunk_rows) {
            PQclear(res);
            break;
        }
        prev = res;
    }
    PQclear(prev);
    return rc;
}

/* Reads a table without an orderable unique key through a cursor. */
static int
read_cursor(reader_t *rd, size_t ti, const cdc_table_t *t, ferry_err_t *err)
{
    char fetch[64];
    PGresult *res = PQexec(rd->conn, rd->sql_first);
    int rc = FERRY_OK, n;

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return query_failed(rd, t, res, err);
    PQclear(res);
    snprintf(fetch, sizeof(fetch), "FETCH FORWARD %zu FROM ferry_snap",
             rd->sh->opts->chunk_rows);
    do {
        if (aborted(rd->sh))
            return ferry_err_set(err, FERRY_ETRANSIENT, "snapshot stopped");
        res = PQexec(rd->conn, fetch);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            return query_failed(rd, t, res, err);
        n = PQntuples(res);
        rc = emit_rows(rd, ti, res, err);
        PQclear(res);
    } while (rc == FERRY_OK && (size_t)n == rd->sh->opts->chunk_rows);
    res = PQexec(rd->conn, "CLOSE ferry_snap");
    PQclear(res);
    return rc;
}

/* Reads one unit: a table, or one key range of it.  The table's progress
 * starts with its first unit and is done with its last. */
static int
read_unit(reader_t *rd, const unit_t *u, ferry_err_t *err)
{
    shared_t *sh = rd->sh;
    size_t ti = u->ti;
    const cdc_table_t *t = cdc_tables_get(sh->ctx->tables, ti);
    bool keyset = cdc_tables_index_key(sh->ctx->tables, ti), first, last;
    int rc;

    rd->types = cdc_tables_col_types(rd->sh->ctx->tables, ti);
    rd->key_index = cdc_tables_key_index(rd->sh->ctx->tables, ti);
    if (rd->key_index == NULL)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "cannot snapshot table \"%s.%s\": a key column "
                             "is not one of its columns",
                             t->schema, t->table);
    if (rd->cap < t->ncolumns + 1) {
        free(rd->values);
        free(rd->lengths);
        rd->cap = t->ncolumns + 1;
        rd->values = calloc(rd->cap, sizeof(*rd->values));
        rd->lengths = calloc(rd->cap, sizeof(*rd->lengths));
        if (rd->values == NULL || rd->lengths == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory reading the %zu columns of "
                                 "table \"%s.%s\"",
                                 t->ncolumns, t->schema, t->table);
    }
    if (!build_queries(rd, t, keyset, u->hi != NULL))
        return ferry_err_set(err, FERRY_ECONFIG,
                             "the snapshot query of table \"%s.%s\" is too "
                             "long",
                             t->schema, t->table);
    pthread_mutex_lock(&sh->mu);
    first = !sh->started[ti];
    sh->started[ti] = true;
    pthread_mutex_unlock(&sh->mu);
    if (first)
        cdc_progress_start(sh->prog, ti);
    rc = keyset ? read_keyset(rd, u, t, err) : read_cursor(rd, ti, t, err);
    if (rc == FERRY_OK)
        rc = hand_over_final(rd, ti, err);
    if (rc != FERRY_OK)
        return rc;
    pthread_mutex_lock(&sh->mu);
    last = --sh->units_left[ti] == 0;
    pthread_mutex_unlock(&sh->mu);
    if (last)
        cdc_progress_done(sh->prog, ti);
    return FERRY_OK;
}

static void *
reader_main(void *arg)
{
    reader_t *rd = arg;
    shared_t *sh = rd->sh;
    ferry_err_t err = {0, ""};

    for (;;) {
        size_t ui;
        int rc;

        pthread_mutex_lock(&sh->mu);
        ui = sh->next_unit++;
        pthread_mutex_unlock(&sh->mu);
        if (ui >= sh->nunits || aborted(sh))
            break;
        if ((rc = read_unit(rd, &sh->units[ui], &err)) != FERRY_OK) {
            reader_fail(sh, &err, rc);
            break;
        }
    }
    atomic_fetch_sub(&sh->running, 1);
    return NULL;
}

/* Opens reader i's transaction in the snapshot: name (in/out, 64 bytes)
 * names the snapshot to import, or is empty for the first reader of a
 * fresh snapshot, which exports it. */
static int
reader_begin(reader_t *rd, const cdc_snapshot_gucs_t *g, char *name,
             ferry_err_t *err)
{
    const char *gp[4] = {g->timezone, g->datestyle, g->intervalstyle,
                         g->extra_float};
    PGresult *res;
    int rc;

    /* Any failure here is worth a new attempt at the whole snapshot (an
     * exported snapshot is gone once its exporter's transaction is). */
    if ((rc = ferry_pg_exec(
             rd->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
             NULL, NULL, NULL, "begin the snapshot transaction",
             FERRY_PG_ANY_TRANSIENT, err)) != 0)
        return rc;
    if (name[0] != '\0') {
        char *lit = PQescapeLiteral(rd->conn, name, strlen(name));
        char sql[160];

        if (lit == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory importing snapshot \"%s\"",
                                 name);
        snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit);
        PQfreemem(lit);
        if ((rc = ferry_pg_exec(rd->conn, sql, 0, NULL, NULL, NULL,
                                "import the snapshot", FERRY_PG_ANY_TRANSIENT,
                                err)) != FERRY_OK)
            return rc;
    } else {
        res = PQexec(rd->conn, "SELECT pg_export_snapshot()");
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            PQclear(res);
            return ferry_err_set(err, FERRY_ETRANSIENT,
                                 "could not export a snapshot: %s",
                                 PQerrorMessage(rd->conn));
        }
        snprintf(name, 64, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    /* The text forms wal2json produces, so that a snapshot row and a
     * streamed row of the same values are the same bytes. */
    return ferry_pg_exec(rd->conn,
                         "SELECT set_config('TimeZone', $1, false), "
                         "set_config('DateStyle', $2, false), "
                         "set_config('IntervalStyle', $3, false), "
                         "set_config('extra_float_digits', $4, false), "
                         "set_config('bytea_output', 'hex', false)",
                         4, gp, NULL, NULL, "set up the snapshot session",
                         FERRY_PG_ANY_TRANSIENT, err);
}

static void
reader_close(reader_t *rd)
{
    if (rd->conn != NULL)
        PQfinish(rd->conn);
    ferry_buf_close(&rd->key);
    ferry_buf_close(&rd->val);
    ferry_buf_close(&rd->hkey);
    ferry_buf_close(&rd->htrue);
    ferry_buf_close(&rd->hlast);
    free(rd->values);
    free(rd->lengths);
    free(rd->sql_next);
}

/* Connects readers from to n - 1 and opens their transactions in the
 * snapshot name (in/out, 64 bytes: empty, the first reader exports one). */
static int
connect_readers(shared_t *sh, reader_t *rds, int from, int n,
                const cdc_snapshot_gucs_t *gucs, char *name, ferry_err_t *err)
{
    int rc;

    for (int i = from; i < n; i++) {
        rds[i].sh = sh;
        rds[i].conn = cdc_repl_connect_sql(sh->ctx->cfg->source_dsn, err);
        if (rds[i].conn == NULL)
            return FERRY_ETRANSIENT;
        if ((rc = reader_begin(&rds[i], gucs, name, err)) != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* --- the work: tables and key ranges ---------------------------------- */

static void
keys_free(char **keys, size_t n)
{
    for (size_t k = 0; keys != NULL && k < n; k++)
        free(keys[k]);
    free(keys);
}

/* A copy of the key values of row r of res (its first n columns). */
static char **
keys_of(const PGresult *res, int r, size_t n)
{
    char **keys = calloc(n + 1, sizeof(char *));

    for (size_t k = 0; keys != NULL && k < n; k++)
        if ((keys[k] = strdup(PQgetvalue(res, r, (int)k))) == NULL) {
            keys_free(keys, n);
            return NULL;
        }
    return keys;
}

static char **
keys_dup(char *const *src, size_t n)
{
    char **keys = src != NULL ? calloc(n + 1, sizeof(char *)) : NULL;

    for (size_t k = 0; keys != NULL && k < n; k++)
        if ((keys[k] = strdup(src[k])) == NULL) {
            keys_free(keys, n);
            return NULL;
        }
    return keys;
}

static void
units_free(shared_t *sh)
{
    for (size_t i = 0; i < sh->nunits; i++) {
        size_t nk = cdc_tables_get(sh->ctx->tables, sh->units[i].ti)->nkey;

        keys_free(sh->units[i].lo, nk);
        keys_free(sh->units[i].hi, nk);
    }
    free(sh->units);
    free(sh->units_left);
    free(sh->started);
}

/* The table's size in bytes and in pages (*pages), or -1 when it cannot
 * be told. */
static long long
table_size(PGconn *conn, const char *qname, long long *pages)
{
    const char *p[1] = {qname};
    PGresult *res = PQexecParams(conn,
                                 "SELECT pg_relation_size($1::regclass), "
                                 "current_setting('block_size')::int8",
                                 1, NULL, p, NULL, NULL, 0);
    long long bytes = -1, block;

    *pages = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        bytes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        block = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        *pages = block > 0 ? bytes / block : 0;
    }
    PQclear(res);
    return bytes;
}

/* Up to k - 1 (k <= MAX_THREADS) keys of table ti that split it into k
 * ranges of about the same size, from a sample of its pages, into bounds
 * (nkey texts each, new; *nb of them).  The query runs under a savepoint: a
 * failure (a permission, a statement timeout) is logged and leaves the table
 * whole, and the snapshot's transaction usable. */
static int
split_bounds(shared_t *sh, PGconn *conn, size_t ti, const char *qname,
             long long pages, int k, char **bounds[MAX_THREADS], size_t *nb)
{
    const cdc_table_t *t = cdc_tables_get(sh->ctx->tables, ti);
    char keys[2048] = "", sql[4096 + 1024], pct[32];
    const char *p[1] = {pct};
    PGresult *res;
    int n, prev = -1, rc = FERRY_OK;

    *nb = 0;
    if (!append_idents(conn, keys, sizeof(keys), t->columns,
                       cdc_tables_key_index(sh->ctx->tables, ti), t->nkey))
        return FERRY_OK;
    snprintf(pct, sizeof(pct), "%.6f",
             pages <= SAMPLE_PAGES ? 100.0 : 100.0 * SAMPLE_PAGES / pages);
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM %s TABLESAMPLE SYSTEM ($1::float8) ORDER BY %s",
             keys, qname, keys);
    PQclear(PQexec(conn, "SAVEPOINT ferry_split"));
    res = PQexecParams(conn, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ferry_warn("table \"%s.%s\": could not sample its keys to read it in "
                   "%d ranges (%s); one reader reads it",
                   t->schema, t->table, k, PQerrorMessage(conn));
        PQclear(res);
        PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT ferry_split"));
        return FERRY_OK;
    }
    n = PQntuples(res);
    for (int j = 1; rc == FERRY_OK && j < k && n >= 2 * k; j++) {
        int r = (int)((long long)n * j / k);

        if (r <= prev || r >= n)
            continue;
        if ((bounds[*nb] = keys_of(res, r, t->nkey)) == NULL)
            rc = FERRY_ENOMEM;
        else
            (*nb)++;
        prev = r;
    }
    PQclear(res);
    PQclear(PQexec(conn, "RELEASE SAVEPOINT ferry_split"));
    return rc;
}

/* The units of the snapshot: every table in order, a keyset table of at
 * least --snapshot-split MiB as one key range per reader (threads of
 * them). */
static int
plan_units(shared_t *sh, PGconn *conn, int threads, ferry_err_t *err)
{
    size_t nt = cdc_tables_count(sh->ctx->tables);
    int rc = FERRY_OK;

    sh->units = calloc(nt * (size_t)threads + 1, sizeof(unit_t));
    sh->units_left = calloc(nt + 1, sizeof(size_t));
    sh->started = calloc(nt + 1, sizeof(bool));
    if (sh->units == NULL || sh->units_left == NULL || sh->started == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory planning the snapshot");
    for (size_t ti = 0; rc == FERRY_OK && ti < nt; ti++) {
        const cdc_table_t *t = cdc_tables_get(sh->ctx->tables, ti);
        char **bounds[MAX_THREADS], qname[1024];
        char *qs = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
        char *qt = PQescapeIdentifier(conn, t->table, strlen(t->table));
        size_t nb = 0;
        long long pages = 0;

        snprintf(qname, sizeof(qname), "%s.%s", qs ? qs : "", qt ? qt : "");
        PQfreemem(qs);
        PQfreemem(qt);
        if (threads > 1 && sh->opts->split_bytes > 0 &&
            cdc_tables_index_key(sh->ctx->tables, ti) &&
            cdc_tables_key_index(sh->ctx->tables, ti) != NULL &&
            table_size(conn, qname, &pages) >= (long long)sh->opts->split_bytes)
            rc = split_bounds(sh, conn, ti, qname, pages, threads, bounds, &nb);
        /* Each range ends at a bound (taken over) and starts after the
         * previous range's end (a copy: every unit owns its keys). */
        for (size_t j = 0; rc == FERRY_OK && j <= nb; j++) {
            unit_t *u = &sh->units[sh->nunits++];

            u->ti = ti;
            u->hi = j < nb ? bounds[j] : NULL;
            if (j < nb)
                bounds[j] = NULL;
            u->lo = j > 0 ? keys_dup(u[-1].hi, t->nkey) : NULL;
            if (j > 0 && u->lo == NULL)
                rc = FERRY_ENOMEM;
        }
        sh->units_left[ti] = nb + 1;
        if (nb > 0)
            ferry_info("table \"%s.%s\" (%lld pages): read in %zu key "
                       "ranges",
                       t->schema, t->table, pages, nb + 1);
        for (size_t j = 0; rc != FERRY_OK && j < nb; j++)
            keys_free(bounds[j], t->nkey); /* those not taken over */
    }
    return rc == FERRY_OK ? FERRY_OK
                          : ferry_err_set(err, rc,
                                          "out of memory planning the "
                                          "snapshot");
}

/* The planner's row estimate of each table, for the ETA. */
static void
load_estimates(shared_t *sh, PGconn *conn)
{
    size_t n = cdc_tables_count(sh->ctx->tables);

    for (size_t i = 0; i < n; i++) {
        const cdc_table_t *t = cdc_tables_get(sh->ctx->tables, i);
        char *qs = PQescapeIdentifier(conn, t->schema, strlen(t->schema));
        char *qt = PQescapeIdentifier(conn, t->table, strlen(t->table));
        char name[1024];
        const char *p[1] = {name};
        PGresult *res;

        snprintf(name, sizeof(name), "%s.%s", qs ? qs : "", qt ? qt : "");
        PQfreemem(qs);
        PQfreemem(qt);
        res = PQexecParams(conn,
                           "SELECT greatest(reltuples, 0)::int8 FROM "
                           "pg_catalog.pg_class WHERE oid = $1::regclass",
                           1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            cdc_progress_estimate(sh->prog, i,
                                  strtoull(PQgetvalue(res, 0, 0), NULL, 10));
        PQclear(res);
    }
}

/* The progress display, and the rows and a beat for the metrics. */
static void
progress(shared_t *sh)
{
    const cdc_snapshot_ctx_t *ctx = sh->ctx;

    cdc_progress_tick(sh->prog, false);
    if (ctx->metrics == NULL)
        return;
    for (size_t i = 0; i < cdc_tables_count(ctx->tables); i++)
        cdc_metrics_snapshot_rows(ctx->metrics, i,
                                  cdc_progress_rows(sh->prog, i));
    cdc_metrics_tick(ctx->metrics, 0, 0);
}

/* Serves delivery reports and the progress display until the readers are
 * done, then publishes the final row as "last" and waits for Kafka. */
static int
supervise(shared_t *sh, ferry_err_t *err)
{
    cdc_producer_t *p = sh->ctx->prod;
    int rc = FERRY_OK;

    while (atomic_load(&sh->running) > 0) {
        if ((rc = cdc_producer_poll(p, 100, err)) != FERRY_OK) {
            atomic_store(&sh->abort, true);
            return rc;
        }
        if (*sh->ctx->stop)
            atomic_store(&sh->abort, true);
        progress(sh);
    }
    if (aborted(sh))
        return FERRY_OK; /* the readers' error, or the stop */
    if (sh->have_final) {
        do {
            rc = cdc_producer_send_untracked(
                p, sh->final_topic, sh->final_key.data, sh->final_key.len,
                sh->final_last.data, sh->final_last.len, err);
            if (rc == FERRY_ETRANSIENT &&
                (rc = cdc_producer_poll(p, 50, err)) == FERRY_OK)
                rc = FERRY_ETRANSIENT;
        } while (rc == FERRY_ETRANSIENT && !*sh->ctx->stop);
        if (rc != FERRY_OK)
            return rc;
    }
    while ((rc = cdc_producer_flush_untracked(p, 1000, err)) ==
               FERRY_ETRANSIENT &&
           !*sh->ctx->stop)
        progress(sh);
    return rc;
}

static int
run_readers(shared_t *sh, reader_t *rds, int n, ferry_err_t *err)
{
    int rc = FERRY_OK;

    atomic_store(&sh->running, n);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&rds[i].thread, NULL, reader_main, &rds[i]) != 0) {
            atomic_store(&sh->abort, true);
            atomic_fetch_sub(&sh->running, n - i);
            rc = ferry_err_set(err, FERRY_EFATAL,
                               "could not start a snapshot reader");
            break;
        }
        rds[i].started = true;
    }
    if (rc == FERRY_OK)
        rc = supervise(sh, err);
    else
        while (atomic_load(&sh->running) > 0)
            usleep(10000);
    for (int i = 0; i < n; i++)
        if (rds[i].started)
            pthread_join(rds[i].thread, NULL);
    if (rc == FERRY_OK && sh->err.status != FERRY_OK) {
        if (err != NULL)
            *err = sh->err;
        rc = sh->err.status;
    }
    if (rc == FERRY_OK && *sh->ctx->stop)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "the snapshot was interrupted");
    return rc;
}

int
cdc_snapshot_run(const cdc_snapshot_ctx_t *ctx, const cdc_snapshot_opts_t *opts,
                 const cdc_snapshot_gucs_t *gucs, const char *snapshot_name,
                 uint64_t lsn, ferry_err_t *err)
{
    size_t ntables = cdc_tables_count(ctx->tables);
    reader_t rds[MAX_THREADS];
    shared_t sh;
    char name[64];
    int n = opts->threads < 1 ? 1 : opts->threads, rc, threads;

    if (n > MAX_THREADS)
        n = MAX_THREADS;
    threads = n;
    memset(rds, 0, sizeof(rds));
    memset(&sh, 0, sizeof(sh));
    sh.ctx = ctx;
    sh.opts = opts;
    sh.lsn = lsn;
    sh.ts_us = ferry_wall_us();
    pthread_mutex_init(&sh.mu, NULL);
    sh.prog = cdc_progress_new(ctx->tables, ctx->cfg->source_slot);
    if (sh.prog == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory starting the snapshot of slot "
                           "\"%s\"",
                           ctx->cfg->source_slot);
        goto done;
    }
    /* The first reader plans the work in the snapshot (a big table's key
     * ranges come from its rows), then as many readers as there are
     * units join it. */
    snprintf(name, sizeof(name), "%s", snapshot_name ? snapshot_name : "");
    if ((rc = connect_readers(&sh, rds, 0, 1, gucs, name, err)) != FERRY_OK ||
        (rc = plan_units(&sh, rds[0].conn, threads, err)) != FERRY_OK)
        goto done;
    if ((size_t)n > sh.nunits)
        n = sh.nunits > 0 ? (int)sh.nunits : 1;
    ferry_info(
        "slot \"%s\": snapshot of %zu tables (%zu units) at " FERRY_LSN_FMT
        " with %d readers",
        ctx->cfg->source_slot, ntables, sh.nunits, FERRY_LSN_ARGS(lsn), n);
    if ((rc = connect_readers(&sh, rds, 1, n, gucs, name, err)) != FERRY_OK)
        goto done;
    load_estimates(&sh, rds[0].conn);
    cdc_metrics_phase(ctx->metrics, false, "taking the snapshot");
    rc = run_readers(&sh, rds, n, err);
    cdc_progress_tick(sh.prog, true);
    for (size_t i = 0;
         ctx->metrics != NULL && i < cdc_tables_count(ctx->tables); i++)
        cdc_metrics_snapshot_rows(ctx->metrics, i,
                                  cdc_progress_rows(sh.prog, i));
    if (rc == FERRY_OK)
        ferry_info("slot \"%s\": snapshot complete, %" PRIu64
                   " rows acknowledged",
                   ctx->cfg->source_slot, cdc_progress_total(sh.prog));

done:
    for (int i = 0; i < n; i++)
        reader_close(&rds[i]);
    ferry_buf_close(&sh.final_key);
    ferry_buf_close(&sh.final_true);
    ferry_buf_close(&sh.final_last);
    cdc_progress_free(sh.prog);
    units_free(&sh);
    pthread_mutex_destroy(&sh.mu);
    return rc;
}
