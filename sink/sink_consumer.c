/* ferry-sink's Kafka consumer: manual assignment, or a consumer group in
 * scale-out mode.
 * sink/sink_consumer.c */
#include "sink_consumer.h"

#include "ferry_buf.h"
#include "ferry_kafka.h"
#include "ferry_log.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "map_kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Bytes of a slot_of key (a Kafka topic name is at most 249 bytes). */
#define SLOT_KEY_MAX 400

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);

static rd_kafka_t *
make_consumer(const map_config_t *cfg, sink_consumer_t *c, ferry_err_t *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512], group[300];
    rd_kafka_t *rk;

    if (c->group != NULL)
        snprintf(group, sizeof(group), "%s", c->group);
    else
        snprintf(group, sizeof(group), "ferry-sink-%s",
                 cfg->kafka_topic_prefix);
    /* Bound what librdkafka prefetches while the sink applies (64 MB by
     * default) to 32 MB; lower (or a lower queued.min.messages) starves the
     * applier (measured with tests/bench/bench_sink.sh).  The mapping may
     * override it. */
    if (ferry_kafka_conf_set(conf, "queued.max.messages.kbytes", "32768",
                             err) != 0)
        goto fail;
    /* A fetch that finds nothing waits at most 50 ms (librdkafka's 500 ms
     * by default): a broker that does not answer a waiting fetch as soon
     * as data arrives (ferry-devbroker, librdkafka's mock cluster) would
     * otherwise add up to half a second to every change's delay
     * (tests/bench/bench_latency.sh: p99 547 ms with 500, 85 ms with 50).
     * The mapping may override it. */
    if (ferry_kafka_conf_set(conf, "fetch.wait.max.ms", "50", err) != 0)
        goto fail;
    /* A subscribed topic that does not exist yet (a Kafka that does not
     * create topics on first use) is seen within 10 s of its creation,
     * not 5 minutes. */
    if (ferry_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms",
                             "10000", err) != 0)
        goto fail;
    if (map_kafka_conf(cfg, conf, err) != 0)
        goto fail;
    {
        if (ferry_kafka_conf_set(conf, "group.id", group, err) != 0 ||
            ferry_kafka_conf_set(conf, "enable.auto.commit", "false", err) !=
                0 ||
            ferry_kafka_conf_set(conf, "enable.auto.offset.store", "false",
                                 err) != 0 ||
            ferry_kafka_conf_set(conf, "enable.partition.eof", "true", err) !=
                0 ||
            ferry_kafka_conf_set(conf, "auto.offset.reset", "error", err) != 0)
            goto fail;
        if (c->group != NULL) {
            char v[256];
            size_t vlen = sizeof(v);

            /* The rebalance callback implements the eager protocol. */
            if (rd_kafka_conf_get(conf, "partition.assignment.strategy", v,
                                  &vlen) == RD_KAFKA_CONF_OK &&
                strstr(v, "cooperative") != NULL) {
                ferry_err_set(err, FERRY_ECONFIG,
                              "partition.assignment.strategy \"%s\": "
                              "ferry-sink --scale-out supports the eager "
                              "assignors only (range, roundrobin)",
                              v);
                goto fail;
            }
            rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
            rd_kafka_conf_set_opaque(conf, c);
        }
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        ferry_err_set(err, FERRY_ECONFIG,
                      "could not create the Kafka client: %s", errstr);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int
add_topic(sink_consumer_t *c, const char *t)
{
    size_t i;

    for (i = 0; i < c->n_topics; i++)
        if (strcmp(c->topics[i], t) == 0)
            return 0;
    c->topics[c->n_topics] = strdup(t);
    if (c->topics[c->n_topics] == NULL)
        return FERRY_ENOMEM;
    c->n_topics++;
    return 0;
}

int
sink_consumer_open(sink_consumer_t *c, const map_config_t *cfg,
                   const char *group, ferry_err_t *err)
{
    ferry_buf_t tx;
    size_t i;
    int rc;

    memset(c, 0, sizeof(*c));
    c->group = group;
    c->topics = calloc(cfg->n_entities + 3, sizeof(char *));
    c->slot_of = sink_map_new();
    if (c->topics == NULL || c->slot_of == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory creating the Kafka consumer");
    /* topics[0] is the transaction topic (slots know it by index 0). */
    ferry_buf_init(&tx);
    ferry_wire_topic_append(&tx, cfg->kafka_topic_prefix,
                            FERRY_WIRE_TOPIC_TRANSACTION);
    rc = ferry_buf_status(&tx, err, "naming the transaction topic");
    if (rc == 0 && add_topic(c, ferry_buf_cstr(&tx)) != 0)
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory creating the Kafka consumer");
    ferry_buf_close(&tx);
    if (rc != 0)
        return rc;
    for (i = 0; i < cfg->n_entities; i++)
        if (add_topic(c, map_entity_topic(cfg, &cfg->entities[i])) != 0)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory creating the Kafka consumer");
    c->n_entity_topics = c->n_topics - 1;
    /* The ordered mode also follows ferry-cdc's snapshot records: a new
     * snapshot is applied in dependency order (sink_bulkload.h). */
    if (group == NULL) {
        ferry_buf_init(&tx);
        ferry_wire_topic_append(&tx, cfg->kafka_topic_prefix,
                                FERRY_WIRE_TOPIC_SNAPSHOT);
        rc = ferry_buf_status(&tx, err, "naming the snapshot topic");
        if (rc == 0 && add_topic(c, ferry_buf_cstr(&tx)) != 0)
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory creating the Kafka consumer");
        ferry_buf_close(&tx);
        if (rc != 0)
            return rc;
        c->snap_topic = c->n_topics - 1;
    }
    c->rk = make_consumer(cfg, c, err);
    if (c->rk == NULL)
        return err != NULL ? err->status : FERRY_ECONFIG;
    return 0;
}

/* The partitions of topic t (0 when it does not exist yet). */
static int
topic_partitions(sink_consumer_t *c, const char *t, int timeout_ms, int *n,
                 ferry_err_t *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, t, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;

    *n = 0;
    if (rkt == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory reading the partitions of topic "
                             "\"%s\"",
                             t);
    e = rd_kafka_metadata(c->rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read the metadata of topic \"%s\": %s",
                             t, rd_kafka_err2str(e));
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        *n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return 0;
}

int
sink_consumer_position(sink_consumer_t *c, size_t i, int64_t stored,
                       ferry_err_t *err)
{
    sink_slot_t *s = &c->slots[i];
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e;

    s->stored = stored;
    e = rd_kafka_query_watermark_offsets(c->rk, s->topic, s->partition, &lo,
                                         &hi, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read the offsets of topic \"%s\" "
                             "partition %d: %s",
                             s->topic, (int)s->partition, rd_kafka_err2str(e));
    s->next = stored >= 0 ? stored : 0;
    s->end = hi;
    if (s->next < lo)
        return ferry_err_set(
            err, FERRY_EFATAL,
            "cannot resume topic \"%s\" partition %d at offset %" PRId64
            ": the broker no longer holds it (earliest offset %" PRId64
            "); the events in between are lost, rebuild the target from a "
            "fresh snapshot",
            s->topic, (int)s->partition, s->next, lo);
    if (s->next > hi)
        return ferry_err_set(
            err, FERRY_EFATAL,
            "cannot resume topic \"%s\" partition %d at offset %" PRId64
            ": the partition ends at offset %" PRId64
            " (was the topic re-created or the broker replaced?); the sink "
            "never skips ahead, rebuild the target from a fresh snapshot",
            s->topic, (int)s->partition, s->next, hi);
    return 0;
}

/* Writes the slot_of key of partition p of topic (borrowed) into key:
 * "topic\x1fp", the topic cut to fit (a Kafka topic name always fits), ""
 * for a negative partition (no slot has one).  By hand: it is looked up
 * for every message (snprintf() was 2% of the sink's work). */
static void
slot_key(char key[SLOT_KEY_MAX], const char *topic, int32_t p)
{
    size_t n = strlen(topic);
    char digits[20];
    size_t nd;

    if (p < 0) {
        key[0] = '\0'; /* no slot has it */
        return;
    }
    nd = ferry_buf_u64_digits((uint64_t)p, digits);
    if (n > SLOT_KEY_MAX - 2 - nd)
        n = SLOT_KEY_MAX - 2 - nd;
    memcpy(key, topic, n);
    key[n] = '\x1f';
    memcpy(key + n + 1, digits, nd);
    key[n + 1 + nd] = '\0';
}

/* Appends a slot for partition p of topic ti.  Returns the new slot's index,
 * or -1 with err set when memory runs out; the index is the only result, so
 * no caller can read an unset out-parameter. */
static ssize_t
new_slot(sink_consumer_t *c, size_t ti, int32_t p, ferry_err_t *err)
{
    char key[SLOT_KEY_MAX];
    sink_slot_t *s;

    if (c->n_slots == c->cap_slots) {
        size_t cap = c->cap_slots ? c->cap_slots * 2 : 64;
        sink_slot_t *grown = realloc(c->slots, cap * sizeof(*grown));

        if (grown == NULL) {
            ferry_err_set(err, FERRY_ENOMEM,
                          "out of memory adding partition %d of \"%s\"", (int)p,
                          c->topics[ti]);
            return -1;
        }
        c->slots = grown;
        c->cap_slots = cap;
    }
    s = &c->slots[c->n_slots];
    memset(s, 0, sizeof(*s));
    s->topic = c->topics[ti];
    s->partition = p;
    s->is_tx = ti == 0;
    s->is_snap = c->snap_topic > 0 && ti == c->snap_topic;
    s->stored = -1;
    slot_key(key, c->topics[ti], p);
    if (sink_map_put(c->slot_of, key, (void *)(uintptr_t)(c->n_slots + 1))) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory adding partition %d of \"%s\"", (int)p,
                      c->topics[ti]);
        return -1;
    }
    return (ssize_t)c->n_slots++;
}

