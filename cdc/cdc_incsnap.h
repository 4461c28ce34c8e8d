/* Re-snapshot of chosen tables while streaming continues: keyset chunks
 * interleaved with the stream, closed by a high watermark (DBLog-style).
 * cdc/cdc_incsnap.h
 *
 * The streaming thread reads a chunk itself (so no stream event after the
 * read has been processed yet: the window opens there), then writes a high
 * watermark into the WAL with pg_logical_emit_message(false, 'ferry', ...),
 * which wal2json delivers in commit order as action M.  Every row change of
 * the table the stream delivers before the watermark drops that key from the
 * chunk: the stream's event is at least as new, and a change committed
 * after the watermark comes after the chunk in Kafka anyway.  At the
 * watermark the remaining rows are published as op "r" with sequence
 * [watermark LSN, 0].  docs/snapshot.md explains why this never lets an
 * older snapshot copy overwrite a newer change.
 *
 * A table whose description changes while it is re-read
 * (cdc_tables_generation()) starts again from its first chunk.
 *
 * Not thread-safe: the streaming thread owns it.  Memory is bounded by one
 * chunk.
 */
#ifndef CDC_INCSNAP_H
#define CDC_INCSNAP_H

#include "cdc_envelope.h"
#include "cdc_tables.h"
#include "cdc_w2j.h"
#include "ferry_err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cdc_incsnap cdc_incsnap_t;

/* Returns a new re-snapshot state for tables and env (both borrowed, must
 * outlive it), free with cdc_incsnap_free(); NULL when out of memory.
 * signal (borrowed, "schema.table" or NULL) is the signal table. */
cdc_incsnap_t *cdc_incsnap_new(const cdc_tables_t *tables, const cdc_env_t *env,
                               const char *signal, size_t chunk_rows);

void cdc_incsnap_free(cdc_incsnap_t *inc);

/* Whether msg (borrowed, an I/U/D/T message) is a change of the signal
 * table; such changes are not published. */
bool cdc_incsnap_is_signal(const cdc_incsnap_t *inc, const cdc_w2j_msg_t *msg);

/* Handles an INSERT into the signal table: type "execute-snapshot" with
 * data {"data-collections": ["schema.table", ...]} queues those tables,
 * parents first (the mapping's dependency order, cdc_tables_order()).
 * Anything else is logged and ignored. */
void cdc_incsnap_signal(cdc_incsnap_t *inc, const cdc_w2j_msg_t *msg);

/* Queues table index ti for a re-snapshot (a command). */
int cdc_incsnap_request(cdc_incsnap_t *inc, size_t ti,
                        ferry_err_t *err) FERRY_WUR;

/* Whether a chunk should be read now (a table queued, no chunk pending). */
bool cdc_incsnap_want_chunk(const cdc_incsnap_t *inc);

/* Reads the next chunk through sql (borrowed, the stream's ordinary
 * connection) and writes its high watermark.  Returns 0 or
 * FERRY_ETRANSIENT. */
int cdc_incsnap_read_chunk(cdc_incsnap_t *inc, PGconn *sql,
                           ferry_err_t *err) FERRY_WUR;

/* A streamed change of table t with Kafka key key[0..klen): the chunk's row
 * of that key, if any, is dropped.  truncate drops the whole chunk. */
void cdc_incsnap_on_change(cdc_incsnap_t *inc, const cdc_table_t *t,
                           const char *key, size_t klen, bool truncate);

/* A logical message (M) from the stream: true when it is the pending
 * chunk's high watermark, which makes the chunk ready.  When the table's
 * description changed since the chunk was read, the chunk is dropped and
 * the table's re-snapshot starts again (false). */
bool cdc_incsnap_on_message(cdc_incsnap_t *inc, const cdc_w2j_msg_t *msg);

/* The ready chunk (cdc_incsnap_on_message() returned true): its table
 * index, its watermark's LSN (the sequence of its rows), and whether it is
 * its table's first chunk and its last.  A table's re-snapshot records
 * (ferry_wire.h, table_started and table_complete) carry these LSNs. */
void cdc_incsnap_chunk(const cdc_incsnap_t *inc, size_t *ti, uint64_t *lsn,
                       bool *first, bool *last);

/* The ready chunk's surviving rows: returns false when none is left;
 * otherwise sets the table index, key and value (borrowed until the next
 * call) and moves on.  After the last row the chunk is finished. */
bool cdc_incsnap_next_row(cdc_incsnap_t *inc, size_t *ti, const char **key,
                          size_t *klen, const char **val, size_t *vlen);

#endif
