/* Unit tests of the Debezium-shaped keys, values and transaction events.
 * tests/unit/cdc/test_cdc_envelope.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cdc_envelope.h"

#define NOW_MS INT64_C(1700000000000)

static const char *const cols[] = {"id", "n", "notes", "by", "t"};
static const char *const key[] = {"id"};
static const cdc_table_t tbl = {"public", "t", "p.public.t", cols, 5, key, 1};

static cdc_w2j_msg_t msg;
static cdc_env_t env;
static cdc_env_tx_t tx;
static ferry_buf_t buf;

static const char begin_line[] =
    "{\"action\":\"B\",\"xid\":729,\"timestamp\":\"2026-11-21 "
    "19:35:28.705534+00\",\"lsn\":\"0/15273F0\",\"nextlsn\":\"0/1527420\"}";

static void
parse(const char *s)
{
    ferry_err_t err = {0};

    if (cdc_w2j_parse(&msg, s, strlen(s), &err) != 0)
        fail_msg("%s", err.msg);
}

static int
setup(void **state)
{
    (void)state;
    cdc_w2j_msg_init(&msg);
    cdc_env_tx_init(&tx);
    ferry_buf_init(&buf);
    assert_int_equal(cdc_env_init(&env, "0.1.0", "p", "legacy", NULL), 0);
    parse(begin_line);
    assert_int_equal(cdc_env_tx_begin(&tx, &msg, NULL), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    cdc_env_close(&env);
    ferry_buf_close(&buf);
    cdc_env_tx_close(&tx);
    cdc_w2j_msg_close(&msg);
    return 0;
}

/* Builds the value of the parsed change and returns the "after" image
 * through the closing brace (or the whole value when there is none). */
static const char *
value_of(cdc_env_part_t part)
{
    cdc_env_row_t row = {
        .msg = &msg, .table = &tbl, .part = part, .ts_us = NOW_MS * 1000};
    ferry_err_t err = {0};

    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_tx_count(&tx, &tbl, &row.order, NULL), 0);
    if (cdc_env_row_value(&env, &tx, &row, &buf, &err) != 0)
        fail_msg("%s", err.msg);
    return ferry_buf_cstr(&buf);
}

static const char *
key_of(cdc_env_part_t part)
{
    cdc_env_row_t row = {.msg = &msg, .table = &tbl, .part = part};
    ferry_err_t err = {0};

    ferry_buf_reset(&buf);
    if (cdc_env_row_key(&row, &buf, &err) != 0)
        fail_msg("%s", err.msg);
    return ferry_buf_cstr(&buf);
}

/* The parsed slices point into the line, so it must outlive the test. */
static void
insert_with(const char *columns_json)
{
    static char line[2048];

    snprintf(line, sizeof(line),
             "{\"action\":\"I\",\"xid\":729,\"lsn\":\"0/15271C8\",\"schema\":"
             "\"public\",\"table\":\"t\",\"columns\":[%s]}",
             columns_json);
    parse(line);
}

static void
assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" not found in %s", needle, hay);
}

static void
test_full_insert_value_is_debezium_shaped(void **state)
{
    (void)state;
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":42}");
    assert_string_equal(
        value_of(CDC_ENV_WHOLE),
        "{\"before\":null,\"after\":{\"id\":42},\"source\":{\"version\":"
        "\"0.1.0\",\"connector\":\"ferry\",\"name\":\"p\",\"ts_ms\":"
        "1795289728705,\"ts_us\":1795289728705534,\"ts_ns\":"
        "1795289728705534000,\"snapshot\":\"false\",\"db\":\"legacy\","
        "\"sequence\":\"[\\\"22180848\\\",\\\"22180296\\\"]\",\"schema\":"
        "\"public\",\"table\":\"t\",\"txId\":729,\"lsn\":22180296,\"xmin\":"
        "null},\"op\":\"c\",\"ts_ms\":1700000000000,\"ts_us\":"
        "1700000000000000,\"ts_ns\":1700000000000000000,\"transaction\":{"
        "\"id\":"
        "\"729:22180848\",\"total_order\":1,\"data_collection_order\":1}}");
    assert_string_equal(key_of(CDC_ENV_WHOLE), "{\"id\":42}");
}

