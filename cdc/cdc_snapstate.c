/* Snapshot completion records on <prefix>.snapshot, written and read back.
 * cdc/cdc_snapstate.c
 *
 * The records' format is common/ferry_wire.h's (ferry_wire_snaprec_*). */
#include "cdc_snapstate.h"

#include "ferry_kafka.h"
#include "ferry_buf.h"
#include "cdc_repl.h"
#include "ferry_log.h"
#include "ferry_wire.h"
#include "map_kafka.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

/* For log lines only; the records carry ferry_wire's status names. */
static const char *const state_names[] = {"none", FERRY_WIRE_V_SNAP_STARTED,
                                          FERRY_WIRE_V_SNAP_COMPLETE};

static void
topic_name(const map_config_t *cfg, ferry_buf_t *name)
{
    ferry_buf_init(name);
    ferry_wire_topic_append(name, cfg->kafka_topic_prefix,
                            FERRY_WIRE_TOPIC_SNAPSHOT);
}

int
cdc_snapstate_write(cdc_producer_t *prod, const map_config_t *cfg,
                    cdc_snapstate_t state, uint64_t lsn, ferry_err_t *err)
{
    ferry_buf_t name, key, val;
    rd_kafka_topic_t *topic = NULL;
    ferry_wire_snaprec_t rec = {.slot = cfg->source_slot,
                                .status = state == CDC_SNAPSTATE_COMPLETE
                                              ? FERRY_WIRE_SNAP_COMPLETE
                                              : FERRY_WIRE_SNAP_STARTED,
                                .lsn = lsn,
                                .ts_ms = (int64_t)time(NULL) * 1000};
    int rc;

    topic_name(cfg, &name);
    if (ferry_buf_status(&name, err, "naming the snapshot topic") != FERRY_OK ||
        (topic = cdc_producer_topic(prod, ferry_buf_cstr(&name), err)) ==
            NULL) {
        ferry_buf_close(&name);
        return FERRY_EFATAL;
    }
    ferry_buf_init(&key);
    ferry_buf_init(&val);
    ferry_wire_snaprec_key(&key, cfg->source_slot);
    ferry_wire_snaprec_value(&val, &rec);
    if ((rc = ferry_buf_status(&key, err, "building the snapshot state")) ==
            FERRY_OK &&
        (rc = ferry_buf_status(&val, err, "building the snapshot state")) ==
            FERRY_OK &&
        (rc = cdc_producer_send_to(prod, topic, 0, key.data, key.len, val.data,
                                   val.len, err)) == FERRY_OK)
        rc = cdc_producer_flush(prod, 60000, err);
    ferry_buf_close(&key);
    ferry_buf_close(&val);
    if (rc != FERRY_OK)
        rc = ferry_err_prefix(err,
                              "could not record the snapshot state of "
                              "slot \"%s\" on topic \"%s\"",
                              cfg->source_slot, ferry_buf_cstr(&name));
    else
        ferry_info("slot \"%s\": snapshot %s at " FERRY_LSN_FMT
                   " recorded on \"%s\"",
                   cfg->source_slot, state_names[state], FERRY_LSN_ARGS(lsn),
                   ferry_buf_cstr(&name));
    ferry_buf_close(&name);
    return rc;
}

/* A consumer for cfg's brokers, with the mapping's properties (TLS, SASL);
 * producer-only properties are ignored, quietly (log_level 3). */
static rd_kafka_t *
new_consumer(const map_config_t *cfg, ferry_err_t *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    rd_kafka_t *rk;

    if (map_kafka_conf(cfg, conf, err) != 0 ||
        ferry_kafka_conf_set(conf, "log_level", "3", err) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        ferry_err_set(err, FERRY_ECONFIG, "could not create a consumer: %s",
                      errstr);
        return NULL;
    }
    return rk;
}

/* Applies one record: only the slot's own records count (not the records
 * of its tables' re-snapshots), and a record that does not decode is
 * skipped, as one of another program would be. */
static void
apply_record(const map_config_t *cfg, const rd_kafka_message_t *m,
             cdc_snapstate_t *state)
{
    ferry_wire_snaprec_t rec;

    if (m->payload == NULL ||
        ferry_wire_snaprec_decode(m->payload, m->len, &rec, NULL) != FERRY_OK)
        return;
    if (strcmp(rec.slot, cfg->source_slot) == 0 &&
        !ferry_wire_snap_is_table(rec.status))
        *state = rec.status == FERRY_WIRE_SNAP_COMPLETE ? CDC_SNAPSTATE_COMPLETE
                                                        : CDC_SNAPSTATE_STARTED;
    ferry_wire_snaprec_clear(&rec);
}

/* Reads partition 0 from lo up to hi. */
static int
read_range(rd_kafka_t *rk, const map_config_t *cfg, const char *name,
           int64_t lo, int64_t hi, cdc_snapstate_t *state, ferry_err_t *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    int64_t next = lo;
    int idle = 0, rc = FERRY_OK;

    if (rkt == NULL || rd_kafka_consume_start(rkt, 0, lo) != 0) {
        if (rkt != NULL)
            rd_kafka_topic_destroy(rkt);
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read topic \"%s\": %s", name,
                             rd_kafka_err2str(rd_kafka_last_error()));
    }
    while (next < hi && idle < 30) {
        rd_kafka_message_t *m = rd_kafka_consume(rkt, 0, 1000);

        if (m == NULL) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            apply_record(cfg, m, state);
            next = m->offset + 1;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not read topic \"%s\": %s", name,
                               rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        if (rc != FERRY_OK)
            break;
    }
    if (rc == FERRY_OK && next < hi)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not read topic \"%s\" up to offset %" PRId64
                           " within 30 s",
                           name, hi);
    rd_kafka_consume_stop(rkt, 0);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int
cdc_snapstate_read(const map_config_t *cfg, cdc_snapstate_t *state,
                   ferry_err_t *err)
{
    ferry_buf_t name;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e;
    rd_kafka_t *rk = NULL;
    int rc = FERRY_OK;

    *state = CDC_SNAPSTATE_NONE;
    topic_name(cfg, &name);
    if ((rc = ferry_buf_status(&name, err, "naming the snapshot topic")) !=
        FERRY_OK)
        goto done;
    if ((rk = new_consumer(cfg, err)) == NULL) {
        rc = FERRY_ECONFIG;
        goto done;
    }
    e = rd_kafka_query_watermark_offsets(rk, ferry_buf_cstr(&name), 0, &lo, &hi,
                                         10000);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        goto done;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not read the offsets of topic \"%s\": %s",
                           ferry_buf_cstr(&name), rd_kafka_err2str(e));
        goto done;
    }
    if (hi > lo)
        rc = read_range(rk, cfg, ferry_buf_cstr(&name), lo, hi, state, err);

done:
    if (rk != NULL)
        rd_kafka_destroy(rk);
    if (rc == FERRY_OK)
        ferry_info("slot \"%s\": last snapshot record on \"%s\": %s",
                   cfg->source_slot, ferry_buf_cstr(&name),
                   state_names[*state]);
    ferry_buf_close(&name);
    return rc;
}
