/* Creating ferry-cdc's topics at start (rd_kafka_CreateTopics).
 * cdc/cdc_topics.c */
#include "cdc_topics.h"

#include "ferry_buf.h"
#include "ferry_log.h"
#include "ferry_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long the broker may take: request, then creation. */
#define REQUEST_TIMEOUT_MS 20000
#define OPERATION_TIMEOUT_MS 15000
#define WAIT_MS 30000

/* ferry's own settings of one kind of topic. */
typedef struct kind_defaults {
    int partitions;             /* -1: kafka.topics or the broker's */
    const char *cleanup_policy; /* cleanup.policy */
} kind_defaults_t;

static const kind_defaults_t table_kind = {-1, "compact"};

/* The control topics in creation order, with their settings: the
 * transaction topic is read in commit order (one partition) and kept as a
 * log, the others keep their latest record per key. */
static const struct {
    ferry_wire_topic_t kind;
    kind_defaults_t d;
} control_kinds[] = {
    {FERRY_WIRE_TOPIC_TRANSACTION, {1, "delete"}},
    {FERRY_WIRE_TOPIC_HEARTBEAT, {1, "compact"}},
    {FERRY_WIRE_TOPIC_SNAPSHOT, {1, "compact"}},
    {FERRY_WIRE_TOPIC_SCHEMA, {1, "compact"}},
};

/* Sets key to value in plan's config, replacing an earlier value. */
static void
set_config(cdc_topic_plan_t *plan, const char *key, const char *value)
{
    for (size_t i = 0; i < plan->n_config; i++) {
        if (strcmp(plan->config[i].key, key) == 0) {
            plan->config[i].value = value;
            return;
        }
    }
    plan->config[plan->n_config].key = key;
    plan->config[plan->n_config++].value = value;
}

/* Lays one level of settings over plan. */
static void
apply(cdc_topic_plan_t *plan, const map_topic_settings_t *t, bool table)
{
    if (t->partitions > 0 && (table || t->topic != NULL))
        plan->partitions = t->partitions;
    if (t->replication_factor > 0)
        plan->replication_factor = t->replication_factor;
    for (size_t i = 0; i < t->n_config; i++)
        set_config(plan, t->config[i].key, t->config[i].value);
}

/* Fills plan for topic name (borrowed, copied) of a kind with defaults d:
 * d, then kafka.topics (its partitions only for table topics), then the
 * topic's override. */
static int
fill(const map_config_t *cfg, const char *name, const kind_defaults_t *d,
     bool table, cdc_topic_plan_t *plan)
{
    const map_topic_settings_t *o = map_config_topic_override(cfg, name);
    size_t cap = 1 + cfg->kafka_topics.n_config + (o ? o->n_config : 0);

    plan->name = strdup(name);
    plan->config = calloc(cap + 1, sizeof(*plan->config));
    if (plan->name == NULL || plan->config == NULL)
        return FERRY_ENOMEM;
    plan->partitions = d->partitions;
    plan->replication_factor = -1;
    set_config(plan, "cleanup.policy", d->cleanup_policy);
    apply(plan, &cfg->kafka_topics, table);
    if (o != NULL)
        apply(plan, o, true);
    return FERRY_OK;
}

static bool
planned(const cdc_topic_plan_t *plan, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(plan[i].name, name) == 0)
            return true;
    return false;
}

