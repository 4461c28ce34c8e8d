/* ferry-sink's state schema: creation, checks, and the positions.
 * sink/sink_state.c */
#include "sink_state.h"

#include "ferry_buf.h"
#include "ferry_log.h"
#include "map_idmap.h"
#include "map_state.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink_state {
    const map_config_t *cfg;       /* borrowed */
    sink_target_t *t;              /* borrowed */
    bool shared;                   /* scale-out */
    char *q;                       /* owned: the quoted state schema */
    ferry_buf_t sql;               /* scratch for statements built per call
                                      (each push copies it) */
    bool *conflict;                /* borrowed: where the session's lock says
                                      another sink holds it */
    long fence_expected;           /* the fenced store's partitions */
    bool *fenced;                  /* borrowed: where a fenced store says so */
    const char *group;             /* borrowed: the group, for its message */
    int64_t *found;                /* borrowed: group_read's results */
    size_t found_n;                /* their number */
    const sink_consumer_t *bulk_c; /* borrowed: bulk_read's consumer */
    int64_t *bulk_end;             /* borrowed: bulk_read's end offsets */
};

sink_state_t *
sink_state_new(const map_config_t *cfg, sink_target_t *t, bool shared,
               ferry_err_t *err)
{
    sink_state_t *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory setting up state schema \"%s\"",
                      cfg->state_schema);
        return NULL;
    }
    s->cfg = cfg;
    s->t = t;
    s->shared = shared;
    ferry_buf_init(&s->sql);
    return s;
}

/* Quotes the schema's name, once: libpq needs a connection for that. */
static int
quote(sink_state_t *s, ferry_err_t *err)
{
    PGconn *conn = sink_target_conn(s->t);
    char *q;

    if (s->q != NULL)
        return 0;
    q = conn != NULL ? PQescapeIdentifier(conn, s->cfg->state_schema,
                                          strlen(s->cfg->state_schema))
                     : NULL;
    s->q = q != NULL ? strdup(q) : NULL;
    PQfreemem(q);
    if (s->q == NULL)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory quoting state schema \"%s\"",
                             s->cfg->state_schema);
    return 0;
}

void
sink_state_free(sink_state_t *s)
{
    if (s == NULL)
        return;
    free(s->q);
    ferry_buf_close(&s->sql);
    free(s);
}

const char *
sink_state_quoted(const sink_state_t *s)
{
    return s->q;
}

/* The scratch buffer, emptied, with fmt appended; NULL (and err set) when
 * out of memory. */
static const char *build(sink_state_t *s, ferry_err_t *err, const char *fmt,
                         ...) FERRY_PRINTF(3, 4);

static const char *
build(sink_state_t *s, ferry_err_t *err, const char *fmt, ...)
{
    va_list ap;

    ferry_buf_reset(&s->sql);
    va_start(ap, fmt);
    ferry_buf_vprintf(&s->sql, fmt, ap);
    va_end(ap);
    if (s->sql.failed) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory building a statement on state schema "
                      "\"%s\"",
                      s->cfg->state_schema);
        return NULL;
    }
    return ferry_buf_cstr(&s->sql);
}

static int
push(sink_state_t *s, const char *what, const char *sql, int n,
     const char *const *params, sink_stmt_fn done, void *arg, ferry_err_t *err)
{
    if (sql == NULL)
        return err->status;
    return sink_target_push(s->t,
                            &(sink_stmt_t){.what = what,
                                           .sql = sql,
                                           .n = n,
                                           .params = params,
                                           .done = done,
                                           .arg = arg},
                            err);
}

/* --- the session -------------------------------------------------------- */

static int
locked(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
       ferry_err_t *err)
{
    sink_state_t *s = arg;

    (void)aux, (void)rc, (void)sqlstate;
    *s->conflict = strcmp(PQgetvalue(res, 0, 0), "t") != 0;
    if (!*s->conflict)
        return 0;
    /* Transient: a killed sink's session may take a moment to end. */
    return ferry_err_set(
        err, FERRY_ETRANSIENT,
        "another ferry-sink is running against state schema \"%s\" of the "
        "target%s; an ordered sink runs alone, sinks that share a target "
        "must all use --scale-out",
        s->cfg->state_schema, s->shared ? " in the ordered mode" : "");
}

int
sink_state_push_session(sink_state_t *s, bool *conflict, ferry_err_t *err)
{
    const char *p1[1] = {s->cfg->state_schema};
    int rc;

    *conflict = false;
    s->conflict = conflict;
    if ((rc = quote(s, err)) != 0)
        return rc;
    rc = push(s, "set the session", "SET synchronous_commit = on", 0, NULL,
              NULL, NULL, err);
    if (rc == 0)
        rc = sink_target_push(
            s->t,
            &(sink_stmt_t){
                .what = "lock the state schema",
                .sql = s->shared
                           ? "SELECT "
                             "pg_try_advisory_lock_shared(" MAP_STATE_LOCK_KEYS
                             ")"
                           : "SELECT pg_try_advisory_lock(" MAP_STATE_LOCK_KEYS
                             ")",
                .n = 1,
                .params = p1,
                .done = locked,
                .arg = s},
            err);
    return rc;
}

