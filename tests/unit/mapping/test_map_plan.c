/* Unit tests of the apply order: chains, diamonds, self-references,
 * deferred refs, conditional refs, and cycles named in order.
 * tests/unit/mapping/test_map_plan.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_config.h"
#include "map_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD                                                                   \
    "source: {dsn: \"host=a dbname=b\"}\n"                                     \
    "kafka: {brokers: \"k:9092\", topic_prefix: legacy}\n"                     \
    "target: {dsn: \"host=c dbname=d\", "                                      \
    "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"                  \
    "entities:\n"

/* Parses HEAD + entities; returns the model or NULL, diags filled. */
static map_config_t *
parse(const char *entities, map_diags_t *diags)
{
    char *yaml = NULL;
    map_config_t *cfg = NULL;

    assert_true(asprintf(&yaml, "%s%s", HEAD, entities) > 0);
    map_diags_init(diags);
    if (map_config_parse(yaml, strlen(yaml), "t.yaml", &cfg, diags) != 0)
        cfg = NULL;
    free(yaml);
    return cfg;
}

/* The apply order as "a b c". */
static void
expect_order(const char *entities, const char *want)
{
    map_diags_t diags;
    map_config_t *cfg = parse(entities, &diags);
    char got[256] = "";
    size_t used = 0;

    if (cfg == NULL)
        map_diags_print(&diags, stderr);
    assert_non_null(cfg);
    for (size_t i = 0; i < cfg->n_entities; i++)
        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s",
                                 i ? " " : "",
                                 cfg->entities[cfg->apply_order[i]].name);
    assert_string_equal(got, want);
    map_config_free(cfg);
    map_diags_free(&diags);
}

static void
test_chain_written_backwards(void **state)
{
    (void)state;
    expect_order("  c: {source: c, target: c, columns: {b: {ref: b, from: "
                 "b}}}\n"
                 "  b: {source: b, target: b, columns: {a: {ref: a, from: "
                 "a}}}\n"
                 "  a: {source: a, target: a}\n",
                 "a b c");
}

static void
test_diamond_breaks_ties_in_file_order(void **state)
{
    (void)state;
    expect_order("  d: {source: d, target: d, columns: {b: {ref: b, from: b}, "
                 "c: {ref: c, from: c}}}\n"
                 "  c: {source: c, target: c, columns: {a: {ref: a, from: "
                 "a}}}\n"
                 "  b: {source: b, target: b, columns: {a: {ref: a, from: "
                 "a}}}\n"
                 "  a: {source: a, target: a}\n",
                 "a c b d");
}

static void
test_independent_entities_keep_file_order(void **state)
{
    (void)state;
    expect_order("  z: {source: z, target: z}\n"
                 "  y: {source: y, target: y}\n"
                 "  x: {source: x, target: x}\n",
                 "z y x");
}

static void
test_self_reference_is_allowed(void **state)
{
    (void)state;
    expect_order("  comments: {source: c, target: c, columns: {parent_id: "
                 "{ref: comments, from: parent_id}}}\n",
                 "comments");
}

static void
test_deferred_ref_breaks_a_cycle(void **state)
{
    (void)state;
    expect_order("  offices: {source: o, target: o, columns: {head_id: {ref: "
                 "doctors, from: head_id, deferred: true}}}\n"
                 "  doctors: {source: d, target: d, columns: {office_id: "
                 "{ref: offices, from: office_id}}}\n",
                 "offices doctors");
}

static void
test_conditional_ref_waits_on_every_case(void **state)
{
    (void)state;
    expect_order("  items: {source: i, target: i, columns: {item_id: {from: "
                 "item_id, ref: {discriminator: t, cases: {1: orders, 2: "
                 "cases}}}}}\n"
                 "  orders: {source: o, target: o}\n"
                 "  cases: {source: c, target: c}\n",
                 "orders cases items");
}

static void
test_cycle_names_entities_in_order(void **state)
{
    map_diags_t diags;
    map_config_t *cfg =
        parse("  a: {source: a, target: a, columns: {b_id: {ref: b, from: "
              "b}}}\n"
              "  b: {source: b, target: b, columns: {c_id: {ref: c, from: "
              "c}}}\n"
              "  c: {source: c, target: c, columns: {a_id: {ref: a, from: "
              "a}}}\n",
              &diags);

    (void)state;
    assert_null(cfg);
    assert_int_equal(diags.n, 1);
    assert_non_null(
        strstr(diags.items[0].msg, "dependency cycle: a -> b -> c -> a"));
    assert_string_equal(diags.items[0].path, "entities.c.columns.a_id");
    assert_int_equal(diags.items[0].pos.line, 7);
    assert_non_null(strstr(diags.items[0].hint, "\"deferred: true\""));
    assert_non_null(strstr(diags.items[0].hint, "entities.c.columns.a_id"));
    map_diags_free(&diags);
}

static void
test_two_cycles_are_both_reported(void **state)
{
    map_diags_t diags;
    map_config_t *cfg =
        parse("  a: {source: a, target: a, columns: {b_id: {ref: b, from: "
              "b}}}\n"
              "  b: {source: b, target: b, columns: {a_id: {ref: a, from: "
              "a}}}\n"
              "  c: {source: c, target: c, columns: {d_id: {ref: d, from: "
              "d}}}\n"
              "  d: {source: d, target: d, columns: {c_id: {ref: c, from: "
              "c}}}\n"
              "  e: {source: e, target: e, columns: {a_id: {ref: a, from: "
              "a}}}\n",
              &diags);

    (void)state;
    assert_null(cfg);
    assert_int_equal(diags.n, 2);
    assert_non_null(strstr(diags.items[0].msg, "a -> b -> a"));
    assert_non_null(strstr(diags.items[1].msg, "c -> d -> c"));
    map_diags_free(&diags);
}

static void
test_waits_on_lists_parents_once(void **state)
{
    map_diags_t diags;
    map_config_t *cfg =
        parse("  a: {source: a, target: a}\n"
              "  b: {source: b, target: b, columns: {x: {ref: a, from: x}, "
              "y: {ref: a, from: y}, z: {ref: b, from: z}}}\n",
              &diags);
    size_t deps[2];

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(map_plan_waits_on(cfg, 1, deps), 1);
    assert_int_equal(deps[0], 0);
    assert_int_equal(map_plan_waits_on(cfg, 0, deps), 0);
    assert_string_equal(map_plan_edge(cfg, 1, 0)->name, "x");
    assert_null(map_plan_edge(cfg, 1, 1));
    map_config_free(cfg);
    map_diags_free(&diags);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_written_backwards),
        cmocka_unit_test(test_diamond_breaks_ties_in_file_order),
        cmocka_unit_test(test_independent_entities_keep_file_order),
        cmocka_unit_test(test_self_reference_is_allowed),
        cmocka_unit_test(test_deferred_ref_breaks_a_cycle),
        cmocka_unit_test(test_conditional_ref_waits_on_every_case),
        cmocka_unit_test(test_cycle_names_entities_in_order),
        cmocka_unit_test(test_two_cycles_are_both_reported),
        cmocka_unit_test(test_waits_on_lists_parents_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
