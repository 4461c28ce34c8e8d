/* Unit tests of the wire format's shared pieces: the sequence, the
 * transaction id, topic names, the control records and the dead letter's
 * field names.
 * tests/unit/common/test_ferry_wire.c
 *
 * The expected bytes are spelt out here rather than built from the
 * ferry_wire.h macros, so that a renamed field shows up as a failure to
 * review, together with the golden files and docs/format.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_wire.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const uint64_t numbers[] = {0,
                                   1,
                                   9,
                                   10,
                                   22180848,
                                   UINT32_MAX,
                                   UINT64_C(10000000000000000000),
                                   UINT64_MAX - 1,
                                   UINT64_MAX};

/* Returns what b holds as a new string (free()) and leaves b empty. */
static char *
take(ferry_buf_t *b)
{
    char *s;

    assert_int_equal(ferry_buf_status(b, NULL, "test"), 0);
    s = ferry_buf_take(b);
    assert_non_null(s);
    return s;
}

/* The decoded text of the JSON string json (borrowed): a new string. */
static char *
json_string_text(const char *json, size_t *len)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    char *s;

    assert_true(json_is_string(v));
    *len = json_string_length(v);
    s = malloc(*len + 1);
    assert_non_null(s);
    memcpy(s, json_string_value(v), *len + 1);
    json_decref(v);
    return s;
}

static void
test_sequence_is_a_json_string_of_two_decimal_strings(void **state)
{
    ferry_buf_t b;
    char *s;

    (void)state;
    ferry_buf_init(&b);
    ferry_wire_seq_append(&b, 22180848, 22180296);
    s = take(&b);
    assert_string_equal(s, "\"[\\\"22180848\\\",\\\"22180296\\\"]\"");
    free(s);
    ferry_wire_seq_append_digits(&b, "22180848", 8, "0", 1);
    s = take(&b);
    assert_string_equal(s, "\"[\\\"22180848\\\",\\\"0\\\"]\"");
    free(s);
}

static void
test_sequence_round_trips_through_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(numbers); i++)
        for (size_t j = 0; j < N(numbers); j++) {
            ferry_buf_t b;
            char *json, *text;
            size_t len;
            uint64_t c = 7, l = 7;

            ferry_buf_init(&b);
            ferry_wire_seq_append(&b, numbers[i], numbers[j]);
            json = take(&b);
            text = json_string_text(json, &len);
            assert_true(ferry_wire_seq_decode(text, len, &c, &l));
            assert_true(c == numbers[i]);
            assert_true(l == numbers[j]);
            free(text);
            free(json);
        }
}

static void
test_sequence_decode_allows_blanks_and_reads_only_its_length(void **state)
{
    const char *s = " [ \"1\" ,\t\"2\"\n] ";
    uint64_t c = 0, l = 0;

    (void)state;
    assert_true(ferry_wire_seq_decode(s, strlen(s), &c, &l));
    assert_true(c == 1 && l == 2);
    /* What follows the n bytes does not count. */
    s = "[\"3\",\"4\"]garbage";
    assert_true(ferry_wire_seq_decode(s, 9, &c, &l));
    assert_true(c == 3 && l == 4);
    assert_false(ferry_wire_seq_decode(s, 8, &c, &l));
    assert_false(ferry_wire_seq_decode(s, strlen(s), &c, &l));
}

