/* Unit tests of the topics ferry-cdc creates at start: which ones, and the
 * settings each gets from ferry's defaults, kafka.topics and its override.
 * tests/unit/cdc/test_cdc_topics.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cdc_topics.h"

#include <stdio.h>
#include <string.h>

#define HEAD                                                                   \
    "source: {dsn: \"host=a dbname=b\"}\n"                                     \
    "target: {dsn: \"host=c dbname=d\", "                                      \
    "uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f}\n"                  \
    "entities:\n"                                                              \
    "  a: {source: t1, target: a}\n"                                           \
    "  b: {source: t1, target: b}\n"                                           \
    "  c: {source: s.t2, target: c, topic: custom-c}\n"

static map_config_t *
load(const char *yaml)
{
    map_diags_t diags;
    map_config_t *cfg = NULL;

    map_diags_init(&diags);
    if (map_config_parse(yaml, strlen(yaml), "t.yaml", &cfg, &diags) != 0)
        map_diags_print(&diags, stderr);
    map_diags_free(&diags);
    assert_non_null(cfg);
    return cfg;
}

static const char *
config_of(const cdc_topic_plan_t *p, const char *key)
{
    for (size_t i = 0; i < p->n_config; i++)
        if (strcmp(p->config[i].key, key) == 0)
            return p->config[i].value;
    return NULL;
}

static void
test_every_topic_once_with_ferry_defaults(void **state)
{
    map_config_t *cfg =
        load(HEAD "kafka: {brokers: \"k:9092\", topic_prefix: lg}\n");
    static const char *const names[] = {"lg.public.t1",   "custom-c",
                                        "lg.transaction", "lg.heartbeat",
                                        "lg.snapshot",    "lg.schema"};
    cdc_topic_plan_t *plan;
    size_t n;

    (void)state;
    assert_int_equal(cdc_topics_plan(cfg, &plan, &n, NULL), 0);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(plan[i].name, names[i]);
        assert_int_equal(plan[i].replication_factor, -1);
        assert_int_equal(plan[i].n_config, 1);
    }
    /* Table topics: the broker's partitions, compacted. */
    assert_int_equal(plan[0].partitions, -1);
    assert_string_equal(config_of(&plan[0], "cleanup.policy"), "compact");
    /* The transaction topic: one partition, a log. */
    assert_int_equal(plan[2].partitions, 1);
    assert_string_equal(config_of(&plan[2], "cleanup.policy"), "delete");
    for (size_t i = 3; i < n; i++) {
        assert_int_equal(plan[i].partitions, 1);
        assert_string_equal(config_of(&plan[i], "cleanup.policy"), "compact");
    }
    cdc_topics_plan_free(plan, n);
    map_config_free(cfg);
}

static void
test_kafka_topics_then_overrides_win(void **state)
{
    map_config_t *cfg = load(
        HEAD "kafka:\n"
             "  brokers: \"k:9092\"\n"
             "  topic_prefix: lg\n"
             "  topics:\n"
             "    partitions: 12\n"
             "    replication_factor: 3\n"
             "    config: {retention.ms: \"100\", min.insync.replicas: \"2\"}\n"
             "    overrides:\n"
             "      custom-c: {partitions: 2, config: {retention.ms: \"5\"}}\n"
             "      lg.heartbeat: {replication_factor: 1, partitions: 3}\n");
    cdc_topic_plan_t *plan;
    size_t n;

    (void)state;
    assert_int_equal(cdc_topics_plan(cfg, &plan, &n, NULL), 0);
    assert_int_equal(plan[0].partitions, 12);
    assert_int_equal(plan[0].replication_factor, 3);
    assert_int_equal(plan[0].n_config, 3);
    assert_string_equal(config_of(&plan[0], "retention.ms"), "100");
    assert_string_equal(config_of(&plan[0], "min.insync.replicas"), "2");
    /* The override's value replaces kafka.topics'. */
    assert_int_equal(plan[1].partitions, 2);
    assert_int_equal(plan[1].n_config, 3);
    assert_string_equal(config_of(&plan[1], "retention.ms"), "5");
    /* kafka.topics.partitions is for table topics: the control topics keep
     * one partition unless their override says otherwise. */
    assert_int_equal(plan[2].partitions, 1);
    assert_int_equal(plan[2].replication_factor, 3);
    assert_int_equal(plan[3].partitions, 3);
    assert_int_equal(plan[3].replication_factor, 1);
    cdc_topics_plan_free(plan, n);
    map_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_topic_once_with_ferry_defaults),
        cmocka_unit_test(test_kafka_topics_then_overrides_win),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
