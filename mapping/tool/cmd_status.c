/* ferry-map status: the whole pipeline on one screen, and an exit status
 * for cron and monitoring agents.
 * mapping/tool/cmd_status.c
 *
 * Everything is gathered into one JSON document (the --json output); the
 * text output is printed from it, so the two never disagree.  Each
 * finding that is not healthy adds a problem with its level: the worst
 * level is the exit status (0 healthy, 1 warning, 2 critical).
 */
#include "ferry_buf.h"
#include "ferry_cli.h"
#include "ferry_lsn.h"
#include "ferry_map.h"
#include "ferry_pg.h"
#include "ferry_time.h"
#include "ferry_wire.h"
#include "map_slot.h"
#include "map_state.h"
#include "status.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LVL_OK = 0, LVL_WARN = 1, LVL_CRIT = 2 };

typedef struct limits {
    double lag_warn, lag_crit;      /* seconds */
    long long wal_warn, wal_crit;   /* retained bytes */
    long long safe_warn, safe_crit; /* safe_wal_size bytes */
    long errors_warn;               /* errors recorded; 0: never */
    int timeout_ms;                 /* per Kafka request */
} limits_t;

typedef struct status {
    const map_config_t *cfg;
    limits_t lim;
    json_t *doc;            /* owned: the report */
    json_t *problems;       /* borrowed from doc */
    int level;              /* the worst so far */
    status_topic_t *topics; /* owned */
    size_t n_topics;
    bool sink_running;
} status_t;

static void
status_usage(FILE *out)
{
    fprintf(
        out,
        "ferry-map status shows the whole pipeline at once: the source's\n"
        "replication slot (active, confirmed, lag, wal_status, "
        "safe_wal_size),\n"
        "each topic's end offsets against the positions ferry-sink stored "
        "in the\n"
        "target, how far the target is behind (the commit time of the "
        "oldest\n"
        "change not yet applied), parked rows and what they wait for, "
        "errors,\n"
        "the snapshot, and topics the sink waits for.  It only reads: no "
        "consumer\n"
        "group is joined, no offset committed, no topic created.\n\n"
        "Usage:\n"
        "  ferry-map status [--config FILE] [--json] [OPTION]...\n\n"
        "Options:\n"
        "  -c, --config=FILE       the mapping file (default ./ferry.yaml)\n"
        "      --json              print the report as one JSON object\n"
        "      --format=FORMAT     text (default) or json\n"
        "      --lag-warn=SECONDS  warn when the target is further behind\n"
        "                          (default 60)\n"
        "      --lag-critical=SECONDS  critical beyond (default 900)\n"
        "      --wal-warn=SIZE     warn when the slot retains more WAL\n"
        "                          (default 1GB; kB, MB, GB, TB)\n"
        "      --wal-critical=SIZE critical beyond (default 16GB), and "
        "when the\n"
        "                          slot is inactive past --wal-warn\n"
        "      --safe-wal-warn=SIZE    warn when safe_wal_size falls under\n"
        "                          (default 4GB; only with "
        "max_slot_wal_keep_size)\n"
        "      --safe-wal-critical=SIZE  critical under (default 1GB)\n"
        "      --errors-warn=N     warn once the errors table holds N rows\n"
        "                          (default 1; 0 never)\n"
        "      --timeout=SECONDS   per request to Kafka (default 10)\n"
        "  -h, --help              show this help and exit\n\n"
        "Exit status: 0 healthy, 1 warning, 2 critical (or usage and "
        "mapping file\n"
        "errors: those print no report).  A database or Kafka that cannot "
        "be\n"
        "reached is critical.  docs/operations.md says what each finding "
        "means\n"
        "and what to do.\n\n"
        "Examples:\n"
        "  ferry-map status -c ferry.yaml\n"
        "  ferry-map status -c ferry.yaml --json | jq .problems\n"
        "  */5 * * * *  ferry-map status -c /etc/ferry/ferry.yaml "
        "--lag-warn 300 >/dev/null\n");
}

static void problem(status_t *st, int level, const char *fmt, ...)
    FERRY_PRINTF(3, 4);

static void
problem(status_t *st, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(st->problems,
                          json_pack("{s:s,s:s}", "level",
                                    level == LVL_CRIT ? "critical" : "warning",
                                    "message", msg));
    if (level > st->level)
        st->level = level;
}

static json_t *
lsn_json(uint64_t lsn)
{
    char buf[32];

    if (lsn == 0)
        return json_null();
    snprintf(buf, sizeof(buf), FERRY_LSN_FMT, FERRY_LSN_ARGS(lsn));
    return json_string(buf);
}