int
cdc_topics_plan(const map_config_t *cfg, cdc_topic_plan_t **out, size_t *n,
                ferry_err_t *err)
{
    size_t cap =
        cfg->n_entities + sizeof(control_kinds) / sizeof(control_kinds[0]);
    cdc_topic_plan_t *plan = calloc(cap + 1, sizeof(*plan));
    ferry_buf_t name;
    int rc = FERRY_OK;

    *out = NULL;
    *n = 0;
    ferry_buf_init(&name);
    for (size_t i = 0; plan != NULL && rc == FERRY_OK && i < cfg->n_entities;
         i++) {
        const char *topic = map_entity_topic(cfg, &cfg->entities[i]);

        if (!planned(plan, *n, topic))
            rc = fill(cfg, topic, &table_kind, true, &plan[(*n)++]);
    }
    for (size_t i = 0; plan != NULL && rc == FERRY_OK &&
                       i < sizeof(control_kinds) / sizeof(control_kinds[0]);
         i++) {
        ferry_buf_reset(&name);
        ferry_wire_topic_append(&name, cfg->kafka_topic_prefix,
                                control_kinds[i].kind);
        if ((rc = ferry_buf_status(&name, NULL, "naming a topic")) == FERRY_OK)
            rc = fill(cfg, ferry_buf_cstr(&name), &control_kinds[i].d, false,
                      &plan[(*n)++]);
    }
    ferry_buf_close(&name);
    if (plan == NULL || rc != FERRY_OK) {
        cdc_topics_plan_free(plan, *n);
        *n = 0;
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory planning the topics of prefix "
                             "\"%s\"",
                             cfg->kafka_topic_prefix);
    }
    *out = plan;
    return FERRY_OK;
}

void
cdc_topics_plan_free(cdc_topic_plan_t *plan, size_t n)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(plan[i].name);
        free(plan[i].config);
    }
    free(plan);
}

/* The NewTopic objects of plan, or NULL with errstr set. */
static rd_kafka_NewTopic_t **
new_topics(const cdc_topic_plan_t *plan, size_t n, char *errstr, size_t cap)
{
    rd_kafka_NewTopic_t **v = calloc(n + 1, sizeof(*v));

    if (v == NULL) {
        snprintf(errstr, cap, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = rd_kafka_NewTopic_new(plan[i].name, plan[i].partitions,
                                     plan[i].replication_factor, errstr, cap);
        for (size_t c = 0; v[i] != NULL && c < plan[i].n_config; c++) {
            if (rd_kafka_NewTopic_set_config(v[i], plan[i].config[c].key,
                                             plan[i].config[c].value) != 0) {
                snprintf(errstr, cap, "invalid config \"%s\" of topic \"%s\"",
                         plan[i].config[c].key, plan[i].name);
                rd_kafka_NewTopic_destroy(v[i]);
                v[i] = NULL;
            }
        }
        if (v[i] == NULL) {
            rd_kafka_NewTopic_destroy_array(v, i);
            free(v);
            return NULL;
        }
    }
    return v;
}

/* Logs the outcome of each topic: created, already there, or refused (all
 * refusals in one warning). */
static void
report(const rd_kafka_event_t *ev, const char *prefix)
{
    const rd_kafka_CreateTopics_result_t *res =
        rd_kafka_event_CreateTopics_result((rd_kafka_event_t *)ev);
    const rd_kafka_topic_result_t **topics;
    char refused[1024] = "";
    size_t cnt = 0, created = 0, existed = 0, nref = 0, len = 0;

    topics = rd_kafka_CreateTopics_result_topics(res, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
        const char *name = rd_kafka_topic_result_name(topics[i]);
        const char *why = rd_kafka_topic_result_error_string(topics[i]);
        int w;

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ferry_info("created topic \"%s\"", name);
            created++;
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            existed++;
            continue;
        }
        nref++;
        w = snprintf(refused + len, sizeof(refused) - len, "%s\"%s\": %s",
                     nref > 1 ? "; " : "", name,
                     why != NULL ? why : rd_kafka_err2str(e));
        if (w > 0 && (size_t)w < sizeof(refused) - len)
            len += (size_t)w;
    }
    ferry_info("topics of prefix \"%s\": %zu created, %zu already there",
               prefix, created, existed);
    if (nref > 0)
        ferry_warn("could not create %zu topic(s): %s; going on (a message "
                   "to a topic that does not exist fails unless the broker "
                   "creates it)",
                   nref, refused);
}

