/* Applying reassembled source transactions to the target: staging COPY,
 * stale filtering, parking, set-based upserts in dependency order, deletes
 * in reverse order, per-row isolation of rejected rows, and draining parked
 * rows once their parents arrive.
 * sink/sink_apply.h
 *
 * The caller opens the target transaction, calls sink_apply_txs() for one
 * or more source transactions, stores the Kafka offsets and commits.  Rows
 * the target rejects (and malformed messages) are written to
 * <state_schema>.errors inside that transaction and handed to the caller's
 * dead-letter callback.  Not thread-safe: one applier per connection.
 */
#ifndef SINK_APPLY_H
#define SINK_APPLY_H

#include "map_config.h"
#include "sink_txbuf.h"

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct sink_apply sink_apply_t;

/* Called for every event that goes to the dead-letter topic: ev
 * (borrowed), the entity name or NULL, and the reason (borrowed).
 * Returns 0, or a FERRY_E* class that aborts the batch. */
typedef int (*sink_dlq_fn)(void *arg, const sink_event_t *ev,
                           const char *entity, const char *reason);

/* Returns the topic name of consumer slot slot (borrowed), or NULL. */
typedef const char *(*sink_slot_topic_fn)(void *arg, int slot, int *partition);

/* Creates an applier for cfg (borrowed, must outlive it).  Reads the target
 * tables' column types and the id-map's imported UUIDs through conn
 * (borrowed).  On success *out is new (free with sink_apply_free()).
 * Returns 0, FERRY_ECONFIG (a target table or column is missing),
 * FERRY_ETRANSIENT or FERRY_ENOMEM, with err set. */
int sink_apply_new(const map_config_t *cfg, PGconn *conn, sink_dlq_fn dlq,
                   sink_slot_topic_fn slot_topic, void *arg, sink_apply_t **out,
                   ferry_err_t *err) FERRY_WUR;

/* Frees the applier; NULL is a no-op. */
void sink_apply_free(sink_apply_t *a);

/* Uses conn (borrowed) from now on, creates the staging tables on it and
 * reads the position bounds again (another sink may have written while
 * this one was away); call after each (re)connect.  Returns 0 or an error
 * class. */
int sink_apply_attach(sink_apply_t *a, PGconn *conn,
                      ferry_err_t *err) FERRY_WUR;

/* Applies the n transactions (borrowed) in order inside the caller's open
 * transaction, then drains parked rows whose parents are now there.
 * Returns 0; FERRY_ETRANSIENT (roll back and retry the same transactions);
 * FERRY_EFATAL or FERRY_ENOMEM (stop), with err set. */
int sink_apply_txs(sink_apply_t *a, sink_tx_t *const *txs, size_t n,
                   ferry_err_t *err) FERRY_WUR;

/* Counters since the applier was created. */
typedef struct sink_apply_stats {
    long applied; /* rows upserted or deleted */
    long stale;   /* rows skipped as stale */
    long parked;  /* rows parked */
    long drained; /* parked rows applied again */
    long errors;  /* rows and messages sent to errors and the DLQ */
} sink_apply_stats_t;

/* Copies the counters into *out. */
void sink_apply_get_stats(const sink_apply_t *a, sink_apply_stats_t *out);

/* Scale-out mode (several sinks share the target): every staged key is
 * locked before the stale check, a delete that children still reference
 * (23503, their delete is on a partition another sink owns) is parked
 * until they are gone instead of being recorded as an error, and the
 * parked table is read rather than trusted to hold only this sink's rows.
 * Off by default. */
void sink_apply_set_shared(sink_apply_t *a, bool shared);

/* Sets every entity's position bound (<state>.row_lsn_max) to the largest
 * LSN: shared sinks write row_lsn without keeping the bounds, so no sink
 * may skip a stale check on them afterwards.  In autocommit, on the
 * applier's connection.  Returns 0, or the class of the target's error
 * with err set. */
int sink_apply_forget_bounds(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* While on, a delete that rows still reference (23503) is parked until
 * they are gone instead of being recorded as an error, as in the shared
 * mode: for --rebuild's bulk load and the source transactions it cut in
 * two, whose pieces arrive in separate batches.  A parked delete retried
 * later is parked again while still blocked, whatever the setting. */
void sink_apply_set_park_deletes(sink_apply_t *a, bool on);

/* Forgets rows parked in memory counters (after a rollback). */
void sink_apply_set_parked(sink_apply_t *a, long parked_rows);

#endif