static void
test_sequence_decode_rejects_malformed_input(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "[\"1\"]",
        "[\"1\",\"2\",\"3\"]",
        "[1,2]",
        "[\"1\",2]",
        "[null,\"2\"]",
        "[\"-1\",\"2\"]",
        "[\"+1\",\"2\"]",
        "[\"\",\"2\"]",
        "[\"1 \",\"2\"]",
        "[\"0x1\",\"2\"]",
        "[\"1.5\",\"2\"]",
        "[\"18446744073709551616\",\"0\"]",
        "[\"0\",\"99999999999999999999\"]",
        "[\"1\",\"2\"",
        "[\"1\";\"2\"]",
        "x[\"1\",\"2\"]",
        "[\"1\",\"2\"]x",
        "\"[\\\"1\\\",\\\"2\\\"]\"", /* still JSON-escaped */
    };
    uint64_t c = 7, l = 7;

    (void)state;
    for (size_t i = 0; i < N(bad); i++)
        if (ferry_wire_seq_decode(bad[i], strlen(bad[i]), &c, &l))
            fail_msg("accepted %s", bad[i]);
    assert_false(ferry_wire_seq_decode("[\"1\"\0,\"2\"]", 10, &c, &l));
    assert_false(ferry_wire_seq_decode(NULL, 0, &c, &l));
    /* A rejected text leaves the outputs alone. */
    assert_true(c == 7 && l == 7);
}

static void
test_txid_round_trips_at_every_width(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(numbers); i++)
        for (size_t j = 0; j < N(numbers); j++) {
            char id[FERRY_WIRE_TXID_LEN];
            size_t n = ferry_wire_txid_format(numbers[i], numbers[j], id);
            ferry_buf_t b;
            char *s;
            uint64_t x = 7, c = 7;

            assert_int_equal(n, strlen(id));
            assert_true(ferry_wire_txid_decode(id, n, &x, &c));
            assert_true(x == numbers[i] && c == numbers[j]);
            ferry_buf_init(&b);
            ferry_wire_txid_append(&b, numbers[i], numbers[j]);
            s = take(&b);
            assert_string_equal(s, id);
            free(s);
        }
}

static void
test_txid_is_xid_colon_commit_lsn(void **state)
{
    char id[FERRY_WIRE_TXID_LEN];
    uint64_t x = 0, c = 0;

    (void)state;
    assert_int_equal(ferry_wire_txid_format(740, 22191696, id), 12);
    assert_string_equal(id, "740:22191696");
    assert_int_equal(ferry_wire_txid_format(UINT64_MAX, UINT64_MAX, id),
                     FERRY_WIRE_TXID_LEN - 1);
    assert_string_equal(id, "18446744073709551615:18446744073709551615");
    /* Only the n bytes count: a JSON quote after the id does not. */
    assert_true(ferry_wire_txid_decode("740:22191696\"}", 12, &x, &c));
    assert_true(x == 740 && c == 22191696);
}

static void
test_txid_decode_rejects_malformed_input(void **state)
{
    static const char *const bad[] = {
        "",
        ":",
        "1:",
        ":1",
        "1",
        "1:2:3",
        "a:1",
        "1:a",
        "1;2",
        " 1:2",
        "1:2 ",
        "-1:2",
        "1:-2",
        "+1:2",
        "1:0x2",
        "18446744073709551616:1",
        "1:18446744073709551616",
        "1/2",
    };
    uint64_t x = 7, c = 7;

    (void)state;
    for (size_t i = 0; i < N(bad); i++)
        if (ferry_wire_txid_decode(bad[i], strlen(bad[i]), &x, &c))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(ferry_wire_txid_decode("1:2\0", 4, &x, &c));
    assert_false(ferry_wire_txid_decode(NULL, 0, &x, &c));
    assert_true(x == 7 && c == 7);
}

static void
test_topic_names_are_prefix_dot_kind(void **state)
{
    static const struct {
        ferry_wire_topic_t kind;
        const char *name;
    } want[] = {
        {FERRY_WIRE_TOPIC_TRANSACTION, "ferry.transaction"},
        {FERRY_WIRE_TOPIC_HEARTBEAT, "ferry.heartbeat"},
        {FERRY_WIRE_TOPIC_SNAPSHOT, "ferry.snapshot"},
        {FERRY_WIRE_TOPIC_DLQ, "ferry.dlq"},
        {FERRY_WIRE_TOPIC_SCHEMA, "ferry.schema"},
    };

    (void)state;
    for (size_t i = 0; i < N(want); i++) {
        ferry_buf_t b;
        char *s;
        ferry_wire_topic_t k = FERRY_WIRE_TOPIC_DLQ;

        ferry_buf_init(&b);
        ferry_wire_topic_append(&b, "ferry", want[i].kind);
        s = take(&b);
        assert_string_equal(s, want[i].name);
        assert_true(ferry_wire_topic_parse(s, strlen(s), "ferry", &k));
        assert_int_equal(k, want[i].kind);
        assert_string_equal(ferry_wire_topic_suffix(want[i].kind),
                            strchr(want[i].name, '.') + 1);
        free(s);
    }
    assert_null(ferry_wire_topic_suffix((ferry_wire_topic_t)99));
}

