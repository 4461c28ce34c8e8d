/* Unit tests of the in-flight window that decides which LSN may be confirmed.
 * tests/unit/cdc/test_cdc_lsnwin.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cdc_lsnwin.h"

static void
test_commit_is_not_confirmable_before_its_messages_are_acked(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(8, 100);
    uint64_t a, b;

    (void)state;
    a = cdc_lsnwin_add(w);
    b = cdc_lsnwin_add(w);
    cdc_lsnwin_commit(w, 200);
    assert_int_equal(cdc_lsnwin_confirmable(w), 100);
    cdc_lsnwin_ack(w, b); /* out of order: a is still pending */
    assert_int_equal(cdc_lsnwin_confirmable(w), 100);
    cdc_lsnwin_ack(w, a);
    assert_int_equal(cdc_lsnwin_confirmable(w), 200);
    assert_int_equal(cdc_lsnwin_inflight(w), 0);
    cdc_lsnwin_destroy(w);
}

static void
test_later_commit_waits_for_its_own_messages_only(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(8, 0);
    uint64_t a, b;

    (void)state;
    a = cdc_lsnwin_add(w);
    cdc_lsnwin_commit(w, 10);
    b = cdc_lsnwin_add(w);
    cdc_lsnwin_commit(w, 20);
    cdc_lsnwin_ack(w, a);
    assert_int_equal(cdc_lsnwin_confirmable(w), 10);
    cdc_lsnwin_ack(w, b);
    assert_int_equal(cdc_lsnwin_confirmable(w), 20);
    cdc_lsnwin_destroy(w);
}

static void
test_empty_transactions_confirm_at_once_when_idle(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(4, 5);

    (void)state;
    cdc_lsnwin_commit(w, 50);
    cdc_lsnwin_commit(w, 60);
    assert_int_equal(cdc_lsnwin_confirmable(w), 60);
    cdc_lsnwin_destroy(w);
}

static void
test_empty_transactions_behind_pending_message_wait(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(2, 0);
    uint64_t a;

    (void)state;
    a = cdc_lsnwin_add(w);
    cdc_lsnwin_commit(w, 10);
    /* Many idle commits merge into one pending point: memory stays flat. */
    for (uint64_t l = 11; l < 10000; l++)
        cdc_lsnwin_commit(w, l);
    assert_int_equal(cdc_lsnwin_confirmable(w), 0);
    cdc_lsnwin_ack(w, a);
    assert_int_equal(cdc_lsnwin_confirmable(w), 9999);
    cdc_lsnwin_destroy(w);
}

static void
test_full_window_applies_backpressure(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(3, 0);
    uint64_t s[3];

    (void)state;
    for (int i = 0; i < 3; i++) {
        assert_false(cdc_lsnwin_full(w));
        s[i] = cdc_lsnwin_add(w);
    }
    assert_true(cdc_lsnwin_full(w));
    cdc_lsnwin_ack(w, s[1]);
    assert_true(cdc_lsnwin_full(w)); /* s[0] still blocks the low mark */
    cdc_lsnwin_ack(w, s[0]);
    assert_false(cdc_lsnwin_full(w));
    assert_int_equal(cdc_lsnwin_inflight(w), 1);
    cdc_lsnwin_destroy(w);
}

static void
test_unadd_returns_a_sequence_never_produced(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(4, 0);
    uint64_t a, b;

    (void)state;
    a = cdc_lsnwin_add(w);
    b = cdc_lsnwin_add(w);
    cdc_lsnwin_unadd(w, b);
    cdc_lsnwin_commit(w, 30);
    cdc_lsnwin_ack(w, a);
    assert_int_equal(cdc_lsnwin_confirmable(w), 30);
    cdc_lsnwin_destroy(w);
}

static void
test_ring_wraps_many_times(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(5, 0);

    (void)state;
    for (uint64_t i = 1; i <= 1000; i++) {
        uint64_t a = cdc_lsnwin_add(w);
        uint64_t b = cdc_lsnwin_add(w);
        cdc_lsnwin_commit(w, i * 10);
        cdc_lsnwin_ack(w, b);
        cdc_lsnwin_ack(w, a);
        cdc_lsnwin_ack(w, a); /* duplicate report is harmless */
        assert_int_equal(cdc_lsnwin_confirmable(w), i * 10);
    }
    cdc_lsnwin_destroy(w);
}

/* A mark taken after some messages is reached once those are acknowledged,
 * whatever comes after it (a re-snapshot's last chunk, then more changes). */
static void
test_mark_waits_for_the_messages_before_it(void **state)
{
    cdc_lsnwin_t *w = cdc_lsnwin_new(8, 0);
    uint64_t a, b, c, mark;

    (void)state;
    assert_true(cdc_lsnwin_acked_before(w, cdc_lsnwin_next_seq(w)));
    a = cdc_lsnwin_add(w);
    b = cdc_lsnwin_add(w);
    mark = cdc_lsnwin_next_seq(w);
    c = cdc_lsnwin_add(w);
    assert_false(cdc_lsnwin_acked_before(w, mark));
    cdc_lsnwin_ack(w, b);
    assert_false(cdc_lsnwin_acked_before(w, mark));
    cdc_lsnwin_ack(w, a);
    assert_true(cdc_lsnwin_acked_before(w, mark));
    assert_false(cdc_lsnwin_acked_before(w, cdc_lsnwin_next_seq(w)));
    cdc_lsnwin_ack(w, c);
    assert_true(cdc_lsnwin_acked_before(w, cdc_lsnwin_next_seq(w)));
    cdc_lsnwin_destroy(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_commit_is_not_confirmable_before_its_messages_are_acked),
        cmocka_unit_test(test_later_commit_waits_for_its_own_messages_only),
        cmocka_unit_test(test_empty_transactions_confirm_at_once_when_idle),
        cmocka_unit_test(test_empty_transactions_behind_pending_message_wait),
        cmocka_unit_test(test_full_window_applies_backpressure),
        cmocka_unit_test(test_unadd_returns_a_sequence_never_produced),
        cmocka_unit_test(test_ring_wraps_many_times),
        cmocka_unit_test(test_mark_waits_for_the_messages_before_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
