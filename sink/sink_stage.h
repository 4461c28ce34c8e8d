/* Staging: the rows of one entity COPYed into its temporary staging table
 * (sink_sql_stage_ddl()), from which set-based statements apply them; the
 * UUIDs of a truncate's keys into pg_temp.ferry_trunc.
 * sink/sink_stage.h
 *
 * Every staged value is text: the statements cast it to the target
 * column's type, so that a bad value fails a statement (and is isolated
 * per row) rather than the COPY.  Not thread-safe.
 */
#ifndef SINK_STAGE_H
#define SINK_STAGE_H

#include "map_config.h"
#include "sink_row.h"
#include "sink_rowset.h"
#include "sink_sql.h"
#include "sink_target.h"

#include <libpq-fe.h>

/* Pushes empty_sql (TRUNCATE of the staging table) and the COPY copy_sql
 * of s's rows onto t's job, for entity plan p of cfg (all borrowed; the
 * rows must stay until the steps ran).  Sets s's min and max commit LSNs.
 * Returns 0 or FERRY_ENOMEM with err set. */
int sink_stage_push(sink_target_t *t, const map_config_t *cfg,
                    const sink_plan_t *p, rowset_t *s, const char *empty_sql,
                    const char *copy_sql, ferry_err_t *err) FERRY_WUR;

/* Pushes the COPY into pg_temp.ferry_trunc (uuid) of the UUIDs of entity
 * (borrowed) for the legacy keys in the first column of keys (borrowed,
 * copied before the call returns), resolved through u (borrowed: imported
 * UUIDs first, else UUIDv5).  Returns 0 or FERRY_ENOMEM with err set. */
int sink_stage_push_uuids(sink_target_t *t, const sink_uuidctx_t *u,
                          const char *entity, const PGresult *keys,
                          ferry_err_t *err) FERRY_WUR;

#endif
