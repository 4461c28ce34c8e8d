/* Unit tests of every parse error path: each case is a small mapping that
 * is wrong in one way, the key path the diagnostic must name, and a part of
 * the message that says what was expected.
 * tests/unit/mapping/test_map_errors.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The valid sections every entity-only case is appended to. */
#define HEAD                                                                   \
    "source: {dsn: \"host=a dbname=b\"}\n"                                     \
    "kafka: {brokers: \"k:9092\", topic_prefix: legacy}\n"                     \
    "target: {dsn: \"host=c dbname=d\", "                                      \
    "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"
#define ENT HEAD "entities:\n"
/* HEAD with kafka.topics set to T. */
#define HEAD_TOPICS(T)                                                         \
    "source: {dsn: \"host=a dbname=b\"}\n"                                     \
    "kafka: {brokers: \"k:9092\", topic_prefix: legacy, topics: " T "}\n"      \
    "target: {dsn: \"host=c dbname=d\", "                                      \
    "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"
/* A valid parent entity to ref. */
#define PARENT "  p: {source: p, target: p}\n"

typedef struct err_case {
    const char *name; /* the behaviour */
    const char *yaml; /* the whole file */
    const char *path; /* the key path the diagnostic names */
    const char *msg;  /* part of its message */
    int line;         /* its line, or 0 to skip that check */
} err_case_t;

