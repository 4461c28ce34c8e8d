/* Unit tests of ferry-sink's rows (sink_row.c): building a row from an
 * event and merging the next change of its key into it, as a batch's
 * rowset collapses them.
 * tests/unit/sink/test_sink_row.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink_fixture.h"
#include "sink_row.h"

/* A row is built with its legacy key and its refs turned into the parent's
 * UUID; a later update of the same key merged into it wins, except for
 * the columns it left absent. */
static void
test_merged_update_keeps_absent_columns(void **state)
{
    map_config_t *cfg = fixture_mapping();
    const map_entity_t *e = map_config_entity(cfg, "doctors");
    sink_uuidctx_t ctx;
    sink_event_t *e1 =
        fixture_event("doctor", "1:10", 1, 10, 5,
                      "{\"id\":1,\"office_id\":42,\"name\":\"a\"}", 0, 1);
    /* The update leaves "name" out (an unchanged TOASTed column): the
     * envelope's absent member follows after. */
    sink_event_t *e2 = fixture_event(
        "doctor", "2:20", 1, 20, 15,
        "{\"id\":1,\"office_id\":42},\"absent\":[\"name\"]", 0, 2);
    sink_row_t r1, r2;
    ferry_err_t err = {0, ""};

    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    memcpy(ctx.ns.b, cfg->uuid_namespace, 16);
    assert_int_equal(e2->absent.n, 1);
    assert_int_equal(sink_row_build(&ctx, e, e1, &r1, &err), 0);
    assert_int_equal(sink_row_build(&ctx, e, e2, &r2, &err), 0);
    assert_string_equal(r1.lkey, "1");
    /* the parent's UUID, as docs/mapping.md gives it for offices:42 */
    assert_string_equal(r1.vals[0], "b7e34874-da14-5653-8d74-c9250da3b3fb");
    assert_non_null(r2.absent);
    sink_row_merge(&r1, &r2, false);
    assert_int_equal(r1.pair.commit, 20);
    assert_string_equal(r1.vals[1], "a"); /* kept: absent in the update */
    sink_row_clear(&r1);
    sink_row_clear(&r2);
    sink_event_free(e1);
    sink_event_free(e2);
    map_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merged_update_keeps_absent_columns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
