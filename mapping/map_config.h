/* The mapping model: ferry.yaml parsed into read-only structs.
 * mapping/map_config.h
 *
 * ferry-cdc, ferry-sink and ferry-map all read the mapping through this
 * header.  map_config_load() parses and validates the whole file, expands
 * ${VAR} from the environment, resolves refs between entities and computes
 * the apply order; every problem becomes a diagnostic (map_diag.h), so a user
 * sees all of them at once.  docs/mapping.md is the reference for the file.
 *
 * Ownership: the model is one allocation tree owned by the map_config_t;
 * every pointer inside it is borrowed from the model and valid until
 * map_config_free().  The model is read-only after loading, with one
 * exception: map_catalog_resolve_keys() (map_catalog.h) fills empty entity
 * keys from the source primary keys once at start-up.  After that any number
 * of threads may read it at the same time.
 */
#ifndef MAP_CONFIG_H
#define MAP_CONFIG_H

#include "ferry_err.h"
#include "map_diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What a delete in the source does to the target row. */
enum map_delete_mode {
    MAP_DELETE_HARD = 0, /* DELETE the target row (the default) */
    MAP_DELETE_SOFT = 1  /* stamp soft_delete_column with the commit time */
};

/* What a TRUNCATE of the source table does to the target table. */
enum map_truncate_mode {
    MAP_TRUNCATE_APPLY = 0, /* truncate the target table too (the default) */
    MAP_TRUNCATE_IGNORE = 1 /* leave the target alone */
};

/* What a ref does when the parent row is not (yet) in the target. */
enum map_on_missing {
    MAP_ON_MISSING_PARK = 0, /* hold the row until the parent arrives */
    MAP_ON_MISSING_NULL = 1, /* write NULL into the column */
    MAP_ON_MISSING_ERROR = 2 /* treat the row as bad data */
};

/* What json: true does with text that is not valid JSON. */
enum map_on_invalid {
    MAP_ON_INVALID_ERROR = 0, /* treat the row as bad data (the default) */
    MAP_ON_INVALID_NULL = 1   /* write NULL into the column */
};

/* A text transform, applied in the order written.  Each value is the index
 * of its row in map_rules_transforms[] (map_rules.h), which holds its name,
 * its doc and its rule in C and in SQL. */
enum map_transform {
    MAP_TRANSFORM_TRIM = 0,         /* strip leading and trailing white space */
    MAP_TRANSFORM_LOWER = 1,        /* lower-case ASCII letters */
    MAP_TRANSFORM_UPPER = 2,        /* upper-case ASCII letters */
    MAP_TRANSFORM_NULLIF_EMPTY = 3, /* the empty string becomes NULL */
    MAP_TRANSFORM__COUNT = 4        /* not a transform: how many there are */
};

/* How a target column gets its value. */
enum map_column_kind {
    MAP_COLUMN_COPY = 0,    /* from a source column (or a constant default) */
    MAP_COLUMN_REF = 1,     /* the UUID of the row of another entity */
    MAP_COLUMN_COND_REF = 2 /* a ref whose entity a discriminator decides */
};

/* A key and a value; value NULL stands for SQL NULL where allowed. */
typedef struct map_kv {
    const char *key;   /* the key, never NULL */
    const char *value; /* the value, or NULL for SQL NULL */
    map_pos_t pos;     /* where the pair is written */
} map_kv_t;

/* One case of a conditional ref: discriminator value -> entity. */
typedef struct map_ref_case {
    const char *value;   /* the discriminator's value in PostgreSQL text form */
    const char *entity;  /* the entity name the id then points to */
    size_t entity_index; /* index of that entity in map_config_t.entities */
    map_pos_t pos;       /* where the case is written */
} map_ref_case_t;

/* How one target column is filled.  The value pipeline (map_rules_value()
 * in C, map_rules_value_sql() in SQL) is: the source value, then each
 * transform in order, then the values map, then default when the result is
 * NULL, then the JSON check when json is set.  Refs turn the legacy key in
 * from[] into the parent's UUID. */
