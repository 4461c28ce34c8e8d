/* When ferry-cdc's snapshot is due for this sink, and setting up its bulk
 * load: the decision between the start-up (sink_run.c) and the bulk load
 * (sink_bulkload.h).
 * sink/sink_snapdue.h
 *
 * ferry-cdc's records on <prefix>.snapshot (sink_snaplog.h) say whether a
 * snapshot is under way or complete; the state (sink_state.h) says which
 * one this sink applied last.  A complete snapshot not applied yet is
 * loaded entity by entity in dependency order, and a new one after the
 * first is followed by the sweep (docs/snapshot.md).  Every pointer is
 * borrowed.
 */
#ifndef SINK_SNAPDUE_H
#define SINK_SNAPDUE_H

#include "ferry_err.h"
#include "map_config.h"
#include "sink_parts.h"
#include "sink_state.h"

#include <signal.h>
#include <stdbool.h>

/* Sets b up for a snapshot of ferry-cdc that is not applied yet (b->active
 * then), waiting while one is under way (saying so every 10 s, /readyz
 * not ready), or leaves it inactive.  A sink that applied the topics before
 * it followed snapshots (upgraded) takes the one it finds as applied and
 * marks it so.  0 or an error with err set. */
int sink_snapdue_setup(sink_parts_t *p, bool upgraded, sink_state_bulk_t *b,
                       volatile sig_atomic_t *stop, ferry_err_t *err) FERRY_WUR;

/* Whether the state is an older sink's: positions stored, no snapshot
 * marked applied and no position on <prefix>.snapshot. */
bool sink_snapdue_upgraded(const map_config_t *cfg,
                           const sink_state_start_t *st);

/* --scale-out applies a snapshot as its rows arrive: says so once, at
 * start, when one is pending.  0 or an error reading the records. */
int sink_snapdue_warn_scaleout(sink_parts_t *p, ferry_err_t *err) FERRY_WUR;

#endif
