/* Unit tests of ferry-sink's event loop and of the order in which the
 * target's job runs its steps (no server: call and wait steps only, and a
 * statement on a connection that is not there).
 * tests/unit/sink/test_sink_target.c */
#include "ferry_time.h"
#include "sink_loop.h"
#include "sink_target.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* --- the loop ----------------------------------------------------------- */

typedef struct seen {
    char order[32]; /* the handlers, in the order they ran */
    size_t n;
    sink_loop_t *loop;
    int stop_after; /* stop the loop once this many ran */
    int fd;         /* the pipe's read end */
} seen_t;

static int
mark(seen_t *s, char c)
{
    s->order[s->n++] = c;
    if ((int)s->n == s->stop_after)
        sink_loop_stop(s->loop);
    return 0;
}

static int
timer_a(void *arg, ferry_err_t *err)
{
    (void)err;
    return mark(arg, 'a');
}

static int
timer_b(void *arg, ferry_err_t *err)
{
    (void)err;
    return mark(arg, 'b');
}

static int
timer_fail(void *arg, ferry_err_t *err)
{
    (void)arg;
    return ferry_err_set(err, FERRY_EFATAL, "handler failed on purpose");
}

static void
loop_timers_run_in_deadline_order(void **state)
{
    seen_t s = {"", 0, NULL, 3, -1};
    ferry_err_t err = {0, ""};
    sink_timer_id_t cancelled;

    (void)state;
    s.loop = sink_loop_new(NULL);
    assert_non_null(s.loop);
    assert_true(sink_loop_after(s.loop, 30, timer_b, &s) != 0);
    assert_true(sink_loop_after(s.loop, 10, timer_a, &s) != 0);
    cancelled = sink_loop_after(s.loop, 5, timer_fail, &s);
    sink_loop_cancel(s.loop, cancelled);
    assert_true(sink_loop_after(s.loop, 60, timer_a, &s) != 0);
    assert_int_equal(sink_loop_run(s.loop, &err), 0);
    assert_string_equal(s.order, "aba");
    sink_loop_free(s.loop);
}

static void
loop_stops_on_a_handler_error(void **state)
{
    sink_loop_t *l = sink_loop_new(NULL);
    ferry_err_t err = {0, ""};

    (void)state;
    assert_true(sink_loop_after(l, 0, timer_fail, NULL) != 0);
    assert_int_equal(sink_loop_run(l, &err), FERRY_EFATAL);
    assert_string_equal(err.msg, "handler failed on purpose");
    sink_loop_free(l);
}

static int
pipe_ready(void *arg, int revents, ferry_err_t *err)
{
    seen_t *s = arg;
    char c;

    (void)revents;
    (void)err;
    if (read(s->fd, &c, 1) != 1)
        return FERRY_EFATAL;
    return mark(s, 'p');
}

static int
write_pipe(void *arg, ferry_err_t *err)
{
    int fd = *(int *)arg;

    (void)err;
    return write(fd, "x", 1) == 1 ? 0 : FERRY_EFATAL;
}

static void
loop_calls_a_ready_descriptor(void **state)
{
    seen_t s = {"", 0, NULL, 1, -1};
    ferry_err_t err = {0, ""};
    int fds[2];

    (void)state;
    assert_int_equal(pipe(fds), 0);
    s.fd = fds[0];
    s.loop = sink_loop_new(NULL);
    assert_int_equal(sink_loop_watch(s.loop, fds[0], POLLIN, pipe_ready, &s),
                     0);
    assert_true(sink_loop_after(s.loop, 20, write_pipe, &fds[1]) != 0);
    assert_int_equal(sink_loop_run(s.loop, &err), 0);
    assert_string_equal(s.order, "p");
    sink_loop_unwatch(s.loop, fds[0]);
    sink_loop_free(s.loop);
    close(fds[0]);
    close(fds[1]);
}

/* --- the job's order ---------------------------------------------------- */

typedef struct job {
    sink_target_t *t;
    char order[64];
    size_t n;
    bool done;
    int rc;
    ferry_err_t err;
    int waits;       /* times the wait step was asked */
    int ready_after; /* the wait step answers 1 after this many */
} job_t;

static int
step_x(void *arg, size_t aux, ferry_err_t *err)
{
    job_t *j = arg;

    (void)err;
    j->order[j->n++] = (char)aux;
    return 0;
}

/* 'A' pushes 'C' and 'D': they run before 'B', which was pushed before. */
static int
step_a(void *arg, size_t aux, ferry_err_t *err)
{
    job_t *j = arg;
    int rc;

    j->order[j->n++] = (char)aux;
    if ((rc = sink_target_push_call(j->t, step_x, j, 'C', err)) != 0)
        return rc;
    return sink_target_push_call(j->t, step_x, j, 'D', err);
}

/* 'C' pushes 'E': nested, it runs before 'D'. */
static int
step_c(void *arg, size_t aux, ferry_err_t *err)
{
    job_t *j = arg;

    j->order[j->n++] = (char)aux;
    return sink_target_push_call(j->t, step_x, j, 'E', err);
}

static int
step_fail(void *arg, size_t aux, ferry_err_t *err)
{
    job_t *j = arg;

    j->order[j->n++] = (char)aux;
    return ferry_err_set(err, FERRY_EDATA, "step %c failed", (char)aux);
}

static int
waiting(void *arg, ferry_err_t *err)
{
    job_t *j = arg;

    (void)err;
    return ++j->waits >= j->ready_after ? 1 : 0;
}

