/* ferry-sink's ordered mode: source transactions reassembled from every
 * partition and applied whole, in commit order.
 * sink/sink_ordered.h
 *
 * One process reads every partition of the entity topics and the
 * transaction topic (sink_consumer.h), reassembles each source
 * transaction (sink_txbuf.h) and applies complete ones in commit LSN
 * order, many per target transaction, with the Kafka offsets stored in the
 * same target transaction (sink_commit.h).  A transaction applied before
 * (its commit LSN in the applied window, sink_lsnset.h) is dropped when
 * read again.  A transaction too big for memory is spilled to the target
 * as it arrives (sink_spill.h).  Events of transactions a rebuild's bulk
 * load cut in two are applied loose, ahead of the reassembled ones.
 * Not thread-safe: the loop's thread only.
 */
#ifndef SINK_ORDERED_H
#define SINK_ORDERED_H

#include "sink_opts.h"
#include "sink_parts.h"

/* Runs the ordered mode over the parts in p (borrowed) until the loop
 * stops: the end with opts->exit_at_end, a stop signal (after the target
 * transaction under way), a new snapshot of ferry-cdc on <prefix>.snapshot
 * (*snapshot set, caller-owned: the batch under way is committed, what was
 * read past it is left for the snapshot's bulk load), or an error.
 * bulk_cut is the commit LSN of a finished bulk load's cut (0: none).
 * Returns 0 or an error class with err set. */
int sink_ordered_run(sink_parts_t *p, uint64_t bulk_cut, bool *snapshot,
                     ferry_err_t *err) FERRY_WUR;

#endif