static const err_case_t cases[] = {
    /* The document. */
    {"yaml_syntax_error", "source: [\n", "", "invalid YAML", 2},
    {"empty_file", "", "", "the file is empty", 1},
    {"root_not_mapping", "- a\n", "", "expected a mapping", 1},
    {"two_documents", ENT PARENT "---\nb: 1\n", "",
     "more than one YAML document", 0},
    {"unknown_top_key", ENT PARENT "extra: 1\n", "extra",
     "unknown key \"extra\" (expected one of: source, kafka, target, "
     "entities, monitoring)",
     6},
    {"missing_section", "source: {dsn: \"host=a\"}\n", "",
     "missing required key \"kafka\"", 1},
    {"duplicate_key", ENT PARENT "  p: {source: q, target: q}\n", "entities.p",
     "duplicate key \"p\"", 6},
    {"non_string_key", ENT PARENT "  ? [a]\n  : {source: q, target: q}\n",
     "entities", "expected a string as key", 6},
    /* source, kafka, target. */
    {"source_not_mapping", "source: x\n", "source",
     "expected a mapping (with dsn and slot), found a string", 1},
    {"dsn_is_list",
     "source: {dsn: [a]}\nkafka: {brokers: k, topic_prefix: t}\n", "source.dsn",
     "expected a string, found a list", 1},
    {"dsn_invalid", "source: {dsn: \"host=a password=s3cret bogus\"}\n",
     "source.dsn", "invalid connection string", 1},
    {"slot_empty", "source: {dsn: \"host=a\", slot: \"\"}\n", "source.slot",
     "expected a non-empty string", 1},
    {"slot_null", "source:\n  dsn: \"host=a\"\n  slot:\n", "source.slot",
     "expected a string, found nothing", 3},
    {"unknown_source_key", "source: {dsn: \"host=a\", slto: x}\n",
     "source.slto", "unknown key \"slto\" (expected one of: dsn, slot)", 1},
    {"env_unset", "source: {dsn: \"host=a password=${FERRY_T_NOT_SET}\"}\n",
     "source.dsn", "environment variable \"FERRY_T_NOT_SET\" is not set", 1},
    {"env_unterminated", "source: {dsn: \"host=${A\"}\n", "source.dsn",
     "unterminated", 1},
    {"properties_not_mapping", "kafka: {properties: [a]}\n", "kafka.properties",
     "expected a mapping", 1},
    {"property_value_list", "kafka:\n  properties:\n    acks: [1]\n",
     "kafka.properties.acks", "expected a string, found a list", 3},
    {"topic_prefix_invalid", "kafka: {brokers: k, topic_prefix: \"a b\"}\n",
     "kafka.topic_prefix", "invalid topic prefix", 1},
    {"topics_unknown_key", "kafka: {topics: {partition: 3}}\n",
     "kafka.topics.partition",
     "unknown key \"partition\" (expected one of: create, partitions, "
     "replication_factor, config, overrides)",
     1},
    {"topics_partitions_not_a_number",
     "kafka:\n  topics:\n    partitions: many\n", "kafka.topics.partitions",
     "invalid value \"many\" (expected a number from 1 to 100000)", 3},
    {"topics_replication_zero",
     "kafka:\n  topics:\n    replication_factor: 0\n",
     "kafka.topics.replication_factor", "expected a number from 1 to 32767", 3},
    {"topics_create_not_bool", "kafka: {topics: {create: maybe}}\n",
     "kafka.topics.create", "expected true or false", 1},
    {"topic_override_unknown_key",
     "kafka: {topics: {overrides: {legacy.heartbeat: {size: 1}}}}\n",
     "kafka.topics.overrides.legacy.heartbeat.size",
     "unknown key \"size\" (expected one of: partitions, replication_factor, "
     "config)",
     1},
    {"topic_override_unknown_topic",
     HEAD_TOPICS(
         "{overrides: {legacy.heartbaet: {partitions: 1}}}") "entities:"
                                                             "\n" PARENT,
     "kafka.topics.overrides.legacy.heartbaet",
     "unknown topic \"legacy.heartbaet\": ferry-cdc does not publish to it", 0},
    {"uuid_namespace_invalid",
     "target: {dsn: \"host=a\", uuid_namespace: nope}\n",
     "target.uuid_namespace", "invalid UUID \"nope\"", 1},
    {"target_missing_namespace", "target: {dsn: \"host=a\"}\n", "target",
     "missing required key \"uuid_namespace\"", 1},
    /* entities. */
    {"entities_not_mapping", HEAD "entities: [a]\n", "entities",
     "expected a mapping", 4},
    {"entities_empty", HEAD "entities: {}\n", "entities", "no entities", 4},
    {"entity_name_invalid", ENT "  9x: {source: p, target: p}\n", "entities",
     "invalid entity name \"9x\"", 5},
    {"entity_not_mapping", ENT "  p: x\n", "entities.p", "expected a mapping",
     5},
    {"entity_missing_source", ENT "  p: {target: p}\n", "entities.p",
     "missing required key \"source\"", 5},
    {"entity_unknown_key", ENT "  p: {source: p, target: p, tabel: x}\n",
     "entities.p.tabel", "unknown key \"tabel\"", 5},
    {"table_three_parts", ENT "  p: {source: a.b.c, target: p}\n",
     "entities.p.source", "invalid table name \"a.b.c\"", 5},
    {"table_empty_schema", ENT "  p: {source: .b, target: p}\n",
     "entities.p.source", "invalid table name", 5},
    {"table_empty_table", ENT "  p: {source: p, target: \"b.\"}\n",
     "entities.p.target", "invalid table name", 5},
    {"table_quote_not_closed", ENT "  p: {source: '\"a.b', target: p}\n",
     "entities.p.source", "a double quote that is not closed", 5},
    {"table_after_quote", ENT "  p: {source: '\"a\"b', target: p}\n",
     "entities.p.source", "characters after a closing double quote", 5},
    {"table_quote_inside", ENT "  p: {source: 'a\"b', target: p}\n",
     "entities.p.source", "a double quote inside an unquoted name", 5},
    {"table_empty_quoted", ENT "  p: {source: '\"\".t', target: p}\n",
     "entities.p.source", "an empty quoted name", 5},
    {"topic_of_dotted_name", ENT "  p: {source: '\"a.b\"', target: p}\n",
     "entities.p.source", "would not say where the schema ends", 5},
    {"topic_shared_by_two_tables",
     ENT "  p: {source: t1, target: p, topic: same}\n"
         "  q: {source: t2, target: q, topic: same}\n",
     "entities.q.topic", "is also the topic of entity \"p\"", 6},
    {"table_too_long",
     ENT "  p: {source: "
         "t1234567890123456789012345678901234567890"
         "1234567890123456789012345, target: p}\n",
     "entities.p.source", "is longer than 63 bytes", 5},
    {"key_empty_list", ENT "  p: {source: p, target: p, key: []}\n",
     "entities.p.key", "expected at least one string", 5},
    {"key_listed_twice", ENT "  p: {source: p, target: p, key: [a, a]}\n",
     "entities.p.key[1]", "\"a\" is listed twice", 5},
    {"key_item_mapping", ENT "  p: {source: p, target: p, key: [{a: 1}]}\n",
     "entities.p.key[0]", "expected a string, found a mapping", 5},
    {"key_is_mapping", ENT "  p: {source: p, target: p, key: {a: 1}}\n",
     "entities.p.key", "expected a string or a list of strings", 5},
    {"legacy_id_width",
     ENT "  p: {source: p, target: p, key: [a, b], legacy_id_column: x}\n",
     "entities.p.legacy_id_column", "1 legacy id column(s) for a key of 2", 5},
    {"topic_invalid", ENT "  p: {source: p, target: p, topic: \"a/b\"}\n",
     "entities.p.topic", "invalid topic \"a/b\"", 5},
    {"derived_topic_invalid", ENT "  p: {source: \"my table\", target: p}\n",
     "entities.p.source", "derived topic \"legacy.public.my table\"", 5},
    {"delete_invalid", ENT "  p: {source: p, target: p, delete: sfot}\n",
     "entities.p.delete", "invalid value \"sfot\" (expected hard or soft)", 5},
    {"delete_list", ENT "  p: {source: p, target: p, delete: [soft]}\n",
     "entities.p.delete", "expected hard or soft, found a list", 5},
    {"delete_missing_mode",
     ENT "  p: {source: p, target: p, delete: {column: x}}\n",
     "entities.p.delete", "missing required key \"mode\"", 5},
    {"delete_unknown_key",
     ENT "  p: {source: p, target: p, delete: {mode: soft, col: x}}\n",
     "entities.p.delete.col", "unknown key \"col\"", 5},
    {"delete_hard_with_column",
     ENT "  p: {source: p, target: p, delete: {mode: hard, column: x}}\n",
     "entities.p.delete.column", "only used with mode soft", 5},
    {"truncate_invalid", ENT "  p: {source: p, target: p, truncate: drop}\n",
     "entities.p.truncate", "expected apply or ignore", 5},
    {"columns_not_mapping", ENT "  p: {source: p, target: p, columns: [a]}\n",
     "entities.p.columns", "expected a mapping", 5},
    /* columns. */
    {"column_list",
     ENT "  p:\n    source: p\n    target: p\n    columns:\n"
         "      a: [x]\n",
     "entities.p.columns.a",
     "expected a source column name or a column spec mapping, found a list", 9},
    {"column_null",
     ENT "  p:\n    source: p\n    target: p\n    columns:\n"
         "      a:\n",
     "entities.p.columns.a", "found nothing", 0},
    {"column_unknown_key",
     ENT "  p: {source: p, target: p, columns: {a: {form: x}}}\n",
     "entities.p.columns.a.form", "unknown key \"form\"", 5},
    {"column_missing_from",
     ENT "  p: {source: p, target: p, columns: {a: {transform: trim}}}\n",
     "entities.p.columns.a", "missing key \"from\"", 5},
    {"copy_from_list",
     ENT "  p: {source: p, target: p, columns: {a: {from: [x, y]}}}\n",
     "entities.p.columns.a.from", "only allowed for a ref", 5},
    {"ref_unknown_entity",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: q, from: "
                "p_id}}}\n",
     "entities.c.columns.p_id.ref",
     "unknown entity \"q\" (expected one of: p, c)", 6},
    {"ref_is_list",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: [p], from: "
                "p_id}}}\n",
     "entities.c.columns.p_id.ref", "expected a string, found a list", 6},
    {"ref_without_from",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: p}}}\n",
     "entities.c.columns.p_id", "missing key \"from\"", 6},
    {"ref_width_vs_key",
     ENT "  p: {source: p, target: p, key: [a, b]}\n"
         "  c: {source: c, target: c, columns: {p_id: {ref: p, from: x}}}\n",
     "entities.c.columns.p_id.from", "whose key has 2 column(s)", 6},
    {"cond_ref_missing_cases",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{discriminator: t}}}}\n",
     "entities.c.columns.i.ref", "missing required key \"cases\"", 6},
    {"cond_ref_missing_discriminator",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{cases: {1: p}}}}}\n",
     "entities.c.columns.i.ref", "missing required key \"discriminator\"", 6},
    {"cond_ref_empty_cases",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{discriminator: t, cases: {}}}}}\n",
     "entities.c.columns.i.ref.cases", "no cases", 6},
    {"cond_ref_cases_list",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{discriminator: t, cases: [p]}}}}\n",
     "entities.c.columns.i.ref.cases", "expected a mapping", 6},
    {"cond_ref_unknown_case_entity",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{discriminator: t, cases: {1: p, 2: nope}}}}}\n",
     "entities.c.columns.i.ref.cases.2", "unknown entity \"nope\"", 6},
    {"cond_ref_duplicate_case",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{discriminator: t, cases: {1: p, 1: c}}}}}\n",
     "entities.c.columns.i.ref.cases.1", "duplicate key \"1\"", 6},
    {"cond_ref_unknown_key",
     ENT PARENT "  c: {source: c, target: c, columns: {i: {from: i, ref: "
                "{discriminator: t, cases: {1: p}, when: x}}}}\n",
     "entities.c.columns.i.ref.when", "unknown key \"when\"", 6},
    {"on_missing_invalid",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: p, from: "
                "p_id, on_missing: skip}}}\n",
     "entities.c.columns.p_id.on_missing",
     "invalid value \"skip\" (expected park, null or error)", 6},
    {"deferred_not_bool",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: p, from: "
                "p_id, deferred: yes}}}\n",
     "entities.c.columns.p_id.deferred",
     "invalid value \"yes\" (expected true or false)", 6},
    {"deferred_list",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: p, from: "
                "p_id, deferred: [true]}}}\n",
     "entities.c.columns.p_id.deferred", "expected true or false, found a list",
     6},
    {"deferred_without_ref",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, deferred: "
         "true}}}\n",
     "entities.p.columns.a.deferred",
     "\"deferred\" is only allowed with \"ref\"", 5},
    {"on_missing_without_ref",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, on_missing: "
         "null}}}\n",
     "entities.p.columns.a.on_missing", "only allowed with \"ref\"", 5},
    {"values_with_ref",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: p, from: "
                "p_id, values: {a: b}}}}\n",
     "entities.c.columns.p_id.values", "\"values\" is not allowed with \"ref\"",
     6},
    {"json_with_ref",
     ENT PARENT "  c: {source: c, target: c, columns: {p_id: {ref: p, from: "
                "p_id, json: true}}}\n",
     "entities.c.columns.p_id.json", "not allowed with \"ref\"", 6},
    {"values_not_mapping",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, values: [a]}}}\n",
     "entities.p.columns.a.values", "expected a mapping", 5},
    {"values_value_list",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, values: {A: "
         "[x]}}}}\n",
     "entities.p.columns.a.values.A", "expected a string, found a list", 5},
    {"values_duplicate",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, values: {A: x, "
         "A: y}}}}\n",
     "entities.p.columns.a.values.A", "duplicate key \"A\"", 5},
    {"transform_unknown",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, transform: "
         "[trim, title]}}}\n",
     "entities.p.columns.a.transform",
     "invalid transform \"title\" (expected trim, lower, upper or "
     "nullif_empty)",
     5},
    {"transform_empty",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, transform: "
         "[]}}}\n",
     "entities.p.columns.a.transform", "expected at least one string", 5},
    {"json_not_bool",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, json: 1}}}\n",
     "entities.p.columns.a.json", "expected true or false", 5},
    {"on_invalid_without_json",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, on_invalid: "
         "null}}}\n",
     "entities.p.columns.a.on_invalid", "only allowed with \"json: true\"", 5},
    {"on_invalid_invalid",
     ENT "  p: {source: p, target: p, columns: {a: {from: a, json: true, "
         "on_invalid: skip}}}\n",
     "entities.p.columns.a.on_invalid", "expected error or null", 5},
    {"default_list",
     ENT "  p: {source: p, target: p, columns: {a: {default: [x]}}}\n",
     "entities.p.columns.a.default", "expected a string, found a list", 5},
    {"column_is_id_column",
     ENT "  p: {source: p, target: p, columns: {id: id}}\n",
     "entities.p.columns.id", "is the entity's id_column", 5},
    {"column_is_legacy_id",
     ENT "  p: {source: p, target: p, legacy_id_column: l, columns: {l: id}}\n",
     "entities.p.columns.l", "is the entity's legacy_id_column", 5},
    {"column_is_soft_delete",
     ENT "  p: {source: p, target: p, delete: soft, columns: {deleted_at: "
         "d}}\n",
     "entities.p.columns.deleted_at", "is the entity's soft delete column", 5},
    /* Ordering. */
    {"cycle_names_entities",
     ENT "  a: {source: a, target: a, columns: {b_id: {ref: b, from: b}}}\n"
         "  b: {source: b, target: b, columns: {a_id: {ref: a, from: a}}}\n",
     "entities.b.columns.a_id", "dependency cycle: a -> b -> a", 6},
};

