/* One target transaction at a time: begin, the caller's steps (the rows
 * and the positions), the dead letters flushed, commit; and what happens
 * when any of that fails.
 * sink/sink_commit.h
 *
 * A transient failure (a lost connection, a restarted target,
 * serialization failure, deadlock; sink_target.h) rolls the transaction
 * back, waits (100 ms, doubling to 10 s), reconnects when the connection
 * is gone (setting the session up again through a hook: the state
 * schema's lock, the staging tables, the position bounds) and runs the
 * caller's steps again, until they commit or the sink is asked to stop.
 * Nothing is ever skipped.  Any other failure rolls back and is the
 * caller's to handle.
 *
 * The driver knows transactions, not what is in them: hooks set at
 * creation push a new session's set-up and the steps that must come right
 * before every COMMIT (the dead letters flushed), and hear how each
 * attempt ended (the applier's counters are kept or dropped).
 *
 * A spilled transaction (sink_spill.h) spans several jobs: the first
 * begins and the last commits, and a transient failure cannot be retried
 * from memory; the caller reads again from the stored offsets instead
 * (SINK_COMMIT_NO_RETRY).  Not thread-safe: the loop's thread only.
 */
#ifndef SINK_COMMIT_H
#define SINK_COMMIT_H

#include "ferry_err.h"
#include "sink_loop.h"
#include "sink_target.h"

#include <stdbool.h>

typedef struct sink_commit sink_commit_t;

/* Pushes the steps of one attempt onto the target's job.  Called again for
 * each retry.  Returns 0 or an error class with err set. */
typedef int (*sink_body_fn)(void *arg, ferry_err_t *err);

/* The end: rc 0 when committed (or, with SINK_COMMIT_KEEP_OPEN, when the
 * steps ran), else the failure's class and message. */
typedef void (*sink_end_fn)(void *arg, int rc, const ferry_err_t *err);

/* Flags of sink_commit_run(). */
enum {
    SINK_COMMIT_OPEN = 1,      /* the transaction is already open: no BEGIN */
    SINK_COMMIT_KEEP_OPEN = 2, /* leave it open: no flush, no COMMIT */
    SINK_COMMIT_NO_RETRY = 4,  /* a transient failure is reported (after
                                  the rollback and a reconnect) instead
                                  of retried */
    SINK_COMMIT_ROLLBACK = 8   /* end with ROLLBACK, not COMMIT: a spilled
                                  transaction given up at the end */
};

/* What the driver asks of the rest of the sink. */
typedef struct sink_commit_hooks {
    /* Pushes what a new connection needs before any transaction. */
    int (*session)(void *arg, ferry_err_t *err);
    /* Pushes what must come right before each COMMIT. */
    int (*before_commit)(void *arg, ferry_err_t *err);
    /* An attempt ended: its transaction committed, or rolled back. */
    void (*ended)(void *arg, bool committed);
    void *arg; /* borrowed: the hooks' argument */
} sink_commit_hooks_t;

/* Creates the driver over loop and t (borrowed, must outlive it), with the
 * hooks (copied; every one may be NULL).  Returns a new driver (free with
 * sink_commit_free()) or NULL when out of memory. */
sink_commit_t *sink_commit_new(sink_loop_t *loop, sink_target_t *t,
                               const sink_commit_hooks_t *hooks);

/* Frees the driver (after the loop has stopped). */
void sink_commit_free(sink_commit_t *c);

/* Runs body(arg) in a target transaction as the flags say; end(arg, ...)
 * is called from the loop when it is done.  what describes the work for
 * the retry messages ("the batch of 12 transactions"; copied).  Returns 0,
 * or FERRY_EFATAL when an attempt is already under way. */
int sink_commit_run(sink_commit_t *c, const char *what, unsigned flags,
                    sink_body_fn body, sink_end_fn end, void *arg,
                    ferry_err_t *err) FERRY_WUR;

/* True while an attempt (or its retry) is under way. */
bool sink_commit_busy(const sink_commit_t *c);

#endif
