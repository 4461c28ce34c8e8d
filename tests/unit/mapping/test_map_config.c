/* Unit tests of what the parser makes of a valid mapping: defaults, tables,
 * topics, column specs, the apply order.
 * tests/unit/mapping/test_map_config.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_config.h"
#include "map_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static map_config_t *
load_full(void)
{
    map_diags_t diags;
    map_config_t *cfg = NULL;

    setenv("FERRY_T_PW", "s3cret", 1);
    map_diags_init(&diags);
    if (map_config_load("cases/full.yaml", &cfg, &diags) != 0)
        map_diags_print(&diags, stderr);
    map_diags_free(&diags);
    assert_non_null(cfg);
    return cfg;
}

static void
test_sections_and_defaults(void **state)
{
    map_config_t *cfg = load_full();
    char buf[MAP_UUID_STRLEN];
    map_uuid_t ns;

    (void)state;
    assert_string_equal(cfg->path, "cases/full.yaml");
    assert_string_equal(cfg->source_dsn, "host=legacy-db dbname=legacy "
                                         "user=ferry_cdc password=s3cret");
    assert_string_equal(cfg->source_slot, "ferry_main");
    assert_string_equal(cfg->kafka_brokers, "localhost:9092");
    assert_string_equal(cfg->kafka_topic_prefix, "legacy");
    assert_int_equal(cfg->n_kafka_properties, 2);
    assert_string_equal(cfg->kafka_properties[0].key, "compression.type");
    assert_string_equal(cfg->kafka_properties[0].value, "zstd");
    assert_string_equal(cfg->kafka_properties[1].key, "acks");
    assert_string_equal(cfg->state_schema, "ferry");
    memcpy(ns.b, cfg->uuid_namespace, 16);
    assert_string_equal(map_uuid_format(&ns, buf),
                        "3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f");
    assert_int_equal(cfg->n_entities, 4);
    map_config_free(cfg);
}

static void
test_entities_keep_file_order_and_tables(void **state)
{
    map_config_t *cfg = load_full();
    const map_entity_t *d = &cfg->entities[0];
    const map_entity_t *o = &cfg->entities[1];
    const map_entity_t *l = &cfg->entities[2];

    (void)state;
    assert_string_equal(d->name, "doctors");
    assert_int_equal(d->pos.line, 14);
    assert_int_equal(d->pos.column, 3);
    assert_string_equal(d->source_schema, "public");
    assert_string_equal(d->source_table, "dispatch_doctor");
    assert_int_equal(d->n_key, 0);
    assert_string_equal(d->id_column, "id");
    assert_int_equal(d->n_legacy_id_columns, 1);
    assert_string_equal(d->legacy_id_columns[0], "legacy_doctor_id");
    assert_int_equal(d->delete_mode, MAP_DELETE_SOFT);
    assert_string_equal(d->soft_delete_column, "removed_at");
    assert_int_equal(d->truncate_mode, MAP_TRUNCATE_APPLY);
    assert_string_equal(map_entity_topic(cfg, d),
                        "legacy.public.dispatch_doctor");
    assert_false(d->topic_is_override);

    assert_string_equal(o->source_schema, "public");
    assert_string_equal(o->target_schema, "app");
    assert_string_equal(o->target_table, "offices");
    assert_int_equal(o->n_key, 1);
    assert_string_equal(o->key[0], "id");
    assert_string_equal(map_entity_topic(cfg, o), "offices-v1");
    assert_true(o->topic_is_override);
    assert_int_equal(o->truncate_mode, MAP_TRUNCATE_IGNORE);
    assert_int_equal(o->delete_mode, MAP_DELETE_HARD);
    assert_null(o->soft_delete_column);

    assert_int_equal(l->n_key, 2);
    assert_string_equal(l->soft_delete_column, "deleted_at");
    assert_ptr_equal(map_config_entity(cfg, "order_lines"), l);
    assert_null(map_config_entity(cfg, "nope"));
    map_config_free(cfg);
}

static void
test_column_specs(void **state)
{
    map_config_t *cfg = load_full();
    const map_entity_t *o = map_config_entity(cfg, "offices");
    const map_entity_t *d = map_config_entity(cfg, "doctors");
    const map_column_t *c;

    (void)state;
    c = map_entity_column(o, "name");
    assert_int_equal(c->kind, MAP_COLUMN_COPY);
    assert_int_equal(c->n_from, 1);
    assert_string_equal(c->from[0], "name");
    c = map_entity_column(o, "city");
    assert_int_equal(c->n_transforms, 2);
    assert_int_equal(c->transforms[0], MAP_TRANSFORM_TRIM);
    assert_int_equal(c->transforms[1], MAP_TRANSFORM_NULLIF_EMPTY);
    assert_string_equal(c->default_value, "n/a");
    c = map_entity_column(o, "status");
    assert_int_equal(c->n_values, 3);
    assert_string_equal(c->values[0].key, "A");
    assert_string_equal(c->values[0].value, "active");
    assert_null(c->values[2].value);
    c = map_entity_column(o, "settings");
    assert_true(c->json);
    assert_int_equal(c->on_invalid, MAP_ON_INVALID_NULL);
    c = map_entity_column(o, "head_doctor_id");
    assert_int_equal(c->kind, MAP_COLUMN_REF);
    assert_true(c->deferred);
    assert_int_equal(c->ref_index, 0);
    assert_int_equal(c->on_missing, MAP_ON_MISSING_PARK);
    c = map_entity_column(o, "price_note");
    assert_int_equal(c->n_from, 0);
    assert_string_equal(c->default_value, "cost $5");
    c = map_entity_column(d, "office_id");
    assert_int_equal(c->on_missing, MAP_ON_MISSING_NULL);
    assert_string_equal(c->ref, "offices");
    assert_null(map_entity_column(d, "nope"));
    map_config_free(cfg);
}

static void
test_composite_and_conditional_refs(void **state)
{
    map_config_t *cfg = load_full();
    const map_entity_t *n = map_config_entity(cfg, "notes");
    const map_column_t *c;

    (void)state;
    c = map_entity_column(n, "line_id");
    assert_int_equal(c->n_from, 2);
    assert_string_equal(c->from[1], "line_no");
    assert_int_equal(c->ref_index, 2);
    assert_int_equal(c->on_missing, MAP_ON_MISSING_ERROR);
    c = map_entity_column(n, "item_id");
    assert_int_equal(c->kind, MAP_COLUMN_COND_REF);
    assert_string_equal(c->discriminator, "item_type_id");
    assert_int_equal(c->n_cases, 2);
    assert_string_equal(c->cases[0].value, "1");
    assert_string_equal(c->cases[0].entity, "offices");
    assert_int_equal(c->cases[0].entity_index, 1);
    assert_int_equal(c->cases[1].entity_index, 0);
    map_config_free(cfg);
}

static void
test_apply_order_puts_parents_first(void **state)
{
    map_config_t *cfg = load_full();

    (void)state;
    /* doctors waits on offices; head_doctor_id is deferred and mentor_id a
     * self-reference, so neither counts. */
    assert_int_equal(cfg->apply_order[0], 1);
    assert_int_equal(cfg->apply_order[1], 0);
    assert_int_equal(cfg->apply_order[2], 2);
    assert_int_equal(cfg->apply_order[3], 3);
    map_config_free(cfg);
}

