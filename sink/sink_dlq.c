/* The dead-letter path: the errors table and the dead-letter topic.
 * sink/sink_dlq.c */
#include "sink_dlq.h"

#include "ferry_buf.h"
#include "ferry_kafka.h"
#include "ferry_log.h"
#include "ferry_wire.h"
#include "map_kafka.h"

#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink_dlq {
    rd_kafka_t *rk;                /* owned: the producer */
    char *topic;                   /* owned: <prefix>.dlq */
    const char *state_schema;      /* borrowed: for messages */
    char *insert_sql;              /* owned: INSERT INTO <state>.errors */
    sink_slot_topic_fn slot_topic; /* resolves a message's slot */
    void *arg;                     /* borrowed: its argument */
    long count;                    /* dead letters recorded */
};

sink_dlq_t *
sink_dlq_new(const map_config_t *cfg, const char *q_state,
             sink_slot_topic_fn slot_topic, void *arg, ferry_err_t *err)
{
    sink_dlq_t *d = calloc(1, sizeof(*d));
    rd_kafka_conf_t *conf = NULL;
    ferry_buf_t b;
    char errstr[512];

    ferry_buf_init(&b);
    if (d == NULL)
        goto oom;
    d->state_schema = cfg->state_schema;
    d->slot_topic = slot_topic;
    d->arg = arg;
    ferry_wire_topic_append(&b, cfg->kafka_topic_prefix, FERRY_WIRE_TOPIC_DLQ);
    if (b.failed || (d->topic = strdup(ferry_buf_cstr(&b))) == NULL)
        goto oom;
    ferry_buf_reset(&b);
    ferry_buf_printf(&b,
                     "INSERT INTO %s.errors (entity, legacy_key, topic, "
                     "partition, kafka_offset, sqlstate, error, event_key, "
                     "event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     q_state);
    if (b.failed || (d->insert_sql = strdup(ferry_buf_cstr(&b))) == NULL)
        goto oom;
    conf = rd_kafka_conf_new();
    if (map_kafka_conf(cfg, conf, err) != 0)
        goto fail;
    if (ferry_kafka_conf_set(conf, "enable.idempotence", "true", err) != 0 ||
        ferry_kafka_conf_set(conf, "compression.type", "none", err) != 0)
        goto fail;
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (d->rk == NULL) {
        ferry_err_set(err, FERRY_ECONFIG,
                      "could not create the dead-letter producer: %s", errstr);
        goto fail;
    }
    ferry_buf_close(&b);
    return d;
oom:
    ferry_err_set(err, FERRY_ENOMEM,
                  "out of memory creating the dead-letter path");
fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    ferry_buf_close(&b);
    sink_dlq_free(d);
    return NULL;
}

void
sink_dlq_free(sink_dlq_t *d)
{
    if (d == NULL)
        return;
    if (d->rk != NULL) {
        rd_kafka_flush(d->rk, 10000);
        rd_kafka_destroy(d->rk);
    }
    free(d->topic);
    free(d->insert_sql);
    free(d);
}

/* Produces the dead letter of ev, in common/ferry_wire.h's format. */
static int
produce(sink_dlq_t *d, const sink_event_t *ev, const char *entity,
        const char *topic, int partition, const char *reason, ferry_err_t *err)
{
    json_t *o = json_pack(
        "{s:s, s:s?, s:s?, s:i, s:I, s:s?, s:s?}", FERRY_WIRE_F_DLQ_REASON,
        reason, FERRY_WIRE_F_DLQ_ENTITY, entity, FERRY_WIRE_F_DLQ_TOPIC, topic,
        FERRY_WIRE_F_DLQ_PARTITION, partition, FERRY_WIRE_F_DLQ_OFFSET,
        (json_int_t)ev->pos.offset, FERRY_WIRE_F_DLQ_KEY, ev->raw_key,
        FERRY_WIRE_F_DLQ_VALUE, ev->raw);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    size_t klen = ev->raw_key != NULL ? strlen(ev->raw_key) : 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__FAIL;

    if (text == NULL) {
        json_decref(o);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory building a dead letter for topic "
                             "\"%s\" offset %" PRId64,
                             topic != NULL ? topic : "?", ev->pos.offset);
    }
    e = rd_kafka_producev(d->rk, RD_KAFKA_V_TOPIC(d->topic),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(ev->raw_key, klen),
                          RD_KAFKA_V_VALUE(text, strlen(text)), RD_KAFKA_V_END);
    free(text);
    json_decref(o);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not send to dead-letter topic \"%s\": %s",
                             d->topic, rd_kafka_err2str(e));
    return 0;
}