static void
test_integers_are_bare_and_other_numbers_are_strings(void **state)
{
    (void)state;
    insert_with(
        "{\"name\":\"id\",\"type\":\"bigint\",\"value\":-9223372036854775808},"
        "{\"name\":\"s\",\"type\":\"smallint\",\"value\":-32768},"
        "{\"name\":\"i\",\"type\":\"integer\",\"value\":2147483647},"
        "{\"name\":\"n\",\"type\":\"numeric\",\"value\":"
        "12345678901234567890.123456789},"
        "{\"name\":\"n2\",\"type\":\"numeric(20,0)\",\"value\":"
        "99999999999999999999},"
        "{\"name\":\"d\",\"type\":\"double precision\",\"value\":1e-300},"
        "{\"name\":\"r\",\"type\":\"real\",\"value\":-0},"
        "{\"name\":\"o\",\"type\":\"oid\",\"value\":4294967295},"
        "{\"name\":\"b\",\"type\":\"boolean\",\"value\":false}");
    assert_contains(
        value_of(CDC_ENV_WHOLE),
        "\"after\":{\"id\":-9223372036854775808,\"s\":-32768,\"i\":"
        "2147483647,\"n\":\"12345678901234567890.123456789\",\"n2\":"
        "\"99999999999999999999\",\"d\":\"1e-300\",\"r\":\"-0\",\"o\":"
        "\"4294967295\",\"b\":false}");
}

static void
test_numbers_sent_as_strings_keep_integers_bare(void **state)
{
    (void)state;
    /* wal2json 2.6's numeric-data-types-as-string quotes every number. */
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":\"42\"},"
                "{\"name\":\"n\",\"type\":\"numeric\",\"value\":\"NaN\"},"
                "{\"name\":\"d\",\"type\":\"double precision\",\"value\":"
                "\"-Infinity\"},"
                "{\"name\":\"x\",\"type\":\"integer\",\"value\":\"\"}");
    assert_contains(value_of(CDC_ENV_WHOLE),
                    "\"after\":{\"id\":42,\"n\":\"NaN\",\"d\":\"-Infinity\","
                    "\"x\":\"\"}");
}

static void
test_bytea_gets_its_backslash_x_back(void **state)
{
    (void)state;
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":1},"
                "{\"name\":\"by\",\"type\":\"bytea\",\"value\":\"deadbeef00\"},"
                "{\"name\":\"e\",\"type\":\"bytea\",\"value\":\"\"},"
                "{\"name\":\"z\",\"type\":\"bytea\",\"value\":null},"
                "{\"name\":\"a\",\"type\":\"bytea[]\",\"value\":"
                "\"{\\\"\\\\\\\\x01\\\"}\"}");
    assert_contains(value_of(CDC_ENV_WHOLE),
                    "\"by\":\"\\\\xdeadbeef00\",\"e\":\"\\\\x\",\"z\":null,"
                    "\"a\":\"{\\\"\\\\\\\\x01\\\"}\"}");
}

static void
test_strings_are_copied_verbatim_and_empty_differs_from_null(void **state)
{
    (void)state;
    insert_with(
        "{\"name\":\"id\",\"type\":\"bigint\",\"value\":1},"
        "{\"name\":\"e\",\"type\":\"text\",\"value\":\"\"},"
        "{\"name\":\"z\",\"type\":\"text\",\"value\":null},"
        "{\"name\":\"u\",\"type\":\"text\",\"value\":\"tab\\t \\\"q\\\" "
        "\\u0001 \xc3\xa9 \xf0\x9f\x98\x80\"},"
        "{\"name\":\"j\",\"type\":\"jsonb\",\"value\":\"{\\\"a\\\": "
        "1e400}\"},"
        "{\"name\":\"x\\\\y\",\"type\":\"interval\",\"value\":\"1 year "
        "2 mons\"}");
    assert_contains(value_of(CDC_ENV_WHOLE),
                    "\"e\":\"\",\"z\":null,\"u\":\"tab\\t \\\"q\\\" \\u0001 "
                    "\xc3\xa9 \xf0\x9f\x98\x80\",\"j\":\"{\\\"a\\\": 1e400}\","
                    "\"x\\\\y\":\"1 year 2 mons\"}");
}

