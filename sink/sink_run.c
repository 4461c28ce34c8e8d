/* ferry-sink's main loop.
 * sink/sink_run.c */
#include "sink_run.h"
#include "sink_run_int.h"
#include "ferry_buf.h"
#include "ferry_log.h"
#include "ferry_pg.h"
#include "map_idmap.h"
#include "sink_apply.h"
#include "sink_consumer.h"
#include "sink_lsnset.h"
#include "sink_pg.h"
#include "sink_spill.h"
#include "sink_sql.h"
#include "sink_txbuf.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
sink_run_opts_init(sink_run_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_batch = 20000;
    opts->max_wait_ms = 200;
    opts->applied_window = 100000;
}

void
sink__run_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

int64_t
sink__run_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An ordered sink must run alone against a state schema (two would both
 * apply every partition); scale-out sinks share it.  A session advisory
 * lock, exclusive or shared, says which. */
static int
lock_mode(run_t *r, ferry_err_t *err)
{
    const char *p1[1] = {r->cfg->state_schema};
    PGresult *res = NULL;
    bool got;
    int rc;

    if ((rc = sink_pg_exec(r->conn, "SET synchronous_commit = on", 0, NULL,
                           NULL, NULL, "set the session", 0, err)) != 0)
        return rc;
    rc = sink_pg_exec(r->conn,
                      r->shared ? "SELECT pg_try_advisory_lock_shared("
                                  "hashtext('ferry-sink'), hashtext($1))"
                                : "SELECT pg_try_advisory_lock("
                                  "hashtext('ferry-sink'), hashtext($1))",
                      1, p1, &res, NULL, "lock the state schema",
                      FERRY_PG_DATA_FATAL, err);
    if (rc != 0)
        return rc;
    got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    /* Transient: a killed sink's session may take a moment to end. */
    r->lock_conflict = !got;
    if (!got)
        return ferry_err_set(
            err, FERRY_ETRANSIENT,
            "another ferry-sink is running against state schema \"%s\" of "
            "the target%s; an ordered sink runs alone, sinks that share a "
            "target must all use --scale-out",
            r->cfg->state_schema, r->shared ? " in the ordered mode" : "");
    return 0;
}

static int idle_read(void *arg);
static bool at_end(const run_t *r);

static int
connect_target(run_t *r, ferry_err_t *err)
{
    PQfinish(r->conn);
    r->lock_conflict = false;
    r->conn =
        ferry_pg_connect(r->cfg->target_dsn, NULL, "ferry-sink", "target", err);
    if (r->conn == NULL) {
        /* A refusal at start is a mistake in the DSN: say so and stop.
         * Once the target has accepted us, a refusal (a rotated password,
         * a full server) is worth waiting out like an outage. */
        if (err->status == FERRY_ECONFIG && r->connected)
            err->status = FERRY_ETRANSIENT;
        return err->status;
    }
    r->connected = true;
    sink_pg_set_idle(r->conn, idle_read, r);
    return lock_mode(r, err);
}

/* True when the state schema is already complete: its DDL (ALTER TABLE,
 * CREATE INDEX IF NOT EXISTS) would lock tables that other scale-out sinks
 * are writing, so a sink joining them would wait for their transactions. */
static int
state_complete(run_t *r, bool *complete, ferry_err_t *err)
{
    const char *p1[1] = {r->q_state};
    PGresult *res = NULL;
    int rc;

    rc = sink_pg_exec(
        r->conn,
        "SELECT to_regclass($1 || '.bulk_end') IS NOT NULL AND "
        "to_regclass($1 || '.row_lsn_max') IS NOT NULL AND EXISTS (SELECT 1 "
        "FROM pg_attribute WHERE attrelid = to_regclass($1 || '.parked') AND "
        "attname = 'waits_for' AND NOT attisdropped) AND coalesce((SELECT "
        "reloptions FROM pg_class WHERE oid = to_regclass($1 || '.row_lsn')) "
        "@> '{fillfactor=50}', false) AND EXISTS (SELECT 1 FROM pg_attribute "
        "a JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = "
        "to_regclass($1 || '.row_lsn') AND a.attname = 'legacy_key' AND "
        "c.collname = 'C')",
        1, p1, &res, NULL, "inspect the state schema", FERRY_PG_DATA_FATAL,
        err);
    *complete = rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return rc;
}

static int
state_init(run_t *r, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    bool complete = false;
    int rc;

    if ((rc = state_complete(r, &complete, err)) != 0)
        return rc;
    if (complete)
        return map_idmap_ensure(r->conn, r->cfg->state_schema, err);
    sink_sql_state_ddl(r->q_state, &sql);
    /* Several statements, and no idle hook: nothing is read meanwhile. */
    rc = ferry_buf_status(&sql, err, "building the state tables' DDL");
    if (rc == 0)
        rc = ferry_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, NULL, NULL,
                           "create the state tables",
                           FERRY_PG_MULTI | FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    if (rc == 0)
        rc = map_idmap_ensure(r->conn, r->cfg->state_schema, err);
    return rc;
}

/* The ordered mode cannot resume after scale-out sinks: they applied
 * source transactions piecewise and never read the transaction topic, so
 * its stored offset is far behind the entity topics' and the transactions
 * read again there would never complete.  The mode of the last sinks is
 * kept in <state>.sink_mode. */
