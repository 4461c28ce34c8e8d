/* One target transaction at a time, and its retries.
 * sink/sink_commit.c */
#include "sink_commit.h"

#include "ferry_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where an attempt is. */
enum stage {
    ST_IDLE = 0, /* nothing under way */
    ST_BODY,     /* the transaction's job runs */
    ST_ROLLBACK, /* rolling a failed attempt back */
    ST_PAUSE,    /* waiting before the next try */
    ST_CONNECT,  /* reconnecting */
    ST_SESSION   /* setting the new session up */
};

struct sink_commit {
    sink_loop_t *loop;         /* borrowed */
    sink_target_t *t;          /* borrowed */
    sink_commit_hooks_t hooks; /* what the rest of the sink does */
    enum stage stage;          /* where the attempt is */
    char what[200];            /* the work, for messages */
    unsigned flags;            /* SINK_COMMIT_* */
    sink_body_fn body;         /* the caller's steps */
    sink_end_fn end;           /* the caller's end */
    void *arg;                 /* borrowed: their argument */
    long backoff;              /* ms before the next try */
    int failed;                /* the class of the failure being handled */
    ferry_err_t err;           /* its message */
    sink_timer_id_t timer;     /* the pause */
};

sink_commit_t *
sink_commit_new(sink_loop_t *loop, sink_target_t *t,
                const sink_commit_hooks_t *hooks)
{
    sink_commit_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->loop = loop;
    c->t = t;
    if (hooks != NULL)
        c->hooks = *hooks;
    return c;
}

static void
ended(sink_commit_t *c, bool committed)
{
    if (c->hooks.ended != NULL)
        c->hooks.ended(c->hooks.arg, committed);
}

void
sink_commit_free(sink_commit_t *c)
{
    if (c == NULL)
        return;
    sink_loop_cancel(c->loop, c->timer);
    free(c);
}

bool
sink_commit_busy(const sink_commit_t *c)
{
    return c->stage != ST_IDLE;
}

/* Reports the end to the caller; the driver is idle again first, so that
 * the caller may start the next attempt from its end handler. */
static void
report(sink_commit_t *c, int rc, const ferry_err_t *err)
{
    sink_end_fn end = c->end;
    ferry_err_t copy;

    if (err != NULL)
        copy = *err;
    else
        copy.status = rc, copy.msg[0] = '\0';
    c->stage = ST_IDLE;
    c->end = NULL;
    if (end != NULL)
        end(c->arg, rc, &copy);
}

static void start_attempt(sink_commit_t *c);
static void pause_then_retry(sink_commit_t *c);

static void
session_done(void *arg, int rc, const ferry_err_t *err)
{
    sink_commit_t *c = arg;

    if (rc == 0) {
        if (c->flags & SINK_COMMIT_NO_RETRY) {
            report(c, c->failed, &c->err);
            return;
        }
        start_attempt(c);
        return;
    }
    if (rc != FERRY_ETRANSIENT) {
        report(c, rc, err);
        return;
    }
    c->err = *err;
    ferry_warn("%s; retrying in %ld ms", err->msg, c->backoff);
    pause_then_retry(c);
}

/* A new connection: the session's lock and settings, then what the
 * applier needs on it. */
static void
connected(void *arg, int rc, const ferry_err_t *err)
{
    sink_commit_t *c = arg;
    ferry_err_t e = {0, ""};

    if (rc != 0) {
        c->err = *err;
        ferry_warn("%s; retrying in %ld ms", err->msg, c->backoff);
        pause_then_retry(c);
        return;
    }
    c->stage = ST_SESSION;
    if ((c->hooks.session != NULL &&
         (rc = c->hooks.session(c->hooks.arg, &e)) != 0) ||
        (rc = sink_target_run(c->t, session_done, c, &e)) != 0) {
        sink_target_discard(c->t);
        report(c, rc, &e);
    }
}

/* The pause is over: reconnect if the connection is gone, else try
 * again. */
static int
pause_over(void *arg, ferry_err_t *err)
{
    sink_commit_t *c = arg;
    int rc;

    (void)err;
    c->timer = 0;
    if (sink_loop_stopping(c->loop)) {
        ferry_err_t e;

        ferry_err_set(&e, FERRY_ETRANSIENT, "stopped while retrying: %s",
                      c->err.msg);
        report(c, FERRY_ETRANSIENT, &e);
        return 0;
    }
    if (sink_target_ok(c->t)) {
        if (c->flags & SINK_COMMIT_NO_RETRY) {
            report(c, c->failed, &c->err);
            return 0;
        }
        start_attempt(c);
        return 0;
    }
    c->stage = ST_CONNECT;
    if ((rc = sink_target_reconnect(c->t, connected, c)) != 0) {
        ferry_err_t e;

        ferry_err_set(&e, rc, "out of memory reconnecting to the target");
        report(c, rc, &e);
    }
    return 0;
}