static const char toast_update[] =
    "{\"action\":\"U\",\"xid\":729,\"lsn\":\"0/1529860\",\"schema\":\"public\","
    "\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"bigint\","
    "\"value\":7},{\"name\":\"n\",\"type\":\"numeric\",\"value\":null},"
    "{\"name\":\"by\",\"type\":\"bytea\",\"value\":null},{\"name\":\"t\","
    "\"type\":\"text\",\"value\":\"changed\"}],\"identity\":[{\"name\":\"id\","
    "\"type\":\"bigint\",\"value\":7}]}";

static void
test_unchanged_toast_column_is_absent_not_null(void **state)
{
    const char *v;

    (void)state;
    parse(toast_update);
    v = value_of(CDC_ENV_WHOLE);
    assert_contains(v, "{\"before\":{\"id\":7},\"after\":{\"id\":7,\"n\":null,"
                       "\"by\":null,\"t\":\"changed\"},\"absent\":[\"notes\"],"
                       "\"source\":");
    assert_null(strstr(v, "\"notes\":"));
    assert_contains(v, "\"op\":\"u\"");
}

/* REPLICA IDENTITY FULL: the old row holds every column, TOAST values
 * detoasted, so the unchanged TOAST column comes from it and the event is
 * complete (a compacted topic can rebuild the row from it alone). */
static void
test_full_identity_fills_unchanged_toast_columns(void **state)
{
    const char *v;

    (void)state;
    parse("{\"action\":\"U\",\"xid\":1,\"lsn\":\"0/1\",\"schema\":\"public\","
          "\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"value\":7},"
          "{\"name\":\"n\",\"value\":1},{\"name\":\"t\",\"value\":\"x\"}],"
          "\"identity\":[{\"name\":\"id\",\"value\":7},"
          "{\"name\":\"n\",\"value\":0},{\"name\":\"notes\",\"value\":"
          "\"long\\ntext\"},{\"name\":\"by\",\"type\":\"bytea\","
          "\"value\":\"00ff\"},{\"name\":\"t\",\"value\":\"old\"}]}");
    v = value_of(CDC_ENV_WHOLE);
    /* Numbers without a type are strings: only integer types go bare. */
    assert_contains(v, "\"after\":{\"id\":\"7\",\"n\":\"1\",\"t\":\"x\","
                       "\"notes\":\"long\\ntext\",\"by\":\"\\\\x00ff\"},"
                       "\"source\":");
    assert_null(strstr(v, "absent"));
    /* The create half of a key change is as complete. */
    assert_contains(value_of(CDC_ENV_KEY_CHANGE_CREATE),
                    "\"notes\":\"long\\ntext\"");
    /* A column neither image holds is still named absent. */
    parse("{\"action\":\"U\",\"xid\":1,\"lsn\":\"0/1\",\"schema\":\"public\","
          "\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"value\":7},"
          "{\"name\":\"t\",\"value\":\"x\"}],"
          "\"identity\":[{\"name\":\"id\",\"value\":7},"
          "{\"name\":\"notes\",\"value\":\"n\"}]}");
    v = value_of(CDC_ENV_WHOLE);
    assert_contains(v, "\"after\":{\"id\":\"7\",\"t\":\"x\",\"notes\":\"n\"},"
                       "\"absent\":[\"n\",\"by\"],");
}

static void
test_complete_update_and_insert_have_no_absent_marker(void **state)
{
    (void)state;
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":1}");
    assert_null(strstr(value_of(CDC_ENV_WHOLE), "absent"));
    parse("{\"action\":\"U\",\"xid\":1,\"lsn\":\"0/1\",\"schema\":\"public\","
          "\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"value\":1},"
          "{\"name\":\"n\",\"value\":1},{\"name\":\"notes\",\"value\":\"\"},"
          "{\"name\":\"by\",\"value\":null},{\"name\":\"t\",\"value\":\"x\"}],"
          "\"identity\":[{\"name\":\"id\",\"value\":1}]}");
    assert_null(strstr(value_of(CDC_ENV_WHOLE), "absent"));
}

