/* ferry-sink's scale-out mode.
 * sink/sink_scaleout.c
 *
 * What the loop does, at each turn (tick()): an assignment the group made
 * is taken up (the stored offsets read, then the partitions assigned); the
 * events read since the last commit are applied as one batch, at least
 * once a second (every commit also drains what this or another member
 * parked); with --exit-at-end, once assigned and read to the end, a last
 * commit, then the loop stops.
 */
#include "sink_scaleout.h"

#include "ferry_log.h"
#include "ferry_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scaleout {
    sink_parts_t *p;        /* borrowed */
    sink_tx_t *loose;       /* owned: events read since the batch began */
    sink_tx_t *batch;       /* owned: the batch being committed */
    size_t *idx;            /* owned: the batch's partitions (slots) ... */
    int64_t *from, *to;     /* owned: ... and the offsets they move */
    size_t n_idx;           /* their number */
    bool fenced;            /* the batch's offsets moved under this sink */
    size_t *pending;        /* owned: an assignment to take up */
    size_t n_pending;       /* its slots; ... */
    bool assign_pending;    /* ... valid while this is set */
    bool refetching;        /* the pending slots are owned already: seek
                               them, do not assign */
    int64_t *found;         /* owned: the stored offsets read for it */
    int64_t last_commit;    /* when the last batch committed */
    int64_t commit_started; /* when the batch's commit began */
    int64_t batch_oldest, batch_newest; /* its commit times (ms) */
    bool finishing;  /* --exit-at-end: the last commit runs */
    int rc;          /* the error that stops the mode */
    ferry_err_t err; /* its message */
} scaleout_t;

static void
fail(scaleout_t *so, int rc, const ferry_err_t *err)
{
    if (so->rc == 0) {
        so->rc = rc;
        so->err = *err;
    }
    sink_loop_stop(so->p->loop);
}

static int
oom(ferry_err_t *err, const char *what)
{
    return ferry_err_set(err, FERRY_ENOMEM, "out of memory %s", what);
}

/* --- the group ---------------------------------------------------------- */

/* Called inside the intake's poll: the assignment is only noted; the
 * stored offsets are read from the next turn, once the target is free. */
static int
on_assign(void *arg, sink_consumer_t *c, const size_t *idx, size_t n,
          ferry_err_t *err)
{
    scaleout_t *so = arg;
    size_t *copy = malloc((n + 1) * sizeof(*copy));
    int64_t *found = malloc((n + 1) * sizeof(*found));

    (void)c;
    if (copy == NULL || found == NULL) {
        free(copy);
        free(found);
        return oom(err, "taking up an assignment");
    }
    memcpy(copy, idx, n * sizeof(*idx));
    free(so->pending);
    free(so->found);
    so->pending = copy;
    so->found = found;
    so->n_pending = n;
    so->assign_pending = true;
    return 0;
}

static void
on_revoke(void *arg)
{
    scaleout_t *so = arg;

    if (so->loose != NULL)
        ferry_info("group \"%s\" took the partitions back; dropping %zu "
                   "events read and not applied (their new owner reads "
                   "them from the stored offsets)",
                   so->p->group, so->loose->n_events);
    sink_tx_free(so->loose);
    so->loose = NULL;
    so->assign_pending = false;
    so->refetching = false;
}

static int
body_read_stored(void *arg, ferry_err_t *err)
{
    scaleout_t *so = arg;

    return sink_state_push_group_read(so->p->state, so->p->kc, so->pending,
                                      so->n_pending, so->found, err);
}

/* The stored offsets are in: position every slot there and assign. */
static void
stored_read(void *arg, int rc, const ferry_err_t *err)
{
    scaleout_t *so = arg;
    sink_consumer_t *kc = so->p->kc;
    ferry_err_t e = {0, ""};
    size_t i;

    if (rc != 0) {
        fail(so, rc, err);
        return;
    }
    if (!so->assign_pending)
        return; /* revoked meanwhile */
    so->assign_pending = false;
    for (i = 0; rc == 0 && i < so->n_pending; i++) {
        if (so->found[i] < 0)
            rc = ferry_err_set(&e, FERRY_EFATAL,
                               "no stored offset for topic \"%s\" partition "
                               "%d after creating it",
                               kc->slots[so->pending[i]].topic,
                               (int)kc->slots[so->pending[i]].partition);
        else
            rc = sink_consumer_position(kc, so->pending[i], so->found[i], &e);
    }
    /* After a fenced batch the partitions are still this sink's: seek
     * within the group's assignment, never replace it. */
    if (rc == 0 && so->refetching)
        rc = sink_consumer_reassign(kc, &e);
    else if (rc == 0)
        rc = sink_consumer_assign_owned(kc, so->pending, so->n_pending, &e);
    if (rc != 0) {
        fail(so, rc, &e);
        return;
    }
    if (!so->refetching)
        ferry_info("group \"%s\" assigned %zu partitions to this sink",
                   so->p->group, so->n_pending);
    so->refetching = false;
    sink_intake_resume(so->p->intake);
}

