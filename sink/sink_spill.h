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
 * and each chunk is applied like a small transaction (sink_apply.h), all
 * inside the same target transaction, which the caller commits with the
 * Kafka offsets.  A child whose parent comes in a later chunk is parked
 * and drained once the parent is applied.  Everything pushes steps onto
 * the target's job (sink_target.h).  Not thread-safe.
 */
#ifndef SINK_SPILL_H
#define SINK_SPILL_H

#include "sink_apply.h"
#include "sink_target.h"
#include "sink_txbuf.h"

typedef struct sink_spill sink_spill_t;

/* Creates the spill of t and a (borrowed, must outlive it), applying
 * max_chunk events at a time.  Returns it (free with sink_spill_free()) or
 * NULL when out of memory. */
sink_spill_t *sink_spill_new(sink_target_t *t, sink_apply_t *a,
                             size_t max_chunk);

void sink_spill_free(sink_spill_t *sp);

/* Pushes the creation (if needed) and emptying of the spill table, inside
 * the caller's open transaction. */
int sink_spill_push_begin(sink_spill_t *sp, ferry_err_t *err) FERRY_WUR;

/* Pushes the COPY of the n events (borrowed for the call only: their text
 * is copied) into the spill table. */
int sink_spill_push_write(sink_spill_t *sp, sink_event_t *const *evs, size_t n,
                          ferry_err_t *err) FERRY_WUR;

/* Pushes the application of every spilled event of tx (borrowed until the
 * job ends; its id and commit LSN are used), max_chunk events at a time in
 * total_order. */
int sink_spill_push_apply(sink_spill_t *sp, const sink_tx_t *tx,
                          ferry_err_t *err) FERRY_WUR;

#endif
