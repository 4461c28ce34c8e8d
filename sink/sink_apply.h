/* The applier: source transactions turned into set-based statements on the
 * target, in dependency order, with stale filtering, parking, per-row
 * isolation of rejected rows, and draining of parked rows whose parents
 * arrived.
 * sink/sink_apply.h
 *
 * The applier pushes steps onto the target's job (sink_target.h); the
 * caller opens the transaction before them and stores positions and
 * commits after them (sink_commit.h).  In the ordered mode (neither shared
 * nor parking deletes), a hard delete that rows still reference gives
 * them their on_missing policy in the same statement (docs/sink.md,
 * "Parents deleted under children"); one that rows the mapping does not
 * know block is parked and retried with a backoff.  Rows the target rejects,
 * and malformed messages, go to the dead-letter path (sink_dlq.h) inside that
 * transaction.
 *
 * Every target transaction is an attempt that may roll back: the
 * applier's counters for it are kept apart and folded into the totals by
 * sink_apply_committed(), or dropped by sink_apply_rolled_back().  The
 * events of the transactions given to sink_apply_push_txs() are borrowed
 * until the job ends either way.  Not thread-safe: the loop's thread only.
 */
#ifndef SINK_APPLY_H
#define SINK_APPLY_H

#include "map_config.h"
#include "sink_dlq.h"
#include "sink_target.h"
#include "sink_txbuf.h"

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct sink_apply sink_apply_t;

/* Creates an applier for cfg (borrowed, must outlive it) that works on t
 * and records through dlq (both borrowed); slot_topic(arg, ...) names the
 * topic and partition of a consumer slot for parked rows.  Reads the
 * target tables' column types and the id-map's imported UUIDs through
 * conn (borrowed, a blocking connection at start-up).  On success *out is
 * new (free with sink_apply_free()).  Returns 0, FERRY_ECONFIG (a target
 * table or column is missing), FERRY_ETRANSIENT or FERRY_ENOMEM, with err
 * set. */
int sink_apply_new(const map_config_t *cfg, PGconn *conn, sink_target_t *t,
                   sink_dlq_t *dlq, sink_slot_topic_fn slot_topic, void *arg,
                   sink_apply_t **out, ferry_err_t *err) FERRY_WUR;

/* Frees the applier; NULL is a no-op. */
void sink_apply_free(sink_apply_t *a);

/* Pushes what a (new) session needs: the staging tables, the position
 * bounds read again (another sink may have written while this one was
 * away) and the parked rows counted.  Push after each (re)connect.
 * Returns 0 or FERRY_ENOMEM with err set. */
int sink_apply_push_session(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* Pushes the steps that apply the n transactions (borrowed until the job
 * ends) in order inside the caller's open transaction, then drain the
 * parked rows whose parents are now there.  Returns 0 or FERRY_ENOMEM;
 * the job itself ends FERRY_ETRANSIENT (roll back and retry the same
 * transactions), FERRY_EFATAL or FERRY_ENOMEM. */
int sink_apply_push_txs(sink_apply_t *a, sink_tx_t *const *txs, size_t n,
                        ferry_err_t *err) FERRY_WUR;

/* Pushes one chunk of the sweep of entity idx after a re-snapshot at pair
 * (docs/snapshot.md): up to limit target rows with a legacy id whose
 * position is older than pair (the snapshot did not hold them, and no
 * change since touched them), or, for an entity without legacy id
 * columns, up to limit keys ferry applied with such a position, are
 * deleted (or soft-deleted) as if the source had deleted them at pair,
 * through the same steps as a streamed delete (children first, the
 * children's on_missing policy, positions recorded).  Rows parked or
 * recorded as errors are left alone.  *got (caller-owned, valid until the
 * job ends) receives how many rows the chunk took: 0 when the entity is
 * swept.  Returns 0 or FERRY_ENOMEM with err set. */
int sink_apply_push_sweep(sink_apply_t *a, size_t idx, sink_pair_t pair,
                          size_t limit, size_t *got,
                          ferry_err_t *err) FERRY_WUR;

/* The attempt's transaction committed: its counters join the totals. */
void sink_apply_committed(sink_apply_t *a);

/* The attempt's transaction rolled back: its counters and what it took out
 * of parked are dropped (the count of parked rows is read again by the
 * next session). */
void sink_apply_rolled_back(sink_apply_t *a);

/* Counters of committed work since the applier was created. */
typedef struct sink_apply_stats {
    long applied; /* rows upserted or deleted */
    long stale;   /* rows skipped as stale */
    long parked;  /* rows parked */
    long drained; /* parked rows applied again */
    long errors;  /* rows and messages sent to errors and the DLQ */
} sink_apply_stats_t;

/* Copies the totals into *out. */
void sink_apply_get_stats(const sink_apply_t *a, sink_apply_stats_t *out);

/* Counters of committed work of one entity (for the metrics). */
typedef struct sink_apply_counts {
    long upserted;   /* rows upserted */
    long deleted;    /* rows deleted (or soft-deleted, or truncated) */
    long stale;      /* changes skipped as older than the target's */
    long parked;     /* rows parked (children parked under a deleted
                        parent count under the parent's entity) */
    long drained;    /* parked rows applied again (all entities: only the
                        index n_entities counts them) */
    long errors;     /* rows recorded in errors and the DLQ */
    long parked_now; /* rows of the entity in the parked table, as last
                        counted: at each session, then in the transaction
                        of a batch that parked or drained rows (at most
                        every second) */
} sink_apply_counts_t;

/* Copies the counters of entity idx (an index into cfg->entities; the
 * index n_entities holds what belongs to no entity: malformed messages,
 * drained rows) into *out. */
void sink_apply_entity_counts(const sink_apply_t *a, size_t idx,
                              sink_apply_counts_t *out);

/* Scale-out mode (several sinks share the target): every staged key is
 * locked before the stale check, a delete that children still reference
 * (23503, their delete is on a partition another sink owns) is parked
 * until they are gone instead of giving the children their policy, parked
 * deletes are retried at every batch, and the parked table is read rather
 * than trusted to hold only this sink's rows.  Off by default. */
void sink_apply_set_shared(sink_apply_t *a, bool shared);

/* Pushes steps that set every entity's position bound (<state>.row_lsn_max)
 * to the largest LSN: shared sinks write row_lsn without keeping the
 * bounds, so no sink may skip a stale check on them afterwards. */
int sink_apply_push_forget_bounds(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* While on, a delete that rows still reference (23503) is parked until
 * they are gone instead of giving the children their policy, as in the
 * shared mode: for --rebuild's bulk load and the source transactions it
 * cut in two, whose pieces arrive in separate batches.  A parked delete
 * retried later is parked again while still blocked, whatever the
 * setting (in the ordered mode, blocked by children whose policy is
 * error, it is recorded instead). */
void sink_apply_set_park_deletes(sink_apply_t *a, bool on);

/* True when the parked rows changed since they were last counted by
 * entity, at least a second ago: the count (for ferry_sink_parked_rows)
 * is due.  sink_apply_push_txs() counts when it is; a mode whose batches
 * stopped pushes sink_apply_push_recount() in a transaction of its own. */
bool sink_apply_recount_due(const sink_apply_t *a);

/* Pushes the count of parked rows by entity into the caller's open
 * transaction (adopted when it commits).  Returns 0 or FERRY_ENOMEM with
 * err set. */
int sink_apply_push_recount(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* Rows in the parked table, as the applier last knew. */
long sink_apply_parked(const sink_apply_t *a);

#endif
