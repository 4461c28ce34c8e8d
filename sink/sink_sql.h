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
    const struct sink_plan *plans; /* borrowed: every entity's plan, by
                                      index, for parent lookups */
} sink_plan_t;

/* Each builder appends one statement to out (caller-owned); as with every
 * ferry_buf_t, the caller checks the buffer once with ferry_buf_status(). */

/* CREATE TEMP TABLE for the staging table. */
void sink_sql_stage_ddl(const sink_plan_t *p, ferry_buf_t *out);

/* DELETE of staged rows that are not newer than what the target reflects
 * (row_lsn and truncated); $1 entity. */
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

/* Takes the pending patches of column ci whose parent is now in the
 * target and writes the parent's UUID into the target rows. */
void sink_sql_defer_patch(const sink_plan_t *p, size_t ci, ferry_buf_t *out);

/* The set-based upsert; with one_row, only staging row $1. */
void sink_sql_upsert(const sink_plan_t *p, bool one_row, ferry_buf_t *out);

/* The delete (hard, or soft: stamp the column); with one_row, only $1. */
void sink_sql_delete(const sink_plan_t *p, bool one_row, ferry_buf_t *out);

/* Records the pairs of every staged row in row_lsn; $1 entity. */
void sink_sql_row_lsn(const sink_plan_t *p, ferry_buf_t *out);

/* Deletes the target rows that have a legacy id (a source TRUNCATE). */
void sink_sql_truncate(const sink_plan_t *p, ferry_buf_t *out);

/* Drops parked rows of the staged keys that are older than the staged
 * (applied) event: they could only ever be stale; $1 entity. */
void sink_sql_unpark_stale(const sink_plan_t *p, ferry_buf_t *out);

/* Takes out of parked, oldest first, the rows waiting for a parent of
 * entity $1 that is now in the target; returns their entity, event_key,
 * event and kafka_offset.  SKIP LOCKED: rows another sink is taking are
 * its business. */
void sink_sql_drain(const sink_plan_t *p, ferry_buf_t *out);

/* As sink_sql_drain(), for every delete parked while rows referenced it
 * (waits_for = 'children'); no parameter.  q_state quoted. */
void sink_sql_retry_blocked(const char *q_state, ferry_buf_t *out);

/* Scale-out mode: takes a transaction-level advisory lock on every staged
 * legacy key ($1 = entity), in a fixed order, so that two sinks never apply
 * the same key at once (the stale check that follows then sees the other's
 * committed row_lsn). */
void sink_sql_lock_keys(const sink_plan_t *p, ferry_buf_t *out);

/* SELECT true when a truncate at ($2, $3) of entity $1 is stale: a newer
 * truncate, or a newer row, is already applied. */
void sink_sql_truncate_stale(const sink_plan_t *p, ferry_buf_t *out);

#endif
