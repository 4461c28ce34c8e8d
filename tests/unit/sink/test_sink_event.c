/* Unit tests of ferry-sink's message parser (sink_event.c) on malformed
 * messages; tests/unit/sink/test_sink_reads_cdc_golden.c feeds it every
 * message ferry-cdc writes.
 * tests/unit/sink/test_sink_event.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink_event.h"

/* A message that is not JSON, lacks its source block or carries a bad
 * source.sequence parses into an op 'X' event with the reason; blanks
 * around the sequence's tokens are allowed. */
static void
test_malformed_messages_carry_a_reason(void **state)
{
    static const struct {
        const char *text;
        bool ok;
    } seqs[] = {
        {"[\\\"12\\\",\\\"3\\\"]", true},
        {" [ \\\"12\\\" , \\\"3\\\" ] ", true},
        {"[\\\"12\\\"]", false},
        {"[12,3]", false},
        {"[\\\"12\\\",\\\"3\\\"]x", false},
        {"[\\\"-1\\\",\\\"3\\\"]", false},
        {"[\\\"1x\\\",\\\"3\\\"]", false},
        {"[null,\\\"3\\\"]", false},
        {"[\\\"99999999999999999999\\\",\\\"3\\\"]", false},
    };
    char buf[512];
    sink_event_t *e = NULL;
    sink_pos_t pos = {0, 1};
    size_t i;
    int rc;

    (void)state;
    assert_int_equal(sink_event_parse(NULL, 0, "nope", 4, pos, &e),
                     FERRY_EDATA);
    assert_int_equal(e->op, 'X');
    assert_non_null(strstr(e->reason, "not JSON"));
    sink_event_free(e);
    assert_int_equal(sink_event_parse(NULL, 0, "{\"op\":\"c\"}", 10, pos, &e),
                     FERRY_EDATA);
    assert_int_equal(e->op, 'X');
    sink_event_free(e);
    for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "{\"op\":\"c\",\"after\":{},\"source\":{\"schema\":\"s\","
                 "\"table\":\"t\",\"sequence\":\"%s\"}}",
                 seqs[i].text);
        rc = sink_event_parse(NULL, 0, buf, strlen(buf), pos, &e);
        assert_int_equal(rc, seqs[i].ok ? 0 : FERRY_EDATA);
        if (seqs[i].ok) {
            assert_int_equal(e->pair.commit, 12);
            assert_int_equal(e->pair.change, 3);
        } else {
            assert_non_null(strstr(e->reason, "sequence"));
        }
        sink_event_free(e);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_messages_carry_a_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