static void
test_topic_parse_knows_only_the_control_topics(void **state)
{
    static const char *const other[] = {
        "ferry.public.transaction",
        "ferry.public.t",
        "ferry.",
        "ferry",
        "ferrx.dlq",
        "ferry.dlq2",
        "ferry.DLQ",
        "ferryy.dlq",
        "xferry.dlq",
        ".dlq",
    };
    ferry_wire_topic_t k = FERRY_WIRE_TOPIC_TRANSACTION;

    (void)state;
    for (size_t i = 0; i < N(other); i++)
        if (ferry_wire_topic_parse(other[i], strlen(other[i]), "ferry", &k))
            fail_msg("took \"%s\" for a control topic", other[i]);
    assert_int_equal(k, FERRY_WIRE_TOPIC_TRANSACTION);
    assert_true(ferry_wire_topic_parse("a.b.schema", 10, "a.b", &k));
    assert_int_equal(k, FERRY_WIRE_TOPIC_SCHEMA);
    assert_true(ferry_wire_topic_parse("a.dlq.x", 5, "a", &k));
    assert_int_equal(k, FERRY_WIRE_TOPIC_DLQ);
}

static void
test_heartbeat_key_and_value(void **state)
{
    ferry_buf_t b;
    char *s;

    (void)state;
    ferry_buf_init(&b);
    ferry_wire_heartbeat_key(&b, "fe\"rry");
    s = take(&b);
    assert_string_equal(s, "{\"serverName\":\"fe\\\"rry\"}");
    free(s);
    ferry_wire_heartbeat_value(&b, INT64_C(1700000000000),
                               UINT64_C(0x16B374D848));
    s = take(&b);
    assert_string_equal(s, "{\"ts_ms\":1700000000000,\"lsn\":\"16/B374D848\"}");
    free(s);
}

/* ferry-sink's dead letters are read by people and tools, not by ferry:
 * their field names are those docs/format.md lists. */
static void
test_dead_letter_field_names(void **state)
{
    (void)state;
    assert_string_equal(FERRY_WIRE_F_DLQ_REASON, "reason");
    assert_string_equal(FERRY_WIRE_F_DLQ_ENTITY, "entity");
    assert_string_equal(FERRY_WIRE_F_DLQ_TOPIC, "topic");
    assert_string_equal(FERRY_WIRE_F_DLQ_PARTITION, "partition");
    assert_string_equal(FERRY_WIRE_F_DLQ_OFFSET, "offset");
    assert_string_equal(FERRY_WIRE_F_DLQ_KEY, "key");
    assert_string_equal(FERRY_WIRE_F_DLQ_VALUE, "value");
}

