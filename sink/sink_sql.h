/* The SQL ferry-sink runs against the target, generated once per entity.
 * sink/sink_sql.h
 *
 * Every identifier in the text comes quoted (PQescapeIdentifier(), done by
 * sink_apply.c when it builds the plan); every value is a parameter ($1 the
 * entity name, $2 a staging row number) or arrives through COPY.  Each
 * entity has a temporary staging table with text columns: the sink COPYs a
 * batch into it, then runs set-based statements from it, casting each value
 * to the target column's type there, so that a bad value fails a statement
 * (and is isolated per row) rather than the COPY.  Pure: builds strings.
 */
#ifndef SINK_SQL_H
#define SINK_SQL_H

#include "ferry_buf.h"
#include "map_config.h"

#include <stdbool.h>

/* A foreign key of the target that references an entity's table, as the
 * catalog told at start-up.  All strings are owned by the plan. */
typedef struct sink_fk {
    char *schema, *table; /* the referencing table (raw names) */
    char *column;         /* its column when the key has one, else NULL */
    char *ref_column;     /* the referenced column when one, else NULL */
    char *q_table;        /* the referencing table, quoted */
    char *name_lit;       /* "schema.table" as an SQL literal */
    char *cond;           /* "c.<col> = t.<ref col> AND ...": row c of the
                             referencing table points at row t */
} sink_fk_t;

/* One entity, as the SQL sees it.  All strings are owned by the plan. */
typedef struct sink_plan {
    const map_entity_t *e;         /* borrowed: the entity */
    size_t index;                  /* index in cfg->entities */
    char *q_state;                 /* quoted state schema */
    char *q_target;                /* quoted "schema"."table" */
    char *q_stage;                 /* quoted staging table (pg_temp) */
    char *q_id;                    /* quoted id column */
    char *id_type;                 /* its type (format_type) */
    char **q_lcols;                /* quoted legacy id columns (n_lcols) */
    char **lcol_types;             /* their types */
    size_t n_lcols;                /* number of legacy id columns */
    char **q_cols;                 /* quoted mapped columns (e->n_columns) */
    char **col_types;              /* their types */
    char *q_soft;                  /* quoted soft delete column, or NULL */
    char *soft_type;               /* its type, or NULL */
    char *q_lsn;                   /* quoted lsn_column, or NULL: the
                                      row's position is kept in the target
                                      row and the upsert checks it */
    const struct sink_plan *plans; /* borrowed: every entity's plan, by
                                      index, for parent lookups */
    size_t n_plans;                /* entries in plans (0: parents only) */
    sink_fk_t *fks;                /* the foreign keys that reference the
                                      entity's table */
    size_t n_fks;                  /* entries in fks */
} sink_plan_t;

/* An lsn column holds commit LSN * 2^64 + change LSN (docs/mapping.md),
 * so that numeric order is the pair's order.  SINK_SQL_LSN(c, ch) is that
 * value of the int8 SQL expressions c and ch, as SQL text. */
#define SINK_SQL_LSN_SCALE "18446744073709551616"
#define SINK_SQL_LSN(c, ch) "(" c "::numeric * " SINK_SQL_LSN_SCALE " + " ch ")"

/* Each builder appends one statement to out (caller-owned); as with every
 * ferry_buf_t, the caller checks the buffer once with ferry_buf_status(). */

/* CREATE TEMP TABLE for the staging table. */
void sink_sql_stage_ddl(const sink_plan_t *p, ferry_buf_t *out);

/* DELETE of staged rows that are not newer than what the target reflects
 * (row_lsn and truncated, and with an lsn column the target row's own
 * position); $1 entity. */
void sink_sql_stale(const sink_plan_t *p, ferry_buf_t *out);

/* The condition "the parent of ref column ci is missing" on staging row s. */
void sink_sql_missing(const sink_plan_t *p, size_t ci, ferry_buf_t *out);

/* DELETE ... RETURNING __n, missing entity index, missing UUID of staged
 * upserts whose ref columns with on_missing policy pol miss a parent. */
void sink_sql_take_missing(const sink_plan_t *p, enum map_on_missing pol,
                           ferry_buf_t *out);

/* UPDATE of staged upserts setting ref column ci to NULL where its parent
 * is missing. */
void sink_sql_null_missing(const sink_plan_t *p, size_t ci, ferry_buf_t *out);

/* Deferred refs (docs/sink.md): a staged row whose deferred ref column ci
 * has a missing parent gets the column written NULL and a pending patch in
 * <state>.deferred.  $1 is the entity name, $2 the column name. */

/* DELETE of the pending patches of ref column ci for staged rows that
 * bring a new value for it (or are deleted): the new value wins. */
void sink_sql_defer_forget(const sink_plan_t *p, size_t ci, ferry_buf_t *out);

/* INSERT of a pending patch for each staged upsert whose deferred ref
 * column ci misses its parent. */
void sink_sql_defer_note(const sink_plan_t *p, size_t ci, ferry_buf_t *out);

/* Takes the pending patches of column ci whose parent and row are now in
 * the target and writes the parent's UUID into the target rows (the patch
 * of a row parked with its parent, kind 'row', waits for the row). */
void sink_sql_defer_patch(const sink_plan_t *p, size_t ci, ferry_buf_t *out);