/* "1.5 GB" */
static const char *
size_text(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB"};
    int u = 0;

    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

/* --- the source ---------------------------------------------------------- */

static void
read_source(status_t *st)
{
    const map_config_t *cfg = st->cfg;
    char msg[1024], a[32], b[32];
    ferry_err_t err = {0, ""};
    PGconn *src = tool_connect(cfg->source_dsn, "source", msg, sizeof(msg));
    json_t *slot = json_object();
    map_slot_t s;

    json_object_set_new(st->doc, "slot", slot);
    json_object_set_new(slot, "name", json_string(cfg->source_slot));
    if (src == NULL) {
        json_object_set_new(slot, "reachable", json_false());
        problem(st, LVL_CRIT, "%s", msg);
        return;
    }
    json_object_set_new(slot, "reachable", json_true());
    if (map_slot_read(src, cfg->source_slot, &s, &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        PQfinish(src);
        return;
    }
    PQfinish(src);
    json_object_set_new(slot, "exists", json_boolean(s.exists));
    json_object_set_new(slot, "current_wal_lsn", lsn_json(s.current));
    if (!s.exists) {
        problem(st, LVL_CRIT,
                "replication slot \"%s\" does not exist: ferry-cdc has not "
                "started, or the slot was dropped (the next start takes a "
                "new snapshot)",
                cfg->source_slot);
        return;
    }
    json_object_set_new(slot, "active", json_boolean(s.active));
    json_object_set_new(slot, "active_pid",
                        s.active_pid > 0 ? json_integer(s.active_pid)
                                         : json_null());
    json_object_set_new(slot, "confirmed_flush_lsn", lsn_json(s.confirmed));
    json_object_set_new(slot, "lag_bytes", json_integer(s.lag_bytes));
    json_object_set_new(slot, "retained_bytes", json_integer(s.retained_bytes));
    json_object_set_new(slot, "wal_status", json_string(s.wal_status));
    json_object_set_new(slot, "safe_wal_size_bytes",
                        s.safe_known ? json_integer(s.safe_bytes)
                                     : json_null());
    if (strcmp(s.wal_status, "lost") == 0)
        problem(st, LVL_CRIT,
                "slot \"%s\" is invalidated (wal_status lost): its WAL is "
                "gone; restart ferry-cdc with --snapshot=when-needed to take "
                "a new snapshot",
                cfg->source_slot);
    else if (strcmp(s.wal_status, "unreserved") == 0)
        problem(st, LVL_CRIT,
                "slot \"%s\" is about to be invalidated (wal_status "
                "unreserved): the next checkpoint may remove WAL it needs; "
                "get ferry-cdc streaming now, or raise "
                "max_slot_wal_keep_size",
                cfg->source_slot);
    else if (strcmp(s.wal_status, "extended") == 0)
        problem(st, LVL_WARN,
                "slot \"%s\" retains more than max_wal_size (wal_status "
                "extended)",
                cfg->source_slot);
    if (!s.active && s.retained_bytes >= st->lim.wal_warn)
        problem(st, LVL_CRIT,
                "slot \"%s\" is inactive and retains %s of WAL (over %s): no "
                "ferry-cdc streams from it, and the WAL keeps piling up",
                cfg->source_slot, size_text((double)s.retained_bytes, a, 32),
                size_text((double)st->lim.wal_warn, b, 32));
    else if (!s.active)
        problem(st, LVL_WARN,
                "slot \"%s\" is inactive: no ferry-cdc streams from it",
                cfg->source_slot);
    else if (s.retained_bytes >= st->lim.wal_crit)
        problem(st, LVL_CRIT, "slot \"%s\" retains %s of WAL (over %s)",
                cfg->source_slot, size_text((double)s.retained_bytes, a, 32),
                size_text((double)st->lim.wal_crit, b, 32));
    else if (s.retained_bytes >= st->lim.wal_warn)
        problem(st, LVL_WARN, "slot \"%s\" retains %s of WAL (over %s)",
                cfg->source_slot, size_text((double)s.retained_bytes, a, 32),
                size_text((double)st->lim.wal_warn, b, 32));
    if (s.safe_known && s.safe_bytes < st->lim.safe_crit)
        problem(st, LVL_CRIT,
                "slot \"%s\": only %s of WAL can still be written before it "
                "is invalidated (safe_wal_size)",
                cfg->source_slot, size_text((double)s.safe_bytes, a, 32));
    else if (s.safe_known && s.safe_bytes < st->lim.safe_warn)
        problem(st, LVL_WARN,
                "slot \"%s\": %s of WAL can still be written before it is "
                "invalidated (safe_wal_size)",
                cfg->source_slot, size_text((double)s.safe_bytes, a, 32));
}

/* --- the topics ---------------------------------------------------------- */

static int
add_topic(status_t *st, const char *name, const char *kind, bool counts)
{
    status_topic_t *t;

    for (size_t i = 0; i < st->n_topics; i++)
        if (strcmp(st->topics[i].name, name) == 0)
            return 0;
    t = &st->topics[st->n_topics];
    memset(t, 0, sizeof(*t));
    if ((t->name = strdup(name)) == NULL)
        return -1;
    t->kind = kind;
    t->counts = counts;
    st->n_topics++;
    return 0;
}

static int
list_topics(status_t *st)
{
    const map_config_t *cfg = st->cfg;
    ferry_buf_t b;
    int rc = 0;

    st->topics = calloc(cfg->n_entities + 3, sizeof(*st->topics));
    if (st->topics == NULL)
        return -1;
    ferry_buf_init(&b);
    ferry_wire_topic_append(&b, cfg->kafka_topic_prefix,
                            FERRY_WIRE_TOPIC_TRANSACTION);
    if (b.failed || add_topic(st, ferry_buf_cstr(&b), "transaction", true))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < cfg->n_entities; i++)
        if (add_topic(st, map_entity_topic(cfg, &cfg->entities[i]), "entity",
                      true))
            rc = -1;
    ferry_buf_reset(&b);
    ferry_wire_topic_append(&b, cfg->kafka_topic_prefix,
                            FERRY_WIRE_TOPIC_SNAPSHOT);
    if (rc == 0 &&
        (b.failed || add_topic(st, ferry_buf_cstr(&b), "snapshot", false)))
        rc = -1;
    ferry_buf_close(&b);
    return rc;
}

/* --- the target ---------------------------------------------------------- */

static int
query(PGconn *c, const char *sql, const char *p1, PGresult **res,
      const char *what, ferry_err_t *err)
{
    const char *params[1] = {p1};

    return ferry_pg_exec(c, sql, p1 != NULL ? 1 : 0, p1 != NULL ? params : NULL,
                         res, NULL, what, 0, err);
}

/* "<quoted schema>.<table>" into buf; false when out of memory. */
static bool
qualified(PGconn *c, const char *schema, const char *table, char *buf,
          size_t len)
{
    char *q = PQescapeIdentifier(c, schema, strlen(schema));

    if (q == NULL)
        return false;
    snprintf(buf, len, "%s.%s", q, table);
    PQfreemem(q);
    return true;
}

static void
read_positions(status_t *st, PGconn *tgt, json_t *sink)
{
    char sql[512], tbl[300];
    ferry_err_t err = {0, ""};
    PGresult *res = NULL;

    if (!qualified(tgt, st->cfg->state_schema, "offsets", tbl, sizeof(tbl)))
        return;
    snprintf(sql, sizeof(sql),
             "SELECT topic, partition, next_offset, "
             "extract(epoch FROM updated_at)::float8 FROM %s",
             tbl);
    if (query(tgt, sql, NULL, &res, "read the sink's positions", &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        return;
    }
    double newest = 0;

    for (int r = 0; r < PQntuples(res); r++) {
        const char *topic = PQgetvalue(res, r, 0);
        int32_t part = (int32_t)atoi(PQgetvalue(res, r, 1));
        double at = atof(PQgetvalue(res, r, 3));

        if (at > newest)
            newest = at;
        for (size_t i = 0; i < st->n_topics; i++) {
            if (strcmp(st->topics[i].name, topic) != 0)
                continue;
            for (size_t k = 0; k < st->topics[i].n_parts; k++)
                if (st->topics[i].parts[k].partition == part)
                    st->topics[i].parts[k].stored =
                        strtoll(PQgetvalue(res, r, 2), NULL, 10);
        }
    }
    json_object_set_new(sink, "positions_updated_at",
                        newest > 0 ? json_real(newest) : json_null());
    PQclear(res);
}

static void
read_parked(status_t *st, PGconn *tgt, json_t *sink)
{
    char sql[1024], tbl[300];
    ferry_err_t err = {0, ""};
    PGresult *res = NULL;
    json_t *arr = json_array();

    json_object_set_new(sink, "parked", arr);
    if (!qualified(tgt, st->cfg->state_schema, "parked", tbl, sizeof(tbl)))
        return;
    /* kind and waits_for came with later sinks: read through to_jsonb so
     * that an older state schema reads too. */
    snprintf(sql, sizeof(sql),
             "SELECT entity, coalesce(to_jsonb(p)->>'kind', 'event'), "
             "coalesce(to_jsonb(p)->>'waits_for', 'parent'), missing_entity, "
             "count(*), extract(epoch FROM min(parked_at))::float8 "
             "FROM %s p GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
             tbl);
    if (query(tgt, sql, NULL, &res, "read the parked rows", &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        return;
    }
    for (int r = 0; r < PQntuples(res); r++)
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:I,s:f}", "entity",
                           PQgetvalue(res, r, 0), "kind", PQgetvalue(res, r, 1),
                           "waits_for", PQgetvalue(res, r, 2), "missing_entity",
                           PQgetvalue(res, r, 3), "rows",
                           (json_int_t)strtoll(PQgetvalue(res, r, 4), NULL, 10),
                           "oldest", atof(PQgetvalue(res, r, 5))));
    PQclear(res);
}

