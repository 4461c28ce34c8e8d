/* What ferry-sink and ferry-map share of the sink's state schema in the
 * target: the lock that says a sink is running.
 * mapping/map_state.h
 *
 * sink/sink_state.h owns the state schema (its tables and every statement
 * that writes them); ferry-map only reads it (validate, status).  A
 * running sink holds a session-level advisory lock keyed by the state
 * schema's name: exclusive for an ordered sink, shared for scale-out
 * sinks.  The keys are the two-integer form, so pg_locks shows them as
 * classid, objid with objsubid 2.
 */
#ifndef MAP_STATE_H
#define MAP_STATE_H

/* The lock's two keys, with the state schema's name as $1. */
#define MAP_STATE_LOCK_KEYS "hashtext('ferry-sink'), hashtext($1)"

/* A query ($1 the state schema) that returns how many sessions hold the
 * lock (0: no sink runs) and whether one holds it exclusively. */
#define MAP_STATE_LOCK_HOLDERS_SQL                                             \
    "SELECT count(*), coalesce(bool_or(mode = 'ExclusiveLock'), false) "       \
    "FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "  \
    "AND classid = hashtext('ferry-sink')::oid AND objid = hashtext($1)::oid"

#endif
