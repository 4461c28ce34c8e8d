/* ferry-sink's metrics, readiness and progress line.
 * sink/sink_metrics.c */
#include "sink_metrics.h"

#include "ferry_http.h"
#include "ferry_log.h"
#include "ferry_metrics.h"
#include "ferry_time.h"
#include "ferry_version.h"
#include "sink_parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 1000
#define PROGRESS_MS 10000
#define RECENT_MS 15000 /* how long an applied batch's wait is shown */

/* Upper bounds of the batch histogram, in seconds. */
static const double batch_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

struct sink_metrics {
    const map_config_t *cfg; /* borrowed */
    ferry_metrics_t *reg;    /* owned */
    ferry_http_t *http;      /* owned, NULL when not serving */
    ferry_metric_t *rows, *stale, *parked, *drained, *errors, *lag_msgs,
        *applied_ts, *lag_s, *batch, *retries, *waiting, *ready;
    int64_t applied_ms;    /* newest commit time applied, 0 none */
    int64_t pending_ms;    /* oldest commit time waiting, 0 none */
    double recent_wait;    /* the longest wait of a batch applied ... */
    int64_t recent_at;     /* ... at this time (mono ms) or later */
    double lag_seconds;    /* as last computed */
    bool streaming;        /* the phase */
    char why[256];         /* why not streaming */
    int64_t last_progress; /* mono ms of the last progress line */
    long last_rows;        /* rows applied at the last progress line */
    long *ent_rows;        /* owned: rows applied per entity, now ... */
    long *ent_last;        /* owned: ... and at the last progress line */
    const struct sink_parts *timer_parts; /* borrowed: the timer's */
};

sink_metrics_t *
sink_metrics_new(const map_config_t *cfg, ferry_err_t *err)
{
    static const char *const ent_op[] = {"entity", "op"};
    static const char *const ent[] = {"entity"};
    static const char *const topic[] = {"topic"};
    sink_metrics_t *m = calloc(1, sizeof(*m));
    ferry_metrics_t *r;

    if (m == NULL || (m->reg = ferry_metrics_new(FERRY_VERSION)) == NULL) {
        free(m);
        ferry_err_set(err, FERRY_ENOMEM, "out of memory creating the metrics");
        return NULL;
    }
    r = m->reg;
    m->cfg = cfg;
    m->ent_rows = calloc(cfg->n_entities + 1, sizeof(*m->ent_rows));
    m->ent_last = calloc(cfg->n_entities + 1, sizeof(*m->ent_last));
    snprintf(m->why, sizeof(m->why), "starting");
    m->rows = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_sink_rows_total",
        "Rows applied to the target (op upsert or delete).", 2, ent_op, NULL,
        0);
    m->stale = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_sink_stale_rows_total",
        "Changes skipped because the target holds a newer one.", 1, ent, NULL,
        0);
    m->parked = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_sink_parked_rows",
        "Rows parked now, waiting for a parent (or for their children to "
        "go).",
        1, ent, NULL, 0);
    m->drained = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_sink_drained_rows_total",
        "Parked rows applied once what they waited for arrived.", 0, NULL, NULL,
        0);
    m->errors = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_sink_errors_total",
        "Rows and messages recorded in the errors table and the DLQ.", 1, ent,
        NULL, 0);
    m->lag_msgs = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_sink_consumer_lag_messages",
        "Messages in the topic not yet applied (high watermark minus the "
        "stored position).",
        1, topic, NULL, 0);
    m->applied_ts = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE,
        "ferry_sink_last_applied_commit_timestamp_seconds",
        "Source commit time of the newest transaction applied.", 0, NULL, NULL,
        0);
    m->lag_s = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_sink_lag_seconds",
        "How far the target is behind the source: now minus the commit time "
        "of the oldest change waiting; 0 when none waits.",
        0, NULL, NULL, 0);
    m->batch = ferry_metrics_family(
        r, FERRY_METRIC_HISTOGRAM, "ferry_sink_batch_apply_seconds",
        "Target transactions, begin to commit.", 0, NULL, batch_buckets,
        sizeof(batch_buckets) / sizeof(batch_buckets[0]));
    m->retries = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_sink_retries_total",
        "Target transactions retried after a transient failure.", 0, NULL, NULL,
        0);
    m->waiting = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_sink_waiting_topics",
        "Topics of the mapping that do not exist yet.", 0, NULL, NULL, 0);
    m->ready = ferry_metrics_family(r, FERRY_METRIC_GAUGE, "ferry_sink_ready",
                                    "1 when the sink is connected and "
                                    "streaming (/readyz).",
                                    0, NULL, NULL, 0);
    if (m->ent_rows == NULL || m->ent_last == NULL || m->rows == NULL ||
        m->stale == NULL || m->parked == NULL || m->drained == NULL ||
        m->errors == NULL || m->lag_msgs == NULL || m->applied_ts == NULL ||
        m->lag_s == NULL || m->batch == NULL || m->retries == NULL ||
        m->waiting == NULL || m->ready == NULL) {
        sink_metrics_free(m);
        ferry_err_set(err, FERRY_ENOMEM, "out of memory creating the metrics");
        return NULL;
    }
    ferry_metric_add(m->retries, NULL, 0);
    ferry_metric_set(m->lag_s, NULL, 0);
    ferry_metric_set(m->ready, NULL, 0);
    ferry_metrics_set_ready(m->reg, false, m->why);
    m->last_progress = ferry_mono_ms();
    return m;
}

