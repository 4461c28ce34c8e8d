/* Unit tests of LSN text: parsing and formatting "X/X".
 * tests/unit/common/test_ferry_lsn.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_lsn.h"

#include <string.h>

static bool
parse(const char *s, uint64_t *lsn)
{
    return ferry_lsn_parse(s, strlen(s), lsn);
}

static void
test_lsn_text_parses_as_two_hex_halves(void **state)
{
    uint64_t lsn;

    (void)state;
    assert_true(ferry_lsn_parse("0/0", 3, &lsn));
    assert_int_equal(lsn, 0);
    assert_true(ferry_lsn_parse("16/B374D848", 11, &lsn));
    assert_int_equal(lsn, UINT64_C(0x16B374D848));
    assert_true(ferry_lsn_parse("FFFFFFFF/ffffffff", 17, &lsn));
    assert_int_equal(lsn, UINT64_MAX);
    assert_false(ferry_lsn_parse("0/", 2, &lsn));
    assert_false(ferry_lsn_parse("/1", 2, &lsn));
    assert_false(ferry_lsn_parse("01234", 5, &lsn));
    assert_false(ferry_lsn_parse("1/123456789", 11, &lsn));
    assert_false(ferry_lsn_parse("1/12G", 5, &lsn));
}

static void
test_lsn_parse_is_strict_and_reads_only_its_length(void **state)
{
    uint64_t lsn = 7;

    (void)state;
    /* Only n bytes count: what follows (a JSON quote, a NUL) does not. */
    assert_true(ferry_lsn_parse("1/2\"}", 3, &lsn));
    assert_int_equal(lsn, UINT64_C(0x100000002));
    assert_true(ferry_lsn_parse("0/1A2B3C4", 9, &lsn));
    assert_int_equal(lsn, 0x1A2B3C4);
    lsn = 7;
    assert_false(parse("", &lsn));
    assert_false(parse(" 1/2", &lsn));
    assert_false(parse("1/2 ", &lsn));
    assert_false(parse("+1/2", &lsn));
    assert_false(parse("0x1/2", &lsn));
    assert_false(parse("1/-2", &lsn));
    assert_false(parse("1//2", &lsn));
    assert_false(parse("1/2/3", &lsn));
    assert_false(parse("123456789/0", &lsn));
    assert_false(ferry_lsn_parse(NULL, 0, &lsn));
    assert_int_equal(lsn, 7);
}

static void
test_lsn_formats_as_postgres_writes_it_and_round_trips(void **state)
{
    static const uint64_t lsns[] = {0, 1, UINT64_C(0x16B374D848),
                                    UINT64_C(0xFFFFFFFF), UINT64_MAX};
    char out[FERRY_LSN_STRLEN];
    char small[4];

    (void)state;
    assert_int_equal(
        ferry_lsn_format(UINT64_C(0x1600000000) | 0x15273F0, out, sizeof(out)),
        10);
    assert_string_equal(out, "16/15273F0");
    assert_int_equal(ferry_lsn_format(UINT64_MAX, out, sizeof(out)),
                     FERRY_LSN_STRLEN - 1);
    assert_string_equal(out, "FFFFFFFF/FFFFFFFF");
    for (size_t i = 0; i < sizeof(lsns) / sizeof(lsns[0]); i++) {
        uint64_t back;
        size_t n = ferry_lsn_format(lsns[i], out, sizeof(out));

        assert_true(ferry_lsn_parse(out, n, &back));
        assert_int_equal(back, lsns[i]);
    }
    /* Cut like snprintf(): NUL-terminated, the whole length returned. */
    assert_int_equal(
        ferry_lsn_format(UINT64_C(0x16B374D848), small, sizeof(small)), 11);
    assert_string_equal(small, "16/");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsn_text_parses_as_two_hex_halves),
        cmocka_unit_test(test_lsn_parse_is_strict_and_reads_only_its_length),
        cmocka_unit_test(
            test_lsn_formats_as_postgres_writes_it_and_round_trips),
    };

    return cmocka_run_group_tests_name("ferry_lsn", tests, NULL, NULL);
}