static int
add_slot(sink_consumer_t *c, size_t ti, int32_t p, const sink_map_t *stored,
         ferry_err_t *err)
{
    char key[400];
    const int64_t *off;
    ssize_t i;

    snprintf(key, sizeof(key), "%s\x1f%d", c->topics[ti], (int)p);
    off = sink_map_get(stored, key);
    if ((i = new_slot(c, ti, p, err)) < 0)
        return err != NULL ? err->status : FERRY_ENOMEM;
    return sink_consumer_position(c, (size_t)i, off != NULL ? *off : -1, err);
}

int
sink_consumer_assign(sink_consumer_t *c, const sink_map_t *stored,
                     ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    size_t ti, total = 0, i;
    int *counts = calloc(c->n_topics + 1, sizeof(int));
    int rc = 0, p;
    rd_kafka_resp_err_t e;

    free(c->missing);
    c->missing = calloc(c->n_topics + 1, sizeof(*c->missing));
    if (counts == NULL || c->missing == NULL) {
        free(counts);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory counting the partitions of %zu "
                             "topics",
                             c->n_topics);
    }
    for (ti = 0; rc == 0 && ti < c->n_topics; ti++) {
        rc = topic_partitions(c, c->topics[ti], 10000, &counts[ti], err);
        total += (size_t)counts[ti];
        /* On a Kafka that does not create topics on first use, an empty
         * table's topic may come later: looked for again while streaming
         * (sink_consumer_add_late_topics()). */
        if (rc == 0 && counts[ti] == 0) {
            c->missing[ti] = true;
            ferry_warn("topic \"%s\" does not exist yet; waiting for it (it "
                       "is consumed from the beginning once ferry-cdc or an "
                       "administrator creates it)",
                       c->topics[ti]);
        }
    }
    if (rc != 0)
        goto done;
    list = rd_kafka_topic_partition_list_new((int)total + 1);
    if (list == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory assigning %zu partitions", total);
        goto done;
    }
    for (ti = 0; rc == 0 && ti < c->n_topics; ti++)
        for (p = 0; rc == 0 && p < counts[ti]; p++)
            rc = add_slot(c, ti, p, stored, err);
    for (i = 0; rc == 0 && i < c->n_slots; i++)
        rd_kafka_topic_partition_list_add(list, c->slots[i].topic,
                                          c->slots[i].partition)
            ->offset = c->slots[i].next;
    if (rc == 0 && (e = sink_consumer_assign_list(c, list)) != 0)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not assign the partitions: %s",
                           rd_kafka_err2str(e));
