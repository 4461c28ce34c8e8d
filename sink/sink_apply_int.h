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

/* Values of a parked row: the parameters of park_sql, the columns of
 * pg_temp.ferry_park_in but its order. */
#define SINK_PARK_COLS 16

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
    char *lock_parents; /* scale-out: the staged rows' parents, locked */
    /* With an lsn column: the staged upserts, counted before the upsert
     * so that those its guard skips count as stale. */
    char *count_up;
    /* The delete with the children's policies (sink_sql.h), set and row
     * $1; who refuses the delete of row $1; a parked target row put back
     * ($1); without legacy ids, the cursor over a truncate's keys. */
    char *del_children, *del1_children, *blockers, *restore, *trunc_keys;
    char *take[3];    /* by on_missing policy */
    char **null_miss; /* per column: null the ref where missing */
    char **defer_forget, **defer_note, **defer_patch; /* per column:
                          deferred refs */
    bool has_deferred; /* the entity has a deferred ref */
} plan_sql_t;

/* What parked said of an event taken out of it (a drain or a retry);
 * zero for other events. */
typedef struct sink_taken {
    char *lkey;       /* owned: its legacy key, or NULL */
    char *blocked_by; /* owned: a blocked delete: the blocking tables */
    char *topic;      /* owned: the Kafka topic it came from, or NULL */
    char *parked_at;  /* owned: when it was first parked, or NULL */
    int partition;    /* with topic: its partition */
    int retries;      /* a blocked delete: retries so far */
    bool parked;      /* this came out of parked */
} sink_taken_t;

/* The sweep chunk under way (sink_sweep.c). */
typedef struct sink_sweep_ctx {
    struct sink_apply *a; /* borrowed: the applier */
    size_t idx;           /* the entity swept */
    sink_pair_t pair;     /* the snapshot's pair */
    size_t *got;          /* borrowed: the caller's count of rows taken */
} sink_sweep_ctx_t;

struct sink_apply {
    const map_config_t *cfg;        /* borrowed */
    sink_target_t *t;               /* borrowed: where steps go */
    sink_dlq_t *dlq;                /* borrowed: the dead-letter path */
    sink_slot_topic_fn slot_topic;  /* slot -> topic, for parked rows */
    void *slot_arg;                 /* its argument */
    sink_plan_t *plans;             /* owned: by entity index */
    plan_sql_t *sql;                /* owned: by entity index */
    rowset_t *sets;                 /* owned: by entity index */
    char *q_state;                  /* owned: quoted state schema */
    sink_map_t *imported;           /* owned: imported UUIDs (values owned) */
    sink_uuidctx_t uctx;            /* UUID resolution */
    struct sink_ent_memo *memo;     /* owned: by consumer slot, the entities
                                       of the table its events came from */
    size_t n_memo;                  /* entries in memo */
    size_t *ent_buf;                /* owned: n_entities + 1 entries, the
                                       entities of one event */
    long parked_rows;               /* rows in the parked table (a hint in
                                       the shared mode) */
    bool shared;                    /* scale-out: other sinks write too */
    bool park_deletes;              /* park deletes blocked by children */
    int64_t retry_at;               /* ferry_mono_ms() when the parked
                                       blocked deletes are next due: 0 at
                                       once (unknown), INT64_MAX never */
    char refused_msg[1024];         /* the refused delete being diagnosed */
    char refused_state[6];          /* its SQLSTATE */
    long *lsn_staged;               /* owned: by entity index, count_up's
                                       last count */
    uint64_t *lsn_bound;            /* owned: by entity index; every row_lsn
                                       and truncated entry of the entity has
                                       a commit LSN at most this.  Raised
                                       before those tables are written, and
                                       kept in <state>.row_lsn_max in the
                                       same transaction (unused when shared,
                                       whose sinks do not keep it) */
    char *bound_sql;                /* raises a row_lsn_max row: $1 $2 */
    char *bounds_sql;               /* reads every row_lsn_max row */
    char *retry_sql;                /* sink_sql_retry_blocked() */
    char *due_sql;                  /* seconds until a blocked delete is
                                       due (NULL: none) */
    char *park_sql;                 /* INSERT INTO <state>.parked: one row */
    char *park_many_sql;            /* INSERT INTO <state>.parked from
                                       pg_temp.ferry_park_in */
    char *analyze_sql;              /* ANALYZE <state>.parked */
    ferry_buf_t park_copy;          /* rows parked and not yet written, as
                                       COPY text of pg_temp.ferry_park_in */
    size_t n_park;                  /* their number; with one, ... */
    long parked_unanalyzed;         /* rows parked since parked's last
                                       ANALYZE (ordered mode) */
    char *park_one[SINK_PARK_COLS]; /* owned: ... its values */
    char *count_sql;                /* parked rows waiting for a parent */
    char *count_all_sql;            /* every parked row */
    char *truncated_sql;            /* the state changes of a TRUNCATE */
    sink_apply_counts_t *ent;       /* owned: committed counters by
                                       entity index, [n_entities] for none */
    sink_apply_counts_t *ent_att;   /* owned: this attempt's, as ent */
    long *parked_by_att;            /* owned: parked rows by entity as
                                       counted in this attempt ... */
    bool recounted_att;             /* ... when this is set, with
                                       parked_rows then */
    long recount_rows;
    int64_t counted_at;          /* when parked was last counted (mono
                                    ms), 0 never ... */
    long counted_rows;           /* ... and parked_rows then */
    char *count_by_sql;          /* parked rows by entity */
    sink_event_t **taken;        /* owned: events taken out of parked in
                                    this attempt's retries and drain
                                    round, freed as the next round starts
                                    (rows borrow them) */
    sink_taken_t *taken_info;    /* owned: what parked said of each
                                    (parallel to taken) */
    size_t n_taken, cap_taken;   /* in use, allocated */
    size_t round_got;            /* rows taken in this drain round */
    bool round_full;             /* the last round took SINK_DRAIN_ROUND */
    sink_tx_t **txs;             /* owned array of borrowed transactions:
                                    the last sink_apply_push_txs()'s */
    size_t n_txs, cap_txs;       /* in use, allocated */
    sink_sweep_ctx_t sweep;      /* the sweep chunk under way */
    sink_trunc_t *truncs;        /* owned: the attempt's truncates */
    size_t n_truncs, cap_truncs; /* in use, allocated */
};

