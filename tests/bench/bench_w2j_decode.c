/* Measures ferry-cdc's hot path: parse a wal2json message and build the
 * Kafka key and value, single-threaded, for an 8-column row.
 * tests/bench/bench_w2j_decode.c
 *
 *   bench_w2j_decode [MESSAGES]     default 2000000
 *
 * The input is the real INSERT into the 8-column bench8 table (bigint,
 * integer, text, numeric, timestamptz, boolean, double precision, uuid)
 * captured from wal2json 2.5 into tests/unit/cdc/golden/no_pk.in, with the
 * id and numbers varied per message.  It reports messages/s and MB/s of
 * wal2json input, for parsing alone and for parsing plus building.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry_buf.h"
#include "cdc_envelope.h"
#include "cdc_w2j.h"

#define VARIANTS 1024

static const char *const cols[] = {"id", "a", "b", "c", "d", "e", "f", "g"};
static const char *const key[] = {"id"};
static const cdc_table_t table = {
    "public", "bench8", "ferry.public.bench8", cols, 8, key, 1};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Builds VARIANTS messages, each in its own exact-size allocation. */
static size_t
make_inputs(char **lines, size_t *lens)
{
    size_t total = 0;

    for (int i = 0; i < VARIANTS; i++) {
        char tmp[1024];
        int n = snprintf(
            tmp, sizeof(tmp),
            "{\"action\":\"I\",\"xid\":750,\"timestamp\":\"2026-11-21 "
            "19:35:48.919824+00\",\"lsn\":\"0/%X\",\"schema\":\"public\","
            "\"table\":\"bench8\",\"columns\":[{\"name\":\"id\",\"type\":"
            "\"bigint\",\"value\":%d},{\"name\":\"a\",\"type\":\"integer\","
            "\"value\":%d},{\"name\":\"b\",\"type\":\"text\",\"value\":"
            "\"hello world %d\"},{\"name\":\"c\",\"type\":\"numeric\","
            "\"value\":%d.5678},{\"name\":\"d\",\"type\":\"timestamp with "
            "time zone\",\"value\":\"2026-11-21 19:35:48.918419+00\"},"
            "{\"name\":\"e\",\"type\":\"boolean\",\"value\":true},{\"name\":"
            "\"f\",\"type\":\"double precision\",\"value\":3.14159},"
            "{\"name\":\"g\",\"type\":\"uuid\",\"value\":\"2c6f13f3-cd29-"
            "4070-b692-8f131798b7fc\"}],\"pk\":[{\"name\":\"id\",\"type\":"
            "\"bigint\"}]}",
            0x1535E38 + i * 0x80, 1000000 + i, i * 7, i, i * 31);

        lines[i] = malloc((size_t)n);
        if (lines[i] == NULL)
            exit(1);
        memcpy(lines[i], tmp, (size_t)n);
        lens[i] = (size_t)n;
        total += (size_t)n;
    }
    return total;
}

int
main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 2000000;
    static char *lines[VARIANTS];
    static size_t lens[VARIANTS];
    size_t in_total = make_inputs(lines, lens);
    const char *begin = "{\"action\":\"B\",\"xid\":750,\"timestamp\":"
                        "\"2026-11-21 19:35:48.919824+00\",\"lsn\":"
                        "\"0/1535F58\",\"nextlsn\":\"0/1535F88\"}";
    cdc_w2j_msg_t msg;
    cdc_env_t env;
    cdc_env_tx_t tx;
    ferry_buf_t k, v;
    uint64_t in_bytes = 0, out_bytes = 0;
    double t0, t1, t2;
    ferry_err_t err = {0};

    cdc_w2j_msg_init(&msg);
    cdc_env_tx_init(&tx);
    ferry_buf_init(&k);
    ferry_buf_init(&v);
    if (cdc_env_init(&env, "0.1.0", "ferry", "legacy", &err) != 0 ||
        cdc_w2j_parse(&msg, begin, strlen(begin), &err) != 0 ||
        cdc_env_tx_begin(&tx, &msg, &err) != 0) {
        fprintf(stderr, "bench_w2j_decode: %s\n", err.msg);
        return 1;
    }
    t0 = now_s();
    for (long i = 0; i < count; i++) {
        const size_t j = (size_t)i % VARIANTS;

        if (cdc_w2j_parse(&msg, lines[j], lens[j], &err) != 0)
            goto fail;
        in_bytes += lens[j];
    }
    t1 = now_s();
    for (long i = 0; i < count; i++) {
        const size_t j = (size_t)i % VARIANTS;
        cdc_env_row_t row = {.msg = &msg, .table = &table, .ts_ms = 1};

        ferry_buf_reset(&k);
        ferry_buf_reset(&v);
        if (cdc_w2j_parse(&msg, lines[j], lens[j], &err) != 0 ||
            cdc_env_row_key(&row, &k, &err) != 0 ||
            cdc_env_tx_count(&tx, &table, &row.order, &err) != 0 ||
            cdc_env_row_value(&env, &tx, &row, &v, &err) != 0 ||
            ferry_buf_status(&v, &err, "building a value") != 0)
            goto fail;
        out_bytes += k.len + v.len;
    }
    t2 = now_s();
    printf("input: %zu variants of an 8-column INSERT, avg %zu bytes\n",
           (size_t)VARIANTS, in_total / VARIANTS);
    printf("parse only:    %10.0f messages/s  %8.1f MB/s in\n",
           (double)count / (t1 - t0), (double)in_bytes / (t1 - t0) / 1e6);
    printf("parse + build: %10.0f messages/s  %8.1f MB/s in  %8.1f MB/s "
           "out (avg key+value %" PRIu64 " bytes)\n",
           (double)count / (t2 - t1), (double)in_bytes / (t2 - t1) / 1e6,
           (double)out_bytes / (t2 - t1) / 1e6, out_bytes / (uint64_t)count);
    printf("last value: %.*s\n", (int)v.len, v.data);
    for (int i = 0; i < VARIANTS; i++)
        free(lines[i]);
    ferry_buf_close(&k);
    ferry_buf_close(&v);
    cdc_env_tx_close(&tx);
    cdc_env_close(&env);
    cdc_w2j_msg_close(&msg);
    return 0;
fail:
    fprintf(stderr, "bench_w2j_decode: %s\n", err.msg);
    return 1;
}
