/* Internal to the applier: its state, shared by sink_apply.c (set-up),
 * sink_apply_batch.c (applying a batch), sink_stage.c (rows collapsed and
 * staged) and sink_park.c (parking and draining).
 * sink/sink_apply_int.h
 */
#ifndef SINK_APPLY_INT_H
#define SINK_APPLY_INT_H

#include "ferry_buf.h"
#include "sink_apply.h"
#include "sink_row.h"
#include "sink_rowset.h"
#include "sink_sql.h"
#include "sink_util.h"

/* A truncate event being applied: its entity and the event (borrowed
 * from the batch). */
typedef struct sink_trunc {
    size_t idx;             /* the entity's index */
    const sink_event_t *ev; /* the event */
} sink_trunc_t;

/* The statements of one entity, built once (NUL-terminated; "" where the
 * entity has no use for one). */
typedef struct plan_sql {
    char *stage_ddl, *copy, *empty, *drop_row, *stale, *lock, *unpark, *drain,
        *upsert, *upsert1, *del, *del1, *row_lsn, *truncate, *truncate_check;
    char *take[3];    /* by on_missing policy */
    char **null_miss; /* per column: null the ref where missing */
    char **defer_forget, **defer_note, **defer_patch; /* per column:
                          deferred refs */
    bool has_deferred; /* the entity has a deferred ref */
} plan_sql_t;

struct sink_apply {
    const map_config_t *cfg;       /* borrowed */
    sink_target_t *t;              /* borrowed: where steps go */
    sink_dlq_t *dlq;               /* borrowed: the dead-letter path */
    sink_slot_topic_fn slot_topic; /* slot -> topic, for parked rows */
    void *slot_arg;                /* its argument */
    sink_plan_t *plans;            /* owned: by entity index */
    plan_sql_t *sql;               /* owned: by entity index */
    rowset_t *sets;                /* owned: by entity index */
    char *q_state;                 /* owned: quoted state schema */
    sink_map_t *imported;          /* owned: imported UUIDs (values owned) */
    sink_uuidctx_t uctx;           /* UUID resolution */
    long parked_rows;              /* rows in the parked table (a hint in
                                      the shared mode) */
    bool shared;                   /* scale-out: other sinks write too */
    bool park_deletes;             /* park deletes blocked by children */
    bool blocked_maybe;            /* parked blocked deletes may exist */
    uint64_t *lsn_bound;           /* owned: by entity index; every row_lsn
                                      and truncated entry of the entity has
                                      a commit LSN at most this.  Raised
                                      before those tables are written, and
                                      kept in <state>.row_lsn_max in the
                                      same transaction (unused when shared,
                                      whose sinks do not keep it) */
    char *bound_sql;               /* raises a row_lsn_max row: $1 $2 */
    char *bounds_sql;              /* reads every row_lsn_max row */
    char *retry_sql;               /* sink_sql_retry_blocked() */
    char *park_sql;                /* INSERT INTO <state>.parked */
    char *count_sql;               /* parked rows waiting for a parent */
    char *count_all_sql;           /* every parked row */
    char *truncated_sql;           /* the state changes of a TRUNCATE */
    sink_apply_stats_t stats;      /* committed counters */
    sink_apply_stats_t att;        /* this attempt's counters */
    sink_event_t **taken;          /* owned: events taken out of parked in
                                      this attempt (rows borrow them) */
    size_t n_taken, cap_taken;     /* in use, allocated */
    size_t round_got;              /* rows taken in this drain round */
    sink_tx_t **txs;               /* owned array of borrowed transactions:
                                      the last sink_apply_push_txs()'s */
    size_t n_txs, cap_txs;         /* in use, allocated */
    sink_trunc_t *truncs;          /* owned: the attempt's truncates */
    size_t n_truncs, cap_truncs;   /* in use, allocated */
};

/* The name of entity idx (borrowed from the model). */
const char *sink__entity_name(const sink_apply_t *a, size_t idx);

/* Builds the row of entity idx from ev (borrowed until the job ends) and
 * adds it to the entity's set, or records it (a bad value) or parks it (a
 * discriminator with no case).  Returns 0 or an error class with err. */
int sink__add_row(sink_apply_t *a, size_t idx, sink_event_t *ev,
                  ferry_err_t *err) FERRY_WUR;

/* Pushes the steps that apply every queued row: upserts parents first,
 * deletes children first, deferred refs patched; then the sets are
 * emptied.  Call it from a step (the rows must be complete). */
int sink__flush_push(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* sink_park.c: pushes the INSERT that parks row (borrowed until the step
 * ran) of entity idx: it waits for the parent missing_entity/missing_uuid,
 * or, with waits_children, for the rows that still reference it to go. */
int sink__park_push(sink_apply_t *a, size_t idx, const sink_row_t *row,
                    const char *missing_entity, const char *missing_uuid,
                    bool waits_children, ferry_err_t *err) FERRY_WUR;

/* Pushes the statement that takes the staged upserts of entity idx whose
 * parent is missing under policy pol, and parks or records each; repeated
 * until none is left (a row whose parent is staged with it loses that
 * parent when the parent itself is taken). */
int sink__take_missing_push(sink_apply_t *a, size_t idx,
                            enum map_on_missing pol,
                            ferry_err_t *err) FERRY_WUR;

#endif
