/* The target connection and its queue of asynchronous steps.
 * sink/sink_target.c */
#include "sink_target.h"

#include "ferry_log.h"
#include "ferry_pg.h"
#include "ferry_time.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum op_kind { OP_STMT, OP_COPY, OP_CALL, OP_WAIT };

/* One step of a job.  Everything it points at is owned by it. */
typedef struct op {
    struct op *next;   /* the step after it */
    enum op_kind kind; /* what it is */
    char *what;        /* OP_STMT, OP_COPY, OP_WAIT: for messages */
    char *sql;         /* OP_STMT, OP_COPY */
    int n;             /* OP_STMT: parameters */
    char **params;     /* OP_STMT: their copies (NULL entries: SQL NULL) */
    unsigned flags;    /* OP_STMT: SINK_STMT_* */
    long *count;       /* OP_STMT: borrowed, += rows affected */
    sink_stmt_fn done; /* OP_STMT, OP_COPY: completion, or NULL */
    sink_call_fn call; /* OP_CALL */
    sink_wait_fn wait; /* OP_WAIT */
    void *arg;         /* borrowed: the handler's argument */
    size_t aux;        /* passed to the handler */
    ferry_buf_t data;  /* OP_COPY: the rows */
    int timeout_ms;    /* OP_WAIT */
} op_t;

/* Where the current step is. */
enum phase {
    PH_IDLE = 0,   /* no job */
    PH_FLUSH,      /* a statement is sent, libpq's buffer is not flushed */
    PH_RESULT,     /* waiting for results */
    PH_COPY_DATA,  /* COPY IN accepted: sending data */
    PH_COPY_FLUSH, /* COPY data and end sent, not flushed */
    PH_WAIT,       /* a wait step: asked again on a timer */
    PH_CONNECTING  /* a reconnect in progress */
};

struct sink_target {
    const char *dsn;       /* borrowed */
    sink_loop_t *loop;     /* borrowed */
    PGconn *conn;          /* owned */
    int fd;                /* the socket being watched, or -1 */
    bool accepted;         /* the target accepted this sink once */
    enum phase phase;      /* what the current step waits for */
    op_t *head;            /* owned: the steps left, the current one first */
    op_t *tail;            /* borrowed: the last step */
    op_t *insert_after;    /* borrowed: while a handler runs, where its pushes
                              go (NULL: at the tail) */
    op_t *cur;             /* borrowed: the step that is running, or NULL */
    bool running;          /* a job runs */
    sink_job_fn done;      /* the job's end */
    void *done_arg;        /* borrowed */
    PGresult *last;        /* owned: the current statement's last result */
    size_t copy_sent;      /* OP_COPY: bytes of data sent */
    int64_t wait_until;    /* OP_WAIT: when it times out */
    sink_timer_id_t timer; /* OP_WAIT: the next check */
    sink_timer_id_t ended; /* the job's end, reported from the loop */
    int end_rc;            /* what the ended job reports */
    ferry_err_t err;       /* the failure being reported */
};

static int on_socket(void *arg, int revents, ferry_err_t *err);
static int on_connecting(sink_target_t *t);
static void step(sink_target_t *t);

sink_target_t *
sink_target_new(const char *dsn, sink_loop_t *loop)
{
    sink_target_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->dsn = dsn;
    t->loop = loop;
    t->fd = -1;
    return t;
}

static void
op_free(op_t *o)
{
    int i;

    if (o == NULL)
        return;
    free(o->what);
    free(o->sql);
    for (i = 0; o->params != NULL && i < o->n; i++)
        free(o->params[i]);
    free(o->params);
    ferry_buf_close(&o->data);
    free(o);
}

static void
drop_ops(sink_target_t *t)
{
    while (t->head != NULL) {
        op_t *o = t->head;

        t->head = o->next;
        op_free(o);
    }
    t->tail = t->insert_after = t->cur = NULL;
}

static void
unwatch(sink_target_t *t)
{
    if (t->fd >= 0)
        sink_loop_unwatch(t->loop, t->fd);
    t->fd = -1;
}

