/* Unit tests of the START_REPLICATION command ferry-cdc sends: the slot a
 * quoted identifier, every option value a literal of the replication
 * grammar (no E'' strings, no backslash escapes; '' for a quote), and the
 * add-tables names escaped the way wal2json parses them.
 * tests/unit/cdc/test_cdc_repl_command.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cdc_repl.h"

#include <stdlib.h>
#include <string.h>

#define OPTS                                                                   \
    "(\"format-version\" '2', \"include-xids\" '1', "                          \
    "\"include-timestamp\" '1', \"include-lsn\" '1', \"include-pk\" '1', "     \
    "\"include-types\" '1', \"add-tables\" "

static void
expect_command(const char *slot, const cdc_repl_table_t *t, size_t n,
               const char *want)
{
    char *got = cdc_repl_command(slot, 0x16B3748ULL, t, n);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
plain_names(void **state)
{
    cdc_repl_table_t t[] = {{"public", "doctor"}, {"public", "office"}};

    (void)state;
    expect_command("ferry", t, 2,
                   "START_REPLICATION SLOT \"ferry\" LOGICAL 0/16B3748 " OPTS
                   "'public.doctor,public.office')");
}

/* A space, a period, a comma, an asterisk and a backslash get wal2json's
 * backslash; the backslash stays a plain character of the literal. */
static void
wal2json_specials(void **state)
{
    cdc_repl_table_t t[] = {{"my schema", "Patient Visits"},
                            {"a.b", "c,d"},
                            {"public", "star*"},
                            {"public", "back\\slash"}};

    (void)state;
    expect_command("s", t, 4,
                   "START_REPLICATION SLOT \"s\" LOGICAL 0/16B3748 " OPTS
                   "'my\\ schema.Patient\\ Visits,a\\.b.c\\,d,"
                   "public.star\\*,public.back\\\\slash')");
}

/* A single quote: wal2json's backslash, and doubled for the literal. */
static void
single_quote(void **state)
{
    cdc_repl_table_t t[] = {{"public", "it's"}};

    (void)state;
    expect_command("s", t, 1,
                   "START_REPLICATION SLOT \"s\" LOGICAL 0/16B3748 " OPTS
                   "'public.it\\''s')");
}

/* A double quote, Unicode, a reserved word and mixed case pass as they
 * are; a double quote in the slot name is doubled. */
static void
other_names(void **state)
{
    cdc_repl_table_t t[] = {{"public", "say \"hi\""},
                            {"Ünï", "select"},
                            {"public", "PatientVisits"}};

    (void)state;
    expect_command("od\"d", t, 3,
                   "START_REPLICATION SLOT \"od\"\"d\" LOGICAL 0/16B3748 " OPTS
                   "'public.say\\ \"hi\",Ünï.select,public.PatientVisits')");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_names),
        cmocka_unit_test(wal2json_specials),
        cmocka_unit_test(single_quote),
        cmocka_unit_test(other_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
