/* ferry-cdc's Kafka messages, parsed: change events and transaction events.
 * sink/sink_event.h
 *
 * common/ferry_wire.h defines the messages (their field names, the sequence
 * and the transaction id) and docs/format.md describes them; this module
 * reads them with ferry_wire's names and decoders.  Change events are
 * parsed with the one JSON tokenizer (common/ferry_json.h), without a
 * tree: every value is kept exactly as sent (a number with its digits,
 * every other type a string of PostgreSQL's text), unescaped once.  A
 * message that is not JSON (invalid UTF-8, \u0000 and unpaired surrogates
 * included) or does not have the expected shape is FERRY_EDATA with a
 * reason; the caller sends it to the dead-letter path.  Transaction
 * events, one per transaction, are read with jansson.  Pure functions: any
 * thread may call them on its own objects.
 */
#ifndef SINK_EVENT_H
#define SINK_EVENT_H

#include "ferry_err.h"
#include "ferry_json.h"

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

/* One member of a JSON object of an event: a column of a row image or of
 * the message key, or (in absent) a column name alone. */
typedef struct sink_field {
    const char *name;       /* borrowed from the event: unescaped,
                               NUL-terminated */
    const char *text;       /* borrowed from the event, NUL-terminated: the
                               value as PostgreSQL text (a string unescaped,
                               a number exactly as written, true "t", false
                               "f"), NULL for null; an object or array as its
                               JSON text (not a column value) */
    uint32_t name_len;      /* bytes of name */
    uint32_t len;           /* bytes of text */
    ferry_json_kind_t kind; /* the value's JSON type */
} sink_field_t;

/* A JSON object of the event (before, after, the key) or the absent
 * list; the fields are in the order of the message. */
typedef struct sink_image {
    const sink_field_t *f; /* borrowed from the event; n entries */
    size_t n;              /* number of fields */
    bool present;          /* the member was there and not null */
} sink_image_t;

/* The field of img named name (borrowed, NUL-terminated), or NULL.  hint
 * is the position to try first (where the name usually is).  Borrowed from
 * the event. */
const sink_field_t *sink_image_get(const sink_image_t *img, const char *name,
                                   size_t hint);

/* One change event (op c, u, d, t or r), or a malformed message (op 'X').
 * Parsed in one pass without a JSON tree: every name and value is
 * unescaped once into the event's own text, which the images point into. */
typedef struct sink_event {
    char op;              /* 'c', 'u', 'd', 't', 'r', or 'X' (malformed) */
    sink_image_t key;     /* the message key's columns; present false without
                             a key, or when the key is not JSON */
    sink_image_t before;  /* the old row, present false when null/missing */
    sink_image_t after;   /* the new row, present false when null/missing */
    sink_image_t absent;  /* names of the unchanged TOASTed columns */
    const char *schema;   /* borrowed from the event: source.schema */
    const char *table;    /* borrowed from the event: source.table */
    sink_pair_t pair;     /* from source.sequence */
    int64_t ts_ms;        /* source.ts_ms: the commit time */
    const char *txid;     /* borrowed from the event: transaction.id, or NULL */
    long total_order;     /* transaction.total_order, 0 without one */
    sink_pos_t pos;       /* where the message came from */
    char *raw;            /* owned (in one block with the text): the message
                             value as text (for the errors table and dead
                             letters) */
    char *raw_key;        /* the message key as text, or NULL; in raw's
                             block */
    char *reason;         /* owned: op 'X': why the message is malformed */
    sink_field_t *fields; /* owned: every field of the images */
} sink_event_t;

/* Parses a change event from the message key (klen bytes, may be NULL) and
 * value (vlen bytes); both borrowed, copied into the event.  On success
 * returns 0 and *out is a new event (free with sink_event_free()).  A
 * malformed message still gives a new event, with op 'X' and reason set,
 * and returns FERRY_EDATA.  Returns FERRY_ENOMEM (and *out NULL, or an
 * event to free) when out of memory. */
int sink_event_parse(const void *key, size_t klen, const void *val, size_t vlen,
                     sink_pos_t pos, sink_event_t **out) FERRY_WUR;

/* A malformed event (op 'X') that keeps the message's key and value
 * (copied, as sink_event_parse()) and says why (reason, copied): for a
 * message that is not a change event at all (a transaction topic's
 * message that does not parse).  Returns 0, or FERRY_ENOMEM (*out NULL). */
int sink_event_malformed(const void *key, size_t klen, const void *val,
                         size_t vlen, sink_pos_t pos, const char *reason,
                         sink_event_t **out) FERRY_WUR;

/* Frees the event; NULL is a no-op. */
void sink_event_free(sink_event_t *ev);

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