done:
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
    free(counts);
    return rc;
}

rd_kafka_resp_err_t
sink_consumer_assign_list(sink_consumer_t *c,
                          const rd_kafka_topic_partition_list_t *list)
{
    int64_t since = ferry_mono_ms() - c->assigned_at;
    rd_kafka_resp_err_t e;

    if (c->assigned_at > 0 && since < 250)
        usleep((useconds_t)(250 - since) * 1000);
    e = rd_kafka_assign(c->rk, list);
    c->assigned_at = ferry_mono_ms();
    return e;
}

int
sink_consumer_assign_next(sink_consumer_t *c, ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)c->n_slots + 1);
    rd_kafka_resp_err_t e;
    size_t i;

    if (list == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory assigning %zu partitions",
                             c->n_slots);
    for (i = 0; i < c->n_slots; i++)
        rd_kafka_topic_partition_list_add(list, c->slots[i].topic,
                                          c->slots[i].partition)
            ->offset = c->slots[i].next;
    e = sink_consumer_assign_list(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not assign the partitions: %s",
                             rd_kafka_err2str(e));
    return 0;
}

int
sink_consumer_rewind(sink_consumer_t *c, ferry_err_t *err)
{
    size_t i;

    for (i = 0; i < c->n_slots; i++)
        c->slots[i].next = c->slots[i].stored >= 0 ? c->slots[i].stored : 0;
    return sink_consumer_assign_next(c, err);
}

