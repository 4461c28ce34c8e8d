/* Unit tests of what the schema-change checks read from the source's event
 * trigger: the table a 'ferry-ddl' message names.
 * tests/unit/cdc/test_cdc_schema.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cdc_schema.h"

#include <string.h>

/* The names format('%I.%I', schema, table) writes. */
static void
test_ddl_message_names_parse_as_format_quotes_them(void **state)
{
    char s[64], t[64];

    (void)state;
    assert_true(cdc_schema_parse_name("public.t", s, t, sizeof(s)));
    assert_string_equal(s, "public");
    assert_string_equal(t, "t");
    assert_true(
        cdc_schema_parse_name("\"Old Schema\".\"a\"\"b.c\"", s, t, sizeof(s)));
    assert_string_equal(s, "Old Schema");
    assert_string_equal(t, "a\"b.c");
    assert_true(cdc_schema_parse_name("x.\"T\"", s, t, sizeof(s)));
    assert_string_equal(t, "T");
}

static void
test_ddl_message_names_refuse_anything_else(void **state)
{
    static const char *const bad[] = {
        "", "t", "a.b.c", ".t", "s.", "\"s.t", "s.\"t", "\"s\"t", "s.t\"x\""};
    char s[8], t[8];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cdc_schema_parse_name(bad[i], s, t, sizeof(s)))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(
        cdc_schema_parse_name("public.a_very_long_name", s, t, sizeof(s)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ddl_message_names_parse_as_format_quotes_them),
        cmocka_unit_test(test_ddl_message_names_refuse_anything_else),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
