/* ferry-cdc's metrics and readiness: what an operator sees of a running
 * ferry-cdc (docs/operations.md).
 * cdc/cdc_metrics.h
 *
 * The families (fixed names: alerts and dashboards depend on them):
 *   ferry_cdc_events_total{table,op}         row events published (op
 *                                            insert, update, delete,
 *                                            truncate)
 *   ferry_cdc_snapshot_rows_total{table}     snapshot rows published
 *   ferry_cdc_replication_lag_bytes          the server's WAL position
 *                                            minus the slot's confirmed
 *   ferry_cdc_slot_retained_wal_bytes        WAL the server keeps for the
 *                                            slot
 *   ferry_cdc_slot_safe_wal_bytes            safe_wal_size (absent when
 *                                            max_slot_wal_keep_size is -1)
 *   ferry_cdc_slot_wal_status{status}        1 for the slot's wal_status
 *   ferry_cdc_kafka_inflight_messages        messages Kafka has not
 *                                            acknowledged
 *   ferry_cdc_last_commit_timestamp_seconds  source commit time of the
 *                                            last confirmed transaction
 *   ferry_cdc_confirmed_lsn_bytes            the confirmed LSN, as a number
 *   ferry_cdc_reconnects_total               sessions lost and retried
 *   ferry_cdc_ready                          1 when /readyz says ready
 * plus ferry_build_info, process_* and ferry_loop_last_turn_timestamp_seconds
 * (common/ferry_metrics.h).
 *
 * The stream counts into plain arrays (cdc_metrics_event() is an
 * increment); cdc_metrics_tick(), called at every turn of whichever loop
 * runs (streaming, the snapshot's supervisor, a reconnect's wait), beats
 * /healthz and, once a second, copies the counts into the registry and
 * publishes them for the HTTP thread.  The main thread only, apart from
 * the HTTP server's own thread.
 */
#ifndef CDC_METRICS_H
#define CDC_METRICS_H

#include "cdc_tables.h"
#include "ferry_err.h"
#include "map_config.h"
#include "map_slot.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cdc_metrics cdc_metrics_t;

/* The ops of ferry_cdc_events_total. */
typedef enum cdc_metrics_op {
    CDC_METRICS_INSERT = 0,
    CDC_METRICS_UPDATE,
    CDC_METRICS_DELETE,
    CDC_METRICS_TRUNCATE,
    CDC_METRICS_N_OPS
} cdc_metrics_op_t;

/* Creates ferry-cdc's metrics for cfg (borrowed, must outlive them).
 * Returns a new object (free with cdc_metrics_free()) or NULL with err set
 * (out of memory). */
cdc_metrics_t *cdc_metrics_new(const map_config_t *cfg,
                               ferry_err_t *err) FERRY_WUR;

/* Stops the HTTP server, if any, and frees m; NULL is a no-op. */
void cdc_metrics_free(cdc_metrics_t *m);

/* Serves /metrics, /healthz and /readyz on listen (borrowed, ADDR:PORT);
 * /healthz fails once no loop has turned for wedge_ms.  Returns 0 or
 * FERRY_ECONFIG with err set. */
int cdc_metrics_listen(cdc_metrics_t *m, const char *listen, int wedge_ms,
                       ferry_err_t *err) FERRY_WUR;

/* The captured tables (borrowed, must outlive m or the next call), once
 * loaded: their names label the counters.  Returns 0 or FERRY_ENOMEM. */
int cdc_metrics_set_tables(cdc_metrics_t *m, const cdc_tables_t *tables,
                           ferry_err_t *err) FERRY_WUR;

/* A row event of table ti was published.  m may be NULL. */
void cdc_metrics_event(cdc_metrics_t *m, size_t ti, cdc_metrics_op_t op);

/* Table ti's snapshot has published rows rows so far.  m may be NULL. */
void cdc_metrics_snapshot_rows(cdc_metrics_t *m, size_t ti, uint64_t rows);

/* A transaction that committed at ts_ms (source clock) ends at end_lsn:
 * once the slot confirms end_lsn it is the last confirmed.  m may be
 * NULL. */
void cdc_metrics_commit(cdc_metrics_t *m, uint64_t end_lsn, int64_t ts_ms);

/* What pg_replication_slots said of the slot (borrowed).  m may be NULL. */
void cdc_metrics_slot(cdc_metrics_t *m, const map_slot_t *slot);

/* A replication session was lost and is retried.  m may be NULL. */
void cdc_metrics_reconnect(cdc_metrics_t *m);

/* What ferry-cdc is doing, for /readyz: streaming (ready) or not, with
 * the reason (borrowed, copied).  m may be NULL. */
void cdc_metrics_phase(cdc_metrics_t *m, bool streaming, const char *why);

/* A turn of the loop that runs: beats /healthz and, at most once a second,
 * publishes, with confirmed the slot's confirmable LSN and inflight the
 * messages Kafka has not acknowledged.  m may be NULL. */
void cdc_metrics_tick(cdc_metrics_t *m, uint64_t confirmed, size_t inflight);

#endif
