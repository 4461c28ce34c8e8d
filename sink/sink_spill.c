/* Spilling a huge source transaction to a temporary table.
 * sink/sink_spill.c */
#include "sink_spill.h"
#include "ferry_log.h"
#include "sink_pg.h"
#include "sink_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sink_spill_begin(PGconn *conn, ferry_err_t *err)
{
    int rc = sink_pg_exec(
        conn, "create the spill table",
        "CREATE TEMP TABLE IF NOT EXISTS ferry_spill (total_order int8, "
        "slot int4, kafka_offset int8, event_key text, event text)",
        0, NULL, NULL, NULL, err);

    if (rc == 0)
        rc = sink_pg_exec(conn, "empty the spill table",
                          "TRUNCATE pg_temp.ferry_spill", 0, NULL, NULL, NULL,
                          err);
    return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
}

static int
copy_done(PGconn *conn, const char *errmsg, ferry_err_t *err)
{
    PGresult *res;
    int rc = 0;

    if (PQputCopyEnd(conn, errmsg) != 1)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not finish COPY into the spill table: %s",
                           PQerrorMessage(conn));
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = ferry_err_set(err, sink_pg_class(conn, res),
                               "could not COPY into the spill table: %s",
                               PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
}

int
sink_spill_write(PGconn *conn, sink_event_t *const *evs, size_t n,
                 ferry_err_t *err)
{
    sink_buf_t b = {0};
    PGresult *res;
    size_t i;
    int rc = 0;

    if (n == 0)
        return 0;
    res = PQexec(conn, "COPY pg_temp.ferry_spill FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = ferry_err_set(err, sink_pg_class(conn, res),
                           "could not start COPY into the spill table: %s",
                           PQresultErrorMessage(res));
        PQclear(res);
        return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
    }
    PQclear(res);
    for (i = 0; i < n; i++) {
        const sink_event_t *ev = evs[i];

        if (sink_buf_printf(&b, "%ld\t%d\t%" PRId64 "\t", ev->total_order,
                            ev->pos.slot, ev->pos.offset) != 0 ||
            sink_buf_copy_field(&b, ev->raw_key) != 0 ||
            sink_buf_add(&b, "\t", 1) != 0 ||
            sink_buf_copy_field(&b, ev->raw) != 0 ||
            sink_buf_add(&b, "\n", 1) != 0) {
            sink_buf_free(&b);
            (void)copy_done(conn, "out of memory", err);
            return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        }
        if (b.len >= (1u << 20) || i + 1 == n) {
            if (PQputCopyData(conn, b.data, (int)b.len) != 1) {
                sink_buf_free(&b);
                (void)copy_done(conn, NULL, err);
                return ferry_err_set(err, FERRY_ETRANSIENT,
                                     "could not COPY into the spill table: %s",
                                     PQerrorMessage(conn));
            }
            sink_buf_reset(&b);
        }
    }
    sink_buf_free(&b);
    return copy_done(conn, NULL, err);
}

/* Parses the fetched rows into chunk->events (each new). */
static int
chunk_events(const PGresult *res, sink_tx_t *chunk)
{
    int i, rows = PQntuples(res);

    chunk->events = calloc((size_t)rows + 1, sizeof(*chunk->events));
    if (chunk->events == NULL)
        return FERRY_ENOMEM;
    for (i = 0; i < rows; i++) {
        const char *k = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
        const char *v = PQgetvalue(res, i, 3);
        sink_pos_t pos = {atoi(PQgetvalue(res, i, 0)),
                          atoll(PQgetvalue(res, i, 1))};
        sink_event_t *ev = NULL;

        /* A malformed message never carries a transaction, so every
         * spilled event parsed once already; parse errors keep op 'X'. */
        if (sink_event_parse(k, k != NULL ? strlen(k) : 0, v, strlen(v), pos,
                             &ev) == FERRY_ENOMEM ||
            ev == NULL) {
            sink_event_free(ev);
            return FERRY_ENOMEM;
        }
        chunk->events[chunk->n_events++] = ev;
    }
    return 0;
}

static void
chunk_clear(sink_tx_t *chunk)
{
    size_t i;

    for (i = 0; i < chunk->n_events; i++)
        sink_event_free(chunk->events[i]);
    free(chunk->events);
    chunk->events = NULL;
    chunk->n_events = 0;
}

int
sink_spill_apply(PGconn *conn, sink_apply_t *a, const sink_tx_t *tx,
                 size_t max_chunk, ferry_err_t *err)
{
    char fetch[64];
    sink_tx_t chunk;
    sink_tx_t *one[1] = {&chunk};
    long total = 0;
    int rc;

    memset(&chunk, 0, sizeof(chunk));
    chunk.id = tx->id;
    chunk.commit_lsn = tx->commit_lsn;
    chunk.expected = -1;
    chunk.begin_pos.slot = chunk.end_pos.slot = -1;
    snprintf(fetch, sizeof(fetch), "FETCH FORWARD %zu FROM ferry_spill_cur",
             max_chunk > 0 ? max_chunk : 1);
    rc = sink_pg_exec(conn, "read the spilled transaction",
                      "DECLARE ferry_spill_cur NO SCROLL CURSOR FOR SELECT "
                      "slot, kafka_offset, event_key, event FROM "
                      "pg_temp.ferry_spill ORDER BY total_order",
                      0, NULL, NULL, NULL, err);
    while (rc == 0) {
        PGresult *res = NULL;

        rc = sink_pg_exec(conn, "read the spilled transaction", fetch, 0, NULL,
                          &res, NULL, err);
        if (rc != 0 || PQntuples(res) == 0) {
            PQclear(res);
            break;
        }
        rc = chunk_events(res, &chunk);
        PQclear(res);
        if (rc == FERRY_ENOMEM)
            rc = ferry_err_set(err, rc, "out of memory");
        if (rc == 0)
            rc = sink_apply_txs(a, one, 1, err);
        total += (long)chunk.n_events;
        chunk_clear(&chunk);
    }
    chunk_clear(&chunk);
    if (rc == 0)
        rc = sink_pg_exec(conn, "close the spill cursor",
                          "CLOSE ferry_spill_cur", 0, NULL, NULL, NULL, err);
    if (rc == 0)
        ferry_info("applied the spilled transaction %s: %ld events", tx->id,
                   total);
    return rc == FERRY_EDATA ? FERRY_EFATAL : rc;
}
