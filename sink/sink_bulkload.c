/* The bulk load, entity by entity, and the sweep after a re-snapshot.
 * sink/sink_bulkload.c */
#include "sink_bulkload.h"

#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rebuild {
    sink_parts_t *p;            /* borrowed */
    int64_t *end;               /* owned: per slot, the offset it loads up to,
                                   -1 where it loads nothing */
    size_t *slots;              /* owned: the slots of the topic loaded */
    size_t n_slots;             /* their number */
    size_t k;                   /* the entity being loaded, in apply order */
    const map_entity_t *e;      /* borrowed: that entity */
    long total, loaded;         /* its events, and those loaded so far */
    int64_t t0, e_t0, last_log; /* when the load, the entity and the last
                                  progress line began */
    int64_t last_read;          /* when the last event came */
    sink_tx_t *loose;           /* owned: the events of the next batch */
    sink_tx_t *batch;           /* owned: the batch being committed */
    int64_t *minoff;            /* owned: per slot, the offsets to store */
    uint64_t cut;               /* the highest commit LSN applied so far */
    uint64_t batch_cut;         /* the batch's */
    const sink_state_bulk_t *b; /* borrowed: what the load is */
    size_t n_paused;            /* partitions paused at their end */
    bool sweeping;              /* the entities are loaded: sweeping */
    size_t sweep_k;             /* the entity swept, from the last in apply
                                   order */
    size_t sweep_got;           /* rows the last sweep chunk took */
    long swept;                 /* rows swept from the entity so far */
    bool finishing;             /* the load is done: recording that */
    bool done;                  /* recorded */
    int rc;                     /* the error that stops it */
    ferry_err_t err;            /* its message */
} rebuild_t;

static const char *
what(const rebuild_t *rb)
{
    return rb->b->kind == SINK_BULK_SNAPSHOT ? "snapshot" : "rebuild";
}

static void
fail(rebuild_t *rb, int rc, const ferry_err_t *err)
{
    if (rb->rc == 0) {
        rb->rc = rc;
        rb->err = *err;
    }
    sink_loop_stop(rb->p->loop);
}

static int
oom(ferry_err_t *err, const char *what)
{
    return ferry_err_set(err, FERRY_ENOMEM, "out of memory %s", what);
}

int
sink_bulkload_start(sink_parts_t *p, const sink_state_bulk_t *b,
                    ferry_err_t *err)
{
    int rc = sink_state_push_bulk_start(p->state, p->kc, b, err);

    if (rc == 0)
        rc = sink_target_run_wait(p->target, err);
    if (rc == 0 && b->kind == SINK_BULK_SNAPSHOT)
        ferry_info("snapshot: applying ferry-cdc's snapshot of slot \"%s\" "
                   "at " FERRY_LSN_FMT " entity by entity in dependency "
                   "order%s",
                   p->cfg->source_slot, FERRY_LSN_ARGS(b->snap_lsn),
                   b->sweep ? ", then removing the rows it does not hold" : "");
    else if (rc == 0)
        ferry_info("rebuild: starting the bulk load (entities in dependency "
                   "order, up to the end offsets captured when the rebuild "
                   "started)");
    return rc;
}

int
sink_bulkload_state(sink_parts_t *p, sink_state_bulk_t *b, ferry_err_t *err)
{
    int rc;

    memset(b, 0, sizeof(*b));
    rc = sink_state_push_bulk_read(p->state, p->kc, b, NULL, err);
    if (rc == 0)
        rc = sink_target_run_wait(p->target, err);
    return rc;
}

/* --- reading ------------------------------------------------------------ */

/* A snapshot's load takes, in each partition, the changes streamed before
 * the snapshot (older than its LSN: applied loose, as a rebuild's) and the
 * snapshot's rows (op r at its LSN), and stops at the first change
 * streamed after it: every partition's rows were published before
 * streaming went on, so no transaction after the snapshot is cut. */