int
sink_consumer_subscribe(sink_consumer_t *c, ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)c->n_topics);
    rd_kafka_resp_err_t e;
    size_t ti;

    if (list == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory joining consumer group \"%s\"",
                             c->group);
    /* topics[0] is the transaction topic: the scale-out mode applies
     * events one by one and does not reassemble transactions. */
    for (ti = 1; ti <= c->n_entity_topics; ti++)
        rd_kafka_topic_partition_list_add(list, c->topics[ti],
                                          RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(c->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "could not join consumer group \"%s\": %s",
                             c->group, rd_kafka_err2str(e));
    return 0;
}

static int
slot_for(sink_consumer_t *c, const char *topic, int32_t p, size_t *out,
         ferry_err_t *err)
{
    int at = sink_consumer_slot(c, topic, p);
    size_t ti;

    if (at >= 0) {
        *out = (size_t)at;
        return 0;
    }
    for (ti = 1; ti <= c->n_entity_topics; ti++)
        if (strcmp(c->topics[ti], topic) == 0) {
            ssize_t i = new_slot(c, ti, p, err);

            if (i < 0)
                return err != NULL ? err->status : FERRY_ENOMEM;
            *out = (size_t)i;
            return 0;
        }
    return ferry_err_set(err, FERRY_EFATAL,
                         "the group assigned topic \"%s\", which this sink "
                         "does not consume",
                         topic);
}

static void
unassign_all(sink_consumer_t *c)
{
    size_t i;

    for (i = 0; i < c->n_slots; i++)
        c->slots[i].owned = false;
}

/* Eager rebalancing: every assignment is whole, every revocation takes
 * everything.  The stored offsets are read at each assignment, so a
 * partition moves between processes without losing or repeating a row
 * (the offsets are fenced when stored, see sink_run.c). */
static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
             rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sink_consumer_t *c = opaque;
    size_t *idx = NULL;
    int i, rc = 0;

    if (e != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (c->on_revoke != NULL)
            c->on_revoke(c->cb_arg);
        unassign_all(c);
        (void)rk;
        sink_consumer_assign_list(c, NULL);
        return;
    }
    idx = calloc((size_t)parts->cnt + 1, sizeof(*idx));
    if (idx == NULL)
        rc = ferry_err_set(&c->failure, FERRY_ENOMEM,
                           "out of memory taking %d partitions from consumer "
                           "group \"%s\"",
                           parts->cnt, c->group);
    for (i = 0; rc == 0 && i < parts->cnt; i++)
        rc = slot_for(c, parts->elems[i].topic, parts->elems[i].partition,
                      &idx[i], &c->failure);
    if (rc == 0 && c->on_assign != NULL)
        rc = c->on_assign(c->cb_arg, c, idx, (size_t)parts->cnt, &c->failure);
    if (rc != 0) {
        c->failed = rc;
        free(idx);
        sink_consumer_assign_list(c, NULL);
        return;
    }
    /* Assigned later, by sink_consumer_assign_owned(), once the caller
     * has read the stored offsets (librdkafka waits for that call). */
    free(idx);
}

int
sink_consumer_assign_owned(sink_consumer_t *c, const size_t *idx, size_t n,
                           ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)n + 1);
    rd_kafka_resp_err_t e;
    size_t i;

    if (list == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory assigning %zu partitions", n);
    unassign_all(c);
    for (i = 0; i < n; i++) {
        c->slots[idx[i]].owned = true;
        rd_kafka_topic_partition_list_add(list, c->slots[idx[i]].topic,
                                          c->slots[idx[i]].partition)
            ->offset = c->slots[idx[i]].next;
    }
    e = sink_consumer_assign_list(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        unassign_all(c);
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not assign the partitions: %s",
                             rd_kafka_err2str(e));
    }
    c->assigned = true;
    return 0;
}

int
sink_consumer_reassign(sink_consumer_t *c, ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)c->n_slots + 1);
    rd_kafka_error_t *e;
    size_t i;
    int rc = 0;

    if (list == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory seeking back to the stored "
                             "offsets");
    /* Subscribed: seek within the group's assignment, never replace it. */
    for (i = 0; i < c->n_slots; i++)
        if (c->slots[i].owned)
            rd_kafka_topic_partition_list_add(list, c->slots[i].topic,
                                              c->slots[i].partition)
                ->offset = c->slots[i].next;
    e = rd_kafka_seek_partitions(c->rk, list, 10000);
    if (e != NULL) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not seek back to the stored offsets: %s",
                           rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    for (i = 0; rc == 0 && i < (size_t)list->cnt; i++)
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not seek topic \"%s\" partition %d: %s",
                               list->elems[i].topic,
                               (int)list->elems[i].partition,
                               rd_kafka_err2str(list->elems[i].err));
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

