/* The wire format between ferry-cdc and ferry-sink: every field name of
 * every Kafka message ferry publishes, and the encoders and decoders of the
 * pieces both sides share.
 * common/ferry_wire.h
 *
 * This header defines the format; docs/format.md describes it.  ferry-cdc
 * writes its messages with these names and ferry-sink reads them with the
 * same names (and writes its dead letters with them), so renaming a field is
 * one edit here (and the golden files under tests/unit/cdc/golden change
 * with it).
 *
 * Field names are string-literal macros, so that the writer's hot path can
 * paste them into the JSON fragments it appends:
 *
 *     ferry_buf_append_lit(b, "{\"" FERRY_WIRE_F_BEFORE "\":null");
 *
 * and a reader passes them to json_object_get().  Each message kind has its
 * own names, even where two kinds spell a field alike ("ts_ms", "lsn", "id"),
 * because they are different fields: renaming one must not rename another.
 *
 * Encoders append to a caller-owned ferry_buf_t and never return a status:
 * the caller checks ferry_buf_status() once the message is built.  Decoders
 * read (pointer, length) text, which need not be NUL-terminated; those of
 * the shared pieces (sequence, transaction id, topic) allocate nothing.
 * Every function is pure: any thread may call it on its own buffers.
 */
#ifndef FERRY_WIRE_H
#define FERRY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry_buf.h"
#include "ferry_err.h"

/* ---- Topics -------------------------------------------------------------
 * Change events go to <prefix>.<schema>.<table> (or the entity's own topic);
 * everything else to <prefix>.<suffix>. */

typedef enum ferry_wire_topic {
    FERRY_WIRE_TOPIC_TRANSACTION = 0, /* BEGIN and END events */
    FERRY_WIRE_TOPIC_HEARTBEAT,       /* ferry-cdc's heartbeats */
    FERRY_WIRE_TOPIC_SNAPSHOT,        /* snapshot state records */
    FERRY_WIRE_TOPIC_DLQ,             /* ferry-sink's dead letters */
    FERRY_WIRE_TOPIC_SCHEMA           /* schema-change records */
} ferry_wire_topic_t;

#define FERRY_WIRE_T_TRANSACTION "transaction"
#define FERRY_WIRE_T_HEARTBEAT "heartbeat"
#define FERRY_WIRE_T_SNAPSHOT "snapshot"
#define FERRY_WIRE_T_DLQ "dlq"
#define FERRY_WIRE_T_SCHEMA "schema"

/* Returns the suffix of kind ("transaction"; static), or NULL for a value
 * outside the enum. */
const char *ferry_wire_topic_suffix(ferry_wire_topic_t kind);

/* Appends the topic name "<prefix>.<suffix>"; prefix is borrowed raw text
 * (the mapping's kafka.topic_prefix). */
void ferry_wire_topic_append(ferry_buf_t *b, const char *prefix,
                             ferry_wire_topic_t kind);

/* Whether topic[0..n) (borrowed) is "<prefix>.<suffix>" for one of the
 * kinds above, prefix borrowed and NUL-terminated; sets *kind when it is.
 * An entity topic is none of them. */
bool ferry_wire_topic_parse(const char *topic, size_t n, const char *prefix,
                            ferry_wire_topic_t *kind) FERRY_WUR;

/* ---- Change event: the value on an entity topic --------------------------
 * A tombstone is the same key with a null Kafka value (no bytes at all):
 * it follows each delete so that log compaction drops the row.  "absent"
 * is there only on an update that left columns out; "transaction" is null
 * for a snapshot read. */

#define FERRY_WIRE_F_BEFORE "before"           /* old image or null */
#define FERRY_WIRE_F_AFTER "after"             /* new image or null */
#define FERRY_WIRE_F_ABSENT "absent"           /* unsent TOAST columns */
#define FERRY_WIRE_F_SOURCE "source"           /* the block below */
#define FERRY_WIRE_F_OP "op"                   /* one of the ops below */
#define FERRY_WIRE_F_TS_MS "ts_ms"             /* built at, wall clock ms */
#define FERRY_WIRE_F_TS_US "ts_us"             /* the same in microseconds */
#define FERRY_WIRE_F_TS_NS "ts_ns"             /* ... and in nanoseconds */
#define FERRY_WIRE_F_TRANSACTION "transaction" /* the block below or null */