/* --- creation ----------------------------------------------------------- */

/* The state schema's DDL. */
static const char *
ddl(sink_state_t *s, ferry_err_t *err)
{
    const char *q = s->q;

    ferry_buf_reset(&s->sql);
    ferry_buf_printf(
        &s->sql,
        "CREATE SCHEMA IF NOT EXISTS %s;"
        "CREATE TABLE IF NOT EXISTS %s.offsets (topic text NOT NULL, "
        "partition int NOT NULL, next_offset bigint NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (topic, partition));"
        "CREATE TABLE IF NOT EXISTS %s.row_lsn (entity text COLLATE \"C\" "
        "NOT NULL, legacy_key text COLLATE \"C\" NOT NULL, commit_lsn "
        "bigint NOT NULL, change_lsn bigint NOT NULL, PRIMARY KEY "
        "(entity, legacy_key));"
        "CREATE TABLE IF NOT EXISTS %s.truncated (entity text PRIMARY "
        "KEY, commit_lsn bigint NOT NULL, change_lsn bigint NOT NULL);"
        "CREATE TABLE IF NOT EXISTS %s.applied_tx (commit_lsn bigint "
        "PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE IF NOT EXISTS %s.deferred (entity text NOT NULL, "
        "col text NOT NULL, row_uuid uuid NOT NULL, parent_uuid uuid NOT "
        "NULL, noted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY "
        "(entity, col, row_uuid));",
        q, q, q, q, q, q);
    ferry_buf_printf(
        &s->sql,
        "CREATE TABLE IF NOT EXISTS %s.parked (id bigserial PRIMARY KEY, "
        "entity text NOT NULL, legacy_key text NOT NULL, "
        "missing_entity text NOT NULL, missing_uuid uuid, "
        "commit_lsn bigint NOT NULL, change_lsn bigint NOT NULL, "
        "topic text, partition int, kafka_offset bigint, event_key text, "
        "event text NOT NULL, parked_at timestamptz NOT NULL DEFAULT "
        "now());"
        "ALTER TABLE %s.parked ADD COLUMN IF NOT EXISTS waits_for text "
        "NOT NULL DEFAULT 'parent', ADD COLUMN IF NOT EXISTS kind text NOT "
        "NULL DEFAULT 'event', ADD COLUMN IF NOT EXISTS blocked_by text, ADD "
        "COLUMN IF NOT EXISTS retries int NOT NULL DEFAULT 0, ADD COLUMN IF "
        "NOT EXISTS next_retry_at timestamptz;"
        "CREATE INDEX IF NOT EXISTS parked_missing ON %s.parked "
        "(missing_entity, missing_uuid);"
        "CREATE INDEX IF NOT EXISTS parked_key ON %s.parked "
        "(entity, legacy_key);"
        "CREATE TABLE IF NOT EXISTS %s.sink_mode (one bool PRIMARY KEY "
        "DEFAULT true CHECK (one), mode text NOT NULL, since timestamptz "
        "NOT NULL DEFAULT now());"
        "CREATE TABLE IF NOT EXISTS %s.errors (id bigserial PRIMARY KEY, "
        "at timestamptz NOT NULL DEFAULT now(), entity text, "
        "legacy_key text, topic text, partition int, kafka_offset bigint, "
        "sqlstate text, error text NOT NULL, event_key text, event text);",
        q, q, q, q, q, q);
    /* row_lsn's rows are updated at every change of their row: room on
     * each page keeps those updates HOT (no index insertion; about half
     * the cost).  Its keys compare bytewise (COLLATE "C"): a locale's
     * comparison costs every index probe, and the order is never seen
     * (equal keys stay equal; joins with default-collation text take
     * "C").  An older table is converted once (its index rebuilt).
     * row_lsn_max bounds each entity's positions (created from them where
     * they exist; sink_apply_int.h).  Then --rebuild's bulk load; created
     * last (complete() looks for all three). */
    ferry_buf_printf(
        &s->sql,
        "ALTER TABLE %s.row_lsn SET (fillfactor = 50), ALTER COLUMN "
        "entity TYPE text COLLATE \"C\", ALTER COLUMN legacy_key TYPE "
        "text COLLATE \"C\";"
        "CREATE TABLE IF NOT EXISTS %s.row_lsn_max (entity text PRIMARY "
        "KEY, commit_lsn bigint NOT NULL);"
        "INSERT INTO %s.row_lsn_max AS m SELECT entity, max(commit_lsn) "
        "FROM (SELECT entity, commit_lsn FROM %s.row_lsn UNION ALL SELECT "
        "entity, commit_lsn FROM %s.truncated) x GROUP BY entity ON "
        "CONFLICT (entity) DO UPDATE SET commit_lsn = "
        "greatest(m.commit_lsn, EXCLUDED.commit_lsn);"
        "CREATE TABLE IF NOT EXISTS %s.bulk (one bool PRIMARY KEY "
        "DEFAULT true CHECK (one), cut_lsn bigint NOT NULL DEFAULT 0, "
        "done bool NOT NULL DEFAULT false, started_at timestamptz NOT "
        "NULL DEFAULT now(), done_at timestamptz);"
        "CREATE TABLE IF NOT EXISTS %s.bulk_end (topic text NOT NULL, "
        "partition int NOT NULL, end_offset bigint NOT NULL, PRIMARY KEY "
        "(topic, partition));",
        q, q, q, q, q, q, q);
    /* The snapshot loads (a bulk load's kind), what the sweep after a
     * re-snapshot must not remove (keys recorded as errors), and the
     * snapshots applied; created last (complete() looks for them). */
    ferry_buf_printf(
        &s->sql,
        "ALTER TABLE %s.bulk ADD COLUMN IF NOT EXISTS kind text NOT NULL "
        "DEFAULT 'rebuild', ADD COLUMN IF NOT EXISTS snapshot_lsn bigint, "
        "ADD COLUMN IF NOT EXISTS snapshot_record bigint, ADD COLUMN IF NOT "
        "EXISTS sweep bool NOT NULL DEFAULT false;"
        "CREATE INDEX IF NOT EXISTS errors_key ON %s.errors (entity, "
        "legacy_key);"
        "CREATE TABLE IF NOT EXISTS %s.snapshot_applied (slot text PRIMARY "
        "KEY, lsn bigint NOT NULL, record_offset bigint NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now());",
        q, q, q);
    if (s->sql.failed) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory building the DDL of state schema \"%s\"",
                      s->cfg->state_schema);
        return NULL;
    }
    return ferry_buf_cstr(&s->sql);
}