typedef struct map_column {
    const char *name;               /* the target column */
    map_pos_t pos;                  /* where the column's spec is written */
    enum map_column_kind kind;      /* copy, ref or conditional ref */
    const char *const *from;        /* source columns: one, several for a
                                       composite ref, none for a constant */
    size_t n_from;                  /* number of entries in from */
    const char *ref;                /* MAP_COLUMN_REF: the entity name */
    size_t ref_index;               /* MAP_COLUMN_REF: index in entities */
    const char *discriminator;      /* MAP_COLUMN_COND_REF: source column */
    const map_ref_case_t *cases;    /* MAP_COLUMN_COND_REF: the cases */
    size_t n_cases;                 /* number of cases */
    enum map_on_missing on_missing; /* refs only; default park */
    bool deferred; /* refs only: write NULL first, patch once the parent is
                      there; does not count for the apply order */
    const char *default_value; /* text used when the value is NULL, or NULL
                                  for no default */
    const map_kv_t *values;    /* legacy value -> target value (NULL value
                                  means SQL NULL); unmatched values pass */
    size_t n_values;           /* number of entries in values */
    const enum map_transform *transforms; /* in the order to apply */
    size_t n_transforms;                  /* number of transforms */
    bool json;                            /* parse the text as JSON */
    enum map_on_invalid on_invalid;       /* json only; default error */
} map_column_t;

/* One entity: a source table mapped onto a target table. */
typedef struct map_entity {
    const char *name;          /* the entity name (the key under entities) */
    map_pos_t pos;             /* where the entity is written */
    const char *source_schema; /* source schema, default "public" */
    const char *source_table;  /* source table */
    map_pos_t source_pos;      /* where source is written */
    const char *target_schema; /* target schema, default "public" */
    const char *target_table;  /* target table */
    map_pos_t target_pos;      /* where target is written */
    const char *const *key;    /* legacy key columns in the source; empty
                                  means the source primary key (see
                                  map_catalog_resolve_keys()) */
    size_t n_key;              /* number of key columns, 0 if not given */
    map_pos_t key_pos;         /* where key is written, else entity pos */
    const char *id_column;     /* the target's UUID primary key, default id */
    map_pos_t id_column_pos;   /* where id_column is written, or entity pos */
    const char *const *legacy_id_columns; /* target columns keeping the
                                             legacy key; may be empty */
    size_t n_legacy_id_columns;           /* number of legacy id columns */
    map_pos_t legacy_id_pos; /* where legacy_id_column is written */
    const char *topic;       /* the Kafka topic (override or derived) */
    bool topic_is_override;  /* true when the file sets topic */
    enum map_delete_mode delete_mode;     /* hard (default) or soft */
    const char *soft_delete_column;       /* soft: the column to stamp */
    map_pos_t delete_pos;                 /* where delete is written */
    enum map_truncate_mode truncate_mode; /* apply (default) or ignore */
    const char *lsn_column;      /* the target column holding each row's source
                                    position (commit LSN * 2^64 + change LSN,
                                    numeric), or NULL: docs/mapping.md */
    map_pos_t lsn_pos;           /* where lsn_column is written */
    const map_column_t *columns; /* target columns in file order */
    size_t n_columns;            /* number of columns */
} map_entity_t;

/* How ferry-cdc creates a topic at start (kafka.topics and its
 * overrides); a field left out keeps the value of the level below it:
 * ferry's default for the kind of topic, then kafka.topics, then the
 * topic's override (docs/setup.md, Topics). */
typedef struct map_topic_settings {
    const char *topic;      /* an override: the topic; NULL for kafka.topics */
    int partitions;         /* 0 when not set */
    int replication_factor; /* 0 when not set */
    const map_kv_t *config; /* topic configs, e.g. retention.ms */
    size_t n_config;        /* entries in config */
    map_pos_t pos;          /* where the settings are written */
} map_topic_settings_t;