static void
test_delete_uses_identity_for_before_key_and_tombstone(void **state)
{
    cdc_env_row_t row = {.msg = &msg, .table = &tbl};

    (void)state;
    parse("{\"action\":\"D\",\"xid\":729,\"lsn\":\"0/1529A30\",\"schema\":"
          "\"public\",\"table\":\"t\",\"identity\":[{\"name\":\"id\","
          "\"type\":\"bigint\",\"value\":70}],\"pk\":[{\"name\":\"id\","
          "\"type\":\"bigint\"}]}");
    assert_contains(value_of(CDC_ENV_WHOLE),
                    "{\"before\":{\"id\":70},\"after\":null,\"source\":");
    assert_contains(ferry_buf_cstr(&buf), "\"op\":\"d\"");
    assert_string_equal(key_of(CDC_ENV_WHOLE), "{\"id\":70}");
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_tombstone_key(&row, &buf, NULL), 0);
    assert_string_equal(ferry_buf_cstr(&buf), "{\"id\":70}");
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":1}");
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_tombstone_key(&row, &buf, NULL), FERRY_EDATA);
}

static void
test_key_change_splits_into_delete_and_create(void **state)
{
    (void)state;
    parse(toast_update);
    assert_false(cdc_env_key_changed(&msg, &tbl));
    parse("{\"action\":\"U\",\"xid\":738,\"lsn\":\"0/1529938\",\"schema\":"
          "\"public\",\"table\":\"t\",\"columns\":[{\"name\":\"id\","
          "\"type\":\"bigint\",\"value\":70},{\"name\":\"t\",\"type\":"
          "\"text\",\"value\":\"x\"}],\"identity\":[{\"name\":\"id\",\"type\":"
          "\"bigint\",\"value\":7}]}");
    assert_true(cdc_env_key_changed(&msg, &tbl));
    assert_string_equal(key_of(CDC_ENV_KEY_CHANGE_DELETE), "{\"id\":7}");
    assert_contains(value_of(CDC_ENV_KEY_CHANGE_DELETE),
                    "{\"before\":{\"id\":7},\"after\":null,\"source\"");
    assert_contains(ferry_buf_cstr(&buf), "\"op\":\"d\"");
    assert_string_equal(key_of(CDC_ENV_KEY_CHANGE_CREATE), "{\"id\":70}");
    assert_contains(value_of(CDC_ENV_KEY_CHANGE_CREATE),
                    "{\"before\":null,\"after\":{\"id\":70,\"t\":\"x\"},"
                    "\"absent\":[\"n\",\"notes\",\"by\"]");
    assert_contains(ferry_buf_cstr(&buf), "\"op\":\"c\"");
    assert_contains(ferry_buf_cstr(&buf),
                    "\"total_order\":2,\"data_collection_order\":2");
}

static void
test_key_falls_back_to_wal2json_pk_and_reports_missing_columns(void **state)
{
    static const char *const two[] = {"a", "b"};
    const cdc_table_t nokey = {"public", "c", "p.public.c", NULL, 0, NULL, 0};
    const cdc_table_t bad = {"public", "c", "p.public.c", NULL, 0, two, 2};
    cdc_env_row_t row = {.msg = &msg, .table = &nokey};
    ferry_err_t err = {0};

    (void)state;
    parse("{\"action\":\"I\",\"xid\":1,\"lsn\":\"0/1529D70\",\"schema\":"
          "\"public\",\"table\":\"c\",\"columns\":[{\"name\":\"v\",\"value\":"
          "\"x\"},{\"name\":\"b\",\"type\":\"text\",\"value\":\"k\"},"
          "{\"name\":\"a\",\"type\":\"integer\",\"value\":1}],\"pk\":["
          "{\"name\":\"a\",\"type\":\"integer\"},{\"name\":\"b\",\"type\":"
          "\"text\"}]}");
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_row_key(&row, &buf, NULL), 0);
    assert_string_equal(ferry_buf_cstr(&buf), "{\"a\":1,\"b\":\"k\"}");
    parse("{\"action\":\"I\",\"xid\":1,\"lsn\":\"0/1529D70\",\"schema\":"
          "\"public\",\"table\":\"c\",\"columns\":[{\"name\":\"a\",\"value\":"
          "1}]}");
    row.table = &bad;
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_row_key(&row, &buf, &err), FERRY_EDATA);
    assert_string_equal(err.msg, "key column \"b\" of table \"public\".\"c\" "
                                 "is missing from the change at LSN 0/1529D70");
    row.table = &nokey;
    assert_int_equal(cdc_env_row_key(&row, &buf, &err), FERRY_EDATA);
    assert_string_equal(err.msg, "table \"public\".\"c\" has no key columns: "
                                 "give it a primary key or a replica "
                                 "identity");
}

