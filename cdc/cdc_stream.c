/* The streaming loop: replication slot -> events -> Kafka -> confirmed LSN.
 * cdc/cdc_stream.c */
#include "cdc_stream.h"

#include "ferry_buf.h"
#include "cdc_envelope.h"
#include "cdc_incsnap.h"
#include "cdc_lsnwin.h"
#include "cdc_nan.h"
#include "cdc_producer.h"
#include "cdc_repl.h"
#include "cdc_schema.h"
#include "cdc_tables.h"
#include "cdc_topics.h"
#include "cdc_w2j.h"
#include "map_slot.h"
#include "ferry_log.h"
#include "ferry_time.h"
#include "ferry_version.h"
#include "ferry_wire.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A table's re-snapshot whose last chunk is published and not yet
 * acknowledged: its table_complete record waits for the mark. */
typedef struct resnap_done {
    size_t ti;     /* the table */
    uint64_t lsn;  /* its last chunk's watermark */
    uint64_t mark; /* cdc_lsnwin_next_seq() after its last row */
} resnap_done_t;

typedef struct stream {
    const map_config_t *cfg;           /* borrowed */
    const cdc_stream_opts_t *opts;     /* borrowed */
    volatile sig_atomic_t *stop;       /* borrowed: set by signals */
    PGconn *repl;                      /* owned: replication connection */
    PGconn *sql;                       /* owned: catalog and WAL checks */
    cdc_tables_t *tables;              /* owned */
    rd_kafka_topic_t **topics;         /* owned array, handles borrowed */
    rd_kafka_topic_t *tx_topic;        /* borrowed from prod */
    rd_kafka_topic_t *hb_topic;        /* borrowed from prod */
    rd_kafka_topic_t *schema_topic;    /* borrowed from prod */
    rd_kafka_topic_t *snap_topic;      /* borrowed from prod */
    cdc_lsnwin_t *win;                 /* owned */
    cdc_producer_t *prod;              /* owned */
    cdc_env_t env;                     /* owned */
    cdc_env_tx_t tx;                   /* owned: the open transaction */
    bool tx_open;                      /* between B and C */
    bool tx_announced;                 /* its BEGIN event is published */
    cdc_w2j_msg_t msg;                 /* owned: the parsed message */
    cdc_repl_msg_t rmsg;               /* owned: the raw message */
    ferry_buf_t key, val;              /* owned: reused for every event */
    uint64_t received;                 /* highest server LSN seen */
    uint64_t sent_confirmed;           /* last flush LSN sent */
    int64_t last_feedback;             /* monotonic ms of the last one */
    int64_t next_feedback, next_hb;    /* monotonic ms deadlines */
    int64_t next_walcheck, next_stats; /* monotonic ms deadlines */
    int64_t next_slotcheck;            /* monotonic ms: the WAL guard */
    int64_t wal_warned;                /* monotonic ms of its last warning */
    char wal_status[16];               /* the slot's, as last read */
    int64_t next_poke;                 /* endpos: next keepalive request */
    uint64_t events, stats_events;     /* row events published */
    bool endpos_reached;               /* stop once all is confirmed */
    bool warned_unknown;               /* said once about a stray table */
    cdc_incsnap_t *inc;                /* owned: re-snapshots */
    int64_t resnap_retry_at;           /* monotonic ms: no chunk read before */
    resnap_done_t *done;               /* owned: completions awaiting acks */
    size_t ndone, capdone;             /* entries in done, allocated */
    cdc_schema_t *schema;              /* owned: schema-change checks */
    cdc_repl_table_t *add_tables;      /* owned array of borrowed names:
                                          the tables and the signal table */
    size_t nadd;                       /* entries in add_tables */
    char *signal_schema;               /* owned: the signal table's schema
                                          (the text before its first dot) */
} stream_t;

void
cdc_stream_opts_init(cdc_stream_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->status_interval_ms = 10000;
    opts->heartbeat_interval_ms = 10000;
    opts->max_retained_wal = UINT64_C(1) << 30;
    opts->min_safe_wal = UINT64_C(1) << 30;
    opts->max_inflight = 100000;
    opts->max_reconnect_ms = 30000;
    opts->snapshot_mode = CDC_SNAPSHOT_INITIAL;
    cdc_snapshot_opts_init(&opts->snapshot);
    opts->resnapshot_chunk = 1024;
}

/* Sends the confirmable LSN to the server. */
static int
send_feedback(stream_t *s, bool reply, ferry_err_t *err)
{
    uint64_t lsn = cdc_lsnwin_confirmable(s->win);
    int rc;

    if (s->repl == NULL)
        return FERRY_OK;
    rc = cdc_repl_feedback(s->repl, lsn, lsn, reply, err);
    if (rc == FERRY_OK) {
        if (lsn != s->sent_confirmed)
            ferry_debug("slot \"%s\": confirmed " FERRY_LSN_FMT,
                        s->cfg->source_slot, FERRY_LSN_ARGS(lsn));
        s->sent_confirmed = lsn;
        s->last_feedback = ferry_mono_ms();
        s->next_feedback = s->last_feedback + s->opts->status_interval_ms;
    }
    return rc;
}

