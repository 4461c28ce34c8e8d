/* Builds the Kafka key and value of each change event ferry-cdc publishes:
 * Debezium-shaped JSON with lossless PostgreSQL text forms.
 * cdc/cdc_envelope.h
 *
 * common/ferry_wire.h defines the format (its field names, the sequence and
 * the transaction id); docs/format.md describes it and how it differs from
 * Debezium's.
 * Values are copied from wal2json's tokens without unescaping them again,
 * and everything is appended to caller-owned ferry_buf_t buffers that the
 * caller resets per message, so building an event allocates nothing once the
 * buffers have grown.
 *
 * One cdc_env_t serves one ferry-cdc stream; one cdc_env_tx_t follows the
 * transaction being streamed.  Neither is thread-safe; the streaming thread
 * owns both.
 */
#ifndef CDC_ENVELOPE_H
#define CDC_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry_buf.h"
#include "cdc_w2j.h"
#include "ferry_err.h"
#include "ferry_wire.h"

/* How a snapshot read writes a column's text form, from the catalog type
 * (the same forms as streaming: see docs/format.md). */
typedef enum cdc_env_coltype {
    CDC_ENV_COL_TEXT = 0, /* a JSON string of the text form */
    CDC_ENV_COL_INT,      /* smallint, integer, bigint: a bare number */
    CDC_ENV_COL_BOOL      /* boolean: true or false */
} cdc_env_coltype_t;

/* One captured table, filled by the caller from the mapping.  Names are raw
 * text (not JSON-escaped).  Every pointer is borrowed and must outlive the
 * events built from it; the transaction counter keys on the address. */
typedef struct cdc_table {
    const char *schema;             /* e.g. "public" */
    const char *table;              /* e.g. "doctors" */
    const char *topic;              /* e.g. "legacy.public.doctors"; ferry's
                                       envelope does not use it */
    const char *const *columns;     /* every column, in attnum order; used to
                                       mark unchanged TOAST columns absent */
    size_t ncolumns;                /* entries in columns (0: no marking) */
    const char *const *key_columns; /* the primary key or replica identity
                                       columns; with none, wal2json's "pk" */
    size_t nkey;                    /* entries in key_columns */
} cdc_table_t;

/* The source.snapshot flag. */
typedef enum cdc_env_snapshot {
    CDC_ENV_SNAPSHOT_FALSE = 0,  /* streaming: "false" */
    CDC_ENV_SNAPSHOT_TRUE,       /* a snapshot read: "true", op "r" */
    CDC_ENV_SNAPSHOT_LAST,       /* the snapshot's last read: "last", op "r" */
    CDC_ENV_SNAPSHOT_INCREMENTAL /* a re-snapshot read while streaming:
                                    "incremental", op "r" */
} cdc_env_snapshot_t;

/* Which event of a change to build.  An UPDATE that changes the key becomes
 * two events, as in Debezium: a delete under the old key (then a tombstone)
 * and a create under the new key.  See cdc_env_key_changed(). */
typedef enum cdc_env_part {
    CDC_ENV_WHOLE = 0,         /* the change as wal2json gave it */
    CDC_ENV_KEY_CHANGE_DELETE, /* U only: op "d", before = identity */
    CDC_ENV_KEY_CHANGE_CREATE  /* U only: op "c", after = columns */
} cdc_env_part_t;

/* The position of one event in its transaction (Debezium's "transaction"
 * block), from cdc_env_tx_count(). */
typedef struct cdc_env_order {
    uint64_t total_order;           /* 1-based, over the whole transaction */
    uint64_t data_collection_order; /* 1-based, within its table */
} cdc_env_order_t;

/* Per-stream constants, preformatted once. */
typedef struct cdc_env {
    ferry_buf_t source_head; /* owned: ',"source":{"version":..,"ts_ms":' */
    ferry_buf_t source_db;   /* owned: ',"db":"<db>"' */
} cdc_env_t;

