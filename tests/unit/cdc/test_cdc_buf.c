/* Unit tests of the growable message buffer.
 * tests/unit/cdc/test_cdc_buf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "cdc_buf.h"

static void
test_append_and_reset_keep_memory(void **state)
{
    cdc_buf_t b;
    char *before;

    (void)state;
    cdc_buf_init(&b);
    assert_string_equal(cdc_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        cdc_buf_append_lit(&b, "0123456789");
    assert_int_equal(b.len, 10000);
    before = b.data;
    cdc_buf_reset(&b);
    assert_int_equal(b.len, 0);
    cdc_buf_append_lit(&b, "x");
    assert_ptr_equal(b.data, before);
    assert_string_equal(cdc_buf_cstr(&b), "x");
    assert_int_equal(cdc_buf_status(&b, NULL), 0);
    cdc_buf_close(&b);
}

static void
test_json_str_escapes_quotes_backslashes_and_controls(void **state)
{
    cdc_buf_t b;
    const char raw[] = "a\"b\\c\n\t\x01\x1f \xc3\xa9";

    (void)state;
    cdc_buf_init(&b);
    cdc_buf_append_json_str(&b, raw, sizeof(raw) - 1);
    assert_string_equal(cdc_buf_cstr(&b),
                        "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f \xc3\xa9\"");
    cdc_buf_reset(&b);
    cdc_buf_append_json_str(&b, "", 0);
    assert_string_equal(cdc_buf_cstr(&b), "\"\"");
    cdc_buf_close(&b);
}

static void
test_integers_print_their_extremes_exactly(void **state)
{
    cdc_buf_t b;

    (void)state;
    cdc_buf_init(&b);
    cdc_buf_append_u64(&b, UINT64_MAX);
    cdc_buf_putc(&b, ' ');
    cdc_buf_append_i64(&b, INT64_MIN);
    cdc_buf_putc(&b, ' ');
    cdc_buf_append_i64(&b, 0);
    cdc_buf_putc(&b, ' ');
    cdc_buf_append_lsn(&b, UINT64_C(0x1600000000) | 0x15273F0);
    assert_string_equal(cdc_buf_cstr(&b), "18446744073709551615 "
                                          "-9223372036854775808 0 16/15273F0");
    cdc_buf_close(&b);
}

static void
test_failed_growth_is_sticky_until_reset(void **state)
{
    /* volatile: the length must not be visible to the optimiser, which
     * would rightly warn that the copy could never happen. */
    volatile size_t huge = SIZE_MAX / 2 + 1;
    cdc_buf_t b;
    ferry_err_t err = {0};

    (void)state;
    cdc_buf_init(&b);
    cdc_buf_append_lit(&b, "ok");
    cdc_buf_append(&b, "x", huge);
    assert_true(b.failed);
    cdc_buf_append_lit(&b, "more");
    assert_int_equal(cdc_buf_status(&b, &err), FERRY_ENOMEM);
    assert_non_null(strstr(err.msg, "could not grow message buffer"));
    cdc_buf_reset(&b);
    assert_int_equal(cdc_buf_status(&b, NULL), 0);
    cdc_buf_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_reset_keep_memory),
        cmocka_unit_test(test_json_str_escapes_quotes_backslashes_and_controls),
        cmocka_unit_test(test_integers_print_their_extremes_exactly),
        cmocka_unit_test(test_failed_growth_is_sticky_until_reset),
    };

    return cmocka_run_group_tests_name("cdc_buf", tests, NULL, NULL);
}
