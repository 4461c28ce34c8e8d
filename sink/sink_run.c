/* ferry-sink's entry point: the parts wired together, the start-up, the
 * mode run, the totals.
 * sink/sink_run.c */
#include "sink_run.h"

#include "ferry_buf.h"
#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "map_idmap.h"
#include "sink_ordered.h"
#include "sink_parts.h"
#include "sink_bulkload.h"
#include "sink_scaleout.h"
#include "sink_snapdue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Connects and takes the state schema's lock, waiting out an outage and,
 * for 30 s, another sink's lock (a killed sink's session may take a moment
 * to end). */
static int
connect_target(sink_parts_t *p, volatile sig_atomic_t *stop, ferry_err_t *err)
{
    int64_t t0 = ferry_mono_ms();
    bool conflict = false;
    int rc;

    for (;;) {
        rc = sink_target_connect(p->target, err);
        if (rc == 0 &&
            (rc = sink_state_push_session(p->state, &conflict, err)) == 0)
            rc = sink_target_run_wait(p->target, err);
        if (rc != FERRY_ETRANSIENT || *stop)
            return rc;
        if (conflict && ferry_mono_ms() - t0 > 30000)
            return err->status = FERRY_ECONFIG;
        ferry_warn("%s; retrying in 2 s", err->msg);
        sink_metrics_phase(p->metrics, false, err->msg);
        sink_metrics_tick(p->metrics, p);
        sleep(2);
    }
}

/* Assigns every partition at its stored offset, waiting out a broker that
 * cannot be reached. */
static int
assign_ordered(sink_parts_t *p, const sink_map_t *offsets,
               volatile sig_atomic_t *stop, ferry_err_t *err)
{
    int rc;

    while ((rc = sink_consumer_assign(p->kc, offsets, err)) ==
               FERRY_ETRANSIENT &&
           !*stop) {
        ferry_warn("%s; retrying in 2 s", err->msg);
        sink_metrics_phase(p->metrics, false, err->msg);
        sink_metrics_tick(p->metrics, p);
        sleep(2);
        p->kc->n_slots = 0;
    }
    return rc;
}