/* The source block. */
#define FERRY_WIRE_F_SRC_VERSION "version"     /* ferry's version */
#define FERRY_WIRE_F_SRC_CONNECTOR "connector" /* FERRY_WIRE_V_CONNECTOR */
#define FERRY_WIRE_F_SRC_NAME "name"           /* the topic prefix */
#define FERRY_WIRE_F_SRC_TS_MS "ts_ms"         /* commit time, ms */
#define FERRY_WIRE_F_SRC_TS_US "ts_us"         /* the same in microseconds */
#define FERRY_WIRE_F_SRC_TS_NS "ts_ns"         /* ... and in nanoseconds */
#define FERRY_WIRE_F_SRC_SNAPSHOT "snapshot"   /* FERRY_WIRE_V_SNAPSHOT_* */
#define FERRY_WIRE_F_SRC_DB "db"               /* the source database */
#define FERRY_WIRE_F_SRC_SEQUENCE "sequence"   /* ferry_wire_seq_append() */
#define FERRY_WIRE_F_SRC_SCHEMA "schema"       /* the table's schema */
#define FERRY_WIRE_F_SRC_TABLE "table"         /* the table's name */
#define FERRY_WIRE_F_SRC_TXID "txId"           /* xid, null in a snapshot */
#define FERRY_WIRE_F_SRC_LSN "lsn"             /* change LSN, an integer */
#define FERRY_WIRE_F_SRC_XMIN "xmin"           /* always null */

#define FERRY_WIRE_V_CONNECTOR "ferry"
#define FERRY_WIRE_V_SNAPSHOT_FALSE "false" /* streamed */
#define FERRY_WIRE_V_SNAPSHOT_TRUE "true"   /* a snapshot read */
#define FERRY_WIRE_V_SNAPSHOT_LAST "last"   /* the snapshot's last read */
#define FERRY_WIRE_V_SNAPSHOT_INCREMENTAL                                      \
    "incremental" /* a table's re-snapshot read while streaming */

/* The transaction block of a change event. */
#define FERRY_WIRE_F_TXN_ID "id" /* ferry_wire_txid_append() */
#define FERRY_WIRE_F_TXN_TOTAL_ORDER "total_order"
#define FERRY_WIRE_F_TXN_DATA_COLLECTION_ORDER "data_collection_order"

/* The op letters. */
#define FERRY_WIRE_OP_CREATE 'c'
#define FERRY_WIRE_OP_UPDATE 'u'
#define FERRY_WIRE_OP_DELETE 'd'
#define FERRY_WIRE_OP_TRUNCATE 't'
#define FERRY_WIRE_OP_READ 'r' /* a snapshot read */

/* Whether c is one of the op letters above. */
static inline bool
ferry_wire_op_known(char c)
{
    switch (c) {
    case FERRY_WIRE_OP_CREATE:
    case FERRY_WIRE_OP_UPDATE:
    case FERRY_WIRE_OP_DELETE:
    case FERRY_WIRE_OP_TRUNCATE:
    case FERRY_WIRE_OP_READ:
        return true;
    default:
        return false;
    }
}

/* ---- source.sequence ----------------------------------------------------
 * A JSON string holding the JSON array ["<commit LSN>","<change LSN>"], both
 * decimal: "sequence":"[\"22180848\",\"22180296\"]".  The pair orders events
 * across transactions and restarts. */

/* Appends the sequence as it appears in a change event: the quoted JSON
 * string, escapes included. */
void ferry_wire_seq_append(ferry_buf_t *b, uint64_t commit, uint64_t change);

/* The same from the decimal digits commit[0..clen) and change[0..chlen)
 * (borrowed; what ferry_buf_u64_digits() writes), for a writer that formats
 * a transaction's commit LSN once for all its events. */
void ferry_wire_seq_append_digits(ferry_buf_t *b, const char *commit,
                                  size_t clen, const char *change,
                                  size_t chlen);

/* Parses the value of the sequence string s[0..n) (borrowed; the JSON
 * string already decoded, as jansson's json_string_value() gives it:
 * ["1","2"]) into *commit and *change.  JSON blanks between the tokens are
 * allowed; each number is 1 to 20 decimal digits within 64 bits.  Returns
 * false, leaving both alone, for anything else. */
