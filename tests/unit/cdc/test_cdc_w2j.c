/* Unit tests of the zero-copy wal2json format-version 2 parser.
 * tests/unit/cdc/test_cdc_w2j.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_w2j.h"

/* A real INSERT from wal2json 2.5 on PostgreSQL 15 (tests/unit/cdc/golden). */
static const char real_insert[] =
    "{\"action\":\"I\",\"xid\":750,\"timestamp\":\"2026-11-21 "
    "19:35:48.919824+00\",\"lsn\":\"0/1535E38\",\"schema\":\"public\","
    "\"table\":\"bench8\",\"columns\":[{\"name\":\"id\",\"type\":\"bigint\","
    "\"value\":1},{\"name\":\"a\",\"type\":\"integer\",\"value\":42},"
    "{\"name\":\"b\",\"type\":\"text\",\"value\":\"hello world\"},"
    "{\"name\":\"c\",\"type\":\"numeric\",\"value\":1234.5678},{\"name\":"
    "\"d\",\"type\":\"timestamp with time zone\",\"value\":\"2026-11-21 "
    "19:35:48.918419+00\"},{\"name\":\"e\",\"type\":\"boolean\",\"value\":"
    "true},{\"name\":\"f\",\"type\":\"double precision\",\"value\":3.14159},"
    "{\"name\":\"g\",\"type\":\"uuid\",\"value\":\"2c6f13f3-cd29-4070-b692-"
    "8f131798b7fc\"}],\"pk\":[{\"name\":\"id\",\"type\":\"bigint\"}]}";

static cdc_w2j_msg_t msg;

static int
setup(void **state)
{
    (void)state;
    cdc_w2j_msg_init(&msg);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    cdc_w2j_msg_close(&msg);
    return 0;
}

static int
parse(const char *s)
{
    return cdc_w2j_parse(&msg, s, strlen(s), NULL);
}

static void
assert_tok(ferry_json_tok_t tok, const char *want)
{
    assert_non_null(tok.ptr);
    if (tok.len != strlen(want) || memcmp(tok.ptr, want, tok.len) != 0)
        fail_msg("token \"%.*s\" != \"%s\"", (int)tok.len, tok.ptr, want);
}

static void
test_insert_keeps_every_value_as_a_slice_of_the_input(void **state)
{
    (void)state;
    assert_int_equal(parse(real_insert), 0);
    assert_int_equal(msg.action, 'I');
    assert_true(msg.has_xid);
    assert_int_equal(msg.xid, 750);
    assert_true(msg.has_lsn);
    assert_int_equal(msg.lsn, 0x1535E38);
    assert_tok(msg.timestamp, "2026-11-21 19:35:48.919824+00");
    assert_tok(msg.schema, "public");
    assert_tok(msg.table, "bench8");
    assert_int_equal(msg.columns.n, 8);
    assert_tok(msg.columns.v[2].name, "b");
    assert_tok(msg.columns.v[2].type, "text");
    assert_tok(msg.columns.v[2].value, "\"hello world\"");
    assert_int_equal(msg.columns.v[2].kind, FERRY_JSON_STRING);
    assert_tok(msg.columns.v[3].value, "1234.5678");
    assert_int_equal(msg.columns.v[3].kind, FERRY_JSON_NUMBER);
    assert_int_equal(msg.columns.v[5].kind, FERRY_JSON_TRUE);
    assert_tok(msg.columns.v[4].type, "timestamp with time zone");
    assert_true(msg.columns.v[0].value.ptr >= real_insert &&
                msg.columns.v[0].value.ptr < real_insert + sizeof(real_insert));
    assert_false(msg.identity.present);
    assert_true(msg.pk.present);
    assert_int_equal(msg.pk.n, 1);
    assert_int_equal(msg.pk.v[0].kind, FERRY_JSON_ABSENT);
}