static int
check_mode(run_t *r, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    bool was_shared = false;
    int rc;

    ferry_buf_printf(&sql, "SELECT mode FROM %s.sink_mode", r->q_state);
    rc = ferry_buf_status(&sql, err, "reading the sink mode");
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "read the sink mode", FERRY_PG_DATA_FATAL, err);
    was_shared = rc == 0 && PQntuples(res) == 1 &&
                 strcmp(PQgetvalue(res, 0, 0), "scale-out") == 0;
    PQclear(res);
    ferry_buf_reset(&sql);
    if (rc == 0 && was_shared && !r->shared) {
        ferry_buf_close(&sql);
        return ferry_err_set(
            err, FERRY_ECONFIG,
            "the sinks that last ran against state schema \"%s\" used "
            "--scale-out; the ordered mode cannot resume after them (they "
            "applied source transactions piecewise and did not read the "
            "transaction topic): go on with --scale-out, or rebuild the "
            "target with --rebuild",
            r->cfg->state_schema);
    }
    if (rc == 0 && r->shared && !was_shared) {
        ferry_buf_printf(&sql,
                         "INSERT INTO %s.sink_mode (mode) VALUES "
                         "('scale-out') ON CONFLICT (one) DO UPDATE SET mode "
                         "= 'scale-out', since = now()",
                         r->q_state);
        rc = ferry_buf_status(&sql, err, "recording the sink mode");
    }
    if (rc == 0 && sql.len > 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, NULL, NULL,
                          "record the sink mode", FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    return rc;
}

/* --rebuild: forget every position and refuse a target that holds rows. */
static int
rebuild_reset(run_t *r, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < r->cfg->n_entities; i++) {
        const map_entity_t *e = &r->cfg->entities[i];
        PGresult *res = NULL;
        char *qs = PQescapeIdentifier(r->conn, e->target_schema,
                                      strlen(e->target_schema));
        char *qt = PQescapeIdentifier(r->conn, e->target_table,
                                      strlen(e->target_table));

        ferry_buf_reset(&sql);
        if (qs == NULL || qt == NULL)
            sql.failed = true;
        else
            ferry_buf_printf(&sql, "SELECT EXISTS (SELECT 1 FROM %s.%s)", qs,
                             qt);
        PQfreemem(qs);
        PQfreemem(qt);
        rc = ferry_buf_status(&sql, err,
                              "checking target table \"%s.%s\" for a rebuild",
                              e->target_schema, e->target_table);
        if (rc == 0)
            rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, &res,
                              NULL, "check the target table", 0, err);
        if (rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
            rc = ferry_err_set(err, FERRY_ECONFIG,
                               "cannot rebuild: target table \"%s.%s\" of "
                               "entity \"%s\" is not empty",
                               e->target_schema, e->target_table, e->name);
        PQclear(res);
    }
    ferry_buf_reset(&sql);
    if (rc == 0) {
        ferry_buf_printf(&sql,
                         "BEGIN; TRUNCATE %s.offsets, %s.row_lsn, "
                         "%s.row_lsn_max, %s.truncated, %s.applied_tx, "
                         "%s.parked, %s.errors, %s.deferred, %s.sink_mode, "
                         "%s.bulk, %s.bulk_end; DELETE FROM %s.id_map WHERE "
                         "source = 'v5'; COMMIT",
                         r->q_state, r->q_state, r->q_state, r->q_state,
                         r->q_state, r->q_state, r->q_state, r->q_state,
                         r->q_state, r->q_state, r->q_state, r->q_state);
        rc = ferry_buf_status(&sql, err, "resetting the state for a rebuild");
    }
    /* Several statements, and no idle hook: nothing is read meanwhile. */
    if (rc == 0)
        rc = ferry_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, NULL, NULL,
                           "reset the state for a rebuild",
                           FERRY_PG_MULTI | FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    if (rc == 0)
        ferry_info("rebuild: state reset; replaying every topic from the "
                   "beginning");
    return rc;
}

static void
free_value(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

static int
load_state(run_t *r, sink_map_t *offsets, long *parked, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    int i, rc;

    ferry_buf_printf(&sql,
                     "SELECT topic || chr(31) || partition, next_offset "
                     "FROM %s.offsets",
                     r->q_state);
    rc = ferry_buf_status(&sql, err, "reading the stored offsets");
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "read the stored offsets", 0, err);
    for (i = 0; rc == 0 && i < PQntuples(res); i++) {
        int64_t *o = malloc(sizeof(*o));

        if (o == NULL || sink_map_put(offsets, PQgetvalue(res, i, 0), o)) {
            free(o);
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory reading the stored offsets");
            break;
        }
        *o = atoll(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    ferry_buf_reset(&sql);
    if (rc == 0) {
        ferry_buf_printf(&sql,
                         "SELECT commit_lsn FROM %s.applied_tx ORDER BY "
                         "commit_lsn DESC LIMIT %zu",
                         r->q_state, r->opts->applied_window);
        rc = ferry_buf_status(&sql, err, "reading the applied transactions");
    }
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "read the applied transactions", 0, err);
    for (i = 0; rc == 0 && i < PQntuples(res); i++)
        if (sink_lsnset_add(&r->applied,
                            strtoull(PQgetvalue(res, i, 0), NULL, 10)) != 0)
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory reading the applied "
                               "transactions");
    PQclear(res);
    ferry_buf_reset(&sql);
    if (rc == 0) {
        ferry_buf_printf(&sql, "SELECT count(*) FROM %s.parked", r->q_state);
        rc = ferry_buf_status(&sql, err, "counting the parked rows");
    }
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "count parked rows", 0, err);
    if (rc == 0)
        *parked = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    ferry_buf_close(&sql);
    return rc;
}

static const char *
slot_topic(void *arg, int slot, int *partition)
{
    run_t *r = arg;

    if (slot < 0 || (size_t)slot >= r->kc.n_slots)
        return NULL;
    *partition = r->kc.slots[slot].partition;
    return r->kc.slots[slot].topic;
}

/* A dead letter: the reason, where the message came from, and the message
 * itself as text. */
