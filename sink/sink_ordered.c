/* ferry-sink's ordered mode.
 * sink/sink_ordered.c
 *
 * What the loop does, at each turn (tick()):
 * - while a target transaction is under way, nothing but reading ahead:
 *   the intake parses what Kafka holds into the reassembly buffer, up to
 *   a bound, so that the next batch is ready when the target is;
 * - a huge front transaction is spilled to the target as it arrives;
 * - complete transactions are taken in commit order into the batch, which
 *   is committed once it holds --batch events or has waited --max-wait;
 * - offsets that moved without a transaction (tombstones, BEGIN/END of
 *   transactions of unconsumed tables) are stored within a second;
 * - with --exit-at-end, once every partition is read up to where it ended
 *   at start and nothing is left to apply, a last commit, then the loop
 *   stops; a stop signal stops it after the transaction under way.
 */
#include "sink_ordered.h"

#include "ferry_log.h"
#include "ferry_time.h"
#include "sink_snaplog.h"
#include "sink_spill.h"
#include "sink_txbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ordered {
    sink_parts_t *p;           /* borrowed */
    uint64_t bulk_cut;         /* a rebuild's cut (0: none) */
    char **tables;             /* owned: consumed "schema.table" names */
    sink_txbuf_t *txbuf;       /* owned: reassembly */
    sink_tx_t *loose;          /* owned: events of transactions the bulk
                                  load cut, applied as one batch */
    sink_tx_t **batch;         /* owned: transactions to apply */
    size_t n_batch, cap_batch; /* in use, allocated */
    size_t batch_events;       /* events in the batch */
    bool loose_in_batch;       /* the batch holds loose events */
    int64_t batch_since;       /* when the batch got its first transaction */
    int64_t *minoff;           /* owned: per slot, the offsets to store */
    uint64_t *lsns;            /* owned: the batch's commit LSNs */
    sink_spill_t *spill;       /* owned */
    bool spill_open;           /* the open target transaction holds a
                                  spilled source transaction */
    sink_event_t **spill_evs;  /* owned array: events being spilled */
    size_t n_spill_evs;        /* their number */
    int64_t last_commit;       /* when offsets were last stored */
    int64_t commit_started;    /* when the batch's commit began */
    bool finishing;            /* --exit-at-end: the last commit runs */
    sink_snaplog_t snaplog;    /* the snapshot records read */
    int64_t topics_checked;    /* when missing topics were last looked for */
    int64_t waiting_said;      /* when the wait for one was last logged */
    bool *snapshot;            /* caller-owned: a new snapshot turned up */
    int rc;                    /* the error that stops the mode */
    ferry_err_t err;           /* its message */
} ordered_t;

/* Stops the loop with an error (from an end handler, which returns
 * nothing). */
static void
fail(ordered_t *o, int rc, const ferry_err_t *err)
{
    if (o->rc == 0) {
        o->rc = rc;
        o->err = *err;
    }
    sink_loop_stop(o->p->loop);
}

static int
oom(ordered_t *o, ferry_err_t *err, const char *what)
{
    (void)o;
    return ferry_err_set(err, FERRY_ENOMEM, "out of memory %s", what);
}

/* True when the transaction that committed at commit_lsn has been
 * applied: it is in the window of the last applied ones, or older than
 * the whole window.  Transactions are applied in commit order, so one
 * older than the window's floor was applied before it (docs/sink.md). */
static bool
is_applied(const ordered_t *o, uint64_t commit_lsn)
{
    return commit_lsn != 0 && (commit_lsn < sink_lsnset_floor(o->p->applied) ||
                               sink_lsnset_has(o->p->applied, commit_lsn));
}

/* --- reading ------------------------------------------------------------ */

/* A malformed message on the transaction topic becomes a dead letter of
 * its own, through the same path as a malformed change event. */