/* The schema is complete: its DDL (ALTER TABLE, CREATE INDEX IF NOT
 * EXISTS) would lock tables that other scale-out sinks are writing, so a
 * sink joining them would wait for their transactions. */
static int
inspected(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
          ferry_err_t *err)
{
    sink_state_t *s = arg;

    (void)aux, (void)rc, (void)sqlstate;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        return 0;
    return push(s, "create the state tables", ddl(s, err), 0, NULL, NULL, NULL,
                err);
}

int
sink_state_push_init(sink_state_t *s, ferry_err_t *err)
{
    const char *p1[1] = {s->q};

    return push(
        s, "inspect the state schema",
        "SELECT to_regclass($1 || '.snapshot_applied') IS NOT NULL AND "
        "to_regclass($1 || '.errors_key') IS NOT NULL AND "
        "to_regclass($1 || '.bulk_end') IS NOT NULL AND "
        "to_regclass($1 || '.row_lsn_max') IS NOT NULL AND EXISTS (SELECT 1 "
        "FROM pg_attribute WHERE attrelid = to_regclass($1 || '.parked') AND "
        "attname = 'next_retry_at' AND NOT attisdropped) AND coalesce((SELECT "
        "reloptions FROM pg_class WHERE oid = to_regclass($1 || '.row_lsn')) "
        "@> '{fillfactor=50}', false) AND EXISTS (SELECT 1 FROM pg_attribute "
        "a JOIN pg_collation c ON c.oid = a.attcollation WHERE a.attrelid = "
        "to_regclass($1 || '.row_lsn') AND a.attname = 'legacy_key' AND "
        "c.collname = 'C')",
        1, p1, inspected, s, err);
}

/* --- the mode ----------------------------------------------------------- */

/* The ordered mode cannot resume after scale-out sinks: they applied
 * source transactions piecewise and never read the transaction topic, so
 * its stored offset is far behind the entity topics' and the transactions
 * read again there would never complete. */
static int
got_mode(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_state_t *s = arg;
    bool was_shared =
        PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "scale-out") == 0;

    (void)aux, (void)rc, (void)sqlstate;
    if (was_shared && !s->shared)
        return ferry_err_set(
            err, FERRY_ECONFIG,
            "the sinks that last ran against state schema \"%s\" used "
            "--scale-out; the ordered mode cannot resume after them (they "
            "applied source transactions piecewise and did not read the "
            "transaction topic): go on with --scale-out, or rebuild the "
            "target with --rebuild",
            s->cfg->state_schema);
    if (!s->shared || was_shared)
        return 0;
    return push(s, "record the sink mode",
                build(s, err,
                      "INSERT INTO %s.sink_mode (mode) VALUES ('scale-out') "
                      "ON CONFLICT (one) DO UPDATE SET mode = 'scale-out', "
                      "since = now()",
                      s->q),
                0, NULL, NULL, NULL, err);
}