static int
dlq_send(void *arg, const sink_event_t *ev, const char *entity,
         const char *reason)
{
    run_t *r = arg;
    int partition = -1;
    const char *topic = slot_topic(r, ev->pos.slot, &partition);
    json_t *o = json_pack("{s:s, s:s?, s:s?, s:i, s:I, s:s?, s:s?}", "reason",
                          reason, "entity", entity, "topic", topic, "partition",
                          partition, "offset", (json_int_t)ev->pos.offset,
                          "key", ev->raw_key, "value", ev->raw);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__FAIL;
    size_t klen = ev->raw_key != NULL ? strlen(ev->raw_key) : 0;

    if (text != NULL)
        e = rd_kafka_producev(r->kc.dlq, RD_KAFKA_V_TOPIC(r->kc.dlq_topic),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(ev->raw_key, klen),
                              RD_KAFKA_V_VALUE(text, strlen(text)),
                              RD_KAFKA_V_END);
    free(text);
    json_decref(o);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ferry_error("could not send to dead-letter topic \"%s\": %s",
                    r->kc.dlq_topic, rd_kafka_err2str(e));
        return FERRY_ETRANSIENT;
    }
    return 0;
}

/* True when the transaction that committed at commit_lsn has been
 * applied: it is in the window of the last applied ones, or older than
 * the whole window.  Transactions are applied in commit order, so one
 * older than the window's floor was applied before it (docs/sink.md). */
static bool
is_applied(const run_t *r, uint64_t commit_lsn)
{
    return commit_lsn != 0 && (commit_lsn < sink_lsnset_floor(&r->applied) ||
                               sink_lsnset_has(&r->applied, commit_lsn));
}

/* A malformed message on the transaction topic becomes a dead letter of
 * its own, through the same path as a malformed change event. */
static int
tx_message(run_t *r, const rd_kafka_message_t *m, sink_pos_t pos)
{
    sink_txmsg_t tm;
    ferry_err_t perr = {0, ""};
    sink_event_t *ev = NULL;
    int rc = sink_txmsg_parse(m->payload, m->len, &tm, &perr);

    if (rc == 0) {
        /* A transaction the rebuild's bulk load cut is applied loose. */
        if (!is_applied(r, tm.commit_lsn) && tm.commit_lsn > r->bulk_cut)
            rc = sink_txbuf_add_txmsg(r->txbuf, &tm, pos);
        sink_txmsg_clear(&tm);
        return rc;
    }
    if (rc != FERRY_EDATA)
        return rc;
    rc = sink_event_parse(m->key, m->key_len, "", 0, pos, &ev);
    if (ev == NULL)
        return FERRY_ENOMEM;
    free(ev->raw);
    free(ev->reason);
    ev->raw = strndup(m->payload != NULL ? m->payload : "", m->len);
    ev->reason = strdup(perr.msg);
    ev->op = 'X';
    ev->txid = NULL;
    if (ev->raw == NULL || ev->reason == NULL) {
        sink_event_free(ev);
        return FERRY_ENOMEM;
    }
    return sink_txbuf_add_event(r->txbuf, ev);
}

static int
on_message(run_t *r, const rd_kafka_message_t *m, ferry_err_t *err)
{
    int slot =
        sink_consumer_slot(&r->kc, rd_kafka_topic_name(m->rkt), m->partition);
    sink_pos_t pos = {slot, m->offset};
    sink_event_t *ev = NULL;
    int rc;

    if (slot < 0)
        return 0;
    if (r->shared)
        return sink__group_on_message(r, m, slot, err);
    r->kc.slots[slot].next = m->offset + 1;
    r->dirty = true;
    if (r->kc.slots[slot].is_tx)
        rc = tx_message(r, m, pos);
    else if (m->payload == NULL)
        return 0; /* a tombstone */
    else {
        rc = sink_event_parse(m->key, m->key_len, m->payload, m->len, pos, &ev);
        if (ev == NULL)
            return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        if (ev->op != 'X' && ev->txid != NULL &&
            is_applied(r, ev->pair.commit)) {
            sink_event_free(ev);
            return 0;
        }
        /* Older than the rebuild's bulk load cut: part of a transaction
         * it cut, which can never be reassembled; applied loose, parked
         * where its parent or children are not there yet. */
        if (ev->op != 'X' && r->bulk_cut > 0 &&
            ev->pair.commit <= r->bulk_cut) {
            if (sink__loose_add(r, ev) != 0) {
                sink_event_free(ev);
                return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            }
            return 0;
        }
        rc = sink_txbuf_add_event(r->txbuf, ev);
    }
    if (rc == FERRY_ENOMEM)
        return ferry_err_set(err, rc, "out of memory");
    return 0;
}

static int
poll_error(run_t *r, const rd_kafka_message_t *m, ferry_err_t *err)
{
    int slot;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return 0;
    slot = m->rkt != NULL
               ? sink_consumer_slot(&r->kc, rd_kafka_topic_name(m->rkt),
                                    m->partition)
               : -1;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
        return ferry_err_set(
            err, FERRY_EFATAL,
            "cannot read topic \"%s\" partition %d at offset %" PRId64
            ": the broker no longer holds it (%s); the sink never skips "
            "ahead, rebuild the target",
            slot >= 0 ? r->kc.slots[slot].topic : "?", (int)m->partition,
            slot >= 0 ? r->kc.slots[slot].next : m->offset,
            rd_kafka_message_errstr(m));
    ferry_warn("Kafka consumer: %s (retrying)", rd_kafka_message_errstr(m));
    return 0;
}

/* Polls one message for up to timeout_ms and hands it to on_message() (or
 * poll_error()).  Sets *got when there was one; returns that handler's
 * result, with err set on error. */
