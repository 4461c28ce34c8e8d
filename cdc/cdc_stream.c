/* The streaming loop: replication slot -> events -> Kafka -> confirmed LSN.
 * cdc/cdc_stream.c */
#include "cdc_stream.h"

#include "ferry_buf.h"
#include "cdc_envelope.h"
#include "cdc_incsnap.h"
#include "cdc_lsnwin.h"
#include "cdc_producer.h"
#include "cdc_repl.h"
#include "cdc_tables.h"
#include "cdc_w2j.h"
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
    int64_t next_poke;                 /* endpos: next keepalive request */
    uint64_t events, stats_events;     /* row events published */
    bool endpos_reached;               /* stop once all is confirmed */
    bool warned_unknown;               /* said once about a stray table */
    cdc_incsnap_t *inc;                /* owned: re-snapshots */
    const char **add_tables;           /* owned array of borrowed names:
                                          the tables and the signal table */
    size_t nadd;                       /* entries in add_tables */
} stream_t;

void
cdc_stream_opts_init(cdc_stream_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->status_interval_ms = 10000;
    opts->heartbeat_interval_ms = 10000;
    opts->max_retained_wal = UINT64_C(1) << 30;
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

/* Produces one message, waiting out a full window or queue. */
static int
publish(stream_t *s, rd_kafka_topic_t *topic, const ferry_buf_t *key,
        const void *val, size_t vlen, ferry_err_t *err)
{
    int rc;

    for (;;) {
        while (cdc_lsnwin_full(s->win)) {
            if ((rc = wait_kafka(s, 50, err)) != FERRY_OK)
                return rc;
        }
        rc = cdc_producer_send(s->prod, topic, key->len ? key->data : NULL,
                               key->len, val, vlen, err);
        if (rc != FERRY_ETRANSIENT)
            return rc;
        if ((rc = wait_kafka(s, 50, err)) != FERRY_OK)
            return rc;
    }
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
        &s->msg, t, part, CDC_ENV_SNAPSHOT_FALSE, {0, 0}, ferry_wall_ms()};
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

static int
handle_row(stream_t *s, ferry_err_t *err)
{
    const cdc_table_t *t =
        cdc_tables_find(s->tables, s->msg.schema, s->msg.table);
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
    if (!s->tx_announced) {
        if ((rc = publish_tx_event(s, true, err)) != FERRY_OK)
            return rc;
        s->tx_announced = true;
    }
    if (s->msg.action == 'U' && cdc_env_key_changed(&s->msg, t)) {
        if ((rc = emit(s, t, CDC_ENV_KEY_CHANGE_DELETE, true, err)) != FERRY_OK)
            return rc;
        return emit(s, t, CDC_ENV_KEY_CHANGE_CREATE, false, err);
    }
    return emit(s, t, CDC_ENV_WHOLE, s->msg.action == 'D', err);
}

/* Publishes what is left of a re-snapshot chunk at its watermark. */
static int
publish_chunk(stream_t *s, ferry_err_t *err)
{
    const char *key, *val;
    size_t ti, klen, vlen;
    int rc;

    while (cdc_incsnap_next_row(s->inc, &ti, &key, &klen, &val, &vlen)) {
        ferry_buf_t k = {(char *)key, klen, klen + 1, false};

        if ((rc = publish(s, s->topics[ti], &k, val, vlen, err)) != FERRY_OK)
            return rc;
        s->events++;
    }
    return FERRY_OK;
}

/* Reads the next re-snapshot chunk when one is due.  A failure is retried
 * at the next turn of the loop. */
static void
resnapshot_step(stream_t *s)
{
    ferry_err_t e = {0, ""};

    if (!cdc_incsnap_want_chunk(s->inc))
        return;
    if (cdc_incsnap_read_chunk(s->inc, s->sql, &e) != FERRY_OK) {
        ferry_warn("slot \"%s\": %s; retrying", s->cfg->source_slot, e.msg);
        if (PQstatus(s->sql) == CONNECTION_BAD)
            PQreset(s->sql);
    }
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
        return FERRY_OK;
    case 'I':
    case 'U':
    case 'D':
    case 'T':
        rc = handle_row(s, err);
        break;
    case 'M':
        /* Logical messages are not published; one may close a
         * re-snapshot chunk's window. */
        if (!cdc_incsnap_on_message(s->inc, &s->msg))
            return FERRY_OK;
        rc = publish_chunk(s, err);
        break;
    default:
        return FERRY_OK;
    }
    if (rc != FERRY_OK)
        ferry_err_prefix(err, "slot \"%s\" at LSN " FERRY_LSN_FMT,
                         s->cfg->source_slot, FERRY_LSN_ARGS(m->wal_start));
    return rc;
}