int
sink_state_push_mode(sink_state_t *s, ferry_err_t *err)
{
    return push(s, "read the sink mode",
                build(s, err, "SELECT mode FROM %s.sink_mode", s->q), 0, NULL,
                got_mode, s, err);
}

/* --- --rebuild's reset -------------------------------------------------- */

static int
checked_empty(void *arg, size_t aux, PGresult *res, int rc,
              const char *sqlstate, ferry_err_t *err)
{
    sink_state_t *s = arg;
    const map_entity_t *e = &s->cfg->entities[aux];

    (void)rc, (void)sqlstate;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        return 0;
    return ferry_err_set(err, FERRY_ECONFIG,
                         "cannot rebuild: target table \"%s.%s\" of entity "
                         "\"%s\" is not empty",
                         e->target_schema, e->target_table, e->name);
}

static int
reset_done(void *arg, size_t aux, ferry_err_t *err)
{
    (void)arg, (void)aux, (void)err;
    ferry_info("rebuild: state reset; replaying every topic from the "
               "beginning");
    return 0;
}

int
sink_state_push_rebuild_reset(sink_state_t *s, ferry_err_t *err)
{
    PGconn *conn = sink_target_conn(s->t);
    const char *q = s->q;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < s->cfg->n_entities; i++) {
        const map_entity_t *e = &s->cfg->entities[i];
        char *qs = PQescapeIdentifier(conn, e->target_schema,
                                      strlen(e->target_schema));
        char *qt =
            PQescapeIdentifier(conn, e->target_table, strlen(e->target_table));

        if (qs == NULL || qt == NULL)
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory quoting the table of entity "
                               "\"%s\"",
                               e->name);
        else
            rc = sink_target_push(
                s->t,
                &(sink_stmt_t){.what = "check the target table",
                               .sql = build(s, err,
                                            "SELECT EXISTS (SELECT 1 FROM "
                                            "%s.%s)",
                                            qs, qt),
                               .done = checked_empty,
                               .arg = s,
                               .aux = i},
                err);
        PQfreemem(qs);
        PQfreemem(qt);
    }
    if (rc == 0)
        rc = push(s, "reset the state for a rebuild",
                  build(s, err,
                        "BEGIN; TRUNCATE %s.offsets, %s.row_lsn, "
                        "%s.row_lsn_max, %s.truncated, %s.applied_tx, "
                        "%s.parked, %s.errors, %s.deferred, %s.sink_mode, "
                        "%s.bulk, %s.bulk_end; DELETE FROM %s.id_map WHERE "
                        "source = 'v5'; COMMIT",
                        q, q, q, q, q, q, q, q, q, q, q, q),
                  0, NULL, NULL, NULL, err);
    return rc != 0 ? rc : sink_target_push_call(s->t, reset_done, s, 0, err);
}

/* --- what a sink reads at start ----------------------------------------- */

static int
got_offsets(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
            ferry_err_t *err)
{
    sink_state_start_t *out = arg;
    int i;

    (void)aux, (void)rc, (void)sqlstate;
    out->has_offsets = PQntuples(res) > 0;
    for (i = 0; i < PQntuples(res); i++) {
        int64_t *o = malloc(sizeof(*o));

        if (o == NULL || sink_map_put(out->offsets, PQgetvalue(res, i, 0), o)) {
            free(o);
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory reading %d stored offsets",
                                 PQntuples(res));
        }
        *o = atoll(PQgetvalue(res, i, 1));
    }
    return 0;
}

static int
got_applied(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
            ferry_err_t *err)
{
    sink_state_start_t *out = arg;
    int i;

    (void)aux, (void)rc, (void)sqlstate;
    for (i = 0; i < PQntuples(res); i++)
        if (sink_lsnset_add(out->applied,
                            strtoull(PQgetvalue(res, i, 0), NULL, 10)) != 0)
            return ferry_err_set(err, FERRY_ENOMEM,
                                 "out of memory reading %d applied "
                                 "transactions",
                                 PQntuples(res));
    return 0;
}

static int
got_count(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
          ferry_err_t *err)
{
    sink_state_start_t *out = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    out->parked = atol(PQgetvalue(res, 0, 0));
    return 0;
}

static int
got_unfinished(void *arg, size_t aux, PGresult *res, int rc,
               const char *sqlstate, ferry_err_t *err)
{
    sink_state_start_t *out = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    out->bulk_unfinished =
        PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    return 0;
}