static int
tx_message(ordered_t *o, const rd_kafka_message_t *m, sink_pos_t pos,
           ferry_err_t *err)
{
    sink_txmsg_t tm;
    ferry_err_t perr = {0, ""};
    sink_event_t *ev = NULL;
    int rc = sink_txmsg_parse(m->payload, m->len, &tm, &perr);

    if (rc == 0) {
        /* A transaction the rebuild's bulk load cut is applied loose. */
        if (!is_applied(o, tm.commit_lsn) && tm.commit_lsn > o->bulk_cut)
            rc = sink_txbuf_add_txmsg(o->txbuf, &tm, pos);
        sink_txmsg_clear(&tm);
        return rc != 0 ? oom(o, err, "reassembling transactions") : 0;
    }
    if (rc != FERRY_EDATA)
        return oom(o, err, "parsing a transaction event");
    if (sink_event_malformed(m->key, m->key_len, m->payload, m->len, pos,
                             perr.msg, &ev) != 0)
        return oom(o, err, "parsing a transaction event");
    return sink_txbuf_add_event(o->txbuf, ev) != 0
               ? oom(o, err, "reassembling transactions")
               : 0;
}

/* How many buffered events make the intake wait for the target: two
 * batches (the one being applied and the next), one while a huge
 * transaction is spilled.  Parsed events are the sink's largest memory:
 * at the default --batch 20000 the bound is about 200 MB of them. */
static size_t
read_bound(const ordered_t *o)
{
    return o->p->opts->max_batch * (o->spill_open ? 1 : 2);
}

static int
on_message(void *arg, const rd_kafka_message_t *m, int slot, ferry_err_t *err)
{
    ordered_t *o = arg;
    sink_slot_t *s = &o->p->kc->slots[slot];
    sink_pos_t pos = {slot, m->offset};
    sink_event_t *ev = NULL;
    int rc = 0;

    s->next = m->offset + 1;
    if (s->is_snap) {
        /* A snapshot newer than the applied one: stop taking
         * transactions; the snapshot's bulk load takes over. */
        sink_snaplog_take(&o->snaplog, o->p->cfg->source_slot, m);
        if (!*o->snapshot &&
            sink_snaplog_pending(&o->snaplog, o->p->snap_applied,
                                 o->p->snap_record))
            *o->snapshot = true;
    } else if (s->is_tx)
        rc = tx_message(o, m, pos, err);
    else if (m->payload != NULL) { /* else a tombstone */
        if (sink_event_parse(m->key, m->key_len, m->payload, m->len, pos,
                             &ev) == FERRY_ENOMEM ||
            ev == NULL)
            return oom(o, err, "parsing a change event");
        if (ev->op != 'X' && ev->txid != NULL &&
            is_applied(o, ev->pair.commit)) {
            sink_event_free(ev);
        } else if (ev->op != 'X' && o->bulk_cut > 0 &&
                   ev->pair.commit <= o->bulk_cut) {
            /* Older than the rebuild's bulk load cut: part of a
             * transaction it cut, which can never be reassembled;
             * applied loose, parked where its parent or children are
             * not there yet. */
            if (sink_tx_loose_add(&o->loose, ev) != 0) {
                sink_event_free(ev);
                return oom(o, err, "collecting loose events");
            }
        } else if (sink_txbuf_add_event(o->txbuf, ev) != 0) {
            return oom(o, err, "reassembling transactions");
        }
    }
    if (rc == 0 &&
        (sink_txbuf_events(o->txbuf) > read_bound(o) ||
         (o->loose != NULL && o->loose->n_events >= o->p->opts->max_batch)))
        sink_intake_pause(o->p->intake);
    return rc;
}

/* --- committing --------------------------------------------------------- */

static int
batch_add(ordered_t *o, sink_tx_t *tx)
{
    if (o->n_batch == o->cap_batch) {
        size_t cap = o->cap_batch ? o->cap_batch * 2 : 256;
        sink_tx_t **b = realloc(o->batch, cap * sizeof(*b));
        uint64_t *l = realloc(o->lsns, cap * sizeof(*l));

        if (l != NULL)
            o->lsns = l;
        if (b == NULL || l == NULL) {
            if (b != NULL)
                o->batch = b;
            return FERRY_ENOMEM;
        }
        o->batch = b;
        o->cap_batch = cap;
    }
    if (o->n_batch == 0)
        o->batch_since = ferry_mono_ms();
    o->lsns[o->n_batch] = tx->id != NULL ? tx->commit_lsn : 0;
    o->batch[o->n_batch++] = tx;
    o->batch_events += tx->n_events;
    return 0;
}

