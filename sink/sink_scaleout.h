/* ferry-sink's scale-out mode: several processes share the entity topics'
 * partitions through a consumer group.
 * sink/sink_scaleout.h
 *
 * Each process applies what it reads, event by event in per-key order,
 * without reassembling transactions; a child whose parent is on another
 * member's partition is parked until it arrives.  At each assignment the
 * stored offsets of the partitions it got are read from the target (never
 * Kafka's); they are stored fenced, from the offset this process read or
 * stored, in the same transaction as the rows.
 *
 * Why the offsets are fenced: a member that stalls past the session
 * timeout (a long target retry, a pause of the host) loses its partitions
 * while it may still be applying a batch read from them.  Its successor
 * started from the offsets stored in the target.  Whichever of the two
 * commits second finds the offset it started from gone (the UPDATE
 * matches no row), rolls its whole batch back, and reads again from what
 * the first one stored.  Rows are never applied twice in a way that
 * counts: the loser's transaction is rolled back, and staged keys are
 * locked before the stale check (sink_apply_set_shared()).
 * Not thread-safe: the loop's thread only.
 */
#ifndef SINK_SCALEOUT_H
#define SINK_SCALEOUT_H

#include "sink_parts.h"

/* Joins p->group with the consumer p->kc (opened, not assigned) and runs
 * until the loop stops: the end with opts->exit_at_end once assigned, a
 * stop signal (after the target transaction under way), or an error.
 * Returns 0 or an error class with err set. */
int sink_scaleout_run(sink_parts_t *p, ferry_err_t *err) FERRY_WUR;

#endif