static void
test_snapshot_record_bytes_and_round_trip(void **state)
{
    ferry_wire_snaprec_t in = {.slot = "ferry_slot",
                               .status = FERRY_WIRE_SNAP_STARTED,
                               .lsn = 0,
                               .ts_ms = INT64_C(1700000000000)};
    ferry_wire_snaprec_t out;
    ferry_buf_t b;
    char *s;

    (void)state;
    ferry_buf_init(&b);
    ferry_wire_snaprec_key(&b, "ferry_slot");
    s = take(&b);
    assert_string_equal(s, "{\"slot\":\"ferry_slot\"}");
    free(s);
    ferry_wire_snaprec_value(&b, &in);
    s = take(&b);
    assert_string_equal(s, "{\"slot\":\"ferry_slot\",\"status\":\"started\","
                           "\"lsn\":\"0/0\",\"ts_ms\":1700000000000}");
    free(s);

    in.slot = "s\"1";
    in.status = FERRY_WIRE_SNAP_COMPLETE;
    in.lsn = UINT64_C(0x16B374D848);
    ferry_wire_snaprec_value(&b, &in);
    s = take(&b);
    assert_string_equal(s, "{\"slot\":\"s\\\"1\",\"status\":\"complete\","
                           "\"lsn\":\"16/B374D848\",\"ts_ms\":1700000000000}");
    assert_int_equal(ferry_wire_snaprec_decode(s, strlen(s), &out, NULL), 0);
    free(s); /* the decoded record owns its text */
    assert_string_equal(out.slot, "s\"1");
    assert_int_equal(out.status, FERRY_WIRE_SNAP_COMPLETE);
    assert_true(out.lsn == in.lsn);
    assert_true(out.ts_ms == in.ts_ms);
    ferry_wire_snaprec_clear(&out);
    assert_null(out.slot);
}

static void
test_snapshot_record_decode_rejects_malformed_records(void **state)
{
    static const char *const bad[] = {
        "",
        "nope",
        "[]",
        "\"x\"",
        "{}",
        "{\"status\":\"started\",\"lsn\":\"0/0\",\"ts_ms\":1}",
        "{\"slot\":\"\",\"status\":\"started\",\"lsn\":\"0/0\",\"ts_ms\":1}",
        "{\"slot\":\"a\\u0000b\",\"status\":\"started\",\"lsn\":\"0/0\","
        "\"ts_ms\":1}",
        "{\"slot\":\"s\",\"lsn\":\"0/0\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"none\",\"lsn\":\"0/0\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"started\",\"lsn\":\"0\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"started\",\"lsn\":0,\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"started\",\"lsn\":\"0/0\"}",
        "{\"slot\":\"s\",\"status\":\"started\",\"lsn\":\"0/"
        "0\",\"ts_ms\":\"1\"}",
        "{\"Slot\":\"s\",\"status\":\"started\",\"lsn\":\"0/0\",\"ts_ms\":1}",
        /* A table's record without its schema or table. */
        "{\"slot\":\"s\",\"status\":\"table_started\",\"lsn\":\"0/1\","
        "\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"table_started\",\"schema\":\"p\","
        "\"lsn\":\"0/1\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"table_complete\",\"table\":\"t\","
        "\"lsn\":\"0/1\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"table_complete\",\"schema\":\"\","
        "\"table\":\"t\",\"lsn\":\"0/1\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"table_complete\",\"schema\":\"p\","
        "\"table\":1,\"lsn\":\"0/1\",\"ts_ms\":1}",
        "{\"slot\":\"s\",\"status\":\"table_complete\",\"schema\":\"p\","
        "\"table\":\"t\",\"ts_ms\":1}",
    };
    ferry_wire_snaprec_t out;
    ferry_err_t err = {0};

    (void)state;
    for (size_t i = 0; i < N(bad); i++) {
        if (ferry_wire_snaprec_decode(bad[i], strlen(bad[i]), &out, &err) !=
            FERRY_EDATA)
            fail_msg("accepted %s", bad[i]);
        assert_null(out.mem);
    }
    assert_int_equal(ferry_wire_snaprec_decode(NULL, 0, &out, NULL),
                     FERRY_EDATA);
    assert_int_equal(
        ferry_wire_snaprec_decode(bad[9], strlen(bad[9]), &out, &err),
        FERRY_EDATA);
    assert_string_equal(err.msg, "snapshot record of slot \"s\" with unknown "
                                 "status \"none\"");
}

/* A table's re-snapshot records: their own key (so that compaction keeps
 * the slot's record beside them), schema and table in the value, and a
 * decoder that needs both for the table statuses. */
