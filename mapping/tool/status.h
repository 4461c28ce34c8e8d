/* ferry-map status: what it reads of Kafka, and the pieces the command
 * puts together.
 * mapping/tool/status.h
 *
 * status_kafka.c asks the brokers about the pipeline's topics: which
 * exist, their partitions and watermarks, and the commit time of the
 * first message a partition has not had applied yet (the oldest change
 * waiting).  It never joins a consumer group and never commits an offset:
 * the sink keeps its positions in the target.  Single-threaded.
 */
#ifndef FERRY_MAP_STATUS_H
#define FERRY_MAP_STATUS_H

#include "ferry_err.h"
#include "map_config.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* One partition of a topic. */
typedef struct status_part {
    int32_t partition;
    int64_t low, high; /* watermarks: first held and next offsets */
    int64_t stored;    /* the sink's position (next offset), -1 when none */
    int64_t wait_ts;   /* commit time (ms) of the first message not yet
                          applied; -1 when none waits or unknown */
} status_part_t;

/* One topic of the pipeline. */
typedef struct status_topic {
    char *name;           /* owned */
    const char *kind;     /* static: "entity", "transaction", "snapshot" */
    bool exists;          /* the brokers know it */
    bool counts;          /* the sink reads it (its lag counts) */
    status_part_t *parts; /* owned */
    size_t n_parts;
} status_topic_t;

/* Opens a client for cfg's brokers (kafka.properties passed as given);
 * never creates a topic.  Returns a new client (rd_kafka_destroy()) or
 * NULL with err set. */
rd_kafka_t *status_kafka_open(const map_config_t *cfg,
                              ferry_err_t *err) FERRY_WUR;

/* Fills exists, parts and their watermarks of the n topics (whose names
 * are set).  Waits up to timeout_ms per request.  Returns 0 or
 * FERRY_ETRANSIENT (the brokers do not answer) or FERRY_ENOMEM with err
 * set. */
int status_kafka_topics(rd_kafka_t *rk, status_topic_t *topics, size_t n,
                        int timeout_ms, ferry_err_t *err) FERRY_WUR;

/* For every partition of a counted topic whose stored position is below
 * its high watermark, reads the first message not yet applied and sets
 * wait_ts to its commit time (source.ts_ms of a change, ts_ms of a
 * transaction event).  Waits up to timeout_ms in all.  Returns 0 or
 * FERRY_ETRANSIENT / FERRY_ENOMEM with err set; partitions it could not
 * read keep wait_ts -1. */
int status_kafka_wait_times(rd_kafka_t *rk, status_topic_t *topics, size_t n,
                            int timeout_ms, ferry_err_t *err) FERRY_WUR;

/* Calls fn(arg, value, len) for each message of partition 0 of topic
 * from offset from up to high (at most timeout_ms in all).  Returns 0 or
 * FERRY_ETRANSIENT with err set. */
int status_kafka_read(rd_kafka_t *rk, const char *topic, int64_t from,
                      int64_t high, int timeout_ms,
                      void (*fn)(void *arg, const void *value, size_t len),
                      void *arg, ferry_err_t *err) FERRY_WUR;

#endif
