/* The idempotent Kafka producer and its delivery reports.
 * cdc/cdc_producer.c */
#include "cdc_producer.h"

#include "ferry_kafka.h"
#include "ferry_log.h"

#include <inttypes.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOPICS 512

/* The opaque of untracked messages: never a window sequence number. */
#define UNTRACKED_SEQ UINT64_MAX

struct cdc_producer {
    rd_kafka_t *rk;                       /* owned */
    cdc_lsnwin_t *win;                    /* borrowed */
    rd_kafka_topic_t *topics[MAX_TOPICS]; /* owned handles */
    size_t ntopics;                       /* handles in use */
    uint64_t acked;                       /* acknowledged so far */
    atomic_uint_fast64_t untracked_sent;  /* untracked messages produced */
    atomic_uint_fast64_t untracked_acked; /* and acknowledged */
    int failed;                           /* a message was refused for good */
    char failure[512];                    /* what, where and why */
};

static const char *const defaults[][2] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"partitioner", "murmur2_random"},
    {"message.timeout.ms", "300000"},
    {"linger.ms", "20"},
    {"batch.num.messages", "10000"},
    {"queue.buffering.max.messages", "200000"},
    {"queue.buffering.max.kbytes", "262144"},
};

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cdc_producer_t *p = opaque;
    uint64_t seq = (uint64_t)(uintptr_t)m->_private;

    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (seq == UNTRACKED_SEQ)
            atomic_fetch_add(&p->untracked_acked, 1);
        else
            cdc_lsnwin_ack(p->win, seq);
        p->acked++;
        return;
    }
    if (!p->failed) {
        p->failed = 1;
        snprintf(p->failure, sizeof(p->failure),
                 "could not deliver a message to topic \"%s\" partition %d: "
                 "%s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition,
                 rd_kafka_err2str(m->err));
    }
}

static void
on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];

        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        ferry_error("fatal producer error: %s", buf);
        return;
    }
    /* Broker outages are retried by librdkafka: say so, do not stop. */
    ferry_warn("kafka: %s", reason);
}

static bool
refuse_lossy(const char *key, const char *value, ferry_err_t *err)
{
    if (strcmp(key, "acks") == 0 && strcmp(value, "all") != 0 &&
        strcmp(value, "-1") != 0) {
        ferry_err_set(err, FERRY_ECONFIG,
                      "kafka property acks=%s could lose changes: ferry-cdc "
                      "needs acks=all",
                      value);
        return true;
    }
    if (strcmp(key, "enable.idempotence") == 0 &&
        strcasecmp(value, "true") != 0) {
        ferry_err_set(err, FERRY_ECONFIG,
                      "kafka property enable.idempotence=%s could reorder or "
                      "duplicate changes: ferry-cdc needs it on",
                      value);
        return true;
    }
    return false;
}

cdc_producer_t *
cdc_producer_new(const map_config_t *cfg, cdc_lsnwin_t *win, ferry_err_t *err)
{
    cdc_producer_t *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];

    if (p == NULL || conf == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory creating the Kafka producer");
        goto fail;
    }
    p->win = win;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (ferry_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err) !=
            0)
            goto fail;
    }
    if (ferry_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_brokers,
                             err) != 0)
        goto fail;
    for (size_t i = 0; i < cfg->n_kafka_properties; i++) {
        const map_kv_t *kv = &cfg->kafka_properties[i];

        if (kv->value == NULL || refuse_lossy(kv->key, kv->value, err) ||
            ferry_kafka_conf_set(conf, kv->key, kv->value, err) != 0)
            goto fail;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    ferry_kafka_conf_logs(conf);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        ferry_err_set(err, FERRY_ECONFIG, "could not create the producer: %s",
                      errstr);
        goto fail;
    }
    return p;

fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    free(p);
    return NULL;
}

void
cdc_producer_destroy(cdc_producer_t *p, int timeout_ms)
{
    if (p == NULL)
        return;
    rd_kafka_flush(p->rk, timeout_ms);
    for (size_t i = 0; i < p->ntopics; i++)
        rd_kafka_topic_destroy(p->topics[i]);
    rd_kafka_destroy(p->rk);
    free(p);
}

rd_kafka_topic_t *
cdc_producer_topic(cdc_producer_t *p, const char *name, ferry_err_t *err)
{
    rd_kafka_topic_t *t;

    for (size_t i = 0; i < p->ntopics; i++) {
        if (strcmp(rd_kafka_topic_name(p->topics[i]), name) == 0)
            return p->topics[i];
    }
    if (p->ntopics == MAX_TOPICS) {
        ferry_err_set(err, FERRY_ECONFIG, "more than %d topics", MAX_TOPICS);
        return NULL;
    }
    t = rd_kafka_topic_new(p->rk, name, NULL);
    if (t == NULL) {
        ferry_err_set(err, FERRY_ECONFIG, "could not open topic \"%s\": %s",
                      name, rd_kafka_err2str(rd_kafka_last_error()));
        return NULL;
    }
    p->topics[p->ntopics++] = t;
    return t;
}