int
sink_dlq_record(sink_dlq_t *d, sink_target_t *t, const char *entity,
                const char *lkey, const sink_event_t *ev, const char *sqlstate,
                const char *msg, ferry_err_t *err)
{
    char part[16] = "", off[24] = "";
    const char *topic = NULL;
    const char *params[9];
    ferry_logctx_t ctx = FERRY_LOGCTX_NONE;
    int partition = -1, rc;

    if (ev->pos.slot >= 0 && d->slot_topic != NULL)
        topic = d->slot_topic(d->arg, ev->pos.slot, &partition);
    if (topic != NULL) {
        snprintf(part, sizeof(part), "%d", partition);
        snprintf(off, sizeof(off), "%" PRId64, ev->pos.offset);
    }
    ctx.entity = entity;
    ctx.key = lkey;
    ctx.topic = topic;
    ctx.partition = topic != NULL ? partition : -1;
    ctx.offset = topic != NULL ? ev->pos.offset : -1;
    ctx.lsn = ev->op != 'X' ? ev->pair.commit : 0;
    ferry_log_ctx(FERRY_LOG_WARNING, &ctx,
                  "%s%s%s%s%s%s topic \"%s\" partition %s offset %s: %s; "
                  "recorded in %s.errors and sent to the dead-letter topic",
                  entity != NULL ? "entity \"" : "message",
                  entity != NULL ? entity : "", entity != NULL ? "\"" : "",
                  lkey != NULL ? " legacy key \"" : "",
                  lkey != NULL ? lkey : "", lkey != NULL ? "\"" : "",
                  topic != NULL ? topic : "?", part, off, msg, d->state_schema);
    params[0] = entity;
    params[1] = lkey;
    params[2] = topic;
    params[3] = topic != NULL ? part : NULL;
    params[4] = topic != NULL ? off : NULL;
    params[5] = sqlstate != NULL && sqlstate[0] != '\0' ? sqlstate : NULL;
    params[6] = msg;
    params[7] = ev->raw_key;
    params[8] = ev->raw;
    rc = sink_target_push(t,
                          &(sink_stmt_t){.what = "record a rejected row",
                                         .sql = d->insert_sql,
                                         .n = 9,
                                         .params = params},
                          err);
    if (rc == 0)
        rc = produce(d, ev, entity, topic, partition, msg, err);
    if (rc == 0)
        d->count++;
    return rc;
}

/* 1 once the producer holds nothing unacknowledged. */
static int
flushed(void *arg, ferry_err_t *err)
{
    sink_dlq_t *d = arg;

    (void)err;
    rd_kafka_poll(d->rk, 0);
    return rd_kafka_outq_len(d->rk) == 0 ? 1 : 0;
}

int
sink_dlq_push_flush(sink_dlq_t *d, sink_target_t *t, ferry_err_t *err)
{
    char what[400];

    snprintf(what, sizeof(what), "the dead-letter topic \"%s\" to acknowledge",
             d->topic);
    return sink_target_push_wait(t, what, flushed, d, 30000, err);
}

long
sink_dlq_count(const sink_dlq_t *d)
{
    return d->count;
}
