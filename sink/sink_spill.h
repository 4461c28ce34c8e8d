/* Spilling a huge source transaction to the target: its events go to a
 * temporary table inside the open target transaction as they arrive, and
 * are applied from there in order once the transaction is complete.
 * sink/sink_spill.h
 *
 * A source transaction is applied only once all of its events are there,
 * in total_order, parents before children.  Holding a transaction of
 * millions of rows in memory until then would not fit; instead its events
 * are COPYed into pg_temp.ferry_spill (the message key and value as text,
 * with where they came from) and freed.  When the END's count is reached
 * they are read back through a cursor, max_chunk at a time in total_order,
 * and each chunk is applied like a small transaction (sink_apply_txs()),
 * all inside the same target transaction, which the caller commits with
 * the Kafka offsets.  A child whose parent comes in a later chunk is parked
 * and drained once the parent is applied.  Not thread-safe.
 */
#ifndef SINK_SPILL_H
#define SINK_SPILL_H

#include "sink_apply.h"
#include "sink_txbuf.h"

#include <libpq-fe.h>

/* Creates (if needed) and empties the spill table on conn (borrowed),
 * inside the caller's open transaction.  Returns 0 or an error class. */
int sink_spill_begin(PGconn *conn, ferry_err_t *err) FERRY_WUR;

/* COPYs the n events (borrowed) into the spill table.  Returns 0 or an
 * error class (FERRY_EDATA is reported as FERRY_EFATAL). */
int sink_spill_write(PGconn *conn, sink_event_t *const *evs, size_t n,
                     ferry_err_t *err) FERRY_WUR;

/* Applies every spilled event of tx (borrowed; its id and commit LSN are
 * used) through a (borrowed), max_chunk events at a time in total_order.
 * Returns 0 or an error class as sink_apply_txs() does. */
int sink_spill_apply(PGconn *conn, sink_apply_t *a, const sink_tx_t *tx,
                     size_t max_chunk, ferry_err_t *err) FERRY_WUR;

#endif