/* The batch's offsets moved under this sink: forget what was read and
 * read again from the stored offsets of the partitions it owns. */
static void
refetch(scaleout_t *so, const ferry_err_t *why)
{
    sink_consumer_t *kc = so->p->kc;
    ferry_err_t e = {0, ""};
    size_t i, n = 0;

    ferry_warn("%s; dropping this batch and reading again from the stored "
               "offsets",
               why->msg);
    so->fenced = false;
    sink_tx_free(so->loose);
    so->loose = NULL;
    free(so->pending);
    free(so->found);
    so->pending = calloc(kc->n_slots + 1, sizeof(*so->pending));
    so->found = calloc(kc->n_slots + 1, sizeof(*so->found));
    if (so->pending == NULL || so->found == NULL) {
        oom(&e, "reading the stored offsets again");
        fail(so, e.status, &e);
        return;
    }
    for (i = 0; i < kc->n_slots; i++)
        if (kc->slots[i].owned)
            so->pending[n++] = i;
    so->n_pending = n;
    so->assign_pending = true;
    so->refetching = true;
    /* What the intake holds is from before: it goes with the batch. */
    sink_intake_pause(so->p->intake);
}

/* --- reading ------------------------------------------------------------ */

static int
on_message(void *arg, const rd_kafka_message_t *m, int slot, ferry_err_t *err)
{
    scaleout_t *so = arg;
    sink_slot_t *s = &so->p->kc->slots[slot];
    sink_pos_t pos = {slot, m->offset};
    sink_event_t *ev = NULL;

    /* A message fetched before a revocation: its new owner applies it. */
    if (!s->owned)
        return 0;
    s->next = m->offset + 1;
    if (m->payload == NULL)
        return 0; /* a tombstone */
    /* A malformed message comes back as an event of op 'X', which the
     * applier records as a dead letter; only a NULL event is an error. */
    if (sink_event_parse(m->key, m->key_len, m->payload, m->len, pos, &ev) ==
            FERRY_ENOMEM ||
        ev == NULL || sink_tx_loose_add(&so->loose, ev) != 0) {
        sink_event_free(ev);
        return oom(err, "collecting events");
    }
    if (so->loose->n_events >= so->p->opts->max_batch)
        sink_intake_pause(so->p->intake);
    return 0;
}

/* --- committing --------------------------------------------------------- */

/* Takes the events read so far as the batch, and notes where each owned
 * partition moves: below any event read after them (still in loose). */
static int
take_batch(scaleout_t *so)
{
    sink_consumer_t *kc = so->p->kc;
    size_t i;

    so->batch = so->loose;
    so->loose = NULL;
    free(so->idx);
    free(so->from);
    free(so->to);
    so->idx = malloc((kc->n_slots + 1) * sizeof(*so->idx));
    so->from = malloc((kc->n_slots + 1) * sizeof(*so->from));
    so->to = malloc((kc->n_slots + 1) * sizeof(*so->to));
    so->n_idx = 0;
    if (so->idx == NULL || so->from == NULL || so->to == NULL)
        return FERRY_ENOMEM;
    for (i = 0; i < kc->n_slots; i++) {
        const sink_slot_t *s = &kc->slots[i];

        if (!s->owned || s->next == s->stored)
            continue;
        so->idx[so->n_idx] = i;
        so->from[so->n_idx] = s->stored;
        so->to[so->n_idx] = s->next;
        so->n_idx++;
    }
    return 0;
}

static int
body_batch(void *arg, ferry_err_t *err)
{
    scaleout_t *so = arg;
    sink_tx_t *one[1] = {so->batch};
    int rc =
        sink_apply_push_txs(so->p->apply, one, so->batch != NULL ? 1 : 0, err);

    return rc != 0
               ? rc
               : sink_state_push_group_offsets(so->p->state, so->p->kc, so->idx,
                                               so->from, so->to, so->n_idx,
                                               so->p->group, &so->fenced, err);
}

static void
batch_done(scaleout_t *so)
{
    sink_consumer_t *kc = so->p->kc;
    size_t i;

    if (so->batch != NULL && so->batch->n_events > 0) {
        sink_metrics_applied(so->p->metrics, so->batch_oldest,
                             so->batch_newest);
        sink_metrics_batch(so->p->metrics,
                           (double)(ferry_mono_ms() - so->commit_started) /
                               1000.0);
    }
    for (i = 0; i < so->n_idx; i++)
        kc->slots[so->idx[i]].stored = so->to[i];
    sink_tx_free(so->batch);
    so->batch = NULL;
    so->n_idx = 0;
    so->last_commit = ferry_mono_ms();
}