static int
got_snap_applied(void *arg, size_t aux, PGresult *res, int rc,
                 const char *sqlstate, ferry_err_t *err)
{
    sink_state_start_t *out = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    out->snap_applied = PQntuples(res) == 1;
    if (out->snap_applied) {
        out->snap_lsn = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        out->snap_record = atoll(PQgetvalue(res, 0, 1));
    }
    return 0;
}

int
sink_state_push_load(sink_state_t *s, sink_state_start_t *out, ferry_err_t *err)
{
    int rc;

    rc = push(s, "read the stored offsets",
              build(s, err,
                    "SELECT topic || chr(31) || partition, next_offset FROM "
                    "%s.offsets",
                    s->q),
              0, NULL, got_offsets, out, err);
    if (rc == 0)
        rc = push(s, "read the applied transactions",
                  build(s, err,
                        "SELECT commit_lsn FROM %s.applied_tx ORDER BY "
                        "commit_lsn DESC LIMIT %zu",
                        s->q, out->applied->limit),
                  0, NULL, got_applied, out, err);
    if (rc == 0)
        rc = push(s, "count parked rows",
                  build(s, err, "SELECT count(*) FROM %s.parked", s->q), 0,
                  NULL, got_count, out, err);
    if (rc == 0)
        rc = push(s, "read the bulk load state",
                  build(s, err, "SELECT NOT done FROM %s.bulk", s->q), 0, NULL,
                  got_unfinished, out, err);
    if (rc == 0) {
        const char *p1[1] = {s->cfg->source_slot};

        rc = push(s, "read the applied snapshot",
                  build(s, err,
                        "SELECT lsn, record_offset FROM %s.snapshot_applied "
                        "WHERE slot = $1",
                        s->q),
                  1, p1, got_snap_applied, out, err);
    }
    return rc;
}

/* --- positions ---------------------------------------------------------- */

/* Appends the array literal {"a","b",...} of the n items to b. */
static void
text_array(ferry_buf_t *b, size_t n,
           const char *(*item)(const void *, size_t, char *), const void *arg)
{
    char tmp[64];
    size_t i;

    ferry_buf_putc(b, '{');
    for (i = 0; i < n; i++) {
        if (i > 0)
            ferry_buf_putc(b, ',');
        ferry_buf_putc(b, '"');
        ferry_buf_append_str(b, item(arg, i, tmp));
        ferry_buf_putc(b, '"');
    }
    ferry_buf_putc(b, '}');
}

/* The slots' topics, partitions and offsets as array items; for the slot
 * arrays, arg is a slot_items_t. */
typedef struct slot_items {
    const sink_consumer_t *c; /* borrowed */
    const size_t *idx;        /* borrowed: the slots, or NULL: all */
    const int64_t *off;       /* borrowed: by slot */
} slot_items_t;

static size_t
slot_at(const slot_items_t *s, size_t i)
{
    return s->idx != NULL ? s->idx[i] : i;
}

static const char *
item_topic(const void *arg, size_t i, char *tmp)
{
    const slot_items_t *s = arg;

    (void)tmp;
    return s->c->slots[slot_at(s, i)].topic;
}

static const char *
item_part(const void *arg, size_t i, char *tmp)
{
    const slot_items_t *s = arg;

    snprintf(tmp, 64, "%d", (int)s->c->slots[slot_at(s, i)].partition);
    return tmp;
}

static const char *
item_off(const void *arg, size_t i, char *tmp)
{
    const slot_items_t *s = arg;

    snprintf(tmp, 64, "%" PRId64, s->off[slot_at(s, i)]);
    return tmp;
}

static const char *
item_lsn(const void *arg, size_t i, char *tmp)
{
    snprintf(tmp, 64, "%" PRIu64, ((const uint64_t *)arg)[i]);
    return tmp;
}

/* Pushes sql with the arrays a[0..n) as its parameters, then frees them. */
static int
push_arrays(sink_state_t *s, const char *what, const char *sql, ferry_buf_t *a,
            int n, sink_stmt_fn done, void *arg, size_t aux, ferry_err_t *err)
{
    const char *params[4];
    int i, rc = 0;

    for (i = 0; i < n; i++) {
        if (a[i].failed)
            rc = ferry_err_set(err, FERRY_ENOMEM,
                               "out of memory building the parameters to %s",
                               what);
        params[i] = ferry_buf_cstr(&a[i]);
    }
    if (rc == 0 && sql == NULL)
        rc = err->status;
    if (rc == 0)
        rc = sink_target_push(s->t,
                              &(sink_stmt_t){.what = what,
                                             .sql = sql,
                                             .n = n,
                                             .params = params,
                                             .done = done,
                                             .arg = arg,
                                             .aux = aux},
                              err);
    for (i = 0; i < n; i++)
        ferry_buf_close(&a[i]);
    return rc;
}