static void
test_truncate_has_no_key_and_null_images(void **state)
{
    (void)state;
    parse("{\"action\":\"T\",\"xid\":746,\"lsn\":\"0/152B938\",\"schema\":"
          "\"public\",\"table\":\"t\"}");
    assert_string_equal(key_of(CDC_ENV_WHOLE), "");
    assert_contains(value_of(CDC_ENV_WHOLE),
                    "{\"before\":null,\"after\":null,\"source\":");
    assert_contains(ferry_buf_cstr(&buf), "\"op\":\"t\"");
}

static void
test_snapshot_reads_use_op_r_and_the_snapshot_flag(void **state)
{
    cdc_env_row_t row = {
        .msg = &msg, .table = &tbl, .snapshot = CDC_ENV_SNAPSHOT_LAST};

    (void)state;
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":1}");
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_row_value(&env, &tx, &row, &buf, NULL), 0);
    assert_contains(ferry_buf_cstr(&buf), "\"snapshot\":\"last\"");
    assert_contains(ferry_buf_cstr(&buf), "\"op\":\"r\"");
}

/* A snapshot read's source block is the streamed one's with the hand-off
 * LSN for the commit LSN, 0 for the change, txId and transaction null, and
 * raw table names escaped. */
static void
test_snapshot_read_key_and_value_are_exact(void **state)
{
    static const char *const rcols[] = {"id", "ok", "name", "none",
                                        "Odd \"c\""};
    static const char *const rkey[] = {"id"};
    static const cdc_table_t rt = {"s\"x", "T\\1", "p.t", rcols, 5, rkey, 1};
    static const unsigned char types[] = {CDC_ENV_COL_INT, CDC_ENV_COL_BOOL,
                                          CDC_ENV_COL_TEXT, CDC_ENV_COL_TEXT,
                                          CDC_ENV_COL_TEXT};
    static const size_t ki[] = {0};
    const char *vals[] = {"42", "t", "a \"q\"\n", NULL, ""};
    int lens[] = {2, 1, 6, 0, 0};
    cdc_env_read_t r = {.table = &rt,
                        .col_types = types,
                        .key_index = ki,
                        .values = vals,
                        .lengths = lens,
                        .snapshot = CDC_ENV_SNAPSHOT_TRUE,
                        .lsn = 22180848,
                        .source_ts_us = INT64_C(1795289728705000),
                        .ts_us = NOW_MS * 1000};

    (void)state;
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_read_key(&r, &buf, NULL), 0);
    assert_string_equal(ferry_buf_cstr(&buf), "{\"id\":42}");
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_read_value(&env, &r, &buf, NULL), 0);
    assert_string_equal(
        ferry_buf_cstr(&buf),
        "{\"before\":null,\"after\":{\"id\":42,\"ok\":true,\"name\":"
        "\"a \\\"q\\\"\\n\",\"none\":null,\"Odd \\\"c\\\"\":\"\"},"
        "\"source\":{\"version\":\"0.1.0\",\"connector\":\"ferry\","
        "\"name\":\"p\",\"ts_ms\":1795289728705,\"ts_us\":1795289728705000,"
        "\"ts_ns\":1795289728705000000,\"snapshot\":\"true\","
        "\"db\":\"legacy\",\"sequence\":\"[\\\"22180848\\\",\\\"0\\\"]\","
        "\"schema\":\"s\\\"x\",\"table\":\"T\\\\1\",\"txId\":null,"
        "\"lsn\":22180848,\"xmin\":null},\"op\":\"r\",\"ts_ms\":"
        "1700000000000,\"ts_us\":1700000000000000,\"ts_ns\":"
        "1700000000000000000,\"transaction\":null}");
    r.snapshot = CDC_ENV_SNAPSHOT_LAST;
    r.col_types = NULL;
    ferry_buf_reset(&buf);
    assert_int_equal(cdc_env_read_value(&env, &r, &buf, NULL), 0);
    assert_contains(ferry_buf_cstr(&buf), "{\"id\":\"42\",\"ok\":\"t\",");
    assert_contains(ferry_buf_cstr(&buf), "\"snapshot\":\"last\"");
}

