/* ferry-map validate: does the target hold what the mapping makes of the
 * source? mapping/map_validate.h
 *
 * For each entity, map_validate_run() computes, in both databases, the mapped
 * content of every row as text (the source side through the same value
 * pipeline as ferry-sink; refs compared by the parent's legacy key) and
 * compares them by checksums over buckets of legacy keys.  Only the keys and
 * row hashes of buckets that differ leave the databases, and the column
 * values of at most `limit` changed rows per entity.  docs/validate.md
 * describes the method, the report and the verdict.
 *
 * Rows parked by ferry-sink because their parent does not exist in the
 * target are reported as parked and do not break agreement; parked rows
 * whose parent is in the target (the sink should have applied them),
 * deletes the target refuses because rows the mapping does not know still
 * reference the row (blocked), rows missing from or extra in the target,
 * rows whose content differs and refs that do not resolve do.
 */
#ifndef MAP_VALIDATE_H
#define MAP_VALIDATE_H

#include "ferry_err.h"
#include "map_config.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What is wrong with one listed row. */
enum map_vkind {
    MAP_VKIND_MISSING = 0, /* in the source, not in the target */
    MAP_VKIND_EXTRA = 1,   /* in the target (with a legacy id), not in the
                              source */
    MAP_VKIND_CHANGED = 2, /* in both, mapped content differs */
    MAP_VKIND_PARKED = 3,  /* parked by the sink: its parent is not in the
                              target (reported, not a disagreement) */
    MAP_VKIND_STUCK = 4,   /* parked although its parent is in the target */
    MAP_VKIND_BLOCKED = 5  /* deleted in the source, but rows the mapping
                              does not know still reference it in the
                              target: the sink's delete waits (parked) */
};
#define MAP_VKIND_COUNT 6

/* One row named in the report. */
typedef struct map_vrow {
    enum map_vkind kind; /* what is wrong */
    char *key;           /* owned: the legacy key text (mapping.md) */
    char *columns;       /* owned: CHANGED: differing target columns,
                            comma-separated; else NULL */
    char *error;         /* owned: the sink's last recorded error for this
                            key (state_schema.errors), or NULL */
    char *waits_on;      /* owned: PARKED/STUCK: the missing parent entity
                            ("" for a discriminator value without case) */
    char *blocked_by;    /* owned: BLOCKED: the tables whose rows still
                            reference it, comma-separated */
} map_vrow_t;

/* The verdict on one entity. */
typedef struct map_ventity {
    const char *name;       /* borrowed from the model: the entity */
    char *problem;          /* owned: why the entity could not be compared,
                               or NULL */
    long long source_rows;  /* rows in the source table */
    long long target_rows;  /* target rows with a legacy id (soft-deleted
                               rows not counted) */
    long long buckets;      /* checksum buckets compared */
    long long diff_buckets; /* buckets whose checksums differ */
    long long n[MAP_VKIND_COUNT]; /* rows of each kind (exact) */
    long long errored;            /* missing, extra or changed rows that have an
                                     entry in state_schema.errors */
    long long unresolved;         /* target ref values that point at no row */
    map_vrow_t *rows;             /* owned: the listed rows, at most limit per
                                     kind, in key order within a kind */
    size_t n_rows;                /* number of listed rows */
    bool agree;                   /* no disagreement (parked rows allowed) */
} map_ventity_t;

/* The whole report. */
typedef struct map_vreport {
    map_ventity_t *entities; /* owned: in apply order */
    size_t n_entities;       /* number of entities */
    long long errors_total;  /* rows in state_schema.errors, all entities
                                and malformed messages included */
    bool state_found;        /* state_schema.parked/errors exist */
    double seconds;          /* wall time of the run */
    bool agree;              /* every entity agrees */
} map_vreport_t;

/* Options; zero values mean the defaults. */
typedef struct map_vopts {
    long long bucket_rows; /* rows per checksum bucket, default 1000 */
    size_t limit;          /* rows listed per entity and kind, default 20 */
} map_vopts_t;

/* Compares source and target for every entity of cfg (borrowed; its keys
 * must be resolved with map_catalog_resolve_keys()) through src and tgt
 * (borrowed connections, used by this thread only; session settings such as
 * TimeZone and DateStyle are changed on both, and the source session gets a
 * temporary function when a column has json: true).  Nothing is written to
 * either database.  On success *out is a new report (free with
 * map_validate_report_free()) and returns 0; an entity that cannot be
 * compared (no legacy_id_column, a missing table) is a problem in the
 * report, not a failure.  Returns FERRY_ETRANSIENT when a query fails, or
 * FERRY_ENOMEM, with err saying which entity. */
int map_validate_run(const map_config_t *cfg, PGconn *src, PGconn *tgt,
                     const map_vopts_t *opts, map_vreport_t **out,
                     ferry_err_t *err) FERRY_WUR;

/* Frees the report; NULL is a no-op. */
void map_validate_report_free(map_vreport_t *r);

/* Prints the report for people (text) or as one JSON object. */
void map_validate_print_text(const map_vreport_t *r, FILE *out);
int map_validate_print_json(const map_vreport_t *r, FILE *out) FERRY_WUR;

/* Static name of a kind: "missing", "extra", "changed", "parked", "stuck",
 * "blocked". */
const char *map_vkind_name(enum map_vkind k);

#endif
