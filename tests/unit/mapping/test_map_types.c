/* Unit tests of the source -> target type rules.
 * tests/unit/mapping/test_map_types.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_types.h"

static map_type_t
T(const char *name, char cat)
{
    map_type_t t = {name, cat};

    return t;
}

static void
test_widening_and_text_are_compatible(void **state)
{
    (void)state;
    assert_true(map_types_compatible(T("int4", 'N'), T("int4", 'N')));
    assert_true(map_types_compatible(T("int4", 'N'), T("int8", 'N')));
    assert_true(map_types_compatible(T("int2", 'N'), T("numeric", 'N')));
    assert_true(map_types_compatible(T("int4", 'N'), T("float8", 'N')));
    assert_true(map_types_compatible(T("int4", 'N'), T("text", 'S')));
    assert_true(map_types_compatible(T("timestamp", 'D'), T("text", 'S')));
    assert_true(map_types_compatible(T("text", 'S'), T("varchar", 'S')));
    assert_true(map_types_compatible(T("date", 'D'), T("timestamptz", 'D')));
    assert_true(
        map_types_compatible(T("timestamp", 'D'), T("timestamptz", 'D')));
    assert_true(map_types_compatible(T("jsonb", 'U'), T("json", 'U')));
    assert_true(map_types_compatible(T("uuid", 'U'), T("uuid", 'U')));
}

static void
test_narrowing_and_parsing_are_not(void **state)
{
    (void)state;
    assert_false(map_types_compatible(T("text", 'S'), T("int4", 'N')));
    assert_false(map_types_compatible(T("int8", 'N'), T("int4", 'N')));
    assert_false(map_types_compatible(T("float8", 'N'), T("int8", 'N')));
    assert_false(map_types_compatible(T("int8", 'N'), T("float8", 'N')));
    assert_false(map_types_compatible(T("int4", 'N'), T("uuid", 'U')));
    assert_false(map_types_compatible(T("text", 'S'), T("uuid", 'U')));
    assert_false(map_types_compatible(T("text", 'S'), T("jsonb", 'U')));
    assert_false(map_types_compatible(T("int4", 'N'), T("bool", 'B')));
    assert_false(map_types_compatible(T("timestamptz", 'D'), T("date", 'D')));
    assert_false(map_types_compatible(T("text", 'S'), T("mood", 'E')));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widening_and_text_are_compatible),
        cmocka_unit_test(test_narrowing_and_parsing_are_not),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
