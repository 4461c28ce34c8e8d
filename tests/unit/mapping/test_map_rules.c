/* Unit tests of the value rules: the table of transforms, the C pipeline,
 * the JSON check and its number scanner, the legacy key, and the SQL text
 * of their twins.  That C and SQL agree is proven against PostgreSQL by
 * tests/integration/test_map_rules_agree.sh.
 * tests/unit/mapping/test_map_rules.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_json.h"
#include "map_config.h"
#include "map_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const YAML =
    "source: { dsn: \"dbname=a\" }\n"
    "kafka: { brokers: \"b:1\", topic_prefix: p }\n"
    "target: { dsn: \"dbname=b\", uuid_namespace: "
    "3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }\n"
    "entities:\n"
    "  offices:\n"
    "    source: office\n"
    "    target: offices\n"
    "    key: [id]\n"
    "    columns:\n"
    "      name: { from: name, transform: [trim, lower, nullif_empty], "
    "default: none }\n"
    "      status: { from: status, values: { A: active, X: ~ } }\n"
    "      settings: { from: settings, json: true, on_invalid: error }\n"
    "      loose: { from: settings, json: true, on_invalid: null }\n"
    "      shout: { from: name, transform: upper }\n"
    "      country: { default: NL }\n"
    "      all: { from: name, transform: [trim, upper], values: { \"O'K\": "
    "\"{}\", B: ~ }, default: \"[]\", json: true }\n";

static map_config_t *
load(void)
{
    map_config_t *cfg = NULL;
    map_diags_t d;

    map_diags_init(&d);
    assert_int_equal(map_config_parse(YAML, strlen(YAML), "t.yaml", &cfg, &d),
                     0);
    map_diags_free(&d);
    return cfg;
}

/* Runs column name of offices on v; returns the result ("<NULL>" for SQL
 * NULL, "<ERROR>" for a rejected value) in a static buffer. */
static const char *
run(const map_config_t *cfg, const char *name, const char *v)
{
    static char buf[256];
    const map_column_t *c =
        map_entity_column(map_config_entity(cfg, "offices"), name);
    ferry_err_t err = {0, ""};
    char *out = NULL;
    int rc;

    assert_non_null(c);
    rc = map_rules_value(c, v, &out, &err);
    if (rc == FERRY_EDATA) {
        assert_null(out);
        assert_non_null(strstr(err.msg, "is not valid JSON"));
        return "<ERROR>";
    }
    assert_int_equal(rc, 0);
    snprintf(buf, sizeof(buf), "%s", out != NULL ? out : "<NULL>");
    free(out);
    return buf;
}

static void
test_transform_table_is_complete(void **state)
{
    char words[256];

    (void)state;
    for (size_t i = 0; i < MAP_TRANSFORM__COUNT; i++) {
        const map_rules_transform_t *t = &map_rules_transforms[i];
        enum map_transform found;
        const char *at;

        assert_non_null(t->name);
        assert_non_null(t->doc);
        assert_non_null(t->apply);
        assert_non_null(t->sql);
        at = strstr(t->sql, "%s");
        assert_non_null(at);
        assert_null(strstr(at + 2, "%s"));
        assert_true(map_rules_transform_find(t->name, &found));
        assert_int_equal(found, i);
        assert_string_equal(map_transform_name((enum map_transform)i), t->name);
    }
    assert_false(map_rules_transform_find("title", &(enum map_transform){0}));
    map_rules_transform_words(words, sizeof(words));
    assert_string_equal(words, "trim, lower, upper or nullif_empty");
    map_rules_transform_words(words, 8);
    assert_string_equal(words, "trim");
}

