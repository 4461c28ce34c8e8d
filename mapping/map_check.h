/* Checking a mapping against the live source and target databases.
 * mapping/map_check.h
 *
 * Reports every problem at once, each as a diagnostic pointing at the line
 * of ferry.yaml it concerns: missing tables and columns, types that do not
 * convert, keys that are not unique, UUID columns that are not uuid, source
 * tables whose updates and deletes would be lost for want of a primary key
 * or replica identity, target NOT NULL columns nothing fills.
 *
 * Warnings are what works but costs: the source has no DDL event trigger
 * for ferry-cdc, a table whose TOAST-able columns the mapping reads has no
 * REPLICA IDENTITY FULL (a compacted topic can lose unchanged TOAST
 * values), numeric or float columns hold NaN or Infinity (wal2json 2.5
 * streams them as null).
 */
#ifndef MAP_CHECK_H
#define MAP_CHECK_H

#include "ferry_err.h"
#include "map_config.h"
#include "map_diag.h"

#include <libpq-fe.h>

/* Checks cfg (borrowed) through src and tgt (borrowed; either may be NULL
 * when it could not be reached, and its side is then skipped).  Adds one
 * diagnostic per problem to diags and one per warning to warnings (both
 * caller-owned; warnings may be NULL to skip them; each warning's message
 * starts with "warning: ").  Returns 0 when the checks ran (whether or not
 * they found problems), FERRY_ETRANSIENT when a catalog query failed, or
 * FERRY_ENOMEM; err says why. */
int map_check_run(const map_config_t *cfg, PGconn *src, PGconn *tgt,
                  map_diags_t *diags, map_diags_t *warnings,
                  ferry_err_t *err) FERRY_WUR;

#endif
