/* The parts of a running ferry-sink, wired together by sink_run.c and lent
 * to the mode that runs (sink_ordered.h, sink_scaleout.h, sink_bulkload.h).
 * sink/sink_parts.h
 *
 * Every pointer is borrowed from sink_run(), which creates the parts in
 * this order and frees them in the reverse order after the mode returns.
 * The layers, from the bottom: the event loop; the target connection and
 * its jobs; the state schema and the dead-letter path; the applier; the
 * transaction driver; the Kafka consumer and its intake; the metrics,
 * which read the layers below and hear from the mode.  A mode calls
 * only downward; the parts below reach it only through the handlers it
 * registers (the intake's message handler, the loop's tick, a job's end).
 */
#ifndef SINK_PARTS_H
#define SINK_PARTS_H

#include "map_config.h"
#include "sink_apply.h"
#include "sink_commit.h"
#include "sink_consumer.h"
#include "sink_dlq.h"
#include "sink_intake.h"
#include "sink_loop.h"
#include "sink_lsnset.h"
#include "sink_metrics.h"
#include "sink_opts.h"
#include "sink_state.h"
#include "sink_target.h"

typedef struct sink_parts {
    const map_config_t *cfg;     /* the mapping */
    const sink_run_opts_t *opts; /* the command line */
    sink_loop_t *loop;           /* the event loop */
    sink_target_t *target;       /* the target connection */
    sink_state_t *state;         /* the state schema */
    sink_dlq_t *dlq;             /* the dead-letter path */
    sink_apply_t *apply;         /* the applier */
    sink_commit_t *commit;       /* the transaction driver */
    sink_consumer_t *kc;         /* the Kafka consumer (assigned) */
    sink_intake_t *intake;       /* reading it */
    sink_lsnset_t *applied;      /* the applied window, loaded at start */
    sink_metrics_t *metrics;     /* what operators see (sink_metrics.h) */
    const char *group;           /* scale-out: the consumer group */
    bool lock_conflict;          /* a new session found the state schema
                                    locked by another sink */
    bool snap_applied;           /* a snapshot of ferry-cdc was applied ... */
    int64_t snap_record;         /* ... its record's offset on
                                    <prefix>.snapshot */
} sink_parts_t;

#endif
