/* ferry's metrics: counters, gauges and histograms in the Prometheus text
 * format, the process's own, and the liveness and readiness the HTTP
 * endpoint reports (common/ferry_http.h).
 * common/ferry_metrics.h
 *
 * Names follow Prometheus's conventions: base units (seconds, bytes),
 * counters end in _total, labels have few values (a table, an entity, an
 * op; never a key).  A family is registered once with its label names; a
 * series is one set of label values, made on first use.
 *
 * Threads: the program's main loop is the only writer.  It updates values
 * without locks and, at every status interval, renders them into a
 * snapshot (ferry_metrics_publish()); the HTTP thread only copies the last
 * snapshot, under a lock held for a pointer swap, so serving a scrape never
 * waits on the loop and never slows it.  ferry_metrics_beat(),
 * ferry_metrics_set_ready() and the readers of both are safe from any
 * thread.
 */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ferry_metrics ferry_metrics_t;
typedef struct ferry_metric ferry_metric_t;

typedef enum ferry_metric_type {
    FERRY_METRIC_COUNTER = 0,
    FERRY_METRIC_GAUGE,
    FERRY_METRIC_HISTOGRAM
} ferry_metric_type_t;

/* Returns a new registry (free with ferry_metrics_free()) that already has
 * ferry_build_info{version}, the process_* metrics (resident and
 * virtual memory, CPU seconds, start time, open and max descriptors) and
 * ferry_loop_last_turn_timestamp_seconds (set at each publish), or
 * NULL when out of memory.  version (borrowed) is copied. */
ferry_metrics_t *ferry_metrics_new(const char *version);

/* Frees the registry; no thread may use it any more. */
void ferry_metrics_free(ferry_metrics_t *m);

/* Registers a family: name and help (borrowed, copied), the n label names
 * (borrowed, copied; n may be 0), and for a histogram the n_buckets upper
 * bounds in increasing order (copied; +Inf is implied).  Returns the family
 * (owned by the registry), or NULL when out of memory.  Main thread, before
 * the values are used. */
ferry_metric_t *ferry_metrics_family(ferry_metrics_t *m,
                                     ferry_metric_type_t type, const char *name,
                                     const char *help, size_t n_labels,
                                     const char *const *labels,
                                     const double *buckets, size_t n_buckets);

/* Adds by (>= 0) to the counter series of the label values (borrowed; as
 * many as the family's labels, NULL when it has none).  Main thread. */
void ferry_metric_add(ferry_metric_t *f, const char *const *values, double by);

/* Sets the gauge series of the label values.  Main thread. */
void ferry_metric_set(ferry_metric_t *f, const char *const *values, double v);

/* Removes the series of the label values (a gauge that does not apply any
 * more, e.g. a limit that is now unlimited).  Main thread. */
void ferry_metric_drop(ferry_metric_t *f, const char *const *values);

/* Counts the observation v in the histogram series.  Main thread. */
void ferry_metric_observe(ferry_metric_t *f, const char *const *values,
                          double v);

/* The current value of a counter or gauge series (0 when it does not
 * exist).  Main thread (tests, progress lines). */
double ferry_metric_value(ferry_metric_t *f, const char *const *values);

/* Renders every family, the process metrics read now, into the snapshot
 * the HTTP thread serves.  Main thread.  Returns 0 or FERRY_ENOMEM (the
 * last snapshot stays). */
int ferry_metrics_publish(ferry_metrics_t *m) FERRY_WUR;

/* A new copy of the last snapshot (free with free()), "" before the first
 * publish, or NULL when out of memory.  Any thread. */
char *ferry_metrics_text(ferry_metrics_t *m);

/* The main loop turned: /healthz stays 200 while this happens often
 * enough.  Any thread. */
void ferry_metrics_beat(ferry_metrics_t *m);

/* Milliseconds (monotonic) of the last beat, or of ferry_metrics_new()
 * before the first.  Any thread. */
int64_t ferry_metrics_last_beat(ferry_metrics_t *m);

/* Sets readiness and its reason (borrowed, copied; NULL for none).  Any
 * thread. */
void ferry_metrics_set_ready(ferry_metrics_t *m, bool ready,
                             const char *reason);

/* Whether ready; the reason goes to reason (caller-owned, len bytes).  Any
 * thread. */
bool ferry_metrics_ready(ferry_metrics_t *m, char *reason, size_t len);

#endif
