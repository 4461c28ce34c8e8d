/* Spilling a huge source transaction to a temporary table.
 * sink/sink_spill.c */
#include "sink_spill.h"
#include "ferry_buf.h"
#include "ferry_log.h"
#include "sink_pg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sink_spill_begin(PGconn *conn, ferry_err_t *err)
{
    int rc = sink_pg_exec(
        conn,
        "CREATE TEMP TABLE IF NOT EXISTS ferry_spill (total_order int8, "
        "slot int4, kafka_offset int8, event_key text, event text)",
        0, NULL, NULL, NULL, "create the spill table", FERRY_PG_DATA_FATAL,
        err);

    if (rc == 0)
        rc = sink_pg_exec(conn, "TRUNCATE pg_temp.ferry_spill", 0, NULL, NULL,
                          NULL, "empty the spill table", FERRY_PG_DATA_FATAL,
                          err);
    return rc;
}

/* The COPY holds whole events as text: none is a row the target could
 * reject on its own. */
#define COPY_WHAT "COPY into the spill table"

int
sink_spill_write(PGconn *conn, sink_event_t *const *evs, size_t n,
                 ferry_err_t *err)
{
    ferry_buf_t b;
    size_t i;
    int rc;

    if (n == 0)
        return 0;
    if ((rc = ferry_pg_copy_start(conn, "COPY pg_temp.ferry_spill FROM STDIN",
                                  "start " COPY_WHAT, FERRY_PG_DATA_FATAL,
                                  err)) != 0)
        return rc;
    ferry_buf_init(&b);
    for (i = 0; i < n; i++) {
        const sink_event_t *ev = evs[i];

        ferry_buf_printf(&b, "%ld\t%d\t%" PRId64 "\t", ev->total_order,
                         ev->pos.slot, ev->pos.offset);
        ferry_buf_append_copy_field(&b, ev->raw_key);
        ferry_buf_putc(&b, '\t');
        ferry_buf_append_copy_field(&b, ev->raw);
        ferry_buf_putc(&b, '\n');
        if (b.failed) {
            rc =
                ferry_buf_status(&b, err, "spilling an event of transaction %s",
                                 ev->txid != NULL ? ev->txid : "?");
            ferry_buf_close(&b);
            ferry_pg_copy_abort(conn, "out of memory");
            return rc;
        }
        if (b.len >= (1u << 20) || i + 1 == n) {
            if (PQputCopyData(conn, b.data, (int)b.len) != 1) {
                ferry_buf_close(&b);
                rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not %s: %s",
                                   COPY_WHAT, PQerrorMessage(conn));
                ferry_pg_copy_abort(conn, "could not send the rows");
                return rc;
            }
            ferry_buf_reset(&b);
        }
    }
    ferry_buf_close(&b);
    return ferry_pg_copy_end(conn, COPY_WHAT, FERRY_PG_DATA_FATAL, err);
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
    rc = sink_pg_exec(conn,
                      "DECLARE ferry_spill_cur NO SCROLL CURSOR FOR SELECT "
                      "slot, kafka_offset, event_key, event FROM "
                      "pg_temp.ferry_spill ORDER BY total_order",
                      0, NULL, NULL, NULL, "read the spilled transaction",
                      FERRY_PG_DATA_FATAL, err);
    while (rc == 0) {
        PGresult *res = NULL;

        rc = sink_pg_exec(conn, fetch, 0, NULL, &res, NULL,
                          "read the spilled transaction", FERRY_PG_DATA_FATAL,
                          err);
        if (rc != 0 || PQntuples(res) == 0) {
            PQclear(res);
            break;
        }
        rc = chunk_events(res, &chunk);
        PQclear(res);
        if (rc == FERRY_ENOMEM)
            rc = ferry_err_set(err, rc,
                               "out of memory reading back the spilled "
                               "transaction %s",
                               tx->id);
        if (rc == 0)
            rc = sink_apply_txs(a, one, 1, err);
        total += (long)chunk.n_events;
        chunk_clear(&chunk);
    }
    chunk_clear(&chunk);
    if (rc == 0)
        rc = sink_pg_exec(conn, "CLOSE ferry_spill_cur", 0, NULL, NULL, NULL,
                          "close the spill cursor", FERRY_PG_DATA_FATAL, err);
    if (rc == 0)
        ferry_info("applied the spilled transaction %s: %ld events", tx->id,
                   total);
    /* sink_apply_txs() records the rows the target rejects: a data error
     * does not come back from it. */
    return rc;
}
