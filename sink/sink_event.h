/* ferry-cdc's Kafka messages, parsed: change events and transaction events.
 * sink/sink_event.h
 *
 * common/ferry_wire.h defines the messages (their field names, the sequence
 * and the transaction id) and docs/format.md describes them; this module
 * reads them with ferry_wire's names and decoders.  Parsing keeps every
 * value exact: integers are bare JSON numbers that fit in a long long
 * (bigint), every other type is a string of PostgreSQL's text, so jansson's
 * default decoding loses nothing.  A message that is not JSON or does not
 * have the expected shape is FERRY_EDATA with a reason; the caller sends it
 * to the dead-letter path.  Pure functions: any thread may call them on its
 * own objects.
 */
#ifndef SINK_EVENT_H
#define SINK_EVENT_H

#include "ferry_err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a message came from: a partition slot of the consumer and an
 * offset.  slot -1 means "not from Kafka" (a parked row drained again). */
typedef struct sink_pos {
    int slot;       /* index of (topic, partition) in the consumer */
    int64_t offset; /* the message's offset */
} sink_pos_t;

/* The ordering pair of docs/format.md: (commit LSN, change LSN). */
typedef struct sink_pair {
    uint64_t commit; /* commit LSN of the event's transaction */
    uint64_t change; /* LSN of the change itself */
} sink_pair_t;

/* Compares two pairs: <0, 0 or >0. */
int sink_pair_cmp(sink_pair_t a, sink_pair_t b);

/* One change event (op c, u, d, t or r), or a malformed message (op 'X'). */
typedef struct sink_event {
    json_t *value;      /* owned: the parsed value, NULL for op 'X' */
    json_t *key;        /* owned: the parsed key, or NULL */
    char op;            /* 'c', 'u', 'd', 't', 'r', or 'X' (malformed) */
    json_t *before;     /* borrowed from value: object or NULL */
    json_t *after;      /* borrowed from value: object or NULL */
    json_t *absent;     /* borrowed from value: array or NULL */
    const char *schema; /* borrowed from value: source.schema */
    const char *table;  /* borrowed from value: source.table */
    sink_pair_t pair;   /* from source.sequence */
    int64_t ts_ms;      /* source.ts_ms: the commit time */
    const char *txid;   /* borrowed: transaction.id, or NULL */
    long total_order;   /* transaction.total_order, 0 without one */
    sink_pos_t pos;     /* where the message came from */
    char *raw;          /* owned: the message value as text (for the
                           errors table and dead letters) */
    char *raw_key;      /* owned: the message key as text, or NULL */
    char *reason;       /* owned: op 'X': why the message is malformed */
} sink_event_t;

/* Parses a change event from the message key (klen bytes, may be NULL) and
 * value (vlen bytes, borrowed).  On success returns 0 and *out is a new
 * event (free with sink_event_free()).  A malformed message still gives a
 * new event, with op 'X' and reason set, and returns FERRY_EDATA.  Returns
 * FERRY_ENOMEM (and *out NULL) when out of memory. */
int sink_event_parse(const void *key, size_t klen, const void *val, size_t vlen,
                     sink_pos_t pos, sink_event_t **out) FERRY_WUR;

/* Frees the event; NULL is a no-op. */
void sink_event_free(sink_event_t *ev);

/* The text form of a column value (borrowed JSON) into buf (caller-owned,
 * at least 64 bytes for numbers): strings as they are (borrowed from v),
 * integers in decimal, booleans as "t"/"f".  Returns NULL for JSON null,
 * and sets *ok false for objects and arrays (not a column value). */
const char *sink_event_text(const json_t *v, char *buf, size_t buflen,
                            bool *ok);

/* A BEGIN or END event of the transaction topic. */
typedef struct sink_txmsg {
    bool end;            /* false: BEGIN, true: END */
    char *id;            /* owned: "<xid>:<commit lsn>" */
    uint64_t commit_lsn; /* from the id */
    long event_count;    /* END: total change events, else -1 */
    char **collections;  /* owned: END: "schema.table" of each collection */
    long *counts;        /* owned: END: events of each collection */
    size_t n;            /* number of collections */
} sink_txmsg_t;

/* Parses a transaction topic message (vlen bytes at val, borrowed) into
 * *out (caller-allocated; release with sink_txmsg_clear()).  Returns 0,
 * FERRY_EDATA with err saying why, or FERRY_ENOMEM. */
int sink_txmsg_parse(const void *val, size_t vlen, sink_txmsg_t *out,
                     ferry_err_t *err) FERRY_WUR;

/* Frees what the message owns. */
void sink_txmsg_clear(sink_txmsg_t *m);

/* Parses the commit LSN out of a transaction id "<xid>:<lsn>" (id
 * borrowed, NUL-terminated; ferry_wire_txid_decode()); false when the id
 * has another shape. */
bool sink_txid_commit(const char *id, uint64_t *out);

#endif