/* Watches the connection's socket for events (0: not at all). */
static int
watch(sink_target_t *t, short events)
{
    int fd = t->conn != NULL ? PQsocket(t->conn) : -1;

    if (fd != t->fd)
        unwatch(t);
    if (fd < 0)
        return 0;
    t->fd = fd;
    return sink_loop_watch(t->loop, fd, events, on_socket, t);
}

void
sink_target_free(sink_target_t *t)
{
    if (t == NULL)
        return;
    unwatch(t);
    sink_loop_cancel(t->loop, t->timer);
    sink_loop_cancel(t->loop, t->ended);
    drop_ops(t);
    PQclear(t->last);
    PQfinish(t->conn);
    free(t);
}

/* Notices ("relation already exists, skipping") are not news. */
static void
notice_processor(void *arg, const char *msg)
{
    (void)arg;
    ferry_debug("target: %.*s", (int)strcspn(msg, "\n"), msg);
}

static void
session_ready(sink_target_t *t)
{
    PQsetNoticeProcessor(t->conn, notice_processor, NULL);
    (void)PQsetnonblocking(t->conn, 1);
    t->accepted = true;
}

int
sink_target_connect(sink_target_t *t, ferry_err_t *err)
{
    unwatch(t);
    PQfinish(t->conn);
    t->conn = ferry_pg_connect(t->dsn, NULL, "ferry-sink", "target", err);
    if (t->conn == NULL) {
        /* A refusal at start is a mistake in the DSN: stop and say so.
         * Once the target has accepted us, a refusal (a rotated password,
         * a full server) is waited out like an outage. */
        if (err->status == FERRY_ECONFIG && t->accepted)
            err->status = FERRY_ETRANSIENT;
        return err->status;
    }
    session_ready(t);
    return 0;
}

bool
sink_target_ok(const sink_target_t *t)
{
    return t->conn != NULL && PQstatus(t->conn) == CONNECTION_OK;
}

PGconn *
sink_target_conn(sink_target_t *t)
{
    return t->running ? NULL : t->conn;
}

bool
sink_target_busy(const sink_target_t *t)
{
    return t->running;
}

/* --- building jobs ------------------------------------------------------ */

static op_t *
op_new(enum op_kind kind, const char *what)
{
    op_t *o = calloc(1, sizeof(*o));

    if (o == NULL)
        return NULL;
    o->kind = kind;
    if (what != NULL && (o->what = strdup(what)) == NULL) {
        free(o);
        return NULL;
    }
    return o;
}

/* Links o in: after the handler's earlier pushes while one runs, else at
 * the end. */
static void
link_op(sink_target_t *t, op_t *o)
{
    op_t *after = t->insert_after != NULL ? t->insert_after : t->tail;

    if (after == NULL) {
        o->next = t->head;
        t->head = o;
    } else {
        o->next = after->next;
        after->next = o;
    }
    if (o->next == NULL)
        t->tail = o;
    if (t->insert_after != NULL)
        t->insert_after = o;
}

static int
oom(ferry_err_t *err, const char *what)
{
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory queueing \"%s\" for the target",
                         what != NULL ? what : "a step");
}

int
sink_target_push(sink_target_t *t, const sink_stmt_t *s, ferry_err_t *err)
{
    op_t *o = op_new(OP_STMT, s->what);
    int i;

    if (o == NULL || (o->sql = strdup(s->sql)) == NULL)
        goto fail;
    o->n = s->n;
    if (s->n > 0 && (o->params = calloc((size_t)s->n, sizeof(char *))) == NULL)
        goto fail;
    for (i = 0; i < s->n; i++)
        if (s->params[i] != NULL &&
            (o->params[i] = strdup(s->params[i])) == NULL)
            goto fail;
    o->flags = s->flags;
    o->count = s->count;
    o->done = s->done;
    o->arg = s->arg;
    o->aux = s->aux;
    link_op(t, o);
    return 0;
fail:
    op_free(o);
    return oom(err, s->what);
}

int
sink_target_push_copy(sink_target_t *t, const char *what, const char *sql,
                      ferry_buf_t *data, ferry_err_t *err)
{
    op_t *o = op_new(OP_COPY, what);

    if (o == NULL || (o->sql = strdup(sql)) == NULL) {
        op_free(o);
        return oom(err, what);
    }
    o->data = *data;
    ferry_buf_init(data);
    link_op(t, o);
    return 0;
}