static void
test_pipeline_applies_transforms_values_default_json_in_order(void **state)
{
    map_config_t *cfg = load();

    (void)state;
    assert_string_equal(run(cfg, "name", "  HeLLo "), "hello");
    /* nullif_empty, then default */
    assert_string_equal(run(cfg, "name", "   "), "none");
    assert_string_equal(run(cfg, "name", NULL), "none");
    assert_string_equal(run(cfg, "name", " \t\n\v\f\rx\r\f\v\n\t "), "x");
    /* No-break space is not C white space; É is not ASCII. */
    assert_string_equal(run(cfg, "name",
                            "\xc2\xa0\xc3\x89"
                            "Ab"),
                        "\xc2\xa0\xc3\x89"
                        "ab");
    assert_string_equal(run(cfg, "shout",
                            "stra\xc3\x9f"
                            "e \xc3\xa9t\xc3\xa9"),
                        "STRA\xc3\x9f"
                        "E \xc3\xa9T\xc3\xa9");
    assert_string_equal(run(cfg, "status", "A"), "active");
    assert_string_equal(run(cfg, "status", "X"), "<NULL>");
    assert_string_equal(run(cfg, "status", "Q"), "Q");
    assert_string_equal(run(cfg, "status", "a"), "a");
    assert_string_equal(run(cfg, "settings", "{\"a\": 1e400}"),
                        "{\"a\": 1e400}");
    assert_string_equal(run(cfg, "settings", "{bad"), "<ERROR>");
    assert_string_equal(run(cfg, "settings", NULL), "<NULL>");
    assert_string_equal(run(cfg, "loose", "{bad"), "<NULL>");
    assert_string_equal(run(cfg, "country", "ignored"), "NL");
    assert_string_equal(run(cfg, "all", " o'k "), "{}");
    assert_string_equal(run(cfg, "all", "b"), "[]");
    assert_string_equal(run(cfg, "all", " 12 "), "12");
    assert_string_equal(run(cfg, "all", "x"), "<ERROR>");
    map_config_free(cfg);
}

static bool
valid(const char *s)
{
    return map_rules_json_valid(s, strlen(s));
}

/* A text of depth nested arrays: "[[...]]" (new; free with free()). */
static char *
nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);

    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

static void
test_json_valid_is_what_postgresql_json_accepts(void **state)
{
    char *s;

    (void)state;
    assert_true(valid("[1, -2.5e+3, \"x\\u0041\", {}, []]"));
    assert_true(valid(" null "));
    assert_true(valid("-0"));
    assert_true(valid("1E+5"));
    assert_true(valid("1e99999"));
    assert_true(valid("123456789012345678901234567890.5"));
    assert_true(valid("\"\\u0000\""));
    assert_true(valid("\"\\ud800\""));
    assert_true(valid("\"\\/\\b\\f\\n\\r\\t\""));
    assert_true(valid("{\"a\":1,\"a\":2}"));
    assert_true(valid("\"\x7f\xc3\xa9\""));
    assert_false(valid("[1,]"));
    assert_false(valid("{\"a\" 1}"));
    assert_false(valid("{\"a\":1,}"));
    assert_false(valid("01"));
    assert_false(valid("-01"));
    assert_false(valid("1."));
    assert_false(valid(".5"));
    assert_false(valid("+1"));
    assert_false(valid("1e"));
    assert_false(valid("0x10"));
    assert_false(valid("NaN"));
    assert_false(valid("truex"));
    assert_false(valid("[1true]"));
    assert_false(valid("\"\\x\""));
    assert_false(valid("\"\\U0041\""));
    assert_false(valid("\"\\u00G1\""));
    assert_false(valid("\"a\tb\""));
    assert_false(valid("\v1"));
    assert_false(valid("1\f"));
    assert_false(valid("1 2"));
    assert_false(valid("\xef\xbb\xbf{}"));
    assert_false(valid(""));
    assert_false(valid("   "));
    assert_false(map_rules_json_valid("[1]", 2));
    s = nested(MAP_RULES_JSON_MAX_DEPTH);
    assert_true(valid(s));
    free(s);
    s = nested(MAP_RULES_JSON_MAX_DEPTH + 1);
    assert_false(valid(s));
    free(s);
}

static void
expect_number(const char *text, bool ok, size_t stop_at)
{
    const char *stop = NULL;

    assert_int_equal(ferry_json_scan_number(text, text + strlen(text), &stop),
                     ok);
    assert_int_equal((size_t)(stop - text), stop_at);
}

static void
test_number_scanner_takes_the_rfc_grammar_and_says_where_it_broke(void **state)
{
    (void)state;
    expect_number("0", true, 1);
    expect_number("-0.5E-10,", true, 8);
    expect_number("01", true, 1);
    expect_number("12e+5x", true, 5);
    expect_number("123456789012345678901234567890", true, 30);
    expect_number("-", false, 1);
    expect_number("1.", false, 2);
    expect_number("1.}", false, 2);
    expect_number("1e+", false, 3);
    expect_number("x", false, 0);
    expect_number("", false, 0);
}

static void
test_legacy_key_escapes_backslash_and_comma(void **state)
{
    const char *vals[] = {"a,b", "c\\d", "", "\xc3\xa9"};
    char *k;

    (void)state;
    k = map_rules_legacy_key(vals, 4);
    assert_string_equal(k, "a\\,b,c\\\\d,,\xc3\xa9");
    free(k);
    k = map_rules_legacy_key(vals, 0);
    assert_string_equal(k, "");
    free(k);
}

