/* ferry-sink's state schema in the target: what it holds, how it is
 * created and checked, and every statement that reads or writes the
 * positions.
 * sink/sink_state.h
 *
 * target.state_schema (default "ferry") holds only ferry's bookkeeping
 * (docs/sink.md, "The state schema"):
 *   offsets      the next Kafka offset of every partition, written in the
 *                same transaction as the rows (exactly once)
 *   applied_tx   commit LSNs of the last applied source transactions
 *   row_lsn      the newest (commit, change) LSN applied per key
 *   row_lsn_max  per entity, a bound on its row_lsn and truncated entries
 *   truncated    the newest applied TRUNCATE per entity
 *   parked       rows waiting for a parent (or for their children to go)
 *   deferred     deferred refs waiting for their parent
 *   errors       what could not be applied
 *   sink_mode    the mode of the sinks that ran last (ordered, scale-out)
 *   bulk, bulk_end  the bulk load (--rebuild's, or a snapshot's): its
 *                kind, its cut and end offsets
 *   snapshot_applied  per slot, the last snapshot of ferry-cdc applied
 *                (its LSN and the offset of its record on <prefix>.snapshot)
 *   id_map       UUIDs imported with ferry-map import-ids (mapping/)
 *
 * Everything pushes steps onto the target's job (sink_target.h); results
 * land in caller-owned places that must stay valid until the job ends.
 * At start-up the caller runs each job with sink_target_run_wait().
 * Not thread-safe: the loop's thread only.
 */
#ifndef SINK_STATE_H
#define SINK_STATE_H

#include "ferry_err.h"
#include "map_config.h"
#include "sink_consumer.h"
#include "sink_lsnset.h"
#include "sink_target.h"
#include "sink_util.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sink_state sink_state_t;

/* Creates the state of cfg (borrowed, must outlive it) on t (borrowed).
 * shared selects the scale-out mode.  Returns a new state (free with
 * sink_state_free()) or NULL with err set.  Push the session first, once
 * t is connected: it quotes the schema's name. */
sink_state_t *sink_state_new(const map_config_t *cfg, sink_target_t *t,
                             bool shared, ferry_err_t *err) FERRY_WUR;

void sink_state_free(sink_state_t *s);

/* The quoted state schema (borrowed from s), or NULL before the first
 * session was pushed. */
const char *sink_state_quoted(const sink_state_t *s);

/* Pushes the session's settings and its advisory lock on the state schema:
 * exclusive for an ordered sink (it runs alone), shared for scale-out
 * sinks.  When another sink holds it the job ends FERRY_ETRANSIENT with
 * *conflict set (a killed sink's session may take a moment to end).
 * conflict is caller-owned. */
int sink_state_push_session(sink_state_t *s, bool *conflict,
                            ferry_err_t *err) FERRY_WUR;

/* Pushes the creation of the state tables where they are not complete
 * (their DDL locks tables other scale-out sinks write, so a complete
 * schema is left alone). */
int sink_state_push_init(sink_state_t *s, ferry_err_t *err) FERRY_WUR;

/* Pushes the check of the mode: an ordered sink cannot resume after
 * scale-out sinks (the job ends FERRY_ECONFIG with the reason); a
 * scale-out sink records its mode. */
int sink_state_push_mode(sink_state_t *s, ferry_err_t *err) FERRY_WUR;

/* Pushes --rebuild's reset: the job ends FERRY_ECONFIG when a target
 * table holds rows; else every position is forgotten. */
int sink_state_push_rebuild_reset(sink_state_t *s, ferry_err_t *err) FERRY_WUR;

/* What a sink reads at start. */
typedef struct sink_state_start {
    sink_map_t *offsets;    /* owned by the caller: "topic\x1fpartition" ->
                               int64_t * (new, free with free()) */
    sink_lsnset_t *applied; /* borrowed: filled with applied commit LSNs */
    long parked;            /* rows in the parked table */
    bool bulk_unfinished;   /* a bulk load is not done */
    bool has_offsets;       /* positions were stored before (the sink has
                               run against this state schema) */
    bool snap_applied;      /* a snapshot of the slot was applied ... */
    uint64_t snap_lsn;      /* ... at this LSN ... */
    int64_t snap_record;    /* ... whose record was at this offset of
                               <prefix>.snapshot */
} sink_state_start_t;

