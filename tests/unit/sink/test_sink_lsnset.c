/* Unit tests of the window of applied commit LSNs.
 * tests/unit/sink/test_sink_lsnset.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sink_lsnset.h"

/* In-order additions keep exactly the last N and report the floor. */
static void
window_keeps_last_n(void **state)
{
    sink_lsnset_t s;
    uint64_t i;

    (void)state;
    sink_lsnset_init(&s, 100);
    assert_int_equal(sink_lsnset_floor(&s), 0);
    for (i = 1; i <= 100000; i++)
        assert_int_equal(sink_lsnset_add(&s, i * 16), 0);
    assert_int_equal(sink_lsnset_count(&s), 100);
    assert_true(s.cap <= 400);
    assert_int_equal(sink_lsnset_floor(&s), 99901 * 16);
    assert_true(sink_lsnset_has(&s, 100000 * 16));
    assert_true(sink_lsnset_has(&s, 99901 * 16));
    assert_false(sink_lsnset_has(&s, 99900 * 16));
    assert_false(sink_lsnset_has(&s, 99901 * 16 + 1));
    sink_lsnset_free(&s);
}

/* Out-of-order additions are inserted in place; duplicates are no-ops;
 * one older than a full window is forgotten at once. */
static void
window_out_of_order(void **state)
{
    sink_lsnset_t s;

    (void)state;
    sink_lsnset_init(&s, 3);
    assert_int_equal(sink_lsnset_add(&s, 30), 0);
    assert_int_equal(sink_lsnset_add(&s, 10), 0);
    assert_int_equal(sink_lsnset_add(&s, 20), 0);
    assert_int_equal(sink_lsnset_add(&s, 20), 0);
    assert_int_equal(sink_lsnset_count(&s), 3);
    assert_int_equal(sink_lsnset_floor(&s), 10);
    assert_int_equal(sink_lsnset_add(&s, 5), 0);
    assert_false(sink_lsnset_has(&s, 5));
    assert_int_equal(sink_lsnset_add(&s, 25), 0);
    assert_int_equal(sink_lsnset_floor(&s), 20);
    assert_true(sink_lsnset_has(&s, 25));
    assert_false(sink_lsnset_has(&s, 10));
    sink_lsnset_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_keeps_last_n),
        cmocka_unit_test(window_out_of_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