/* The whole mapping file. */
typedef struct map_config {
    const char *path;          /* the file name as given to the loader */
    const char *source_dsn;    /* libpq conninfo of the legacy database;
                                  secret: never print it */
    const char *source_slot;   /* logical replication slot, default ferry */
    const char *kafka_brokers; /* librdkafka bootstrap.servers */
    const char *kafka_topic_prefix;    /* topics <prefix>.<schema>.<table> */
    const map_kv_t *kafka_properties;  /* handed to librdkafka as is; may
                                          hold secrets: never print values */
    size_t n_kafka_properties;         /* number of properties */
    bool kafka_topics_create;          /* kafka.topics.create: create the
                                          missing topics at start */
    map_topic_settings_t kafka_topics; /* kafka.topics: every topic */
    const map_topic_settings_t *kafka_topic_overrides; /* per topic */
    size_t n_kafka_topic_overrides; /* entries in kafka_topic_overrides */
    const char *target_dsn;   /* libpq conninfo of the new database; secret */
    const char *state_schema; /* ferry's own tables, default ferry */
    const char *uuid_namespace_text;  /* the namespace as written */
    unsigned char uuid_namespace[16]; /* the namespace, binary */
    const map_entity_t *entities;     /* entities in file order */
    size_t n_entities;                /* number of entities */
    const size_t *apply_order; /* n_entities indexes into entities: parents
                                  before children, ties in file order */
    const char *cdc_listen;    /* monitoring.cdc_listen: ADDR:PORT, NULL */
    const char *sink_listen;   /* monitoring.sink_listen: ADDR:PORT, NULL */
    int wedged_after_s;        /* monitoring.wedged_after, 0 when not set */
    struct map_arena *arena;   /* private: owns every allocation above */
} map_config_t;

/* Reads and validates the mapping file at path.  On success *out is a new
 * model (free with map_config_free()) and returns 0.  On failure *out is
 * NULL, every problem found is added to diags (caller-owned, see
 * map_diags_init()), and returns FERRY_ECONFIG, or FERRY_ENOMEM.  Reads the
 * environment for ${VAR}.  Thread-safe as long as nobody changes the
 * environment meanwhile. */
int map_config_load(const char *path, map_config_t **out,
                    map_diags_t *diags) FERRY_WUR;

/* As map_config_load(), from text (len bytes, borrowed) instead of a file;
 * name is used in diagnostics and copied into the model (may be NULL). */
int map_config_parse(const char *text, size_t len, const char *name,
                     map_config_t **out, map_diags_t *diags) FERRY_WUR;

/* Frees the model and everything in it; NULL is a no-op. */
void map_config_free(map_config_t *cfg);

/* For programs: loads path and, on failure, prints every diagnostic and a
 * summary line prefixed with progname (borrowed) on stderr.  Returns a new
 * model (map_config_free) or NULL. */
map_config_t *map_config_load_or_report(const char *path, const char *progname);

/* Returns the entity named name (borrowed), or NULL. */
const map_entity_t *map_config_entity(const map_config_t *cfg,
                                      const char *name);

/* Returns the Kafka topic of the entity (borrowed from the model): the topic
 * override if set, else "<topic_prefix>.<source schema>.<source table>". */
const char *map_entity_topic(const map_config_t *cfg,
                             const map_entity_t *entity);

/* Returns the override of kafka.topics for topic name (borrowed), or
 * NULL. */
const map_topic_settings_t *map_config_topic_override(const map_config_t *cfg,
                                                      const char *name);

/* Returns the column of entity written to target column name (borrowed), or
 * NULL. */
const map_column_t *map_entity_column(const map_entity_t *entity,
                                      const char *name);

/* Prints the reference of every key the file may hold (section, key,
 * shape, required or default, meaning) as a Markdown table; docs/mapping.md
 * carries this output. */
void map_config_print_keys(FILE *out);

/* Static names for the enums, as written in the file ("park", "soft", ...). */
const char *map_on_missing_name(enum map_on_missing v);
const char *map_transform_name(enum map_transform v);

#endif
