/* Unit tests of the devbroker's control commands against an in-process mock.
 * tests/unit/devbroker/test_devbroker_control.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devbroker_control.h"

#include <stdio.h>
#include <string.h>

typedef struct fixture {
    rd_kafka_t *rk;
    devbroker_ctx_t ctx;
} fixture_t;

static int
setup(void **state)
{
    static fixture_t f;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    f.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(f.rk);
    f.ctx.mcluster = rd_kafka_mock_cluster_new(f.rk, 3);
    assert_non_null(f.ctx.mcluster);
    f.ctx.broker_cnt = 3;
    f.ctx.default_partitions = 2;
    f.ctx.replication_factor = 3;
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;

    rd_kafka_mock_cluster_destroy(f->ctx.mcluster);
    rd_kafka_destroy(f->rk);
    return 0;
}

static int
run(fixture_t *f, const char *cmd, char *reply, size_t len)
{
    char line[256];

    snprintf(line, sizeof(line), "%s", cmd);
    return devbroker_control_exec(&f->ctx, line, reply, len);
}

static void
test_down_and_up_accept_ids_and_all(void **state)
{
    char reply[256];

    assert_int_equal(run(*state, "down 2\n", reply, sizeof(reply)), 0);
    assert_string_equal(reply, "ok");
    assert_int_equal(run(*state, "up 2", reply, sizeof(reply)), 0);
    assert_int_equal(run(*state, "down all", reply, sizeof(reply)), 0);
    assert_int_equal(run(*state, "up all", reply, sizeof(reply)), 0);
}

static void
test_broker_id_out_of_range_is_refused(void **state)
{
    char reply[256];

    assert_int_equal(run(*state, "down 4", reply, sizeof(reply)), -1);
    assert_non_null(strstr(reply, "usage: down"));
    assert_int_equal(run(*state, "down 0", reply, sizeof(reply)), -1);
    assert_int_equal(run(*state, "up", reply, sizeof(reply)), -1);
}

static void
test_unknown_command_says_so(void **state)
{
    char reply[256];

    assert_int_equal(run(*state, "explode now", reply, sizeof(reply)), -1);
    assert_string_equal(reply,
                        "error: unknown command \"explode\" (try \"help\")");
}

static void
test_error_command_parses_api_and_error_names(void **state)
{
    char reply[256];

    assert_int_equal(run(*state, "error Produce 3 NOT_LEADER_FOR_PARTITION",
                         reply, sizeof(reply)),
                     0);
    assert_int_equal(
        run(*state, "error 1 2 ERR_REQUEST_TIMED_OUT 7", reply, sizeof(reply)),
        0);
    assert_int_equal(
        run(*state, "error Produce 1 NO_SUCH_ERROR", reply, sizeof(reply)), -1);
    assert_non_null(strstr(reply, "NO_SUCH_ERROR"));
    assert_int_equal(
        run(*state, "error Bogus 1 REQUEST_TIMED_OUT", reply, sizeof(reply)),
        -1);
}

static void
test_create_uses_default_partitions_and_refuses_duplicates(void **state)
{
    char reply[256];

    assert_int_equal(run(*state, "create t1", reply, sizeof(reply)), 0);
    assert_int_equal(run(*state, "create t2 5", reply, sizeof(reply)), 0);
    assert_int_equal(run(*state, "create t1", reply, sizeof(reply)), -1);
    assert_int_equal(run(*state, "create t3 zero", reply, sizeof(reply)), -1);
}

static void
test_parse_error_accepts_numbers_and_any_case(void **state)
{
    rd_kafka_resp_err_t err;

    (void)state;
    assert_int_equal(devbroker_parse_error("not_leader_for_partition", &err),
                     0);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    assert_int_equal(devbroker_parse_error("7", &err), 0);
    assert_int_equal(err, 7);
    assert_int_equal(devbroker_parse_error("nonsense", &err), -1);
}

/* A Metadata v4 request (header, one topic "ab", then the flag) as a
 * client sends it, without its size. */
static const unsigned char metadata_v4[] = {
    0, 3, 0,   4, 0, 0, 0,   42,  /* api key, version, correlation id */
    0, 1, 'c',                    /* client id */
    0, 0, 0,   1, 0, 2, 'a', 'b', /* topics */
    1};                           /* AllowAutoTopicCreation */

