/* Spilling a huge source transaction to a temporary table.
 * sink/sink_spill.c */
#include "sink_spill.h"

#include "ferry_buf.h"
#include "ferry_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink_spill {
    sink_target_t *t;    /* borrowed */
    sink_apply_t *a;     /* borrowed */
    size_t max_chunk;    /* events per chunk */
    const sink_tx_t *tx; /* borrowed: the transaction being applied */
    sink_tx_t chunk;     /* the chunk being applied (events owned) */
    sink_tx_t *one[1];   /* {&chunk}, for sink_apply_push_txs() */
    long total;          /* events applied so far */
    char fetch[64];      /* FETCH FORWARD <max_chunk> */
};

sink_spill_t *
sink_spill_new(sink_target_t *t, sink_apply_t *a, size_t max_chunk)
{
    sink_spill_t *sp = calloc(1, sizeof(*sp));

    if (sp == NULL)
        return NULL;
    sp->t = t;
    sp->a = a;
    sp->max_chunk = max_chunk > 0 ? max_chunk : 1;
    sp->one[0] = &sp->chunk;
    snprintf(sp->fetch, sizeof(sp->fetch),
             "FETCH FORWARD %zu FROM ferry_spill_cur", sp->max_chunk);
    return sp;
}

static void
chunk_clear(sink_spill_t *sp)
{
    size_t i;

    for (i = 0; i < sp->chunk.n_events; i++)
        sink_event_free(sp->chunk.events[i]);
    free(sp->chunk.events);
    sp->chunk.events = NULL;
    sp->chunk.n_events = 0;
}

void
sink_spill_free(sink_spill_t *sp)
{
    if (sp == NULL)
        return;
    chunk_clear(sp);
    free(sp);
}

int
sink_spill_push_begin(sink_spill_t *sp, ferry_err_t *err)
{
    int rc = sink_target_push(
        sp->t,
        &(sink_stmt_t){.what = "create the spill table",
                       .sql = "CREATE TEMP TABLE IF NOT EXISTS ferry_spill "
                              "(total_order int8, slot int4, kafka_offset "
                              "int8, event_key text, event text)"},
        err);

    return rc != 0 ? rc
                   : sink_target_push(
                         sp->t,
                         &(sink_stmt_t){.what = "empty the spill table",
                                        .sql = "TRUNCATE pg_temp.ferry_spill"},
                         err);
}

int
sink_spill_push_write(sink_spill_t *sp, sink_event_t *const *evs, size_t n,
                      ferry_err_t *err)
{
    ferry_buf_t b;
    size_t i;
    int rc;

    if (n == 0)
        return 0;
    ferry_buf_init(&b);
    for (i = 0; i < n; i++) {
        const sink_event_t *ev = evs[i];

        ferry_buf_printf(&b, "%ld\t%d\t%" PRId64 "\t", ev->total_order,
                         ev->pos.slot, ev->pos.offset);
        ferry_buf_append_copy_field(&b, ev->raw_key);
        ferry_buf_putc(&b, '\t');
        ferry_buf_append_copy_field(&b, ev->raw);
        ferry_buf_putc(&b, '\n');
    }
    if (b.failed) {
        ferry_buf_close(&b);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory spilling %zu events", n);
    }
    rc = sink_target_push_copy(sp->t, "COPY into the spill table",
                               "COPY pg_temp.ferry_spill FROM STDIN", &b, err);
    ferry_buf_close(&b);
    return rc;
}

static int fetch_push(sink_spill_t *sp, ferry_err_t *err);

/* The chunk is applied: free it and fetch the next. */
static int
chunk_done(void *arg, size_t aux, ferry_err_t *err)
{
    sink_spill_t *sp = arg;

    (void)aux;
    sp->total += (long)sp->chunk.n_events;
    chunk_clear(sp);
    return fetch_push(sp, err);
}

/* A chunk of spilled events, parsed; none left: the cursor is closed. */
static int
fetched(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
        ferry_err_t *err)
{
    sink_spill_t *sp = arg;
    int i, rows = PQntuples(res);

    (void)aux, (void)rc, (void)sqlstate;
    if (rows == 0) {
        ferry_info("applied the spilled transaction %s: %ld events", sp->tx->id,
                   sp->total);
        return sink_target_push(sp->t,
                                &(sink_stmt_t){.what = "close the spill cursor",
                                               .sql = "CLOSE ferry_spill_cur"},
                                err);
    }
    sp->chunk.events = calloc((size_t)rows + 1, sizeof(*sp->chunk.events));
    if (sp->chunk.events == NULL)
        goto oom;
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
            goto oom;
        }
        sp->chunk.events[sp->chunk.n_events++] = ev;
    }
    if ((rc = sink_apply_push_txs(sp->a, sp->one, 1, err)) != 0)
        return rc;
    return sink_target_push_call(sp->t, chunk_done, sp, 0, err);
oom:
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory reading back the spilled transaction "
                         "%s",
                         sp->tx->id);
}

static int
fetch_push(sink_spill_t *sp, ferry_err_t *err)
{
    return sink_target_push(sp->t,
                            &(sink_stmt_t){.what = "read the spilled "
                                                   "transaction",
                                           .sql = sp->fetch,
                                           .done = fetched,
                                           .arg = sp},
                            err);
}

int
sink_spill_push_apply(sink_spill_t *sp, const sink_tx_t *tx, ferry_err_t *err)
{
    int rc;

    chunk_clear(sp);
    sp->tx = tx;
    sp->total = 0;
    memset(&sp->chunk, 0, sizeof(sp->chunk));
    sp->chunk.id = tx->id;
    sp->chunk.commit_lsn = tx->commit_lsn;
    sp->chunk.expected = -1;
    sp->chunk.begin_pos.slot = sp->chunk.end_pos.slot = -1;
    rc = sink_target_push(
        sp->t,
        &(sink_stmt_t){.what = "read the spilled transaction",
                       .sql = "DECLARE ferry_spill_cur NO SCROLL CURSOR FOR "
                              "SELECT slot, kafka_offset, event_key, event "
                              "FROM pg_temp.ferry_spill ORDER BY total_order"},
        err);
    return rc != 0 ? rc : fetch_push(sp, err);
}
