/* ferry-cdc's snapshot reader: every captured table read inside one
 * database snapshot and published as op "r" events.
 * cdc/cdc_snapshot.h
 *
 * Readers are threads, each with its own ordinary connection in a
 * REPEATABLE READ transaction that imports the same snapshot (the one the
 * slot exported, or a fresh one exported by the first reader), so parallel
 * readers see one consistent state.  A table is read in keyset chunks
 * (ORDER BY key, WHERE key > last, LIMIT chunk) when its key is a unique
 * index, through a cursor otherwise; a keyset table of split_bytes or more
 * is cut into one key range per reader (bounds from a sample of its
 * pages), so that several readers share it; memory stays bounded by the
 * chunk size
 * and the messages in flight, whatever the table's size.  Readers produce
 * directly (librdkafka's produce is thread-safe) outside the LSN window;
 * the calling thread serves delivery reports and the progress display, and
 * returns once every row is acknowledged.  docs/snapshot.md tells the whole
 * story.
 */
#ifndef CDC_SNAPSHOT_H
#define CDC_SNAPSHOT_H

#include "cdc_envelope.h"
#include "cdc_producer.h"
#include "cdc_metrics.h"
#include "cdc_tables.h"
#include "ferry_err.h"
#include "map_config.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>

/* The session settings that decide text forms, taken from the replication
 * connection (what wal2json formats with) and set on every reader. */
typedef struct cdc_snapshot_gucs {
    char timezone[128];     /* TimeZone */
    char datestyle[64];     /* DateStyle */
    char intervalstyle[64]; /* IntervalStyle */
    char extra_float[16];   /* extra_float_digits */
} cdc_snapshot_gucs_t;

typedef struct cdc_snapshot_opts {
    int threads;             /* reader threads and connections, 1 to 16 */
    size_t chunk_rows;       /* rows per keyset chunk or cursor fetch */
    uint64_t split_bytes;    /* a keyset table at least this big is read
                                in key ranges, one per reader; 0: never */
    uint64_t max_inflight;   /* snapshot messages awaiting Kafka before the
                                readers wait */
    int test_chunk_delay_ms; /* FERRY_TEST_SNAPSHOT_CHUNK_DELAY_MS: a pause
                              * before each chunk (tests only) */
} cdc_snapshot_opts_t;

/* What the snapshot publishes through; every pointer is borrowed and must
 * outlive the call. */
typedef struct cdc_snapshot_ctx {
    const map_config_t *cfg;         /* source DSN, slot name for logs */
    const cdc_tables_t *tables;      /* the tables to read, all of them */
    cdc_producer_t *prod;            /* produces; polled by the caller's
                                        thread only */
    rd_kafka_topic_t *const *topics; /* per table index */
    const cdc_env_t *env;            /* read-only from every thread */
    volatile sig_atomic_t *stop;     /* SIGTERM/SIGINT: abandon */
    cdc_metrics_t *metrics;          /* the caller's thread only; may be
                                        NULL */
} cdc_snapshot_ctx_t;

/* Fills opts with the defaults (2 threads, chunks of 10000 rows, tables
 * of 10 MiB or more split). */
void cdc_snapshot_opts_init(cdc_snapshot_opts_t *opts);

/* Reads the text-form settings on conn (a replication connection: SHOW is
 * a replication command) into *g.  Must run before CREATE_REPLICATION_SLOT
 * on that connection when its snapshot is exported.  Returns 0 or
 * FERRY_ETRANSIENT. */
int cdc_snapshot_gucs_read(PGconn *conn, cdc_snapshot_gucs_t *g,
                           ferry_err_t *err) FERRY_WUR;

/* Reads every table and publishes each row as op "r" with source.snapshot
 * "true", and "last" on the final row of the whole snapshot, sequence
 * [lsn, 0].  snapshot_name (borrowed) names an exported snapshot to import
 * (its exporter must stay idle until this returns), or is NULL to take a
 * fresh snapshot.  Returns 0 once every row is acknowledged by Kafka, or a
 * negative status: FERRY_ETRANSIENT (the source or *stop: nothing is
 * complete, run it again), FERRY_EFATAL (Kafka refused a message). */
int cdc_snapshot_run(const cdc_snapshot_ctx_t *ctx,
                     const cdc_snapshot_opts_t *opts,
                     const cdc_snapshot_gucs_t *gucs, const char *snapshot_name,
                     uint64_t lsn, ferry_err_t *err) FERRY_WUR;

/* Builds the keyset queries of table t, whose key columns are
 * key_index (borrowed): *first reads the first chunk ($1: the chunk size),
 * *next the chunk after a key ($2...: the previous chunk's last key, as
 * text).  Both new (free); identifiers quoted on conn.  Returns 0 or
 * FERRY_ENOMEM (both NULL). */
int cdc_snapshot_keyset_sql(PGconn *conn, const cdc_table_t *t,
                            const size_t *key_index, char **first,
                            char **next) FERRY_WUR;

#endif