int
sink_state_push_offsets(sink_state_t *s, const sink_consumer_t *c,
                        const int64_t *min_offset, ferry_err_t *err)
{
    slot_items_t it = {c, NULL, min_offset};
    ferry_buf_t a[3];

    ferry_buf_init(&a[0]);
    ferry_buf_init(&a[1]);
    ferry_buf_init(&a[2]);
    text_array(&a[0], c->n_slots, item_topic, &it);
    text_array(&a[1], c->n_slots, item_part, &it);
    text_array(&a[2], c->n_slots, item_off, &it);
    return push_arrays(
        s, "store the Kafka offsets",
        build(s, err,
              "INSERT INTO %s.offsets AS o (topic, partition, next_offset) "
              "SELECT * FROM unnest($1::text[], $2::int[], $3::int8[]) ON "
              "CONFLICT (topic, partition) DO UPDATE SET next_offset = "
              "EXCLUDED.next_offset, updated_at = now() WHERE o.next_offset "
              "<> EXCLUDED.next_offset",
              s->q),
        a, 3, NULL, NULL, 0, err);
}

int
sink_state_push_applied(sink_state_t *s, const uint64_t *lsns, size_t n,
                        uint64_t floor, ferry_err_t *err)
{
    ferry_buf_t a[1];
    char num[24];
    const char *p1[1] = {num};
    int rc;

    ferry_buf_init(&a[0]);
    text_array(&a[0], n, item_lsn, lsns);
    rc = push_arrays(s, "record applied transactions",
                     build(s, err,
                           "INSERT INTO %s.applied_tx (commit_lsn) SELECT "
                           "DISTINCT c FROM unnest($1::int8[]) c WHERE c <> 0 "
                           "ON CONFLICT DO NOTHING",
                           s->q),
                     a, 1, NULL, NULL, 0, err);
    /* Keeps applied_tx as small as the window: rows below its floor are
     * forgotten (they count as applied anyway, sink_lsnset.h). */
    if (rc != 0 || floor == 0)
        return rc;
    snprintf(num, sizeof(num), "%" PRIu64, floor);
    return push(
        s, "forget old applied transactions",
        build(s, err, "DELETE FROM %s.applied_tx WHERE commit_lsn < $1", s->q),
        1, p1, NULL, NULL, err);
}

/* --- scale-out positions ------------------------------------------------ */

/* The fenced store moved fence_expected rows, or another member of the
 * group moved one of them first. */
static int
fence_checked(void *arg, size_t aux, PGresult *res, int rc,
              const char *sqlstate, ferry_err_t *err)
{
    sink_state_t *s = arg;
    long moved = atol(PQcmdTuples(res));

    (void)aux, (void)rc, (void)sqlstate;
    if (moved == s->fence_expected)
        return 0;
    *s->fenced = true;
    return ferry_err_set(err, FERRY_EFATAL,
                         "the stored offsets of %ld of %ld partitions moved "
                         "under this sink (another member of group \"%s\" "
                         "applied them)",
                         s->fence_expected - moved, s->fence_expected,
                         s->group);
}

int
sink_state_push_group_offsets(sink_state_t *s, const sink_consumer_t *c,
                              const size_t *idx, const int64_t *from,
                              const int64_t *to, size_t n, const char *group,
                              bool *fenced, ferry_err_t *err)
{
    ferry_buf_t a[4];
    size_t i;

    *fenced = false;
    if (n == 0)
        return 0;
    for (i = 0; i < 4; i++) {
        ferry_buf_init(&a[i]);
        ferry_buf_putc(&a[i], '{');
    }
    for (i = 0; i < n; i++) {
        const sink_slot_t *sl = &c->slots[idx[i]];
        const char *sep = i > 0 ? "," : "";

        ferry_buf_printf(&a[0], "%s\"%s\"", sep, sl->topic);
        ferry_buf_printf(&a[1], "%s%d", sep, (int)sl->partition);
        ferry_buf_printf(&a[2], "%s%" PRId64, sep, from[i]);
        ferry_buf_printf(&a[3], "%s%" PRId64, sep, to[i]);
    }
    for (i = 0; i < 4; i++)
        ferry_buf_putc(&a[i], '}');
    s->fence_expected = (long)n;
    s->fenced = fenced;
    s->group = group;
    return push_arrays(
        s, "store the Kafka offsets",
        build(s, err,
              "UPDATE %s.offsets o SET next_offset = u.n, updated_at = now() "
              "FROM unnest($1::text[], $2::int[], $3::int8[], $4::int8[]) AS "
              "u(t, p, e, n) WHERE o.topic = u.t AND o.partition = u.p AND "
              "o.next_offset = u.e",
              s->q),
        a, 4, fence_checked, s, 0, err);
}

