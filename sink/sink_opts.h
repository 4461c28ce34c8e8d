/* ferry-sink's options: what the command line sets and every mode reads.
 * sink/sink_opts.h
 */
#ifndef SINK_OPTS_H
#define SINK_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct sink_run_opts {
    bool exit_at_end;      /* stop once what the topics held at start is done */
    bool rebuild;          /* empty state, replay from the beginning */
    size_t max_batch;      /* events per target transaction (default 20000) */
    int max_wait_ms;       /* longest a batch under max_batch waits for more
                              before it is applied */
    size_t applied_window; /* applied commit LSNs remembered (100000) */
    bool scale_out;        /* share partitions through a consumer group */
    const char *group;     /* borrowed: its group id, NULL for
                              "ferry-sink-<topic prefix>" */
    const char *metrics_listen; /* borrowed: ADDR:PORT of /metrics,
                                   /healthz, /readyz; NULL: none */
    int wedge_ms;               /* /healthz fails when the loop has not turned
                                   for this long (default 60000) */
} sink_run_opts_t;

/* Fills opts (caller-owned) with the defaults. */
static inline void
sink_run_opts_init(sink_run_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_batch = 20000;
    opts->max_wait_ms = 200;
    opts->applied_window = 100000;
    opts->wedge_ms = 60000;
}

#endif