int
sink_target_push_call(sink_target_t *t, sink_call_fn fn, void *arg, size_t aux,
                      ferry_err_t *err)
{
    op_t *o = op_new(OP_CALL, NULL);

    if (o == NULL)
        return oom(err, NULL);
    o->call = fn;
    o->arg = arg;
    o->aux = aux;
    link_op(t, o);
    return 0;
}

int
sink_target_push_wait(sink_target_t *t, const char *what, sink_wait_fn fn,
                      void *arg, int timeout_ms, ferry_err_t *err)
{
    op_t *o = op_new(OP_WAIT, what);

    if (o == NULL)
        return oom(err, what);
    o->wait = fn;
    o->arg = arg;
    o->timeout_ms = timeout_ms;
    link_op(t, o);
    return 0;
}

void
sink_target_discard(sink_target_t *t)
{
    if (!t->running)
        drop_ops(t);
}

/* --- running jobs ------------------------------------------------------- */

/* Reports the job's end from the loop, never from inside the step or the
 * sink_target_run() call that ended it: the done handler may start the
 * next job. */
static int
report_end(void *arg, ferry_err_t *err)
{
    sink_target_t *t = arg;
    sink_job_fn done = t->done;

    (void)err;
    t->ended = 0;
    t->running = false;
    t->done = NULL;
    if (done != NULL)
        done(t->done_arg, t->end_rc, &t->err);
    return 0;
}

/* Ends the job: drops what is left and reports rc. */
static void
finish(sink_target_t *t, int rc)
{
    drop_ops(t);
    PQclear(t->last);
    t->last = NULL;
    sink_loop_cancel(t->loop, t->timer);
    t->timer = 0;
    t->phase = PH_IDLE;
    if (t->conn != NULL)
        (void)watch(t, 0);
    if (rc == 0)
        t->err.status = 0;
    t->end_rc = rc;
    /* Out of memory for the timer: report at once rather than never. */
    if ((t->ended = sink_loop_after(t->loop, 0, report_end, t)) == 0)
        (void)report_end(t, NULL);
}

/* The current step is through: on to the next. */
static void
next_op(sink_target_t *t)
{
    op_t *o = t->head;

    t->head = o->next;
    if (t->head == NULL)
        t->tail = NULL;
    op_free(o);
    t->cur = NULL;
    step(t);
}

/* Runs a handler with its pushes going right after the current step. */
static int
in_handler(sink_target_t *t, op_t *o, PGresult *res, int rc,
           const char *sqlstate)
{
    int hrc;

    t->insert_after = o;
    if (o->kind == OP_CALL)
        hrc = o->call(o->arg, o->aux, &t->err);
    else
        hrc = o->done(o->arg, o->aux, res, rc, sqlstate, &t->err);
    t->insert_after = NULL;
    return hrc;
}

static int
lost(sink_target_t *t, const char *what)
{
    return ferry_err_set(&t->err, FERRY_ETRANSIENT, "could not %s: %s", what,
                         t->conn != NULL && PQerrorMessage(t->conn)[0] != '\0'
                             ? PQerrorMessage(t->conn)
                             : "connection to the target lost");
}

static int
wait_due(void *arg, ferry_err_t *err)
{
    sink_target_t *t = arg;

    (void)err;
    t->timer = 0;
    step(t);
    return 0;
}