static int
read_one(run_t *r, int timeout_ms, bool *got, ferry_err_t *err)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(r->kc.rk, timeout_ms);
    int rc;

    *got = m != NULL;
    if (m == NULL)
        return 0;
    rc = m->err != 0 ? poll_error(r, m, err) : on_message(r, m, err);
    rd_kafka_message_destroy(m);
    return rc;
}

/* While the target executes a statement of the ordered mode's batch:
 * reads and parses what Kafka already holds, up to the bound poll_some()
 * keeps, so that parsing the next batch overlaps applying this one.  An
 * error is kept for the main loop (r->idle_rc). */
static int
idle_read(void *arg)
{
    run_t *r = arg;
    int n = 0, rc = 0;

    if (r->idle_rc != 0 || *r->stop || r->spill_open || r->bulk_active ||
        r->shared || r->txbuf == NULL || r->kc.rk == NULL ||
        r->minoff == NULL || (r->opts->exit_at_end && at_end(r)))
        return 0;
    while (n < 64 && sink_txbuf_events(r->txbuf) <= r->opts->max_batch * 2 &&
           (r->loose == NULL || r->loose->n_events < r->opts->max_batch)) {
        bool got;

        rc = read_one(r, 0, &got, &r->idle_err);
        if (!got)
            break;
        n++;
        r->read_ahead++;
        if (rc != 0) {
            r->idle_rc = rc;
            break;
        }
    }
    return n;
}

/* Reads messages for up to max_wait_ms or until a batch is full. */
static int
poll_some(run_t *r, ferry_err_t *err)
{
    int64_t deadline = sink__run_now_ms() + r->opts->max_wait_ms;
    size_t n = 0;
    int rc = 0;

    /* What went wrong while reading during the last batch's statements. */
    if (r->idle_rc != 0) {
        *err = r->idle_err;
        return r->idle_rc;
    }
    /* Messages read during the last statements come first. */
    if (r->read_ahead > 0)
        return 0;
    while (rc == 0 && !*r->stop && n < r->opts->max_batch * 2) {
        int64_t left = deadline - sink__run_now_ms();
        bool got;

        if (left <= 0)
            break;
        rc = read_one(r, (int)(left > 100 ? 100 : left), &got, err);
        if (!got)
            continue;
        n++;
        /* Hand a huge transaction to the spill a batch at a time. */
        if (sink_txbuf_events(r->txbuf) >
            r->opts->max_batch * (r->spill_open ? 1 : 4))
            break;
        if (r->loose != NULL && r->loose->n_events >= r->opts->max_batch)
            break;
        if (r->kc.failed)
            break;
    }
    return rc;
}

int
sink__loose_to_batch(run_t *r, ferry_err_t *err)
{
    if (r->loose == NULL)
        return 0;
    if (sink__batch_add(r, r->loose) != 0)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    r->loose = NULL;
    return 0;
}

int
sink__loose_add(run_t *r, sink_event_t *ev)
{
    sink_tx_t *tx = r->loose;

    if (tx == NULL) {
        if ((tx = calloc(1, sizeof(*tx))) == NULL)
            return FERRY_ENOMEM;
        tx->expected = -1;
        tx->begin_pos.slot = -1;
        tx->end_pos.slot = -1;
        r->loose = tx;
    }
    if (tx->n_events == tx->cap_events) {
        size_t cap = tx->cap_events ? tx->cap_events * 2 : 1024;
        sink_event_t **grown = realloc(tx->events, cap * sizeof(*grown));

        if (grown == NULL)
            return FERRY_ENOMEM;
        tx->events = grown;
        tx->cap_events = cap;
    }
    tx->events[tx->n_events++] = ev;
    return 0;
}