int
sink_consumer_add_late_topics(sink_consumer_t *c, size_t *added,
                              ferry_err_t *err)
{
    size_t ti, before = c->n_slots;
    int rc = 0, p, n;

    if (added != NULL)
        *added = 0;
    for (ti = 0; rc == 0 && c->missing != NULL && ti < c->n_topics; ti++) {
        if (!c->missing[ti])
            continue;
        if ((rc = topic_partitions(c, c->topics[ti], 2000, &n, err)) != 0 ||
            n == 0)
            continue;
        for (p = 0; rc == 0 && p < n; p++) {
            ssize_t i = new_slot(c, ti, p, err);

            rc = i < 0 ? (err != NULL ? err->status : FERRY_ENOMEM)
                       : sink_consumer_position(c, (size_t)i, -1, err);
        }
        if (rc == 0) {
            c->missing[ti] = false;
            ferry_info("topic \"%s\" exists now: consuming its %d partitions "
                       "from the beginning",
                       c->topics[ti], n);
        }
    }
    if (rc == 0 && c->n_slots > before) {
        rc = sink_consumer_assign_next(c, err);
        if (added != NULL)
            *added = c->n_slots - before;
    }
    return rc;
}

size_t
sink_consumer_missing(const sink_consumer_t *c, const char **first)
{
    size_t ti, n = 0;

    for (ti = 0; c->missing != NULL && ti < c->n_topics; ti++)
        if (c->missing[ti]) {
            if (n++ == 0 && first != NULL)
                *first = c->topics[ti];
        }
    return n;
}

int
sink_consumer_refresh_ends(sink_consumer_t *c, ferry_err_t *err)
{
    /* One ListOffsets request per broker for every partition (the latest
     * offset, -1): asking partition by partition costs a round trip each,
     * seconds on a few hundred partitions.  ferry-cdc writes no Kafka
     * transactions, so the latest offset is the high watermark. */
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)c->n_slots);
    rd_kafka_resp_err_t e;
    size_t i;
    int rc = 0;

    if (l == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory reading the topics' end offsets");
    for (i = 0; i < c->n_slots; i++)
        rd_kafka_topic_partition_list_add(l, c->slots[i].topic,
                                          c->slots[i].partition)
            ->offset = RD_KAFKA_OFFSET_END;
    e = rd_kafka_offsets_for_times(c->rk, l, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not read the end offsets of %zu "
                           "partitions: %s",
                           c->n_slots, rd_kafka_err2str(e));
    for (i = 0; rc == 0 && i < (size_t)l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        int slot = sink_consumer_slot(c, tp->topic, tp->partition);

        if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0)
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not read the end offset of topic "
                               "\"%s\" partition %d: %s",
                               tp->topic, (int)tp->partition,
                               tp->err != RD_KAFKA_RESP_ERR_NO_ERROR
                                   ? rd_kafka_err2str(tp->err)
                                   : "no offset");
        else if (slot >= 0)
            c->slots[slot].end = tp->offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int
sink_consumer_slot(const sink_consumer_t *c, const char *topic,
                   int32_t partition)
{
    char key[SLOT_KEY_MAX];

    slot_key(key, topic, partition);
    return (int)(uintptr_t)sink_map_get(c->slot_of, key) - 1;
}

void
sink_consumer_close(sink_consumer_t *c)
{
    size_t i;

    if (c->rk != NULL) {
        /* Closing unassigns: spaced from the last change as any other. */
        int64_t since = ferry_mono_ms() - c->assigned_at;

        if (c->assigned_at > 0 && since < 250)
            usleep((useconds_t)(250 - since) * 1000);
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    for (i = 0; c->topics != NULL && i < c->n_topics; i++)
        free(c->topics[i]);
    free(c->topics);
    free(c->slots);
    free(c->missing);
    sink_map_free(c->slot_of);
    memset(c, 0, sizeof(*c));
}

const char *
sink_consumer_slot_topic(void *arg, int slot, int *partition)
{
    const sink_consumer_t *c = arg;

    if (slot < 0 || (size_t)slot >= c->n_slots)
        return NULL;
    *partition = c->slots[slot].partition;
    return c->slots[slot].topic;
}
