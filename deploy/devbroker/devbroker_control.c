/* Parses and runs the devbroker's fault-injection commands.
 * deploy/devbroker/devbroker_control.c */
#include "devbroker_control.h"

#include "ferry_err.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 64

/* Kafka protocol API keys by name, for the "error" command. */
static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static int
parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int
devbroker_parse_error(const char *word, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long num;

    if (parse_int(word, -200, 1000, &num) == 0) {
        *out = (rd_kafka_resp_err_t)num;
        return 0;
    }
    if (strncasecmp(word, "ERR_", 4) == 0)
        word += 4;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (descs[i].name != NULL && strcasecmp(descs[i].name, word) == 0) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

static int
parse_api(const char *word, int16_t *out)
{
    long num;

    if (parse_int(word, 0, 100, &num) == 0) {
        *out = (int16_t)num;
        return 0;
    }
    for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++) {
        if (strcasecmp(api_keys[i].name, word) == 0) {
            *out = api_keys[i].key;
            return 0;
        }
    }
    return -1;
}

static int
parse_broker(const devbroker_ctx_t *ctx, const char *word, int32_t *out)
{
    long id;

    if (strcasecmp(word, "all") == 0) {
        *out = -1;
        return 0;
    }
    if (parse_int(word, 1, ctx->broker_cnt, &id) != 0)
        return -1;
    *out = (int32_t)id;
    return 0;
}

static int
split_words(char *line, char **words)
{
    int n = 0;
    char *p = line;

    while (*p != '\0' && n < MAX_WORDS) {
        while (isspace((unsigned char)*p))
            *p++ = '\0';
        if (*p == '\0' || *p == '#')
            break;
        words[n++] = p;
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
    }
    return n;
}

static int FERRY_PRINTF(3, 4)
    reply_err(char *reply, size_t len, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(reply, len, "error: %s", msg);
    return -1;
}

static int
reply_kafka(char *reply, size_t len, rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, len, "ok");
        return 0;
    }
    snprintf(reply, len, "error: %s", rd_kafka_err2str(err));
    return -1;
}