static void
test_table_snapshot_records_have_their_own_key(void **state)
{
    ferry_wire_snaprec_t in = {.slot = "ferry_slot",
                               .status = FERRY_WIRE_SNAP_TABLE_STARTED,
                               .schema = "public",
                               .table = "Odd \"t\"",
                               .lsn = UINT64_C(0x152B938),
                               .ts_ms = INT64_C(1700000000000)};
    ferry_wire_snaprec_t out;
    ferry_buf_t b;
    char *s, *slot_key;

    (void)state;
    ferry_buf_init(&b);
    ferry_wire_snaprec_key(&b, "ferry_slot");
    slot_key = take(&b);
    ferry_wire_snaprec_table_key(&b, "ferry_slot", "public", "Odd \"t\"");
    s = take(&b);
    assert_string_equal(s, "{\"slot\":\"ferry_slot\",\"schema\":\"public\","
                           "\"table\":\"Odd \\\"t\\\"\"}");
    assert_string_not_equal(s, slot_key);
    free(s);
    free(slot_key);
    ferry_wire_snaprec_value(&b, &in);
    s = take(&b);
    assert_string_equal(s, "{\"slot\":\"ferry_slot\",\"status\":"
                           "\"table_started\",\"schema\":\"public\","
                           "\"table\":\"Odd \\\"t\\\"\",\"lsn\":\"0/152B938\","
                           "\"ts_ms\":1700000000000}");
    assert_int_equal(ferry_wire_snaprec_decode(s, strlen(s), &out, NULL), 0);
    free(s);
    assert_int_equal(out.status, FERRY_WIRE_SNAP_TABLE_STARTED);
    assert_true(ferry_wire_snap_is_table(out.status));
    assert_string_equal(out.slot, "ferry_slot");
    assert_string_equal(out.schema, "public");
    assert_string_equal(out.table, "Odd \"t\"");
    assert_true(out.lsn == in.lsn);
    ferry_wire_snaprec_clear(&out);

    in.status = FERRY_WIRE_SNAP_TABLE_COMPLETE;
    ferry_wire_snaprec_value(&b, &in);
    s = take(&b);
    assert_non_null(strstr(s, "\"status\":\"table_complete\""));
    assert_int_equal(ferry_wire_snaprec_decode(s, strlen(s), &out, NULL), 0);
    assert_int_equal(out.status, FERRY_WIRE_SNAP_TABLE_COMPLETE);
    ferry_wire_snaprec_clear(&out);
    free(s);

    /* The slot's records carry no table, and decode without one. */
    in.status = FERRY_WIRE_SNAP_COMPLETE;
    ferry_wire_snaprec_value(&b, &in);
    s = take(&b);
    assert_null(strstr(s, "\"table\""));
    assert_int_equal(ferry_wire_snaprec_decode(s, strlen(s), &out, NULL), 0);
    assert_false(ferry_wire_snap_is_table(out.status));
    assert_null(out.schema);
    assert_null(out.table);
    ferry_wire_snaprec_clear(&out);
    free(s);
}

/* A table status needs both names; the slot's statuses do not. */
static void
test_table_snapshot_record_decode_needs_schema_and_table(void **state)
{
    static const char rec[] =
        "{\"slot\":\"s\",\"status\":\"table_started\",\"lsn\":\"0/1\","
        "\"ts_ms\":1}";
    ferry_wire_snaprec_t out;
    ferry_err_t err = {0};

    (void)state;
    assert_int_equal(ferry_wire_snaprec_decode(rec, strlen(rec), &out, &err),
                     FERRY_EDATA);
    assert_null(out.mem);
    assert_string_equal(err.msg,
                        "snapshot record \"table_started\" of slot \"s\" "
                        "without \"schema\" or \"table\"");
}

static const ferry_wire_column_t old_cols[] = {
    {"id", "integer"},
    {"Name \"x\"", "character varying(40)"},
};
static const ferry_wire_column_t new_cols[] = {
    {"id", "bigint"},
    {"Name \"x\"", "text"},
    {"path\\é", "\"my type\"[]"},
};

