/* Unit tests of the shared error report and logger.
 * tests/unit/common/test_common.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_err.h"
#include "ferry_log.h"

#include <string.h>

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_returns_status_and_formats),
        cmocka_unit_test(test_err_prefix_adds_context),
        cmocka_unit_test(test_dsn_safe_never_shows_password),
        cmocka_unit_test(test_log_level_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