/* Splitting gives the values back, whatever they hold. */
static void
test_legacy_key_splits_back_into_its_values(void **state)
{
    const char *vals[] = {"a,b", "c\\d", "", "\xc3\xa9", "x\\", ","};
    char *k, **back = NULL;
    size_t n = 0, i;

    (void)state;
    k = map_rules_legacy_key(vals, 6);
    assert_int_equal(map_rules_legacy_key_split(k, &back, &n), 0);
    assert_int_equal(n, 6);
    for (i = 0; i < n; i++) {
        assert_string_equal(back[i], vals[i]);
        free(back[i]);
    }
    free(back);
    free(k);
    assert_int_equal(map_rules_legacy_key_split("42", &back, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(back[0], "42");
    free(back[0]);
    free(back);
}

/* Callbacks that write s."col" and quoted literals. */
static void
col_cb(ferry_buf_t *b, const char *name, void *arg)
{
    (void)arg;
    ferry_buf_printf(b, "s.\"%s\"", name);
}

static void
val_cb(ferry_buf_t *b, const char *text, void *arg)
{
    int *n = arg;

    ferry_buf_printf(b, "$%d", ++*n);
    (void)text;
}

static char *
sql_of(const map_column_t *c, bool rejected)
{
    int n = 0;
    map_rules_sqlctx_t sx = {col_cb, val_cb, &n};
    ferry_buf_t b = {0};

    if (rejected)
        map_rules_rejected_sql(&b, c, &sx);
    else
        map_rules_value_sql(&b, c, &sx);
    assert_int_equal(ferry_buf_status(&b, NULL, "building a test"), 0);
    return ferry_buf_take(&b);
}

static void
test_sql_twin_nests_the_same_steps(void **state)
{
    map_config_t *cfg = load();
    const map_entity_t *e = map_config_entity(cfg, "offices");
    const char *cols[] = {"a", "b"};
    int n = 0;
    map_rules_sqlctx_t sx = {col_cb, val_cb, &n};
    ferry_buf_t b = {0};
    char *s;

    (void)state;
    s = sql_of(map_entity_column(e, "all"), false);
    assert_string_equal(
        s, "pg_temp.ferry_json_or_null(COALESCE(CASE "
           "translate(btrim(s.\"name\"::text, E' \\t\\n\\r\\f\\x0b'), "
           "'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') "
           "WHEN $1::text THEN $2::text WHEN $3::text THEN NULL ELSE "
           "translate(btrim(s.\"name\"::text, E' \\t\\n\\r\\f\\x0b'), "
           "'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') END, "
           "$4::text))");
    free(s);
    s = sql_of(map_entity_column(e, "country"), false);
    assert_string_equal(s, "COALESCE(NULL::text, $1::text)");
    free(s);
    s = sql_of(map_entity_column(e, "settings"), true);
    assert_string_equal(s, "(s.\"settings\"::text IS NOT NULL AND "
                           "pg_temp.ferry_json_or_null(s.\"settings\"::text) "
                           "IS NULL)");
    free(s);
    s = sql_of(map_entity_column(e, "loose"), true);
    assert_string_equal(s, "false");
    free(s);
    map_rules_legacy_key_sql(&b, cols, 2, &sx);
    assert_string_equal(ferry_buf_cstr(&b),
                        "(replace(replace(s.\"a\"::text, E'\\\\', "
                        "E'\\\\\\\\'), ',', E'\\\\,') || ',' || "
                        "replace(replace(s.\"b\"::text, E'\\\\', "
                        "E'\\\\\\\\'), ',', E'\\\\,'))");
    ferry_buf_close(&b);
    assert_non_null(strstr(map_rules_json_fn_sql,
                           "CREATE OR REPLACE FUNCTION "
                           "pg_temp.ferry_json_or_null(v text)"));
    assert_non_null(strstr(map_rules_json_fn_sql, "> 1024 THEN"));
    map_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transform_table_is_complete),
        cmocka_unit_test(
            test_pipeline_applies_transforms_values_default_json_in_order),
        cmocka_unit_test(test_json_valid_is_what_postgresql_json_accepts),
        cmocka_unit_test(
            test_number_scanner_takes_the_rfc_grammar_and_says_where_it_broke),
        cmocka_unit_test(test_legacy_key_escapes_backslash_and_comma),
        cmocka_unit_test(test_legacy_key_splits_back_into_its_values),
        cmocka_unit_test(test_sql_twin_nests_the_same_steps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
