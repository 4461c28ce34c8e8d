/* The mapping's Kafka client settings on a librdkafka configuration.
 * mapping/map_kafka.c */
#include "map_kafka.h"

#include "ferry_kafka.h"

int
map_kafka_conf(const map_config_t *cfg, rd_kafka_conf_t *conf, ferry_err_t *err)
{
    int rc = ferry_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_brokers,
                                  err);

    /* The parser keeps only properties with a string value. */
    for (size_t i = 0; rc == 0 && i < cfg->n_kafka_properties; i++)
        rc = ferry_kafka_conf_set(conf, cfg->kafka_properties[i].key,
                                  cfg->kafka_properties[i].value, err);
    ferry_kafka_conf_logs(conf);
    return rc;
}
