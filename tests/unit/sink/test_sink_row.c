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

/* Values the pipeline leaves as they are are the event's own text (no
 * copy); those it changes, and refs' UUIDs, are the row's, and move with
 * a merge.  Under the sanitizer build a value freed twice or lost fails. */
static void
test_values_borrowed_or_owned_through_a_merge(void **state)
{
    map_config_t *cfg = fixture_mapping();
    const map_entity_t *offices = map_config_entity(cfg, "offices");
    const map_entity_t *doctors = map_config_entity(cfg, "doctors");
    sink_uuidctx_t ctx;
    sink_event_t *o1 = fixture_event(
        "office", "1:10", 1, 10, 5,
        "{\"id\":1,\"name\":\" Main \",\"status\":\"A\",\"settings\":\"{}\"}",
        0, 1);
    sink_event_t *o2 = fixture_event(
        "office", "2:20", 1, 20, 15,
        "{\"id\":1,\"name\":\" Side \",\"status\":\"B\",\"settings\":\"[1]\"},"
        "\"absent\":[\"status\"]",
        0, 2);
    sink_event_t *d1 =
        fixture_event("doctor", "1:10", 2, 10, 6,
                      "{\"id\":1,\"office_id\":42,\"name\":\"b\"}", 0, 3);
    sink_row_t r1, r2, rd;
    ferry_err_t err = {0, ""};
    const char *dname;

    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    memcpy(ctx.ns.b, cfg->uuid_namespace, 16);
    assert_int_equal(sink_row_build(&ctx, doctors, d1, &rd, &err), 0);
    dname = sink_image_get(&d1->after, "name", 2)->text;
    assert_ptr_equal(rd.vals[1], dname); /* borrowed: no pipeline */
    assert_false(rd.owned[1]);
    assert_true(rd.owned[0]); /* the ref's UUID */
    assert_ptr_equal(rd.keyvals[0], sink_image_get(&d1->after, "id", 0)->text);

    assert_int_equal(sink_row_build(&ctx, offices, o1, &r1, &err), 0);
    assert_int_equal(sink_row_build(&ctx, offices, o2, &r2, &err), 0);
    assert_string_equal(r1.vals[0], "main"); /* transformed: owned */
    assert_true(r1.owned[0]);
    assert_string_equal(r1.vals[1], "active"); /* values map: owned */
    assert_true(r1.owned[1]);
    assert_string_equal(r1.vals[2], "{}"); /* json check: owned */
    sink_row_merge(&r1, &r2, false);
    assert_string_equal(r1.vals[0], "side");
    assert_true(r1.owned[0]);
    assert_string_equal(r1.vals[1], "active"); /* absent in o2: kept */
    assert_true(r1.owned[1]);
    assert_string_equal(r1.vals[2], "[1]");
    assert_int_equal(r1.pair.commit, 20);
    sink_row_clear(&r1);
    sink_row_clear(&r2);
    sink_row_clear(&rd);
    sink_event_free(o1);
    sink_event_free(o2);
    sink_event_free(d1);
    map_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merged_update_keeps_absent_columns),
        cmocka_unit_test(test_values_borrowed_or_owned_through_a_merge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