/* kafka.topics: the defaults for every topic ferry-cdc creates, and one
 * topic's override; left out, topics are created with the broker's
 * defaults. */
static void
test_kafka_topics_defaults_and_overrides(void **state)
{
    static const char yaml[] =
        "source: {dsn: \"host=a dbname=b\"}\n"
        "kafka:\n"
        "  brokers: \"k:9092\"\n"
        "  topic_prefix: legacy\n"
        "  topics:\n"
        "    partitions: 12\n"
        "    replication_factor: 3\n"
        "    config: { retention.ms: \"604800000\" }\n"
        "    overrides:\n"
        "      legacy.transaction: { config: { cleanup.policy: delete } }\n"
        "      legacy.public.p: { partitions: 48 }\n"
        "target: {dsn: \"host=c dbname=d\", "
        "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"
        "entities:\n"
        "  p: {source: p, target: p}\n";
    static const char plain[] =
        "source: {dsn: \"host=a dbname=b\"}\n"
        "kafka: {brokers: \"k:9092\", topic_prefix: legacy}\n"
        "target: {dsn: \"host=c dbname=d\", "
        "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"
        "entities:\n"
        "  p: {source: p, target: p}\n";
    map_diags_t diags;
    map_config_t *cfg = NULL;
    const map_topic_settings_t *o;

    (void)state;
    map_diags_init(&diags);
    if (map_config_parse(yaml, sizeof(yaml) - 1, "t.yaml", &cfg, &diags) != 0)
        map_diags_print(&diags, stderr);
    assert_non_null(cfg);
    assert_true(cfg->kafka_topics_create);
    assert_int_equal(cfg->kafka_topics.partitions, 12);
    assert_int_equal(cfg->kafka_topics.replication_factor, 3);
    assert_int_equal(cfg->kafka_topics.n_config, 1);
    assert_string_equal(cfg->kafka_topics.config[0].key, "retention.ms");
    assert_int_equal(cfg->n_kafka_topic_overrides, 2);
    o = map_config_topic_override(cfg, "legacy.transaction");
    assert_non_null(o);
    assert_int_equal(o->partitions, 0);
    assert_string_equal(o->config[0].value, "delete");
    o = map_config_topic_override(cfg, "legacy.public.p");
    assert_int_equal(o->partitions, 48);
    assert_null(map_config_topic_override(cfg, "legacy.heartbeat"));
    map_config_free(cfg);

    cfg = NULL;
    assert_int_equal(
        map_config_parse(plain, sizeof(plain) - 1, "t.yaml", &cfg, &diags), 0);
    assert_true(cfg->kafka_topics_create);
    assert_int_equal(cfg->kafka_topics.partitions, 0);
    assert_int_equal(cfg->kafka_topics.replication_factor, 0);
    assert_int_equal(cfg->n_kafka_topic_overrides, 0);
    map_config_free(cfg);
    map_diags_free(&diags);
}

