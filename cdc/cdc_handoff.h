/* ferry-cdc's start: whether to snapshot (--snapshot), the slot, and the
 * LSN where streaming takes over from the snapshot.
 * cdc/cdc_handoff.h
 *
 * A new slot exports its snapshot; the snapshot is read in it and streaming
 * starts at the slot's consistent point, so no change is lost or repeated.
 * Snapshot rows are acknowledged before streaming starts, and nothing is
 * confirmed to the slot before that, so an interrupted snapshot leaves the
 * slot at its consistent point and a "started" record on <prefix>.snapshot;
 * the next start takes the snapshot again.  docs/snapshot.md has the
 * details and the cost of each case.
 */
#ifndef CDC_HANDOFF_H
#define CDC_HANDOFF_H

#include "cdc_snapshot.h"
#include "ferry_err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum cdc_snapshot_mode {
    CDC_SNAPSHOT_INITIAL = 0, /* only when the slot is created (default) */
    CDC_SNAPSHOT_NEVER,       /* never; a new slot streams from creation */
    CDC_SNAPSHOT_ALWAYS,      /* at every start */
    CDC_SNAPSHOT_WHEN_NEEDED  /* as initial, and again for a lost slot */
} cdc_snapshot_mode_t;

/* Parses "initial", "never", "always" or "when_needed". */
bool cdc_snapshot_mode_parse(const char *s, cdc_snapshot_mode_t *mode);

/* Prepares the slot named by ctx->cfg (creating, dropping or keeping it
 * as mode says), takes the snapshot when one is due, and sets *start to
 * the LSN streaming starts from.  sql (borrowed) is an ordinary connection
 * to the source.  The stream's thread only.  Returns 0 or a negative
 * status with err set. */
int cdc_handoff_prepare(const cdc_snapshot_ctx_t *ctx, PGconn *sql,
                        cdc_snapshot_mode_t mode,
                        const cdc_snapshot_opts_t *opts, uint64_t *start,
                        ferry_err_t *err) FERRY_WUR;

#endif
