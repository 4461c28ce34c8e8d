/* ferry-cdc's Kafka producer: idempotent, acks=all, and every delivery
 * report fed to the LSN window.
 * cdc/cdc_producer.h
 *
 * Settings are applied in this order, later ones winning: ferry's defaults
 * (enable.idempotence=true, acks=all, partitioner=murmur2_random so that
 * keys land where Java clients put them, message.timeout.ms=300000: a
 * message Kafka has not taken within 5 minutes stops ferry-cdc with an error
 * instead of being dropped, linger.ms=20), then
 * bootstrap.servers from the mapping, then kafka.properties from the mapping
 * as they are (TLS and SASL settings pass through unchanged).  Settings that
 * would allow loss (acks other than all, idempotence off) are refused.
 *
 * Single-threaded, with one exception: produce and poll from one thread;
 * delivery reports run inside cdc_producer_poll() on that thread.  Only
 * cdc_producer_send_untracked() and cdc_producer_untracked_inflight() may be
 * called from other threads (the snapshot readers): librdkafka's produce is
 * thread-safe and those messages bypass the LSN window, which is not.
 */
#ifndef CDC_PRODUCER_H
#define CDC_PRODUCER_H

#include "cdc_lsnwin.h"
#include "ferry_err.h"
#include "map_config.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdc_producer cdc_producer_t;

/* Creates the producer for cfg (borrowed during the call).  win (borrowed,
 * must outlive the producer) receives every acknowledgement.  Returns a new
 * producer (cdc_producer_destroy) or NULL with err set. */
cdc_producer_t *cdc_producer_new(const map_config_t *cfg, cdc_lsnwin_t *win,
                                 ferry_err_t *err) FERRY_WUR;

/* Flushes for at most timeout_ms and destroys the producer. */
void cdc_producer_destroy(cdc_producer_t *p, int timeout_ms);

/* Returns a topic handle (borrowed from the producer) for name. */
rd_kafka_topic_t *cdc_producer_topic(cdc_producer_t *p, const char *name,
                                     ferry_err_t *err);

/* Produces one message (key and value are copied; value NULL makes a
 * tombstone) and registers it in the window.  The caller must have checked
 * that the window is not full.  Returns 0, FERRY_ETRANSIENT when
 * librdkafka's queue is full (poll and call again), or FERRY_EFATAL. */
int cdc_producer_send(cdc_producer_t *p, rd_kafka_topic_t *topic,
                      const void *key, size_t klen, const void *value,
                      size_t vlen, ferry_err_t *err) FERRY_WUR;

/* Produces one message to partition (RD_KAFKA_PARTITION_UA: by key) and
 * registers it in the window, like cdc_producer_send(). */
int cdc_producer_send_to(cdc_producer_t *p, rd_kafka_topic_t *topic,
                         int32_t partition, const void *key, size_t klen,
                         const void *value, size_t vlen,
                         ferry_err_t *err) FERRY_WUR;

/* Produces one message outside the LSN window (snapshot rows: their
 * acknowledgement confirms nothing by itself).  Any thread.  Key and value
 * are copied.  Returns 0, FERRY_ETRANSIENT when librdkafka's queue is full
 * (wait and call again), or FERRY_EFATAL. */
int cdc_producer_send_untracked(cdc_producer_t *p, rd_kafka_topic_t *topic,
                                const void *key, size_t klen, const void *value,
                                size_t vlen, ferry_err_t *err) FERRY_WUR;

/* Untracked messages produced and not yet acknowledged.  Any thread. */
uint64_t cdc_producer_untracked_inflight(const cdc_producer_t *p);

/* Serves delivery reports for at most timeout_ms.  Returns 0, or
 * FERRY_EFATAL with err set once the broker refused a message for good (or
 * the idempotent producer hit a fatal error): nothing after it may be
 * confirmed. */
int cdc_producer_poll(cdc_producer_t *p, int timeout_ms,
                      ferry_err_t *err) FERRY_WUR;

/* Waits until every untracked message is acknowledged, serving reports
 * (the poll thread only); returns as cdc_producer_flush(). */
int cdc_producer_flush_untracked(cdc_producer_t *p, int timeout_ms,
                                 ferry_err_t *err) FERRY_WUR;

/* Waits until every message is acknowledged or timeout_ms passes (-1:
 * forever, still serving reports).  Returns 0 when all are acknowledged,
 * FERRY_ETRANSIENT on timeout, FERRY_EFATAL as cdc_producer_poll(). */
int cdc_producer_flush(cdc_producer_t *p, int timeout_ms,
                       ferry_err_t *err) FERRY_WUR;

/* The librdkafka client (borrowed from p), for Admin API requests
 * (cdc_topics.h) on a queue of their own; the poll thread only. */
rd_kafka_t *cdc_producer_handle(cdc_producer_t *p);

/* Messages acknowledged since start. */
uint64_t cdc_producer_acked(const cdc_producer_t *p);

#endif