int
sink__loose_take(run_t *r, const rd_kafka_message_t *m, int slot,
                 ferry_err_t *err)
{
    sink_pos_t pos = {slot, m->offset};
    sink_event_t *ev = NULL;

    r->kc.slots[slot].next = m->offset + 1;
    r->dirty = true;
    if (m->payload == NULL)
        return 0; /* a tombstone */
    /* A malformed message comes back as an event of op 'X', which the
     * applier records as a dead letter; only a NULL event is an error. */
    if (sink_event_parse(m->key, m->key_len, m->payload, m->len, pos, &ev) ==
            FERRY_ENOMEM ||
        ev == NULL || sink__loose_add(r, ev) != 0) {
        sink_event_free(ev);
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    return 0;
}

int
sink__batch_add(run_t *r, sink_tx_t *tx)
{
    if (r->n_batch == r->cap_batch) {
        size_t cap = r->cap_batch ? r->cap_batch * 2 : 256;
        sink_tx_t **b = realloc(r->batch, cap * sizeof(*b));

        if (b == NULL)
            return FERRY_ENOMEM;
        r->batch = b;
        r->cap_batch = cap;
    }
    r->batch[r->n_batch++] = tx;
    r->batch_events += tx->n_events;
    return 0;
}

/* Appends "{a,b,...}" array text of n items to out. */
static void
array_text(ferry_buf_t *out, size_t n,
           const char *(*item)(run_t *, size_t, char *), run_t *r)
{
    char tmp[64];
    size_t i;

    ferry_buf_putc(out, '{');
    for (i = 0; i < n; i++)
        ferry_buf_printf(out, "%s\"%s\"", i > 0 ? "," : "", item(r, i, tmp));
    ferry_buf_putc(out, '}');
}

static const char *
item_topic(run_t *r, size_t i, char *tmp)
{
    (void)tmp;
    return r->kc.slots[i].topic;
}

static const char *
item_part(run_t *r, size_t i, char *tmp)
{
    snprintf(tmp, 64, "%d", (int)r->kc.slots[i].partition);
    return tmp;
}

static const char *
item_off(run_t *r, size_t i, char *tmp)
{
    snprintf(tmp, 64, "%" PRId64, r->minoff[i]);
    return tmp;
}

static const char *
item_commit(run_t *r, size_t i, char *tmp)
{
    snprintf(tmp, 64, "%" PRIu64,
             r->batch[i]->id != NULL ? r->batch[i]->commit_lsn : 0);
    return tmp;
}

/* Keeps applied_tx as small as the in-memory window: rows below its
 * floor are forgotten (see is_applied()). */
static int
prune_applied(run_t *r, ferry_err_t *err)
{
    uint64_t floor = sink_lsnset_floor(&r->applied);
    ferry_buf_t sql = {0};
    char num[24];
    const char *p1[1] = {num};
    int rc;

    if (floor == 0)
        return 0;
    snprintf(num, sizeof(num), "%" PRIu64, floor);
    ferry_buf_printf(&sql, "DELETE FROM %s.applied_tx WHERE commit_lsn < $1",
                     r->q_state);
    rc = ferry_buf_status(&sql, err, "forgetting old applied transactions");
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 1, p1, NULL, NULL,
                          "forget old applied transactions",
                          FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    return rc;
}

/* The offsets of every slot (below any message still buffered) and the
 * commit LSNs of the batch, in the open target transaction. */
static int
store_positions(run_t *r, ferry_err_t *err)
{
    ferry_buf_t sql = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    const char *params[3];
    size_t i;
    int rc = 0;

    if (r->shared)
        return sink__group_store_positions(r, err);
    for (i = 0; i < r->kc.n_slots; i++)
        r->minoff[i] = r->kc.slots[i].next;
    sink_txbuf_min_offsets(r->txbuf, r->minoff, r->kc.n_slots);
    /* Events read and not applied yet (during the batch's statements). */
    if (r->loose != NULL)
        sink_tx_min_offsets(r->loose, r->minoff, r->kc.n_slots);
    array_text(&a1, r->kc.n_slots, item_topic, r);
    array_text(&a2, r->kc.n_slots, item_part, r);
    array_text(&a3, r->kc.n_slots, item_off, r);
    ferry_buf_printf(
        &sql,
        "INSERT INTO %s.offsets AS o (topic, partition, next_offset) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::int8[]) "
        "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = "
        "EXCLUDED.next_offset, updated_at = now() WHERE o.next_offset <> "
        "EXCLUDED.next_offset",
        r->q_state);
    if ((rc = ferry_buf_status(&a1, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&a2, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&a3, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&sql, err, "storing the Kafka offsets")) != 0)
        goto done;
    params[0] = ferry_buf_cstr(&a1);
    params[1] = ferry_buf_cstr(&a2);
    params[2] = ferry_buf_cstr(&a3);
    rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 3, params, NULL, NULL,
                      "store the Kafka offsets", FERRY_PG_DATA_FATAL, err);
    if (rc == 0 && r->bulk_active)
        rc = sink__bulk_store(r, err);
    if (rc != 0 || r->n_batch == 0)
        goto done;
    ferry_buf_reset(&sql);
    ferry_buf_reset(&a1);
    array_text(&a1, r->n_batch, item_commit, r);
    ferry_buf_printf(&sql,
                     "INSERT INTO %s.applied_tx (commit_lsn) SELECT DISTINCT "
                     "c FROM unnest($1::int8[]) c WHERE c <> 0 ON CONFLICT "
                     "DO NOTHING",
                     r->q_state);
    if ((rc = ferry_buf_status(&a1, err, "recording applied transactions")) !=
            0 ||
        (rc = ferry_buf_status(&sql, err, "recording applied transactions")) !=
            0)
        goto done;
    params[0] = ferry_buf_cstr(&a1);
    rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 1, params, NULL, NULL,
                      "record applied transactions", FERRY_PG_DATA_FATAL, err);
    if (rc == 0)
        rc = prune_applied(r, err);
done:
    ferry_buf_close(&sql);
    ferry_buf_close(&a1);
    ferry_buf_close(&a2);
    ferry_buf_close(&a3);
    return rc;
}

/* Stores the offsets, flushes dead letters and commits the open target
 * transaction. */
static int
finish_commit(run_t *r, ferry_err_t *err)
{
    int rc;

    if ((rc = store_positions(r, err)) != 0)
        return rc;
    /* Dead letters must be in Kafka before the offsets move past them. */
    if (rd_kafka_flush(r->kc.dlq, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_outq_len(r->kc.dlq) > 0)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not deliver to the dead-letter topic "
                             "\"%s\"",
                             r->kc.dlq_topic);
    return sink_pg_exec(r->conn, "COMMIT", 0, NULL, NULL, NULL, "commit", 0,
                        err);
}

/* The pieces of a transaction a rebuild cut arrive in separate batches:
 * a delete blocked by its children waits for theirs. */
static void
apply_mode(run_t *r)
{
    sink_apply_set_park_deletes(r->apply, r->bulk_active || r->loose_in_batch);
}

static int
commit_once(run_t *r, ferry_err_t *err)
{
    int rc;

    if ((rc = sink_pg_exec(r->conn, "BEGIN", 0, NULL, NULL, NULL,
                           "begin a transaction", 0, err)) != 0)
        return rc;
    apply_mode(r);
    /* Scale-out: an empty batch still drains what other sinks parked. */
    if ((r->n_batch > 0 || r->shared) &&
        (rc = sink_apply_txs(r->apply, r->batch, r->n_batch, err)) != 0)
        return rc;
    return finish_commit(r, err);
}

