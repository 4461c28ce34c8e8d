/* Unit tests of ferry-sink's Kafka intake in the event loop, against
 * librdkafka's in-process mock cluster (no server): every message reaches
 * the handler once, in partition order; a pause holds the rest back and a
 * resume goes on where it stopped; an offset the broker does not hold
 * stops the sink.
 * tests/unit/sink/test_sink_intake.c */
#include "ferry_time.h"
#include "map_config.h"
#include "sink_consumer.h"
#include "sink_intake.h"
#include "sink_loop.h"
#include "sink_util.h"

#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N_MSGS 500

typedef struct fixture {
    rd_kafka_t *producer; /* owns the mock cluster */
    map_config_t *cfg;    /* one entity on topic t.public.item */
    sink_consumer_t kc;   /* the consumer under test */
    sink_loop_t *loop;    /* the loop */
    sink_intake_t *in;    /* the intake */
    int got;              /* messages handed to the handler */
    int64_t last[2];      /* the last offset seen per partition */
    int pause_at;         /* pause the intake at this count (0: never) */
    bool order_ok;        /* offsets rose by one per partition */
} fixture_t;

#define MAPPING                                                                \
    "source: { dsn: \"host=none\", slot: s }\n"                                \
    "kafka: { brokers: \"%s\", topic_prefix: t }\n"                            \
    "target: { dsn: \"host=none\", uuid_namespace: "                           \
    "3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }\n"                                 \
    "entities:\n"                                                              \
    "  items: { source: item, target: items, legacy_id_column: legacy_id,\n"   \
    "           columns: { n: n } }\n"

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256], text[1024];
    map_diags_t diags;
    rd_kafka_mock_cluster_t *mc;
    int i;

    assert_non_null(f);
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1",
                                       errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    f->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(f->producer);
    mc = rd_kafka_handle_mock_cluster(f->producer);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "t.public.item", 2, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "t.transaction", 1, 1), 0);
    for (i = 0; i < N_MSGS; i++) {
        char v[32];

        snprintf(v, sizeof(v), "{\"n\":%d}", i);
        assert_int_equal(
            rd_kafka_producev(
                f->producer, RD_KAFKA_V_TOPIC("t.public.item"),
                RD_KAFKA_V_PARTITION(i % 2), RD_KAFKA_V_VALUE(v, strlen(v)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(f->producer, 10000), 0);
    snprintf(text, sizeof(text), MAPPING, rd_kafka_mock_cluster_bootstraps(mc));
    map_diags_init(&diags);
    assert_int_equal(
        map_config_parse(text, strlen(text), "test", &f->cfg, &diags), 0);
    map_diags_free(&diags);
    f->loop = sink_loop_new(NULL);
    assert_non_null(f->loop);
    f->last[0] = f->last[1] = -1;
    f->order_ok = true;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;

    sink_intake_free(f->in);
    sink_consumer_close(&f->kc);
    sink_loop_free(f->loop);
    map_config_free(f->cfg);
    rd_kafka_destroy(f->producer);
    free(f);
    return 0;
}

static int
count(void *arg, const rd_kafka_message_t *m, int slot, ferry_err_t *err)
{
    fixture_t *f = arg;
    int p = (int)m->partition;

    (void)slot;
    (void)err;
    if (m->offset != f->last[p] + 1)
        f->order_ok = false;
    f->last[p] = m->offset;
    if (++f->got == f->pause_at)
        sink_intake_pause(f->in);
    if (f->got == N_MSGS)
        sink_loop_stop(f->loop);
    return 0;
}

static int
stop_loop(void *arg, ferry_err_t *err)
{
    (void)err;
    sink_loop_stop(arg);
    return 0;
}

/* Opens and assigns the consumer from the beginning, and the intake. */
static void
open_all(fixture_t *f)
{
    ferry_err_t err = {0, ""};
    sink_map_t *none = sink_map_new();

    assert_int_equal(sink_consumer_open(&f->kc, f->cfg, NULL, &err), 0);
    assert_int_equal(sink_consumer_assign(&f->kc, none, &err), 0);
    sink_map_free(none);
    f->in = sink_intake_new(&f->kc, f->loop, &err);
    assert_non_null(f->in);
    sink_intake_set_handler(f->in, count, f);
}

static void
every_message_reaches_the_handler_in_order(void **state)
{
    fixture_t *f = *state;
    ferry_err_t err = {0, ""};

    open_all(f);
    assert_true(sink_intake_paused(f->in));
    sink_intake_resume(f->in);
    assert_true(sink_loop_after(f->loop, 20000, stop_loop, f->loop) != 0);
    assert_int_equal(sink_loop_run(f->loop, &err), 0);
    assert_int_equal(f->got, N_MSGS);
    assert_true(f->order_ok);
    assert_int_equal(f->last[0] + f->last[1] + 2, N_MSGS);
    assert_int_equal(sink_intake_count(f->in), N_MSGS);
}

static void
a_pause_holds_the_rest_back(void **state)
{
    fixture_t *f = *state;
    ferry_err_t err = {0, ""};

    f->pause_at = 7;
    open_all(f);
    sink_intake_resume(f->in);
    /* Paused at 7: a second of the loop brings nothing more. */
    assert_true(sink_loop_after(f->loop, 1000, stop_loop, f->loop) != 0);
    assert_int_equal(sink_loop_run(f->loop, &err), 0);
    assert_int_equal(f->got, 7);
    assert_true(sink_intake_paused(f->in));
    /* Resumed: the rest, in order, each once. */
    sink_intake_resume(f->in);
    assert_true(sink_loop_after(f->loop, 20000, stop_loop, f->loop) != 0);
    assert_int_equal(sink_loop_run(f->loop, &err), 0);
    assert_int_equal(f->got, N_MSGS);
    assert_true(f->order_ok);
}

static void
an_offset_the_broker_does_not_hold_stops_the_sink(void **state)
{
    fixture_t *f = *state;
    ferry_err_t err = {0, ""};
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int rc;

    open_all(f);
    /* Past the end of partition 0: librdkafka's reset is "error". */
    rd_kafka_topic_partition_list_add(l, "t.public.item", 0)->offset = 100000;
    assert_int_equal(rd_kafka_assign(f->kc.rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    sink_intake_resume(f->in);
    assert_true(sink_loop_after(f->loop, 20000, stop_loop, f->loop) != 0);
    rc = sink_loop_run(f->loop, &err);
    assert_int_equal(rc, FERRY_EFATAL);
    assert_non_null(strstr(err.msg, "the broker no longer holds it"));
    assert_non_null(strstr(err.msg, "t.public.item"));
    assert_non_null(strstr(err.msg, "never skips ahead"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            every_message_reaches_the_handler_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(a_pause_holds_the_rest_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            an_offset_the_broker_does_not_hold_stops_the_sink, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
