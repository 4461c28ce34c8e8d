/* ferry-sink's connection to the target: connecting, and a queue of
 * statements sent asynchronously and driven by the event loop.
 * sink/sink_target.h
 *
 * Work on the target is a job: a list of steps (statements, COPYs, calls
 * of the caller's code, waits) run in order on the one connection.  A step
 * is sent without blocking; the loop (sink_loop.h) watches the socket and
 * the next step starts when the previous one's result is in, so the loop
 * keeps serving Kafka in between.  What a statement returns reaches its
 * completion handler; a handler (or a call step) may push more steps,
 * which run next, before the rest of the job, in the order pushed.  That
 * is how data-dependent work (isolating the rows of a failed statement,
 * parking what it returns) stays in order without anything waiting.
 *
 * A step that fails ends the job: the rest is dropped, and the job's done
 * handler gets the error class (FERRY_ETRANSIENT for a lost connection or
 * a retryable SQLSTATE, FERRY_EDATA for bad data unless the step asked to
 * see data errors itself, FERRY_EFATAL otherwise).  Whether to roll back,
 * reconnect or retry is the caller's business (sink_commit.h).
 *
 * Before the loop runs, and only while no job runs, sink_target_conn()
 * lends the connection for ordinary blocking calls (start-up).
 * Single-threaded: the loop's thread only.
 */
#ifndef SINK_TARGET_H
#define SINK_TARGET_H

#include "ferry_buf.h"
#include "ferry_err.h"
#include "sink_loop.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sink_target sink_target_t;

/* A statement's completion: res (borrowed, freed after the call) when it
 * succeeded; or, with SINK_STMT_DATA_OK, rc FERRY_EDATA, the SQLSTATE and
 * the message in err.  Returns 0 to go on (a data error is then handled),
 * or an error class with err set to end the job. */
typedef int (*sink_stmt_fn)(void *arg, size_t aux, PGresult *res, int rc,
                            const char *sqlstate, ferry_err_t *err);

/* A call step: runs the caller's code in its turn.  Returns as
 * sink_stmt_fn. */
typedef int (*sink_call_fn)(void *arg, size_t aux, ferry_err_t *err);

/* A wait step: 1 when what it waits for is there, 0 to be asked again in a
 * few milliseconds, or an error class with err set. */
typedef int (*sink_wait_fn)(void *arg, ferry_err_t *err);

/* A job's end: rc 0, or the class of the step that failed, with err. */
typedef void (*sink_job_fn)(void *arg, int rc, const ferry_err_t *err);

/* Flags of a statement. */
enum {
    SINK_STMT_DATA_OK = 1 /* a data error goes to the completion handler
                             instead of ending the job */
};

/* One statement to push.  Everything is copied by the push. */
typedef struct sink_stmt {
    const char *what;          /* "could not <what>: ..." */
    const char *sql;           /* the statement */
    int n;                     /* text parameters */
    const char *const *params; /* their values; NULL for SQL NULL */
    unsigned flags;            /* SINK_STMT_* */
    long *count;               /* when not NULL: += rows affected */
    sink_stmt_fn done;         /* when not NULL: called with the result */
    void *arg;                 /* borrowed: done's argument */
    size_t aux;                /* passed to done as is */
} sink_stmt_t;

/* Creates the target for the libpq conninfo dsn (borrowed, must outlive
 * it), registered with loop (borrowed).  Does not connect.  Returns a new
 * target (free with sink_target_free()) or NULL when out of memory. */
sink_target_t *sink_target_new(const char *dsn, sink_loop_t *loop);

/* Closes the connection and frees the target and any steps left. */
void sink_target_free(sink_target_t *t);

/* Connects, blocking (start-up).  Returns 0, FERRY_ECONFIG when the target
 * refused the connection (a wrong database, role or password) or
 * FERRY_ETRANSIENT, with err set (see ferry_pg_connect()). */
int sink_target_connect(sink_target_t *t, ferry_err_t *err) FERRY_WUR;

/* Starts connecting again without blocking (after a lost connection):
 * the loop drives it; done(arg, rc, err) is called once it is connected
 * or failed.  A refusal is reported as FERRY_ETRANSIENT here: the target
 * accepted this sink before.  Returns 0 or FERRY_ENOMEM. */
int sink_target_reconnect(sink_target_t *t, sink_job_fn done,
                          void *arg) FERRY_WUR;

/* True while the connection is up. */
bool sink_target_ok(const sink_target_t *t);

/* The connection (borrowed) for blocking calls while no job runs, or NULL
 * when there is none. */
PGconn *sink_target_conn(sink_target_t *t);

/* Appends a statement to the job being built, or, inside a completion
 * handler or a call step, inserts it after the steps that handler pushed
 * before (they run next).  Returns 0 or FERRY_ENOMEM with err set. */
int sink_target_push(sink_target_t *t, const sink_stmt_t *s,
                     ferry_err_t *err) FERRY_WUR;

/* As sink_target_push() for "COPY ... FROM STDIN" sql (copied) with data
 * (taken: the buffer is emptied and its memory moves to the step), in
 * PostgreSQL's text format. */
int sink_target_push_copy(sink_target_t *t, const char *what, const char *sql,
                          ferry_buf_t *data, ferry_err_t *err) FERRY_WUR;

/* As sink_target_push() for a call step fn(arg, aux). */
int sink_target_push_call(sink_target_t *t, sink_call_fn fn, void *arg,
                          size_t aux, ferry_err_t *err) FERRY_WUR;

/* As sink_target_push() for a wait step, asked every few milliseconds
 * until it answers 1, for at most timeout_ms (then FERRY_ETRANSIENT with
 * "timed out waiting for <what>"). */
int sink_target_push_wait(sink_target_t *t, const char *what, sink_wait_fn fn,
                          void *arg, int timeout_ms,
                          ferry_err_t *err) FERRY_WUR;

/* Runs the steps pushed so far as one job; done(arg, rc, err) is called
 * from the loop when the last one is through or one failed.  Returns 0, or
 * FERRY_EFATAL when a job already runs. */
int sink_target_run(sink_target_t *t, sink_job_fn done, void *arg,
                    ferry_err_t *err) FERRY_WUR;

/* Runs the steps pushed so far as one job and waits for its end, turning
 * the loop itself: only while the loop does not run (start-up).  Returns
 * 0 or the class of the step that failed, with err set. */
int sink_target_run_wait(sink_target_t *t, ferry_err_t *err) FERRY_WUR;

/* True while a job (or a reconnect) is under way. */
bool sink_target_busy(const sink_target_t *t);

/* Drops the steps of a job being built that was never run. */
void sink_target_discard(sink_target_t *t);

#endif
