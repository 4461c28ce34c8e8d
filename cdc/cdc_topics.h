/* The topics ferry-cdc publishes to, created at start through Kafka's
 * Admin API with the partitions, replication and configs of kafka.topics.
 * cdc/cdc_topics.h
 *
 * A broker with auto.create.topics.enable=false refuses a message to a
 * topic that does not exist; one with it on creates the topic with its own
 * defaults, which are wrong for ferry's control topics (the transaction
 * topic needs one partition, the snapshot and schema topics compaction).
 * So before anything is produced, ferry-cdc asks for every topic it needs
 * (each mapped table's, transaction, heartbeat, snapshot and schema) in one
 * CreateTopics request.  A topic that exists is left as it is
 * (TOPIC_ALREADY_EXISTS is fine); a broker that refuses or cannot create
 * topics (no CreateTopics API, no permission) is named in one warning, and
 * ferry-cdc goes on with the topics that exist or that the broker creates
 * on first use.  docs/setup.md, Topics, has the settings.
 *
 * The settings of one topic, lowest first: ferry's own for its kind (one
 * partition and cleanup.policy=delete for the transaction topic, one
 * partition and compaction for heartbeat, snapshot and schema, compaction
 * for table topics), then kafka.topics, then the topic's override.
 */
#ifndef CDC_TOPICS_H
#define CDC_TOPICS_H

#include "cdc_producer.h"
#include "ferry_err.h"
#include "map_config.h"

#include <stddef.h>

/* One topic config, key and value borrowed (from the model or static). */
typedef struct cdc_topic_kv {
    const char *key;   /* e.g. "cleanup.policy" */
    const char *value; /* e.g. "compact" */
} cdc_topic_kv_t;

/* One topic to create. */
typedef struct cdc_topic_plan {
    char *name;             /* owned */
    int partitions;         /* -1: the broker's default */
    int replication_factor; /* -1: the broker's default */
    cdc_topic_kv_t *config; /* owned array; each key once */
    size_t n_config;        /* entries in config */
} cdc_topic_plan_t;

/* Builds the plan of every topic ferry-cdc publishes to for cfg
 * (borrowed; must outlive the plan): the entities' topics, each once, then
 * transaction, heartbeat, snapshot and schema.  On success *out is a new
 * array of *n plans (cdc_topics_plan_free()).  Returns 0 or FERRY_ENOMEM. */
int cdc_topics_plan(const map_config_t *cfg, cdc_topic_plan_t **out, size_t *n,
                    ferry_err_t *err) FERRY_WUR;

/* Frees a plan of n topics; NULL is a no-op. */
void cdc_topics_plan_free(cdc_topic_plan_t *plan, size_t n);

/* Creates the topics of cfg's plan that are missing, through prod's client
 * (borrowed), waiting up to 30 s; does nothing when kafka.topics.create is
 * false.  The stream's thread, before anything is produced.  What the
 * broker refused is logged once, as a warning; only FERRY_ENOMEM is an
 * error. */
int cdc_topics_create(const map_config_t *cfg, cdc_producer_t *prod,
                      ferry_err_t *err) FERRY_WUR;

#endif