static bool
after_snapshot(const rebuild_t *rb, const sink_event_t *ev)
{
    if (rb->b->kind != SINK_BULK_SNAPSHOT || ev->op == 'X')
        return false;
    if (ev->op == 'r' && ev->pair.commit == rb->b->snap_lsn)
        return false;
    return ev->pair.commit >= rb->b->snap_lsn;
}

/* Stops fetching slot s (its end is reached); the next topic's
 * assignment replaces it. */
static void
pause_slot(rebuild_t *rb, const sink_slot_t *s)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    if (l == NULL)
        return; /* it is read to its high watermark and ignored past end */
    rd_kafka_topic_partition_list_add(l, s->topic, s->partition);
    (void)rd_kafka_pause_partitions(rb->p->kc->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    rb->n_paused++;
}

/* Resumes every partition paused_slot() paused: librdkafka keeps a pause
 * across assignments. */
static void
resume_all(rebuild_t *rb)
{
    sink_consumer_t *kc = rb->p->kc;
    rd_kafka_topic_partition_list_t *l;

    if (rb->n_paused == 0)
        return;
    if ((l = rd_kafka_topic_partition_list_new((int)kc->n_slots + 1)) == NULL)
        return;
    for (size_t i = 0; i < kc->n_slots; i++)
        rd_kafka_topic_partition_list_add(l, kc->slots[i].topic,
                                          kc->slots[i].partition);
    if (rd_kafka_resume_partitions(kc->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rb->n_paused = 0;
    rd_kafka_topic_partition_list_destroy(l);
}

/* Takes message m when it lies below its slot's end offset (past it, the
 * live stream reads it again). */
static int
on_message(void *arg, const rd_kafka_message_t *m, int slot, ferry_err_t *err)
{
    rebuild_t *rb = arg;
    sink_slot_t *s = &rb->p->kc->slots[slot];
    sink_pos_t pos = {slot, m->offset};
    sink_event_t *ev = NULL;

    if (m->offset >= rb->end[slot] || m->offset < s->next)
        return 0;
    rb->last_read = ferry_mono_ms();
    if (m->payload == NULL) {
        s->next = m->offset + 1;
        return 0; /* a tombstone */
    }
    if (sink_event_parse(m->key, m->key_len, m->payload, m->len, pos, &ev) ==
            FERRY_ENOMEM ||
        ev == NULL) {
        sink_event_free(ev);
        return oom(err, "loading events");
    }
    if (after_snapshot(rb, ev)) {
        /* The snapshot's rows end here in this partition: what follows
         * streamed after it and is applied transaction by transaction. */
        sink_event_free(ev);
        rb->end[slot] = m->offset;
        pause_slot(rb, s);
        return 0;
    }
    s->next = m->offset + 1;
    if (sink_tx_loose_add(&rb->loose, ev) != 0) {
        sink_event_free(ev);
        return oom(err, "loading events");
    }
    if (rb->loose->n_events >= rb->p->opts->max_batch)
        sink_intake_pause(rb->p->intake);
    return 0;
}

/* True once every slot of the topic being loaded reached its end. */
static bool
topic_done(const rebuild_t *rb)
{
    size_t i;

    for (i = 0; i < rb->n_slots; i++)
        if (rb->p->kc->slots[rb->slots[i]].next < rb->end[rb->slots[i]])
            return false;
    return true;
}

/* Assigns only the slots of entity e's topic that still have events to
 * load.  Sets rb->total to how many events there are; 0 assigns nothing. */
static int
assign_topic(rebuild_t *rb, ferry_err_t *err)
{
    sink_consumer_t *kc = rb->p->kc;
    const char *topic = map_entity_topic(rb->p->cfg, rb->e);
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)kc->n_slots + 1);
    rd_kafka_resp_err_t e;
    size_t i;

    rb->total = 0;
    rb->loaded = 0;
    rb->n_slots = 0;
    if (list == NULL)
        return oom(err, "assigning a topic");
    for (i = 0; i < kc->n_slots; i++) {
        const sink_slot_t *s = &kc->slots[i];

        if (strcmp(s->topic, topic) != 0)
            continue;
        rb->slots[rb->n_slots++] = i;
        if (s->next >= rb->end[i])
            continue;
        rd_kafka_topic_partition_list_add(list, s->topic, s->partition)
            ->offset = s->next;
        rb->total += (long)(rb->end[i] - s->next);
    }
    resume_all(rb);
    e = sink_consumer_assign_list(kc, list->cnt > 0 ? list : NULL);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not assign the partitions of topic "
                             "\"%s\": %s",
                             topic, rd_kafka_err2str(e));
    return 0;
}

