/* ferry-sink's entry point: its options, and the run that wires the parts
 * (sink_parts.h) and hands them to the mode.
 * sink/sink_run.h
 */
#ifndef SINK_RUN_H
#define SINK_RUN_H

#include "map_config.h"
#include "sink_opts.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Runs the sink for cfg (borrowed) until *stop (borrowed, set by a signal
 * handler) is non-zero, or until the end with opts->exit_at_end.  Returns
 * 0, FERRY_ECONFIG, FERRY_EFATAL or FERRY_ENOMEM with err set.  Transient
 * errors are retried inside.  Call from one thread. */
int sink_run(const map_config_t *cfg, const sink_run_opts_t *opts,
             volatile sig_atomic_t *stop, ferry_err_t *err) FERRY_WUR;

#endif