/* Keeps the replication connection alive while waiting on Kafka. */
static int
tick(stream_t *s, ferry_err_t *err)
{
    if (ferry_mono_ms() >= s->next_feedback)
        return send_feedback(s, false, err);
    return FERRY_OK;
}

static int
wait_kafka(stream_t *s, int ms, ferry_err_t *err)
{
    int rc = cdc_producer_poll(s->prod, ms, err);

    return rc != FERRY_OK ? rc : tick(s, err);
}

/* Produces one message to partition (RD_KAFKA_PARTITION_UA: by key),
 * waiting out a full window or queue. */
static int
publish_to(stream_t *s, rd_kafka_topic_t *topic, int32_t partition,
           const ferry_buf_t *key, const void *val, size_t vlen,
           ferry_err_t *err)
{
    int rc;

    for (;;) {
        while (cdc_lsnwin_full(s->win)) {
            if ((rc = wait_kafka(s, 50, err)) != FERRY_OK)
                return rc;
        }
        rc = cdc_producer_send_to(s->prod, topic, partition,
                                  key->len ? key->data : NULL, key->len, val,
                                  vlen, err);
        if (rc != FERRY_ETRANSIENT)
            return rc;
        if ((rc = wait_kafka(s, 50, err)) != FERRY_OK)
            return rc;
    }
}

/* Produces one message by key, as publish_to() does. */
static int
publish(stream_t *s, rd_kafka_topic_t *topic, const ferry_buf_t *key,
        const void *val, size_t vlen, ferry_err_t *err)
{
    return publish_to(s, topic, RD_KAFKA_PARTITION_UA, key, val, vlen, err);
}

static int
publish_tx_event(stream_t *s, bool begin, ferry_err_t *err)
{
    int rc;

    ferry_buf_reset(&s->key);
    ferry_buf_reset(&s->val);
    cdc_env_tx_key(&s->tx, &s->key);
    if (begin)
        cdc_env_tx_begin_value(&s->tx, &s->val);
    else
        cdc_env_tx_end_value(&s->tx, &s->val);
    if ((rc = ferry_buf_status(
             &s->key, err, "building the %s event of transaction %" PRIu64,
             begin ? "BEGIN" : "END", s->tx.xid)) != FERRY_OK ||
        (rc = ferry_buf_status(&s->val, err,
                               "building the %s event of transaction %" PRIu64,
                               begin ? "BEGIN" : "END", s->tx.xid)) != FERRY_OK)
        return rc;
    return publish(s, s->tx_topic, &s->key, s->val.data, s->val.len, err);
}

static int
emit(stream_t *s, const cdc_table_t *t, cdc_env_part_t part, bool tombstone,
     ferry_err_t *err)
{
    rd_kafka_topic_t *topic = s->topics[cdc_tables_index(s->tables, t)];
    cdc_env_row_t row = {
        &s->msg, t, part, CDC_ENV_SNAPSHOT_FALSE, {0, 0}, ferry_wall_us()};
    int rc;

    if ((rc = cdc_env_tx_count(&s->tx, t, &row.order, err)) != FERRY_OK)
        return rc;
    ferry_buf_reset(&s->key);
    ferry_buf_reset(&s->val);
    if ((rc = cdc_env_row_key(&row, &s->key, err)) != FERRY_OK ||
        (rc = cdc_env_row_value(&s->env, &s->tx, &row, &s->val, err)) !=
            FERRY_OK)
        return rc;
    cdc_incsnap_on_change(s->inc, t, s->key.data, s->key.len,
                          s->msg.action == 'T');
    if ((rc = publish(s, topic, &s->key, s->val.data, s->val.len, err)) !=
        FERRY_OK)
        return rc;
    s->events++;
    if (!tombstone)
        return FERRY_OK;
    ferry_buf_reset(&s->key);
    if ((rc = cdc_env_tombstone_key(&row, &s->key, err)) != FERRY_OK)
        return rc;
    return publish(s, topic, &s->key, NULL, 0, err);
}

/* Publishes the schema-change record a check left in s->key and s->val;
 * a re-snapshot of the table starts again by itself (its generation). */
static int
announce(stream_t *s, const cdc_schema_result_t *res, ferry_err_t *err)
{
    if (!res->announce)
        return FERRY_OK;
    return publish(s, s->schema_topic, &s->key, s->val.data, s->val.len, err);
}

/* Compares the change with its table's description and announces a
 * schema change before the event that revealed it. */
static int
check_schema(stream_t *s, size_t ti, ferry_err_t *err)
{
    cdc_schema_result_t res;
    int rc = cdc_schema_on_change(s->schema, s->sql, ti, &s->msg, &s->key,
                                  &s->val, &res, err);

    return rc != FERRY_OK ? rc : announce(s, &res, err);
}