static void
drop_batch(ordered_t *o)
{
    size_t i;

    for (i = 0; i < o->n_batch; i++)
        sink_tx_free(o->batch[i]);
    o->n_batch = 0;
    o->batch_events = 0;
    o->loose_in_batch = false;
}

/* The offsets of every slot (below any message still buffered) into
 * o->minoff. */
static void
min_offsets(ordered_t *o)
{
    sink_consumer_t *kc = o->p->kc;
    size_t i;

    for (i = 0; i < kc->n_slots; i++)
        o->minoff[i] = kc->slots[i].next;
    sink_txbuf_min_offsets(o->txbuf, o->minoff, kc->n_slots);
    if (o->loose != NULL)
        sink_tx_min_offsets(o->loose, o->minoff, kc->n_slots);
}

/* The positions of the batch, in the open target transaction. */
static int
push_positions(ordered_t *o, ferry_err_t *err)
{
    int rc;

    min_offsets(o);
    rc = sink_state_push_offsets(o->p->state, o->p->kc, o->minoff, err);
    if (rc == 0 && o->n_batch > 0)
        rc = sink_state_push_applied(o->p->state, o->lsns, o->n_batch,
                                     sink_lsnset_floor(o->p->applied), err);
    return rc;
}

/* The pieces of a transaction a rebuild cut arrive in separate batches:
 * a delete blocked by its children waits for theirs. */
static int
body_batch(void *arg, ferry_err_t *err)
{
    ordered_t *o = arg;
    int rc = 0;

    sink_apply_set_park_deletes(o->p->apply, o->loose_in_batch);
    if (o->n_batch > 0)
        rc = sink_apply_push_txs(o->p->apply, o->batch, o->n_batch, err);
    return rc != 0 ? rc : push_positions(o, err);
}

/* The batch committed: its transactions are applied, its offsets
 * stored. */
/* Only the positions and the count of parked rows (which changed in the
 * last batch, too soon after the count before). */
static int
body_recount(void *arg, ferry_err_t *err)
{
    ordered_t *o = arg;
    int rc = sink_apply_push_recount(o->p->apply, err);

    return rc != 0 ? rc : push_positions(o, err);
}

static void
batch_done(ordered_t *o)
{
    sink_consumer_t *kc = o->p->kc;
    size_t i;

    /* Transactions are applied in commit order: the last is the newest. */
    if (o->n_batch > 0)
        sink_metrics_applied(o->p->metrics, sink_tx_commit_ts(o->batch[0]),
                             sink_tx_commit_ts(o->batch[o->n_batch - 1]));
    if (o->n_batch > 0 && o->commit_started > 0)
        sink_metrics_batch(o->p->metrics,
                           (double)(ferry_mono_ms() - o->commit_started) /
                               1000.0);
    o->commit_started = 0;
    for (i = 0; i < o->n_batch; i++)
        if (o->lsns[i] != 0 && sink_lsnset_add(o->p->applied, o->lsns[i]))
            ferry_warn("out of memory while remembering a transaction");
    for (i = 0; i < kc->n_slots; i++)
        kc->slots[i].stored = o->minoff[i];
    drop_batch(o);
    o->last_commit = ferry_mono_ms();
}

static void
committed(void *arg, int rc, const ferry_err_t *err)
{
    ordered_t *o = arg;

    if (rc != 0) {
        fail(o, rc, err);
        return;
    }
    batch_done(o);
}

static void start_commit(ordered_t *o);