static int
cmd_updown(devbroker_ctx_t *ctx, char **w, int n, char *reply, size_t len)
{
    int32_t id;
    int up = strcasecmp(w[0], "up") == 0;

    if (n != 2 || parse_broker(ctx, w[1], &id) != 0)
        return reply_err(reply, len,
                         "usage: %s ID|all (ID from 1 to the broker count)",
                         w[0]);
    if (id == -1) {
        for (int32_t b = 1; b <= ctx->broker_cnt; b++) {
            rd_kafka_resp_err_t err =
                up ? rd_kafka_mock_broker_set_up(ctx->mcluster, b)
                   : rd_kafka_mock_broker_set_down(ctx->mcluster, b);
            if (err)
                return reply_kafka(reply, len, err);
        }
        return reply_kafka(reply, len, RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    return reply_kafka(reply, len,
                       up ? rd_kafka_mock_broker_set_up(ctx->mcluster, id)
                          : rd_kafka_mock_broker_set_down(ctx->mcluster, id));
}

static int
cmd_rtt(devbroker_ctx_t *ctx, char **w, int n, char *reply, size_t len)
{
    int32_t id;
    long ms;

    if (n != 3 || parse_broker(ctx, w[1], &id) != 0 ||
        parse_int(w[2], 0, 600000, &ms) != 0)
        return reply_err(reply, len, "usage: %s ID|all MS", w[0]);
    for (int32_t b = (id == -1 ? 1 : id);
         b <= (id == -1 ? ctx->broker_cnt : id); b++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_broker_set_rtt(ctx->mcluster, b, (int)ms);
        if (err)
            return reply_kafka(reply, len, err);
    }
    return reply_kafka(reply, len, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int
cmd_error(devbroker_ctx_t *ctx, char **w, int n, char *reply, size_t len)
{
    rd_kafka_resp_err_t errs[MAX_WORDS];
    int16_t api;
    long cnt;

    if (n < 4 || parse_api(w[1], &api) != 0 ||
        parse_int(w[2], 1, 1000000, &cnt) != 0)
        return reply_err(reply, len, "usage: %s API CNT ERR [ERR...]", w[0]);
    /* The mock repeats the list of errors to fill CNT requests. */
    for (long i = 0; i < cnt && i < MAX_WORDS; i++) {
        const char *name = w[3 + (i % (n - 3))];
        if (devbroker_parse_error(name, &errs[i]) != 0)
            return reply_err(reply, len, "unknown Kafka error \"%s\"", name);
    }
    if (cnt > MAX_WORDS)
        return reply_err(reply, len, "at most %d requests at a time",
                         MAX_WORDS);
    rd_kafka_mock_push_request_errors_array(ctx->mcluster, api, (size_t)cnt,
                                            errs);
    return reply_kafka(reply, len, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int
cmd_topic_error(devbroker_ctx_t *ctx, char **w, int n, char *reply, size_t len)
{
    rd_kafka_resp_err_t err;

    if (n != 3)
        return reply_err(reply, len, "usage: %s TOPIC ERR", w[0]);
    if (devbroker_parse_error(w[2], &err) != 0)
        return reply_err(reply, len, "unknown Kafka error \"%s\"", w[2]);
    rd_kafka_mock_topic_set_error(ctx->mcluster, w[1], err);
    return reply_kafka(reply, len, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static int
cmd_create(devbroker_ctx_t *ctx, char **w, int n, char *reply, size_t len)
{
    long parts = ctx->default_partitions;

    if (n < 2 || n > 3 || (n == 3 && parse_int(w[2], 1, 10000, &parts) != 0))
        return reply_err(reply, len, "usage: %s TOPIC [PARTITIONS]", w[0]);
    return reply_kafka(reply, len,
                       rd_kafka_mock_topic_create(ctx->mcluster, w[1],
                                                  (int)parts,
                                                  ctx->replication_factor));
}

/* The Metadata API's key in the Kafka protocol. */
#define METADATA_API_KEY 3

int
devbroker_no_auto_create(devbroker_ctx_t *ctx, char *errbuf, size_t errlen)
{
    rd_kafka_resp_err_t err;

    /* From version 4 a Metadata request carries AllowAutoTopicCreation,
     * which the mock obeys and the proxy clears. */
    err = rd_kafka_mock_set_apiversion(ctx->mcluster, METADATA_API_KEY, 4, 4);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errbuf, errlen, "could not pin the Metadata API: %s",
                 rd_kafka_err2str(err));
        return -1;
    }
    ctx->proxy = devbroker_proxy_start(
        rd_kafka_mock_cluster_bootstraps(ctx->mcluster), errbuf, errlen);
    return ctx->proxy != NULL ? 0 : -1;
}

const char *
devbroker_bootstraps(const devbroker_ctx_t *ctx)
{
    return ctx->proxy != NULL ? devbroker_proxy_bootstraps(ctx->proxy)
                              : rd_kafka_mock_cluster_bootstraps(ctx->mcluster);
}

int
devbroker_control_exec(devbroker_ctx_t *ctx, char *line, char *reply,
                       size_t replylen)
{
    char *w[MAX_WORDS];
    int n = split_words(line, w);

    if (n == 0) {
        snprintf(reply, replylen, "ok");
        return 0;
    }
    if (strcasecmp(w[0], "down") == 0 || strcasecmp(w[0], "up") == 0)
        return cmd_updown(ctx, w, n, reply, replylen);
    if (strcasecmp(w[0], "rtt") == 0)
        return cmd_rtt(ctx, w, n, reply, replylen);
    if (strcasecmp(w[0], "error") == 0)
        return cmd_error(ctx, w, n, reply, replylen);
    if (strcasecmp(w[0], "topic-error") == 0)
        return cmd_topic_error(ctx, w, n, reply, replylen);
    if (strcasecmp(w[0], "create") == 0)
        return cmd_create(ctx, w, n, reply, replylen);
    if (strcasecmp(w[0], "bootstrap") == 0) {
        snprintf(reply, replylen, "ok %s", devbroker_bootstraps(ctx));
        return 0;
    }
    if (strcasecmp(w[0], "help") == 0) {
        snprintf(reply, replylen,
                 "ok commands: down ID|all, up ID|all, rtt ID|all MS, "
                 "error API CNT ERR..., topic-error TOPIC ERR, "
                 "create TOPIC [PARTS], bootstrap, help");
        return 0;
    }
    return reply_err(reply, replylen, "unknown command \"%s\" (try \"help\")",
                     w[0]);
}
