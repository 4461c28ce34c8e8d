/* Unit tests of the libpq helpers that need no server: the error classes
 * and what happens to a result.
 * tests/unit/common/test_ferry_pg.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_pg.h"

#include <string.h>

static void
test_sqlstates_classify_as_transient_data_or_fatal(void **state)
{
    static const char *const transient[] = {"08006", "08P01", "40001", "40P01",
                                            "53300", "57P01", "55P03", "58030"};
    static const char *const data[] = {"22001", "22P02", "23505",
                                       "23503", "44000", "P0001"};
    static const char *const fatal[] = {"42P01", "42501", "40002",
                                        "55000", "25P02", "XX000"};

    (void)state;
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        assert_int_equal(ferry_pg_sqlstate_class(transient[i]),
                         FERRY_ETRANSIENT);
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
        assert_int_equal(ferry_pg_sqlstate_class(data[i]), FERRY_EDATA);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        assert_int_equal(ferry_pg_sqlstate_class(fatal[i]), FERRY_EFATAL);
    /* No SQLSTATE at all: the server is gone. */
    assert_int_equal(ferry_pg_sqlstate_class(NULL), FERRY_ETRANSIENT);
    assert_int_equal(ferry_pg_class(NULL, NULL), FERRY_ETRANSIENT);
}

static void
test_result_hands_out_success_and_reports_a_lost_connection(void **state)
{
    PGresult *ok = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
    PGresult *bad = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    PGresult *out = ok;
    ferry_err_t err = {0};
    char sqlstate[6] = "xxxxx";

    (void)state;
    assert_non_null(ok);
    assert_non_null(bad);
    assert_int_equal(ferry_pg_result(NULL, ok, &out, sqlstate, "test", 0, &err),
                     0);
    assert_ptr_equal(out, ok);
    assert_string_equal(sqlstate, "");
    PQclear(out);
    /* Even with FERRY_PG_DATA_FATAL a lost connection stays transient. */
    assert_int_equal(ferry_pg_result(NULL, bad, &out, sqlstate,
                                     "record a rejected row",
                                     FERRY_PG_DATA_FATAL, &err),
                     FERRY_ETRANSIENT);
    assert_null(out);
    assert_int_equal(err.status, FERRY_ETRANSIENT);
    assert_string_equal(err.msg, "could not record a rejected row: the "
                                 "connection to the server was lost");
    /* Sending failed: no result at all. */
    assert_int_equal(ferry_pg_result(NULL, NULL, NULL, NULL, "commit", 0, &err),
                     FERRY_ETRANSIENT);
    assert_non_null(strstr(err.msg, "could not commit: "));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlstates_classify_as_transient_data_or_fatal),
        cmocka_unit_test(
            test_result_hands_out_success_and_reports_a_lost_connection),
    };

    return cmocka_run_group_tests_name("ferry_pg", tests, NULL, NULL);
}