/* --- committing --------------------------------------------------------- */

static int
body_batch(void *arg, ferry_err_t *err)
{
    rebuild_t *rb = arg;
    sink_consumer_t *kc = rb->p->kc;
    sink_tx_t *one[1] = {rb->batch};
    size_t i;
    int rc;

    rc = sink_apply_push_txs(rb->p->apply, one, 1, err);
    for (i = 0; i < kc->n_slots; i++)
        rb->minoff[i] = kc->slots[i].next;
    /* Events read during the batch are the next batch's. */
    if (rb->loose != NULL)
        sink_tx_min_offsets(rb->loose, rb->minoff, kc->n_slots);
    if (rc == 0)
        rc = sink_state_push_offsets(rb->p->state, kc, rb->minoff, err);
    if (rc == 0 && rb->batch_cut > rb->cut)
        rc = sink_state_push_bulk_cut(rb->p->state, rb->batch_cut, err);
    return rc;
}

static void
committed(void *arg, int rc, const ferry_err_t *err)
{
    rebuild_t *rb = arg;
    sink_consumer_t *kc = rb->p->kc;
    int64_t now = ferry_mono_ms();
    size_t i;

    if (rc != 0) {
        fail(rb, rc, err);
        return;
    }
    for (i = 0; i < kc->n_slots; i++)
        kc->slots[i].stored = rb->minoff[i];
    if (rb->batch_cut > rb->cut)
        rb->cut = rb->batch_cut;
    rb->loaded += (long)rb->batch->n_events;
    sink_tx_free(rb->batch);
    rb->batch = NULL;
    if (now - rb->last_log >= 10000) {
        rb->last_log = now;
        ferry_info("%s: entity \"%s\": %ld of %ld events (%.0f%%), "
                   "%.0f events/s",
                   what(rb), rb->e->name, rb->loaded, rb->total,
                   100.0 * rb->loaded / (rb->total > 0 ? rb->total : 1),
                   rb->loaded * 1000.0 / (double)(now - rb->e_t0 + 1));
    }
}

static void
start_commit(rebuild_t *rb)
{
    ferry_err_t e = {0, ""};
    char what[64];
    size_t j;

    rb->batch = rb->loose;
    rb->loose = NULL;
    rb->batch_cut = 0;
    for (j = 0; j < rb->batch->n_events; j++) {
        const sink_event_t *ev = rb->batch->events[j];

        if (ev->op != 'X' && ev->pair.commit > rb->batch_cut)
            rb->batch_cut = ev->pair.commit;
    }
    snprintf(what, sizeof(what), "the batch of %zu events",
             rb->batch->n_events);
    if (sink_commit_run(rb->p->commit, what, 0, body_batch, committed, rb,
                        &e) != 0)
        fail(rb, e.status, &e);
}

/* The load is recorded as done: the cut is final, the live stream starts
 * from where the load stopped, on every partition. */
static void
recorded(void *arg, int rc, const ferry_err_t *err)
{
    rebuild_t *rb = arg;
    ferry_err_t e = {0, ""};

    if (rc != 0) {
        fail(rb, rc, err);
        return;
    }
    ferry_info("%s: bulk load done in %.1f s (cut at commit LSN %X/%X); "
               "streaming live from the end offsets",
               what(rb), (ferry_mono_ms() - rb->t0) / 1000.0,
               (unsigned)(rb->cut >> 32), (unsigned)rb->cut);
    rb->done = true;
    resume_all(rb);
    if (sink_consumer_assign_next(rb->p->kc, &e) != 0)
        fail(rb, e.status, &e);
    sink_loop_stop(rb->p->loop);
}

