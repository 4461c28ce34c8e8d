/* --rebuild's bulk load: each entity's topic read from the beginning up to
 * the end offsets captured when the rebuild started, one entity after the
 * other in dependency order, a batch of up to --batch events per target
 * transaction.
 * sink/sink_rebuild.h
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
 * Offsets and the cut are stored with the rows, so a kill -9 resumes the
 * bulk load where its last batch committed.  Not thread-safe.
 */
#ifndef SINK_REBUILD_H
#define SINK_REBUILD_H

#include "sink_parts.h"

#include <stdbool.h>
#include <stdint.h>

/* Once the consumer is assigned: with fresh (a rebuild has just reset the
 * state) records the end offsets of the entity partitions and starts the
 * bulk load; else reads the state of an earlier one.  *active tells
 * whether a bulk load is to run (or resume); *cut is the commit LSN of
 * its cut so far (0: none).  Runs its jobs with sink_target_run_wait():
 * call before the loop runs.  Returns 0 or an error class with err. */
int sink_rebuild_prepare(sink_parts_t *p, bool fresh, bool *active,
                         uint64_t *cut, ferry_err_t *err) FERRY_WUR;

/* Loads every entity's topic, in dependency order, up to the recorded end
 * offsets, then assigns every partition for the live stream and returns
 * the final cut in *cut.  Returns 0 (also when stopped by a signal: then
 * *done is false) or an error class with err set. */
int sink_rebuild_run(sink_parts_t *p, uint64_t *cut, bool *done,
                     ferry_err_t *err) FERRY_WUR;

#endif