/* --exit-at-end: the last commit is through. */
static void
finished(void *arg, int rc, const ferry_err_t *err)
{
    ordered_t *o = arg;

    if (rc == 0 && o->spill_open) {
        o->spill_open = false;
    } else if (rc == 0) {
        batch_done(o);
    } else {
        fail(o, rc, err);
        return;
    }
    if (sink_txbuf_count(o->txbuf) > 0)
        ferry_warn("%zu source transactions are incomplete in the topics; "
                   "they stay unapplied",
                   sink_txbuf_count(o->txbuf));
    sink_loop_stop(o->p->loop);
}

static void
run_commit(ordered_t *o, sink_end_fn end)
{
    char what[64];
    ferry_err_t e = {0, ""};

    snprintf(what, sizeof(what), "the batch of %zu transactions", o->n_batch);
    o->commit_started = ferry_mono_ms();
    if (sink_commit_run(o->p->commit, what, 0, body_batch, end, o, &e) != 0)
        fail(o, e.status, &e);
}

static void
start_commit(ordered_t *o)
{
    run_commit(o, committed);
}

/* --- spilling ----------------------------------------------------------- */

/* After a transient error while a spilled transaction was open, its events
 * are gone with the rolled-back target transaction: forget everything read
 * since the last commit and read it again from the stored offsets. */
static void
rewind_to_stored(ordered_t *o, const ferry_err_t *why)
{
    ferry_err_t e = {0, ""};
    sink_txbuf_t *fresh =
        sink_txbuf_new((const char *const *)o->tables, o->p->cfg->n_entities);

    ferry_warn("%s; reading again from the stored offsets", why->msg);
    drop_batch(o);
    sink_tx_free(o->loose);
    o->loose = NULL;
    o->spill_open = false;
    if (fresh == NULL) {
        oom(o, &e, "reassembling transactions");
        fail(o, e.status, &e);
        return;
    }
    sink_txbuf_free(o->txbuf);
    o->txbuf = fresh;
    if (sink_consumer_rewind(o->p->kc, &e) != 0) {
        /* The target is back; Kafka is not: the next turn tries again. */
        ferry_warn("%s", e.msg);
        fail(o, e.status, &e);
        return;
    }
    sink_intake_resume(o->p->intake);
}

static void
spill_end(void *arg, int rc, const ferry_err_t *err)
{
    ordered_t *o = arg;

    if (rc == FERRY_ETRANSIENT) {
        rewind_to_stored(o, err);
        return;
    }
    if (rc != 0)
        fail(o, rc, err);
}

static void
spill_opened(void *arg, int rc, const ferry_err_t *err)
{
    ordered_t *o = arg;

    if (rc == 0)
        o->spill_open = true;
    spill_end(arg, rc, err);
}

static int
body_spill_write(void *arg, ferry_err_t *err)
{
    ordered_t *o = arg;
    sink_tx_t *front = sink_txbuf_front(o->txbuf);
    size_t i;
    int rc = 0;

    o->n_spill_evs = 0;
    if (!o->spill_open)
        rc = sink_spill_push_begin(o->spill, err);
    if (rc == 0 &&
        sink_txbuf_take(o->txbuf, front, &o->spill_evs, &o->n_spill_evs) != 0)
        rc = oom(o, err, "spilling a transaction");
    if (rc == 0)
        rc = sink_spill_push_write(o->spill, o->spill_evs, o->n_spill_evs, err);
    for (i = 0; i < o->n_spill_evs; i++)
        sink_event_free(o->spill_evs[i]);
    o->n_spill_evs = 0;
    return rc;
}

/* Moves the events of the front transaction to the spill table once it
 * holds more than a batch (and from then on, as they arrive), opening the
 * target transaction that will apply it.  True when it started work. */