static bool sweep_step(rebuild_t *rb);

static int
body_done(void *arg, ferry_err_t *err)
{
    rebuild_t *rb = arg;

    return sink_state_push_bulk_done(rb->p->state, &rb->cut, err);
}

/* --- the sweep ----------------------------------------------------------- */

static int
body_sweep(void *arg, ferry_err_t *err)
{
    rebuild_t *rb = arg;
    const map_config_t *cfg = rb->p->cfg;
    size_t idx = cfg->apply_order[rb->sweep_k - 1];

    rb->sweep_got = 0;
    return sink_apply_push_sweep(rb->p->apply, idx,
                                 (sink_pair_t){rb->b->snap_lsn, 0},
                                 rb->p->opts->max_batch, &rb->sweep_got, err);
}

static void
swept(void *arg, int rc, const ferry_err_t *err)
{
    rebuild_t *rb = arg;

    if (rc != 0) {
        fail(rb, rc, err);
        return;
    }
    rb->swept += (long)rb->sweep_got;
}

/* One chunk of the sweep, children first; false once every entity is
 * swept.  A chunk that took nothing ends its entity. */
static bool
sweep_step(rebuild_t *rb)
{
    const map_config_t *cfg = rb->p->cfg;
    ferry_err_t e = {0, ""};
    char desc[128];

    if (!rb->sweeping) {
        rb->sweeping = true;
        rb->sweep_k = cfg->n_entities;
        rb->sweep_got = 1; /* the first chunk of the first entity */
        rb->swept = 0;
    }
    while (rb->sweep_k > 0 && rb->sweep_got == 0) {
        const map_entity_t *en =
            &cfg->entities[cfg->apply_order[rb->sweep_k - 1]];

        if (rb->swept > 0)
            ferry_info("snapshot: entity \"%s\": %ld rows the snapshot does "
                       "not hold removed",
                       en->name, rb->swept);
        rb->swept = 0;
        rb->sweep_got = 1;
        rb->sweep_k--;
    }
    if (rb->sweep_k == 0)
        return false;
    snprintf(desc, sizeof(desc), "the sweep of entity \"%s\"",
             cfg->entities[cfg->apply_order[rb->sweep_k - 1]].name);
    if (sink_commit_run(rb->p->commit, desc, 0, body_sweep, swept, rb, &e) != 0)
        fail(rb, e.status, &e);
    return true;
}

/* --- the turn ----------------------------------------------------------- */

/* Moves on to the next entity with events to load; false when none is
 * left. */
static bool
next_entity(rebuild_t *rb, ferry_err_t *err, int *rc)
{
    const map_config_t *cfg = rb->p->cfg;

    *rc = 0;
    while (rb->k < cfg->n_entities) {
        if (rb->e != NULL)
            ferry_info("%s: entity \"%s\": %ld events loaded in %.1f s",
                       what(rb), rb->e->name, rb->loaded,
                       (ferry_mono_ms() - rb->e_t0) / 1000.0);
        rb->e = &cfg->entities[cfg->apply_order[rb->k++]];
        if ((*rc = assign_topic(rb, err)) != 0)
            return false;
        if (rb->total == 0) {
            rb->e = NULL;
            continue;
        }
        rb->e_t0 = rb->last_log = rb->last_read = ferry_mono_ms();
        ferry_info("%s: entity \"%s\": loading %ld events of topic \"%s\"",
                   what(rb), rb->e->name, rb->total,
                   map_entity_topic(cfg, rb->e));
        {
            char why[300];

            snprintf(why, sizeof(why), "%s: loading entity \"%s\" (%zu of %zu)",
                     rb->b->kind == SINK_BULK_SNAPSHOT
                         ? "applying ferry-cdc's snapshot"
                         : "rebuilding from the topics",
                     rb->e->name, rb->k, cfg->n_entities);
            sink_metrics_phase(rb->p->metrics, false, why);
        }
        sink_intake_resume(rb->p->intake);
        return true;
    }
    if (rb->e != NULL)
        ferry_info("%s: entity \"%s\": %ld events loaded in %.1f s", what(rb),
                   rb->e->name, rb->loaded,
                   (ferry_mono_ms() - rb->e_t0) / 1000.0);
    rb->e = NULL;
    return false;
}

