/* One change event turned into target column values: the value pipeline,
 * the row's UUID and every ref resolved to its parent's UUID.
 * sink/sink_row.h
 *
 * The pipeline of docs/mapping.md (the source value, each transform in
 * order, the values map, the default when the result is NULL, then JSON
 * validation when json is set) is the mapping's map_rules_value()
 * (map_rules.h), next to its SQL twin for validate.  UUIDs come from the
 * id-map's imported rows
 * first, else UUIDv5 (map_uuid_entity()).  Pure: no database access.  Not
 * thread-safe per row; the model and the imported map are only read.
 */
#ifndef SINK_ROW_H
#define SINK_ROW_H

#include "map_config.h"
#include "map_uuid.h"
#include "sink_event.h"
#include "sink_util.h"

#include <stdbool.h>

/* What the sink needs to resolve UUIDs. */
typedef struct sink_uuidctx {
    const map_config_t *cfg;    /* borrowed: the model */
    map_uuid_t ns;              /* the uuid_namespace */
    const sink_map_t *imported; /* borrowed: "entity\x1flegacy key" ->
                                   UUID text of imported rows; may be NULL */
} sink_uuidctx_t;

/* One target row, or one target delete.  Its text values are borrowed
 * from its events (unescaped once there, see sink_event.h) wherever the
 * value pipeline leaves them as they are, so that they go from the event
 * straight into the COPY buffer: a row must not outlive the events it was
 * built and merged from (the batch's, or those taken out of parked). */
typedef struct sink_row {
    char op;                    /* 'u' upsert, 'd' delete */
    char *lkey;                 /* owned: the legacy key text */
    const char **keyvals;       /* owned array, values borrowed from the
                                   event: text of each key column (n_key) */
    size_t n_key;               /* number of key values */
    char uuid[MAP_UUID_STRLEN]; /* the row's UUID */
    const char **vals;          /* owned array: value of each mapped column,
                                   NULL for SQL NULL (n_columns entries);
                                   each owned where owned[i], else borrowed
                                   from an event */
    bool *owned;                /* per column: vals[i] is the row's (a ref's
                                   UUID, or the value pipeline changed it) */
    const char **ref_entity;    /* owned array, borrowed names: for a ref
                                   column, the parent entity, else NULL */
    bool *absent;               /* per column, true when the source did not
                                   send it (unchanged TOAST); or NULL */
    void *block;                /* owned: vals, owned, ref_entity and absent
                                   in one allocation */
    size_t n_cols;              /* number of columns */
    const char *park_entity;    /* borrowed: set when the row must be parked
                                   for a discriminator with no case */
    sink_pair_t pair;           /* the event's ordering pair */
    int64_t ts_ms;              /* the commit time, for soft deletes */
    bool soft_deleted;          /* an upsert then a soft delete in one batch:
                                   write the row stamped deleted at del_ts_ms */
    int64_t del_ts_ms;          /* the delete's commit time */
    sink_event_t *ev;           /* borrowed: the source event */
} sink_row_t;

/* Builds the row of entity e (borrowed) from change event ev (borrowed,
 * op c, u, r or d) into *row (caller-allocated; release with
 * sink_row_clear() whatever the result).  Returns 0, FERRY_EDATA with err
 * saying why the row cannot be applied (bad value, missing key, invalid
 * JSON with on_invalid: error, unknown discriminator with on_missing:
 * error), FERRY_ESCHEMA when a mapped source column is missing from the
 * change (dropped or renamed at the source: never written as NULL), or
 * FERRY_ENOMEM. */
int sink_row_build(const sink_uuidctx_t *ctx, const map_entity_t *e,
                   sink_event_t *ev, sink_row_t *row,
                   ferry_err_t *err) FERRY_WUR;

/* Frees what the row owns. */
void sink_row_clear(sink_row_t *row);

/* Merges the later row src into dst (same key): a delete replaces (with
 * soft, a delete after an upsert keeps the row and stamps it), an upsert
 * overlays the columns it sent on dst's (what src owned moves to dst; what
 * it borrowed stays borrowed from src's event).  src is cleared. */
void sink_row_merge(sink_row_t *dst, sink_row_t *src, bool soft);

/* The UUID of entity's row with legacy key lkey (both borrowed): the
 * imported one if any, else UUIDv5.  Writes text into out
 * (MAP_UUID_STRLEN bytes).  Returns 0 or FERRY_ENOMEM. */
int sink_row_uuid(const sink_uuidctx_t *ctx, const char *entity,
                  const char *lkey, char *out) FERRY_WUR;

#endif
