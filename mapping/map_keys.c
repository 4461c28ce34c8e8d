/* The key table: every key ferry.yaml may hold, its shape, default and doc.
 * mapping/map_keys.c
 *
 * The parser rejects keys that are not here and reports the required ones
 * that are missing; `ferry-map keys` prints this table, and docs/mapping.md
 * carries its output, so the reference cannot drift from the code.
 */
#include "map_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

const map__key_def_t map__keys[] = {
    {"", "source", MAP__T_MAPPING, true, NULL,
     "the legacy database and its replication slot"},
    {"", "kafka", MAP__T_MAPPING, true, NULL, "the Kafka cluster and topics"},
    {"", "target", MAP__T_MAPPING, true, NULL,
     "the new database and ferry's state in it"},
    {"", "entities", MAP__T_MAPPING, true, NULL,
     "entity name -> entity; names are [A-Za-z_][A-Za-z0-9_]*"},
    {"", "monitoring", MAP__T_MAPPING, false, "none",
     "the operators' endpoints of ferry-cdc and ferry-sink "
     "(docs/operations.md)"},

    {"source", "dsn", MAP__T_STRING, true, NULL,
     "libpq conninfo or URI of the legacy database"},
    {"source", "slot", MAP__T_STRING, false, "ferry",
     "logical replication slot (wal2json)"},

    {"kafka", "brokers", MAP__T_STRING, true, NULL,
     "bootstrap servers, host:port[,host:port...]"},
    {"kafka", "topic_prefix", MAP__T_STRING, true, NULL,
     "topics are <prefix>.<schema>.<table>, <prefix>.transaction, "
     "<prefix>.heartbeat, <prefix>.snapshot, <prefix>.schema"},
    {"kafka", "properties", MAP__T_MAPPING, false, "none",
     "librdkafka properties, handed over as is"},
    {"kafka", "topics", MAP__T_MAPPING, false, "see below",
     "the topics ferry-cdc creates at start: partitions, replication, "
     "configs"},

    {"topics", "create", MAP__T_BOOL, false, "true",
     "create the missing topics at start (Admin API); existing ones are "
     "left as they are"},
    {"topics", "partitions", MAP__T_STRING, false, "the broker's default",
     "partitions of each table topic (control topics: 1)"},
    {"topics", "replication_factor", MAP__T_STRING, false,
     "the broker's default", "replication factor of every topic"},
    {"topics", "config", MAP__T_MAPPING, false, "none",
     "topic configs of every topic (retention.ms, ...), over ferry's "
     "cleanup.policy"},
    {"topics", "overrides", MAP__T_MAPPING, false, "none",
     "topic name -> partitions, replication_factor, config for that topic"},

    {"topic", "partitions", MAP__T_STRING, false, "kafka.topics'",
     "partitions of this topic"},
    {"topic", "replication_factor", MAP__T_STRING, false, "kafka.topics'",
     "replication factor of this topic"},
    {"topic", "config", MAP__T_MAPPING, false, "none",
     "topic configs of this topic, over kafka.topics.config"},

    {"target", "dsn", MAP__T_STRING, true, NULL,
     "libpq conninfo or URI of the new database"},
    {"target", "state_schema", MAP__T_STRING, false, "ferry",
     "schema of ferry's own tables (the id-map) in the target"},
    {"target", "uuid_namespace", MAP__T_STRING, true, NULL,
     "UUIDv5 namespace of every derived UUID; never change it"},

    {"monitoring", "cdc_listen", MAP__T_STRING, false, "off",
     "ADDR:PORT where ferry-cdc serves /metrics, /healthz and /readyz "
     "(--metrics-listen wins)"},
    {"monitoring", "sink_listen", MAP__T_STRING, false, "off",
     "ADDR:PORT where ferry-sink serves them (--metrics-listen wins)"},
    {"monitoring", "wedged_after", MAP__T_STRING, false, "60",
     "seconds without a turn of the main loop before /healthz answers 503 "
     "(--wedged-after wins)"},

    {"entity", "source", MAP__T_STRING, true, NULL,
     "source table, [schema.]table (schema public by default; a part in "
     "double quotes is a quoted identifier)"},
    {"entity", "target", MAP__T_STRING, true, NULL,
     "target table, [schema.]table (schema public by default; a part in "
     "double quotes is a quoted identifier)"},
    {"entity", "key", MAP__T_STRING_LIST, false, "the source primary key",
     "legacy key column(s) in the source"},
    {"entity", "id_column", MAP__T_STRING, false, "id",
     "the target's UUID primary key column"},
    {"entity", "legacy_id_column", MAP__T_STRING_LIST, false, "none",
     "target column(s) keeping the legacy key, one per key column"},
    {"entity", "topic", MAP__T_STRING, false, "<topic_prefix>.<schema>.<table>",
     "the Kafka topic of the source table"},
    {"entity", "delete", MAP__T_SPECIAL, false, "hard",
     "hard, soft, or {mode: soft, column: COLUMN}"},
    {"entity", "truncate", MAP__T_ENUM, false, "apply",
     "apply or ignore: what a source TRUNCATE does to the target"},
    {"entity", "lsn_column", MAP__T_STRING, false, "none",
     "numeric target column ferry keeps each row's source position in; "
     "makes the stale check part of the upsert"},
    {"entity", "columns", MAP__T_MAPPING, false, "none",
     "target column -> source column name, or a column spec"},

    {"delete", "mode", MAP__T_ENUM, true, NULL, "hard or soft"},
    {"delete", "column", MAP__T_STRING, false, "deleted_at",
     "soft: the target column stamped with the delete's commit time"},

    {"column", "from", MAP__T_STRING_LIST, false, "none",
     "source column; a list for a composite ref; none: a constant default"},
    {"column", "ref", MAP__T_SPECIAL, false, "none",
     "entity name, or {discriminator: COLUMN, cases: {VALUE: ENTITY}}"},
    {"column", "on_missing", MAP__T_ENUM, false, "park",
     "refs: park, null or error when the parent row is missing"},
    {"column", "deferred", MAP__T_BOOL, false, "false",
     "refs: write NULL first, patch when the parent is there"},
    {"column", "default", MAP__T_STRING, false, "none",
     "text written when the value is NULL (always, without from)"},
    {"column", "values", MAP__T_MAPPING, false, "none",
     "legacy value -> target value (~ for NULL); others pass"},
    {"column", "transform", MAP__T_STRING_LIST, false, "none",
     "one of the transforms below, or a list of them applied in order"},
    {"column", "json", MAP__T_BOOL, false, "false", "parse the text as JSON"},
    {"column", "on_invalid", MAP__T_ENUM, false, "error",
     "json: null or error for text that is not JSON"},

    {"ref", "discriminator", MAP__T_STRING, true, NULL,
     "source column whose value picks the entity"},
    {"ref", "cases", MAP__T_MAPPING, true, NULL,
     "discriminator value -> entity name"},

    {NULL, NULL, MAP__T_SPECIAL, false, NULL, NULL}};

