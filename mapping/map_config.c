/* Loading ferry.yaml: the document, the top-level sections, the model's life.
 * mapping/map_config.c
 *
 * Entities and their columns are parsed in map_entity.c and map_column.c
 * (map_entity.c also defines map_entity_column(), which its checks use);
 * the apply order comes from map_plan.c.  Everything found wrong is added to
 * the caller's diagnostics; the model is handed out only when there were
 * none.
 */
#include "map_int.h"
#include "map_plan.h"
#include "map_rules.h"
#include "map_uuid.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Validates a libpq connection string without ever quoting it: libpq's own
 * message may echo part of it, password included. */
static void
check_dsn(map_parser_t *p, yaml_node_t *n, const char *path, const char *dsn)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);

    if (opts == NULL)
        map__diag(p, n, path,
                  "invalid connection string (expected libpq "
                  "\"key=value ...\" or a postgresql:// URI)");
    PQconninfoFree(opts);
    PQfreemem(errmsg);
}

/* Kafka topic names: [A-Za-z0-9._-], 1 to 249 characters. */
static bool
valid_topic(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 249)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static const char *
string_key(map_parser_t *p, yaml_node_t *sec, const char *secpath,
           const char *key, const char *def)
{
    char path[MAP__PATH_MAX];
    yaml_node_t *n = map__get(p, sec, key);
    const char *s;

    if (n == NULL)
        return def;
    map__path(path, secpath, key);
    s = map__string(p, n, path);
    if (s != NULL && s[0] == '\0') {
        map__diag(p, n, path, "expected a non-empty string");
        return NULL;
    }
    return s;
}

static void
parse_source(map_parser_t *p, yaml_node_t *n)
{
    map_config_t *cfg = p->cfg;

    if (!map__check_mapping(p, n, "source", "source", "with dsn and slot"))
        return;
    cfg->source_dsn = string_key(p, n, "source", "dsn", NULL);
    if (cfg->source_dsn)
        check_dsn(p, map__get(p, n, "dsn"), "source.dsn", cfg->source_dsn);
    cfg->source_slot = string_key(p, n, "source", "slot", "ferry");
}

/* A mapping of names to strings (kafka.properties, a topic's config)
 * into *out and *count. */
static void
parse_kv(map_parser_t *p, yaml_node_t *n, const char *kpath, const char *what,
         const map_kv_t **out, size_t *count)
{
    map_kv_t *kv;
    size_t len;

    if (!map__check_mapping(p, n, kpath, NULL, what))
        return;
    len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    kv = map__alloc(p->arena, (len ? len : 1) * sizeof(*kv));
    if (kv == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        const char *k = map__key_copy(p, pr);
        char path[MAP__PATH_MAX];

        if (k == NULL)
            continue;
        map__path(path, kpath, k);
        kv[*count].key = k;
        kv[*count].pos = map__pos(map__node(p, pr->key));
        kv[*count].value = map__string(p, map__node(p, pr->value), path);
        if (kv[*count].value != NULL)
            (*count)++;
    }
    *out = kv;
}

/* A number from lo to hi written at n; 0 (with a diagnostic) otherwise. */
static int
int_key(map_parser_t *p, yaml_node_t *sec, const char *secpath, const char *key,
        long lo, long hi)
{
    char path[MAP__PATH_MAX], *end;
    yaml_node_t *n = map__get(p, sec, key);
    const char *s;
    long v;

    if (n == NULL)
        return 0;
    map__path(path, secpath, key);
    if ((s = map__string(p, n, path)) == NULL)
        return 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        map__diag(p, n, path,
                  "invalid value \"%s\" (expected a number from "
                  "%ld to %ld)",
                  s, lo, hi);
        return 0;
    }
    return (int)v;
}

/* partitions, replication_factor and config of one level of kafka.topics
 * (its keys are checked by the caller). */
static void
parse_topic_settings(map_parser_t *p, yaml_node_t *n, const char *path,
                     map_topic_settings_t *t)
{
    char sub[MAP__PATH_MAX];
    yaml_node_t *v;

    t->pos = map__pos(n);
    t->partitions = int_key(p, n, path, "partitions", 1, 100000);
    t->replication_factor = int_key(p, n, path, "replication_factor", 1, 32767);
    if ((v = map__get(p, n, "config")) != NULL) {
        map__path(sub, path, "config");
        parse_kv(p, v, sub, "topic config -> value", &t->config, &t->n_config);
    }
}

