/* A thread that reads the consumer and parses change events ahead of the
 * applier, so that JSON parsing overlaps with the target's work.
 * sink/sink_reader.h
 *
 * The main thread applies a batch while the target executes it; parsing
 * the next messages (jansson, a third of the sink's CPU) would otherwise
 * wait for it.  The reader polls the consumer (the only thread that does),
 * parses entity-topic messages into events and hands them to the main
 * thread through a bounded queue: when the queue is full the reader waits,
 * so memory stays bounded.  Transaction-topic messages and consumer errors
 * are passed on as they are.  Nothing else is shared: slot lookups read a
 * map that does not change after the assignment.
 */
#ifndef SINK_READER_H
#define SINK_READER_H

#include "sink_consumer.h"
#include "sink_event.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

/* One message handed to the main thread. */
typedef struct sink_item {
    int slot;                /* consumer slot, -1 when unknown */
    int64_t offset;          /* the message's offset */
    int32_t partition;       /* its partition */
    rd_kafka_resp_err_t err; /* a consumer error, or 0 */
    char *errstr;            /* owned: err's text, or NULL */
    sink_event_t *ev;        /* owned: the parsed change event, or NULL */
    char *payload;           /* owned: a transaction-topic message value */
    size_t len;              /* its length */
    char *key;               /* owned: its key, or NULL */
    size_t klen;             /* the key's length */
    bool tombstone;          /* an entity message without a value */
    bool oom;                /* the reader ran out of memory on this
                                message: stop rather than skip it */
} sink_item_t;

typedef struct sink_reader sink_reader_t;

/* Starts a reader of c (borrowed; the consumer must be assigned and must
 * outlive the reader) keeping at most cap items queued.  Returns a new
 * reader (stop with sink_reader_free()) or NULL when out of memory or the
 * thread cannot start. */
sink_reader_t *sink_reader_start(sink_consumer_t *c, size_t cap);

/* Takes the next item, waiting up to timeout_ms.  Returns a new item (free
 * with sink_item_free()) or NULL after the timeout.  Main thread only. */
sink_item_t *sink_reader_next(sink_reader_t *r, int timeout_ms);

/* Frees an item; NULL is a no-op. */
void sink_item_free(sink_item_t *it);

/* Stops the thread, frees the queued items and the reader; NULL is a
 * no-op.  Call before closing the consumer. */
void sink_reader_free(sink_reader_t *r);

#endif