static void
pause_then_retry(sink_commit_t *c)
{
    c->stage = ST_PAUSE;
    c->timer = sink_loop_after(c->loop, c->backoff, pause_over, c);
    c->backoff = c->backoff * 2 > 10000 ? 10000 : c->backoff * 2;
    if (c->timer == 0) {
        ferry_err_t e;

        ferry_err_set(&e, FERRY_ENOMEM, "out of memory arming a timer");
        report(c, FERRY_ENOMEM, &e);
    }
}

static void
rolled_back(void *arg, int rc, const ferry_err_t *err)
{
    sink_commit_t *c = arg;

    (void)err;
    /* A rollback that fails has lost the connection: the retry
     * reconnects. */
    (void)rc;
    if (c->failed != FERRY_ETRANSIENT) {
        report(c, c->failed, &c->err);
        return;
    }
    pause_then_retry(c);
}

/* The attempt failed: roll back (when the connection is still there),
 * then retry or report. */
static void
failed(sink_commit_t *c, int rc, const ferry_err_t *err)
{
    ferry_err_t e = {0, ""};

    ended(c, false);
    c->failed = rc == FERRY_EDATA ? FERRY_EFATAL : rc;
    c->err = *err;
    c->err.status = c->failed;
    if (c->failed == FERRY_ETRANSIENT)
        ferry_warn("%s; retrying %s in %ld ms", err->msg, c->what, c->backoff);
    if (!sink_target_ok(c->t)) {
        rolled_back(c, 0, NULL);
        return;
    }
    c->stage = ST_ROLLBACK;
    if (sink_target_push(c->t,
                         &(sink_stmt_t){.what = "roll back", .sql = "ROLLBACK"},
                         &e) != 0 ||
        sink_target_run(c->t, rolled_back, c, &e) != 0) {
        sink_target_discard(c->t);
        rolled_back(c, 0, NULL);
    }
}

/* An attempt that failed before its job ran is handled from the loop, as
 * every end is: never inside the sink_commit_run() that started it. */
static int
failed_later(void *arg, ferry_err_t *err)
{
    sink_commit_t *c = arg;
    ferry_err_t why = c->err;

    (void)err;
    c->timer = 0;
    failed(c, why.status, &why);
    return 0;
}

static void
attempt_done(void *arg, int rc, const ferry_err_t *err)
{
    sink_commit_t *c = arg;

    if (rc != 0) {
        failed(c, rc, err);
        return;
    }
    /* Work left in an open transaction has not ended yet. */
    if (c->flags & SINK_COMMIT_ROLLBACK)
        ended(c, false);
    else if (!(c->flags & SINK_COMMIT_KEEP_OPEN))
        ended(c, true);
    report(c, 0, NULL);
}

static void
start_attempt(sink_commit_t *c)
{
    ferry_err_t e = {0, ""};
    int rc = 0;

    c->stage = ST_BODY;
    if (!(c->flags & SINK_COMMIT_OPEN))
        rc = sink_target_push(
            c->t, &(sink_stmt_t){.what = "begin a transaction", .sql = "BEGIN"},
            &e);
    if (rc == 0)
        rc = c->body(c->arg, &e);
    if (rc == 0 && (c->flags & SINK_COMMIT_ROLLBACK))
        rc = sink_target_push(
            c->t, &(sink_stmt_t){.what = "roll back", .sql = "ROLLBACK"}, &e);
    else if (rc == 0 && !(c->flags & SINK_COMMIT_KEEP_OPEN)) {
        if (c->hooks.before_commit != NULL)
            rc = c->hooks.before_commit(c->hooks.arg, &e);
        if (rc == 0)
            rc = sink_target_push(
                c->t, &(sink_stmt_t){.what = "commit", .sql = "COMMIT"}, &e);
    }
    if (rc == 0)
        rc = sink_target_run(c->t, attempt_done, c, &e);
    if (rc != 0) {
        sink_target_discard(c->t);
        /* Nothing ran: an attempt that never started fails like one that
         * did (the open transaction, if any, is rolled back). */
        c->err = e;
        c->err.status = rc;
        if ((c->timer = sink_loop_after(c->loop, 0, failed_later, c)) == 0)
            failed(c, rc, &e);
    }
}

int
sink_commit_run(sink_commit_t *c, const char *what, unsigned flags,
                sink_body_fn body, sink_end_fn end, void *arg, ferry_err_t *err)
{
    if (c->stage != ST_IDLE)
        return ferry_err_set(err, FERRY_EFATAL,
                             "a target transaction is already under way");
    snprintf(c->what, sizeof(c->what), "%s", what);
    c->flags = flags;
    c->body = body;
    c->end = end;
    c->arg = arg;
    c->backoff = 100;
    start_attempt(c);
    return 0;
}