static void
run_case(void **state)
{
    const err_case_t *c = *state;
    map_diags_t diags;
    map_config_t *cfg = NULL;
    bool found = false;
    int rc;

    map_diags_init(&diags);
    rc = map_config_parse(c->yaml, strlen(c->yaml), "t.yaml", &cfg, &diags);
    assert_int_equal(rc, FERRY_ECONFIG);
    assert_null(cfg);
    for (size_t i = 0; i < diags.n && !found; i++) {
        const map_diag_t *d = &diags.items[i];

        if (strcmp(d->path, c->path) == 0 && strstr(d->msg, c->msg) != NULL) {
            found = true;
            assert_string_equal(d->file, "t.yaml");
            if (c->line > 0)
                assert_int_equal(d->pos.line, c->line);
            assert_null(strstr(d->msg, "s3cret"));
        }
    }
    if (!found) {
        print_error("no diagnostic at \"%s\" containing \"%s\"; got:\n",
                    c->path, c->msg);
        map_diags_print(&diags, stderr);
    }
    assert_true(found);
    map_diags_free(&diags);
}

static void
test_all_errors_are_reported_at_once(void **state)
{
    static const char yaml[] =
        "source: {dsn: [a], slto: x}\n"
        "kafka: {brokers: k}\n"
        "target: {dsn: \"host=a\", uuid_namespace: nope}\n"
        "entities:\n"
        "  a: {source: a, target: a, delete: sfot, columns: {x: {ref: zz, "
        "from: x}}}\n"
        "  b: {source: b, target: b, truncate: no}\n";
    map_diags_t diags;
    map_config_t *cfg = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *out;

    (void)state;
    map_diags_init(&diags);
    assert_int_equal(
        map_config_parse(yaml, strlen(yaml), "f.yaml", &cfg, &diags),
        FERRY_ECONFIG);
    assert_int_equal(diags.n, 7);
    out = open_memstream(&text, &len);
    map_diags_print(&diags, out);
    fclose(out);
    assert_non_null(strstr(text, "f.yaml:1:15: source.dsn: expected a string, "
                                 "found a list\n"));
    assert_non_null(strstr(text, "f.yaml:5:62: entities.a.columns.x.ref: "
                                 "unknown entity \"zz\""));
    free(text);
    map_diags_free(&diags);
}

static void
test_missing_file_is_reported(void **state)
{
    map_diags_t diags;
    map_config_t *cfg = NULL;

    (void)state;
    map_diags_init(&diags);
    assert_int_equal(map_config_load("cases/does-not-exist.yaml", &cfg, &diags),
                     FERRY_ECONFIG);
    assert_int_equal(diags.n, 1);
    assert_non_null(strstr(diags.items[0].msg, "could not open mapping file"));
    map_diags_free(&diags);
}

int
main(void)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);
    struct CMUnitTest *tests = calloc(n + 2, sizeof(*tests));
    int rc;

    unsetenv("FERRY_T_NOT_SET");
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = (void *)&cases[i];
    }
    tests[n].name = "all_errors_are_reported_at_once";
    tests[n].test_func = test_all_errors_are_reported_at_once;
    tests[n + 1].name = "missing_file_is_reported";
    tests[n + 1].test_func = test_missing_file_is_reported;
    rc = _cmocka_run_group_tests("mapping_config_errors", tests, n + 2, NULL,
                                 NULL);
    free(tests);
    return rc;
}