static void
read_errors(status_t *st, PGconn *tgt, json_t *sink)
{
    char sql[512], tbl[300];
    ferry_err_t err = {0, ""};
    PGresult *res = NULL;
    json_t *arr = json_array();
    long long total = 0;

    json_object_set_new(sink, "errors", arr);
    if (!qualified(tgt, st->cfg->state_schema, "errors", tbl, sizeof(tbl)))
        return;
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(entity, ''), count(*), "
             "extract(epoch FROM max(at))::float8 FROM %s GROUP BY 1 "
             "ORDER BY 1",
             tbl);
    if (query(tgt, sql, NULL, &res, "read the errors", &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        return;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        long long n = strtoll(PQgetvalue(res, r, 1), NULL, 10);

        total += n;
        json_array_append_new(arr, json_pack("{s:s?,s:I,s:f}", "entity",
                                             PQgetvalue(res, r, 0)[0] != '\0'
                                                 ? PQgetvalue(res, r, 0)
                                                 : NULL,
                                             "rows", (json_int_t)n, "newest",
                                             atof(PQgetvalue(res, r, 2))));
    }
    PQclear(res);
    if (st->lim.errors_warn > 0 && total >= st->lim.errors_warn)
        problem(st, LVL_WARN,
                "%lld row(s) could not be applied and are recorded in %s "
                "(ferry-map validate lists them; docs/sink.md, Bad data)",
                total, tbl);
}

