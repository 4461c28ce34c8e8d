/* The devbroker's control channel: one line command in, one reply line out.
 * deploy/devbroker/devbroker_control.h
 *
 * Commands (one per line, words separated by blanks):
 *   down ID|all          take a broker (or every broker) off the network
 *   up ID|all            bring it back on the same port
 *   rtt ID|all MS        delay every response of the broker by MS
 *   error API CNT ERR..  fail the next CNT requests of API (a name such as
 *                        Produce or a number) with the errors given (names
 *                        such as NOT_LEADER_FOR_PARTITION, or numbers)
 *   topic-error TOPIC ERR   make every request on TOPIC fail with ERR
 *                        (NO_ERROR clears it)
 *   create TOPIC [PARTS] create a topic (the default partition count if
 *                        PARTS is left out)
 *   bootstrap            print the bootstrap servers
 *   help                 list the commands
 * The reply is "ok", "ok <text>" or "error: <reason>".
 *
 * devbroker_no_auto_create() switches a cluster to the mode of
 * --no-auto-create, where a topic exists only once --topic or "create"
 * made it, as on a Kafka with auto.create.topics.enable=false.
 */
#ifndef DEVBROKER_CONTROL_H
#define DEVBROKER_CONTROL_H

#include "devbroker_proxy.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>

typedef struct devbroker_ctx {
    rd_kafka_mock_cluster_t *mcluster; /* borrowed: the running cluster */
    int broker_cnt;                    /* brokers are numbered 1..cnt */
    int default_partitions;            /* for "create" without PARTS */
    int replication_factor;            /* for every topic we create */
    devbroker_proxy_t *proxy;          /* owned: --no-auto-create's proxy,
                                          or NULL */
} devbroker_ctx_t;

/* Runs one command line (NUL-terminated, trailing newline allowed) and writes
 * the reply (without newline) into reply, a caller-owned buffer.  Returns 0
 * on success, -1 if the command failed.  Call from one thread at a time. */
int devbroker_control_exec(devbroker_ctx_t *ctx, char *line, char *reply,
                           size_t replylen);

/* Turns topic auto-creation off for ctx's cluster: pins its Metadata API
 * to version 4 and starts the proxy (devbroker_proxy.h) that clients must
 * use instead, devbroker_bootstraps() tells where.  Call once, before any
 * client connects.  Returns 0, or -1 with errbuf (caller-owned) saying
 * why. */
int devbroker_no_auto_create(devbroker_ctx_t *ctx, char *errbuf, size_t errlen);

/* The bootstrap servers clients use (borrowed): the proxy's in the
 * no-auto-create mode, the mock brokers' otherwise. */
const char *devbroker_bootstraps(const devbroker_ctx_t *ctx);

/* Parses a Kafka error name ("NOT_LEADER_FOR_PARTITION", with or without the
 * "ERR_" prefix, any case) or a number.  Returns 0 on success, -1 if the
 * name is unknown. */
int devbroker_parse_error(const char *word, rd_kafka_resp_err_t *out);

#endif
