/* ferry-sink's metrics, readiness and progress line: what an operator sees
 * of a running sink (docs/operations.md).
 * sink/sink_metrics.h
 *
 * The families (fixed names: alerts and dashboards depend on them):
 *   ferry_sink_rows_total{entity,op}        rows applied (op upsert, delete)
 *   ferry_sink_stale_rows_total{entity}     rows skipped as older than the
 *                                           target's
 *   ferry_sink_parked_rows{entity}          rows parked now
 *   ferry_sink_drained_rows_total           parked rows applied later
 *   ferry_sink_errors_total{entity}         rows and messages recorded in
 *                                           errors and the DLQ
 *   ferry_sink_consumer_lag_messages{topic} messages not yet applied
 *   ferry_sink_last_applied_commit_timestamp_seconds
 *   ferry_sink_lag_seconds                  now minus the commit time of
 *                                           the oldest change waiting, or
 *                                           how long the changes applied
 *                                           in the last 15 s waited if
 *                                           more; 0 when caught up
 *   ferry_sink_batch_apply_seconds          histogram of target
 *                                           transactions, begin to commit
 *   ferry_sink_retries_total                target transactions retried
 *   ferry_sink_waiting_topics               topics that do not exist yet
 *   ferry_sink_ready                        1 when /readyz says ready
 * plus ferry_build_info and process_* (common/ferry_metrics.h).
 *
 * The modes tell what only they know (a batch's duration, the commit
 * times applied and waiting, the phase); sink_metrics_tick() pulls the
 * rest (the applier's counters, the consumer's positions and high
 * watermarks, the target connection) at every status interval, publishes
 * the snapshot the HTTP thread serves, beats /healthz and writes the
 * progress line.  The loop's thread only, except the HTTP server's own
 * thread (common/ferry_http.h).
 */
#ifndef SINK_METRICS_H
#define SINK_METRICS_H

#include "ferry_err.h"
#include "map_config.h"

#include <stdbool.h>
#include <stdint.h>

struct sink_parts;
typedef struct sink_metrics sink_metrics_t;

/* Creates the sink's metrics for cfg (borrowed, must outlive them).
 * Returns a new object (free with sink_metrics_free()) or NULL with err
 * set (out of memory). */
sink_metrics_t *sink_metrics_new(const map_config_t *cfg,
                                 ferry_err_t *err) FERRY_WUR;

/* Stops the HTTP server, if any, and frees m; NULL is a no-op. */
void sink_metrics_free(sink_metrics_t *m);

/* Serves /metrics, /healthz and /readyz on listen (borrowed, ADDR:PORT);
 * /healthz fails once the loop has not turned for wedge_ms.  Returns 0
 * or FERRY_ECONFIG (the address does not parse or cannot be bound) with
 * err set. */
int sink_metrics_listen(sink_metrics_t *m, const char *listen, int wedge_ms,
                        ferry_err_t *err) FERRY_WUR;

/* The port served (the one chosen for port 0), or -1 when not serving. */
int sink_metrics_port(const sink_metrics_t *m);

/* What the sink is doing, for /readyz: streaming (ready while the target
 * connection is up) or not, with the reason (borrowed, copied): "loading
 * the snapshot of ...", "waiting for topic ...". */
void sink_metrics_phase(sink_metrics_t *m, bool streaming, const char *why);

/* A target transaction took seconds, begin to commit (committed). */
void sink_metrics_batch(sink_metrics_t *m, double seconds);

/* A target transaction was retried after a transient failure. */
void sink_metrics_retry(sink_metrics_t *m);

/* Source transactions committed from oldest_ms to newest_ms
 * (milliseconds since the epoch, the source's clock) are applied now.
 * How long the oldest waited counts in ferry_sink_lag_seconds for the
 * next 15 s (the default scrape interval): a backlog applied between two
 * scrapes is still seen. */
void sink_metrics_applied(sink_metrics_t *m, int64_t oldest_ms,
                          int64_t newest_ms);

/* The oldest change read and not yet applied committed at ts_ms; 0 when
 * nothing waits.  The mode says so whenever it changes (at each turn is
 * fine: it costs a store). */
void sink_metrics_pending(sink_metrics_t *m, int64_t ts_ms);

/* Pulls the counters and gauges of p (borrowed), publishes them for the
 * HTTP thread, beats /healthz, sets readiness and, every progress_ms,
 * logs the progress line.  Call at every status interval from the loop
 * (sink_metrics_start_timer() does). */
void sink_metrics_tick(sink_metrics_t *m, const struct sink_parts *p);

/* Registers a timer on p's loop that calls sink_metrics_tick() every
 * second and re-arms itself.  Returns 0 or FERRY_ENOMEM with err set. */
int sink_metrics_start_timer(sink_metrics_t *m, const struct sink_parts *p,
                             ferry_err_t *err) FERRY_WUR;

/* The value of ferry_sink_lag_seconds as last computed (tests, the
 * progress line). */
double sink_metrics_lag_seconds(const sink_metrics_t *m);

#endif
