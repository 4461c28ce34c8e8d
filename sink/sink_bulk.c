/* --rebuild's bulk load: each entity's topic read from the beginning up to
 * the end offsets captured when the rebuild started, one entity after the
 * other in dependency order, a batch of up to --batch events per target
 * transaction.
 * sink/sink_bulk.c
 *
 * Why it is correct without reassembling transactions:
 * - Parents are loaded before their children, so a child's parent is in
 *   the target unless the source deleted it or it lies past the cut (the
 *   child is parked and applied once the parent arrives).  A delete of a
 *   row that rows of the same table still reference is parked until they
 *   are gone (sink_apply_set_park_deletes()).
 * - Every event of a key lies in one partition, in source order, and the
 *   stale check keeps the newest, so per-key order holds across batches,
 *   restarts and replays.
 * - The cut is where the bulk load stopped in each partition.  Source
 *   transactions that have events on both sides of it, or that lie wholly
 *   past it with a commit LSN below the newest one loaded, can never be
 *   reassembled (some of their events were applied already): their events
 *   read afterwards are applied loose, with parking, and their BEGIN and
 *   END are ignored.  <state>.bulk keeps that commit LSN (cut_lsn).
 * Offsets and the cut are stored with the rows, so a kill -9 resumes the
 * bulk load where its last batch committed.
 */
#include "ferry_buf.h"
#include "ferry_log.h"
#include "ferry_lsn.h"
#include "sink_pg.h"
#include "sink_run_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs the statement head <state schema> tail on the bulk load's state
 * tables (no row of them is bad data: a data error is fatal). */
static int
exec_q(run_t *r, const char *what, const char *head, const char *tail, int n,
       const char *const *params, PGresult **res, ferry_err_t *err)
{
    ferry_buf_t sql = {0};
    int rc;

    ferry_buf_append_str(&sql, head);
    ferry_buf_append_str(&sql, r->q_state);
    ferry_buf_append_str(&sql, tail);
    rc = ferry_buf_status(&sql, err, "building the statement to %s", what);
    if (rc == 0)
        rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), n, params, res, NULL,
                          what, FERRY_PG_DATA_FATAL, err);
    ferry_buf_close(&sql);
    return rc;
}

int
sink__bulk_unfinished(run_t *r, bool *yes, ferry_err_t *err)
{
    PGresult *res = NULL;
    int rc = exec_q(r, "read the bulk load state", "SELECT NOT done FROM ",
                    ".bulk", 0, NULL, &res, err);

    *yes = rc == 0 && PQntuples(res) == 1 &&
           strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return rc;
}

/* Records the end offsets (the high watermarks the consumer read at
 * assignment) and an unfinished bulk load, in one transaction. */
static int
record_start(run_t *r, ferry_err_t *err)
{
    ferry_buf_t t = {0}, p = {0}, o = {0};
    const char *params[3];
    size_t i, n = 0;
    int rc = 0;

    ferry_buf_putc(&t, '{');
    ferry_buf_putc(&p, '{');
    ferry_buf_putc(&o, '{');
    for (i = 0; i < r->kc.n_slots; i++) {
        const sink_slot_t *s = &r->kc.slots[i];

        if (s->is_tx)
            continue;
        ferry_buf_printf(&t, "%s\"%s\"", n > 0 ? "," : "", s->topic);
        ferry_buf_printf(&p, "%s%d", n > 0 ? "," : "", (int)s->partition);
        ferry_buf_printf(&o, "%s%" PRId64, n > 0 ? "," : "", s->end);
        n++;
    }
    ferry_buf_putc(&t, '}');
    ferry_buf_putc(&p, '}');
    ferry_buf_putc(&o, '}');
    if ((rc = ferry_buf_status(&t, err,
                               "recording the bulk load's end "
                               "offsets")) == 0 &&
        (rc = ferry_buf_status(&p, err,
                               "recording the bulk load's end "
                               "offsets")) == 0)
        rc = ferry_buf_status(&o, err, "recording the bulk load's end offsets");
    params[0] = ferry_buf_cstr(&t);
    params[1] = ferry_buf_cstr(&p);
    params[2] = ferry_buf_cstr(&o);
    if (rc == 0)
        rc = sink_pg_exec(r->conn, "BEGIN", 0, NULL, NULL, NULL,
                          "begin a transaction", 0, err);
    if (rc == 0)
        rc = exec_q(
            r, "record the bulk load's end offsets", "INSERT INTO ",
            ".bulk_end SELECT * FROM unnest($1::text[], $2::int[], $3::int8[])",
            3, params, NULL, err);
    if (rc == 0)
        rc = exec_q(r, "record the bulk load", "INSERT INTO ",
                    ".bulk (cut_lsn, done) VALUES (0, false)", 0, NULL, NULL,
                    err);
    if (rc == 0)
        rc = sink_pg_exec(r->conn, "COMMIT", 0, NULL, NULL, NULL, "commit", 0,
                          err);
    else if (PQstatus(r->conn) == CONNECTION_OK)
        PQclear(PQexec(r->conn, "ROLLBACK"));
    ferry_buf_close(&t);
    ferry_buf_close(&p);
    ferry_buf_close(&o);
    return rc;
}