static void
read_bulk(status_t *st, PGconn *tgt, json_t *sink)
{
    char sql[768], bulk[300], snap[300];
    ferry_err_t err = {0, ""};
    PGresult *res = NULL;

    if (!qualified(tgt, st->cfg->state_schema, "bulk", bulk, sizeof(bulk)) ||
        !qualified(tgt, st->cfg->state_schema, "snapshot_applied", snap,
                   sizeof(snap)))
        return;
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(to_jsonb(b)->>'kind', 'rebuild'), b.done, "
             "coalesce((to_jsonb(b)->>'sweep')::bool, false) FROM %s b",
             bulk);
    if (query(tgt, sql, NULL, &res, "read the bulk load", &err) == 0 &&
        PQntuples(res) == 1) {
        bool done = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
        bool sweep = strcmp(PQgetvalue(res, 0, 2), "t") == 0;

        json_object_set_new(sink, "bulk_load",
                            json_pack("{s:s,s:b,s:b}", "kind",
                                      PQgetvalue(res, 0, 0), "done", done,
                                      "sweeping", sweep));
    } else {
        json_object_set_new(sink, "bulk_load", json_null());
    }
    PQclear(res);
    res = NULL;
    snprintf(sql, sizeof(sql),
             "SELECT lsn, extract(epoch FROM applied_at)::float8 FROM %s "
             "WHERE slot = $1",
             snap);
    if (query(tgt, sql, st->cfg->source_slot, &res, "read the snapshots",
              &err) == 0 &&
        PQntuples(res) == 1)
        json_object_set_new(
            sink, "snapshot_applied",
            json_pack("{s:o,s:f}", "lsn",
                      lsn_json(strtoull(PQgetvalue(res, 0, 0), NULL, 10)), "at",
                      atof(PQgetvalue(res, 0, 1))));
    else
        json_object_set_new(sink, "snapshot_applied", json_null());
    PQclear(res);
}

