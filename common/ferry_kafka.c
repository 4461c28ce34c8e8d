/* librdkafka configuration shared by ferry's programs.
 * common/ferry_kafka.c */
#include "ferry_kafka.h"

int
ferry_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                     ferry_err_t *err)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "invalid Kafka property \"%s\": %s", key, errstr);
    return 0;
}