static void
test_begin_commit_and_message_are_not_row_events(void **state)
{
    cdc_env_row_t row = {.msg = &msg, .table = &tbl};
    ferry_err_t err = {0};

    (void)state;
    parse(begin_line);
    assert_int_equal(cdc_env_row_value(&env, &tx, &row, &buf, &err),
                     FERRY_EDATA);
    assert_string_equal(err.msg, "cannot build a change event from wal2json "
                                 "action \"B\" of table \"public\".\"t\"");
    insert_with("{\"name\":\"id\",\"type\":\"bigint\",\"value\":1}");
    row.part = CDC_ENV_KEY_CHANGE_CREATE;
    assert_int_equal(cdc_env_row_value(&env, &tx, &row, &buf, NULL),
                     FERRY_EDATA);
}

static void
test_transaction_events_count_per_table(void **state)
{
    static const cdc_table_t other = {"s\"x", "o", "p.s.o", NULL, 0, NULL, 0};
    cdc_env_order_t o;

    (void)state;
    ferry_buf_reset(&buf);
    cdc_env_tx_key(&tx, &buf);
    assert_string_equal(ferry_buf_cstr(&buf), "{\"id\":\"729:22180848\"}");
    ferry_buf_reset(&buf);
    cdc_env_tx_begin_value(&tx, &buf);
    assert_string_equal(ferry_buf_cstr(&buf),
                        "{\"status\":\"BEGIN\",\"id\":\"729:22180848\","
                        "\"ts_ms\":1795289728705,\"event_count\":null,"
                        "\"data_collections\":null}");
    assert_int_equal(cdc_env_tx_count(&tx, &tbl, &o, NULL), 0);
    assert_int_equal(o.total_order, 1);
    assert_int_equal(o.data_collection_order, 1);
    assert_int_equal(cdc_env_tx_count(&tx, &other, &o, NULL), 0);
    assert_int_equal(o.total_order, 2);
    assert_int_equal(o.data_collection_order, 1);
    assert_int_equal(cdc_env_tx_count(&tx, &tbl, &o, NULL), 0);
    assert_int_equal(o.total_order, 3);
    assert_int_equal(o.data_collection_order, 2);
    ferry_buf_reset(&buf);
    cdc_env_tx_end_value(&tx, &buf);
    assert_string_equal(
        ferry_buf_cstr(&buf),
        "{\"status\":\"END\",\"id\":\"729:22180848\",\"ts_ms\":1795289728705,"
        "\"event_count\":3,\"data_collections\":[{\"data_collection\":"
        "\"public.t\",\"event_count\":2},{\"data_collection\":\"s\\\"x.o\","
        "\"event_count\":1}]}");
    /* A new BEGIN starts the counts again. */
    parse(begin_line);
    assert_int_equal(cdc_env_tx_begin(&tx, &msg, NULL), 0);
    assert_int_equal(cdc_env_tx_count(&tx, &other, &o, NULL), 0);
    assert_int_equal(o.total_order, 1);
    assert_int_equal(tx.ntables, 1);
}

static void
test_million_row_transaction_keeps_counter_memory_flat(void **state)
{
    static const cdc_table_t t2 = {"public", "b", "p.public.b", NULL, 0,
                                   NULL,     0};
    static const cdc_table_t t3 = {"public", "c", "p.public.c", NULL, 0,
                                   NULL,     0};
    const cdc_table_t *ts[] = {&tbl, &t2, &t3};
    cdc_env_order_t o = {0};
    size_t cap;

    (void)state;
    assert_int_equal(cdc_env_tx_count(&tx, &tbl, &o, NULL), 0);
    cap = tx.cap;
    for (int i = 1; i < 1000000; i++)
        assert_int_equal(cdc_env_tx_count(&tx, ts[i % 3], &o, NULL), 0);
    assert_int_equal(o.total_order, 1000000);
    assert_int_equal(tx.ntables, 3);
    assert_int_equal(tx.cap, cap);
    assert_int_equal(tx.tables[0].count, 333334);
}

