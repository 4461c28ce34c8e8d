/* The window of recently applied source transactions: the commit LSNs of
 * the last N transactions the sink applied, kept sorted.
 * sink/sink_lsnset.h
 *
 * ferry-sink drops a transaction read again (after its own restart, or
 * after ferry-cdc sent it again) when its commit LSN is in the window or
 * below it.  The window keeps only the largest N LSNs, so memory and the
 * state table that mirrors it stay bounded however long the sink runs.
 * Below the window's floor every transaction counts as applied: they are
 * applied in commit order, and the window absorbs a transaction topic read
 * out of order by up to N transactions (docs/sink.md).
 * Transactions are applied in commit order, so additions almost always
 * append.  Not thread-safe.
 */
#ifndef SINK_LSNSET_H
#define SINK_LSNSET_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sink_lsnset {
    uint64_t *lsn; /* owned: sorted ascending from lsn[start] */
    size_t start;  /* first entry in use */
    size_t n;      /* entries in use after start */
    size_t cap;    /* allocated entries */
    size_t limit;  /* the window: most entries kept (at least 1) */
} sink_lsnset_t;

/* Initialises s (caller-allocated) as an empty window of limit entries;
 * release with sink_lsnset_free(). */
void sink_lsnset_init(sink_lsnset_t *s, size_t limit);

/* Frees what s owns; s may be initialised again. */
void sink_lsnset_free(sink_lsnset_t *s);

/* Adds lsn (a no-op when present), then forgets the smallest entries
 * beyond the limit.  Returns 0 or FERRY_ENOMEM. */
int sink_lsnset_add(sink_lsnset_t *s, uint64_t lsn) FERRY_WUR;

/* True when lsn is in the window. */
bool sink_lsnset_has(const sink_lsnset_t *s, uint64_t lsn);

/* The smallest LSN in the window once it is full, else 0: every LSN
 * below it has been forgotten (the state table may drop them). */
uint64_t sink_lsnset_floor(const sink_lsnset_t *s);

/* Number of entries. */
size_t sink_lsnset_count(const sink_lsnset_t *s);

#endif
