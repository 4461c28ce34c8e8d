/* Whether a slot's snapshot completed: records on <prefix>.snapshot.
 * cdc/cdc_snapstate.h
 *
 * ferry-cdc never writes to the legacy database, so the one durable place
 * it owns is Kafka.  Before it creates a slot (or takes a snapshot for an
 * existing one) it publishes {"status":"started"} under the slot's key, and
 * once every snapshot row is acknowledged {"status":"complete"}; both to
 * partition 0 of <prefix>.snapshot, acknowledged before going on.  At start
 * the last record for the slot tells whether a snapshot was interrupted.
 * The records' format is common/ferry_wire.h's (ferry_wire_snaprec_*).
 * The same topic holds the records of tables' re-snapshots while
 * streaming (cdc_stream.c writes them); they have their own key and do
 * not count for the slot's state.
 */
#ifndef CDC_SNAPSTATE_H
#define CDC_SNAPSTATE_H

#include "cdc_producer.h"
#include "ferry_err.h"
#include "map_config.h"

#include <stdint.h>

typedef enum cdc_snapstate {
    CDC_SNAPSTATE_NONE = 0, /* no record for the slot */
    CDC_SNAPSTATE_STARTED,  /* a snapshot began and never completed */
    CDC_SNAPSTATE_COMPLETE  /* the last snapshot completed */
} cdc_snapstate_t;

/* Publishes a record for cfg's slot (cfg borrowed) through prod and waits
 * until Kafka acknowledges it (and everything produced before).  lsn is
 * the snapshot's hand-off point (0 when not known yet).  The stream's
 * thread only.  Returns 0, FERRY_ETRANSIENT or FERRY_EFATAL. */
int cdc_snapstate_write(cdc_producer_t *prod, const map_config_t *cfg,
                        cdc_snapstate_t state, uint64_t lsn,
                        ferry_err_t *err) FERRY_WUR;

/* Reads <prefix>.snapshot back with a consumer of its own and sets *state
 * to the slot's last record (NONE when the topic is empty or missing;
 * re-snapshot records of its tables are skipped).
 * Returns 0 or FERRY_ETRANSIENT (the broker could not be read). */
int cdc_snapstate_read(const map_config_t *cfg, cdc_snapstate_t *state,
                       ferry_err_t *err) FERRY_WUR;

#endif
