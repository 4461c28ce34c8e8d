/* ferry-sink's main loop: consume, reassemble, apply, commit offsets with
 * the rows, retry transient errors, rebuild, exit at the end.
 * sink/sink_run.h
 */
#ifndef SINK_RUN_H
#define SINK_RUN_H

#include "map_config.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sink_run_opts {
    bool exit_at_end;      /* stop once what the topics held at start is done */
    bool rebuild;          /* empty state, replay from the beginning */
    size_t max_batch;      /* events per target transaction (default 20000) */
    int max_wait_ms;       /* longest wait for more messages before applying */
    size_t applied_window; /* applied commit LSNs remembered (100000) */
    bool scale_out;        /* share partitions through a consumer group */
    const char *group;     /* borrowed: its group id, NULL for
                              "ferry-sink-<topic prefix>" */
} sink_run_opts_t;

/* Fills opts with the defaults. */
void sink_run_opts_init(sink_run_opts_t *opts);

/* Runs the sink for cfg (borrowed) until *stop (borrowed, set by a signal
 * handler) is non-zero, or until the end with opts->exit_at_end.  Returns
 * 0, FERRY_ECONFIG, FERRY_EFATAL or FERRY_ENOMEM with err set.  Transient
 * errors are retried inside.  Call from one thread. */
int sink_run(const map_config_t *cfg, const sink_run_opts_t *opts,
             volatile sig_atomic_t *stop, ferry_err_t *err) FERRY_WUR;

#endif