static void
test_begin_needs_xid_lsn_and_timestamp(void **state)
{
    ferry_err_t err = {0};

    (void)state;
    parse("{\"action\":\"B\",\"xid\":1,\"lsn\":\"0/1\"}");
    assert_int_equal(cdc_env_tx_begin(&tx, &msg, &err), FERRY_EDATA);
    assert_string_equal(err.msg, "wal2json BEGIN message without timestamp "
                                 "(include-timestamp)");
    parse("{\"action\":\"B\",\"timestamp\":\"2024-01-01 00:00:00+00\","
          "\"lsn\":\"0/1\"}");
    assert_int_equal(cdc_env_tx_begin(&tx, &msg, &err), FERRY_EDATA);
    assert_string_equal(err.msg,
                        "wal2json BEGIN message without xid (include-xids)");
    parse("{\"action\":\"B\",\"xid\":5,\"timestamp\":\"yesterday\",\"lsn\":"
          "\"0/1\"}");
    assert_int_equal(cdc_env_tx_begin(&tx, &msg, &err), FERRY_EDATA);
    assert_string_equal(err.msg, "invalid commit timestamp \"yesterday\" of "
                                 "transaction 5");
}

static void
test_commit_timestamps_convert_to_epoch_ms(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"1970-01-01 00:00:00+00", 0},
        {"2024-02-29 10:34:56.789012+00", INT64_C(1709202896789)},
        {"2024-02-29 16:04:56.789+05:30", INT64_C(1709202896789)},
        {"2024-02-29 02:34:56.7-08", INT64_C(1709202896700)},
        {"1969-12-31 23:59:59+00", -1000},
        {"2000-01-01 00:00:00", INT64_C(946684800000)},
        {"2024-02-29 10:34:56+01:02:03", INT64_C(1709199173000)},
    };
    static const char *const bad[] = {
        "",
        "2024-02-29",
        "2024-13-01 00:00:00+00",
        "2024-02-29 10:34:56.+00",
        "2024-02-29 10:34:56+0",
        "2024-02-29 10:34:56 BC",
        "2024-02-29T10:34:56Z",
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_true(cdc_env_parse_ts_ms(ok[i].text, strlen(ok[i].text), &ms));
        assert_int_equal(ms, ok[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cdc_env_parse_ts_ms(bad[i], strlen(bad[i]), &ms))
            fail_msg("accepted \"%s\"", bad[i]);
    /* Microseconds, as wal2json gives them (more digits are cut). */
    assert_true(cdc_env_parse_ts_us("2024-02-29 10:34:56.789012+00", 29, &ms));
    assert_int_equal(ms, INT64_C(1709202896789012));
    assert_true(cdc_env_parse_ts_us("2024-02-29 10:34:56.7890129+00", 30, &ms));
    assert_int_equal(ms, INT64_C(1709202896789012));
    assert_true(cdc_env_parse_ts_us("1969-12-31 23:59:59.9996+00", 27, &ms));
    assert_int_equal(ms, -400);
    assert_true(cdc_env_parse_ts_ms("1969-12-31 23:59:59.9996+00", 27, &ms));
    assert_int_equal(ms, -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_full_insert_value_is_debezium_shaped),
        T(test_integers_are_bare_and_other_numbers_are_strings),
        T(test_numbers_sent_as_strings_keep_integers_bare),
        T(test_bytea_gets_its_backslash_x_back),
        T(test_strings_are_copied_verbatim_and_empty_differs_from_null),
        T(test_unchanged_toast_column_is_absent_not_null),
        T(test_full_identity_fills_unchanged_toast_columns),
        T(test_complete_update_and_insert_have_no_absent_marker),
        T(test_delete_uses_identity_for_before_key_and_tombstone),
        T(test_key_change_splits_into_delete_and_create),
        T(test_key_falls_back_to_wal2json_pk_and_reports_missing_columns),
        T(test_truncate_has_no_key_and_null_images),
        T(test_snapshot_reads_use_op_r_and_the_snapshot_flag),
        T(test_snapshot_read_key_and_value_are_exact),
        T(test_begin_commit_and_message_are_not_row_events),
        T(test_transaction_events_count_per_table),
        T(test_million_row_transaction_keeps_counter_memory_flat),
        T(test_begin_needs_xid_lsn_and_timestamp),
        T(test_commit_timestamps_convert_to_epoch_ms),
    };

    return cmocka_run_group_tests_name("cdc_envelope", tests, NULL, NULL);
}