int
sink__bulk_prepare(run_t *r, bool fresh, ferry_err_t *err)
{
    PGresult *res = NULL;
    size_t i;
    int row, rc = 0;

    r->bulk_end = malloc((r->kc.n_slots + 1) * sizeof(*r->bulk_end));
    if (r->bulk_end == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory preparing the bulk load");
    for (i = 0; i < r->kc.n_slots; i++)
        r->bulk_end[i] = -1;
    if (fresh && (rc = record_start(r, err)) != 0)
        return rc;
    rc = exec_q(r, "read the bulk load state", "SELECT cut_lsn, done FROM ",
                ".bulk", 0, NULL, &res, err);
    if (rc == 0 && PQntuples(res) == 1) {
        r->bulk_cut = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        r->bulk_active = strcmp(PQgetvalue(res, 0, 1), "f") == 0;
    }
    PQclear(res);
    res = NULL;
    if (rc != 0 || !r->bulk_active)
        return rc;
    rc = exec_q(r, "read the bulk load's end offsets",
                "SELECT topic, partition, end_offset FROM ", ".bulk_end", 0,
                NULL, &res, err);
    for (row = 0; rc == 0 && row < PQntuples(res); row++) {
        int slot = sink_consumer_slot(&r->kc, PQgetvalue(res, row, 0),
                                      atoi(PQgetvalue(res, row, 1)));

        if (slot >= 0)
            r->bulk_end[slot] = atoll(PQgetvalue(res, row, 2));
    }
    PQclear(res);
    if (rc == 0)
        ferry_info("rebuild: %s the bulk load (entities in dependency order, "
                   "up to the end offsets captured when the rebuild started)",
                   fresh ? "starting" : "resuming");
    return rc;
}

int
sink__bulk_store(run_t *r, ferry_err_t *err)
{
    uint64_t cut = 0;
    char num[24];
    const char *p1[1] = {num};
    size_t t, j;

    for (t = 0; t < r->n_batch; t++)
        for (j = 0; j < r->batch[t]->n_events; j++) {
            const sink_event_t *ev = r->batch[t]->events[j];

            if (ev->op != 'X' && ev->pair.commit > cut)
                cut = ev->pair.commit;
        }
    if (cut <= r->bulk_cut)
        return 0;
    snprintf(num, sizeof(num), "%" PRIu64, cut);
    return exec_q(r, "record the bulk load's cut", "UPDATE ",
                  ".bulk SET cut_lsn = greatest(cut_lsn, $1::int8)", 1, p1,
                  NULL, err);
}

/* Assigns only the slots of topic that still have events to load, and
 * notes every slot of topic in r->bulk_slots (for topic_done()).  Sets
 * *left to how many events there are; 0 assigns nothing. */
static int
assign_topic(run_t *r, const char *topic, long *left, ferry_err_t *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)r->kc.n_slots + 1);
    rd_kafka_resp_err_t e;
    size_t i, *grown;

    *left = 0;
    r->n_bulk_slots = 0;
    grown = realloc(r->bulk_slots, (r->kc.n_slots + 1) * sizeof(*grown));
    if (list == NULL || grown == NULL) {
        if (list != NULL)
            rd_kafka_topic_partition_list_destroy(list);
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    }
    r->bulk_slots = grown;
    for (i = 0; i < r->kc.n_slots; i++) {
        const sink_slot_t *s = &r->kc.slots[i];

        if (strcmp(s->topic, topic) != 0)
            continue;
        r->bulk_slots[r->n_bulk_slots++] = i;
        if (s->next >= r->bulk_end[i])
            continue;
        rd_kafka_topic_partition_list_add(list, s->topic, s->partition)
            ->offset = s->next;
        *left += (long)(r->bulk_end[i] - s->next);
    }
    e = rd_kafka_assign(r->kc.rk, list->cnt > 0 ? list : NULL);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not assign the partitions of topic "
                             "\"%s\": %s",
                             topic, rd_kafka_err2str(e));
    return 0;
}

/* True once every slot of the topic being loaded reached its end offset
 * (checked at every message: only that topic's slots are looked at). */
static bool
topic_done(const run_t *r)
{
    size_t i;

    for (i = 0; i < r->n_bulk_slots; i++)
        if (r->kc.slots[r->bulk_slots[i]].next < r->bulk_end[r->bulk_slots[i]])
            return false;
    return true;
}

