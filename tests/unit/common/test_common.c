/* Unit tests of the shared error report and logger.
 * tests/unit/common/test_common.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_cli.h"
#include "ferry_err.h"
#include "ferry_log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_err_set_returns_status_and_formats(void **state)
{
    ferry_err_t err = {0};

    (void)state;
    assert_int_equal(ferry_err_set(&err, FERRY_ECONFIG, "bad key \"%s\"", "x"),
                     FERRY_ECONFIG);
    assert_int_equal(err.status, FERRY_ECONFIG);
    assert_string_equal(err.msg, "bad key \"x\"");
    assert_int_equal(ferry_err_set(NULL, FERRY_EDATA, "ignored"), FERRY_EDATA);
}

static void
test_err_prefix_adds_context(void **state)
{
    ferry_err_t err = {0};

    (void)state;
    ferry_err_set(&err, FERRY_EDATA, "value too long");
    ferry_err_prefix(&err, "entity \"%s\" legacy key %d", "doctors", 42);
    assert_string_equal(err.msg,
                        "entity \"doctors\" legacy key 42: value too long");
    assert_string_equal(ferry_status_name(err.status), "data");
}

static void
test_dsn_safe_never_shows_password(void **state)
{
    char buf[256];

    (void)state;
    ferry_log_dsn_safe("host=db port=5433 dbname=app user=u password=s3cret",
                       buf, sizeof(buf));
    assert_null(strstr(buf, "s3cret"));
    assert_string_equal(buf, "user=u dbname=app host=db port=5433");
    ferry_log_dsn_safe("postgresql://u:hunter2@db:5432/app?sslmode=require",
                       buf, sizeof(buf));
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "dbname=app"));
}

static void
test_log_level_names_parse(void **state)
{
    enum ferry_log_level lvl;

    (void)state;
    assert_true(ferry_log_parse_level("debug", &lvl));
    assert_int_equal(lvl, FERRY_LOG_DEBUG);
    assert_true(ferry_log_parse_level("WARN", &lvl));
    assert_int_equal(lvl, FERRY_LOG_WARNING);
    assert_false(ferry_log_parse_level("loud", &lvl));
}

static void
test_sizes_parse_with_units(void **state)
{
    const char *why = NULL;
    long long v = 0;

    (void)state;
    assert_int_equal(ferry_parse_size("1048576", &v, &why), 0);
    assert_true(v == 1048576);
    assert_int_equal(ferry_parse_size("512MB", &v, &why), 0);
    assert_true(v == 512LL << 20);
    assert_int_equal(ferry_parse_size("2 gb", &v, &why), 0);
    assert_true(v == 2LL << 30);
    assert_int_equal(ferry_parse_size("8kB", &v, &why), 0);
    assert_true(v == 8192);
    assert_int_equal(ferry_parse_size("1T", &v, &why), 0);
    assert_true(v == 1LL << 40);
    assert_int_equal(ferry_parse_size("12 parsecs", &v, &why), -1);
    assert_non_null(strstr(why, "unit"));
    assert_int_equal(ferry_parse_size("-1GB", &v, &why), -1);
    assert_int_equal(ferry_parse_size("GB", &v, &why), -1);
    assert_int_equal(ferry_parse_size("99999999999TB", &v, &why), -1);
}

/* Every line of the JSON format is one object with the fields the docs
 * name, whatever the message holds; the text format is unchanged. */
static void
test_json_log_lines_parse(void **state)
{
    char path[] = "/tmp/ferry-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    ferry_logctx_t ctx = FERRY_LOGCTX_NONE;
    char line[16384];
    FILE *f;
    int n = 0;

    (void)state;
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    ferry_log_init("ferry-test");
    ferry_log_set_format(FERRY_LOG_JSON);
    assert_int_equal(ferry_log_set_field("slot", "ferry"), 0);
    ferry_info("plain \"quoted\" \\ back\tslash\nnew line \x01");
    ctx.lsn = ((uint64_t)0x1A << 32) | 0x2B3C;
    ctx.entity = "orders";
    ctx.key = "42";
    ctx.topic = "legacy.public.orders";
    ctx.partition = 3;
    ctx.offset = 1234;
    ferry_log_ctx(FERRY_LOG_WARNING, &ctx, "with context");
    ferry_log_set_format(FERRY_LOG_TEXT);
    ferry_info("back to text");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);

    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        json_error_t je;
        json_t *o;

        n++;
        if (n == 3) {
            assert_non_null(strstr(line, "ferry-test INFO: back to text"));
            break;
        }
        o = json_loads(line, 0, &je);
        assert_non_null(o);
        assert_true(json_is_string(json_object_get(o, "time")));
        assert_string_equal(json_string_value(json_object_get(o, "program")),
                            "ferry-test");
        assert_string_equal(json_string_value(json_object_get(o, "slot")),
                            "ferry");
        if (n == 1) {
            assert_string_equal(json_string_value(json_object_get(o, "level")),
                                "info");
            assert_string_equal(
                json_string_value(json_object_get(o, "message")),
                "plain \"quoted\" \\ back\tslash\nnew line \x01");
        } else {
            assert_string_equal(json_string_value(json_object_get(o, "level")),
                                "warning");
            assert_string_equal(json_string_value(json_object_get(o, "lsn")),
                                "1A/2B3C");
            assert_string_equal(json_string_value(json_object_get(o, "entity")),
                                "orders");
            assert_string_equal(json_string_value(json_object_get(o, "topic")),
                                "legacy.public.orders");
            assert_int_equal(
                json_integer_value(json_object_get(o, "partition")), 3);
            assert_int_equal(json_integer_value(json_object_get(o, "offset")),
                             1234);
        }
        json_decref(o);
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_returns_status_and_formats),
        cmocka_unit_test(test_err_prefix_adds_context),
        cmocka_unit_test(test_dsn_safe_never_shows_password),
        cmocka_unit_test(test_log_level_names_parse),
        cmocka_unit_test(test_sizes_parse_with_units),
        cmocka_unit_test(test_json_log_lines_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
