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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