/* Starts the head step; call steps run here and now. */
static void
step(sink_target_t *t)
{
    op_t *o;
    int rc;

    while ((o = t->head) != NULL && o->kind == OP_CALL) {
        t->cur = o;
        if ((rc = in_handler(t, o, NULL, 0, NULL)) != 0) {
            finish(t, rc);
            return;
        }
        t->head = o->next;
        if (t->head == NULL)
            t->tail = NULL;
        op_free(o);
    }
    t->cur = o;
    if (o == NULL) {
        finish(t, 0);
        return;
    }
    if (o->kind == OP_WAIT) {
        if (t->phase != PH_WAIT) {
            t->phase = PH_WAIT;
            t->wait_until = ferry_mono_ms() + o->timeout_ms;
        }
        rc = o->wait(o->arg, &t->err);
        if (rc == 1) {
            t->phase = PH_IDLE;
            next_op(t);
            return;
        }
        if (rc == 0 && ferry_mono_ms() > t->wait_until)
            rc = ferry_err_set(&t->err, FERRY_ETRANSIENT,
                               "timed out waiting for %s", o->what);
        if (rc == 0 &&
            (t->timer = sink_loop_after(t->loop, 5, wait_due, t)) == 0)
            rc = oom(&t->err, o->what);
        if (rc != 0)
            finish(t, rc);
        return;
    }
    if (!sink_target_ok(t)) {
        finish(t, lost(t, o->what));
        return;
    }
    /* Without parameters, the simple protocol: a statement may then be
     * several (the state schema's DDL). */
    if (o->kind == OP_COPY || o->n == 0)
        rc = PQsendQuery(t->conn, o->sql);
    else
        rc = PQsendQueryParams(t->conn, o->sql, o->n, NULL,
                               (const char *const *)o->params, NULL, NULL, 0);
    if (rc != 1) {
        finish(t, lost(t, o->what));
        return;
    }
    t->copy_sent = 0;
    t->phase = PH_FLUSH;
    on_socket(t, POLLOUT, NULL);
}

/* The statement's results are all in: hand them to its completion. */
static void
deliver(sink_target_t *t)
{
    op_t *o = t->cur;
    PGresult *res = NULL;
    char sqlstate[6] = "";
    int rc;

    rc = ferry_pg_result(t->conn, t->last, &res, sqlstate, o->what, 0, &t->err);
    t->last = NULL;
    if (rc != 0 && (rc != FERRY_EDATA || !(o->flags & SINK_STMT_DATA_OK) ||
                    o->done == NULL)) {
        finish(t, rc);
        return;
    }
    if (rc == 0 && o->count != NULL)
        *o->count += atol(PQcmdTuples(res));
    if (o->done != NULL)
        rc = in_handler(t, o, res, rc, sqlstate);
    PQclear(res);
    if (rc != 0) {
        finish(t, rc);
        return;
    }
    t->phase = PH_IDLE;
    next_op(t);
}

/* Sends what the COPY step has left; true once its end is sent. */
static bool
copy_send(sink_target_t *t, int *rc)
{
    op_t *o = t->cur;
    size_t chunk = 1u << 20;

    while (t->copy_sent < o->data.len) {
        size_t n = o->data.len - t->copy_sent;
        int r;

        if (n > chunk)
            n = chunk;
        r = PQputCopyData(t->conn, o->data.data + t->copy_sent, (int)n);
        if (r == 0)
            return false; /* libpq's buffer is full: wait for POLLOUT */
        if (r < 0) {
            *rc = lost(t, o->what);
            return false;
        }
        t->copy_sent += n;
    }
    if (PQputCopyEnd(t->conn, NULL) != 1) {
        *rc = lost(t, o->what);
        return false;
    }
    return true;
}

/* Reads what the server sent; returns 0, or an error class with t->err. */
static int
read_results(sink_target_t *t)
{
    if (!PQconsumeInput(t->conn))
        return lost(t, t->cur->what);
    while (!PQisBusy(t->conn)) {
        PGresult *res = PQgetResult(t->conn);

        if (res == NULL) {
            deliver(t);
            return 0;
        }
        if (PQresultStatus(res) == PGRES_COPY_IN) {
            PQclear(res);
            t->phase = PH_COPY_DATA;
            return 0;
        }
        PQclear(t->last);
        t->last = res;
    }
    return 0;
}