bool ferry_wire_seq_decode(const char *s, size_t n, uint64_t *commit,
                           uint64_t *change) FERRY_WUR;

/* ---- The transaction id ---------------------------------------------------
 * "<xid>:<commit LSN>", both decimal: transaction.id of a change event and
 * the id of the transaction topic's events and keys. */

/* Bytes ferry_wire_txid_format() needs at most: 20 + ':' + 20 + NUL. */
#define FERRY_WIRE_TXID_LEN 42

/* Writes the id into out (caller-owned), NUL-terminated, and returns its
 * length without the NUL. */
size_t ferry_wire_txid_format(uint64_t xid, uint64_t commit,
                              char out[FERRY_WIRE_TXID_LEN]);

/* Appends the id, without quotes (it needs no escaping). */
void ferry_wire_txid_append(ferry_buf_t *b, uint64_t xid, uint64_t commit);

/* Parses the id s[0..n) (borrowed) into *xid and *commit: exactly two
 * numbers of 1 to 20 decimal digits within 64 bits around one ':'.
 * Returns false, leaving both alone, for anything else. */
bool ferry_wire_txid_decode(const char *s, size_t n, uint64_t *xid,
                            uint64_t *commit) FERRY_WUR;

/* ---- Transaction topic ----------------------------------------------------
 * Key {"id":"<txid>"}; value a BEGIN or an END event. */

#define FERRY_WIRE_F_TXKEY_ID "id"

/* event_count and data_collections are null in a BEGIN event. */
#define FERRY_WIRE_F_TXEV_STATUS "status"           /* FERRY_WIRE_V_TX_* */
#define FERRY_WIRE_F_TXEV_ID "id"                   /* the transaction id */
#define FERRY_WIRE_F_TXEV_TS_MS "ts_ms"             /* commit time, ms */
#define FERRY_WIRE_F_TXEV_EVENT_COUNT "event_count" /* change events */
#define FERRY_WIRE_F_TXEV_DATA_COLLECTIONS "data_collections" /* per table: */
#define FERRY_WIRE_F_TXEV_DC_NAME "data_collection"    /* "schema.table" */
#define FERRY_WIRE_F_TXEV_DC_EVENT_COUNT "event_count" /* its events */

#define FERRY_WIRE_V_TX_BEGIN "BEGIN"
#define FERRY_WIRE_V_TX_END "END"

/* ---- Heartbeat topic ------------------------------------------------------
 * Key {"serverName":"<prefix>"}; value {"ts_ms":<ms>,"lsn":"X/X"}, the LSN
 * ferry-cdc can confirm. */

#define FERRY_WIRE_F_HBKEY_SERVER_NAME "serverName"
#define FERRY_WIRE_F_HB_TS_MS "ts_ms" /* wall clock ms */
#define FERRY_WIRE_F_HB_LSN "lsn"     /* "X/X" */

/* Appends the heartbeat key for prefix (borrowed raw text). */
void ferry_wire_heartbeat_key(ferry_buf_t *b, const char *prefix);

/* Appends the heartbeat value. */
void ferry_wire_heartbeat_value(ferry_buf_t *b, int64_t ts_ms, uint64_t lsn);

/* ---- Snapshot topic -------------------------------------------------------
 * Two kinds of record, all on partition 0 (docs/snapshot.md):
 *
 * - the slot's own: key {"slot":"<slot>"}; value
 *     {"slot":..,"status":"started"|"complete","lsn":"X/X","ts_ms":<ms>}
 *   where the lsn of "complete" is the snapshot rows' source.sequence[0];
 * - a re-snapshot of one table while streaming: key
 *     {"slot":..,"schema":..,"table":..}; value
 *     {"slot":..,"status":"table_started"|"table_complete","schema":..,
 *      "table":..,"lsn":"X/X","ts_ms":<ms>}
 *   where the lsn of "table_started" is its first chunk's watermark (the
 *   lowest pair of its rows) and that of "table_complete" its last chunk's.
 *
 * The two keys differ, so compaction never lets a table's record replace
 * the slot's, and a reader that knows only the slot's statuses refuses the
 * table records instead of taking them for the slot's. */