static bool
spill_step(ordered_t *o)
{
    sink_tx_t *front = sink_txbuf_front(o->txbuf);
    ferry_err_t e = {0, ""};
    unsigned flags = SINK_COMMIT_KEEP_OPEN | SINK_COMMIT_NO_RETRY;

    if (front == NULL || front->id == NULL ||
        (!front->spilling && front->n_events < o->p->opts->max_batch) ||
        front->n_events == 0)
        return false;
    if (!o->spill_open && o->n_batch > 0) {
        start_commit(o);
        return true;
    }
    if (!o->spill_open)
        ferry_info("source transaction %s holds more than %zu events; "
                   "spilling it to the target until it is complete",
                   front->id, o->p->opts->max_batch);
    else
        flags |= SINK_COMMIT_OPEN;
    if (sink_commit_run(o->p->commit, "the spilled transaction", flags,
                        body_spill_write,
                        o->spill_open ? spill_end : spill_opened, o, &e) != 0)
        fail(o, e.status, &e);
    return true;
}

static int
body_spilled(void *arg, ferry_err_t *err)
{
    ordered_t *o = arg;
    int rc = sink_spill_push_apply(o->spill, o->batch[o->n_batch - 1], err);

    return rc != 0 ? rc : push_positions(o, err);
}

static void
spilled_done(void *arg, int rc, const ferry_err_t *err)
{
    ordered_t *o = arg;

    if (rc == 0) {
        o->spill_open = false;
        batch_done(o);
        return;
    }
    spill_end(arg, rc, err);
}

/* Applies a transaction that turned up below the spilled one, inside the
 * open target transaction. */
static int
body_below_spill(void *arg, ferry_err_t *err)
{
    ordered_t *o = arg;

    sink_apply_set_park_deletes(o->p->apply, o->loose_in_batch);
    return sink_apply_push_txs(o->p->apply, &o->batch[o->n_batch - 1], 1, err);
}

/* Nothing to push: a spilled transaction given up at the end is only
 * rolled back. */
static int
body_none(void *arg, ferry_err_t *err)
{
    (void)arg, (void)err;
    return 0;
}

/* --- the turn ----------------------------------------------------------- */

/* The next transaction to apply: the events of transactions a rebuild's
 * bulk load cut (older than any reassembled one) first, then reassembled
 * transactions in commit order. */
static sink_tx_t *
next_tx(ordered_t *o)
{
    sink_tx_t *tx = o->loose;

    if (tx == NULL)
        return sink_txbuf_pop(o->txbuf);
    o->loose = NULL;
    o->loose_in_batch = true;
    return tx;
}

static bool
at_end(const ordered_t *o)
{
    const sink_consumer_t *kc = o->p->kc;
    size_t i;

    for (i = 0; i < kc->n_slots; i++)
        if (kc->slots[i].next < kc->slots[i].end)
            return false;
    return true;
}

/* Offsets read past what the target holds. */
static bool
positions_moved(const ordered_t *o)
{
    const sink_consumer_t *kc = o->p->kc;
    size_t i;

    for (i = 0; i < kc->n_slots; i++)
        if (kc->slots[i].next != kc->slots[i].stored)
            return true;
    return false;
}

/* Topics that did not exist at start are looked for every 5 s (blocking
 * for at most 2 s each, only while some are missing); the wait is logged
 * every minute, with the transaction it holds back if there is one. */
static int
late_topics(ordered_t *o, int64_t now, ferry_err_t *err)
{
    const char *topic = NULL;
    size_t missing = sink_consumer_missing(o->p->kc, &topic), added = 0;
    int rc;

    if (missing == 0 || now - o->topics_checked < 5000)
        return 0;
    o->topics_checked = now;
    if ((rc = sink_consumer_add_late_topics(o->p->kc, &added, err)) != 0) {
        /* The broker may be away for a moment: the next check retries. */
        ferry_warn("%s", err->msg);
        return 0;
    }
    if (added > 0) {
        int64_t *m =
            realloc(o->minoff, (o->p->kc->n_slots + 1) * sizeof(*o->minoff));

        if (m == NULL)
            return oom(o, err, "adding the partitions of a new topic");
        o->minoff = m;
        return 0;
    }
    if (now - o->waiting_said >= 60000) {
        const sink_tx_t *front = sink_txbuf_peek(o->txbuf);

        o->waiting_said = now;
        ferry_warn("waiting for topic \"%s\"%s to exist%s%s", topic,
                   missing > 1 ? " (and others)" : "",
                   front != NULL && !sink_txbuf_front_ready(o->txbuf)
                       ? "; it may hold back source transaction "
                       : "",
                   front != NULL && !sink_txbuf_front_ready(o->txbuf) &&
                           front->id != NULL
                       ? front->id
                       : "");
    }
    return 0;
}

