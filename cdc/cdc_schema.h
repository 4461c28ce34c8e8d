/* Noticing schema changes of the captured tables while streaming, and the
 * records on <prefix>.schema that announce them.
 * cdc/cdc_schema.h
 *
 * ferry-cdc describes its tables once at start (cdc_tables.h); a column
 * added, dropped or retyped later would make that description stale, and a
 * stale column list is worse than useless: an UPDATE that no longer sends
 * a dropped column would mark it "absent" (an unchanged TOAST value), and
 * the sink would keep the old value silently.  So every INSERT and UPDATE
 * is compared with the description first (cdc_tables_fit()):
 *
 * - a column the description lacks, another type, a described column
 *   missing from an INSERT, or one that is always sent missing from an
 *   UPDATE: the table changed, so its catalog is read again before the
 *   event is built;
 * - a TOAST-able column missing from an UPDATE is ambiguous (an unchanged
 *   TOAST value, or a dropped column).  With ferry's event trigger
 *   installed on the source (docs/setup.md), every DDL on a table writes a
 *   'ferry-ddl' message into the WAL, in commit order, and the table is
 *   read again there: the ambiguity is gone.  Without it the catalog is
 *   read again, at most once a second per table.
 *
 * When a read finds other columns or types, the change is announced with a
 * schema-change record (common/ferry_wire.h) that the caller publishes
 * through the LSN window before the event that revealed it.  The same
 * event shape found again within a second of a read that did not explain
 * it is not read again (a catalog already past the stream, say), which
 * bounds the cost to one read a second per table.
 *
 * The streaming thread owns it.
 */
#ifndef CDC_SCHEMA_H
#define CDC_SCHEMA_H

#include "cdc_tables.h"
#include "cdc_w2j.h"
#include "ferry_buf.h"
#include "ferry_err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cdc_schema cdc_schema_t;

/* What one check did. */
typedef struct cdc_schema_result {
    bool refreshed; /* the table's description was replaced (a re-snapshot
                       of it must start again) */
    bool announce;  /* key and val hold a schema-change record, to publish
                       on <prefix>.schema before the event */
    size_t table;   /* the table's index */
} cdc_schema_result_t;

/* Returns a new state for tables (borrowed, must outlive it), free with
 * cdc_schema_free(); NULL when out of memory.  slot (borrowed) names the
 * slot in log lines. */
cdc_schema_t *cdc_schema_new(cdc_tables_t *tables, const char *slot);

void cdc_schema_free(cdc_schema_t *sc);

/* Reads through sql (borrowed) whether the source has ferry's DDL event
 * trigger, and says so when that changed (a warning without it).  Returns
 * 0 or FERRY_ETRANSIENT; on failure the last answer stands. */
int cdc_schema_check_trigger(cdc_schema_t *sc, PGconn *sql,
                             ferry_err_t *err) FERRY_WUR;

/* Checks msg (borrowed; a row change of table ti) against its table's
 * description, reading the catalog through sql when needed, and fills *res
 * (key and val, caller-owned, are reset and hold the record when
 * res->announce).  Returns 0, FERRY_ETRANSIENT (the catalog could not be
 * read) or FERRY_ENOMEM. */
int cdc_schema_on_change(cdc_schema_t *sc, PGconn *sql, size_t ti,
                         const cdc_w2j_msg_t *msg, ferry_buf_t *key,
                         ferry_buf_t *val, cdc_schema_result_t *res,
                         ferry_err_t *err) FERRY_WUR;

/* A logical message (M) from the stream: *handled tells whether it is a
 * 'ferry-ddl' message; when it names a captured table, that table is read
 * again and *res filled as cdc_schema_on_change() does.  Returns as
 * cdc_schema_on_change(). */
int cdc_schema_on_message(cdc_schema_t *sc, PGconn *sql,
                          const cdc_w2j_msg_t *msg, bool *handled,
                          ferry_buf_t *key, ferry_buf_t *val,
                          cdc_schema_result_t *res, ferry_err_t *err) FERRY_WUR;

/* Parses the table of a 'ferry-ddl' message, "schema.table" with each part
 * quoted as format('%I') quotes it, into schema and table (caller-owned,
 * cap bytes each).  Returns false when it is not such a name. */
bool cdc_schema_parse_name(const char *s, char *schema, char *table,
                           size_t cap) FERRY_WUR;

#endif
