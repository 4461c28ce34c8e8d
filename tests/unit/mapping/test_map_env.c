/* Unit tests of ${VAR} expansion.
 * tests/unit/mapping/test_map_env.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_env.h"

#include <stdlib.h>
#include <string.h>

static void
expect_ok(const char *in, const char *want)
{
    char *out = NULL;

    assert_int_equal(map_env_expand(in, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
}

static void
expect_error(const char *in, const char *msg_part)
{
    ferry_err_t err = {0};
    char *out = (char *)1;

    assert_int_equal(map_env_expand(in, &out, &err), FERRY_ECONFIG);
    assert_null(out);
    assert_non_null(strstr(err.msg, msg_part));
}

static void
test_expands_set_variables(void **state)
{
    (void)state;
    setenv("FERRY_T_PW", "s3cret", 1);
    setenv("FERRY_T_EMPTY", "", 1);
    expect_ok("password=${FERRY_T_PW}", "password=s3cret");
    expect_ok("${FERRY_T_PW}${FERRY_T_PW}", "s3crets3cret");
    expect_ok("a${FERRY_T_EMPTY}b", "ab");
    expect_ok("no variables", "no variables");
    expect_ok("", "");
}

static void
test_dollar_escapes(void **state)
{
    (void)state;
    expect_ok("pa$$word", "pa$word");
    expect_ok("$${FERRY_T_PW}", "${FERRY_T_PW}");
    expect_ok("cost $5", "cost $5");
    expect_ok("end$", "end$");
}

static void
test_errors_name_the_variable_but_not_the_value(void **state)
{
    ferry_err_t err = {0};
    char *out = NULL;

    (void)state;
    unsetenv("FERRY_T_UNSET");
    expect_error("x=${FERRY_T_UNSET}",
                 "environment variable \"FERRY_T_UNSET\" is not set");
    expect_error("x=${FERRY_T_PW", "unterminated");
    expect_error("x=${}", "empty variable name");
    expect_error("x=${1ABC}", "invalid environment variable name");
    expect_error("x=${A-B}", "invalid environment variable name");
    assert_int_equal(
        map_env_expand("password=hunter2 ${FERRY_T_UNSET}", &out, &err),
        FERRY_ECONFIG);
    assert_null(strstr(err.msg, "hunter2"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expands_set_variables),
        cmocka_unit_test(test_dollar_escapes),
        cmocka_unit_test(test_errors_name_the_variable_but_not_the_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
