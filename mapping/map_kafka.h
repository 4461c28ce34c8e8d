/* The mapping's Kafka client settings on a librdkafka configuration.
 * mapping/map_kafka.h
 *
 * Every client of ferry's topics (ferry-sink's consumer and dead-letter
 * producer, ferry-cdc's reader of its snapshot records, ferry-map status)
 * starts from the same settings: kafka.brokers as bootstrap.servers and
 * every kafka.properties entry as given (TLS and SASL settings pass
 * through unchanged), with librdkafka's own log lines routed through
 * ferry's logger.  A client sets its own defaults before and what it
 * cannot work without after.  ferry-cdc's producer, which refuses some
 * properties first, sets them itself.
 */
#ifndef MAP_KAFKA_H
#define MAP_KAFKA_H

#include "ferry_err.h"
#include "map_config.h"

#include <librdkafka/rdkafka.h>

/* Applies cfg's Kafka settings (borrowed) to conf (borrowed).  Returns 0,
 * or FERRY_ECONFIG with err naming the property (never its value: it may
 * be a secret). */
int map_kafka_conf(const map_config_t *cfg, rd_kafka_conf_t *conf,
                   ferry_err_t *err) FERRY_WUR;

#endif