static void
parse_topics(map_parser_t *p, yaml_node_t *n)
{
    map_config_t *cfg = p->cfg;
    map_topic_settings_t *ov;
    yaml_node_t *v;
    size_t len;

    if (!map__check_mapping(p, n, "kafka.topics", "topics",
                            "with create, partitions, replication_factor, "
                            "config and overrides"))
        return;
    if ((v = map__get(p, n, "create")) != NULL)
        map__bool(p, v, "kafka.topics.create", &cfg->kafka_topics_create);
    parse_topic_settings(p, n, "kafka.topics", &cfg->kafka_topics);
    v = map__get(p, n, "overrides");
    if (v == NULL || !map__check_mapping(p, v, "kafka.topics.overrides", NULL,
                                         "topic name -> settings"))
        return;
    len = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if ((ov = map__alloc(p->arena, (len ? len : 1) * sizeof(*ov))) == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
        yaml_node_t *tn = map__node(p, pr->value);
        const char *k = map__key_copy(p, pr);
        char path[MAP__PATH_MAX];

        if (k == NULL)
            continue;
        map__path(path, "kafka.topics.overrides", k);
        if (!map__check_mapping(p, tn, path, "topic",
                                "with partitions, replication_factor and "
                                "config"))
            continue;
        ov[cfg->n_kafka_topic_overrides].topic = k;
        parse_topic_settings(p, tn, path, &ov[cfg->n_kafka_topic_overrides]);
        ov[cfg->n_kafka_topic_overrides++].pos =
            map__pos(map__node(p, pr->key));
    }
    cfg->kafka_topic_overrides = ov;
}

static void
parse_kafka(map_parser_t *p, yaml_node_t *n)
{
    map_config_t *cfg = p->cfg;
    yaml_node_t *props;

    if (!map__check_mapping(p, n, "kafka", "kafka",
                            "with brokers, topic_prefix, properties and "
                            "topics"))
        return;
    cfg->kafka_brokers = string_key(p, n, "kafka", "brokers", NULL);
    cfg->kafka_topic_prefix = string_key(p, n, "kafka", "topic_prefix", NULL);
    if (cfg->kafka_topic_prefix && !valid_topic(cfg->kafka_topic_prefix))
        map__diag(p, map__get(p, n, "topic_prefix"), "kafka.topic_prefix",
                  "invalid topic prefix \"%s\" (expected letters, digits, "
                  "\".\", \"_\" and \"-\")",
                  cfg->kafka_topic_prefix);
    props = map__get(p, n, "properties");
    if (props != NULL)
        parse_kv(p, props, "kafka.properties", "librdkafka property -> value",
                 &cfg->kafka_properties, &cfg->n_kafka_properties);
    cfg->kafka_topics_create = true;
    if ((props = map__get(p, n, "topics")) != NULL)
        parse_topics(p, props);
}

static void
parse_target(map_parser_t *p, yaml_node_t *n)
{
    map_config_t *cfg = p->cfg;
    map_uuid_t ns;

    if (!map__check_mapping(p, n, "target", "target",
                            "with dsn, state_schema and uuid_namespace"))
        return;
    cfg->target_dsn = string_key(p, n, "target", "dsn", NULL);
    if (cfg->target_dsn)
        check_dsn(p, map__get(p, n, "dsn"), "target.dsn", cfg->target_dsn);
    cfg->state_schema = string_key(p, n, "target", "state_schema", "ferry");
    cfg->uuid_namespace_text =
        string_key(p, n, "target", "uuid_namespace", NULL);
    if (cfg->uuid_namespace_text == NULL)
        return;
    if (map_uuid_parse(cfg->uuid_namespace_text, &ns) != 0) {
        map__diag(p, map__get(p, n, "uuid_namespace"), "target.uuid_namespace",
                  "invalid UUID \"%s\" (expected "
                  "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                  cfg->uuid_namespace_text);
        return;
    }
    memcpy(cfg->uuid_namespace, ns.b, sizeof(ns.b));
}

/* An ADDR:PORT for an HTTP endpoint; the programs check the address
 * itself when they bind it. */
static const char *
listen_key(map_parser_t *p, yaml_node_t *n, const char *key)
{
    char path[MAP__PATH_MAX];
    const char *v = string_key(p, n, "monitoring", key, NULL);
    const char *colon = v != NULL ? strrchr(v, ':') : NULL;
    char *end;
    long port;

    if (v == NULL)
        return NULL;
    port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon[1] == '\0' || *end != '\0' || port < 0 ||
        port > 65535) {
        map__path(path, "monitoring", key);
        map_diag_hint(map__diag(p, map__get(p, n, key), path,
                                "invalid address \"%s\" (expected "
                                "ADDR:PORT)",
                                v),
                      "for example 127.0.0.1:9187, [::1]:9187 or :9187");
        return NULL;
    }
    return v;
}