/* One table's count within a transaction. */
typedef struct cdc_env_tx_table {
    const cdc_table_t *table; /* borrowed */
    uint64_t count;           /* events of this table so far */
} cdc_env_tx_table_t;

/* The transaction being streamed: its identity and event counters.  Memory
 * grows with the number of distinct tables, never with the rows. */
typedef struct cdc_env_tx {
    uint64_t xid;               /* from BEGIN */
    uint64_t commit_lsn;        /* from BEGIN (wal2json gives the commit LSN) */
    int64_t commit_ts_ms;       /* commit time, ms since the Unix epoch */
    int64_t commit_ts_us;       /* the same in microseconds */
    uint64_t total;             /* events counted so far */
    cdc_env_tx_table_t *tables; /* owned; ntables entries in first-seen
                                   order */
    size_t ntables;             /* entries in use */
    size_t cap;                 /* entries allocated */
    size_t last;                /* index of the last table counted */
    /* Set by begin, not NUL-terminated: every event repeats them. */
    char xid_text[24];                 /* xid in decimal */
    size_t xid_len;                    /* bytes in xid_text */
    char lsn_text[24];                 /* commit_lsn in decimal */
    size_t lsn_len;                    /* bytes in lsn_text */
    char ts_text[24];                  /* commit_ts_ms in decimal */
    size_t ts_len;                     /* bytes in ts_text */
    char id_text[FERRY_WIRE_TXID_LEN]; /* the transaction id (ferry_wire) */
    size_t id_len;                     /* bytes in id_text */
} cdc_env_tx_t;

/* A change to turn into one event. */
typedef struct cdc_env_row {
    const cdc_w2j_msg_t *msg;    /* borrowed: an I, U, D or T message */
    const cdc_table_t *table;    /* borrowed: msg's table */
    cdc_env_part_t part;         /* CDC_ENV_WHOLE unless splitting a key
                                    change */
    cdc_env_snapshot_t snapshot; /* CDC_ENV_SNAPSHOT_FALSE when streaming */
    cdc_env_order_t order;       /* from cdc_env_tx_count() */
    int64_t ts_us;               /* processing time, us since the epoch */
} cdc_env_row_t;

/* Preformats the constant part of "source".  version (e.g. FERRY_VERSION),
 * name (the topic prefix) and db (the source database): borrowed raw text,
 * copied.  Returns 0 or FERRY_ENOMEM.  Free with cdc_env_close(). */
int cdc_env_init(cdc_env_t *env, const char *version, const char *name,
                 const char *db, ferry_err_t *err) FERRY_WUR;

/* Frees what cdc_env_init() allocated. */
void cdc_env_close(cdc_env_t *env);

/* Makes an empty transaction counter without allocating. */
void cdc_env_tx_init(cdc_env_tx_t *tx);

/* Frees the counter's table array. */
void cdc_env_tx_close(cdc_env_tx_t *tx);

/* Starts a transaction from wal2json's B message (borrowed): takes its xid,
 * LSN (the commit LSN) and timestamp, and zeroes the counters.  Returns 0,
 * or FERRY_EDATA when the message lacks one of them (ferry needs include-xids,
 * include-lsn and include-timestamp) or the timestamp does not parse. */
int cdc_env_tx_begin(cdc_env_tx_t *tx, const cdc_w2j_msg_t *begin,
                     ferry_err_t *err) FERRY_WUR;

/* Counts one event of table (borrowed; compared by address) and returns its
 * position in *order.  Call it once per published row or truncate event,
 * not for tombstones.  Returns 0 or FERRY_ENOMEM (a new table). */
int cdc_env_tx_count(cdc_env_tx_t *tx, const cdc_table_t *table,
                     cdc_env_order_t *order, ferry_err_t *err) FERRY_WUR;

/* Appends the key of a <prefix>.transaction event: {"id":"<xid>:<lsn>"}
 * (FERRY_WIRE_F_TXKEY_ID, ferry_wire_txid_format()). */
void cdc_env_tx_key(const cdc_env_tx_t *tx, ferry_buf_t *key);