void
sink_metrics_free(sink_metrics_t *m)
{
    if (m == NULL)
        return;
    ferry_http_stop(m->http);
    ferry_metrics_free(m->reg);
    free(m->ent_rows);
    free(m->ent_last);
    free(m);
}

int
sink_metrics_listen(sink_metrics_t *m, const char *listen, int wedge_ms,
                    ferry_err_t *err)
{
    m->http = ferry_http_start(listen, m->reg, wedge_ms, err);
    return m->http != NULL ? 0 : err->status;
}

int
sink_metrics_port(const sink_metrics_t *m)
{
    return m->http != NULL ? ferry_http_port(m->http) : -1;
}

void
sink_metrics_phase(sink_metrics_t *m, bool streaming, const char *why)
{
    m->streaming = streaming;
    snprintf(m->why, sizeof(m->why), "%s", why != NULL ? why : "");
}

void
sink_metrics_batch(sink_metrics_t *m, double seconds)
{
    ferry_metric_observe(m->batch, NULL, seconds);
}

void
sink_metrics_retry(sink_metrics_t *m)
{
    ferry_metric_add(m->retries, NULL, 1);
}

void
sink_metrics_applied(sink_metrics_t *m, int64_t oldest_ms, int64_t newest_ms)
{
    int64_t now = ferry_mono_ms(), wall = ferry_wall_ms();
    double wait = oldest_ms > 0 && wall > oldest_ms
                      ? (double)(wall - oldest_ms) / 1000.0
                      : 0;

    if (newest_ms > m->applied_ms)
        m->applied_ms = newest_ms;
    /* The longest wait of the window, and when it was seen. */
    if (now - m->recent_at >= RECENT_MS)
        m->recent_wait = 0;
    if (wait >= m->recent_wait) {
        m->recent_wait = wait;
        m->recent_at = now;
    }
}

void
sink_metrics_pending(sink_metrics_t *m, int64_t ts_ms)
{
    m->pending_ms = ts_ms;
}

double
sink_metrics_lag_seconds(const sink_metrics_t *m)
{
    return m->lag_seconds;
}

/* The consumer's lag per topic: the high watermark librdkafka last saw
 * (from fetch responses: no request is sent) minus the position stored in
 * the target.  Returns the total. */
static double
consumer_lag(sink_metrics_t *m, const sink_consumer_t *kc)
{
    double total = 0;
    size_t t, i;

    for (t = 0; t < kc->n_topics; t++) {
        double lag = 0;
        bool any = false;

        for (i = 0; i < kc->n_slots; i++) {
            const sink_slot_t *s = &kc->slots[i];
            int64_t lo = 0, hi = 0, from;

            if (strcmp(s->topic, kc->topics[t]) != 0 ||
                (kc->group != NULL && !s->owned))
                continue;
            if (rd_kafka_get_watermark_offsets(kc->rk, s->topic, s->partition,
                                               &lo, &hi) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR ||
                hi < 0)
                hi = s->end;
            any = true;
            from = s->stored >= 0 ? s->stored : lo;
            if (hi > from)
                lag += (double)(hi - from);
        }
        if (any) {
            const char *v[1] = {kc->topics[t]};

            ferry_metric_set(m->lag_msgs, v, lag);
            total += lag;
        }
    }
    return total;
}

/* The applier's committed counters, entity by entity; what belongs to
 * no entity (malformed messages) counts with entity="". */
static void
entity_counts(sink_metrics_t *m, const sink_apply_t *a, long *rows,
              long *parked, long *errors)
{
    size_t i, n = m->cfg->n_entities;
    sink_apply_counts_t c;

    *rows = *parked = *errors = 0;
    for (i = 0; i <= n; i++) {
        const char *name = i < n ? m->cfg->entities[i].name : "";
        const char *up[2] = {name, "upsert"}, *del[2] = {name, "delete"};
        const char *e[1] = {name};

        sink_apply_entity_counts(a, i, &c);
        if (i < n) {
            ferry_metric_set(m->rows, up, (double)c.upserted);
            ferry_metric_set(m->rows, del, (double)c.deleted);
            ferry_metric_set(m->stale, e, (double)c.stale);
            ferry_metric_set(m->parked, e, (double)c.parked_now);
        }
        if (i < n || c.errors > 0)
            ferry_metric_set(m->errors, e, (double)c.errors);
        *rows += c.upserted + c.deleted;
        if (i < n)
            m->ent_rows[i] = c.upserted + c.deleted;
        *parked += c.parked_now;
        *errors += c.errors;
    }
    sink_apply_entity_counts(a, n, &c);
    ferry_metric_set(m->drained, NULL, (double)c.drained);
}