static void
parse_monitoring(map_parser_t *p, yaml_node_t *n)
{
    map_config_t *cfg = p->cfg;

    if (!map__check_mapping(p, n, "monitoring", "monitoring",
                            "with cdc_listen, sink_listen and wedged_after"))
        return;
    cfg->cdc_listen = listen_key(p, n, "cdc_listen");
    cfg->sink_listen = listen_key(p, n, "sink_listen");
    cfg->wedged_after_s = int_key(p, n, "monitoring", "wedged_after", 1, 86400);
}

/* Entity topics: derived ones are checked here, after the prefix is known. */
static void
finish_topics(map_parser_t *p)
{
    map_config_t *cfg = p->cfg;

    for (size_t i = 0; i < cfg->n_entities; i++) {
        map_entity_t *e = (map_entity_t *)&cfg->entities[i];
        char *t = NULL;

        if (e->topic_is_override || cfg->kafka_topic_prefix == NULL ||
            e->source_table == NULL)
            continue;
        if (asprintf(&t, "%s.%s.%s", cfg->kafka_topic_prefix, e->source_schema,
                     e->source_table) < 0) {
            p->oom = true;
            return;
        }
        e->topic = map__strdup(p->arena, t);
        if (e->topic == NULL) {
            p->oom = true;
        } else if (strchr(e->source_schema, '.') != NULL ||
                   strchr(e->source_table, '.') != NULL) {
            char path[MAP__PATH_MAX];

            /* public."a.b" and "public.a".b would both be <prefix>.public.a.b
             */
            snprintf(path, sizeof(path), "entities.%s.source", e->name);
            map_diag_hint(map_diags_add(p->diags, p->file, e->source_pos, path,
                                        "the derived topic \"%s\" would not "
                                        "say where the schema ends: the "
                                        "source's name holds a dot",
                                        e->topic),
                          "set \"topic\" on the entity");
        } else if (valid_topic(cfg->kafka_topic_prefix) &&
                   !valid_topic(e->topic)) {
            char path[MAP__PATH_MAX];

            snprintf(path, sizeof(path), "entities.%s.source", e->name);
            map_diag_hint(map_diags_add(p->diags, p->file, e->source_pos, path,
                                        "the derived topic \"%s\" is not a "
                                        "valid Kafka topic name",
                                        e->topic),
                          "set \"topic\" on the entity");
        }
        free(t);
    }
    /* Two source tables must never share a topic. */
    for (size_t i = 0; i < cfg->n_entities; i++)
        for (size_t k = 0; k < i; k++) {
            const map_entity_t *a = &cfg->entities[k], *b = &cfg->entities[i];
            char path[MAP__PATH_MAX];

            if (a->topic == NULL || b->topic == NULL ||
                a->source_table == NULL || b->source_table == NULL ||
                strcmp(a->topic, b->topic) != 0 ||
                (strcmp(a->source_schema, b->source_schema) == 0 &&
                 strcmp(a->source_table, b->source_table) == 0))
                continue;
            snprintf(path, sizeof(path), "entities.%s.topic", b->name);
            map_diag_hint(map_diags_add(p->diags, p->file, b->source_pos, path,
                                        "topic \"%s\" is also the topic of "
                                        "entity \"%s\", whose source is "
                                        "another table",
                                        b->topic, a->name),
                          "give each source table its own topic");
            break;
        }
}

