/* ferry-map status: the pipeline's topics, read from the brokers.
 * mapping/tool/status_kafka.c */
#include "status.h"

#include "ferry_kafka.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "map_kafka.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rd_kafka_t *
status_kafka_open(const map_config_t *cfg, ferry_err_t *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    rd_kafka_t *rk;
    int rc;

    rc = map_kafka_conf(cfg, conf, err);
    /* Reading only: no group is joined (assign(), never subscribe()), no
     * offset committed.  No topic is created by asking about it either:
     * the topics are listed with a request for all of them, and only
     * those that exist are asked about by name. */
    if (rc == 0)
        rc = ferry_kafka_conf_set(conf, "group.id", "ferry-map-status", err);
    if (rc == 0)
        rc = ferry_kafka_conf_set(conf, "enable.auto.commit", "false", err);
    if (rc == 0)
        rc = ferry_kafka_conf_set(conf, "enable.partition.eof", "true", err);
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ferry_err_set(err, FERRY_ECONFIG,
                      "could not create the Kafka client: %s", errstr);
    }
    return rk;
}

int
status_kafka_topics(rd_kafka_t *rk, status_topic_t *topics, size_t n,
                    int timeout_ms, ferry_err_t *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;
    size_t i;
    int j;

    e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read the topics from the Kafka "
                             "brokers: %s",
                             rd_kafka_err2str(e));
    for (i = 0; i < n; i++) {
        status_topic_t *t = &topics[i];

        for (j = 0; j < md->topic_cnt; j++) {
            const struct rd_kafka_metadata_topic *mt = &md->topics[j];

            if (strcmp(mt->topic, t->name) != 0 ||
                mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                mt->partition_cnt <= 0)
                continue;
            t->exists = true;
            t->parts = calloc((size_t)mt->partition_cnt, sizeof(*t->parts));
            if (t->parts == NULL) {
                rd_kafka_metadata_destroy(md);
                return ferry_err_set(err, FERRY_ENOMEM,
                                     "out of memory reading the partitions "
                                     "of topic \"%s\"",
                                     t->name);
            }
            t->n_parts = (size_t)mt->partition_cnt;
            for (int k = 0; k < mt->partition_cnt; k++) {
                t->parts[k].partition = mt->partitions[k].id;
                t->parts[k].stored = -1;
                t->parts[k].wait_ts = -1;
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    for (i = 0; i < n; i++) {
        status_topic_t *t = &topics[i];

        for (size_t k = 0; k < t->n_parts; k++) {
            status_part_t *p = &t->parts[k];

            e = rd_kafka_query_watermark_offsets(rk, t->name, p->partition,
                                                 &p->low, &p->high, timeout_ms);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                return ferry_err_set(err, FERRY_ETRANSIENT,
                                     "could not read the offsets of topic "
                                     "\"%s\" partition %d: %s",
                                     t->name, (int)p->partition,
                                     rd_kafka_err2str(e));
        }
    }
    return 0;
}

/* The commit time of a ferry message (a change event, or a transaction
 * event), in ms; -1 when it has none. */
static int64_t
commit_ts(const void *value, size_t len)
{
    json_t *doc = value != NULL ? json_loadb(value, len, 0, NULL) : NULL;
    json_t *ts = NULL;
    int64_t v = -1;

    if (doc == NULL)
        return -1;
    ts = json_object_get(json_object_get(doc, FERRY_WIRE_F_SOURCE),
                         FERRY_WIRE_F_SRC_TS_MS);
    if (!json_is_integer(ts) &&
        json_is_string(json_object_get(doc, FERRY_WIRE_F_TXEV_STATUS)))
        ts = json_object_get(doc, FERRY_WIRE_F_TXEV_TS_MS);
    if (json_is_integer(ts))
        v = (int64_t)json_integer_value(ts);
    json_decref(doc);
    return v;
}

/* The partition of topic named t, or NULL. */
static status_part_t *
find_part(status_topic_t *topics, size_t n, const char *t, int32_t partition)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(topics[i].name, t) != 0)
            continue;
        for (size_t k = 0; k < topics[i].n_parts; k++)
            if (topics[i].parts[k].partition == partition)
                return &topics[i].parts[k];
    }
    return NULL;
}

int
status_kafka_wait_times(rd_kafka_t *rk, status_topic_t *topics, size_t n,
                        int timeout_ms, ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(8);
    int64_t deadline = ferry_mono_ms() + timeout_ms;
    int waiting = 0;
    rd_kafka_resp_err_t e;

    if (list == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory listing partitions");
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < topics[i].n_parts && topics[i].counts; k++) {
            status_part_t *p = &topics[i].parts[k];
            int64_t from = p->stored > p->low ? p->stored : p->low;

            if (from >= p->high)
                continue;
            rd_kafka_topic_partition_list_add(list, topics[i].name,
                                              p->partition)
                ->offset = from;
            waiting++;
        }
    }
    if (waiting == 0) {
        rd_kafka_topic_partition_list_destroy(list);
        return 0;
    }
    e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read the waiting messages: %s",
                             rd_kafka_err2str(e));
    while (waiting > 0 && ferry_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        status_part_t *p;

        if (m == NULL)
            continue;
        p = m->rkt != NULL ? find_part(topics, n, rd_kafka_topic_name(m->rkt),
                                       m->partition)
                           : NULL;
        if (p != NULL && p->wait_ts < 0 &&
            (m->err == RD_KAFKA_RESP_ERR_NO_ERROR ||
             m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)) {
            /* A tombstone or a message without a commit time: the next
             * one says, as long as it is still waiting. */
            int64_t ts = m->err == RD_KAFKA_RESP_ERR_NO_ERROR
                             ? commit_ts(m->payload, m->len)
                             : -1;

            if (ts >= 0 || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                p->wait_ts = ts;
                waiting--;
                if (ts < 0)
                    p->wait_ts = -2; /* read to the end: nothing timed */
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < topics[i].n_parts; k++)
            if (topics[i].parts[k].wait_ts == -2)
                topics[i].parts[k].wait_ts = -1;
    return 0;
}

int
status_kafka_read(rd_kafka_t *rk, const char *topic, int64_t from, int64_t high,
                  int timeout_ms,
                  void (*fn)(void *arg, const void *value, size_t len),
                  void *arg, ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(1);
    int64_t deadline = ferry_mono_ms() + timeout_ms;
    rd_kafka_resp_err_t e;
    int64_t next = from;

    if (list == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory listing partitions");
    if (from >= high) {
        rd_kafka_topic_partition_list_destroy(list);
        return 0;
    }
    rd_kafka_topic_partition_list_add(list, topic, 0)->offset = from;
    e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read topic \"%s\": %s", topic,
                             rd_kafka_err2str(e));
    while (next < high && ferry_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            next = high;
        } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            next = m->offset + 1;
            if (m->payload != NULL)
                fn(arg, m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    if (next < high)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read topic \"%s\" to its end within "
                             "%d ms",
                             topic, timeout_ms);
    return 0;
}
