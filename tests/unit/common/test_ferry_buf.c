/* Unit tests of the growable byte buffer.
 * tests/unit/common/test_ferry_buf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry_buf.h"

static void
test_append_and_reset_keep_memory(void **state)
{
    ferry_buf_t b;
    char *before;

    (void)state;
    ferry_buf_init(&b);
    assert_string_equal(ferry_buf_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        ferry_buf_append_lit(&b, "0123456789");
    assert_int_equal(b.len, 10000);
    before = b.data;
    ferry_buf_reset(&b);
    assert_int_equal(b.len, 0);
    ferry_buf_append_lit(&b, "x");
    assert_ptr_equal(b.data, before);
    assert_string_equal(ferry_buf_cstr(&b), "x");
    assert_int_equal(ferry_buf_status(&b, NULL, "building a test"), 0);
    ferry_buf_close(&b);
}

static void
test_json_str_escapes_quotes_backslashes_and_controls(void **state)
{
    ferry_buf_t b;
    const char raw[] = "a\"b\\c\n\t\x01\x1f \xc3\xa9";

    (void)state;
    ferry_buf_init(&b);
    ferry_buf_append_json_str(&b, raw, sizeof(raw) - 1);
    assert_string_equal(ferry_buf_cstr(&b),
                        "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f \xc3\xa9\"");
    ferry_buf_reset(&b);
    ferry_buf_append_json_str(&b, "", 0);
    assert_string_equal(ferry_buf_cstr(&b), "\"\"");
    ferry_buf_close(&b);
}

static void
test_integers_print_their_extremes_exactly(void **state)
{
    ferry_buf_t b;
    char digits[20];

    (void)state;
    ferry_buf_init(&b);
    ferry_buf_append_u64(&b, UINT64_MAX);
    ferry_buf_putc(&b, ' ');
    ferry_buf_append_i64(&b, INT64_MIN);
    ferry_buf_putc(&b, ' ');
    ferry_buf_append_i64(&b, 0);
    ferry_buf_putc(&b, ' ');
    ferry_buf_append_lsn(&b, UINT64_C(0x1600000000) | 0x15273F0);
    assert_string_equal(ferry_buf_cstr(&b),
                        "18446744073709551615 "
                        "-9223372036854775808 0 16/15273F0");
    ferry_buf_close(&b);
    assert_int_equal(ferry_buf_u64_digits(UINT64_MAX, digits), 20);
    assert_memory_equal(digits, "18446744073709551615", 20);
    assert_int_equal(ferry_buf_u64_digits(0, digits), 1);
    assert_int_equal(digits[0], '0');
}

/* Every integer prints as printf's "%llu" would: each length, and each
 * pair of digits at every position (the two-digit table). */
static void
test_integers_agree_with_printf(void **state)
{
    ferry_buf_t b;
    char want[32];
    uint64_t v, p;

    (void)state;
    ferry_buf_init(&b);
    for (v = 0; v < 100000; v++) {
        ferry_buf_reset(&b);
        ferry_buf_append_u64(&b, v);
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
        assert_string_equal(ferry_buf_cstr(&b), want);
    }
    for (p = 1; p != 0 && p <= UINT64_MAX / 10; p *= 10)
        for (v = p - 1; v <= p + 101; v++) {
            ferry_buf_reset(&b);
            ferry_buf_append_u64(&b, v * 7919);
            snprintf(want, sizeof(want), "%llu",
                     (unsigned long long)(v * 7919));
            assert_string_equal(ferry_buf_cstr(&b), want);
        }
    ferry_buf_close(&b);
}

/* A character that needs escaping, at every offset of a string longer
 * than the eight bytes scanned at a time, and next to UTF-8: escaped
 * exactly once, everything else copied. */
static void
test_json_esc_finds_specials_at_every_offset(void **state)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\t'};
    static const char *const escaped[] = {"\\\"",    "\\\\",    "\\n",
                                          "\\u0001", "\\u001f", "\\t"};
    char in[40], want[64];
    ferry_buf_t b;
    size_t at, k;

    (void)state;
    ferry_buf_init(&b);
    for (k = 0; k < sizeof(specials); k++)
        for (at = 0; at < 24; at++) {
            memset(in, 'a', 24);
            in[0] = (char)0xc3; /* é: high bytes are plain */
            in[1] = (char)0xa9;
            in[at] = specials[k];
            if (at == 0)
                in[1] = 'a';
            ferry_buf_reset(&b);
            ferry_buf_append_json_esc(&b, in, 24);
            snprintf(want, sizeof(want), "%.*s%s%.*s", (int)at, in, escaped[k],
                     (int)(23 - at), in + at + 1);
            assert_string_equal(ferry_buf_cstr(&b), want);
        }
    ferry_buf_close(&b);
}

