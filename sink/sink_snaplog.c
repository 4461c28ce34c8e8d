/* ferry-cdc's snapshot records, as the sink reads them.
 * sink/sink_snaplog.c */
#include "sink_snaplog.h"

#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"

#include <inttypes.h>
#include <string.h>

void
sink_snaplog_take(sink_snaplog_t *log, const char *slot,
                  const rd_kafka_message_t *m)
{
    ferry_wire_snaprec_t rec;
    ferry_err_t err = {0, ""};

    if (m->payload == NULL)
        return; /* a tombstone: compaction's business */
    if (ferry_wire_snaprec_decode(m->payload, m->len, &rec, &err) != 0) {
        ferry_warn("snapshot topic offset %" PRId64 ": %s; ignored", m->offset,
                   err.msg);
        return;
    }
    /* A table's re-snapshot while streaming: its rows stream with the
     * changes and are applied as they come (docs/snapshot.md); only the
     * slot's own records start a snapshot load. */
    if (rec.slot != NULL && strcmp(rec.slot, slot) == 0 &&
        ferry_wire_snap_is_table(rec.status)) {
        log->tables++;
    } else if (rec.slot != NULL && strcmp(rec.slot, slot) == 0) {
        log->any = true;
        log->last = rec.status;
        log->last_offset = m->offset;
        if (rec.status == FERRY_WIRE_SNAP_COMPLETE) {
            log->complete = true;
            log->complete_lsn = rec.lsn;
            log->complete_offset = m->offset;
        }
    }
    ferry_wire_snaprec_clear(&rec);
}

bool
sink_snaplog_pending(const sink_snaplog_t *log, bool applied,
                     int64_t applied_record)
{
    if (!log->any)
        return false;
    return !applied || log->last_offset > applied_record;
}

/* Reads the records with c, a client of its own. */
static int
read_with(sink_consumer_t *c, const char *slot, sink_snaplog_t *out,
          ferry_err_t *err)
{
    const char *topic = c->snap_topic > 0 ? c->topics[c->snap_topic] : NULL;
    rd_kafka_topic_partition_list_t *list;
    int64_t lo = 0, hi = 0, deadline;
    rd_kafka_resp_err_t e;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (topic == NULL)
        return 0;
    e = rd_kafka_query_watermark_offsets(c->rk, topic, 0, &lo, &hi, 10000);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return 0;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read the offsets of topic \"%s\": %s",
                             topic, rd_kafka_err2str(e));
    if (hi <= lo)
        return 0;
    if ((list = rd_kafka_topic_partition_list_new(1)) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory reading topic \"%s\"", topic);
    rd_kafka_topic_partition_list_add(list, topic, 0)->offset = lo;
    e = sink_consumer_assign_list(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read topic \"%s\": %s", topic,
                             rd_kafka_err2str(e));
    deadline = ferry_mono_ms() + 30000;
    for (int64_t next = lo; rc == 0 && next < hi;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 200);

        if (m == NULL) {
            if (ferry_mono_ms() > deadline)
                rc = ferry_err_set(err, FERRY_ETRANSIENT,
                                   "could not read topic \"%s\" up to offset "
                                   "%" PRId64 " within 30 s",
                                   topic, hi);
            continue;
        }
        if (m->err == 0 && m->rkt != NULL &&
            strcmp(rd_kafka_topic_name(m->rkt), topic) == 0) {
            sink_snaplog_take(out, slot, m);
            next = m->offset + 1;
        } else if (m->err != 0 && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not read topic \"%s\": %s", topic,
                               rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    if (rc == 0 && out->any)
        ferry_info("slot \"%s\": ferry-cdc's last snapshot record is \"%s\" "
                   "(offset %" PRId64 " of \"%s\")%s",
                   slot,
                   out->last == FERRY_WIRE_SNAP_COMPLETE
                       ? FERRY_WIRE_V_SNAP_COMPLETE
                       : FERRY_WIRE_V_SNAP_STARTED,
                   out->last_offset, topic,
                   out->complete ? "" : "; no snapshot completed yet");
    return rc;
}

int
sink_snaplog_read(const map_config_t *cfg, sink_snaplog_t *out,
                  ferry_err_t *err)
{
    sink_consumer_t c;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    rc = sink_consumer_open(&c, cfg, NULL, err);
    if (rc == 0)
        rc = read_with(&c, cfg->source_slot, out, err);
    sink_consumer_close(&c);
    return rc;
}
