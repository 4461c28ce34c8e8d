/* The source's replication slot as pg_replication_slots reports it: the
 * one reading of its health, for ferry-cdc's WAL-retention guard and
 * ferry-map status.
 * mapping/map_slot.h
 *
 * retained: WAL the server keeps for the slot (the current WAL position
 * minus restart_lsn); lag: WAL not yet confirmed (minus
 * confirmed_flush_lsn); wal_status and safe_wal_size as PostgreSQL 13+
 * reports them (docs/operations.md, "WAL retention"): "reserved" is
 * within max_wal_size, "extended" past it but kept, "unreserved" about to
 * be removed at the next checkpoint, "lost" removed (the slot is
 * invalidated and ferry-cdc must snapshot again).  safe_wal_size is the
 * WAL that can still be written before the slot is in danger; NULL when
 * max_slot_wal_keep_size is -1 (unlimited).
 */
#ifndef MAP_SLOT_H
#define MAP_SLOT_H

#include "ferry_err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct map_slot {
    bool exists;            /* the slot is there */
    bool active;            /* a walsender streams from it */
    int active_pid;         /* that walsender's pid, 0 when none */
    uint64_t confirmed;     /* confirmed_flush_lsn, 0 when NULL */
    uint64_t restart;       /* restart_lsn, 0 when NULL */
    uint64_t current;       /* pg_current_wal_lsn() */
    int64_t lag_bytes;      /* current - confirmed (0 when unknown) */
    int64_t retained_bytes; /* current - restart (0 when unknown) */
    char wal_status[16];    /* reserved, extended, unreserved, lost, or "" */
    bool safe_known;        /* safe_wal_size is not NULL (a limit is set) */
    int64_t safe_bytes;     /* safe_wal_size when safe_known */
} map_slot_t;

/* Reads slot name (borrowed) through conn (borrowed, a normal or
 * replication=database connection) into *out (caller-owned).  A missing
 * slot is not an error: out->exists is false.  Returns 0 or the class of
 * the failure (common/ferry_pg.h) with err set. */
int map_slot_read(PGconn *conn, const char *name, map_slot_t *out,
                  ferry_err_t *err) FERRY_WUR;

#endif
