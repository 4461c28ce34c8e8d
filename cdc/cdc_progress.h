/* Snapshot progress: rows, rows/s and ETA per table, drawn in place when
 * stderr is a terminal and logged every 10 s otherwise.
 * cdc/cdc_progress.h
 *
 * Readers update their table's counters from any thread (atomics); only the
 * supervising thread calls cdc_progress_tick(), which draws or logs.
 */
#ifndef CDC_PROGRESS_H
#define CDC_PROGRESS_H

#include "cdc_tables.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cdc_progress cdc_progress_t;

/* Returns a new tracker for every table of tables (borrowed; must outlive
 * it), free with cdc_progress_free(), or NULL when out of memory.  slot
 * (borrowed) names the slot in log lines. */
cdc_progress_t *cdc_progress_new(const cdc_tables_t *tables, const char *slot);

void cdc_progress_free(cdc_progress_t *p);

/* The planner's row estimate of table i, for the ETA.  Before the readers
 * start. */
void cdc_progress_estimate(cdc_progress_t *p, size_t i, uint64_t rows);

/* Table i is being read, has n more rows published, is complete.  Any
 * thread. */
void cdc_progress_start(cdc_progress_t *p, size_t i);
void cdc_progress_add(cdc_progress_t *p, size_t i, uint64_t n);
void cdc_progress_done(cdc_progress_t *p, size_t i);

/* Draws (terminal) or logs (every 10 s) the progress; final draws the last
 * state and logs each table's total once.  The supervising thread only. */
void cdc_progress_tick(cdc_progress_t *p, bool final);

/* Rows published so far, over all tables. */
uint64_t cdc_progress_total(const cdc_progress_t *p);

/* Rows published so far of table i.  Any thread. */
uint64_t cdc_progress_rows(const cdc_progress_t *p, size_t i);

#endif
