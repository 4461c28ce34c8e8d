/* ferry-cdc's streaming loop: the slot's changes to Kafka, confirming to the
 * slot only what Kafka has acknowledged.
 * cdc/cdc_stream.h
 *
 * The loop reads wal2json messages from the replication connection, turns
 * each row change into a Debezium-shaped event on its table's topic (plus
 * BEGIN/END on <prefix>.transaction and a tombstone after each delete), and
 * confirms to the slot the end LSN of every transaction whose messages are
 * all acknowledged.  A kill -9 at any moment therefore loses nothing: the
 * slot restarts from the last confirmed transaction, and the changes sent
 * again carry the same LSNs.  When Kafka is slow the window of messages in
 * flight fills and the loop stops reading the stream (backpressure), while
 * still answering the server, so memory stays bounded.
 *
 * Before a row change is built it is checked against its table's
 * description (cdc_schema.h: a schema change is announced on
 * <prefix>.schema first), and a NOT NULL numeric column that wal2json sent
 * as null is read back from the row (cdc_nan.h).  A table's re-snapshot
 * announces its start and end on <prefix>.snapshot (cdc_incsnap.h).  At
 * start the topics are created (cdc_topics.h).
 */
#ifndef CDC_STREAM_H
#define CDC_STREAM_H

#include "cdc_handoff.h"
#include "cdc_metrics.h"
#include "cdc_snapshot.h"
#include "ferry_err.h"
#include "map_config.h"

#include <signal.h>
#include <stdint.h>

typedef struct cdc_stream_opts {
    uint64_t endpos;           /* stop once everything up to it is confirmed;
                                  0 for no end */
    int status_interval_ms;    /* feedback to the server at least this often */
    int heartbeat_interval_ms; /* heartbeat events; 0 turns them off */
    uint64_t max_retained_wal; /* warn when the slot retains more WAL (bytes);
                                  0 turns the warning off */
    uint64_t min_safe_wal;     /* warn when safe_wal_size falls under it
                                  (bytes); 0 turns the warning off */
    cdc_metrics_t *metrics;    /* borrowed: what operators see; may be
                                  NULL */
    size_t max_inflight;       /* messages in flight before backpressure */
    int max_reconnect_ms;      /* backoff ceiling between reconnects */
    cdc_snapshot_mode_t snapshot_mode; /* --snapshot */
    cdc_snapshot_opts_t snapshot;      /* readers, chunk size */
    const char *signal_table;          /* "schema.table" whose inserts trigger a
                                          re-snapshot; NULL for none (borrowed) */
    size_t resnapshot_chunk;           /* rows per re-snapshot chunk */
} cdc_stream_opts_t;

/* Fills opts with the defaults. */
void cdc_stream_opts_init(cdc_stream_opts_t *opts);

/* Streams cfg's tables (cfg borrowed) until *stop becomes non-zero (SIGTERM,
 * SIGINT), endpos is reached, or a permanent error.  Losing the source or
 * the broker is retried with backoff.  Returns 0 after a clean stop
 * (everything published was acknowledged and confirmed), or a negative
 * status with err set. */
int cdc_stream_run(const map_config_t *cfg, const cdc_stream_opts_t *opts,
                   volatile sig_atomic_t *stop, ferry_err_t *err) FERRY_WUR;

#endif