int
cdc_producer_send(cdc_producer_t *p, rd_kafka_topic_t *topic, const void *key,
                  size_t klen, const void *value, size_t vlen, ferry_err_t *err)
{
    return cdc_producer_send_to(p, topic, RD_KAFKA_PARTITION_UA, key, klen,
                                value, vlen, err);
}

int
cdc_producer_send_to(cdc_producer_t *p, rd_kafka_topic_t *topic,
                     int32_t partition, const void *key, size_t klen,
                     const void *value, size_t vlen, ferry_err_t *err)
{
    uint64_t seq = cdc_lsnwin_add(p->win);

    if (rd_kafka_produce(topic, partition, RD_KAFKA_MSG_F_COPY, (void *)value,
                         value ? vlen : 0, key, klen,
                         (void *)(uintptr_t)seq) == 0)
        return FERRY_OK;
    cdc_lsnwin_unadd(p->win, seq);
    if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return FERRY_ETRANSIENT;
    return ferry_err_set(
        err, FERRY_EFATAL, "could not produce to topic \"%s\": %s",
        rd_kafka_topic_name(topic), rd_kafka_err2str(rd_kafka_last_error()));
}

int
cdc_producer_send_untracked(cdc_producer_t *p, rd_kafka_topic_t *topic,
                            const void *key, size_t klen, const void *value,
                            size_t vlen, ferry_err_t *err)
{
    rd_kafka_resp_err_t e;

    /* Counted before producing: the report may come back at once. */
    atomic_fetch_add(&p->untracked_sent, 1);
    if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         (void *)value, value ? vlen : 0, key, klen,
                         (void *)(uintptr_t)UNTRACKED_SEQ) == 0)
        return FERRY_OK;
    e = rd_kafka_last_error();
    atomic_fetch_sub(&p->untracked_sent, 1);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return FERRY_ETRANSIENT;
    return ferry_err_set(err, FERRY_EFATAL,
                         "could not produce to topic \"%s\": %s",
                         rd_kafka_topic_name(topic), rd_kafka_err2str(e));
}

uint64_t
cdc_producer_untracked_inflight(const cdc_producer_t *p)
{
    cdc_producer_t *q = (cdc_producer_t *)p;

    return atomic_load(&q->untracked_sent) - atomic_load(&q->untracked_acked);
}

int
cdc_producer_flush_untracked(cdc_producer_t *p, int timeout_ms,
                             ferry_err_t *err)
{
    int waited = 0;

    while (cdc_producer_untracked_inflight(p) > 0) {
        int rc = cdc_producer_poll(p, 100, err);

        if (rc != FERRY_OK)
            return rc;
        waited += 100;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return ferry_err_set(err, FERRY_ETRANSIENT,
                                 "%" PRIu64 " snapshot messages still "
                                 "unacknowledged after %d ms",
                                 cdc_producer_untracked_inflight(p), waited);
    }
    return FERRY_OK;
}

int
cdc_producer_poll(cdc_producer_t *p, int timeout_ms, ferry_err_t *err)
{
    char buf[512];

    rd_kafka_poll(p->rk, timeout_ms);
    if (p->failed)
        return ferry_err_set(err, FERRY_EFATAL, "%s", p->failure);
    if (rd_kafka_fatal_error(p->rk, buf, sizeof(buf)))
        return ferry_err_set(err, FERRY_EFATAL, "fatal producer error: %s",
                             buf);
    return FERRY_OK;
}

int
cdc_producer_flush(cdc_producer_t *p, int timeout_ms, ferry_err_t *err)
{
    int waited = 0;

    while (cdc_lsnwin_inflight(p->win) > 0) {
        int rc = cdc_producer_poll(p, 100, err);

        if (rc != FERRY_OK)
            return rc;
        waited += 100;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            return ferry_err_set(err, FERRY_ETRANSIENT,
                                 "%zu messages still unacknowledged after "
                                 "%d ms",
                                 cdc_lsnwin_inflight(p->win), waited);
    }
    return FERRY_OK;
}

rd_kafka_t *
cdc_producer_handle(cdc_producer_t *p)
{
    return p->rk;
}

uint64_t
cdc_producer_acked(const cdc_producer_t *p)
{
    return p->acked;
}
