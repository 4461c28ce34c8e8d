/* librdkafka configuration shared by ferry's programs.
 * common/ferry_kafka.c */
#include "ferry_kafka.h"

#include "ferry_log.h"

/* librdkafka's levels are syslog's: 0-3 errors, 4 warnings, 5-6 notices
 * and information, 7 debug. */
static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    ferry_log(level <= 3   ? FERRY_LOG_ERROR
              : level == 4 ? FERRY_LOG_WARNING
              : level <= 6 ? FERRY_LOG_INFO
                           : FERRY_LOG_DEBUG,
              "librdkafka %s: %s", fac, buf);
}

void
ferry_kafka_conf_logs(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_cb);
}

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
