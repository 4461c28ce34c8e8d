/* Unit tests of ferry-sink's transaction reassembly (sink_txbuf.c).
 * tests/unit/sink/test_sink_txbuf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink_fixture.h"
#include "sink_txbuf.h"

/* Transactions come out whole and in commit order: a later one that is
 * complete waits for an earlier one, a resent event does not complete a
 * transaction, and the minimum offsets hold back what is still buffered. */
static void
test_transactions_pop_whole_in_commit_order(void **state)
{
    const char *tables[] = {"public.office", "public.doctor"};
    sink_txbuf_t *b = sink_txbuf_new(tables, 2);
    sink_txmsg_t end1, end2;
    ferry_err_t err = {0, ""};
    const char *e1 = "{\"status\":\"END\",\"id\":\"7:200\",\"event_count\":2,"
                     "\"data_collections\":[{\"data_collection\":\"public."
                     "office\",\"event_count\":1},{\"data_collection\":"
                     "\"public.doctor\",\"event_count\":1}]}";
    const char *e2 = "{\"status\":\"END\",\"id\":\"8:300\",\"event_count\":1,"
                     "\"data_collections\":[{\"data_collection\":\"public."
                     "office\",\"event_count\":1}]}";
    int64_t minoff[3] = {100, 100, 100};
    sink_tx_t *tx;

    (void)state;
    assert_int_equal(sink_txmsg_parse(e1, strlen(e1), &end1, &err), 0);
    assert_int_equal(sink_txmsg_parse(e2, strlen(e2), &end2, &err), 0);
    assert_int_equal(end1.commit_lsn, 200);
    /* the later transaction completes first, but must wait */
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("office", "8:300", 1, 300, 250,
                                              "{\"id\":2}", 0, 5)),
        0);
    assert_int_equal(sink_txbuf_add_txmsg(b, &end2, (sink_pos_t){2, 9}), 0);
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("doctor", "7:200", 2, 200, 150,
                                              "{\"id\":1}", 1, 3)),
        0);
    assert_null(sink_txbuf_pop(b));
    sink_txbuf_min_offsets(b, minoff, 3);
    assert_int_equal(minoff[0], 5);
    assert_int_equal(minoff[1], 3);
    assert_int_equal(minoff[2], 9);
    assert_int_equal(sink_txbuf_add_txmsg(b, &end1, (sink_pos_t){2, 8}), 0);
    assert_null(sink_txbuf_pop(b)); /* office event of 7:200 missing */
    /* a duplicate does not complete it */
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("doctor", "7:200", 2, 200, 150,
                                              "{\"id\":1}", 1, 4)),
        0);
    assert_null(sink_txbuf_pop(b));
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("office", "7:200", 1, 200, 100,
                                              "{\"id\":1}", 0, 6)),
        0);
    tx = sink_txbuf_pop(b);
    assert_non_null(tx);
    assert_int_equal(tx->commit_lsn, 200);
    assert_int_equal(tx->n_events, 2);
    assert_string_equal(tx->events[0]->table, "office");
    sink_tx_free(tx);
    tx = sink_txbuf_pop(b);
    assert_non_null(tx);
    assert_int_equal(tx->commit_lsn, 300);
    sink_tx_free(tx);
    assert_int_equal(sink_txbuf_count(b), 0);
    sink_txmsg_clear(&end1);
    sink_txmsg_clear(&end2);
    sink_txbuf_free(b);
}

/* A spilling transaction: its events are taken out as they arrive,
 * repeats are dropped, and it completes once the END's count of distinct
 * events has been taken out (and no more is buffered). */
static void
test_spilling_transaction_completes_once_all_taken(void **state)
{
    const char *tables[] = {"public.office", "public.doctor"};
    sink_txbuf_t *b = sink_txbuf_new(tables, 2);
    sink_txmsg_t end;
    ferry_err_t err = {0, ""};
    const char *e = "{\"status\":\"END\",\"id\":\"7:200\",\"event_count\":3,"
                    "\"data_collections\":[{\"data_collection\":\"public."
                    "doctor\",\"event_count\":3}]}";
    sink_event_t **out = NULL;
    size_t n = 0, i;
    sink_tx_t *front, *tx;

    (void)state;
    assert_int_equal(sink_txmsg_parse(e, strlen(e), &end, &err), 0);
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("doctor", "7:200", 1, 200, 100,
                                              "{\"id\":1}", 0, 1)),
        0);
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("doctor", "7:200", 2, 200, 110,
                                              "{\"id\":2}", 1, 1)),
        0);
    front = sink_txbuf_front(b);
    assert_non_null(front);
    assert_int_equal(sink_txbuf_take(b, front, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sink_txbuf_events(b), 0);
    assert_null(sink_txbuf_pop(b)); /* no END yet */
    /* a resent event is dropped; the END alone does not complete it */
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("doctor", "7:200", 2, 200, 110,
                                              "{\"id\":2}", 1, 7)),
        0);
    assert_int_equal(sink_txbuf_add_txmsg(b, &end, (sink_pos_t){2, 4}), 0);
    assert_int_equal(sink_txbuf_take(b, front, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_null(sink_txbuf_pop(b));
    assert_int_equal(
        sink_txbuf_add_event(b, fixture_event("doctor", "7:200", 3, 200, 120,
                                              "{\"id\":3}", 0, 2)),
        0);
    assert_null(sink_txbuf_pop(b)); /* buffered, not taken out yet */
    assert_int_equal(sink_txbuf_take(b, front, &out, &n), 0);
    assert_int_equal(n, 3);
    tx = sink_txbuf_pop(b);
    assert_ptr_equal(tx, front);
    assert_true(tx->spilling);
    assert_int_equal(tx->spilled, 3);
    assert_int_equal(tx->n_events, 0);
    sink_tx_free(tx);
    for (i = 0; i < n; i++)
        sink_event_free(out[i]);
    free(out);
    sink_txmsg_clear(&end);
    sink_txbuf_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transactions_pop_whole_in_commit_order),
        cmocka_unit_test(test_spilling_transaction_completes_once_all_taken),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