static void
read_target(status_t *st)
{
    const map_config_t *cfg = st->cfg;
    char msg[1024];
    ferry_err_t err = {0, ""};
    PGconn *tgt = tool_connect(cfg->target_dsn, "target", msg, sizeof(msg));
    json_t *sink = json_object();
    PGresult *res = NULL;

    json_object_set_new(st->doc, "sink", sink);
    json_object_set_new(sink, "state_schema", json_string(cfg->state_schema));
    if (tgt == NULL) {
        json_object_set_new(sink, "reachable", json_false());
        problem(st, LVL_CRIT, "%s", msg);
        return;
    }
    json_object_set_new(sink, "reachable", json_true());
    if (query(tgt, MAP_STATE_LOCK_HOLDERS_SQL, cfg->state_schema, &res,
              "look for a running ferry-sink", &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        PQfinish(tgt);
        return;
    }
    st->sink_running = atoi(PQgetvalue(res, 0, 0)) > 0;
    json_object_set_new(sink, "running", json_boolean(st->sink_running));
    json_object_set_new(sink, "processes",
                        json_integer(atoi(PQgetvalue(res, 0, 0))));
    json_object_set_new(sink, "mode",
                        !st->sink_running ? json_null()
                        : strcmp(PQgetvalue(res, 0, 1), "t") == 0
                            ? json_string("ordered")
                            : json_string("scale-out"));
    PQclear(res);
    res = NULL;
    if (query(tgt,
              "SELECT to_regclass(quote_ident($1) || '.offsets') IS NOT NULL",
              cfg->state_schema, &res, "look for the state schema",
              &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        PQfinish(tgt);
        return;
    }
    bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

    PQclear(res);
    json_object_set_new(sink, "state_exists", json_boolean(exists));
    if (!exists) {
        problem(st, LVL_WARN,
                "the target has no state schema \"%s\": ferry-sink has not "
                "run yet",
                cfg->state_schema);
        PQfinish(tgt);
        return;
    }
    read_positions(st, tgt, sink);
    read_parked(st, tgt, sink);
    read_errors(st, tgt, sink);
    read_bulk(st, tgt, sink);
    PQfinish(tgt);
}

/* --- the snapshot records --------------------------------------------------
 */

typedef struct snapread {
    const char *slot;
    json_t *last;   /* owned: the slot's last record */
    json_t *tables; /* owned: "schema.table" -> its last record */
} snapread_t;

static void
on_snaprec(void *arg, const void *value, size_t len)
{
    snapread_t *sr = arg;
    ferry_wire_snaprec_t rec;
    ferry_err_t err = {0, ""};
    char name[512];
    json_t *o;

    if (ferry_wire_snaprec_decode(value, len, &rec, &err) != 0)
        return;
    if (strcmp(rec.slot, sr->slot) != 0) {
        ferry_wire_snaprec_clear(&rec);
        return;
    }
    o = json_pack("{s:s,s:o,s:f}", "status",
                  rec.status == FERRY_WIRE_SNAP_STARTED    ? "started"
                  : rec.status == FERRY_WIRE_SNAP_COMPLETE ? "complete"
                  : rec.status == FERRY_WIRE_SNAP_TABLE_STARTED
                      ? "table_started"
                      : "table_complete",
                  "lsn", lsn_json(rec.lsn), "at", (double)rec.ts_ms / 1000.0);
    if (ferry_wire_snap_is_table(rec.status)) {
        snprintf(name, sizeof(name), "%s.%s", rec.schema, rec.table);
        json_object_set_new(sr->tables, name, o);
    } else {
        json_decref(sr->last);
        sr->last = o;
    }
    ferry_wire_snaprec_clear(&rec);
}

static void
read_snapshot(status_t *st, rd_kafka_t *rk)
{
    status_topic_t *t = NULL;
    snapread_t sr = {st->cfg->source_slot, NULL, json_object()};
    ferry_err_t err = {0, ""};
    json_t *snap = json_object();

    for (size_t i = 0; i < st->n_topics; i++)
        if (strcmp(st->topics[i].kind, "snapshot") == 0)
            t = &st->topics[i];
    json_object_set_new(st->doc, "snapshot", snap);
    if (t == NULL || !t->exists || t->n_parts == 0) {
        json_object_set_new(snap, "cdc", json_null());
        json_decref(sr.tables);
        return;
    }
    if (status_kafka_read(rk, t->name, t->parts[0].low, t->parts[0].high,
                          st->lim.timeout_ms, on_snaprec, &sr, &err) != 0)
        problem(st, LVL_WARN, "%s", err.msg);
    json_object_set_new(snap, "cdc", sr.last != NULL ? sr.last : json_null());
    json_object_set_new(snap, "tables", sr.tables);
}

/* --- the verdict -----------------------------------------------------------
 */

static void
judge_lag(status_t *st)
{
    json_t *topics = json_array(), *sink = json_object_get(st->doc, "sink");
    int64_t now = ferry_wall_ms(), oldest = -1;
    long long backlog = 0;
    bool unknown = false;

    json_object_set_new(st->doc, "topics", topics);
    for (size_t i = 0; i < st->n_topics; i++) {
        status_topic_t *t = &st->topics[i];
        json_t *parts = json_array();
        long long lag = 0;

        for (size_t k = 0; k < t->n_parts; k++) {
            status_part_t *p = &t->parts[k];
            int64_t from = p->stored > p->low ? p->stored : p->low;
            long long l = p->high > from ? (long long)(p->high - from) : 0;

            lag += l;
            if (t->counts && l > 0 && p->wait_ts < 0)
                unknown = true;
            if (t->counts && l > 0 && p->wait_ts >= 0 &&
                (oldest < 0 || p->wait_ts < oldest))
                oldest = p->wait_ts;
            json_array_append_new(
                parts, json_pack("{s:i,s:I,s:I,s:o,s:I}", "partition",
                                 (int)p->partition, "low", (json_int_t)p->low,
                                 "end", (json_int_t)p->high, "stored",
                                 p->stored >= 0 ? json_integer(p->stored)
                                                : json_null(),
                                 "lag", (json_int_t)l));
        }
        if (t->counts)
            backlog += lag;
        json_array_append_new(
            topics, json_pack("{s:s,s:s,s:b,s:I,s:o}", "topic", t->name, "kind",
                              t->kind, "exists", t->exists, "lag",
                              (json_int_t)lag, "partitions", parts));
        if (!t->exists && strcmp(t->kind, "snapshot") != 0)
            problem(st, LVL_WARN,
                    "topic \"%s\" does not exist yet: ferry-sink waits for it "
                    "(ferry-cdc creates it at start with kafka.topics.create, "
                    "or the brokers on first use)",
                    t->name);
    }
    json_object_set_new(st->doc, "backlog_messages", json_integer(backlog));
    double lag_s =
        oldest >= 0 && now > oldest ? (double)(now - oldest) / 1000.0 : 0;

    json_object_set_new(
        st->doc, "lag_seconds",
        backlog > 0 && oldest < 0 && unknown ? json_null() : json_real(lag_s));
    if (backlog > 0 && sink != NULL &&
        json_is_true(json_object_get(sink, "reachable")) && !st->sink_running)
        problem(st, lag_s >= st->lim.lag_crit ? LVL_CRIT : LVL_WARN,
                "no ferry-sink is running, and %lld message(s) wait (%.1f s "
                "behind)",
                backlog, lag_s);
    else if (lag_s >= st->lim.lag_crit)
        problem(st, LVL_CRIT,
                "the target is %.1f s behind the source (over %.0f s; %lld "
                "message(s) wait)",
                lag_s, st->lim.lag_crit, backlog);
    else if (lag_s >= st->lim.lag_warn)
        problem(st, LVL_WARN,
                "the target is %.1f s behind the source (over %.0f s; %lld "
                "message(s) wait)",
                lag_s, st->lim.lag_warn, backlog);
}

static void
read_kafka(status_t *st)
{
    ferry_err_t err = {0, ""};
    rd_kafka_t *rk = status_kafka_open(st->cfg, &err);

    if (rk == NULL) {
        problem(st, LVL_CRIT, "%s", err.msg);
        return;
    }
    if (status_kafka_topics(rk, st->topics, st->n_topics, st->lim.timeout_ms,
                            &err) != 0) {
        problem(st, LVL_CRIT, "%s", err.msg);
        json_object_set_new(st->doc, "kafka_reachable", json_false());
        rd_kafka_destroy(rk);
        return;
    }
    json_object_set_new(st->doc, "kafka_reachable", json_true());
    read_target(st);
    if (status_kafka_wait_times(rk, st->topics, st->n_topics,
                                st->lim.timeout_ms, &err) != 0)
        problem(st, LVL_WARN, "%s", err.msg);
    read_snapshot(st, rk);
    rd_kafka_destroy(rk);
}

/* --- output ------------------------------------------------------------------
 */

static const char *
num_text(json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, len, "-");
    return buf;
}

static void
print_text(status_t *st)
{
    static const char *const names[] = {"HEALTHY", "WARNING", "CRITICAL"};
    json_t *slot = json_object_get(st->doc, "slot");
    json_t *sink = json_object_get(st->doc, "sink");
    json_t *lag = json_object_get(st->doc, "lag_seconds");
    json_t *snap = json_object_get(st->doc, "snapshot");
    json_t *v;
    char a[32], b[32];
    size_t i;

    printf("ferry pipeline %s: %s\n", st->cfg->path, names[st->level]);
    if (json_is_true(json_object_get(slot, "exists"))) {
        json_t *safe = json_object_get(slot, "safe_wal_size_bytes");

        printf("  slot %s: %s, confirmed %s, lag %s, retained %s, "
               "wal_status %s, safe_wal_size %s\n",
               st->cfg->source_slot,
               json_is_true(json_object_get(slot, "active")) ? "active"
                                                             : "inactive",
               json_is_string(v = json_object_get(slot, "confirmed_flush_lsn"))
                   ? json_string_value(v)
                   : "-",
               size_text((double)json_integer_value(
                             json_object_get(slot, "lag_bytes")),
                         a, 32),
               size_text((double)json_integer_value(
                             json_object_get(slot, "retained_bytes")),
                         b, 32),
               json_string_value(json_object_get(slot, "wal_status")),
               json_is_integer(safe)
                   ? size_text((double)json_integer_value(safe), a, 32)
                   : "unlimited");
    }
    if (json_is_true(json_object_get(sink, "reachable")))
        printf(
            "  sink: %s%s%s\n", st->sink_running ? "running (" : "not running",
            st->sink_running ? json_string_value(json_object_get(sink, "mode"))
                             : "",
            st->sink_running ? ")" : "");
    if (json_is_real(lag))
        printf(
            "  behind the source: %.1f s (%" JSON_INTEGER_FORMAT
            " message(s) wait)\n",
            json_real_value(lag),
            json_integer_value(json_object_get(st->doc, "backlog_messages")));
    else if (json_is_null(lag))
        printf(
            "  behind the source: unknown (%" JSON_INTEGER_FORMAT
            " message(s) wait; their commit times could not be read)\n",
            json_integer_value(json_object_get(st->doc, "backlog_messages")));
    if ((v = json_object_get(st->doc, "topics")) != NULL &&
        json_array_size(v) > 0) {
        printf("  %-50s %10s %12s\n", "topic", "partitions", "lag");
        for (i = 0; i < json_array_size(v); i++) {
            json_t *t = json_array_get(v, i);
            json_t *parts = json_object_get(t, "partitions");
            char l[32];

            if (!json_is_true(json_object_get(t, "exists"))) {
                printf("  %-50s %10s\n",
                       json_string_value(json_object_get(t, "topic")),
                       "missing");
                continue;
            }
            printf("  %-50s %10zu %12s%s\n",
                   json_string_value(json_object_get(t, "topic")),
                   json_array_size(parts),
                   num_text(json_object_get(t, "lag"), l, sizeof(l)),
                   strcmp(json_string_value(json_object_get(t, "kind")),
                          "snapshot") == 0
                       ? " (records, not counted)"
                       : "");
            /* Only the partitions that are behind, with their offsets. */
            for (size_t k = 0; k < json_array_size(parts); k++) {
                json_t *p = json_array_get(parts, k);
                char e[32], s[32];

                if (json_integer_value(json_object_get(p, "lag")) == 0)
                    continue;
                printf("    partition %-6lld end %-12s stored %-12s lag %s\n",
                       (long long)json_integer_value(
                           json_object_get(p, "partition")),
                       num_text(json_object_get(p, "end"), e, sizeof(e)),
                       num_text(json_object_get(p, "stored"), s, sizeof(s)),
                       num_text(json_object_get(p, "lag"), l, sizeof(l)));
            }
        }
    }
    if ((v = json_object_get(sink, "parked")) != NULL &&
        json_array_size(v) > 0) {
        printf("  parked rows:\n");
        for (i = 0; i < json_array_size(v); i++) {
            json_t *p = json_array_get(v, i);

            printf("    %-24s %8" JSON_INTEGER_FORMAT " %s waiting for %s "
                   "(%s)\n",
                   json_string_value(json_object_get(p, "entity")),
                   json_integer_value(json_object_get(p, "rows")),
                   json_string_value(json_object_get(p, "kind")),
                   json_string_value(json_object_get(p, "missing_entity")),
                   json_string_value(json_object_get(p, "waits_for")));
        }
    }
    if ((v = json_object_get(sink, "errors")) != NULL &&
        json_array_size(v) > 0) {
        printf("  errors:\n");
        for (i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            json_t *ent = json_object_get(e, "entity");

            printf("    %-24s %8" JSON_INTEGER_FORMAT "\n",
                   json_is_string(ent) ? json_string_value(ent) : "(none)",
                   json_integer_value(json_object_get(e, "rows")));
        }
    }
    if ((v = json_object_get(snap, "cdc")) != NULL && json_is_object(v))
        printf("  snapshot: %s at %s%s\n",
               json_string_value(json_object_get(v, "status")),
               json_is_string(json_object_get(v, "lsn"))
                   ? json_string_value(json_object_get(v, "lsn"))
                   : "-",
               json_is_object(json_object_get(sink, "snapshot_applied"))
                   ? ", applied by the sink"
                   : "");
    if ((v = json_object_get(sink, "bulk_load")) != NULL && json_is_object(v) &&
        !json_is_true(json_object_get(v, "done")))
        printf("  the sink is loading (%s)%s\n",
               json_string_value(json_object_get(v, "kind")),
               json_is_true(json_object_get(v, "sweeping")) ? ", sweeping"
                                                            : "");
    v = st->problems;
    for (i = 0; i < json_array_size(v); i++) {
        json_t *p = json_array_get(v, i);

        printf("%s: %s\n",
               strcmp(json_string_value(json_object_get(p, "level")),
                      "critical") == 0
                   ? "CRITICAL"
                   : "WARNING",
               json_string_value(json_object_get(p, "message")));
    }
}

/* --- the command
 * --------------------------------------------------------------- */

static int
parse_seconds(const char *name, const char *arg, double *out)
{
    long v;

    if (ferry_cli_parse_long("ferry-map status", name, arg, 0, 100000000, &v) !=
        0)
        return -1;
    *out = (double)v;
    return 0;
}

int
tool_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"format", required_argument, NULL, 'f'},
        {"lag-warn", required_argument, NULL, 1},
        {"lag-critical", required_argument, NULL, 2},
        {"wal-warn", required_argument, NULL, 3},
        {"wal-critical", required_argument, NULL, 4},
        {"safe-wal-warn", required_argument, NULL, 5},
        {"safe-wal-critical", required_argument, NULL, 6},
        {"errors-warn", required_argument, NULL, 7},
        {"timeout", required_argument, NULL, 8},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = "ferry.yaml";
    status_t st;
    bool json = false;
    long v;
    int c;

    memset(&st, 0, sizeof(st));
    st.lim.lag_warn = 60;
    st.lim.lag_crit = 900;
    st.lim.wal_warn = 1LL << 30;
    st.lim.wal_crit = 16LL << 30;
    st.lim.safe_warn = 4LL << 30;
    st.lim.safe_crit = 1LL << 30;
    st.lim.errors_warn = 1;
    st.lim.timeout_ms = 10000;
    while ((c = getopt_long(argc, argv, "c:jf:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                fprintf(stderr,
                        "ferry-map status: invalid --format \"%s\": expected "
                        "text or json\n",
                        optarg);
                return tool_usage_error("status ");
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 1:
            if (parse_seconds("--lag-warn", optarg, &st.lim.lag_warn) != 0)
                return tool_usage_error("status ");
            break;
        case 2:
            if (parse_seconds("--lag-critical", optarg, &st.lim.lag_crit) != 0)
                return tool_usage_error("status ");
            break;
        case 3:
        case 4:
        case 5:
        case 6: {
            static const char *const names[] = {"--wal-warn", "--wal-critical",
                                                "--safe-wal-warn",
                                                "--safe-wal-critical"};
            long long *dst[] = {&st.lim.wal_warn, &st.lim.wal_crit,
                                &st.lim.safe_warn, &st.lim.safe_crit};

            if (ferry_cli_parse_size("ferry-map status", names[c - 3], optarg,
                                     dst[c - 3]) != 0)
                return tool_usage_error("status ");
            break;
        }
        case 7:
            if (ferry_cli_parse_long("ferry-map status", "--errors-warn",
                                     optarg, 0, 1000000000, &v) != 0)
                return tool_usage_error("status ");
            st.lim.errors_warn = v;
            break;
        case 8:
            if (ferry_cli_parse_long("ferry-map status", "--timeout", optarg, 1,
                                     3600, &v) != 0)
                return tool_usage_error("status ");
            st.lim.timeout_ms = (int)v * 1000;
            break;
        case 'h':
            status_usage(stdout);
            return TOOL_EXIT_OK;
        default:
            return tool_usage_error("status ");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry-map status: unexpected argument \"%s\"\n",
                argv[optind]);
        return tool_usage_error("status ");
    }
    if (st.lim.lag_crit < st.lim.lag_warn ||
        st.lim.wal_crit < st.lim.wal_warn ||
        st.lim.safe_crit > st.lim.safe_warn) {
        fprintf(stderr, "ferry-map status: a critical threshold is below its "
                        "warning one\n");
        return tool_usage_error("status ");
    }
    if ((st.cfg = tool_load_config(path)) == NULL)
        return TOOL_EXIT_USAGE;
    st.doc = json_object();
    st.problems = json_array();
    if (st.doc == NULL || st.problems == NULL || list_topics(&st) != 0) {
        fprintf(stderr, "ferry-map status: out of memory\n");
        return TOOL_EXIT_PROBLEMS;
    }
    json_object_set_new(st.doc, "config", json_string(path));
    json_object_set_new(st.doc, "at",
                        json_real((double)ferry_wall_ms() / 1000.0));
    read_source(&st);
    read_kafka(&st);
    if (json_object_get(st.doc, "sink") == NULL)
        read_target(&st);
    if (json_is_true(json_object_get(st.doc, "kafka_reachable")))
        judge_lag(&st);
    json_object_set_new(st.doc, "status",
                        json_string(st.level == LVL_OK     ? "healthy"
                                    : st.level == LVL_WARN ? "warning"
                                                           : "critical"));
    json_object_set_new(st.doc, "exit", json_integer(st.level));
    json_object_set(st.doc, "problems", st.problems);
    if (json) {
        json_dumpf(st.doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        print_text(&st);
    }
    fflush(stdout);
    for (size_t i = 0; i < st.n_topics; i++) {
        free(st.topics[i].name);
        free(st.topics[i].parts);
    }
    free(st.topics);
    json_decref(st.problems);
    json_decref(st.doc);
    map_config_free((map_config_t *)st.cfg);
    return st.level;
}
