/* Test tool: drains a wal2json slot with SQL and produces each change to Kafka.
 * tests/integration/tools/slot_to_kafka.c
 *
 * Usage: slot_to_kafka DSN SLOT BROKERS TOPIC
 * Proves the dev stack end to end: wal2json on the source yields changes,
 * librdkafka produces them (acks=all, idempotent) to the broker, all to
 * partition 0 so that readers see them in slot order.  Prints the
 * number of messages acknowledged.  Exit 0 only if every one was.
 */
#include "ferry_log.h"

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int delivered = 0;
static int failed = 0;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        ferry_error("could not deliver to topic \"%s\": %s",
                    rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        failed++;
    } else {
        delivered++;
    }
}

static rd_kafka_t *
new_producer(const char *brokers)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
        ferry_error("could not configure the producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        ferry_error("could not create the producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

int
main(int argc, char **argv)
{
    const char *params[1];
    PGconn *conn = NULL;
    PGresult *res = NULL;
    rd_kafka_t *rk = NULL;
    int rc = 1, n;

    ferry_log_init("slot_to_kafka");
    if (argc != 5) {
        fprintf(stderr, "usage: slot_to_kafka DSN SLOT BROKERS TOPIC\n");
        return 2;
    }
    conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        ferry_error("could not connect to the source: %s",
                    PQerrorMessage(conn));
        goto done;
    }
    params[0] = argv[2];
    res = PQexecParams(conn,
                       "SELECT data FROM pg_logical_slot_get_changes($1, "
                       "NULL, NULL, 'format-version', '2', 'include-xids', "
                       "'1', 'include-lsn', '1')",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ferry_error("could not read slot \"%s\": %s", argv[2],
                    PQerrorMessage(conn));
        goto done;
    }
    if ((rk = new_producer(argv[3])) == NULL)
        goto done;
    n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *v = PQgetvalue(res, i, 0);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(argv[4]), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_VALUE((void *)v, strlen(v)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err) {
            ferry_error("could not produce to topic \"%s\": %s", argv[4],
                        rd_kafka_err2str(err));
            goto done;
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ferry_error("could not flush to the broker within 30 s");
        goto done;
    }
    printf("%d\n", delivered);
    rc = (failed == 0 && delivered == n) ? 0 : 1;

done:
    if (rk != NULL)
        rd_kafka_destroy(rk);
    PQclear(res);
    PQfinish(conn);
    return rc;
}