static void
test_numbers_keep_their_exact_digits(void **state)
{
    static const char *const numbers[] = {
        "12345678901234567890.123456789",
        "99999999999999999999",
        "-9223372036854775808",
        "9223372036854775807",
        "1e-300",
        "-0",
        "3.4e+38",
        "1.7976931348623157e+308",
        "0.000000000000000000001",
        "1E400",
        "2.50",
    };
    char line[256];

    (void)state;
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        snprintf(line, sizeof(line),
                 "{\"action\":\"I\",\"schema\":\"public\",\"table\":\"t\","
                 "\"columns\":[{\"name\":\"n\",\"type\":\"numeric\","
                 "\"value\":%s}]}",
                 numbers[i]);
        assert_int_equal(parse(line), 0);
        assert_int_equal(msg.columns.v[0].kind, FERRY_JSON_NUMBER);
        assert_tok(msg.columns.v[0].value, numbers[i]);
    }
}

static void
test_strings_stay_escaped_exactly_as_wal2json_wrote_them(void **state)
{
    const char *line =
        "{\"action\":\"I\",\"schema\":\"public\",\"table\":\"Odd "
        "\\\"Name\\\"\",\"columns\":[{\"name\":\"x\\\\y\",\"type\":\"text\","
        "\"value\":\"tab\\there \\\"q\\\" back\\\\slash \\u0001 \xc3\xa9 "
        "\xf0\x9f\x98\x80 \\ud83d\\ude00 \\/\"}]}";
    char out[64];

    (void)state;
    assert_int_equal(parse(line), 0);
    assert_tok(msg.table, "Odd \\\"Name\\\"");
    assert_true(ferry_json_tok_eq(msg.table, "Odd \"Name\"", 10));
    assert_false(ferry_json_tok_eq(msg.table, "Odd \\\"Name\\\"", 14));
    assert_true(ferry_json_tok_eq(msg.columns.v[0].name, "x\\y", 3));
    assert_tok(msg.columns.v[0].value,
               "\"tab\\there \\\"q\\\" back\\\\slash \\u0001 \xc3\xa9 "
               "\xf0\x9f\x98\x80 \\ud83d\\ude00 \\/\"");
    assert_int_equal(ferry_json_tok_unescape(msg.table, out, sizeof(out)), 10);
    assert_string_equal(out, "Odd \"Name\"");
    /* Without its quotes, the value unescapes to UTF-8, pairs joined. */
    ferry_json_tok_unescape((ferry_json_tok_t){msg.columns.v[0].value.ptr + 1,
                                               msg.columns.v[0].value.len - 2},
                            out, sizeof(out));
    assert_string_equal(out, "tab\there \"q\" back\\slash \x01 \xc3\xa9 "
                             "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80 /");
    /* A too-small output is truncated but still terminated. */
    assert_int_equal(ferry_json_tok_unescape(msg.table, out, 4), 10);
    assert_string_equal(out, "Odd");
}

static void
test_empty_string_and_null_are_distinct(void **state)
{
    (void)state;
    assert_int_equal(
        parse("{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":"
              "[{\"name\":\"a\",\"type\":\"text\",\"value\":\"\"},{\"name\":"
              "\"b\",\"type\":\"text\",\"value\":null}]}"),
        0);
    assert_int_equal(msg.columns.v[0].kind, FERRY_JSON_STRING);
    assert_tok(msg.columns.v[0].value, "\"\"");
    assert_int_equal(msg.columns.v[1].kind, FERRY_JSON_NULL);
    assert_tok(msg.columns.v[1].value, "null");
}

static void
test_begin_commit_truncate_and_messages_parse(void **state)
{
    (void)state;
    assert_int_equal(
        parse("{\"action\":\"B\",\"xid\":729,\"timestamp\":\"2026-11-21 "
              "19:35:28.705534+00\",\"lsn\":\"0/15273F0\",\"nextlsn\":"
              "\"0/1527420\"}"),
        0);
    assert_int_equal(msg.action, 'B');
    assert_int_equal(msg.lsn, 0x15273F0);
    assert_true(msg.has_nextlsn);
    assert_int_equal(msg.nextlsn, 0x1527420);
    assert_int_equal(
        parse("{\"action\":\"T\",\"xid\":746,\"timestamp\":\"2026-11-21 "
              "19:35:28.71233+00\",\"lsn\":\"0/152B938\",\"schema\":"
              "\"public\",\"table\":\"full_t\"}"),
        0);
    assert_int_equal(msg.action, 'T');
    assert_tok(msg.table, "full_t");
    assert_false(msg.columns.present);
    assert_int_equal(
        parse("{\"action\":\"M\",\"xid\":null,\"timestamp\":null,\"lsn\":"
              "\"0/152BCC0\",\"transactional\":false,\"prefix\":\"pfx2\","
              "\"content\":\"\\\\x00ff\"}"),
        0);
    assert_int_equal(msg.action, 'M');
    assert_false(msg.has_xid);
    assert_null(msg.timestamp.ptr);
    assert_false(msg.transactional);
    assert_tok(msg.prefix, "pfx2");
    assert_tok(msg.content, "\"\\\\x00ff\"");
}