static void
free_value(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

/* The transaction driver's hooks (sink_commit.h). */
static int
session_hook(void *arg, ferry_err_t *err)
{
    sink_parts_t *p = arg;
    int rc = sink_state_push_session(p->state, &p->lock_conflict, err);

    return rc != 0 ? rc : sink_apply_push_session(p->apply, err);
}

/* Dead letters must be in Kafka before the offsets move past them. */
static int
before_commit_hook(void *arg, ferry_err_t *err)
{
    sink_parts_t *p = arg;

    return sink_dlq_push_flush(p->dlq, p->target, err);
}

static void
ended_hook(void *arg, bool committed)
{
    sink_parts_t *p = arg;

    if (committed) {
        sink_apply_committed(p->apply);
    } else {
        sink_apply_rolled_back(p->apply);
        sink_metrics_retry(p->metrics);
    }
}

/* Everything up to the mode: the state schema checked (and created), the
 * positions read, the applier and the consumer set up. */
static int
start(sink_parts_t *p, sink_state_start_t *st, volatile sig_atomic_t *stop,
      ferry_err_t *err)
{
    const sink_run_opts_t *opts = p->opts;
    int rc;

    if ((rc = connect_target(p, stop, err)) != 0)
        return rc;
    if ((p->dlq = sink_dlq_new(p->cfg, sink_state_quoted(p->state),
                               sink_consumer_slot_topic, p->kc, err)) == NULL)
        return err->status;
    if ((rc = sink_state_push_init(p->state, err)) != 0 ||
        (rc = sink_target_run_wait(p->target, err)) != 0 ||
        (rc = map_idmap_ensure(sink_target_conn(p->target),
                               p->cfg->state_schema, err)) != 0)
        return rc;
    if ((rc = sink_state_push_load(p->state, st, err)) != 0 ||
        (rc = sink_target_run_wait(p->target, err)) != 0)
        return rc;
    if (st->bulk_unfinished && opts->scale_out)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "a rebuild's bulk load is unfinished in state "
                             "schema \"%s\"; finish it with ferry-sink "
                             "--rebuild (the ordered mode) first",
                             p->cfg->state_schema);
    /* An interrupted rebuild resumes (its target is not empty any more). */
    if (opts->rebuild && !st->bulk_unfinished) {
        sink_map_each(st->offsets, free_value, NULL);
        sink_map_free(st->offsets);
        st->offsets = sink_map_new();
        sink_lsnset_free(st->applied);
        sink_lsnset_init(st->applied, opts->applied_window);
        if (st->offsets == NULL)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory resetting the state");
        if ((rc = sink_state_push_rebuild_reset(p->state, err)) != 0 ||
            (rc = sink_target_run_wait(p->target, err)) != 0)
            return rc;
        st->parked = 0;
    }
    if ((rc = sink_state_push_mode(p->state, err)) != 0 ||
        (rc = sink_target_run_wait(p->target, err)) != 0)
        return rc;
    if ((rc = sink_apply_new(p->cfg, sink_target_conn(p->target), p->target,
                             p->dlq, sink_consumer_slot_topic, p->kc, &p->apply,
                             err)) != 0 ||
        (rc = sink_apply_push_session(p->apply, err)) != 0 ||
        (opts->scale_out &&
         (rc = sink_apply_push_forget_bounds(p->apply, err)) != 0) ||
        (rc = sink_target_run_wait(p->target, err)) != 0)
        return rc;
    sink_apply_set_shared(p->apply, opts->scale_out);
    if ((p->commit = sink_commit_new(
             p->loop, p->target,
             &(sink_commit_hooks_t){session_hook, before_commit_hook,
                                    ended_hook, p})) == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory starting the sink");
    if ((rc = sink_consumer_open(p->kc, p->cfg, p->group, err)) != 0)
        return rc;
    if ((p->intake = sink_intake_new(p->kc, p->loop, err)) == NULL)
        return err->status;
    if (!opts->scale_out && (rc = assign_ordered(p, st->offsets, stop, err)))
        return rc;
    return 0;
}

/* The ordered mode, after a bulk load when one is due (a rebuild, or a
 * snapshot of ferry-cdc); again after every snapshot that turns up while
 * it streams. */
static int
run_ordered(sink_parts_t *p, bool fresh_rebuild, bool upgraded,
            volatile sig_atomic_t *stop, ferry_err_t *err)
{
    sink_state_bulk_t b;
    bool done = false, snapshot = false;
    uint64_t cut = 0;
    int rc;

    for (;;) {
        if ((rc = sink_bulkload_state(p, &b, err)) != 0)
            return rc;
        /* The cut of a finished bulk load still says which transactions
         * it cut (their events are applied loose). */
        cut = b.cut > cut ? b.cut : cut;
        if (fresh_rebuild) {
            memset(&b, 0, sizeof(b));
            b.active = true;
            b.kind = SINK_BULK_REBUILD;
            if ((rc = sink_bulkload_start(p, &b, err)) != 0)
                return rc;
            fresh_rebuild = false;
        } else if (b.active) {
            ferry_info("%s: resuming the bulk load",
                       b.kind == SINK_BULK_SNAPSHOT ? "snapshot" : "rebuild");
        } else if ((rc = sink_snapdue_setup(p, upgraded, &b, stop, err)) != 0) {
            return rc;
        }
        if (*stop)
            return 0;
        ferry_info("consuming %zu partitions of %zu topics; %ld rows parked",
                   p->kc->n_slots, p->kc->n_topics,
                   sink_apply_parked(p->apply));
        if (b.active) {
            if ((rc = sink_bulkload_run(p, &b, &cut, &done, err)) != 0 || !done)
                return rc;
            if (b.kind == SINK_BULK_SNAPSHOT) {
                p->snap_applied = true;
                p->snap_record = b.snap_record;
            }
        }
        if ((rc = sink_ordered_run(p, cut, &snapshot, err)) != 0 || !snapshot)
            return rc;
        /* A new snapshot: what was read ahead goes, the load starts from
         * the stored offsets. */
        ferry_info("slot \"%s\": ferry-cdc took a new snapshot; applying it "
                   "from the stored offsets",
                   p->cfg->source_slot);
        upgraded = false;
        if ((rc = sink_consumer_rewind(p->kc, err)) != 0)
            return rc;
    }
}

int
sink_run(const map_config_t *cfg, const sink_run_opts_t *opts,
         volatile sig_atomic_t *stop, ferry_err_t *err)
{
    sink_parts_t p;
    sink_consumer_t kc;
    sink_lsnset_t applied;
    sink_state_start_t st;
    sink_apply_stats_t stats;
    char group[300];
    bool upgraded;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    memset(&kc, 0, sizeof(kc));
    memset(&st, 0, sizeof(st));
    sink_lsnset_init(&applied, opts->applied_window);
    p.cfg = cfg;
    p.opts = opts;
    p.kc = &kc;
    p.applied = &applied;
    st.applied = &applied;
    if (opts->scale_out) {
        snprintf(group, sizeof(group), "%s",
                 opts->group != NULL ? opts->group : "");
        if (opts->group == NULL)
            snprintf(group, sizeof(group), "ferry-sink-%s",
                     cfg->kafka_topic_prefix);
        p.group = group;
    }
    if ((p.metrics = sink_metrics_new(cfg, err)) == NULL) {
        rc = err->status;
        goto done;
    }
    /* Serving starts first: /healthz and /readyz answer during start-up
     * (an outage of the target or of Kafka is waited out there). */
    if (opts->metrics_listen != NULL &&
        (rc = sink_metrics_listen(p.metrics, opts->metrics_listen,
                                  opts->wedge_ms, err)) != 0)
        goto done;
    sink_metrics_phase(p.metrics, false, "starting: connecting to the target");
    p.loop = sink_loop_new(stop);
    p.target = p.loop != NULL ? sink_target_new(cfg->target_dsn, p.loop) : NULL;
    st.offsets = sink_map_new();
    if (p.target == NULL || st.offsets == NULL) {
        rc =
            ferry_err_set(err, FERRY_ENOMEM, "out of memory starting the sink");
        goto done;
    }
    sink_metrics_tick(p.metrics, &p);
    if ((rc = sink_metrics_start_timer(p.metrics, &p, err)) != 0)
        goto done;
    if ((p.state = sink_state_new(cfg, p.target, opts->scale_out, err)) ==
        NULL) {
        rc = err->status;
        goto done;
    }
    rc = start(&p, &st, stop, err);
    p.snap_applied = st.snap_applied;
    p.snap_record = st.snap_record;
    upgraded = sink_snapdue_upgraded(cfg, &st);
    sink_map_each(st.offsets, free_value, NULL);
    sink_map_free(st.offsets);
    st.offsets = NULL;
    if (rc == 0 && !*stop && opts->scale_out && !upgraded)
        rc = sink_snapdue_warn_scaleout(&p, err);
    if (rc == 0 && !*stop)
        rc = opts->scale_out
                 ? sink_scaleout_run(&p, err)
                 : run_ordered(&p, opts->rebuild && !st.bulk_unfinished,
                               upgraded, stop, err);
    if (p.apply != NULL) {
        sink_apply_get_stats(p.apply, &stats);
        ferry_info("applied %ld rows, skipped %ld stale, parked %ld, drained "
                   "%ld, %ld errors",
                   stats.applied, stats.stale, stats.parked, stats.drained,
                   stats.errors);
    }
done:
    if (st.offsets != NULL) {
        sink_map_each(st.offsets, free_value, NULL);
        sink_map_free(st.offsets);
    }
    sink_intake_free(p.intake);
    /* Closing the consumer may serve a last rebalance: the mode has
     * already unhooked itself. */
    sink_consumer_close(&kc);
    sink_commit_free(p.commit);
    sink_apply_free(p.apply);
    sink_dlq_free(p.dlq);
    sink_state_free(p.state);
    sink_target_free(p.target);
    sink_loop_free(p.loop);
    sink_lsnset_free(&applied);
    sink_metrics_free(p.metrics);
    return rc;
}
