/* Snapshot modes, slot creation with an exported snapshot, and restarts of
 * an interrupted snapshot.
 * cdc/cdc_handoff.c */
#include "cdc_handoff.h"

#include "cdc_repl.h"
#include "cdc_snapstate.h"
#include "ferry_log.h"

#include <string.h>

/* What pg_replication_slots says about the slot. */
typedef struct slot_state {
    bool exists;        /* there is a slot of that name */
    bool plugin_ok;     /* logical, with wal2json */
    bool lost;          /* wal_status 'lost': its WAL is gone */
    uint64_t confirmed; /* confirmed_flush_lsn */
} slot_state_t;

bool
cdc_snapshot_mode_parse(const char *s, cdc_snapshot_mode_t *mode)
{
    static const char *const names[] = {"initial", "never", "always",
                                        "when_needed"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *mode = (cdc_snapshot_mode_t)i;
            return true;
        }
    }
    return false;
}

static int
read_slot(PGconn *sql, const char *slot, slot_state_t *st, ferry_err_t *err)
{
    const char *p[1] = {slot};
    PGresult *res = PQexecParams(
        sql,
        "SELECT plugin = 'wal2json' AND slot_type = 'logical', "
        "confirmed_flush_lsn, coalesce(wal_status = 'lost', false) "
        "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
        1, NULL, p, NULL, NULL, 0);
    int rc = FERRY_OK;

    memset(st, 0, sizeof(*st));
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not look up replication slot \"%s\": %s",
                           slot, PQerrorMessage(sql));
    } else if (PQntuples(res) == 1) {
        st->exists = true;
        st->plugin_ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        /* An unreadable LSN stays 0, as a NULL one does. */
        if (!PQgetisnull(res, 0, 1) &&
            !ferry_lsn_parse(PQgetvalue(res, 0, 1),
                             (size_t)PQgetlength(res, 0, 1), &st->confirmed))
            st->confirmed = 0;
        st->lost = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    }
    PQclear(res);
    return rc;
}

static int
drop_slot(PGconn *sql, const char *slot, ferry_err_t *err)
{
    const char *p[1] = {slot};
    PGresult *res =
        PQexecParams(sql, "SELECT pg_catalog.pg_drop_replication_slot($1)", 1,
                     NULL, p, NULL, NULL, 0);
    int rc = FERRY_OK;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not drop replication slot \"%s\": %s", slot,
                           PQerrorMessage(sql));
    PQclear(res);
    return rc;
}

/* Creates the slot; with a snapshot, exports it, reads every table in it
 * and records completion.  *start is the slot's consistent point. */
static int
create_slot(const cdc_snapshot_ctx_t *ctx, bool snapshot,
            const cdc_snapshot_opts_t *opts, uint64_t *start, ferry_err_t *err)
{
    const map_config_t *cfg = ctx->cfg;
    cdc_snapshot_gucs_t gucs;
    char name[64] = "";
    PGconn *repl;
    int rc;

    /* "started" goes first: if ferry-cdc dies once the slot exists, the
     * next start knows the snapshot is not complete. */
    if (snapshot &&
        (rc = cdc_snapstate_write(ctx->prod, cfg, CDC_SNAPSTATE_STARTED, 0,
                                  err)) != FERRY_OK)
        return rc;
    if ((repl = cdc_repl_connect(cfg->source_dsn, err)) == NULL)
        return FERRY_ETRANSIENT;
    /* SHOW before the slot: the next command after CREATE_REPLICATION_SLOT
     * would end the exported snapshot. */
    if ((!snapshot || (rc = cdc_snapshot_gucs_read(repl, &gucs, err)) == 0) &&
        (rc = cdc_repl_create_slot(repl, cfg->source_slot,
                                   snapshot ? name : NULL, start, err)) == 0 &&
        snapshot) {
        /* The replication connection stays idle, keeping the exported
         * snapshot valid, until the readers are done. */
        rc = cdc_snapshot_run(ctx, opts, &gucs, name, *start, err);
    }
    PQfinish(repl);
    if (rc == FERRY_OK && snapshot)
        rc = cdc_snapstate_write(ctx->prod, cfg, CDC_SNAPSTATE_COMPLETE, *start,
                                 err);
    return rc;
}

/* A snapshot for an existing slot, in a fresh snapshot of the source; the
 * rows carry the slot's confirmed LSN, and streaming replays everything
 * from there, so Kafka's last event per key ends in the source's state. */
