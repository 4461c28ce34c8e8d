/* Internal to the applier: its state, shared by sink_apply.c (set-up) and
 * sink_batch.c (applying batches).
 * sink/sink_apply_int.h
 */
#ifndef SINK_APPLY_INT_H
#define SINK_APPLY_INT_H

#include "ferry_buf.h"
#include "sink_apply.h"
#include "sink_row.h"
#include "sink_sql.h"
#include "sink_util.h"

/* The rows of one entity in a batch, one per legacy key. */
typedef struct rowset {
    sink_row_t *rows;    /* owned: collapsed rows */
    size_t n;            /* rows in use */
    size_t cap;          /* allocated */
    sink_map_t *index;   /* legacy key -> row index + 1 */
    uint64_t min_commit; /* lowest and highest commit LSN of the rows */
    uint64_t max_commit; /* staged last (set by stage_rows()) */
} rowset_t;

/* The statements of one entity, built once (an empty buffer: no such
 * statement for this entity). */
typedef struct plan_sql {
    ferry_buf_t stage_ddl, copy, stale, lock, unpark, drain, upsert, upsert1,
        del, del1, row_lsn, truncate;
    ferry_buf_t take[3];    /* by on_missing policy; empty when unused */
    ferry_buf_t *null_miss; /* per column: null the ref where missing */
    ferry_buf_t *defer_forget, *defer_note, *defer_patch; /* per column:
                              deferred refs (empty for other columns) */
    bool has_deferred; /* the entity has a deferred ref */
} plan_sql_t;

struct sink_apply {
    const map_config_t *cfg;       /* borrowed */
    PGconn *conn;                  /* borrowed */
    sink_plan_t *plans;            /* owned: by entity index */
    plan_sql_t *sql;               /* owned: by entity index */
    rowset_t *sets;                /* owned: by entity index */
    char *q_state;                 /* owned: quoted state schema */
    sink_map_t *imported;          /* owned: imported UUIDs (values owned) */
    sink_uuidctx_t uctx;           /* UUID resolution */
    sink_dlq_fn dlq;               /* the dead-letter callback */
    sink_slot_topic_fn slot_topic; /* slot -> topic */
    void *arg;                     /* their argument */
    long parked_rows;              /* rows in the parked table */
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
    ferry_buf_t bound_sql;         /* raises a row_lsn_max row: $1 $2 */
    ferry_buf_t retry_sql;         /* sink_sql_retry_blocked() */
    ferry_buf_t copybuf;           /* COPY data */
    sink_apply_stats_t stats;      /* counters */
};

/* Frees the rows of s and empties it for the next batch. */
void sink__rowset_clear(rowset_t *s);

#endif
