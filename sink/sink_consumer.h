/* The Kafka side of ferry-sink: a consumer with a manual assignment of
 * every partition of the entity topics and the transaction topic, started
 * at the offsets stored in the target, and a producer for dead letters.
 * sink/sink_consumer.h
 *
 * The ordered mode uses rd_kafka_assign(), never subscribe(): positions live
 * in <state_schema>.offsets, written in the same target transaction as the
 * rows, so Kafka's own committed offsets are never used.  Not thread-safe.
 */
#ifndef SINK_CONSUMER_H
#define SINK_CONSUMER_H

#include "map_config.h"
#include "sink_util.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* One assigned partition. */
typedef struct sink_slot {
    const char *topic; /* borrowed from the consumer */
    int32_t partition; /* the partition */
    bool is_tx;        /* true for the transaction topic */
    int64_t next;      /* next offset to read */
    int64_t end;       /* high watermark when the sink started */
    int64_t stored;    /* offset last stored in the target, or -1 */
} sink_slot_t;

typedef struct sink_consumer {
    rd_kafka_t *rk;      /* owned: the consumer */
    rd_kafka_t *dlq;     /* owned: the dead-letter producer */
    char *dlq_topic;     /* owned: <prefix>.dlq */
    char **topics;       /* owned: distinct topic names */
    size_t n_topics;     /* number of topics */
    sink_slot_t *slots;  /* owned: assigned partitions */
    size_t n_slots;      /* number of slots */
    sink_map_t *slot_of; /* "topic\x1fpartition" -> slot index + 1 */
} sink_consumer_t;

/* Creates the consumer and the dead-letter producer for cfg (borrowed)
 * into *c (caller-allocated; release with sink_consumer_close() whatever
 * the result).  Returns 0, FERRY_ECONFIG or FERRY_ENOMEM, with err set. */
int sink_consumer_open(sink_consumer_t *c, const map_config_t *cfg,
                       ferry_err_t *err) FERRY_WUR;

/* Finds every partition of the topics, checks the stored offsets (map
 * "topic\x1fpartition" -> int64_t* offset, borrowed, may be empty) against
 * what the broker still holds, and assigns them.  Returns 0,
 * FERRY_ETRANSIENT (broker unreachable), or FERRY_EFATAL when the broker no
 * longer holds an offset the sink needs, with err set. */
int sink_consumer_assign(sink_consumer_t *c, const sink_map_t *stored,
                         ferry_err_t *err) FERRY_WUR;

/* Seeks every slot back to the offset last stored in the target (or the
 * beginning when none was stored), so that what was read since is read
 * again.  Returns 0 or
 * FERRY_ETRANSIENT / FERRY_ENOMEM with err set. */
int sink_consumer_rewind(sink_consumer_t *c, ferry_err_t *err) FERRY_WUR;

/* The slot index of a message's topic and partition, or -1. */
int sink_consumer_slot(const sink_consumer_t *c, const char *topic,
                       int32_t partition);

/* Frees everything; safe on a partly opened consumer. */
void sink_consumer_close(sink_consumer_t *c);

#endif
