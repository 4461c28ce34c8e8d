/* ferry-cdc's metrics and readiness.
 * cdc/cdc_metrics.c */
#include "cdc_metrics.h"

#include "ferry_http.h"
#include "ferry_log.h"
#include "ferry_metrics.h"
#include "ferry_time.h"
#include "ferry_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLISH_MS 1000
#define COMMITS 4096 /* commits remembered until confirmed (a ring) */

static const char *const op_names[CDC_METRICS_N_OPS] = {"insert", "update",
                                                        "delete", "truncate"};
static const char *const wal_statuses[] = {"reserved", "extended", "unreserved",
                                           "lost"};

typedef struct commit {
    uint64_t lsn;
    int64_t ts_ms;
} commit_t;

struct cdc_metrics {
    const map_config_t *cfg; /* borrowed */
    ferry_metrics_t *reg;    /* owned */
    ferry_http_t *http;      /* owned, NULL when not serving */
    ferry_metric_t *events, *snap_rows, *lag, *retained, *safe, *wal_status,
        *inflight, *commit_ts, *confirmed, *reconnects, *ready;
    char **names; /* owned: "schema.table" by table index */
    size_t n_tables;
    uint64_t (*counts)[CDC_METRICS_N_OPS]; /* owned: by table and op */
    uint64_t *snap;                        /* owned: snapshot rows by table */
    commit_t ring[COMMITS];                /* commits not yet known confirmed */
    size_t head, n;                        /* the oldest, how many */
    int64_t last_commit_ts;                /* of the last confirmed, 0 none */
    bool streaming;
    char why[256];
    int64_t published; /* mono ms of the last publish */
};

cdc_metrics_t *
cdc_metrics_new(const map_config_t *cfg, ferry_err_t *err)
{
    static const char *const table_op[] = {"table", "op"};
    static const char *const table[] = {"table"};
    static const char *const status[] = {"status"};
    cdc_metrics_t *m = calloc(1, sizeof(*m));
    ferry_metrics_t *r;

    if (m == NULL || (m->reg = ferry_metrics_new(FERRY_VERSION)) == NULL) {
        free(m);
        ferry_err_set(err, FERRY_ENOMEM, "out of memory creating the metrics");
        return NULL;
    }
    r = m->reg;
    m->cfg = cfg;
    snprintf(m->why, sizeof(m->why), "starting");
    m->events = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_cdc_events_total",
        "Row events published to Kafka, by source table and op.", 2, table_op,
        NULL, 0);
    m->snap_rows = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_cdc_snapshot_rows_total",
        "Snapshot rows published to Kafka, by source table.", 1, table, NULL,
        0);
    m->lag = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_replication_lag_bytes",
        "The source's WAL position minus the slot's confirmed_flush_lsn.", 0,
        NULL, NULL, 0);
    m->retained = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_slot_retained_wal_bytes",
        "WAL the source keeps for the slot (its WAL position minus the "
        "slot's restart_lsn).",
        0, NULL, NULL, 0);
    m->safe = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_slot_safe_wal_bytes",
        "WAL that can still be written before the slot is in danger of "
        "invalidation (safe_wal_size); absent when max_slot_wal_keep_size is "
        "unlimited.",
        0, NULL, NULL, 0);
    m->wal_status = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_slot_wal_status",
        "1 for the slot's wal_status (reserved, extended, unreserved, lost), "
        "0 for the others.",
        1, status, NULL, 0);
    m->inflight = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_kafka_inflight_messages",
        "Messages produced that Kafka has not acknowledged yet.", 0, NULL, NULL,
        0);
    m->commit_ts = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_last_commit_timestamp_seconds",
        "Source commit time of the last transaction the slot confirmed.", 0,
        NULL, NULL, 0);
    m->confirmed = ferry_metrics_family(
        r, FERRY_METRIC_GAUGE, "ferry_cdc_confirmed_lsn_bytes",
        "The LSN ferry-cdc can confirm (everything before it is in Kafka), "
        "as a number.",
        0, NULL, NULL, 0);
    m->reconnects = ferry_metrics_family(
        r, FERRY_METRIC_COUNTER, "ferry_cdc_reconnects_total",
        "Replication sessions lost and started again.", 0, NULL, NULL, 0);
    m->ready = ferry_metrics_family(r, FERRY_METRIC_GAUGE, "ferry_cdc_ready",
                                    "1 when ferry-cdc is past its snapshot "
                                    "and streaming (/readyz).",
                                    0, NULL, NULL, 0);
    if (m->events == NULL || m->snap_rows == NULL || m->lag == NULL ||
        m->retained == NULL || m->safe == NULL || m->wal_status == NULL ||
        m->inflight == NULL || m->commit_ts == NULL || m->confirmed == NULL ||
        m->reconnects == NULL || m->ready == NULL) {
        cdc_metrics_free(m);
        ferry_err_set(err, FERRY_ENOMEM, "out of memory creating the metrics");
        return NULL;
    }
    ferry_metric_add(m->reconnects, NULL, 0);
    ferry_metric_set(m->ready, NULL, 0);
    ferry_metric_set(m->inflight, NULL, 0);
    ferry_metrics_set_ready(m->reg, false, m->why);
    return m;
}