static void
test_update_lists_only_the_columns_wal2json_sent(void **state)
{
    (void)state;
    assert_int_equal(
        parse("{\"action\":\"U\",\"xid\":737,\"lsn\":\"0/1529860\",\"schema\":"
              "\"public\",\"table\":\"t\",\"columns\":[{\"name\":\"id\","
              "\"type\":\"bigint\",\"value\":7},{\"name\":\"tx\",\"type\":"
              "\"text\",\"value\":\"changed\"}],\"identity\":[{\"name\":\"id\","
              "\"type\":\"bigint\",\"value\":7}],\"pk\":[{\"name\":\"id\","
              "\"type\":\"bigint\"}]}"),
        0);
    assert_int_equal(msg.columns.n, 2);
    assert_null(cdc_w2j_cols_find(&msg.columns, "notes", 5, 0));
    assert_ptr_equal(cdc_w2j_cols_find(&msg.columns, "tx", 2, 0),
                     &msg.columns.v[1]);
    assert_int_equal(msg.identity.n, 1);
}

static void
test_unknown_members_and_white_space_are_accepted(void **state)
{
    (void)state;
    assert_int_equal(
        parse(" {\n  \"action\" : \"I\", \"origin\": {\"a\": [1, {\"b\": "
              "null}]},\n \"schema\": \"s\", \"table\": \"t\", \"columns\": [ "
              "{ \"name\": \"a\", \"type\": \"integer\", \"typeoid\": 23, "
              "\"optional\": true, \"value\": -5 } ] }\n"),
        0);
    assert_int_equal(msg.columns.n, 1);
    assert_tok(msg.columns.v[0].value, "-5");
    assert_int_equal(parse("{\"action\":\"I\",\"schema\":\"s\",\"table\":"
                           "\"t\",\"columns\":[]}"),
                     0);
    assert_true(msg.columns.present);
    assert_int_equal(msg.columns.n, 0);
}

typedef struct bad_case {
    const char *input; /* the malformed message */
    const char *msg;   /* the exact error message */
} bad_case_t;