int
sink__run_reconnect(run_t *r, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    PGresult *res = NULL;
    int rc;

    if (PQstatus(r->conn) == CONNECTION_OK) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
    }
    if (PQstatus(r->conn) != CONNECTION_OK &&
        ((rc = connect_target(r, err)) != 0 ||
         (rc = sink_apply_attach(r->apply, r->conn, err)) != 0))
        return rc;
    ferry_buf_printf(&sql, "SELECT count(*) FROM %s.parked", r->q_state);
    rc = ferry_buf_status(&sql, err, "counting the parked rows");
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 0, NULL, &res, NULL,
                          "count parked rows", 0, err);
    if (rc == 0)
        sink_apply_set_parked(r->apply, atol(PQgetvalue(res, 0, 0)));
    PQclear(res);
    ferry_buf_close(&sql);
    return rc;
}

static void
batch_done(run_t *r)
{
    size_t i;

    for (i = 0; i < r->n_batch; i++) {
        if (r->batch[i]->id != NULL && r->batch[i]->commit_lsn != 0 &&
            sink_lsnset_add(&r->applied, r->batch[i]->commit_lsn) != 0)
            ferry_warn("out of memory while remembering a transaction");
        sink_tx_free(r->batch[i]);
    }
    for (i = 0; i < r->kc.n_slots; i++)
        r->kc.slots[i].stored = r->minoff[i];
    r->n_batch = 0;
    r->batch_events = 0;
    r->dirty = false;
    r->loose_in_batch = false;
}

/* Frees the transactions of a batch that will not be committed. */
static void
drop_batch(run_t *r)
{
    size_t i;

    for (i = 0; i < r->n_batch; i++)
        sink_tx_free(r->batch[i]);
    r->n_batch = 0;
    r->batch_events = 0;
    r->loose_in_batch = false;
}

int
sink__run_pause(run_t *r, long *backoff, ferry_err_t *err)
{
    char why[sizeof(err->msg)];

    if (*r->stop) {
        /* err->msg is both the cause and the destination. */
        snprintf(why, sizeof(why), "%s", err->msg);
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "stopped while retrying: %s", why);
    }
    sink__run_sleep_ms(*backoff);
    *backoff = *backoff * 2 > 10000 ? 10000 : *backoff * 2;
    return 0;
}

/* Applies the batch and stores the offsets in one target transaction;
 * transient errors are retried with backoff, never skipped. */
int
sink__commit_batch(run_t *r, ferry_err_t *err)
{
    long backoff = 100;
    int rc;

    for (;;) {
        rc = commit_once(r, err);
        if (rc == 0) {
            batch_done(r);
            return 0;
        }
        if (rc != FERRY_ETRANSIENT) {
            if (PQstatus(r->conn) == CONNECTION_OK)
                PQclear(PQexec(r->conn, "ROLLBACK"));
            if (r->fenced) {
                drop_batch(r);
                return sink__group_refetch(r, err);
            }
            return rc;
        }
        ferry_warn("%s; retrying the batch of %zu transactions in %ld ms",
                   err->msg, r->n_batch, backoff);
        do {
            if ((rc = sink__run_pause(r, &backoff, err)) != 0)
                return rc;
            rc = sink__run_reconnect(r, err);
            if (rc != 0 && rc != FERRY_ETRANSIENT)
                return rc;
            if (rc != 0)
                ferry_warn("%s; retrying in %ld ms", err->msg, backoff);
        } while (rc != 0);
    }
}

static int
make_txbuf(run_t *r)
{
    sink_txbuf_free(r->txbuf);
    r->txbuf =
        sink_txbuf_new((const char *const *)r->tables, r->cfg->n_entities);
    return r->txbuf != NULL ? 0 : FERRY_ENOMEM;
}

/* After a transient error while a spilled transaction was open, its events
 * are gone with the rolled-back target transaction: forget everything read
 * since the last commit and read it again from the stored offsets. */
static int
rewind_to_stored(run_t *r, ferry_err_t *err)
{
    long backoff = 100;
    int rc;

    ferry_warn("%s; reading again from the stored offsets", err->msg);
    drop_batch(r);
    sink_tx_free(r->loose);
    r->loose = NULL;
    r->spill_open = false;
    if (make_txbuf(r) != 0)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    do {
        if ((rc = sink__run_pause(r, &backoff, err)) != 0)
            return rc;
        rc = sink__run_reconnect(r, err);
        if (rc == 0)
            rc = sink_consumer_rewind(&r->kc, err);
        if (rc != 0 && rc != FERRY_ETRANSIENT)
            return rc;
        if (rc != 0)
            ferry_warn("%s; retrying in %ld ms", err->msg, backoff);
    } while (rc != 0);
    r->dirty = false;
    return 0;
}

/* Moves the events of the front transaction to the spill table once it
 * holds more than a batch (and from then on, as they arrive), opening the
 * target transaction that will apply it. */
static int
spill_step(run_t *r, ferry_err_t *err)
{
    sink_tx_t *front = sink_txbuf_front(r->txbuf);
    size_t n = 0, i;
    int rc = 0;

    if (front == NULL || front->id == NULL ||
        (!front->spilling && front->n_events < r->opts->max_batch))
        return 0;
    if (!r->spill_open) {
        if (r->n_batch > 0 && (rc = sink__commit_batch(r, err)) != 0)
            return rc;
        if ((rc = sink_pg_exec(r->conn, "BEGIN", 0, NULL, NULL, NULL,
                               "begin a transaction", 0, err)) != 0 ||
            (rc = sink_spill_begin(r->conn, err)) != 0)
            return rc;
        r->spill_open = true;
        ferry_info("source transaction %s holds more than %zu events; "
                   "spilling it to the target until it is complete",
                   front->id, r->opts->max_batch);
    }
    if (sink_txbuf_take(r->txbuf, front, &r->spill_evs, &n) != 0)
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = sink_spill_write(r->conn, r->spill_evs, n, err);
    for (i = 0; i < n; i++)
        sink_event_free(r->spill_evs[i]);
    return rc;
}