/* Counts a rejected row or message of entity (borrowed; NULL for none)
 * in the attempt's errors and records it (sink_dlq_record()). */
int sink__reject(sink_apply_t *a, const char *entity, const char *lkey,
                 const sink_event_t *ev, const char *sqlstate, const char *msg,
                 ferry_err_t *err) FERRY_WUR;

/* Pushes a step that, when it runs, counts the parked rows by entity in
 * the open transaction (adopted when it commits) if sink_apply_recount_due()
 * or a minute has passed (other sinks park too).  Returns 0 or
 * FERRY_ENOMEM with err set. */
int sink__recount_push(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* The name of entity idx (borrowed from the model). */
const char *sink__entity_name(const sink_apply_t *a, size_t idx);

/* Frees the memo of the slots' entities. */
void sink__memo_free(sink_apply_t *a);

/* Builds the row of entity idx from ev (borrowed while the row lives: the
 * batch's events until the job ends, a drain round's until the next) and
 * adds it to the entity's set, or records it (a bad value) or parks it (a
 * discriminator with no case).  Returns 0 or an error class with err. */
int sink__add_row(sink_apply_t *a, size_t idx, sink_event_t *ev,
                  ferry_err_t *err) FERRY_WUR;

/* Keeps ev (ownership taken, freed even on failure) until the attempt
 * ends or the next drain round begins, with what was taken out of parked
 * (its rows, which borrow it, are applied by then).  Returns 0 or
 * FERRY_ENOMEM. */
int sink__keep_event(sink_apply_t *a, sink_event_t *ev,
                     ferry_err_t *err) FERRY_WUR;

/* As sink__keep_event(), for an event taken out of parked, with what
 * parked said of it (*info's strings taken, freed even on failure). */
int sink__keep_taken(sink_apply_t *a, sink_event_t *ev, sink_taken_t *info,
                     ferry_err_t *err) FERRY_WUR;

/* Frees what info owns and zeroes it. */
void sink__taken_clear(sink_taken_t *info);

/* Frees every event kept in a->taken and what parked said of it: at the
 * attempt's end, and as a drain round begins (the rows of the rounds
 * before are applied and every step that read them has run). */
void sink__taken_drop(sink_apply_t *a);

/* What parked said of ev (borrowed), or NULL for an event that did not
 * come out of parked in this attempt. */
const sink_taken_t *sink__taken_of(const sink_apply_t *a,
                                   const sink_event_t *ev);

/* Pushes the statement sql (static, or copied) without parameters;
 * "could not <what>" when it fails. */
int sink__push_plain(sink_apply_t *a, const char *what, const char *sql,
                     ferry_err_t *err) FERRY_WUR;

/* Pushes the steps that apply every queued row: upserts parents first,
 * deletes children first, deferred refs patched; then the sets are
 * emptied.  Call it from a step (the rows must be complete). */
int sink__flush_push(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* sink_park.c: parks row (borrowed for the call: what is written is
 * copied) of entity idx: it waits for the parent missing_entity/
 * missing_uuid, or, with waits_children, for the rows that still
 * reference it to go; blocked_by (borrowed, or NULL) names the tables the
 * mapping does not know whose rows do: such a delete is retried with a
 * backoff (1 s doubling to 1 h).  A row that came out of parked keeps its
 * Kafka position and first parking time.  The row is only kept: the
 * caller pushes sink__park_flush() once it parked what it had to, before
 * any step that reads parked (one statement per parked row cost a round
 * trip each: see docs/sink.md, Throughput). */
int sink__park_push(sink_apply_t *a, size_t idx, const sink_row_t *row,
                    const char *missing_entity, const char *missing_uuid,
                    bool waits_children, const char *blocked_by,
                    ferry_err_t *err) FERRY_WUR;

/* sink_park.c: pushes the writing of the rows sink__park_push() kept: one
 * INSERT for one row, else a COPY into pg_temp.ferry_park_in and one
 * INSERT ... SELECT from it.  Returns 0 or FERRY_ENOMEM with err set. */
int sink__park_flush(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* sink_park.c: forgets the rows kept and not written (an attempt that
 * ends: its transaction is rolled back). */
void sink__park_drop(sink_apply_t *a);

/* sink_park.c: the target refused (23503) the delete of staging row i of
 * entity idx, in the ordered mode, with message msg and SQLSTATE sqlstate
 * (both copied), after the savepoint rolled back: pushes the statement
 * that finds who still references it, then, for children whose policy is
 * error, records the delete in errors, or else parks it as blocked by the
 * tables the mapping does not know (recorded in errors the first time
 * only). */
int sink__refused_push(sink_apply_t *a, size_t idx, size_t i,
                       const char *sqlstate, const char *msg,
                       ferry_err_t *err) FERRY_WUR;

/* sink_park.c: a delete of entity idx with the children's policies went
 * through (res: rows deleted, parked, nulled): counts them. */
void sink__children_done(sink_apply_t *a, size_t idx, PGresult *res);

/* sink_park.c: pushes the restore of a target row of entity idx parked as
 * kind 'row' (json borrowed, copied), kept as event taken[n] (its rows
 * record a failure), under a savepoint; a failure is recorded. */
int sink__restore_push(sink_apply_t *a, size_t idx, const char *json, size_t n,
                       ferry_err_t *err) FERRY_WUR;

/* sink_park.c: pushes the take-out of the blocked deletes that are due
 * (SINK_RETRY_LIMIT at most), for sink__flush_push() to apply again, and
 * the read of when the next one left is due. */
int sink__retry_push(sink_apply_t *a, ferry_err_t *err) FERRY_WUR;

/* Blocked deletes retried per batch, at most. */
#define SINK_RETRY_LIMIT 500

/* Parked rows taken out per drain round, at most (all entities): what the
 * sink holds of a drain, whatever the number of rows parked. */
#define SINK_DRAIN_ROUND 20000

/* sink_park.c: a statement returning the columns of SINK_SQL_TAKEN_COLS
 * took parked rows out, oldest first: each event goes through the batch
 * again, each target row is put back; one that no longer parses, or whose
 * entity is no longer mapped, is recorded, never dropped.  A
 * sink_stmt_fn; aux 1 for the retries of blocked deletes, 0 for a drain
 * (whose rows the drain counts). */
int sink__took_parked(void *arg, size_t aux, PGresult *res, int rc,
                      const char *sqlstate, ferry_err_t *err) FERRY_WUR;

/* Pushes the statement that takes the staged upserts of entity idx whose
 * parent is missing under policy pol, and parks or records each; repeated
 * until none is left (a row whose parent is staged with it loses that
 * parent when the parent itself is taken). */
int sink__take_missing_push(sink_apply_t *a, size_t idx,
                            enum map_on_missing pol,
                            ferry_err_t *err) FERRY_WUR;

#endif