/* Appends the BEGIN event of the transaction topic. */
void cdc_env_tx_begin_value(const cdc_env_tx_t *tx, ferry_buf_t *val);

/* Appends the END event, with the counts so far per table. */
void cdc_env_tx_end_value(const cdc_env_tx_t *tx, ferry_buf_t *val);

/* Appends the Kafka key of row: a JSON object of the key columns, from the
 * new values (I, U) or the old identity (D, the delete half of a key
 * change).  A truncate (T) has no key: nothing is appended and the caller
 * produces a null key.  Returns 0, FERRY_EDATA when a key column is missing
 * from the change, or FERRY_ENOMEM. */
int cdc_env_row_key(const cdc_env_row_t *row, ferry_buf_t *key,
                    ferry_err_t *err) FERRY_WUR;

/* Appends the key of the tombstone that follows a delete (D, or the delete
 * half of a key change): the same key as the delete's. */
int cdc_env_tombstone_key(const cdc_env_row_t *row, ferry_buf_t *key,
                          ferry_err_t *err) FERRY_WUR;

/* Appends the Debezium-shaped value of row, in tx (borrowed; begun).
 * Returns 0, FERRY_EDATA (an action that is not I/U/D/T, or a key-change
 * part of a non-UPDATE), or FERRY_ENOMEM. */
int cdc_env_row_value(const cdc_env_t *env, const cdc_env_tx_t *tx,
                      const cdc_env_row_t *row, ferry_buf_t *val,
                      ferry_err_t *err) FERRY_WUR;

/* A row read by a snapshot, to turn into an op "r" event. */
typedef struct cdc_env_read {
    const cdc_table_t *table;       /* borrowed */
    const unsigned char *col_types; /* borrowed: cdc_env_coltype_t per
                                       column; NULL: all text */
    const size_t *key_index;        /* borrowed: index in columns of each key
                                       column; NULL: no usable key */
    const char *const *values;      /* borrowed: the text form of each column
                                       of table->columns, NULL for SQL NULL */
    const int *lengths;             /* borrowed: the length of each value */
    cdc_env_snapshot_t snapshot;    /* _TRUE, _LAST or _INCREMENTAL */
    uint64_t lsn;                   /* the position the snapshot hands over at:
                                       source.lsn and sequence [lsn, 0] */
    int64_t source_ts_us;           /* when the snapshot started (us) */
    int64_t ts_us;                  /* processing time, us since the epoch */
} cdc_env_read_t;

/* Appends the Kafka key of a snapshot read: the key columns, in the same
 * forms as a streamed change's key.  Returns 0, FERRY_EDATA when a key
 * column is NULL or key_index is NULL, or FERRY_ENOMEM. */
int cdc_env_read_key(const cdc_env_read_t *r, ferry_buf_t *key,
                     ferry_err_t *err) FERRY_WUR;

/* Appends the value of a snapshot read: before null, after the row, op "r",
 * transaction null.  Any thread, as long as each uses its own buffer (env
 * is only read).  Returns 0 or FERRY_ENOMEM. */
int cdc_env_read_value(const cdc_env_t *env, const cdc_env_read_t *r,
                       ferry_buf_t *val, ferry_err_t *err) FERRY_WUR;

/* Whether an UPDATE changed the row's key: some key column's old identity
 * value differs from its new value.  false for other actions. */
bool cdc_env_key_changed(const cdc_w2j_msg_t *msg, const cdc_table_t *table);

/* Parses PostgreSQL's timestamptz text ("2024-02-29 10:34:56.789012+00",
 * offsets like "+05:30") into ms since the Unix epoch.  false if it does
 * not parse. */
bool cdc_env_parse_ts_ms(const char *s, size_t n, int64_t *ms) FERRY_WUR;

/* As cdc_env_parse_ts_ms(), in microseconds (wal2json gives up to six
 * digits of fraction; more are cut). */
bool cdc_env_parse_ts_us(const char *s, size_t n, int64_t *us) FERRY_WUR;

#endif
