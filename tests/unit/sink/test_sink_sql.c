/* Unit tests of ferry-sink's generated SQL (sink_sql.c).
 * tests/unit/sink/test_sink_sql.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink_fixture.h"
#include "sink_sql.h"

/* The upsert, the take-out of rows whose parent is missing and the stale
 * check quote every identifier, a name holding a quote included. */
static void
test_statements_quote_every_identifier(void **state)
{
    map_config_t *cfg = fixture_mapping();
    sink_plan_t plans[2];
    char *cols[2] = {"\"office_id\"", "\"we\"\"ird\""};
    char *types[2] = {"uuid", "text"};
    char *lcols[1] = {"\"legacy_id\""};
    char *ltypes[1] = {"integer"};
    ferry_buf_t out = {0};

    (void)state;
    memset(plans, 0, sizeof(plans));
    plans[0].e = &cfg->entities[0];
    plans[0].q_target = "\"public\".\"offices\"";
    plans[0].q_id = "\"id\"";
    plans[1].e = &cfg->entities[1];
    plans[1].index = 1;
    plans[1].plans = plans;
    plans[1].q_state = "\"ferry\"";
    plans[1].q_target = "\"public\".\"doctors\"";
    plans[1].q_stage = "\"pg_temp\".\"ferry_stage_1\"";
    plans[1].q_id = "\"id\"";
    plans[1].id_type = "uuid";
    plans[1].q_lcols = lcols;
    plans[1].lcol_types = ltypes;
    plans[1].n_lcols = 1;
    plans[1].q_cols = cols;
    plans[1].col_types = types;
    sink_sql_upsert(&plans[1], false, &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out),
                           "INSERT INTO \"public\".\"doctors\" AS t"
                           " (\"id\", \"legacy_id\", \"office_id\", "
                           "\"we\"\"ird\")"));
    assert_non_null(strstr(ferry_buf_cstr(&out),
                           "ON CONFLICT (\"legacy_id\") DO UPDATE "
                           "SET \"office_id\" = EXCLUDED."
                           "\"office_id\", \"we\"\"ird\" = "
                           "EXCLUDED.\"we\"\"ird\""));
    assert_null(strstr(ferry_buf_cstr(&out), "$1"));
    ferry_buf_reset(&out);
    sink_sql_upsert(&plans[1], true, &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out), "s.__n = $1"));
    ferry_buf_reset(&out);
    sink_sql_take_missing(&plans[1], MAP_ON_MISSING_PARK, &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out),
                           "NOT EXISTS (SELECT 1 FROM "
                           "\"public\".\"offices\" x WHERE x.\"id\" "
                           "= s.c0::uuid)"));
    ferry_buf_reset(&out);
    sink_sql_stale(&plans[1], &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out), "\"ferry\".row_lsn"));
    ferry_buf_close(&out);
    map_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements_quote_every_identifier),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