static int
on_socket(void *arg, int revents, ferry_err_t *err)
{
    sink_target_t *t = arg;
    int rc = 0;

    (void)err;
    if (t->phase == PH_CONNECTING)
        return on_connecting(t);
    if (t->phase == PH_COPY_DATA && copy_send(t, &rc))
        t->phase = PH_COPY_FLUSH;
    if (rc == 0 && (t->phase == PH_FLUSH || t->phase == PH_COPY_FLUSH)) {
        int f = PQflush(t->conn);

        if (f < 0)
            rc = lost(t, t->cur->what);
        else if (f == 0)
            t->phase = PH_RESULT;
    }
    if (rc == 0 && t->phase == PH_RESULT &&
        (revents & (POLLIN | POLLERR | POLLHUP)))
        rc = read_results(t);
    if (rc != 0) {
        finish(t, rc);
        return 0;
    }
    /* Results may have been read along with the flush; the phase tells
     * what to wait for next. */
    switch (t->phase) {
    case PH_FLUSH:
    case PH_COPY_FLUSH:
        rc = watch(t, POLLIN | POLLOUT);
        break;
    case PH_COPY_DATA:
        rc = watch(t, POLLOUT);
        break;
    case PH_RESULT:
        rc = watch(t, POLLIN);
        break;
    default:
        break;
    }
    if (rc != 0)
        finish(t, oom(&t->err, "watching the target's socket"));
    return 0;
}

int
sink_target_run(sink_target_t *t, sink_job_fn done, void *arg, ferry_err_t *err)
{
    if (t->running)
        return ferry_err_set(err, FERRY_EFATAL,
                             "a target job is already running");
    t->running = true;
    t->done = done;
    t->done_arg = arg;
    t->err.status = 0;
    t->err.msg[0] = '\0';
    step(t);
    return 0;
}

/* What sink_target_run_wait() waits for. */
typedef struct waiter {
    bool done;       /* the job ended */
    int rc;          /* how */
    ferry_err_t err; /* why */
} waiter_t;

static void
waited(void *arg, int rc, const ferry_err_t *err)
{
    waiter_t *w = arg;

    w->done = true;
    w->rc = rc;
    if (rc != 0)
        w->err = *err;
}

int
sink_target_run_wait(sink_target_t *t, ferry_err_t *err)
{
    waiter_t w = {false, 0, {0, ""}};
    int rc = sink_target_run(t, waited, &w, err);

    while (rc == 0 && !w.done)
        rc = sink_loop_once(t->loop, err);
    if (rc != 0)
        return rc;
    if (w.rc != 0 && err != NULL)
        *err = w.err;
    return w.rc;
}

/* --- reconnecting ------------------------------------------------------- */

static int
on_connecting(sink_target_t *t)
{
    PostgresPollingStatusType st = PQconnectPoll(t->conn);

    if (st == PGRES_POLLING_OK) {
        session_ready(t);
        finish(t, 0);
        return 0;
    }
    if (st == PGRES_POLLING_FAILED) {
        char safe[256];

        ferry_err_set(&t->err, FERRY_ETRANSIENT,
                      "could not connect to the target (%s): %s",
                      ferry_log_dsn_safe(t->dsn, safe, sizeof(safe)),
                      PQerrorMessage(t->conn));
        unwatch(t);
        finish(t, FERRY_ETRANSIENT);
        return 0;
    }
    if (watch(t, st == PGRES_POLLING_READING ? POLLIN : POLLOUT) != 0)
        finish(t, oom(&t->err, "watching the target's socket"));
    return 0;
}

int
sink_target_reconnect(sink_target_t *t, sink_job_fn done, void *arg)
{
    const char *keys[3] = {"dbname", "fallback_application_name", NULL};
    const char *vals[3] = {t->dsn, "ferry-sink", NULL};

    if (t->running)
        return FERRY_EFATAL;
    unwatch(t);
    PQfinish(t->conn);
    drop_ops(t);
    t->conn = PQconnectStartParams(keys, vals, 1);
    if (t->conn == NULL)
        return FERRY_ENOMEM;
    t->running = true;
    t->phase = PH_CONNECTING;
    t->done = done;
    t->done_arg = arg;
    t->err.status = 0;
    t->err.msg[0] = '\0';
    if (PQstatus(t->conn) == CONNECTION_BAD) {
        /* Not even started (an unparsable DSN cannot get here: it was
         * parsed at start); report from the loop like any failure. */
        ferry_err_set(&t->err, FERRY_ETRANSIENT,
                      "could not connect to the target: %s",
                      PQerrorMessage(t->conn));
        finish(t, FERRY_ETRANSIENT);
        return 0;
    }
    return watch(t, POLLOUT) != 0 ? FERRY_ENOMEM : 0;
}