static void
check_retained_wal(stream_t *s)
{
    const char *params[1] = {s->cfg->source_slot};
    PGresult *res;

    if (s->sql == NULL || s->opts->max_retained_wal == 0)
        return;
    res = PQexecParams(s->sql,
                       "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), "
                       "restart_lsn)::bigint FROM pg_replication_slots "
                       "WHERE slot_name = $1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        !PQgetisnull(res, 0, 0)) {
        uint64_t bytes = strtoull(PQgetvalue(res, 0, 0), NULL, 10);

        if (bytes > s->opts->max_retained_wal)
            ferry_warn("slot \"%s\" retains %" PRIu64
                       " MB of WAL (limit %" PRIu64
                       " MB): the source keeps WAL until ferry-cdc confirms it",
                       s->cfg->source_slot, bytes >> 20,
                       s->opts->max_retained_wal >> 20);
    } else if (PQstatus(s->sql) == CONNECTION_BAD) {
        PQreset(s->sql);
    }
    PQclear(res);
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
    if (now >= s->next_walcheck) {
        s->next_walcheck = now + 60000;
        check_retained_wal(s);
    }
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
    cdc_snapshot_ctx_t ctx = {s->cfg,    s->tables, s->prod,
                              s->topics, &s->env,   s->stop};

    return cdc_handoff_prepare(&ctx, s->sql, s->opts->snapshot_mode,
                               &s->opts->snapshot, start, err);
}

/* The re-snapshot state, and the tables wal2json decodes: the captured
 * ones and the signal table. */
static int
setup_resnapshot(stream_t *s, ferry_err_t *err)
{
    size_t n = cdc_tables_count(s->tables);
    const char *const *names = cdc_tables_names(s->tables);

    s->inc = cdc_incsnap_new(s->tables, &s->env, s->opts->signal_table,
                             s->opts->resnapshot_chunk);
    s->add_tables = calloc(n + 2, sizeof(*s->add_tables));
    if (s->inc == NULL || s->add_tables == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory preparing the re-snapshots of "
                             "slot \"%s\"",
                             s->cfg->source_slot);
    for (size_t i = 0; i < n; i++)
        s->add_tables[i] = names[i];
    s->nadd = n;
    if (s->opts->signal_table != NULL)
        s->add_tables[s->nadd++] = s->opts->signal_table;
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
    uint64_t start = 0;
    size_t n;
    int rc;

    if ((s->sql = cdc_repl_connect_sql(s->cfg->source_dsn, err)) == NULL)
        return err->status;
    if ((rc = cdc_tables_load(s->sql, s->cfg, &s->tables, err)) != FERRY_OK)
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
            NULL)
        return err ? err->status : FERRY_ECONFIG;
    if ((rc = cdc_env_init(&s->env, FERRY_VERSION, s->cfg->kafka_topic_prefix,
                           PQdb(s->sql), err)) != FERRY_OK ||
        (rc = prepare_slot(s, &start, err)) != FERRY_OK)
        return rc;
    cdc_lsnwin_set_start(s->win, start);
    return setup_resnapshot(s, err);
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
    free(s->add_tables);
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