/* Takes message m (borrowed) into r->loose when it lies below its slot's
 * end offset.  Returns 0 or an error class with err set. */
static int
take(run_t *r, const rd_kafka_message_t *m, ferry_err_t *err)
{
    int slot =
        sink_consumer_slot(&r->kc, rd_kafka_topic_name(m->rkt), m->partition);

    /* Past the end: read again by the live stream. */
    if (slot < 0 || m->offset >= r->bulk_end[slot] ||
        m->offset < r->kc.slots[slot].next)
        return 0;
    return sink__loose_take(r, m, slot, err);
}

/* Reads up to a batch of topic's events, or until its end, or until
 * max_wait_ms passes without one. */
static int
read_batch(run_t *r, const char *topic, ferry_err_t *err)
{
    int64_t idle_since = sink__run_now_ms();
    int rc = 0;

    while (rc == 0 && !*r->stop && !topic_done(r) &&
           (r->loose == NULL || r->loose->n_events < r->opts->max_batch)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->kc.rk, 100);

        if (m == NULL) {
            if (sink__run_now_ms() - idle_since > r->opts->max_wait_ms &&
                r->loose != NULL)
                break;
            continue;
        }
        idle_since = sink__run_now_ms();
        if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
            m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
            rc = ferry_err_set(err, FERRY_EFATAL,
                               "rebuild: cannot read topic \"%s\" partition "
                               "%d at offset %" PRId64
                               ": the broker no longer holds it (%s)",
                               topic, (int)m->partition, m->offset,
                               rd_kafka_message_errstr(m));
        else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            ;
        else if (m->err != 0)
            ferry_warn("Kafka consumer: %s (retrying)",
                       rd_kafka_message_errstr(m));
        else
            rc = take(r, m, err);
        rd_kafka_message_destroy(m);
    }
    return rc;
}

/* Loads entity e's topic up to its end offsets. */
static int
load_entity(run_t *r, const map_entity_t *e, ferry_err_t *err)
{
    const char *topic = map_entity_topic(r->cfg, e);
    int64_t t0 = sink__run_now_ms(), last_log = t0;
    long total, done = 0;
    int rc;

    if ((rc = assign_topic(r, topic, &total, err)) != 0 || total == 0)
        return rc;
    ferry_info("rebuild: entity \"%s\": loading %ld events of topic \"%s\"",
               e->name, total, topic);
    while (rc == 0 && !*r->stop && !topic_done(r)) {
        if ((rc = read_batch(r, topic, err)) != 0 || r->loose == NULL)
            continue;
        done += (long)r->loose->n_events;
        if ((rc = sink__loose_to_batch(r, err)) != 0)
            return rc;
        rc = sink__commit_batch(r, err);
        if (rc == 0 && sink__run_now_ms() - last_log >= 10000) {
            last_log = sink__run_now_ms();
            ferry_info("rebuild: entity \"%s\": %ld of %ld events (%.0f%%), "
                       "%.0f events/s",
                       e->name, done, total, 100.0 * done / total,
                       done * 1000.0 / (double)(last_log - t0 + 1));
        }
    }
    if (rc == 0 && !*r->stop)
        ferry_info("rebuild: entity \"%s\": %ld events loaded in %.1f s",
                   e->name, done, (sink__run_now_ms() - t0) / 1000.0);
    return rc;
}

int
sink__bulk_run(run_t *r, ferry_err_t *err)
{
    int64_t t0 = sink__run_now_ms();
    PGresult *res = NULL;
    size_t k;
    int rc = 0;

    sink_apply_set_park_deletes(r->apply, true);
    for (k = 0; rc == 0 && !*r->stop && k < r->cfg->n_entities; k++)
        rc = load_entity(r, &r->cfg->entities[r->cfg->apply_order[k]], err);
    sink_apply_set_park_deletes(r->apply, false);
    if (rc != 0 || *r->stop)
        return rc;
    /* Every entity is loaded: the cut is final. */
    rc = exec_q(r, "finish the bulk load", "UPDATE ",
                ".bulk SET done = true, done_at = now() RETURNING cut_lsn", 0,
                NULL, &res, err);
    if (rc == 0 && PQntuples(res) == 1)
        r->bulk_cut = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (rc != 0)
        return rc;
    r->bulk_active = false;
    ferry_info(
        "rebuild: bulk load done in %.1f s (cut at commit LSN " FERRY_LSN_FMT
        "); streaming live from the end offsets",
        (sink__run_now_ms() - t0) / 1000.0, FERRY_LSN_ARGS(r->bulk_cut));
    /* The live stream: every partition, from where the load stopped. */
    return sink_consumer_assign_next(&r->kc, err);
}