/* Quoted identifiers in source and target: PostgreSQL's rules ("" is a
 * double quote; a dot inside quotes is part of the name); unquoted names
 * are taken as written. */
static void
test_quoted_table_names(void **state)
{
    static const char yaml[] =
        "source: {dsn: \"host=a dbname=b\"}\n"
        "kafka: {brokers: \"k:9092\", topic_prefix: legacy}\n"
        "target: {dsn: \"host=c dbname=d\", "
        "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"
        "entities:\n"
        "  a: {source: '\"a.b\"', target: '\"Odd \"\"x\"\"\".\"t\"', "
        "topic: t-a}\n"
        "  b: {source: 'My Schema.\"it''s\"', target: PatientVisits, "
        "topic: t-b}\n";
    map_diags_t diags;
    map_config_t *cfg = NULL;

    (void)state;
    map_diags_init(&diags);
    if (map_config_parse(yaml, sizeof(yaml) - 1, "t.yaml", &cfg, &diags) != 0)
        map_diags_print(&diags, stderr);
    assert_non_null(cfg);
    assert_string_equal(cfg->entities[0].source_schema, "public");
    assert_string_equal(cfg->entities[0].source_table, "a.b");
    assert_string_equal(cfg->entities[0].target_schema, "Odd \"x\"");
    assert_string_equal(cfg->entities[0].target_table, "t");
    assert_string_equal(cfg->entities[1].source_schema, "My Schema");
    assert_string_equal(cfg->entities[1].source_table, "it's");
    assert_string_equal(cfg->entities[1].target_schema, "public");
    assert_string_equal(cfg->entities[1].target_table, "PatientVisits");
    map_config_free(cfg);
    map_diags_free(&diags);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections_and_defaults),
        cmocka_unit_test(test_entities_keep_file_order_and_tables),
        cmocka_unit_test(test_column_specs),
        cmocka_unit_test(test_composite_and_conditional_refs),
        cmocka_unit_test(test_apply_order_puts_parents_first),
        cmocka_unit_test(test_kafka_topics_defaults_and_overrides),
        cmocka_unit_test(test_quoted_table_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