/* Pushes the reads of *out (caller-owned; offsets and applied set up by
 * the caller). */
int sink_state_push_load(sink_state_t *s, sink_state_start_t *out,
                         ferry_err_t *err) FERRY_WUR;

/* Pushes the store of the next offset min_offset[i] of every slot of c
 * (both borrowed until the job ends) into offsets. */
int sink_state_push_offsets(sink_state_t *s, const sink_consumer_t *c,
                            const int64_t *min_offset,
                            ferry_err_t *err) FERRY_WUR;

/* Pushes the record of the n commit LSNs (copied; 0s are skipped) as
 * applied, and forgets those below floor (the window's; 0: none). */
int sink_state_push_applied(sink_state_t *s, const uint64_t *lsns, size_t n,
                            uint64_t floor, ferry_err_t *err) FERRY_WUR;

/* Scale-out: pushes the fenced store of the n slots idx of c (all
 * borrowed until the job ends): slot idx[i] moves from from[i] (the offset
 * this sink last stored or read) to to[i].  When another member moved one
 * in between, the job ends FERRY_EFATAL with *fenced set (caller-owned);
 * group (borrowed) names it in the message. */
int sink_state_push_group_offsets(sink_state_t *s, const sink_consumer_t *c,
                                  const size_t *idx, const int64_t *from,
                                  const int64_t *to, size_t n,
                                  const char *group, bool *fenced,
                                  ferry_err_t *err) FERRY_WUR;

/* Scale-out: pushes the read of the stored offsets of the n slots idx of c
 * (a row at 0 is created for a new one) into found[i] (caller-owned, n
 * entries, -1 when none came back). */
int sink_state_push_group_read(sink_state_t *s, const sink_consumer_t *c,
                               const size_t *idx, size_t n, int64_t *found,
                               ferry_err_t *err) FERRY_WUR;

/* What a bulk load is for. */
typedef enum sink_bulk_kind {
    SINK_BULK_REBUILD = 0, /* --rebuild: every topic from the beginning */
    SINK_BULK_SNAPSHOT     /* a snapshot of ferry-cdc, from the stored
                              offsets */
} sink_bulk_kind_t;

/* A bulk load (sink_bulkload.h). */
typedef struct sink_state_bulk {
    bool active;           /* unfinished */
    uint64_t cut;          /* the highest commit LSN it applied (cut_lsn) */
    sink_bulk_kind_t kind; /* what it is for */
    uint64_t snap_lsn;     /* a snapshot's: its LSN (sequence[0] of its
                              rows) */
    int64_t snap_record;   /* its record's offset on <prefix>.snapshot */
    bool sweep;            /* remove afterwards the rows it did not hold */
} sink_state_bulk_t;

/* Pushes the record of a new bulk load described by b (copied) with the
 * end offset of every entity slot of c (its high watermark now, slot.end),
 * in one transaction; an earlier, finished one is replaced. */
int sink_state_push_bulk_start(sink_state_t *s, const sink_consumer_t *c,
                               const sink_state_bulk_t *b,
                               ferry_err_t *err) FERRY_WUR;

/* Pushes the read of the bulk load's state into *out and, when end is not
 * NULL, of its end offsets into end[slot] of c's slots (caller-owned;
 * slots without one are left as they are). */
int sink_state_push_bulk_read(sink_state_t *s, const sink_consumer_t *c,
                              sink_state_bulk_t *out, int64_t *end,
                              ferry_err_t *err) FERRY_WUR;

/* Pushes the raise of the bulk load's cut to cut. */
int sink_state_push_bulk_cut(sink_state_t *s, uint64_t cut,
                             ferry_err_t *err) FERRY_WUR;

/* Pushes the record of the slot's snapshot at lsn (its record at offset
 * record of <prefix>.snapshot) as applied, without a load: for a sink that
 * applied the topics before it followed snapshots. */
int sink_state_push_snapshot_mark(sink_state_t *s, uint64_t lsn, int64_t record,
                                  ferry_err_t *err) FERRY_WUR;

/* Pushes the end of the bulk load; its final cut goes to *cut.  A
 * snapshot's records it as applied for the slot, in the same
 * transaction. */
int sink_state_push_bulk_done(sink_state_t *s, uint64_t *cut,
                              ferry_err_t *err) FERRY_WUR;

#endif
