/* The bulk load: each entity's topic read up to the end offsets captured
 * when the load started, one entity after the other in dependency order,
 * a batch of up to --batch events per target transaction.  --rebuild
 * loads every topic from the beginning into an empty target; every
 * snapshot of ferry-cdc (the initial one, `always`, one after a lost slot)
 * is loaded the same way from the stored offsets, so that no row whose
 * parent is in the snapshot is ever parked and no streamed change is
 * applied before the snapshot rows it depends on.
 * sink/sink_bulkload.h
 *
 * Why it is correct without reassembling transactions:
 * - Parents are loaded before their children, so a child's parent is in
 *   the target unless the source deleted it or it lies past the cut (the
 *   child is parked and applied once the parent arrives).  A delete of a
 *   row that rows of the same table still reference is parked until they
 *   are gone (sink_apply_set_park_deletes()).
 * - Every event of a key lies in one partition, in source order, and the
 *   stale check keeps the newest, so per-key order holds across batches,
 *   restarts and replays.
 * - The cut is where the bulk load stopped in each partition.  Source
 *   transactions that have events on both sides of it, or that lie wholly
 *   past it with a commit LSN below the newest one loaded, can never be
 *   reassembled (some of their events were applied already): their events
 *   read afterwards are applied loose by the ordered mode, with parking,
 *   and their BEGIN and END are ignored.  <state>.bulk keeps that commit
 *   LSN (cut_lsn).
 * - A snapshot's rows lie below the end offsets: ferry-cdc publishes its
 *   "complete" record only once every row is acknowledged, and the load
 *   starts after it.
 * Offsets and the cut are stored with the rows, so a kill -9 resumes the
 * bulk load where its last batch committed.
 *
 * After a re-snapshot (any snapshot but the first one the sink applies,
 * recorded as "sweep"), the rows the snapshot did not hold are removed:
 * entity by entity, children first, every target row whose position is
 * older than the snapshot's (not in it, and not changed since) is deleted
 * as if the source had deleted it at the snapshot's LSN (sink_apply.h,
 * sink_apply_push_sweep()), so that a change streamed meanwhile is never
 * undone.  Then the snapshot is recorded as applied.  Not thread-safe.
 */
#ifndef SINK_BULKLOAD_H
#define SINK_BULKLOAD_H

#include "sink_parts.h"

#include <stdbool.h>
#include <stdint.h>

/* Once the consumer is assigned: records a new bulk load described by
 * *b (its kind, a snapshot's LSN and record, whether to sweep) with the
 * slots' high watermarks as its end offsets.  Runs its job with
 * sink_target_run_wait(): call before the loop runs.  Returns 0 or an
 * error class with err set. */
int sink_bulkload_start(sink_parts_t *p, const sink_state_bulk_t *b,
                        ferry_err_t *err) FERRY_WUR;

/* Reads the state of the last bulk load into *b (b->active: unfinished,
 * to resume).  As sink_bulkload_start() for the rest. */
int sink_bulkload_state(sink_parts_t *p, sink_state_bulk_t *b,
                        ferry_err_t *err) FERRY_WUR;

/* Runs the bulk load of *b (active) to its end: every entity's topic in
 * dependency order up to the recorded end offsets, the sweep when b says
 * so, the load recorded as done; then every partition is assigned for the
 * live stream and *cut is the final cut.  Returns 0 (also when stopped by
 * a signal: then *done is false) or an error class with err set. */
int sink_bulkload_run(sink_parts_t *p, const sink_state_bulk_t *b,
                      uint64_t *cut, bool *done, ferry_err_t *err) FERRY_WUR;

#endif