static void
job_done(void *arg, int rc, const ferry_err_t *err)
{
    job_t *j = arg;

    j->done = true;
    j->rc = rc;
    if (rc != 0)
        j->err = *err;
}

/* Runs the loop until the job has ended. */
static void
run_job(sink_loop_t *l, job_t *j)
{
    ferry_err_t err = {0, ""};
    int64_t until = ferry_mono_ms() + 5000;

    assert_int_equal(sink_target_run(j->t, job_done, j, &err), 0);
    /* The end is reported from the loop, never from inside run(). */
    assert_false(j->done);
    while (!j->done && ferry_mono_ms() < until)
        assert_int_equal(sink_loop_once(l, &err), 0);
    assert_true(j->done);
}

static int
push_a_then_b(job_t *j, ferry_err_t *err)
{
    int rc = sink_target_push_call(j->t, step_a, j, 'A', err);

    return rc != 0 ? rc : sink_target_push_call(j->t, step_x, j, 'B', err);
}

static void
steps_pushed_by_a_step_run_next(void **state)
{
    sink_loop_t *l = sink_loop_new(NULL);
    job_t j;
    ferry_err_t err = {0, ""};

    (void)state;
    memset(&j, 0, sizeof(j));
    j.t = sink_target_new("host=127.0.0.1 port=1", l);
    assert_int_equal(push_a_then_b(&j, &err), 0);
    run_job(l, &j);
    assert_int_equal(j.rc, 0);
    assert_string_equal(j.order, "ACDB");

    /* Nested: a step pushed by C goes before D. */
    memset(j.order, 0, sizeof(j.order));
    j.n = 0;
    j.done = false;
    assert_int_equal(sink_target_push_call(j.t, step_c, &j, 'C', &err), 0);
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'D', &err), 0);
    run_job(l, &j);
    assert_string_equal(j.order, "CED");
    sink_target_free(j.t);
    sink_loop_free(l);
}

static void
a_failing_step_ends_the_job(void **state)
{
    sink_loop_t *l = sink_loop_new(NULL);
    job_t j;
    ferry_err_t err = {0, ""};

    (void)state;
    memset(&j, 0, sizeof(j));
    j.t = sink_target_new("host=127.0.0.1 port=1", l);
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'A', &err), 0);
    assert_int_equal(sink_target_push_call(j.t, step_fail, &j, 'F', &err), 0);
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'B', &err), 0);
    run_job(l, &j);
    assert_int_equal(j.rc, FERRY_EDATA);
    assert_string_equal(j.err.msg, "step F failed");
    assert_string_equal(j.order, "AF");
    /* The rest was dropped: the next job starts empty. */
    assert_false(sink_target_busy(j.t));
    j.done = false;
    j.n = 0;
    memset(j.order, 0, sizeof(j.order));
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'Z', &err), 0);
    run_job(l, &j);
    assert_string_equal(j.order, "Z");
    sink_target_free(j.t);
    sink_loop_free(l);
}

static void
a_wait_step_is_asked_until_ready_or_timed_out(void **state)
{
    sink_loop_t *l = sink_loop_new(NULL);
    job_t j;
    ferry_err_t err = {0, ""};

    (void)state;
    memset(&j, 0, sizeof(j));
    j.t = sink_target_new("host=127.0.0.1 port=1", l);
    j.ready_after = 4;
    assert_int_equal(
        sink_target_push_wait(j.t, "the test", waiting, &j, 5000, &err), 0);
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'W', &err), 0);
    run_job(l, &j);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.waits, 4);
    assert_string_equal(j.order, "W");

    j.done = false;
    j.waits = 0;
    j.ready_after = 1000000;
    assert_int_equal(
        sink_target_push_wait(j.t, "the test", waiting, &j, 30, &err), 0);
    run_job(l, &j);
    assert_int_equal(j.rc, FERRY_ETRANSIENT);
    assert_string_equal(j.err.msg, "timed out waiting for the test");
    sink_target_free(j.t);
    sink_loop_free(l);
}

static void
a_statement_without_a_connection_is_transient(void **state)
{
    sink_loop_t *l = sink_loop_new(NULL);
    job_t j;
    ferry_err_t err = {0, ""};

    (void)state;
    memset(&j, 0, sizeof(j));
    j.t = sink_target_new("host=127.0.0.1 port=1", l);
    assert_int_equal(
        sink_target_push(j.t, &(sink_stmt_t){.what = "begin", .sql = "BEGIN"},
                         &err),
        0);
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'N', &err), 0);
    run_job(l, &j);
    assert_int_equal(j.rc, FERRY_ETRANSIENT);
    assert_non_null(strstr(j.err.msg, "could not begin"));
    assert_string_equal(j.order, "");
    /* A second job cannot start while one runs. */
    assert_int_equal(sink_target_push_call(j.t, step_x, &j, 'N', &err), 0);
    j.done = false;
    assert_int_equal(sink_target_run(j.t, job_done, &j, &err), 0);
    assert_int_equal(sink_target_run(j.t, job_done, &j, &err), FERRY_EFATAL);
    while (!j.done)
        assert_int_equal(sink_loop_once(l, &err), 0);
    sink_target_free(j.t);
    sink_loop_free(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loop_timers_run_in_deadline_order),
        cmocka_unit_test(loop_stops_on_a_handler_error),
        cmocka_unit_test(loop_calls_a_ready_descriptor),
        cmocka_unit_test(steps_pushed_by_a_step_run_next),
        cmocka_unit_test(a_failing_step_ends_the_job),
        cmocka_unit_test(a_wait_step_is_asked_until_ready_or_timed_out),
        cmocka_unit_test(a_statement_without_a_connection_is_transient),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