/* Whether name is a topic ferry-cdc publishes to: an entity's, or one of
 * the control topics it creates. */
static bool
cdc_topic(const map_config_t *cfg, const char *name)
{
    static const char *const kinds[] = {"transaction", "heartbeat", "snapshot",
                                        "schema"};
    size_t plen = strlen(cfg->kafka_topic_prefix);

    for (size_t i = 0; i < cfg->n_entities; i++)
        if (cfg->entities[i].topic != NULL &&
            strcmp(cfg->entities[i].topic, name) == 0)
            return true;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strncmp(name, cfg->kafka_topic_prefix, plen) == 0 &&
            name[plen] == '.' && strcmp(name + plen + 1, kinds[i]) == 0)
            return true;
    return false;
}

/* An override must name a topic ferry-cdc creates: a typo would otherwise
 * be ignored quietly. */
static void
check_topic_overrides(map_parser_t *p)
{
    const map_config_t *cfg = p->cfg;

    if (cfg->kafka_topic_prefix == NULL)
        return;
    for (size_t i = 0; i < cfg->n_kafka_topic_overrides; i++) {
        const map_topic_settings_t *o = &cfg->kafka_topic_overrides[i];
        char path[MAP__PATH_MAX];

        if (cdc_topic(cfg, o->topic))
            continue;
        map__path(path, "kafka.topics.overrides", o->topic);
        map_diag_hint(map_diags_add(p->diags, p->file, o->pos, path,
                                    "unknown topic \"%s\": ferry-cdc does "
                                    "not publish to it",
                                    o->topic),
                      "name an entity's topic or %s.transaction, "
                      "%s.heartbeat, %s.snapshot or %s.schema",
                      cfg->kafka_topic_prefix, cfg->kafka_topic_prefix,
                      cfg->kafka_topic_prefix, cfg->kafka_topic_prefix);
    }
}

static void
parse_root(map_parser_t *p, yaml_node_t *root)
{
    yaml_node_t *n;

    if (root == NULL || map__is_null(root)) {
        map_diags_add(p->diags, p->file, (map_pos_t){1, 1}, NULL,
                      "the file is empty (expected a mapping with source, "
                      "kafka, target and entities)");
        return;
    }
    if (!map__check_mapping(p, root, "", "",
                            "with source, kafka, target and entities"))
        return;
    if ((n = map__get(p, root, "source")) != NULL)
        parse_source(p, n);
    if ((n = map__get(p, root, "kafka")) != NULL)
        parse_kafka(p, n);
    if ((n = map__get(p, root, "target")) != NULL)
        parse_target(p, n);
    if ((n = map__get(p, root, "entities")) != NULL)
        map__parse_entities(p, n);
    if ((n = map__get(p, root, "monitoring")) != NULL)
        parse_monitoring(p, n);
    finish_topics(p);
    if (!p->oom)
        check_topic_overrides(p);
}

/* Loads the YAML document; a syntax error is one diagnostic. */
static bool
load_document(map_parser_t *p, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    bool ok = false;

    if (!yaml_parser_initialize(&parser)) {
        p->oom = true;
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &p->doc)) {
        map_diags_add(p->diags, p->file,
                      (map_pos_t){(int)parser.problem_mark.line + 1,
                                  (int)parser.problem_mark.column + 1},
                      NULL, "invalid YAML: %s%s%s",
                      parser.problem ? parser.problem : "syntax error",
                      parser.context ? " " : "",
                      parser.context ? parser.context : "");
        goto done;
    }
    ok = true;
    if (!yaml_parser_load(&parser, &extra))
        goto done;
    if (yaml_document_get_root_node(&extra) != NULL)
        map_diags_add(p->diags, p->file,
                      (map_pos_t){(int)extra.start_mark.line + 1,
                                  (int)extra.start_mark.column + 1},
                      NULL,
                      "more than one YAML document (expected exactly one)");
    yaml_document_delete(&extra);

done:
    yaml_parser_delete(&parser);
    return ok;
}