/* Applies a complete spilled transaction (tx, ownership taken) and commits
 * it with the offsets. */
static int
commit_spilled(run_t *r, sink_tx_t *tx, ferry_err_t *err)
{
    int rc;

    if (sink__batch_add(r, tx) != 0) {
        sink_tx_free(tx);
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    rc = sink_spill_apply(r->conn, r->apply, tx, r->opts->max_batch, err);
    if (rc == 0)
        rc = finish_commit(r, err);
    if (rc == 0) {
        r->spill_open = false;
        batch_done(r);
    }
    return rc;
}

/* Runs a spill step; a transient error rewinds to the stored offsets (the
 * spilled events went with the rolled-back target transaction). */
static int
spill_guard(run_t *r, int rc, ferry_err_t *err)
{
    if (rc == FERRY_ETRANSIENT)
        return rewind_to_stored(r, err);
    return rc;
}

static bool
at_end(const run_t *r)
{
    size_t i;

    for (i = 0; i < r->kc.n_slots; i++)
        if ((!r->shared || r->kc.slots[i].owned) &&
            r->kc.slots[i].next < r->kc.slots[i].end)
            return false;
    return true;
}

/* At the end with --exit-at-end: store the offsets read, unless a spilled
 * transaction is still incomplete (its events are not in the buffer any
 * more, so the offsets must not move: roll it back). */
static int
finish_at_end(run_t *r, ferry_err_t *err)
{
    int rc = 0;

    if (r->spill_open) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        r->spill_open = false;
    } else if (r->dirty) {
        rc = sink__commit_batch(r, err);
    }
    if (sink_txbuf_count(r->txbuf) > 0)
        ferry_warn("%zu source transactions are incomplete in the "
                   "topics; they stay unapplied",
                   sink_txbuf_count(r->txbuf));
    return rc;
}

/* The next transaction to apply: the events of transactions a rebuild's
 * bulk load cut (older than any reassembled one) first, then reassembled
 * transactions in commit order. */
static sink_tx_t *
next_tx(run_t *r)
{
    sink_tx_t *tx = r->loose;

    if (tx == NULL)
        return sink_txbuf_pop(r->txbuf);
    r->loose = NULL;
    r->loose_in_batch = true;
    return tx;
}

static int
run_loop(run_t *r, ferry_err_t *err)
{
    int64_t last_commit = sink__run_now_ms();
    int rc = 0;

    while (rc == 0 && !*r->stop) {
        sink_tx_t *tx;

        rc = poll_some(r, err);
        r->read_ahead = 0;
        if (rc == 0)
            rc = spill_guard(r, spill_step(r, err), err);
        while (rc == 0 && (tx = next_tx(r)) != NULL) {
            if (tx->spilling) {
                rc = spill_guard(r, commit_spilled(r, tx, err), err);
                continue;
            }
            if (sink__batch_add(r, tx) != 0) {
                sink_tx_free(tx);
                return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            }
            /* A transaction that turned up below the spilled one goes
             * first, inside the open target transaction. */
            if (r->spill_open) {
                apply_mode(r);
                rc = spill_guard(
                    r,
                    sink_apply_txs(r->apply, &r->batch[r->n_batch - 1], 1, err),
                    err);
            } else if (r->batch_events >= r->opts->max_batch)
                rc = sink__commit_batch(r, err);
        }
        if (rc == 0 && !r->spill_open &&
            (r->n_batch > 0 ||
             (r->dirty && sink__run_now_ms() - last_commit > 1000))) {
            rc = sink__commit_batch(r, err);
            last_commit = sink__run_now_ms();
        }
        /* Not while transactions read during the last commit wait. */
        if (rc == 0 && r->opts->exit_at_end && at_end(r) &&
            r->read_ahead == 0) {
            rc = finish_at_end(r, err);
            break;
        }
    }
    return rc;
}

/* The scale-out loop: each poll's events are one batch; every commit also
 * drains what this or another sink parked; at least once a second. */
static int
run_loop_shared(run_t *r, ferry_err_t *err)
{
    int64_t last_commit = 0;
    int rc = 0;

    while (rc == 0 && !*r->stop) {
        rc = poll_some(r, err);
        if (rc == 0 && r->kc.failed)
            rc = ferry_err_set(err, r->kc.failed, "%s", r->kc.failure.msg);
        if (rc != 0)
            break;
        if (r->loose != NULL || sink__run_now_ms() - last_commit >= 1000) {
            if ((rc = sink__loose_to_batch(r, err)) != 0)
                return rc;
            rc = sink__commit_batch(r, err);
            last_commit = sink__run_now_ms();
        }
        /* One more drain after the last commit: a row another sink parked
         * while this one applied its parent is taken out now. */
        if (rc == 0 && r->opts->exit_at_end && r->kc.assigned && at_end(r) &&
            r->loose == NULL) {
            rc = sink__commit_batch(r, err);
            break;
        }
    }
    return rc;
}