static void
test_malformed_messages_are_rejected_with_position(void **state)
{
    static const bad_case_t cases[] = {
        {"", "invalid wal2json message at byte 0: unexpected end of input, "
             "expected '{'"},
        {"{\"action\" \"I\"}",
         "invalid wal2json message at byte 10: expected ':'"},
        {"{\"action\":\"I\"",
         "invalid wal2json message at byte 13: unexpected end of input, "
         "expected ',' or '}'"},
        {"{\"action\":\"I\",\"schema\":\"pub",
         "invalid wal2json message at byte 27: unexpected end of input in "
         "string"},
        {"{\"action\":\"X\"}",
         "invalid wal2json message at byte 10: unknown \"action\""},
        {"{\"action\":1}",
         "invalid wal2json message at byte 10: expected a string"},
        {"{\"action\":\"B\",\"xid\":-1}",
         "invalid wal2json message at byte 20: invalid \"xid\""},
        {"{\"action\":\"B\",\"xid\":\"7\"}",
         "invalid wal2json message at byte 20: invalid \"xid\""},
        {"{\"action\":\"B\",\"lsn\":\"0/XYZ\"}",
         "invalid wal2json message at byte 20: invalid LSN"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":\"bad \\q\"}]}",
         "invalid wal2json message at byte 75: invalid escape in string"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":\"\\u12G4\"}]}",
         "invalid wal2json message at byte 71: invalid \\u escape in string"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":\"new\nline\"}]}",
         "invalid wal2json message at byte 74: control character in string"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":1.}]}",
         "invalid wal2json message at byte 72: invalid number"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":01}]}",
         "invalid wal2json message at byte 71: expected ',' or '}'"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":tru}]}",
         "invalid wal2json message at byte 70: invalid literal"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\",\"value\":{\"x\":1}}]}",
         "invalid wal2json message at byte 70: expected a scalar value"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"value\":1}]}",
         "invalid wal2json message at byte 50: column entry without "
         "\"name\""},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":["
         "{\"name\":\"a\"}]}",
         "invalid wal2json message at byte 50: column entry without "
         "\"value\""},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\",\"columns\":{}}",
         "invalid wal2json message at byte 49: expected '['"},
        {"{\"action\":\"I\",\"schema\":\"s\",\"table\":\"t\"}",
         "invalid wal2json message: action \"I\" without \"columns\""},
        {"{\"action\":\"D\",\"schema\":\"s\",\"table\":\"t\"}",
         "invalid wal2json message: action \"D\" without \"identity\""},
        {"{\"action\":\"U\",\"table\":\"t\",\"columns\":[]}",
         "invalid wal2json message: action \"U\" without \"schema\""},
        {"{\"xid\":1}", "invalid wal2json message: missing \"action\""},
        {"{\"action\":\"B\"} x",
         "invalid wal2json message at byte 15: unexpected data after the "
         "message"},
        {"{\"action\":\"B\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "invalid wal2json message at byte 49: nesting too deep"},
        {"{\"action\":\"M\",\"transactional\":1}",
         "invalid wal2json message at byte 30: expected true or false"},
    };
    ferry_err_t err;
    int wrong = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (cdc_w2j_parse(&msg, cases[i].input, strlen(cases[i].input), &err) !=
            FERRY_EDATA)
            fail_msg("case %zu was accepted: %s", i, cases[i].input);
        assert_int_equal(err.status, FERRY_EDATA);
        if (strcmp(err.msg, cases[i].msg) != 0) {
            print_error("case %zu:\n got: %s\nwant: %s\n", i, err.msg,
                        cases[i].msg);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

static void
test_every_truncation_of_a_real_message_is_rejected(void **state)
{
    ferry_err_t err;

    (void)state;
    /* Each prefix lives in its own allocation of exactly that size, so that
     * AddressSanitizer catches any read past the end. */
    for (size_t n = 0; n < sizeof(real_insert) - 1; n++) {
        char *copy = malloc(n + 1);

        assert_non_null(copy);
        memcpy(copy, real_insert, n);
        assert_int_equal(cdc_w2j_parse(&msg, copy, n, &err), FERRY_EDATA);
        free(copy);
    }
    assert_int_equal(
        cdc_w2j_parse(&msg, real_insert, sizeof(real_insert) - 1, &err), 0);
}

static void
test_column_arrays_are_reused_across_messages(void **state)
{
    cdc_w2j_col_t *v;

    (void)state;
    assert_int_equal(parse(real_insert), 0);
    v = msg.columns.v;
    for (int i = 0; i < 100; i++)
        assert_int_equal(parse(real_insert), 0);
    assert_ptr_equal(msg.columns.v, v);
    assert_int_equal(msg.columns.n, 8);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_keeps_every_value_as_a_slice_of_the_input),
        cmocka_unit_test(test_numbers_keep_their_exact_digits),
        cmocka_unit_test(
            test_strings_stay_escaped_exactly_as_wal2json_wrote_them),
        cmocka_unit_test(test_empty_string_and_null_are_distinct),
        cmocka_unit_test(test_begin_commit_truncate_and_messages_parse),
        cmocka_unit_test(test_update_lists_only_the_columns_wal2json_sent),
        cmocka_unit_test(test_unknown_members_and_white_space_are_accepted),
        cmocka_unit_test(test_malformed_messages_are_rejected_with_position),
        cmocka_unit_test(test_every_truncation_of_a_real_message_is_rejected),
        cmocka_unit_test(test_column_arrays_are_reused_across_messages),
    };

    return cmocka_run_group_tests_name("cdc_w2j_parse", tests, setup, teardown);
}