int
map_config_parse(const char *text, size_t len, const char *name,
                 map_config_t **out, map_diags_t *diags)
{
    map_parser_t p = {.file = name, .diags = diags};
    size_t before = diags->n;
    bool have_doc = false;
    int rc = FERRY_ENOMEM;

    *out = NULL;
    p.arena = map__arena_new();
    if (p.arena == NULL)
        return FERRY_ENOMEM;
    p.cfg = map__alloc(p.arena, sizeof(*p.cfg));
    if (p.cfg == NULL)
        goto done;
    p.cfg->arena = p.arena;
    p.cfg->path = name ? map__strdup(p.arena, name) : NULL;
    have_doc = load_document(&p, text, len);
    if (have_doc) {
        parse_root(&p, yaml_document_get_root_node(&p.doc));
        if (p.cfg->entities != NULL && !p.oom) {
            size_t *order =
                map__alloc(p.arena, (p.cfg->n_entities + 1) * sizeof(*order));

            if (order == NULL)
                goto done;
            if (map_plan_order(p.cfg, order, diags) == FERRY_ENOMEM)
                goto done;
            p.cfg->apply_order = order;
        }
    }
    if (p.oom || diags->oom)
        goto done;
    if (diags->n != before) {
        rc = FERRY_ECONFIG;
        goto done;
    }
    *out = p.cfg;
    p.arena = NULL;
    rc = 0;

done:
    if (have_doc)
        yaml_document_delete(&p.doc);
    map__arena_free(p.arena);
    return rc;
}

int
map_config_load(const char *path, map_config_t **out, map_diags_t *diags)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = FERRY_ECONFIG;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        map_diags_add(diags, path, (map_pos_t){0, 0}, NULL,
                      "could not open mapping file: %s", strerror(errno));
        goto done;
    }
    {
        FILE *mem = open_memstream(&text, &len);
        char buf[8192];
        size_t n;

        if (mem == NULL) {
            rc = FERRY_ENOMEM;
            goto done;
        }
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, mem);
        if (ferror(f)) {
            fclose(mem);
            map_diags_add(diags, path, (map_pos_t){0, 0}, NULL,
                          "could not read mapping file: %s", strerror(errno));
            goto done;
        }
        if (fclose(mem) != 0) {
            rc = FERRY_ENOMEM;
            goto done;
        }
    }
    rc = map_config_parse(text, len, path, out, diags);

done:
    if (f != NULL)
        fclose(f);
    free(text);
    return rc;
}

void
map_config_free(map_config_t *cfg)
{
    if (cfg != NULL)
        map__arena_free(cfg->arena);
}

const map_entity_t *
map_config_entity(const map_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_entities; i++) {
        if (strcmp(cfg->entities[i].name, name) == 0)
            return &cfg->entities[i];
    }
    return NULL;
}

const char *
map_entity_topic(const map_config_t *cfg, const map_entity_t *entity)
{
    (void)cfg;
    return entity->topic;
}

const map_topic_settings_t *
map_config_topic_override(const map_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_kafka_topic_overrides; i++) {
        if (strcmp(cfg->kafka_topic_overrides[i].topic, name) == 0)
            return &cfg->kafka_topic_overrides[i];
    }
    return NULL;
}

const char *
map_on_missing_name(enum map_on_missing v)
{
    switch (v) {
    case MAP_ON_MISSING_PARK:
        return "park";
    case MAP_ON_MISSING_NULL:
        return "null";
    case MAP_ON_MISSING_ERROR:
        return "error";
    }
    return "?";
}

const char *
map_transform_name(enum map_transform v)
{
    return (unsigned)v < MAP_TRANSFORM__COUNT ? map_rules_transforms[v].name
                                              : "?";
}

map_config_t *
map_config_load_or_report(const char *path, const char *progname)
{
    map_diags_t diags;
    map_config_t *cfg = NULL;
    int rc;

    map_diags_init(&diags);
    rc = map_config_load(path, &cfg, &diags);
    if (rc != 0) {
        map_diags_print(&diags, stderr);
        if (rc == FERRY_ENOMEM)
            fprintf(stderr, "%s: out of memory\n", progname);
        else
            fprintf(stderr, "%s: %zu error(s) in mapping file \"%s\"\n",
                    progname, diags.n, path);
    }
    map_diags_free(&diags);
    return cfg;
}