static void
assert_columns_equal(const ferry_wire_column_t *a, const ferry_wire_column_t *b,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(a[i].name, b[i].name);
        assert_string_equal(a[i].type, b[i].type);
    }
}

static void
test_schema_change_key_and_value_bytes(void **state)
{
    ferry_wire_schema_change_t sc = {.schema = "public",
                                     .table = "t",
                                     .lsn = UINT64_C(0x152B938),
                                     .ts_ms = INT64_C(1700000000000),
                                     .old_columns = old_cols,
                                     .n_old = 1,
                                     .new_columns = new_cols,
                                     .n_new = 2};
    ferry_buf_t b;
    char *s;

    (void)state;
    ferry_buf_init(&b);
    ferry_wire_schema_change_key(&b, "public", "Odd \"t\"");
    s = take(&b);
    assert_string_equal(s,
                        "{\"schema\":\"public\",\"table\":\"Odd \\\"t\\\"\"}");
    free(s);
    ferry_wire_schema_change_value(&b, &sc);
    s = take(&b);
    assert_string_equal(
        s, "{\"schema\":\"public\",\"table\":\"t\",\"lsn\":\"0/152B938\","
           "\"ts_ms\":1700000000000,\"old_columns\":[{\"name\":\"id\","
           "\"type\":\"integer\"}],\"new_columns\":[{\"name\":\"id\","
           "\"type\":\"bigint\"},{\"name\":\"Name \\\"x\\\"\",\"type\":"
           "\"text\"}]}");
    free(s);
}

static void
test_schema_change_round_trips(void **state)
{
    ferry_wire_schema_change_t in = {.schema = "s\"x",
                                     .table = "T\\1",
                                     .lsn = UINT64_MAX,
                                     .ts_ms = -1,
                                     .old_columns = old_cols,
                                     .n_old = N(old_cols),
                                     .new_columns = new_cols,
                                     .n_new = N(new_cols)};
    ferry_wire_schema_change_t out;
    ferry_buf_t b;
    char *s;

    (void)state;
    ferry_buf_init(&b);
    ferry_wire_schema_change_value(&b, &in);
    s = take(&b);
    assert_int_equal(ferry_wire_schema_change_decode(s, strlen(s), &out, NULL),
                     0);
    free(s); /* the decoded record owns everything */
    assert_string_equal(out.schema, in.schema);
    assert_string_equal(out.table, in.table);
    assert_true(out.lsn == in.lsn);
    assert_true(out.ts_ms == in.ts_ms);
    assert_int_equal(out.n_old, N(old_cols));
    assert_int_equal(out.n_new, N(new_cols));
    assert_columns_equal(out.old_columns, old_cols, N(old_cols));
    assert_columns_equal(out.new_columns, new_cols, N(new_cols));
    ferry_wire_schema_change_clear(&out);
    assert_null(out.mem);

    /* A table new to ferry has no old columns. */
    in.n_old = 0;
    in.old_columns = NULL;
    ferry_wire_schema_change_value(&b, &in);
    s = take(&b);
    assert_non_null(strstr(s, "\"old_columns\":[],"));
    assert_int_equal(ferry_wire_schema_change_decode(s, strlen(s), &out, NULL),
                     0);
    free(s);
    assert_int_equal(out.n_old, 0);
    assert_int_equal(out.n_new, N(new_cols));
    assert_columns_equal(out.new_columns, new_cols, N(new_cols));
    ferry_wire_schema_change_clear(&out);
}

