/* When ferry-cdc's snapshot is due for this sink, and setting up its bulk
 * load.
 * sink/sink_snapdue.c */
#include "sink_snapdue.h"

#include "ferry_buf.h"
#include "ferry_log.h"
#include "ferry_lsn.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "sink_bulkload.h"
#include "sink_snaplog.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Reads the slot's snapshot records until no snapshot is in progress
 * (ferry-cdc publishes "complete" once every row is acknowledged), saying
 * every 10 s what it waits for.  *log receives the last read. */
static int
wait_for_snapshot(sink_parts_t *p, sink_snaplog_t *log,
                  volatile sig_atomic_t *stop, ferry_err_t *err)
{
    int64_t t0 = ferry_mono_ms(), said = 0;
    int rc;

    while ((rc = sink_snaplog_read(p->cfg, log, err)) == 0 && log->any &&
           log->last != FERRY_WIRE_SNAP_COMPLETE && !*stop) {
        sink_metrics_phase(p->metrics, false,
                           "waiting for ferry-cdc to complete its snapshot");
        sink_metrics_tick(p->metrics, p);
        if (ferry_mono_ms() - said >= 10000) {
            said = ferry_mono_ms();
            ferry_info("waiting for ferry-cdc to complete its snapshot of "
                       "slot \"%s\" (%.0f s so far): it is applied in "
                       "dependency order once complete",
                       p->cfg->source_slot, (said - t0) / 1000.0);
        }
        sleep(1);
    }
    return rc;
}

/* Sets b up for a snapshot of ferry-cdc that is not applied yet, or
 * leaves it inactive: a new snapshot is loaded, entity by entity in
 * dependency order, from the stored offsets up to the high watermarks once
 * it is complete (as a rebuild is: transactions the load cuts are applied
 * loose).  A sink that applied the topics before it followed snapshots
 * (upgraded) takes the one it finds as applied. */
int
sink_snapdue_setup(sink_parts_t *p, bool upgraded, sink_state_bulk_t *b,
                   volatile sig_atomic_t *stop, ferry_err_t *err)
{
    sink_snaplog_t log;
    int rc;

    memset(b, 0, sizeof(*b));
    if ((rc = sink_snaplog_read(p->cfg, &log, err)) != 0 ||
        !sink_snaplog_pending(&log, p->snap_applied, p->snap_record))
        return rc;
    /* A sink that applied the topics before it followed snapshots has
     * applied this one as it streamed. */
    if (upgraded && log.complete && log.last == FERRY_WIRE_SNAP_COMPLETE) {
        ferry_info("slot \"%s\": taking ferry-cdc's snapshot at " FERRY_LSN_FMT
                   " as applied: this sink applied the topics before it "
                   "followed snapshots",
                   p->cfg->source_slot, FERRY_LSN_ARGS(log.complete_lsn));
        p->snap_applied = true;
        p->snap_record = log.complete_offset;
        if ((rc = sink_state_push_snapshot_mark(p->state, log.complete_lsn,
                                                log.complete_offset, err)) == 0)
            rc = sink_target_run_wait(p->target, err);
        return rc;
    }
    if ((rc = wait_for_snapshot(p, &log, stop, err)) != 0 || *stop ||
        !sink_snaplog_pending(&log, p->snap_applied, p->snap_record))
        return rc;
    b->active = true;
    b->kind = SINK_BULK_SNAPSHOT;
    b->snap_lsn = log.complete_lsn;
    b->snap_record = log.complete_offset;
    /* The first snapshot a sink applies fills the target; every later one
     * also removes what the source no longer has. */
    b->sweep = p->snap_applied;
    if ((rc = sink_consumer_refresh_ends(p->kc, err)) != 0)
        return rc;
    return sink_bulkload_start(p, b, err);
}

/* The scale-out mode applies a snapshot as its rows arrive: rows whose
 * parent comes later are parked and drained, which is correct but slow.
 * Said once at start. */
int
sink_snapdue_warn_scaleout(sink_parts_t *p, ferry_err_t *err)
{
    sink_snaplog_t log;
    int rc;

    if ((rc = sink_snaplog_read(p->cfg, &log, err)) != 0)
        return rc;
    if (sink_snaplog_pending(&log, p->snap_applied, p->snap_record))
        ferry_warn("slot \"%s\": ferry-cdc's snapshot is not applied yet, "
                   "and --scale-out applies it as its rows arrive, not in "
                   "dependency order: children that arrive before their "
                   "parents are parked until the parents come (correct, but "
                   "slow); apply the snapshot with the ordered mode "
                   "(without --scale-out) first (docs/snapshot.md)",
                   p->cfg->source_slot);
    return 0;
}

/* An older ferry-sink stored positions but never read <prefix>.snapshot:
 * it applied ferry-cdc's snapshot as the rows streamed. */
bool
sink_snapdue_upgraded(const map_config_t *cfg, const sink_state_start_t *st)
{
    ferry_buf_t b;
    bool found = false;

    if (!st->has_offsets || st->snap_applied)
        return false;
    ferry_buf_init(&b);
    ferry_wire_topic_append(&b, cfg->kafka_topic_prefix,
                            FERRY_WIRE_TOPIC_SNAPSHOT);
    ferry_buf_putc(&b, '\x1f');
    ferry_buf_append_lit(&b, "0");
    found = !b.failed && sink_map_get(st->offsets, ferry_buf_cstr(&b)) != NULL;
    ferry_buf_close(&b);
    return !found;
}