static int
snapshot_existing(const cdc_snapshot_ctx_t *ctx,
                  const cdc_snapshot_opts_t *opts, uint64_t confirmed,
                  ferry_err_t *err)
{
    cdc_snapshot_gucs_t gucs;
    PGconn *repl;
    int rc;

    if ((rc = cdc_snapstate_write(ctx->prod, ctx->cfg, CDC_SNAPSTATE_STARTED,
                                  confirmed, err)) != FERRY_OK)
        return rc;
    if ((repl = cdc_repl_connect(ctx->cfg->source_dsn, err)) == NULL)
        return FERRY_ETRANSIENT;
    rc = cdc_snapshot_gucs_read(repl, &gucs, err);
    PQfinish(repl);
    if (rc == FERRY_OK)
        rc = cdc_snapshot_run(ctx, opts, &gucs, NULL, confirmed, err);
    if (rc == FERRY_OK)
        rc = cdc_snapstate_write(ctx->prod, ctx->cfg, CDC_SNAPSTATE_COMPLETE,
                                 confirmed, err);
    return rc;
}

/* The slot exists and is usable: snapshot again when the last one was
 * interrupted or the mode says always, else stream from where it is. */
static int
existing_slot(const cdc_snapshot_ctx_t *ctx, cdc_snapshot_mode_t mode,
              const cdc_snapshot_opts_t *opts, const slot_state_t *st,
              ferry_err_t *err)
{
    const char *slot = ctx->cfg->source_slot;
    cdc_snapstate_t state;
    int rc;

    ferry_info("slot \"%s\" exists, confirmed up to " FERRY_LSN_FMT, slot,
               FERRY_LSN_ARGS(st->confirmed));
    if (mode == CDC_SNAPSHOT_NEVER)
        return FERRY_OK;
    if ((rc = cdc_snapstate_read(ctx->cfg, &state, err)) != FERRY_OK)
        return rc;
    if (state == CDC_SNAPSTATE_STARTED) {
        ferry_warn("slot \"%s\": the last snapshot was interrupted before "
                   "it completed: taking it again (every table is read and "
                   "published again, then streaming resumes at " FERRY_LSN_FMT
                   ")",
                   slot, FERRY_LSN_ARGS(st->confirmed));
        return snapshot_existing(ctx, opts, st->confirmed, err);
    }
    if (mode == CDC_SNAPSHOT_ALWAYS) {
        ferry_info("slot \"%s\": --snapshot always: taking a snapshot, then "
                   "streaming from " FERRY_LSN_FMT,
                   slot, FERRY_LSN_ARGS(st->confirmed));
        return snapshot_existing(ctx, opts, st->confirmed, err);
    }
    return FERRY_OK;
}

int
cdc_handoff_prepare(const cdc_snapshot_ctx_t *ctx, PGconn *sql,
                    cdc_snapshot_mode_t mode, const cdc_snapshot_opts_t *opts,
                    uint64_t *start, ferry_err_t *err)
{
    const char *slot = ctx->cfg->source_slot;
    slot_state_t st;
    int rc;

    if ((rc = read_slot(sql, slot, &st, err)) != FERRY_OK)
        return rc;
    if (st.exists && !st.plugin_ok)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "replication slot \"%s\" exists but is not a "
                             "logical slot using wal2json",
                             slot);
    if (st.exists && st.lost) {
        if (mode != CDC_SNAPSHOT_WHEN_NEEDED)
            return ferry_err_set(
                err, FERRY_ECONFIG,
                "replication slot \"%s\" was invalidated (wal_status "
                "\"lost\"): the source removed WAL it still needed; run "
                "with --snapshot when_needed to drop it and take a new "
                "snapshot",
                slot);
        ferry_warn(
            "slot \"%s\" was invalidated (wal_status \"lost\": the "
            "source removed WAL it still needed, changes after " FERRY_LSN_FMT
            " are gone): dropping it and taking a new snapshot",
            slot, FERRY_LSN_ARGS(st.confirmed));
        if ((rc = drop_slot(sql, slot, err)) != FERRY_OK)
            return rc;
        st.exists = false;
    }
    if (!st.exists)
        return create_slot(ctx, mode != CDC_SNAPSHOT_NEVER, opts, start, err);
    *start = st.confirmed;
    return existing_slot(ctx, mode, opts, &st, err);
}