static int
got_group(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
          ferry_err_t *err)
{
    sink_state_t *s = arg;
    int i;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    for (i = 0; i < PQntuples(res); i++) {
        long at = atol(PQgetvalue(res, i, 0)) - 1;

        if (at >= 0 && (size_t)at < s->found_n && !PQgetisnull(res, i, 1))
            s->found[at] = atoll(PQgetvalue(res, i, 1));
    }
    return 0;
}

int
sink_state_push_group_read(sink_state_t *s, const sink_consumer_t *c,
                           const size_t *idx, size_t n, int64_t *found,
                           ferry_err_t *err)
{
    slot_items_t it = {c, idx, NULL};
    ferry_buf_t a[2];
    size_t i;

    for (i = 0; i < n; i++)
        found[i] = -1;
    s->found = found;
    s->found_n = n;
    ferry_buf_init(&a[0]);
    ferry_buf_init(&a[1]);
    text_array(&a[0], n, item_topic, &it);
    text_array(&a[1], n, item_part, &it);
    return push_arrays(
        s, "read the stored offsets",
        build(s, err,
              "WITH u AS (SELECT * FROM unnest($1::text[], $2::int[]) WITH "
              "ORDINALITY AS u(t, p, i)), ins AS (INSERT INTO %s.offsets "
              "(topic, partition, next_offset) SELECT t, p, 0 FROM u ON "
              "CONFLICT DO NOTHING RETURNING topic, partition, next_offset) "
              "SELECT u.i, coalesce(o.next_offset, ins.next_offset) FROM u "
              "LEFT JOIN %s.offsets o ON o.topic = u.t AND o.partition = u.p "
              "LEFT JOIN ins ON ins.topic = u.t AND ins.partition = u.p",
              s->q, s->q),
        a, 2, got_group, s, 0, err);
}

/* --- --rebuild's bulk load ---------------------------------------------- */

int
sink_state_push_bulk_start(sink_state_t *s, const sink_consumer_t *c,
                           const sink_state_bulk_t *b, ferry_err_t *err)
{
    ferry_buf_t a[3];
    char lsn[24], rec[24];
    const char *p4[4] = {b->kind == SINK_BULK_SNAPSHOT ? "snapshot" : "rebuild",
                         b->kind == SINK_BULK_SNAPSHOT ? lsn : NULL,
                         b->kind == SINK_BULK_SNAPSHOT ? rec : NULL,
                         b->sweep ? "t" : "f"};
    size_t i, n = 0;
    int rc;

    snprintf(lsn, sizeof(lsn), "%" PRIu64, b->snap_lsn);
    snprintf(rec, sizeof(rec), "%" PRId64, b->snap_record);
    for (i = 0; i < 3; i++) {
        ferry_buf_init(&a[i]);
        ferry_buf_putc(&a[i], '{');
    }
    for (i = 0; i < c->n_slots; i++) {
        const sink_slot_t *sl = &c->slots[i];

        if (sl->is_tx || sl->is_snap)
            continue;
        ferry_buf_printf(&a[0], "%s\"%s\"", n > 0 ? "," : "", sl->topic);
        ferry_buf_printf(&a[1], "%s%d", n > 0 ? "," : "", (int)sl->partition);
        ferry_buf_printf(&a[2], "%s%" PRId64, n > 0 ? "," : "", sl->end);
        n++;
    }
    for (i = 0; i < 3; i++)
        ferry_buf_putc(&a[i], '}');
    rc = push(s, "begin a transaction", "BEGIN", 0, NULL, NULL, NULL, err);
    if (rc == 0)
        rc = push(s, "forget the last bulk load's end offsets",
                  build(s, err, "DELETE FROM %s.bulk_end", s->q), 0, NULL, NULL,
                  NULL, err);
    if (rc == 0)
        rc = push_arrays(s, "record the bulk load's end offsets",
                         build(s, err,
                               "INSERT INTO %s.bulk_end SELECT * FROM "
                               "unnest($1::text[], $2::int[], $3::int8[])",
                               s->q),
                         a, 3, NULL, NULL, 0, err);
    else
        for (i = 0; i < 3; i++)
            ferry_buf_close(&a[i]);
    if (rc == 0)
        rc = push(s, "record the bulk load",
                  build(s, err,
                        "INSERT INTO %s.bulk (cut_lsn, done, kind, "
                        "snapshot_lsn, snapshot_record, sweep, started_at) "
                        "VALUES (0, false, $1, $2, $3, $4, now()) ON CONFLICT "
                        "(one) DO UPDATE SET cut_lsn = 0, done = false, "
                        "kind = EXCLUDED.kind, snapshot_lsn = "
                        "EXCLUDED.snapshot_lsn, snapshot_record = "
                        "EXCLUDED.snapshot_record, sweep = EXCLUDED.sweep, "
                        "started_at = now(), done_at = NULL",
                        s->q),
                  4, p4, NULL, NULL, err);
    return rc != 0 ? rc : push(s, "commit", "COMMIT", 0, NULL, NULL, NULL, err);
}