#define FERRY_WIRE_F_SNAPKEY_SLOT "slot"
#define FERRY_WIRE_F_SNAPKEY_SCHEMA "schema" /* table records only */
#define FERRY_WIRE_F_SNAPKEY_TABLE "table"   /* table records only */
#define FERRY_WIRE_F_SNAP_SLOT "slot"
#define FERRY_WIRE_F_SNAP_STATUS "status" /* FERRY_WIRE_V_SNAP_* */
#define FERRY_WIRE_F_SNAP_SCHEMA "schema" /* table records only */
#define FERRY_WIRE_F_SNAP_TABLE "table"   /* table records only */
#define FERRY_WIRE_F_SNAP_LSN "lsn"       /* the rows' sequence[0], "X/X" */
#define FERRY_WIRE_F_SNAP_TS_MS "ts_ms"   /* wall clock ms */

#define FERRY_WIRE_V_SNAP_STARTED "started"
#define FERRY_WIRE_V_SNAP_COMPLETE "complete"
#define FERRY_WIRE_V_SNAP_TABLE_STARTED "table_started"
#define FERRY_WIRE_V_SNAP_TABLE_COMPLETE "table_complete"

typedef enum ferry_wire_snap_status {
    FERRY_WIRE_SNAP_STARTED = 1,   /* a snapshot of the slot began */
    FERRY_WIRE_SNAP_COMPLETE,      /* every snapshot row was acknowledged */
    FERRY_WIRE_SNAP_TABLE_STARTED, /* a table's re-snapshot began */
    FERRY_WIRE_SNAP_TABLE_COMPLETE /* its last chunk was acknowledged */
} ferry_wire_snap_status_t;

/* Whether status is one of a table's re-snapshot records. */
static inline bool
ferry_wire_snap_is_table(ferry_wire_snap_status_t status)
{
    return status == FERRY_WIRE_SNAP_TABLE_STARTED ||
           status == FERRY_WIRE_SNAP_TABLE_COMPLETE;
}

/* One snapshot record.  To encode, the caller fills it (strings borrowed;
 * schema and table only for the table statuses).  A decoded one owns its
 * text: release it with ferry_wire_snaprec_clear(). */
typedef struct ferry_wire_snaprec {
    const char *slot;                /* the replication slot, raw text */
    ferry_wire_snap_status_t status; /* what happened */
    const char *schema;              /* table records: the table's schema;
                                        NULL for the slot's records */
    const char *table;               /* table records: its name; else NULL */
    uint64_t lsn;                    /* the rows' sequence[0], 0 if unknown */
    int64_t ts_ms;                   /* when, wall clock ms */
    char *mem;                       /* decoded: owns the strings; else NULL */
} ferry_wire_snaprec_t;

/* Appends the key of slot's own records (slot borrowed raw text). */
void ferry_wire_snaprec_key(ferry_buf_t *b, const char *slot);

/* Appends the key of the re-snapshot records of table schema.table (all
 * borrowed raw text). */
void ferry_wire_snaprec_table_key(ferry_buf_t *b, const char *slot,
                                  const char *schema, const char *table);

/* Appends the value of rec (borrowed). */
void ferry_wire_snaprec_value(ferry_buf_t *b, const ferry_wire_snaprec_t *rec);

/* Parses a record value v[0..n) (borrowed) into *out (caller-allocated;
 * on success it owns its strings, free with ferry_wire_snaprec_clear()).
 * A table status needs a non-empty schema and table.  Returns 0,
 * FERRY_EDATA (not such a record, err says why) or FERRY_ENOMEM; on failure
 * *out holds nothing to free. */
int ferry_wire_snaprec_decode(const void *v, size_t n,
                              ferry_wire_snaprec_t *out,
                              ferry_err_t *err) FERRY_WUR;

/* Frees what a decoded record owns and zeroes it. */
void ferry_wire_snaprec_clear(ferry_wire_snaprec_t *rec);

/* ---- Dead-letter topic -----------------------------------------------------
 * ferry-sink's: one message per message it could not parse, row the target
 * rejected, or row whose parent is missing under on_missing: error
 * (docs/sink.md, Bad data).  Key: the failed message's key (none when it
 * had none); value
 *   {"reason":..,"entity":..,"topic":..,"partition":..,"offset":..,
 *    "key":..,"value":..}
 * A parked row taken out again no longer knows its topic: topic is null and
 * partition -1, offset still the one it was read at. */