static void
test_failed_growth_is_sticky_until_reset(void **state)
{
    /* volatile: the length must not be visible to the optimiser, which
     * would rightly warn that the copy could never happen. */
    volatile size_t huge = SIZE_MAX / 2 + 1;
    ferry_buf_t b;
    ferry_err_t err = {0};

    (void)state;
    ferry_buf_init(&b);
    ferry_buf_append_lit(&b, "ok");
    ferry_buf_append(&b, "x", huge);
    assert_true(b.failed);
    ferry_buf_append_lit(&b, "more");
    assert_int_equal(
        ferry_buf_status(&b, &err, "building the value of table \"%s\"", "t"),
        FERRY_ENOMEM);
    assert_int_equal(err.status, FERRY_ENOMEM);
    assert_non_null(strstr(err.msg, "could not grow a buffer"));
    assert_non_null(strstr(err.msg, "out of memory building the value of "
                                    "table \"t\" (could not grow a buffer "
                                    "beyond "));
    /* Sticky: formatting into a failed buffer does not clear it. */
    ferry_buf_printf(&b, "%d", 42);
    assert_true(b.failed);
    ferry_buf_reset(&b);
    assert_int_equal(ferry_buf_status(&b, NULL, "building a test"), 0);
    ferry_buf_close(&b);
}

static void
test_printf_appends_and_grows_past_the_spare_room(void **state)
{
    ferry_buf_t b = {0};
    char big[1000];

    (void)state;
    ferry_buf_printf(&b, "%s=%d", "a", 1);
    assert_string_equal(ferry_buf_cstr(&b), "a=1");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* Longer than the first allocation: formatted again after growing. */
    ferry_buf_printf(&b, ",%s,%zu", big, sizeof(big));
    assert_int_equal(b.len, 3 + 1 + 999 + 1 + 4);
    assert_memory_equal(b.data + 4, big, 999);
    assert_string_equal(ferry_buf_cstr(&b) + 1003, ",1000");
    ferry_buf_append_lit(&b, "!");
    assert_string_equal(ferry_buf_cstr(&b) + 1003, ",1000!");
    ferry_buf_reset(&b);
    ferry_buf_printf(&b, "%s", "");
    assert_int_equal(b.len, 0);
    assert_string_equal(ferry_buf_cstr(&b), "");
    assert_int_equal(ferry_buf_status(&b, NULL, "building a test"), 0);
    ferry_buf_close(&b);
}

static void
test_copy_field_escapes_specials_and_writes_null_as_backslash_n(void **state)
{
    ferry_buf_t b;

    (void)state;
    ferry_buf_init(&b);
    ferry_buf_append_copy_field(&b, "plain");
    ferry_buf_putc(&b, '\t');
    ferry_buf_append_copy_field(&b, NULL);
    ferry_buf_putc(&b, '\t');
    ferry_buf_append_copy_field(&b, "a\\b\tc\nd\re");
    ferry_buf_putc(&b, '\t');
    ferry_buf_append_copy_field(&b, "");
    ferry_buf_putc(&b, '\t');
    ferry_buf_append_copy_field(&b, "\\N");
    ferry_buf_putc(&b, '\t');
    ferry_buf_append_copy_field(&b, "\n\xc3\xa9\\");
    assert_string_equal(ferry_buf_cstr(&b), "plain\t\\N\ta\\\\b\\tc\\nd\\re\t"
                                            "\t\\\\N\t\\n\xc3\xa9\\\\");
    ferry_buf_close(&b);
}

static void
test_take_hands_over_the_text_and_empties_the_buffer(void **state)
{
    ferry_buf_t b;
    char *s;

    (void)state;
    ferry_buf_init(&b);
    s = ferry_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    ferry_buf_append_str(&b, "SELECT 1");
    s = ferry_buf_take(&b);
    assert_string_equal(s, "SELECT 1");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* A failed buffer hands over nothing, and is closed. */
    ferry_buf_append_lit(&b, "ok");
    b.failed = true;
    assert_null(ferry_buf_take(&b));
    assert_null(b.data);
    assert_false(b.failed);
    ferry_buf_close(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_reset_keep_memory),
        cmocka_unit_test(test_json_str_escapes_quotes_backslashes_and_controls),
        cmocka_unit_test(test_integers_print_their_extremes_exactly),
        cmocka_unit_test(test_integers_agree_with_printf),
        cmocka_unit_test(test_json_esc_finds_specials_at_every_offset),
        cmocka_unit_test(test_failed_growth_is_sticky_until_reset),
        cmocka_unit_test(test_printf_appends_and_grows_past_the_spare_room),
        cmocka_unit_test(
            test_copy_field_escapes_specials_and_writes_null_as_backslash_n),
        cmocka_unit_test(test_take_hands_over_the_text_and_empties_the_buffer),
    };

    return cmocka_run_group_tests_name("ferry_buf", tests, NULL, NULL);
}