/* "; a +N, b +M, c +K" for the (at most three) entities that
 * applied the most rows since the last progress line, then ", ..." when
 * more did; "" when none did. */
static void
busiest(sink_metrics_t *m, char *out, size_t cap)
{
    size_t n = m->cfg->n_entities, len = 0, k, i, more = 0;
    bool *shown = calloc(n + 1, sizeof(*shown));

    out[0] = '\0';
    for (k = 0; shown != NULL && k < 3; k++) {
        size_t best = n;
        long best_d = 0;
        int w;

        for (i = 0; i < n; i++) {
            long d = m->ent_rows[i] - m->ent_last[i];

            if (!shown[i] && d > best_d)
                best = i, best_d = d;
        }
        if (best == n)
            break;
        shown[best] = true;
        w = snprintf(out + len, cap - len, "%s%s +%ld", k == 0 ? "; " : ", ",
                     m->cfg->entities[best].name, best_d);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
    for (i = 0; shown != NULL && i < n; i++)
        more += !shown[i] && m->ent_rows[i] != m->ent_last[i];
    if (more > 0 && len + 6 < cap)
        snprintf(out + len, cap - len, ", ...");
    free(shown);
    memcpy(m->ent_last, m->ent_rows, n * sizeof(*m->ent_last));
}

void
sink_metrics_tick(sink_metrics_t *m, const struct sink_parts *p)
{
    int64_t now = ferry_mono_ms();
    int64_t wall = ferry_wall_ms();
    const char *first = NULL;
    size_t missing =
        p->kc->rk != NULL ? sink_consumer_missing(p->kc, &first) : 0;
    bool connected = p->target != NULL && sink_target_ok(p->target);
    bool ready = m->streaming && connected;
    char why[320];
    double lag_msgs;
    long rows, parked, errors;

    ferry_metrics_beat(m->reg);
    rows = parked = errors = 0;
    if (p->apply != NULL)
        entity_counts(m, p->apply, &rows, &parked, &errors);
    lag_msgs = p->kc->rk != NULL ? consumer_lag(m, p->kc) : 0;
    m->lag_seconds = m->pending_ms > 0 && wall > m->pending_ms
                         ? (double)(wall - m->pending_ms) / 1000.0
                         : 0;
    if (now - m->recent_at < RECENT_MS && m->recent_wait > m->lag_seconds)
        m->lag_seconds = m->recent_wait;
    ferry_metric_set(m->lag_s, NULL, m->lag_seconds);
    if (m->applied_ms > 0)
        ferry_metric_set(m->applied_ts, NULL, (double)m->applied_ms / 1000.0);
    ferry_metric_set(m->waiting, NULL, (double)missing);
    if (!m->streaming)
        snprintf(why, sizeof(why), "%s", m->why);
    else if (!connected)
        snprintf(why, sizeof(why),
                 "the target connection is lost; reconnecting");
    else
        why[0] = '\0';
    ferry_metric_set(m->ready, NULL, ready ? 1 : 0);
    ferry_metrics_set_ready(m->reg, ready, why);
    if (ferry_metrics_publish(m->reg) != 0)
        ferry_warn("out of memory rendering the metrics; /metrics serves the "
                   "last ones");
    if (now - m->last_progress >= PROGRESS_MS) {
        double secs = (double)(now - m->last_progress) / 1000.0;
        char busy[256];

        busiest(m, busy, sizeof(busy));
        ferry_info("%s: %.0f rows/s over %.0f s (%ld applied%s), lag %.1f s "
                   "(%.0f messages), parked %ld, errors %ld%s%s%s",
                   m->streaming ? "streaming" : m->why,
                   (double)(rows - m->last_rows) / secs, secs, rows, busy,
                   m->lag_seconds, lag_msgs, parked, errors,
                   missing > 0 ? ", waiting for topic \"" : "",
                   missing > 0 ? first : "", missing > 0 ? "\"" : "");
        m->last_progress = now;
        m->last_rows = rows;
    }
}

static int
on_timer(void *arg, ferry_err_t *err)
{
    sink_metrics_t *m = arg;

    (void)err;
    sink_metrics_tick(m, m->timer_parts);
    if (sink_loop_after(m->timer_parts->loop, TICK_MS, on_timer, m) == 0)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory re-arming the metrics timer");
    return 0;
}

int
sink_metrics_start_timer(sink_metrics_t *m, const struct sink_parts *p,
                         ferry_err_t *err)
{
    m->timer_parts = p;
    sink_metrics_tick(m, p);
    if (sink_loop_after(p->loop, TICK_MS, on_timer, m) == 0)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory arming the metrics timer");
    return 0;
}