static void
free_tables(cdc_metrics_t *m)
{
    for (size_t i = 0; m->names != NULL && i < m->n_tables; i++)
        free(m->names[i]);
    free(m->names);
    free(m->counts);
    free(m->snap);
    m->names = NULL;
    m->counts = NULL;
    m->snap = NULL;
    m->n_tables = 0;
}

void
cdc_metrics_free(cdc_metrics_t *m)
{
    if (m == NULL)
        return;
    ferry_http_stop(m->http);
    ferry_metrics_free(m->reg);
    free_tables(m);
    free(m);
}

int
cdc_metrics_listen(cdc_metrics_t *m, const char *listen, int wedge_ms,
                   ferry_err_t *err)
{
    m->http = ferry_http_start(listen, m->reg, wedge_ms, err);
    return m->http != NULL ? 0 : err->status;
}

int
cdc_metrics_set_tables(cdc_metrics_t *m, const cdc_tables_t *tables,
                       ferry_err_t *err)
{
    size_t n = cdc_tables_count(tables);

    free_tables(m);
    m->names = calloc(n + 1, sizeof(*m->names));
    m->counts = calloc(n + 1, sizeof(*m->counts));
    m->snap = calloc(n + 1, sizeof(*m->snap));
    if (m->names == NULL || m->counts == NULL || m->snap == NULL)
        goto oom;
    m->n_tables = n;
    for (size_t i = 0; i < n; i++) {
        const cdc_table_t *t = cdc_tables_get(tables, i);

        if (asprintf(&m->names[i], "%s.%s", t->schema, t->table) < 0) {
            m->names[i] = NULL;
            goto oom;
        }
    }
    return 0;
oom:
    free_tables(m);
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory labelling the metrics of %zu tables",
                         n);
}

void
cdc_metrics_event(cdc_metrics_t *m, size_t ti, cdc_metrics_op_t op)
{
    if (m != NULL && ti < m->n_tables)
        m->counts[ti][op]++;
}

void
cdc_metrics_snapshot_rows(cdc_metrics_t *m, size_t ti, uint64_t rows)
{
    if (m != NULL && ti < m->n_tables)
        m->snap[ti] = rows;
}

void
cdc_metrics_commit(cdc_metrics_t *m, uint64_t end_lsn, int64_t ts_ms)
{
    if (m == NULL)
        return;
    /* Full: the oldest goes; a newer commit still tells the time once
     * it is confirmed. */
    if (m->n == COMMITS) {
        m->head = (m->head + 1) % COMMITS;
        m->n--;
    }
    m->ring[(m->head + m->n) % COMMITS] = (commit_t){end_lsn, ts_ms};
    m->n++;
}

void
cdc_metrics_slot(cdc_metrics_t *m, const map_slot_t *slot)
{
    size_t i;

    if (m == NULL || !slot->exists)
        return;
    ferry_metric_set(m->lag, NULL, (double)slot->lag_bytes);
    ferry_metric_set(m->retained, NULL, (double)slot->retained_bytes);
    if (slot->safe_known)
        ferry_metric_set(m->safe, NULL, (double)slot->safe_bytes);
    else
        ferry_metric_drop(m->safe, NULL);
    for (i = 0; i < sizeof(wal_statuses) / sizeof(wal_statuses[0]); i++) {
        const char *v[1] = {wal_statuses[i]};

        ferry_metric_set(m->wal_status, v,
                         strcmp(slot->wal_status, wal_statuses[i]) == 0 ? 1
                                                                        : 0);
    }
}

void
cdc_metrics_reconnect(cdc_metrics_t *m)
{
    if (m != NULL)
        ferry_metric_add(m->reconnects, NULL, 1);
}

void
cdc_metrics_phase(cdc_metrics_t *m, bool streaming, const char *why)
{
    if (m == NULL)
        return;
    m->streaming = streaming;
    snprintf(m->why, sizeof(m->why), "%s", why != NULL ? why : "");
    ferry_metric_set(m->ready, NULL, streaming ? 1 : 0);
    ferry_metrics_set_ready(m->reg, streaming, m->why);
}

void
cdc_metrics_tick(cdc_metrics_t *m, uint64_t confirmed, size_t inflight)
{
    int64_t now;

    if (m == NULL)
        return;
    ferry_metrics_beat(m->reg);
    now = ferry_mono_ms();
    if (now - m->published < PUBLISH_MS)
        return;
    m->published = now;
    while (m->n > 0 && m->ring[m->head].lsn <= confirmed) {
        m->last_commit_ts = m->ring[m->head].ts_ms;
        m->head = (m->head + 1) % COMMITS;
        m->n--;
    }
    if (m->last_commit_ts > 0)
        ferry_metric_set(m->commit_ts, NULL,
                         (double)m->last_commit_ts / 1000.0);
    if (confirmed > 0)
        ferry_metric_set(m->confirmed, NULL, (double)confirmed);
    ferry_metric_set(m->inflight, NULL, (double)inflight);
    for (size_t i = 0; i < m->n_tables; i++) {
        const char *t[1] = {m->names[i]};

        for (int op = 0; op < CDC_METRICS_N_OPS; op++) {
            const char *v[2] = {m->names[i], op_names[op]};

            ferry_metric_set(m->events, v, (double)m->counts[i][op]);
        }
        ferry_metric_set(m->snap_rows, t, (double)m->snap[i]);
    }
    if (ferry_metrics_publish(m->reg) != 0)
        ferry_warn("out of memory rendering the metrics; /metrics serves the "
                   "last ones");
}