/* Whether the cluster names a controller among its brokers: the Admin API
 * sends CreateTopics there, and waits for it until the request times out
 * when there is none (librdkafka's mock cluster, ferry-devbroker's, names
 * broker 0, which does not exist).  Sets *ctl. */
static bool
have_controller(rd_kafka_t *rk, int32_t *ctl)
{
    const rd_kafka_metadata_t *md = NULL;
    bool found = false;

    *ctl = rd_kafka_controllerid(rk, WAIT_MS / 3);
    if (*ctl < 0 || rd_kafka_metadata(rk, 0, NULL, &md, WAIT_MS / 3) !=
                        RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    for (int i = 0; i < md->broker_cnt && !found; i++)
        found = md->brokers[i].id == *ctl;
    rd_kafka_metadata_destroy(md);
    return found;
}

int
cdc_topics_create(const map_config_t *cfg, cdc_producer_t *prod,
                  ferry_err_t *err)
{
    rd_kafka_t *rk = cdc_producer_handle(prod);
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_NewTopic_t **nt = NULL;
    rd_kafka_event_t *ev = NULL;
    cdc_topic_plan_t *plan;
    char errstr[512];
    int32_t ctl;
    size_t n;
    int rc;

    if (!cfg->kafka_topics_create)
        return FERRY_OK;
    if ((rc = cdc_topics_plan(cfg, &plan, &n, err)) != FERRY_OK)
        return rc;
    if (!have_controller(rk, &ctl)) {
        ferry_warn("could not create the topics of prefix \"%s\": the "
                   "cluster names no controller among its brokers (%s %d), "
                   "so it cannot take CreateTopics (ferry-devbroker cannot); "
                   "going on with the topics that exist or that the broker "
                   "creates on first use",
                   cfg->kafka_topic_prefix, ctl < 0 ? "none within" : "broker",
                   ctl < 0 ? WAIT_MS / 3000 : (int)ctl);
        goto done;
    }
    if ((nt = new_topics(plan, n, errstr, sizeof(errstr))) == NULL) {
        ferry_warn("could not create the topics of prefix \"%s\": %s; going "
                   "on with the topics that exist",
                   cfg->kafka_topic_prefix, errstr);
        goto done;
    }
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    q = rd_kafka_queue_new(rk);
    if (opts == NULL || q == NULL ||
        rd_kafka_AdminOptions_set_request_timeout(
            opts, REQUEST_TIMEOUT_MS, errstr, sizeof(errstr)) != 0 ||
        rd_kafka_AdminOptions_set_operation_timeout(
            opts, OPERATION_TIMEOUT_MS, errstr, sizeof(errstr)) != 0) {
        ferry_warn("could not create the topics of prefix \"%s\": cannot "
                   "prepare the request; going on with the topics that exist",
                   cfg->kafka_topic_prefix);
        goto done;
    }
    rd_kafka_CreateTopics(rk, nt, n, opts, q);
    ev = rd_kafka_queue_poll(q, WAIT_MS);
    if (ev == NULL)
        ferry_warn("could not create the topics of prefix \"%s\": no answer "
                   "from the broker within %d s; going on with the topics "
                   "that exist",
                   cfg->kafka_topic_prefix, WAIT_MS / 1000);
    else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
        ferry_warn("could not create the topics of prefix \"%s\": %s; going "
                   "on with the topics that exist or that the broker "
                   "creates on first use",
                   cfg->kafka_topic_prefix, rd_kafka_event_error_string(ev));
    else
        report(ev, cfg->kafka_topic_prefix);

done:
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    if (q != NULL)
        rd_kafka_queue_destroy(q);
    if (opts != NULL)
        rd_kafka_AdminOptions_destroy(opts);
    if (nt != NULL) {
        rd_kafka_NewTopic_destroy_array(nt, n);
        free(nt);
    }
    cdc_topics_plan_free(plan, n);
    return FERRY_OK;
}