/* The set-based upsert; with one_row, only staging row $1.  With an lsn
 * column it writes the row's position, and its ON CONFLICT ... DO UPDATE
 * ... WHERE skips a row older than the target's. */
void sink_sql_upsert(const sink_plan_t *p, bool one_row, ferry_buf_t *out);

/* The delete (hard, or soft: stamp the column); with one_row, only $1.
 * With an lsn column, a row newer than the delete stays (and a soft delete
 * stamps the position too). */
void sink_sql_delete(const sink_plan_t *p, bool one_row, ferry_buf_t *out);

/* Records the pairs of every staged row in row_lsn (of the deletes only
 * with an lsn column: the rows keep their own); a position never moves
 * back.  $1 entity. */
void sink_sql_row_lsn(const sink_plan_t *p, ferry_buf_t *out);

/* A source TRUNCATE: deletes the target rows that have a legacy id; for an
 * entity without legacy id columns, the rows whose UUID is in
 * pg_temp.ferry_trunc (the keys of sink_sql_truncate_keys(), turned into
 * UUIDs by the sink, a chunk at a time). */
void sink_sql_truncate(const sink_plan_t *p, ferry_buf_t *out);

/* For an entity without legacy id columns: DECLARE of the cursor
 * ferry_trunc_keys over the entity's legacy keys in row_lsn (the rows the
 * sink applied); "" for any other entity. */
void sink_sql_truncate_keys(const sink_plan_t *p, ferry_buf_t *out);

/* Parents deleted under children (docs/sink.md): the hard delete of the
 * staged deletes (only staging row $1 with one_row) together with what the
 * children's on_missing policies make of the rows that still reference
 * them, in one statement: children whose ref is "null" (or deferred) get
 * NULL and a pending patch in <state>.deferred; children whose ref is
 * "park" leave the target with their own descendants, recursively, and are
 * parked as kind 'row' (their row as JSON); "error" children are left, and
 * the target's FK refuses the delete.  Only rows with a legacy id are
 * touched.  Returns one row: rows deleted, rows parked, rows nulled.  ""
 * when no child ref would do anything. */
void sink_sql_delete_children(const sink_plan_t *p, bool one_row,
                              ferry_buf_t *out);

/* After the delete of staging row $1 was refused (23503): one row, the
 * names of the tables whose rows the mapping does not know (tables outside
 * it, unmapped FK columns, rows without a legacy id) that still reference
 * the rows that would leave, comma-separated ("" for none), and whether
 * rows of a child whose policy is error (or park without legacy id
 * columns) do. */
void sink_sql_delete_blockers(const sink_plan_t *p, ferry_buf_t *out);

/* Puts a row parked as kind 'row' back: $1 the target row as JSON,
 * inserted as it was unless a row with its key is there (a newer one);
 * a "null" ref whose parent is missing now is written NULL and noted in
 * <state>.deferred. */
void sink_sql_restore_row(const sink_plan_t *p, ferry_buf_t *out);

/* Drops parked rows of the staged keys that are older than the staged
 * (applied) event, whatever they wait for: they could only ever be stale;
 * $1 entity. */
void sink_sql_unpark_stale(const sink_plan_t *p, ferry_buf_t *out);

/* Takes out of parked, oldest first, at most $2 of the rows waiting for a
 * parent of entity $1 that is now in the target (a parked target row,
 * kind 'row', once every parent of its park and error refs is there);
 * returns, per row, the columns of SINK_SQL_TAKEN_COLS.  SKIP LOCKED: rows
 * another sink is taking are its business. */
void sink_sql_drain(const sink_plan_t *p, ferry_buf_t *out);

/* The columns a take-out of parked rows returns, in order. */
#define SINK_SQL_TAKEN_COLS                                                    \
    "entity, event_key, event, kafka_offset, kind, legacy_key, topic, "        \
    "partition, blocked_by, retries, parked_at"

/* As sink_sql_drain(), for the deletes parked while rows referenced them
 * (waits_for = 'children') whose next_retry_at has come (or is NULL), at
 * most limit of them; no parameter.  q_state quoted. */
void sink_sql_retry_blocked(const char *q_state, int limit, ferry_buf_t *out);

/* Scale-out mode: takes a transaction-level advisory lock on every staged
 * legacy key ($1 = entity), in a fixed order, so that two sinks never apply
 * the same key at once (the stale check that follows then sees the other's
 * committed row_lsn). */
void sink_sql_lock_keys(const sink_plan_t *p, ferry_buf_t *out);

/* Scale-out mode: locks (FOR KEY SHARE) the target rows of every parent
 * the staged upserts reference, before the missing-parent check, so that
 * another sink cannot delete one between that check and the upsert (its
 * delete waits, then finds the child and is parked until the child goes);
 * a parent another sink deleted first is skipped, and found missing by
 * the check.  Empty for an entity without refs. */
void sink_sql_lock_parents(const sink_plan_t *p, ferry_buf_t *out);

/* SELECT true when a truncate at ($2, $3) of entity $1 is stale: a newer
 * truncate, or a newer row, is already applied. */
void sink_sql_truncate_stale(const sink_plan_t *p, ferry_buf_t *out);

#endif