static int
tick(void *arg, ferry_err_t *err)
{
    rebuild_t *rb = arg;
    const sink_run_opts_t *opts = rb->p->opts;
    ferry_err_t e = {0, ""};
    int rc = 0;

    (void)err;
    if (rb->finishing || sink_commit_busy(rb->p->commit))
        return 0;
    if (sink_loop_stopping(rb->p->loop)) {
        sink_loop_stop(rb->p->loop);
        return 0;
    }
    if (rb->loose != NULL &&
        (rb->loose->n_events >= opts->max_batch || topic_done(rb) ||
         ferry_mono_ms() - rb->last_read > opts->max_wait_ms)) {
        start_commit(rb);
        return 0;
    }
    if (rb->e != NULL && !topic_done(rb)) {
        if (sink_intake_paused(rb->p->intake))
            sink_intake_resume(rb->p->intake);
        return 0;
    }
    if (!rb->sweeping && next_entity(rb, &e, &rc))
        return 0;
    if (rc != 0) {
        fail(rb, rc, &e);
        return 0;
    }
    if (rb->b->sweep && sweep_step(rb))
        return 0;
    /* Every entity is loaded (and swept): the cut is final. */
    rb->finishing = true;
    sink_intake_pause(rb->p->intake);
    if (sink_commit_run(rb->p->commit, "the end of the bulk load", 0, body_done,
                        recorded, rb, &e) != 0)
        fail(rb, e.status, &e);
    return 0;
}

int
sink_bulkload_run(sink_parts_t *p, const sink_state_bulk_t *b, uint64_t *cut,
                  bool *done, ferry_err_t *err)
{
    rebuild_t rb;
    int rc = 0;

    memset(&rb, 0, sizeof(rb));
    rb.p = p;
    rb.b = b;
    rb.cut = b->cut;
    rb.t0 = ferry_mono_ms();
    rb.end = malloc((p->kc->n_slots + 1) * sizeof(*rb.end));
    rb.slots = malloc((p->kc->n_slots + 1) * sizeof(*rb.slots));
    rb.minoff = malloc((p->kc->n_slots + 1) * sizeof(*rb.minoff));
    if (rb.end == NULL || rb.slots == NULL || rb.minoff == NULL)
        rc = oom(err, "starting the bulk load");
    if (rc == 0) {
        sink_state_bulk_t again;
        size_t i;

        memset(&again, 0, sizeof(again));
        for (i = 0; i < p->kc->n_slots; i++)
            rb.end[i] = -1;
        /* The end offsets (the state was read without them). */
        rc = sink_state_push_bulk_read(p->state, p->kc, &again, rb.end, err);
        if (rc == 0)
            rc = sink_target_run_wait(p->target, err);
    }
    if (rc == 0) {
        sink_metrics_phase(p->metrics, false,
                           b->kind == SINK_BULK_SNAPSHOT
                               ? "applying ferry-cdc's snapshot"
                               : "rebuilding from the topics");
        sink_apply_set_park_deletes(p->apply, true);
        sink_intake_set_handler(p->intake, on_message, &rb);
        sink_loop_set_tick(p->loop, tick, &rb);
        rc = sink_loop_run(p->loop, err);
        sink_intake_pause(p->intake);
        sink_intake_set_handler(p->intake, NULL, NULL);
        sink_loop_set_tick(p->loop, NULL, NULL);
        sink_apply_set_park_deletes(p->apply, false);
        if (rc == 0 && rb.rc != 0) {
            rc = rb.rc;
            *err = rb.err;
        }
    }
    *cut = rb.cut;
    *done = rb.done;
    sink_tx_free(rb.loose);
    sink_tx_free(rb.batch);
    free(rb.end);
    free(rb.slots);
    free(rb.minoff);
    return rc;
}