static void
test_schema_change_decode_rejects_malformed_records(void **state)
{
#define COLS                                                                   \
    "\"old_columns\":[],\"new_columns\":[{\"name\":\"a\",\"type\":\"t\"}]"
#define HEAD "{\"schema\":\"s\",\"table\":\"t\",\"lsn\":\"0/1\",\"ts_ms\":1,"
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"table\":\"t\",\"lsn\":\"0/1\",\"ts_ms\":1," COLS "}",
        "{\"schema\":\"s\",\"lsn\":\"0/1\",\"ts_ms\":1," COLS "}",
        "{\"schema\":\"\",\"table\":\"t\",\"lsn\":\"0/1\",\"ts_ms\":1," COLS
        "}",
        "{\"schema\":\"s\",\"table\":\"t\",\"ts_ms\":1," COLS "}",
        "{\"schema\":\"s\",\"table\":\"t\",\"lsn\":\"1\",\"ts_ms\":1," COLS "}",
        "{\"schema\":\"s\",\"table\":\"t\",\"lsn\":\"0/1\"," COLS "}",
        HEAD "\"new_columns\":[]}",
        HEAD "\"old_columns\":[]}",
        HEAD "\"old_columns\":null,\"new_columns\":[]}",
        HEAD "\"old_columns\":[],\"new_columns\":[\"a\"]}",
        HEAD "\"old_columns\":[],\"new_columns\":[{\"name\":\"a\"}]}",
        HEAD "\"old_columns\":[],\"new_columns\":[{\"type\":\"t\"}]}",
        HEAD "\"old_columns\":[],\"new_columns\":[{\"name\":\"\",\"type\":"
             "\"t\"}]}",
        HEAD "\"old_columns\":[],\"new_columns\":[{\"name\":\"a\\u0000\","
             "\"type\":\"t\"}]}",
        HEAD
        "\"old_columns\":[],\"new_columns\":[{\"name\":1,\"type\":\"t\"}]}",
        HEAD "\"old_columns\":[],\"new_columns\":[{\"name\":\"a\",\"type\":"
             "\"t\"}]",
    };
    ferry_wire_schema_change_t out;
    ferry_err_t err = {0};
    const char *ok = HEAD COLS "}";

    (void)state;
    for (size_t i = 0; i < N(bad); i++) {
        if (ferry_wire_schema_change_decode(bad[i], strlen(bad[i]), &out,
                                            &err) != FERRY_EDATA)
            fail_msg("accepted %s", bad[i]);
        assert_null(out.mem);
        assert_int_equal(out.n_new, 0);
    }
    assert_int_equal(
        ferry_wire_schema_change_decode(ok, strlen(ok), &out, &err), 0);
    assert_string_equal(out.new_columns[0].name, "a");
    ferry_wire_schema_change_clear(&out);
#undef COLS
#undef HEAD
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_is_a_json_string_of_two_decimal_strings),
        cmocka_unit_test(test_sequence_round_trips_through_json),
        cmocka_unit_test(
            test_sequence_decode_allows_blanks_and_reads_only_its_length),
        cmocka_unit_test(test_sequence_decode_rejects_malformed_input),
        cmocka_unit_test(test_txid_round_trips_at_every_width),
        cmocka_unit_test(test_txid_is_xid_colon_commit_lsn),
        cmocka_unit_test(test_txid_decode_rejects_malformed_input),
        cmocka_unit_test(test_topic_names_are_prefix_dot_kind),
        cmocka_unit_test(test_topic_parse_knows_only_the_control_topics),
        cmocka_unit_test(test_heartbeat_key_and_value),
        cmocka_unit_test(test_dead_letter_field_names),
        cmocka_unit_test(test_snapshot_record_bytes_and_round_trip),
        cmocka_unit_test(test_snapshot_record_decode_rejects_malformed_records),
        cmocka_unit_test(test_table_snapshot_records_have_their_own_key),
        cmocka_unit_test(
            test_table_snapshot_record_decode_needs_schema_and_table),
        cmocka_unit_test(test_schema_change_key_and_value_bytes),
        cmocka_unit_test(test_schema_change_round_trips),
        cmocka_unit_test(test_schema_change_decode_rejects_malformed_records),
    };

    return cmocka_run_group_tests_name("common_wire", tests, NULL, NULL);
}