static void
committed(void *arg, int rc, const ferry_err_t *err)
{
    scaleout_t *so = arg;

    if (rc == 0) {
        batch_done(so);
        if (so->finishing)
            sink_loop_stop(so->p->loop);
        return;
    }
    sink_tx_free(so->batch);
    so->batch = NULL;
    so->n_idx = 0;
    if (so->fenced) {
        so->finishing = false;
        refetch(so, err);
        return;
    }
    fail(so, rc, err);
}

static void
start_commit(scaleout_t *so)
{
    ferry_err_t e = {0, ""};
    char what[64];

    if (take_batch(so) != 0) {
        oom(&e, "starting a batch");
        fail(so, e.status, &e);
        return;
    }
    snprintf(what, sizeof(what), "the batch of %zu events",
             so->batch != NULL ? so->batch->n_events : 0);
    so->commit_started = ferry_mono_ms();
    so->batch_oldest = so->batch_newest = 0;
    for (size_t i = 0; so->batch != NULL && i < so->batch->n_events; i++) {
        int64_t ts = so->batch->events[i]->ts_ms;

        if (ts > 0 && (so->batch_oldest == 0 || ts < so->batch_oldest))
            so->batch_oldest = ts;
        if (ts > so->batch_newest)
            so->batch_newest = ts;
    }
    if (sink_commit_run(so->p->commit, what, 0, body_batch, committed, so,
                        &e) != 0)
        fail(so, e.status, &e);
}

/* --- the turn ----------------------------------------------------------- */

static bool
at_end(const scaleout_t *so)
{
    const sink_consumer_t *kc = so->p->kc;
    size_t i;

    for (i = 0; i < kc->n_slots; i++)
        if (kc->slots[i].owned && kc->slots[i].next < kc->slots[i].end)
            return false;
    return true;
}

static int
tick(void *arg, ferry_err_t *err)
{
    scaleout_t *so = arg;
    ferry_err_t e = {0, ""};
    int64_t now = sink_loop_now(so->p->loop);

    (void)err;
    /* Events of partitions apart arrive in no order: the oldest waiting
     * is the batch's oldest (set when it began), else the first read. */
    sink_metrics_pending(so->p->metrics,
                         so->batch != NULL && so->batch_oldest > 0
                             ? so->batch_oldest
                             : sink_tx_commit_ts(so->loose));
    if (so->finishing || sink_commit_busy(so->p->commit))
        return 0;
    if (sink_loop_stopping(so->p->loop)) {
        sink_loop_stop(so->p->loop);
        return 0;
    }
    if (so->assign_pending) {
        if (sink_commit_run(so->p->commit, "reading the stored offsets", 0,
                            body_read_stored, stored_read, so, &e) != 0)
            fail(so, e.status, &e);
        return 0;
    }
    /* One more drain after the last commit: a row another sink parked
     * while this one applied its parent is taken out now. */
    if (so->p->opts->exit_at_end && so->p->kc->assigned && at_end(so) &&
        so->loose == NULL) {
        so->finishing = true;
        start_commit(so);
        return 0;
    }
    if (so->loose != NULL || now - so->last_commit >= 1000) {
        start_commit(so);
        return 0;
    }
    if (sink_intake_paused(so->p->intake))
        sink_intake_resume(so->p->intake);
    return 0;
}

int
sink_scaleout_run(sink_parts_t *p, ferry_err_t *err)
{
    scaleout_t so;
    int rc;

    memset(&so, 0, sizeof(so));
    so.p = p;
    p->kc->on_assign = on_assign;
    p->kc->on_revoke = on_revoke;
    p->kc->cb_arg = &so;
    sink_intake_set_handler(p->intake, on_message, &so);
    sink_loop_set_tick(p->loop, tick, &so);
    rc = sink_consumer_subscribe(p->kc, err);
    if (rc == 0) {
        ferry_info("scale-out mode: joining consumer group \"%s\" for %zu "
                   "entity topics; %ld rows parked",
                   p->group, p->kc->n_topics - 1, sink_apply_parked(p->apply));
        sink_metrics_phase(p->metrics, true, NULL);
        sink_intake_resume(p->intake);
        rc = sink_loop_run(p->loop, err);
        sink_metrics_phase(p->metrics, false, "stopping");
    }
    sink_intake_pause(p->intake);
    sink_intake_set_handler(p->intake, NULL, NULL);
    sink_loop_set_tick(p->loop, NULL, NULL);
    /* Closing the consumer may serve a last rebalance: nothing may reach
     * this mode once it is gone. */
    p->kc->on_assign = NULL;
    p->kc->on_revoke = NULL;
    p->kc->cb_arg = NULL;
    if (rc == 0 && so.rc != 0) {
        rc = so.rc;
        *err = so.err;
    }
    sink_tx_free(so.loose);
    sink_tx_free(so.batch);
    free(so.idx);
    free(so.from);
    free(so.to);
    free(so.pending);
    free(so.found);
    return rc;
}
