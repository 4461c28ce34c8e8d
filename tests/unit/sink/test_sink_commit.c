/* Unit tests of ferry-sink's transaction driver without a server: a target
 * that cannot be reached is retried with a growing pause until the sink is
 * asked to stop, nothing is reported committed, and a failure that is not
 * transient is the caller's at once.
 * tests/unit/sink/test_sink_commit.c */
#include "ferry_time.h"
#include "sink_commit.h"
#include "sink_loop.h"
#include "sink_target.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct probe {
    sink_loop_t *loop;
    volatile sig_atomic_t stop;
    int bodies;      /* attempts whose steps were pushed */
    int sessions;    /* new sessions set up */
    int committed;   /* attempts that ended committed */
    int rolled_back; /* attempts that ended rolled back */
    bool ended;      /* the caller's end came */
    int rc;          /* with this */
    ferry_err_t err; /* and this */
    int body_rc;     /* what the body returns */
} probe_t;

static int
session(void *arg, ferry_err_t *err)
{
    (void)err;
    ((probe_t *)arg)->sessions++;
    return 0;
}

static void
ended(void *arg, bool committed)
{
    probe_t *p = arg;

    if (committed)
        p->committed++;
    else
        p->rolled_back++;
}

static int
body(void *arg, ferry_err_t *err)
{
    probe_t *p = arg;

    p->bodies++;
    if (p->body_rc != 0)
        return ferry_err_set(err, p->body_rc, "the body refused");
    return 0;
}

static void
end(void *arg, int rc, const ferry_err_t *err)
{
    probe_t *p = arg;

    p->ended = true;
    p->rc = rc;
    p->err = *err;
    sink_loop_stop(p->loop);
}

static int
ask_to_stop(void *arg, ferry_err_t *err)
{
    (void)err;
    ((probe_t *)arg)->stop = 1;
    return 0;
}

static void
run(probe_t *p, sink_commit_t *c, unsigned flags, int stop_after_ms)
{
    ferry_err_t err = {0, ""};

    assert_int_equal(
        sink_commit_run(c, "the test batch", flags, body, end, p, &err), 0);
    assert_true(sink_commit_busy(c));
    assert_int_equal(sink_commit_run(c, "another", flags, body, end, p, &err),
                     FERRY_EFATAL);
    if (stop_after_ms > 0)
        assert_true(sink_loop_after(p->loop, stop_after_ms, ask_to_stop, p) !=
                    0);
    assert_int_equal(sink_loop_run(p->loop, &err), 0);
    assert_true(p->ended);
    assert_false(sink_commit_busy(c));
}

static void
an_unreachable_target_is_retried_until_stopped(void **state)
{
    probe_t p;
    sink_target_t *t;
    sink_commit_t *c;
    int64_t t0 = ferry_mono_ms();

    (void)state;
    memset(&p, 0, sizeof(p));
    p.loop = sink_loop_new(&p.stop);
    t = sink_target_new("host=127.0.0.1 port=1 connect_timeout=1", p.loop);
    c = sink_commit_new(p.loop, t,
                        &(sink_commit_hooks_t){session, NULL, ended, &p});
    run(&p, c, 0, 1200);
    assert_int_equal(p.rc, FERRY_ETRANSIENT);
    assert_non_null(strstr(p.err.msg, "stopped while retrying: "));
    /* The first attempt pushed its steps; it never got further than
     * BEGIN, so nothing was committed and no session was ever set up. */
    assert_true(p.bodies >= 1);
    assert_int_equal(p.committed, 0);
    assert_int_equal(p.sessions, 0);
    assert_true(p.rolled_back >= 1);
    /* Pauses of 100, 200, 400, 800 ms: it waited, it did not spin. */
    assert_true(ferry_mono_ms() - t0 >= 1000);
    sink_commit_free(c);
    sink_target_free(t);
    sink_loop_free(p.loop);
}

static void
a_failure_that_is_not_transient_is_reported_at_once(void **state)
{
    probe_t p;
    sink_target_t *t;
    sink_commit_t *c;
    int64_t t0 = ferry_mono_ms();

    (void)state;
    memset(&p, 0, sizeof(p));
    p.loop = sink_loop_new(&p.stop);
    p.body_rc = FERRY_EFATAL;
    t = sink_target_new("host=127.0.0.1 port=1", p.loop);
    c = sink_commit_new(p.loop, t,
                        &(sink_commit_hooks_t){session, NULL, ended, &p});
    run(&p, c, 0, 0);
    assert_int_equal(p.rc, FERRY_EFATAL);
    assert_string_equal(p.err.msg, "the body refused");
    assert_int_equal(p.bodies, 1);
    assert_int_equal(p.rolled_back, 1);
    assert_int_equal(p.committed, 0);
    assert_true(ferry_mono_ms() - t0 < 1000);
    sink_commit_free(c);
    sink_target_free(t);
    sink_loop_free(p.loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_unreachable_target_is_retried_until_stopped),
        cmocka_unit_test(a_failure_that_is_not_transient_is_reported_at_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