static int
handle_row(stream_t *s, ferry_err_t *err)
{
    const cdc_table_t *t =
        cdc_tables_find(s->tables, s->msg.schema, s->msg.table);
    size_t ti;
    int rc;

    if (t == NULL && cdc_incsnap_is_signal(s->inc, &s->msg)) {
        cdc_incsnap_signal(s->inc, &s->msg);
        return FERRY_OK;
    }
    if (t == NULL) {
        if (!s->warned_unknown)
            ferry_warn("slot \"%s\": skipping changes of a table that is not "
                       "mapped (%.*s.%.*s)",
                       s->cfg->source_slot, (int)s->msg.schema.len,
                       s->msg.schema.ptr, (int)s->msg.table.len,
                       s->msg.table.ptr);
        s->warned_unknown = true;
        return FERRY_OK;
    }
    if (!s->tx_open)
        return ferry_err_set(err, FERRY_EFATAL, "change outside a transaction");
    ti = cdc_tables_index(s->tables, t);
    if ((rc = check_schema(s, ti, err)) != FERRY_OK ||
        (rc = cdc_nan_recover(s->tables, ti, &s->msg, s->sql, err)) != FERRY_OK)
        return rc;
    if (!s->tx_announced) {
        if ((rc = publish_tx_event(s, true, err)) != FERRY_OK)
            return rc;
        s->tx_announced = true;
    }
    if (s->msg.action == 'U' && cdc_env_key_changed(&s->msg, t)) {
        if ((rc = emit(s, t, CDC_ENV_KEY_CHANGE_DELETE, true, err)) == FERRY_OK)
            rc = emit(s, t, CDC_ENV_KEY_CHANGE_CREATE, false, err);
    } else {
        rc = emit(s, t, CDC_ENV_WHOLE, s->msg.action == 'D', err);
    }
    if (rc == FERRY_OK)
        cdc_metrics_event(s->opts->metrics, ti,
                          s->msg.action == 'I'   ? CDC_METRICS_INSERT
                          : s->msg.action == 'U' ? CDC_METRICS_UPDATE
                          : s->msg.action == 'D' ? CDC_METRICS_DELETE
                                                 : CDC_METRICS_TRUNCATE);
    return rc;
}

/* Publishes a re-snapshot record of table ti on partition 0 of the
 * snapshot topic (common/ferry_wire.h), through the window. */
static int
publish_table_record(stream_t *s, size_t ti, ferry_wire_snap_status_t status,
                     uint64_t lsn, ferry_err_t *err)
{
    const cdc_table_t *t = cdc_tables_get(s->tables, ti);
    ferry_wire_snaprec_t rec = {.slot = s->cfg->source_slot,
                                .status = status,
                                .schema = t->schema,
                                .table = t->table,
                                .lsn = lsn,
                                .ts_ms = ferry_wall_ms()};
    int rc;

    ferry_buf_reset(&s->key);
    ferry_buf_reset(&s->val);
    ferry_wire_snaprec_table_key(&s->key, s->cfg->source_slot, t->schema,
                                 t->table);
    ferry_wire_snaprec_value(&s->val, &rec);
    if ((rc = ferry_buf_status(&s->key, err,
                               "building the re-snapshot record of table "
                               "\"%s.%s\"",
                               t->schema, t->table)) != FERRY_OK ||
        (rc = ferry_buf_status(&s->val, err,
                               "building the re-snapshot record of table "
                               "\"%s.%s\"",
                               t->schema, t->table)) != FERRY_OK ||
        (rc = publish_to(s, s->snap_topic, 0, &s->key, s->val.data, s->val.len,
                         err)) != FERRY_OK)
        return rc;
    ferry_info(
        "slot \"%s\": re-snapshot of table \"%s.%s\" %s at " FERRY_LSN_FMT,
        s->cfg->source_slot, t->schema, t->table,
        status == FERRY_WIRE_SNAP_TABLE_STARTED ? "started"
                                                : "recorded complete",
        FERRY_LSN_ARGS(lsn));
    return FERRY_OK;
}

/* Publishes what is left of a re-snapshot chunk at its watermark: first
 * the table's table_started record when it is its first chunk, then the
 * rows; after the last chunk, its table_complete record waits until the
 * rows are acknowledged (publish_done()). */
static int
publish_chunk(stream_t *s, ferry_err_t *err)
{
    const char *key, *val;
    size_t ti, klen, vlen;
    uint64_t lsn;
    bool first, last;
    int rc;

    cdc_incsnap_chunk(s->inc, &ti, &lsn, &first, &last);
    if (first &&
        (rc = publish_table_record(s, ti, FERRY_WIRE_SNAP_TABLE_STARTED, lsn,
                                   err)) != FERRY_OK)
        return rc;
    while (cdc_incsnap_next_row(s->inc, &ti, &key, &klen, &val, &vlen)) {
        ferry_buf_t k = {(char *)key, klen, klen + 1, false};

        if ((rc = publish(s, s->topics[ti], &k, val, vlen, err)) != FERRY_OK)
            return rc;
        s->events++;
    }
    if (!last)
        return FERRY_OK;
    if (s->ndone == s->capdone) {
        size_t cap = s->capdone ? s->capdone * 2 : 4;
        resnap_done_t *v = realloc(s->done, cap * sizeof(*v));

        if (v == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory recording the end of a "
                                 "re-snapshot");
        s->done = v;
        s->capdone = cap;
    }
    s->done[s->ndone++] = (resnap_done_t){ti, lsn, cdc_lsnwin_next_seq(s->win)};
    return FERRY_OK;
}