/* Takes complete transactions into the batch; true when it started a
 * target transaction. */
static bool
take_ready(ordered_t *o)
{
    ferry_err_t e = {0, ""};
    sink_tx_t *tx;

    while ((tx = next_tx(o)) != NULL) {
        if (batch_add(o, tx) != 0) {
            sink_tx_free(tx);
            oom(o, &e, "queueing a transaction");
            fail(o, e.status, &e);
            return true;
        }
        if (tx->spilling) {
            if (sink_commit_run(o->p->commit, "the spilled transaction",
                                SINK_COMMIT_OPEN | SINK_COMMIT_NO_RETRY,
                                body_spilled, spilled_done, o, &e) != 0)
                fail(o, e.status, &e);
            return true;
        }
        /* A transaction that turned up below the spilled one goes first,
         * inside the open target transaction. */
        if (o->spill_open) {
            if (sink_commit_run(o->p->commit, "a transaction",
                                SINK_COMMIT_OPEN | SINK_COMMIT_KEEP_OPEN |
                                    SINK_COMMIT_NO_RETRY,
                                body_below_spill, spill_end, o, &e) != 0)
                fail(o, e.status, &e);
            return true;
        }
        if (o->batch_events >= o->p->opts->max_batch) {
            start_commit(o);
            return true;
        }
    }
    return false;
}

/* The commit time of the oldest change read and not applied (in the
 * batch, the loose events or the front of the reassembly); 0 when
 * nothing waits. */
static int64_t
oldest_waiting(const ordered_t *o)
{
    int64_t ts[3], oldest = 0;
    size_t i;

    ts[0] = o->n_batch > 0 ? sink_tx_commit_ts(o->batch[0]) : 0;
    ts[1] = sink_tx_commit_ts(o->loose);
    ts[2] = sink_tx_commit_ts(sink_txbuf_peek(o->txbuf));
    for (i = 0; i < 3; i++)
        if (ts[i] > 0 && (oldest == 0 || ts[i] < oldest))
            oldest = ts[i];
    return oldest;
}

static int
tick(void *arg, ferry_err_t *err)
{
    ordered_t *o = arg;
    const sink_run_opts_t *opts = o->p->opts;
    int64_t now = sink_loop_now(o->p->loop);

    (void)err;
    sink_metrics_pending(o->p->metrics, oldest_waiting(o));
    if (o->finishing || sink_commit_busy(o->p->commit))
        return 0;
    if (sink_loop_stopping(o->p->loop)) {
        sink_loop_stop(o->p->loop);
        return 0;
    }
    /* A new snapshot: the batch taken so far is committed (its offsets
     * stay below what was read past it), then the loop hands over. */
    if (*o->snapshot && !o->spill_open) {
        if (o->n_batch > 0)
            start_commit(o);
        else
            sink_loop_stop(o->p->loop);
        return 0;
    }
    if (late_topics(o, now, err) != 0)
        return err->status;
    if (spill_step(o) || take_ready(o))
        return 0;
    /* The batch under --batch waits a little for more while more is
     * queued; it goes at once when nothing is (the pipeline is idle: the
     * delay is what counts) or nothing more can come. */
    if (o->n_batch > 0 && !o->spill_open &&
        (now - o->batch_since >= opts->max_wait_ms || at_end(o) ||
         sink_intake_idle(o->p->intake))) {
        start_commit(o);
        return 0;
    }
    if (opts->exit_at_end && at_end(o) && o->n_batch == 0) {
        o->finishing = true;
        if (o->spill_open) {
            ferry_err_t e = {0, ""};

            /* Its events are not in memory any more, so the offsets must
             * not move: roll it back. */
            if (sink_commit_run(o->p->commit, "the spilled transaction",
                                SINK_COMMIT_OPEN | SINK_COMMIT_ROLLBACK,
                                body_none, finished, o, &e) != 0)
                fail(o, e.status, &e);
        } else if (positions_moved(o)) {
            run_commit(o, finished);
        } else {
            finished(o, 0, NULL);
        }
        return 0;
    }
    if (!o->spill_open && now - o->last_commit > 1000 && positions_moved(o)) {
        start_commit(o);
        return 0;
    }
    if (!o->spill_open && now - o->last_commit > 1000 &&
        sink_apply_recount_due(o->p->apply)) {
        ferry_err_t e = {0, ""};

        if (sink_commit_run(o->p->commit, "the count of parked rows", 0,
                            body_recount, committed, o, &e) != 0)
            fail(o, e.status, &e);
        return 0;
    }
    if (sink_intake_paused(o->p->intake) &&
        (sink_txbuf_events(o->txbuf) <= read_bound(o) ||
         !sink_txbuf_front_ready(o->txbuf)))
        sink_intake_resume(o->p->intake);
    return 0;
}