#define FERRY_WIRE_F_DLQ_REASON "reason"       /* why, as text */
#define FERRY_WIRE_F_DLQ_ENTITY "entity"       /* the entity, or null */
#define FERRY_WIRE_F_DLQ_TOPIC "topic"         /* read from, or null */
#define FERRY_WIRE_F_DLQ_PARTITION "partition" /* its partition, or -1 */
#define FERRY_WIRE_F_DLQ_OFFSET "offset"       /* its offset */
#define FERRY_WIRE_F_DLQ_KEY "key"             /* its key as text, or null */
#define FERRY_WIRE_F_DLQ_VALUE "value"         /* its value as text, or null */

/* ---- Schema-change topic ---------------------------------------------------
 * One record on <prefix>.schema per change of a captured table's columns,
 * published by ferry-cdc before the first change event that shows it.
 * Key {"schema":..,"table":..}; value
 *   {"schema":..,"table":..,"lsn":"X/X","ts_ms":<ms>,
 *    "old_columns":[{"name":..,"type":..},..],"new_columns":[..]}
 * with the columns in attnum order and type as format_type() prints it. */

#define FERRY_WIRE_F_SCHKEY_SCHEMA "schema"
#define FERRY_WIRE_F_SCHKEY_TABLE "table"
#define FERRY_WIRE_F_SCH_SCHEMA "schema"           /* the table's schema */
#define FERRY_WIRE_F_SCH_TABLE "table"             /* the table's name */
#define FERRY_WIRE_F_SCH_LSN "lsn"                 /* where, "X/X" */
#define FERRY_WIRE_F_SCH_TS_MS "ts_ms"             /* when, wall clock ms */
#define FERRY_WIRE_F_SCH_OLD_COLUMNS "old_columns" /* before the change */
#define FERRY_WIRE_F_SCH_NEW_COLUMNS "new_columns" /* after the change */
#define FERRY_WIRE_F_SCH_COL_NAME "name"           /* column name */
#define FERRY_WIRE_F_SCH_COL_TYPE "type"           /* its type */

/* One column of a schema-change record. */
typedef struct ferry_wire_column {
    const char *name; /* raw text, not empty */
    const char *type; /* e.g. "character varying(40)" */
} ferry_wire_column_t;

/* One schema-change record.  To encode, the caller fills it (every pointer
 * borrowed).  A decoded one owns everything through mem: release it with
 * ferry_wire_schema_change_clear(). */
typedef struct ferry_wire_schema_change {
    const char *schema;                     /* raw text */
    const char *table;                      /* raw text */
    uint64_t lsn;                           /* where the change was seen */
    int64_t ts_ms;                          /* when, wall clock ms */
    const ferry_wire_column_t *old_columns; /* n_old entries */
    size_t n_old;                           /* 0 for a table new to ferry */
    const ferry_wire_column_t *new_columns; /* n_new entries */
    size_t n_new;                           /* columns after the change */
    void *mem;                              /* decoded: owns all of the
                                               above; else NULL */
} ferry_wire_schema_change_t;

/* Appends the key of a record of table schema.table (borrowed raw text). */
void ferry_wire_schema_change_key(ferry_buf_t *b, const char *schema,
                                  const char *table);

/* Appends the value of sc (borrowed). */
void ferry_wire_schema_change_value(ferry_buf_t *b,
                                    const ferry_wire_schema_change_t *sc);

/* Parses a record value v[0..n) (borrowed) into *out (caller-allocated;
 * on success it owns its text and arrays, free with
 * ferry_wire_schema_change_clear()).  Every field is required; names,
 * types, schema and table are non-empty strings without NUL.  Returns 0,
 * FERRY_EDATA (err says why) or FERRY_ENOMEM; on failure *out holds
 * nothing to free. */
int ferry_wire_schema_change_decode(const void *v, size_t n,
                                    ferry_wire_schema_change_t *out,
                                    ferry_err_t *err) FERRY_WUR;

/* Frees what a decoded record owns and zeroes it. */
void ferry_wire_schema_change_clear(ferry_wire_schema_change_t *sc);

#endif