static const char *
type_name(enum map__key_type t)
{
    switch (t) {
    case MAP__T_STRING:
        return "string";
    case MAP__T_STRING_LIST:
        return "string or list";
    case MAP__T_BOOL:
        return "true/false";
    case MAP__T_ENUM:
        return "word";
    case MAP__T_MAPPING:
        return "mapping";
    case MAP__T_SPECIAL:
        return "see below";
    }
    return "?";
}

static const char *
section_title(const char *section)
{
    if (strcmp(section, "") == 0)
        return "(top)";
    if (strcmp(section, "entity") == 0)
        return "entities.NAME";
    if (strcmp(section, "delete") == 0)
        return "entities.NAME.delete";
    if (strcmp(section, "column") == 0)
        return "entities.NAME.columns.COLUMN";
    if (strcmp(section, "ref") == 0)
        return "entities.NAME.columns.COLUMN.ref";
    if (strcmp(section, "topics") == 0)
        return "kafka.topics";
    if (strcmp(section, "topic") == 0)
        return "kafka.topics.overrides.TOPIC";
    return section;
}

void
map_config_print_keys(FILE *out)
{
    fprintf(out, "| section | key | type | default | meaning |\n"
                 "|---|---|---|---|---|\n");
    for (const map__key_def_t *d = map__keys; d->name; d++)
        fprintf(out, "| `%s` | `%s` | %s | %s | %s |\n",
                section_title(d->section), d->name, type_name(d->type),
                d->required ? "**required**" : d->def, d->doc);
}
