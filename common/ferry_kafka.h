/* What ferry's programs share of librdkafka's configuration.
 * common/ferry_kafka.h
 *
 * A program sets its own defaults first, then bootstrap.servers and every
 * kafka.properties entry of ferry.yaml as given (TLS and SASL settings
 * pass through unchanged), then what it cannot work without.  A value is
 * never shown in a message: properties may hold secrets
 * (sasl.password).
 */
#ifndef FERRY_KAFKA_H
#define FERRY_KAFKA_H

#include "ferry_err.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Sets key to value (both borrowed) on conf (borrowed).  Returns 0 or
 * FERRY_ECONFIG with err set to "invalid Kafka property "<key>": <why>". */
int ferry_kafka_conf_set(rd_kafka_conf_t *conf, const char *key,
                         const char *value, ferry_err_t *err) FERRY_WUR;

/* Routes librdkafka's own log lines (a property a client ignores, a broker
 * going down) through ferry's logger, so that they carry the program's
 * format (text or JSON, one object per line) and level.  Call on every
 * conf before rd_kafka_new(). */
void ferry_kafka_conf_logs(rd_kafka_conf_t *conf);

#endif