static int
got_bulk(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
         ferry_err_t *err)
{
    sink_state_bulk_t *out = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    if (PQntuples(res) == 1) {
        out->cut = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        out->active = strcmp(PQgetvalue(res, 0, 1), "f") == 0;
        out->kind = strcmp(PQgetvalue(res, 0, 2), "snapshot") == 0
                        ? SINK_BULK_SNAPSHOT
                        : SINK_BULK_REBUILD;
        out->snap_lsn = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
        out->snap_record = atoll(PQgetvalue(res, 0, 4));
        out->sweep = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
    }
    return 0;
}

static int
got_bulk_end(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
             ferry_err_t *err)
{
    sink_state_t *s = arg;
    int row;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    for (row = 0; row < PQntuples(res); row++) {
        int slot = sink_consumer_slot(s->bulk_c, PQgetvalue(res, row, 0),
                                      atoi(PQgetvalue(res, row, 1)));

        if (slot >= 0)
            s->bulk_end[slot] = atoll(PQgetvalue(res, row, 2));
    }
    return 0;
}

int
sink_state_push_bulk_read(sink_state_t *s, const sink_consumer_t *c,
                          sink_state_bulk_t *out, int64_t *end,
                          ferry_err_t *err)
{
    int rc;

    s->bulk_c = c;
    s->bulk_end = end;
    rc = push(s, "read the bulk load state",
              build(s, err,
                    "SELECT cut_lsn, done, kind, coalesce(snapshot_lsn, 0), "
                    "coalesce(snapshot_record, 0), sweep FROM %s.bulk",
                    s->q),
              0, NULL, got_bulk, out, err);
    return rc != 0 || end == NULL
               ? rc
               : push(s, "read the bulk load's end offsets",
                      build(s, err,
                            "SELECT topic, partition, end_offset FROM "
                            "%s.bulk_end",
                            s->q),
                      0, NULL, got_bulk_end, s, err);
}

int
sink_state_push_bulk_cut(sink_state_t *s, uint64_t cut, ferry_err_t *err)
{
    char num[24];
    const char *p1[1] = {num};

    snprintf(num, sizeof(num), "%" PRIu64, cut);
    return push(
        s, "record the bulk load's cut",
        build(s, err,
              "UPDATE %s.bulk SET cut_lsn = greatest(cut_lsn, $1::int8)", s->q),
        1, p1, NULL, NULL, err);
}

static int
got_cut(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
        ferry_err_t *err)
{
    uint64_t *cut = arg;

    (void)aux, (void)rc, (void)sqlstate, (void)err;
    if (PQntuples(res) == 1)
        *cut = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    return 0;
}

int
sink_state_push_snapshot_mark(sink_state_t *s, uint64_t lsn, int64_t record,
                              ferry_err_t *err)
{
    char l[24], r[24];
    const char *p3[3] = {s->cfg->source_slot, l, r};

    snprintf(l, sizeof(l), "%" PRIu64, lsn);
    snprintf(r, sizeof(r), "%" PRId64, record);
    return push(s, "record the applied snapshot",
                build(s, err,
                      "INSERT INTO %s.snapshot_applied (slot, lsn, "
                      "record_offset) VALUES ($1, $2, $3) ON CONFLICT (slot) "
                      "DO UPDATE SET lsn = EXCLUDED.lsn, record_offset = "
                      "EXCLUDED.record_offset, applied_at = now()",
                      s->q),
                3, p3, NULL, NULL, err);
}

int
sink_state_push_bulk_done(sink_state_t *s, uint64_t *cut, ferry_err_t *err)
{
    const char *p1[1] = {s->cfg->source_slot};
    int rc;

    rc = push(s, "finish the bulk load",
              build(s, err,
                    "UPDATE %s.bulk SET done = true, done_at = now() "
                    "RETURNING cut_lsn",
                    s->q),
              0, NULL, got_cut, cut, err);
    /* A snapshot's is applied for the slot once its load is done. */
    return rc != 0 ? rc
                   : push(s, "record the applied snapshot",
                          build(s, err,
                                "INSERT INTO %s.snapshot_applied (slot, lsn, "
                                "record_offset) SELECT $1, snapshot_lsn, "
                                "snapshot_record FROM %s.bulk WHERE kind = "
                                "'snapshot' ON CONFLICT (slot) DO UPDATE SET "
                                "lsn = EXCLUDED.lsn, record_offset = "
                                "EXCLUDED.record_offset, applied_at = now()",
                                s->q, s->q),
                          1, p1, NULL, NULL, err);
}