static void
test_proxy_clears_auto_creation_in_metadata_requests(void **state)
{
    unsigned char f[sizeof(metadata_v4)];
    int32_t corr;
    int16_t ver;

    (void)state;
    memcpy(f, metadata_v4, sizeof(f));
    assert_true(devbroker_proxy_fix_request(f, sizeof(f), &corr, &ver));
    assert_int_equal(corr, 42);
    assert_int_equal(ver, 4);
    assert_int_equal(f[sizeof(f) - 1], 0);
    assert_memory_equal(f, metadata_v4, sizeof(f) - 1);
    /* Produce, and Metadata before v4 (no flag), pass untouched. */
    memcpy(f, metadata_v4, sizeof(f));
    f[1] = 0;
    assert_false(devbroker_proxy_fix_request(f, sizeof(f), &corr, &ver));
    f[1] = 3;
    f[3] = 2;
    assert_false(devbroker_proxy_fix_request(f, sizeof(f), &corr, &ver));
    assert_int_equal(f[sizeof(f) - 1], 1);
}

static void
test_proxy_rewrites_broker_ports_in_metadata_responses(void **state)
{
    /* v4: correlation id, throttle, two brokers (id, host, port, rack). */
    unsigned char f[] = {
        0,   0, 0, 42,   0,    0,    0,    0,   0,   0,   0,   2,   0,
        0,   0, 1, 0,    9,    '1',  '2',  '7', '.', '0', '.', '0', '.',
        '1', 0, 0, 0x1f, 0x90, 0xff, 0xff, 0,   0,   0,   2,   0,   1,
        'h', 0, 0, 0x1f, 0x91, 0,    1,    'r', 0,   0,   0,   0};
    const int from[] = {8080, 8081}, to[] = {9000, 9001};

    (void)state;
    assert_true(
        devbroker_proxy_fix_metadata_response(f, sizeof(f), 4, from, to, 2));
    assert_int_equal(f[29] << 8 | f[30], 9000);
    assert_int_equal(f[42] << 8 | f[43], 9001);
    assert_false(devbroker_proxy_fix_metadata_response(f, 20, 4, from, to, 2));
}

/* --no-auto-create: a topic exists only once "create" made it, and
 * clients only ever see the proxy's ports. */
static void
test_no_auto_create_mode_refuses_unknown_topics(void **state)
{
    fixture_t f2 = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt;
    rd_kafka_t *client;
    char errstr[256], reply[512];

    (void)state;
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    f2.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    f2.ctx.mcluster = rd_kafka_mock_cluster_new(f2.rk, 2);
    f2.ctx.broker_cnt = 2;
    f2.ctx.default_partitions = 3;
    f2.ctx.replication_factor = 2;
    assert_int_equal(devbroker_no_auto_create(&f2.ctx, errstr, sizeof(errstr)),
                     0);
    assert_int_equal(run(&f2, "bootstrap", reply, sizeof(reply)), 0);
    assert_string_not_equal(reply + 3,
                            rd_kafka_mock_cluster_bootstraps(f2.ctx.mcluster));

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", devbroker_bootstraps(&f2.ctx),
                      errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(client);
    rkt = rd_kafka_topic_new(client, "late.topic", NULL);
    assert_int_equal(rd_kafka_metadata(client, 0, rkt, &md, 10000), 0);
    assert_int_equal(md->topic_cnt, 1);
    assert_int_equal(md->topics[0].err,
                     RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    for (int i = 0; i < md->broker_cnt; i++) {
        char port[16];

        snprintf(port, sizeof(port), ":%d", md->brokers[i].port);
        assert_non_null(strstr(devbroker_bootstraps(&f2.ctx), port));
        assert_null(
            strstr(rd_kafka_mock_cluster_bootstraps(f2.ctx.mcluster), port));
    }
    rd_kafka_metadata_destroy(md);
    /* The same request again: still unknown (nothing created it). */
    assert_int_equal(rd_kafka_metadata(client, 0, rkt, &md, 10000), 0);
    assert_int_equal(md->topics[0].err,
                     RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    rd_kafka_metadata_destroy(md);

    assert_int_equal(run(&f2, "create late.topic", reply, sizeof(reply)), 0);
    assert_int_equal(rd_kafka_metadata(client, 0, rkt, &md, 10000), 0);
    assert_int_equal(md->topics[0].err, RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(md->topics[0].partition_cnt, 3);
    rd_kafka_metadata_destroy(md);

    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(client);
    devbroker_proxy_stop(f2.ctx.proxy);
    rd_kafka_mock_cluster_destroy(f2.ctx.mcluster);
    rd_kafka_destroy(f2.rk);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_down_and_up_accept_ids_and_all),
        cmocka_unit_test(test_broker_id_out_of_range_is_refused),
        cmocka_unit_test(test_unknown_command_says_so),
        cmocka_unit_test(test_error_command_parses_api_and_error_names),
        cmocka_unit_test(
            test_create_uses_default_partitions_and_refuses_duplicates),
        cmocka_unit_test(test_parse_error_accepts_numbers_and_any_case),
        cmocka_unit_test(test_proxy_clears_auto_creation_in_metadata_requests),
        cmocka_unit_test(
            test_proxy_rewrites_broker_ports_in_metadata_responses),
        cmocka_unit_test(test_no_auto_create_mode_refuses_unknown_topics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
