/* The rows of one entity in a batch, collapsed to one per legacy key: a
 * later event of a key merges into the earlier one (sink_row_merge()), an
 * older one never overwrites a newer one.
 * sink/sink_rowset.h
 *
 * Pure: no database access.  Not thread-safe.
 */
#ifndef SINK_ROWSET_H
#define SINK_ROWSET_H

#include "sink_row.h"
#include "sink_util.h"

#include <stdbool.h>
#include <stdint.h>

/* The rows of one entity in a batch, one per legacy key. */
typedef struct rowset {
    sink_row_t *rows;    /* owned: collapsed rows */
    size_t n;            /* rows in use */
    size_t cap;          /* allocated */
    sink_map_t *index;   /* legacy key -> row index + 1 */
    uint64_t min_commit; /* lowest and highest commit LSN of the rows */
    uint64_t max_commit; /* staged last (set by sink__stage_push()) */
} rowset_t;

/* Adds row (its contents moved) to s, merging with an earlier row of the
 * same key; soft makes a delete after an upsert a soft delete.  Returns 0
 * or FERRY_ENOMEM. */
int sink_rowset_add(rowset_t *s, sink_row_t *row, bool soft) FERRY_WUR;

/* Frees the rows of s and empties it for the next batch. */
void sink_rowset_clear(rowset_t *s);

/* Frees everything s owns. */
void sink_rowset_free(rowset_t *s);

#endif