static int
start(run_t *r, ferry_err_t *err)
{
    sink_map_t *offsets = sink_map_new();
    int64_t t0 = sink__run_now_ms();
    long parked = 0;
    bool bulk_unfinished = false;
    size_t i;
    int rc;

    if (offsets == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    while ((rc = connect_target(r, err)) == FERRY_ETRANSIENT && !*r->stop) {
        if (r->lock_conflict && sink__run_now_ms() - t0 > 30000) {
            err->status = rc = FERRY_ECONFIG;
            break;
        }
        ferry_warn("%s; retrying in 2 s", err->msg);
        sink__run_sleep_ms(2000);
    }
    if (rc == 0)
        rc = state_init(r, err);
    if (rc == 0)
        rc = sink__bulk_unfinished(r, &bulk_unfinished, err);
    if (rc == 0 && bulk_unfinished && r->shared)
        rc = ferry_err_set(err, FERRY_ECONFIG,
                           "a rebuild's bulk load is unfinished in state "
                           "schema \"%s\"; finish it with ferry-sink "
                           "--rebuild (the ordered mode) first",
                           r->cfg->state_schema);
    /* An interrupted rebuild resumes (its target is not empty any more). */
    if (rc == 0 && r->opts->rebuild && !bulk_unfinished)
        rc = rebuild_reset(r, err);
    if (rc == 0)
        rc = check_mode(r, err);
    if (rc == 0)
        rc = load_state(r, offsets, &parked, err);
    if (rc == 0)
        rc = sink_apply_new(r->cfg, r->conn, dlq_send, slot_topic, r, &r->apply,
                            err);
    if (rc == 0) {
        sink_apply_set_parked(r->apply, parked);
        rc = sink_apply_attach(r->apply, r->conn, err);
    }
    if (rc == 0)
        rc = sink_consumer_open(&r->kc, r->cfg, r->group, err);
    if (rc == 0 && r->shared)
        rc = sink__group_start(r, err);
    while (rc == 0 && !r->shared &&
           (rc = sink_consumer_assign(&r->kc, offsets, err)) ==
               FERRY_ETRANSIENT &&
           !*r->stop) {
        ferry_warn("%s; retrying in 2 s", err->msg);
        sink__run_sleep_ms(2000);
        r->kc.n_slots = 0;
        rc = 0;
    }
    if (rc == 0 && !r->shared)
        rc = sink__bulk_prepare(r, r->opts->rebuild && !bulk_unfinished, err);
    r->tables = calloc(r->cfg->n_entities + 1, sizeof(char *));
    for (i = 0; rc == 0 && r->tables != NULL && i < r->cfg->n_entities; i++) {
        size_t len = strlen(r->cfg->entities[i].source_schema) +
                     strlen(r->cfg->entities[i].source_table) + 2;

        if ((r->tables[i] = malloc(len)) == NULL)
            break;
        snprintf(r->tables[i], len, "%s.%s", r->cfg->entities[i].source_schema,
                 r->cfg->entities[i].source_table);
    }
    if (rc == 0 && r->tables != NULL && i == r->cfg->n_entities)
        (void)make_txbuf(r);
    r->minoff = calloc(r->kc.n_slots + 1, sizeof(int64_t));
    if (rc == 0 && (r->txbuf == NULL || r->minoff == NULL))
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    sink_map_each(offsets, free_value, NULL);
    sink_map_free(offsets);
    if (rc == 0 && r->shared)
        ferry_info("scale-out mode: joining consumer group \"%s\" for %zu "
                   "entity topics; %ld rows parked",
                   r->group, r->kc.n_topics - 1, parked);
    else if (rc == 0)
        ferry_info("consuming %zu partitions of %zu topics; %ld rows parked",
                   r->kc.n_slots, r->kc.n_topics, parked);
    return rc;
}

int
sink_run(const map_config_t *cfg, const sink_run_opts_t *opts,
         volatile sig_atomic_t *stop, ferry_err_t *err)
{
    run_t r;
    sink_apply_stats_t st;
    size_t i;
    int rc;

    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.opts = opts;
    r.stop = stop;
    sink_lsnset_init(&r.applied, opts->applied_window);
    r.conn = PQconnectStart("");
    if (r.conn == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    r.q_state = PQescapeIdentifier(r.conn, cfg->state_schema,
                                   strlen(cfg->state_schema));
    if (r.q_state == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    if (opts->scale_out) {
        size_t len = strlen(cfg->kafka_topic_prefix) + 16;

        r.shared = true;
        r.group = opts->group != NULL ? strdup(opts->group) : malloc(len);
        if (r.group == NULL) {
            rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
            goto done;
        }
        if (opts->group == NULL)
            snprintf(r.group, len, "ferry-sink-%s", cfg->kafka_topic_prefix);
    }
    rc = start(&r, err);
    if (rc == 0 && r.bulk_active)
        rc = sink__bulk_run(&r, err);
    if (rc == 0 && !*stop)
        rc = r.shared ? run_loop_shared(&r, err) : run_loop(&r, err);
    if (r.apply != NULL) {
        sink_apply_get_stats(r.apply, &st);
        ferry_info("applied %ld rows, skipped %ld stale, parked %ld, drained "
                   "%ld, %ld errors",
                   st.applied, st.stale, st.parked, st.drained, st.errors);
    }
done:
    sink_pg_set_idle(NULL, NULL, NULL);
    drop_batch(&r);
    free(r.batch);
    sink_txbuf_free(r.txbuf);
    /* Closing the consumer may serve a last rebalance: no callback may reach
     * the applier once it is freed. */
    r.kc.on_assign = NULL;
    sink_consumer_close(&r.kc);
    sink_apply_free(r.apply);
    sink_tx_free(r.loose);
    free(r.group);
    sink_lsnset_free(&r.applied);
    for (i = 0; r.tables != NULL && i < cfg->n_entities; i++)
        free(r.tables[i]);
    free(r.tables);
    free(r.spill_evs);
    free(r.minoff);
    free(r.bulk_end);
    free(r.bulk_slots);
    PQfreemem(r.q_state);
    PQfinish(r.conn);
    return rc;
}