/* --- setting up --------------------------------------------------------- */

static void
ordered_free(ordered_t *o)
{
    size_t i;

    drop_batch(o);
    free(o->batch);
    free(o->lsns);
    sink_txbuf_free(o->txbuf);
    sink_tx_free(o->loose);
    for (i = 0; o->tables != NULL && i < o->p->cfg->n_entities; i++)
        free(o->tables[i]);
    free(o->tables);
    free(o->minoff);
    free(o->spill_evs);
    sink_spill_free(o->spill);
}

static int
ordered_init(ordered_t *o, sink_parts_t *p, uint64_t bulk_cut, ferry_err_t *err)
{
    size_t i;

    memset(o, 0, sizeof(*o));
    o->p = p;
    o->bulk_cut = bulk_cut;
    o->last_commit = ferry_mono_ms();
    o->tables = calloc(p->cfg->n_entities + 1, sizeof(char *));
    o->minoff = calloc(p->kc->n_slots + 1, sizeof(*o->minoff));
    o->spill = sink_spill_new(p->target, p->apply, p->opts->max_batch);
    if (o->tables == NULL || o->minoff == NULL || o->spill == NULL)
        return oom(o, err, "starting the ordered mode");
    for (i = 0; i < p->cfg->n_entities; i++) {
        const map_entity_t *e = &p->cfg->entities[i];
        size_t len = strlen(e->source_schema) + strlen(e->source_table) + 2;

        if ((o->tables[i] = malloc(len)) == NULL)
            return oom(o, err, "starting the ordered mode");
        snprintf(o->tables[i], len, "%s.%s", e->source_schema, e->source_table);
    }
    o->txbuf =
        sink_txbuf_new((const char *const *)o->tables, p->cfg->n_entities);
    return o->txbuf != NULL ? 0 : oom(o, err, "starting the ordered mode");
}

int
sink_ordered_run(sink_parts_t *p, uint64_t bulk_cut, bool *snapshot,
                 ferry_err_t *err)
{
    ordered_t o;
    int rc;

    *snapshot = false;
    if ((rc = ordered_init(&o, p, bulk_cut, err)) == 0) {
        o.snapshot = snapshot;
        sink_metrics_phase(p->metrics, true, NULL);
        sink_intake_set_handler(p->intake, on_message, &o);
        sink_loop_set_tick(p->loop, tick, &o);
        sink_intake_resume(p->intake);
        rc = sink_loop_run(p->loop, err);
        sink_intake_pause(p->intake);
        sink_intake_set_handler(p->intake, NULL, NULL);
        sink_loop_set_tick(p->loop, NULL, NULL);
        sink_metrics_phase(p->metrics, false, "stopping");
        if (rc == 0 && o.rc != 0) {
            rc = o.rc;
            *err = o.err;
        }
    }
    ordered_free(&o);
    return rc;
}
