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

/* Parses an event whose after image is after (JSON text) and key key. */
static int
parse_after(const char *key, const char *after, sink_event_t **e)
{
    char buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"op\":\"c\",\"after\":%s,\"source\":{\"schema\":\"s\","
             "\"table\":\"t\",\"sequence\":\"[\\\"12\\\",\\\"3\\\"]\"}}",
             after);
    return sink_event_parse(key, key != NULL ? strlen(key) : 0, buf,
                            strlen(buf), (sink_pos_t){0, 1}, e);
}

/* Values are kept exactly and unescaped once: escapes and \u become
 * UTF-8 (a surrogate pair one character), numbers keep every digit,
 * booleans are PostgreSQL's t and f, null is NULL, and a nested value is
 * marked as such. */
static void
test_values_are_exact_text(void **state)
{
    sink_event_t *e = NULL;
    const sink_field_t *f;

    (void)state;
    assert_int_equal(
        parse_after("{\"id\":7}",
                    "{\"s\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\/\","
                    "\"big\":123456789012345678901234567890,\"neg\":-0.5e-3,"
                    "\"t\":true,\"f\":false,\"n\":null,\"o\":{\"x\":[1,2]}}",
                    &e),
        0);
    assert_int_equal(e->after.n, 7);
    f = sink_image_get(&e->after, "s", 0);
    assert_non_null(f);
    assert_string_equal(f->text, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80/");
    assert_int_equal(f->len, strlen(f->text));
    assert_string_equal(sink_image_get(&e->after, "big", 5)->text,
                        "123456789012345678901234567890");
    assert_string_equal(sink_image_get(&e->after, "neg", 0)->text, "-0.5e-3");
    assert_string_equal(sink_image_get(&e->after, "t", 0)->text, "t");
    assert_string_equal(sink_image_get(&e->after, "f", 0)->text, "f");
    assert_null(sink_image_get(&e->after, "n", 0)->text);
    assert_int_equal(sink_image_get(&e->after, "o", 0)->kind,
                     FERRY_JSON_OBJECT);
    assert_null(sink_image_get(&e->after, "missing", 0));
    assert_int_equal(e->key.n, 1);
    assert_string_equal(e->key.f[0].name, "id");
    assert_string_equal(e->key.f[0].text, "7");
    sink_event_free(e);
}

/* What no PostgreSQL text can hold is malformed, not passed on: \u0000,
 * an unpaired surrogate, invalid UTF-8; so is a key that is JSON but not
 * an object.  A key that is not JSON at all has no columns. */
static void
test_impossible_text_is_malformed(void **state)
{
    static const char *const bad[] = {
        "{\"s\":\"a\\u0000b\"}",    "{\"s\":\"\\ud83d\"}",
        "{\"s\":\"\\ude00x\"}",     "{\"s\":\"\xc3\x28\"}",
        "{\"s\":\"\xed\xa0\x80\"}", "{\"s\":\"\xe0\x80\xaf\"}",
        "{\"s\":\"a\x01\"}",        "{\"s\":tru}",
        "{\"s\":\"x\"} extra",      "{\"s\":\"x\"",
    };
    sink_event_t *e = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_after(NULL, bad[i], &e), FERRY_EDATA);
        assert_int_equal(e->op, 'X');
        assert_non_null(strstr(e->reason, "not JSON"));
        sink_event_free(e);
    }
    assert_int_equal(parse_after("[1]", "{}", &e), FERRY_EDATA);
    assert_non_null(strstr(e->reason, "key is not a JSON object"));
    sink_event_free(e);
    assert_int_equal(parse_after("plain text", "{}", &e), 0);
    assert_false(e->key.present);
    assert_int_equal(e->key.n, 0);
    sink_event_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_messages_carry_a_reason),
        cmocka_unit_test(test_values_are_exact_text),
        cmocka_unit_test(test_impossible_text_is_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