/* Publishes the table_complete record of every re-snapshot whose rows are
 * all acknowledged now. */
static int
publish_done(stream_t *s, ferry_err_t *err)
{
    int rc;

    while (s->ndone > 0 && cdc_lsnwin_acked_before(s->win, s->done[0].mark)) {
        resnap_done_t d = s->done[0];

        memmove(s->done, s->done + 1, (s->ndone - 1) * sizeof(*s->done));
        s->ndone--;
        if ((rc = publish_table_record(s, d.ti, FERRY_WIRE_SNAP_TABLE_COMPLETE,
                                       d.lsn, err)) != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* Reads the next re-snapshot chunk when one is due.  A failure is retried
 * at the next turn of the loop. */
static void
resnapshot_step(stream_t *s)
{
    ferry_err_t e = {0, ""};

    if (!cdc_incsnap_want_chunk(s->inc) || ferry_mono_ms() < s->resnap_retry_at)
        return;
    /* A table's re-snapshot ends with its table_complete record, which
     * waits for Kafka's acknowledgements: the next table starts after it,
     * so that the records of one signal's tables never interleave (a
     * child's table_started came before its parent's table_complete). */
    if (s->ndone > 0)
        return;
    if (cdc_incsnap_read_chunk(s->inc, s->sql, &e) != FERRY_OK) {
        /* A table changed under the chunk's query, say, until the stream
         * reaches the change: try again in a second, not at every turn. */
        ferry_warn("slot \"%s\": %s; retrying in a second", s->cfg->source_slot,
                   e.msg);
        s->resnap_retry_at = ferry_mono_ms() + 1000;
        if (PQstatus(s->sql) == CONNECTION_BAD)
            PQreset(s->sql);
    }
}

static int
handle_logical_message(stream_t *s, ferry_err_t *err)
{
    cdc_schema_result_t res;
    bool ddl;
    int rc = cdc_schema_on_message(s->schema, s->sql, &s->msg, &ddl, &s->key,
                                   &s->val, &res, err);

    if (rc != FERRY_OK || ddl)
        return rc != FERRY_OK ? rc : announce(s, &res, err);
    if (!cdc_incsnap_on_message(s->inc, &s->msg))
        return FERRY_OK;
    return publish_chunk(s, err);
}

static int
handle_data(stream_t *s, const cdc_repl_msg_t *m, ferry_err_t *err)
{
    int rc = cdc_w2j_parse(&s->msg, m->data, m->len, err);

    if (rc != FERRY_OK)
        return ferry_err_prefix(err, "slot \"%s\" at LSN " FERRY_LSN_FMT,
                                s->cfg->source_slot,
                                FERRY_LSN_ARGS(m->wal_start));
    switch (s->msg.action) {
    case 'B':
        if (s->opts->endpos && s->msg.has_lsn && s->msg.lsn > s->opts->endpos) {
            s->endpos_reached = true;
            return FERRY_OK;
        }
        if ((rc = cdc_env_tx_begin(&s->tx, &s->msg, err)) != FERRY_OK)
            break;
        s->tx_open = true;
        s->tx_announced = false;
        return FERRY_OK;
    case 'C':
        if (s->tx_announced && (rc = publish_tx_event(s, false, err)) != 0)
            break;
        s->tx_open = false;
        s->tx_announced = false;
        cdc_lsnwin_commit(s->win,
                          s->msg.has_nextlsn ? s->msg.nextlsn : m->wal_start);
        cdc_metrics_commit(s->opts->metrics,
                           s->msg.has_nextlsn ? s->msg.nextlsn : m->wal_start,
                           s->tx.commit_ts_ms);
        return FERRY_OK;
    case 'I':
    case 'U':
    case 'D':
    case 'T':
        rc = handle_row(s, err);
        break;
    case 'M':
        /* Logical messages are not published; one may announce DDL or
         * close a re-snapshot chunk's window. */
        rc = handle_logical_message(s, err);
        break;
    default:
        return FERRY_OK;
    }
    if (rc != FERRY_OK)
        ferry_err_prefix(err, "slot \"%s\" at LSN " FERRY_LSN_FMT,
                         s->cfg->source_slot, FERRY_LSN_ARGS(m->wal_start));
    return rc;
}

/* The WAL-retention guard, at every status interval: what
 * pg_replication_slots says of the slot goes to the metrics, and a slot in
 * danger is said plainly (at once when its wal_status changes, else at
 * most once a minute). */
static void
check_slot(stream_t *s, int64_t now)
{
    const char *slot = s->cfg->source_slot;
    ferry_err_t e = {0, ""};
    bool changed, repeat = now - s->wal_warned >= 60000;
    map_slot_t st;

    if (s->sql == NULL)
        return;
    if (map_slot_read(s->sql, slot, &st, &e) != 0) {
        if (PQstatus(s->sql) == CONNECTION_BAD)
            PQreset(s->sql);
        if (repeat) {
            ferry_warn("slot \"%s\": %s", slot, e.msg);
            s->wal_warned = now;
        }
        return;
    }
    if (!st.exists)
        return;
    cdc_metrics_slot(s->opts->metrics, &st);
    changed =
        strcmp(st.wal_status, s->wal_status) != 0 && s->wal_status[0] != '\0';
    snprintf(s->wal_status, sizeof(s->wal_status), "%s", st.wal_status);
    if (strcmp(st.wal_status, "unreserved") == 0 && (changed || repeat)) {
        ferry_error("slot \"%s\" is about to be invalidated (wal_status "
                    "unreserved): it retains %" PRId64 " MB of WAL, past "
                    "max_slot_wal_keep_size, and the next checkpoint may "
                    "remove WAL it needs; ferry-cdc would then have to take "
                    "a new snapshot (--snapshot when_needed).  Raise "
                    "max_slot_wal_keep_size now (ALTER SYSTEM SET "
                    "max_slot_wal_keep_size = ...; SELECT pg_reload_conf()), "
                    "and make sure ferry-cdc confirms (Kafka reachable, "
                    "%zu messages in flight); docs/runbook.md, \"WAL "
                    "retention\"",
                    slot, st.retained_bytes >> 20, cdc_lsnwin_inflight(s->win));
        s->wal_warned = now;
    } else if (strcmp(st.wal_status, "lost") == 0 && (changed || repeat)) {
        ferry_error("slot \"%s\" was invalidated (wal_status lost): its WAL "
                    "is gone; restart ferry-cdc with --snapshot when_needed "
                    "to take a new snapshot",
                    slot);
        s->wal_warned = now;
    } else if (s->opts->min_safe_wal > 0 && st.safe_known &&
               st.safe_bytes < (int64_t)s->opts->min_safe_wal &&
               (changed || repeat)) {
        ferry_warn("slot \"%s\": only %" PRId64 " MB of WAL can still be "
                   "written before the slot is invalidated (safe_wal_size, "
                   "limit --min-safe-wal %" PRIu64 " MB); it retains %" PRId64
                   " MB",
                   slot, st.safe_bytes >> 20, s->opts->min_safe_wal >> 20,
                   st.retained_bytes >> 20);
        s->wal_warned = now;
    } else if (s->opts->max_retained_wal > 0 &&
               st.retained_bytes > (int64_t)s->opts->max_retained_wal &&
               (changed || repeat)) {
        ferry_warn("slot \"%s\" retains %" PRId64 " MB of WAL (limit "
                   "--max-retained-wal %" PRIu64 " MB, wal_status %s): the "
                   "source keeps WAL until ferry-cdc confirms it "
                   "(confirmed " FERRY_LSN_FMT ", %zu messages in flight)",
                   slot, st.retained_bytes >> 20,
                   s->opts->max_retained_wal >> 20, st.wal_status,
                   FERRY_LSN_ARGS(cdc_lsnwin_confirmable(s->win)),
                   cdc_lsnwin_inflight(s->win));
        s->wal_warned = now;
    } else if (changed) {
        ferry_info("slot \"%s\": wal_status is %s", slot, st.wal_status);
    }
}

/* Publishes {"ts_ms":..,"lsn":"X/X"} with the LSN that can be confirmed
 * now (common/ferry_wire.h). */
static int
send_heartbeat(stream_t *s, ferry_err_t *err)
{
    int rc;

    ferry_buf_reset(&s->key);
    ferry_buf_reset(&s->val);
    ferry_wire_heartbeat_key(&s->key, s->cfg->kafka_topic_prefix);
    ferry_wire_heartbeat_value(&s->val, ferry_wall_ms(),
                               cdc_lsnwin_confirmable(s->win));
    if ((rc = ferry_buf_status(&s->key, err,
                               "building a heartbeat of slot \"%s\"",
                               s->cfg->source_slot)) != FERRY_OK ||
        (rc = ferry_buf_status(&s->val, err,
                               "building a heartbeat of slot \"%s\"",
                               s->cfg->source_slot)) != FERRY_OK)
        return rc;
    return publish(s, s->hb_topic, &s->key, s->val.data, s->val.len, err);
}

/* Timed work: feedback, heartbeats, WAL retention, progress lines. */
static int
periodic(stream_t *s, ferry_err_t *err)
{
    int64_t now = ferry_mono_ms();
    int rc;

    /* Confirm progress within a second, and say we are alive at least
     * every status interval. */
    if (now >= s->next_feedback ||
        (cdc_lsnwin_confirmable(s->win) != s->sent_confirmed &&
         now >= s->last_feedback + 1000)) {
        if ((rc = send_feedback(s, false, err)) != FERRY_OK)
            return rc;
    }
    if (s->opts->endpos && now >= s->next_poke) {
        /* Ask for a keepalive so that an idle server tells us its end of
         * WAL and we can see endpos reached. */
        if ((rc = send_feedback(s, true, err)) != FERRY_OK)
            return rc;
        s->next_poke = now + 500;
    }
    if (s->opts->heartbeat_interval_ms > 0 && now >= s->next_hb) {
        s->next_hb = now + s->opts->heartbeat_interval_ms;
        if ((rc = send_heartbeat(s, err)) != FERRY_OK)
            return rc;
    }
    cdc_metrics_tick(s->opts->metrics, cdc_lsnwin_confirmable(s->win),
                     cdc_lsnwin_inflight(s->win));
    if (now >= s->next_slotcheck) {
        s->next_slotcheck = now + s->opts->status_interval_ms;
        check_slot(s, now);
    }
    if (now >= s->next_walcheck) {
        ferry_err_t e = {0, ""};

        s->next_walcheck = now + 60000;
        if (cdc_schema_check_trigger(s->schema, s->sql, &e) != FERRY_OK)
            ferry_warn("slot \"%s\": %s", s->cfg->source_slot, e.msg);
    }
    if (s->ndone > 0 && (rc = publish_done(s, err)) != FERRY_OK)
        return rc;
    if (now >= s->next_stats) {
        double secs = (now - s->next_stats + 10000) / 1000.0;

        if (s->events != s->stats_events || s->next_stats == 0)
            ferry_info("slot \"%s\": confirmed " FERRY_LSN_FMT
                       ", received " FERRY_LSN_FMT ", %" PRIu64
                       " events (%.0f/s), %zu in flight",
                       s->cfg->source_slot,
                       FERRY_LSN_ARGS(cdc_lsnwin_confirmable(s->win)),
                       FERRY_LSN_ARGS(s->received), s->events,
                       (s->events - s->stats_events) / (secs > 0 ? secs : 1),
                       cdc_lsnwin_inflight(s->win));
        s->stats_events = s->events;
        s->next_stats = now + 10000;
    }
    return FERRY_OK;
}

static int
handle_message(stream_t *s, ferry_err_t *err)
{
    cdc_repl_msg_t *m = &s->rmsg;

    if (m->wal_end > s->received)
        s->received = m->wal_end;
    if (m->kind == CDC_REPL_KEEPALIVE) {
        /* Between transactions, everything the server decoded up to
         * wal_end has reached us: once acknowledged it may be confirmed,
         * so the slot moves on while the mapped tables are idle. */
        if (!s->tx_open)
            cdc_lsnwin_commit(s->win, m->wal_end);
        if (s->opts->endpos && !s->tx_open && m->wal_end >= s->opts->endpos)
            s->endpos_reached = true;
        return m->reply_requested ? send_feedback(s, false, err) : FERRY_OK;
    }
    if (s->opts->endpos && !s->tx_open && m->wal_start > s->opts->endpos) {
        s->endpos_reached = true;
        return FERRY_OK;
    }
    return handle_data(s, m, err);
}

/* One replication session; returns FERRY_OK on stop or endpos,
 * FERRY_ETRANSIENT when the connection is lost. */
static int
stream_session(stream_t *s, ferry_err_t *err)
{
    uint64_t start = cdc_lsnwin_confirmable(s->win);
    int rc;

    s->repl = cdc_repl_connect(s->cfg->source_dsn, err);
    if (s->repl == NULL)
        return FERRY_ETRANSIENT;
    rc = cdc_repl_start(s->repl, s->cfg->source_slot, start, s->add_tables,
                        s->nadd, err);
    if (rc != FERRY_OK)
        return rc;
    cdc_metrics_phase(s->opts->metrics, true, NULL);
    s->tx_open = false;
    s->next_feedback = 0;
    while (!*s->stop && !s->endpos_reached) {
        if ((rc = cdc_producer_poll(s->prod, 0, err)) != FERRY_OK ||
            (rc = periodic(s, err)) != FERRY_OK)
            return rc;
        resnapshot_step(s);
        if (cdc_lsnwin_full(s->win)) {
            if ((rc = wait_kafka(s, 50, err)) != FERRY_OK)
                return rc;
            continue;
        }
        rc = cdc_repl_read(s->repl, &s->rmsg, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            cdc_repl_wait(s->repl, 100);
            continue;
        }
        if ((rc = handle_message(s, err)) != FERRY_OK)
            return rc;
    }
    return FERRY_OK;
}

/* Ends the session cleanly: everything acknowledged, the final LSN
 * confirmed, and the stream closed so that the server has processed it. */
static int
finish_session(stream_t *s, int flush_ms, ferry_err_t *err)
{
    int rc = cdc_producer_flush(s->prod, flush_ms, err);
    PGresult *res;

    /* A re-snapshot whose last rows were just acknowledged still records
     * its end. */
    if (rc == FERRY_OK && s->ndone > 0 &&
        (rc = publish_done(s, err)) == FERRY_OK)
        rc = cdc_producer_flush(s->prod, flush_ms, err);

    if (s->repl == NULL || PQstatus(s->repl) != CONNECTION_OK)
        return rc;
    if (send_feedback(s, false, NULL) == FERRY_OK &&
        PQputCopyEnd(s->repl, NULL) == 1 && PQflush(s->repl) == 0) {
        int64_t deadline = ferry_mono_ms() + 5000;

        /* Drain until the server ends the stream. */
        while (ferry_mono_ms() < deadline) {
            char *buf = NULL;
            int n = PQgetCopyData(s->repl, &buf, 1);

            if (buf != NULL)
                PQfreemem(buf);
            if (n == -1 || n == -2)
                break;
            if (n == 0) {
                if (PQconsumeInput(s->repl) == 0)
                    break;
                cdc_repl_wait(s->repl, 100);
            }
        }
        while ((res = PQgetResult(s->repl)) != NULL)
            PQclear(res);
    }
    ferry_info(
        "slot \"%s\": confirmed " FERRY_LSN_FMT " after %" PRIu64 " events",
        s->cfg->source_slot, FERRY_LSN_ARGS(s->sent_confirmed), s->events);
    return rc;
}

static void
close_session(stream_t *s)
{
    cdc_repl_msg_clear(&s->rmsg);
    if (s->repl != NULL)
        PQfinish(s->repl);
    s->repl = NULL;
}

/* Decides on the snapshot, takes it when due, and sets the LSN where
 * streaming starts. */
static int
prepare_slot(stream_t *s, uint64_t *start, ferry_err_t *err)
{
    cdc_snapshot_ctx_t ctx = {s->cfg,  s->tables, s->prod,         s->topics,
                              &s->env, s->stop,   s->opts->metrics};

    return cdc_handoff_prepare(&ctx, s->sql, s->opts->snapshot_mode,
                               &s->opts->snapshot, start, err);
}

/* The re-snapshot state, and the tables wal2json decodes: the captured
 * ones and the signal table. */
static int
setup_resnapshot(stream_t *s, ferry_err_t *err)
{
    size_t n = cdc_tables_count(s->tables);

    s->inc = cdc_incsnap_new(s->tables, &s->env, s->opts->signal_table,
                             s->opts->resnapshot_chunk);
    s->schema = cdc_schema_new(s->tables, s->cfg->source_slot);
    s->add_tables = calloc(n + 2, sizeof(*s->add_tables));
    if (s->inc == NULL || s->add_tables == NULL || s->schema == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory preparing the re-snapshots of "
                             "slot \"%s\"",
                             s->cfg->source_slot);
    for (size_t i = 0; i < n; i++) {
        const cdc_table_t *t = cdc_tables_get(s->tables, i);

        s->add_tables[i] = (cdc_repl_table_t){t->schema, t->table};
    }
    s->nadd = n;
    if (s->opts->signal_table != NULL) {
        const char *dot = strchr(s->opts->signal_table, '.');

        if (dot == NULL || (s->signal_schema = strndup(
                                s->opts->signal_table,
                                (size_t)(dot - s->opts->signal_table))) == NULL)
            return ferry_err_set(
                err, dot == NULL ? FERRY_ECONFIG : FERRY_ENOMEM,
                "--signal-table \"%s\": %s", s->opts->signal_table,
                dot == NULL ? "expected SCHEMA.TABLE" : "out of memory");
        s->add_tables[s->nadd++] =
            (cdc_repl_table_t){s->signal_schema, dot + 1};
    }
    return FERRY_OK;
}

/* The handle of <prefix>.<kind> (borrowed from prod), or NULL with err
 * set. */
static rd_kafka_topic_t *
control_topic(stream_t *s, ferry_wire_topic_t kind, ferry_err_t *err)
{
    ferry_buf_t name;
    rd_kafka_topic_t *t = NULL;

    ferry_buf_init(&name);
    ferry_wire_topic_append(&name, s->cfg->kafka_topic_prefix, kind);
    if (ferry_buf_status(&name, err, "naming the %s topic",
                         ferry_wire_topic_suffix(kind)) == FERRY_OK)
        t = cdc_producer_topic(s->prod, ferry_buf_cstr(&name), err);
    ferry_buf_close(&name);
    return t;
}

static int
setup(stream_t *s, ferry_err_t *err)
{
    ferry_err_t e = {0, ""};
    uint64_t start = 0;
    size_t n;
    int rc;

    if ((s->sql = cdc_repl_connect_sql(s->cfg->source_dsn, err)) == NULL)
        return err->status;
    if ((rc = cdc_tables_load(s->sql, s->cfg, &s->tables, err)) != FERRY_OK)
        return rc;
    if (s->opts->metrics != NULL &&
        (rc = cdc_metrics_set_tables(s->opts->metrics, s->tables, err)) != 0)
        return rc;
    n = cdc_tables_count(s->tables);
    /* The start LSN is known once the snapshot hand-off is done. */
    s->win = cdc_lsnwin_new(s->opts->max_inflight, 0);
    s->topics = calloc(n + 1, sizeof(*s->topics));
    if (s->win == NULL || s->topics == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory starting the stream of slot "
                             "\"%s\" (%zu tables)",
                             s->cfg->source_slot, n);
    if ((s->prod = cdc_producer_new(s->cfg, s->win, err)) == NULL)
        return err ? err->status : FERRY_EFATAL;
    for (size_t i = 0; i < n; i++) {
        s->topics[i] = cdc_producer_topic(
            s->prod, cdc_tables_get(s->tables, i)->topic, err);
        if (s->topics[i] == NULL)
            return FERRY_ECONFIG;
    }
    if ((s->tx_topic = control_topic(s, FERRY_WIRE_TOPIC_TRANSACTION, err)) ==
            NULL ||
        (s->hb_topic = control_topic(s, FERRY_WIRE_TOPIC_HEARTBEAT, err)) ==
            NULL ||
        (s->schema_topic = control_topic(s, FERRY_WIRE_TOPIC_SCHEMA, err)) ==
            NULL ||
        (s->snap_topic = control_topic(s, FERRY_WIRE_TOPIC_SNAPSHOT, err)) ==
            NULL)
        return err ? err->status : FERRY_ECONFIG;
    /* Before anything is produced: a broker without auto-creation would
     * otherwise refuse the first message. */
    if ((rc = cdc_topics_create(s->cfg, s->prod, err)) != FERRY_OK)
        return rc;
    if ((rc = cdc_env_init(&s->env, FERRY_VERSION, s->cfg->kafka_topic_prefix,
                           PQdb(s->sql), err)) != FERRY_OK ||
        (rc = prepare_slot(s, &start, err)) != FERRY_OK)
        return rc;
    cdc_lsnwin_set_start(s->win, start);
    if ((rc = setup_resnapshot(s, err)) != FERRY_OK)
        return rc;
    if (cdc_schema_check_trigger(s->schema, s->sql, &e) != FERRY_OK)
        ferry_warn("slot \"%s\": %s", s->cfg->source_slot, e.msg);
    return FERRY_OK;
}

static void
teardown(stream_t *s)
{
    close_session(s);
    if (s->prod != NULL)
        cdc_producer_destroy(s->prod, 0);
    cdc_lsnwin_destroy(s->win);
    free(s->topics);
    cdc_incsnap_free(s->inc);
    cdc_schema_free(s->schema);
    free(s->done);
    free(s->add_tables);
    free(s->signal_schema);
    cdc_tables_free(s->tables);
    if (s->sql != NULL)
        PQfinish(s->sql);
    cdc_env_close(&s->env);
    cdc_env_tx_close(&s->tx);
    cdc_w2j_msg_close(&s->msg);
    ferry_buf_close(&s->key);
    ferry_buf_close(&s->val);
}

/* Serves delivery reports when their outcome no longer changes what we
 * do: the window still records every acknowledgement. */
static void
serve_reports(cdc_producer_t *prod)
{
    if (cdc_producer_poll(prod, 0, NULL) != FERRY_OK)
        return;
}

static void
backoff_sleep(stream_t *s, int ms)
{
    for (int waited = 0; waited < ms && !*s->stop; waited += 100) {
        if (s->prod != NULL)
            serve_reports(s->prod);
        cdc_metrics_tick(s->opts->metrics,
                         s->win != NULL ? cdc_lsnwin_confirmable(s->win) : 0,
                         s->win != NULL ? cdc_lsnwin_inflight(s->win) : 0);
        usleep(100 * 1000);
    }
}

int
cdc_stream_run(const map_config_t *cfg, const cdc_stream_opts_t *opts,
               volatile sig_atomic_t *stop, ferry_err_t *err)
{
    stream_t s;
    int rc, delay = 1000;

    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.opts = opts;
    s.stop = stop;
    cdc_env_tx_init(&s.tx);
    cdc_w2j_msg_init(&s.msg);
    ferry_buf_init(&s.key);
    ferry_buf_init(&s.val);
    if ((rc = setup(&s, err)) != FERRY_OK)
        goto done;
    for (;;) {
        rc = stream_session(&s, err);
        if (rc == FERRY_OK) {
            /* Stop or endpos: everything must be acknowledged. */
            rc = finish_session(&s, opts->endpos && !*stop ? -1 : 30000, err);
            break;
        }
        if (rc != FERRY_ETRANSIENT)
            break;
        ferry_warn("%s; reconnecting in %d ms", err ? err->msg : "lost", delay);
        cdc_metrics_reconnect(opts->metrics);
        {
            char why[sizeof(err->msg) + 32];

            snprintf(why, sizeof(why), "reconnecting: %s",
                     err ? err->msg : "lost");
            cdc_metrics_phase(opts->metrics, false, why);
        }
        /* The changes in flight will be sent again from the last confirmed
         * transaction: wait for what Kafka already has, then restart. */
        do {
            rc = cdc_producer_flush(s.prod, 1000, err);
        } while (rc == FERRY_ETRANSIENT && !*stop);
        if (rc != FERRY_OK && !*stop)
            break;
        close_session(&s);
        backoff_sleep(&s, delay);
        if (*stop) {
            rc = cdc_producer_flush(s.prod, 30000, err);
            break;
        }
        delay = delay * 2 > opts->max_reconnect_ms ? opts->max_reconnect_ms
                                                   : delay * 2;
    }
    if (rc != FERRY_OK && s.prod != NULL) {
        /* A permanent error: confirm only what Kafka acknowledged. */
        serve_reports(s.prod);
        if (s.repl != NULL)
            (void)send_feedback(&s, false, NULL);
    }

done:
    teardown(&s);
    return rc;
}
