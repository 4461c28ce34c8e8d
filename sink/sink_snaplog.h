/* What ferry-sink knows of ferry-cdc's snapshots: the records of the slot
 * on <prefix>.snapshot (common/ferry_wire.h, docs/snapshot.md).
 * sink/sink_snaplog.h
 *
 * ferry-cdc publishes "started" before a snapshot (initial, `always`, or
 * after a lost slot) and "complete" with its LSN C once every snapshot row
 * is acknowledged.  The sink applies each snapshot in dependency order
 * (sink_bulkload.h) once it is complete, and remembers the last one it
 * applied by the offset of its record.  Not thread-safe.
 */
#ifndef SINK_SNAPLOG_H
#define SINK_SNAPLOG_H

#include "ferry_err.h"
#include "ferry_wire.h"
#include "sink_consumer.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* The slot's last records. */
typedef struct sink_snaplog {
    bool any;                      /* a record of the slot exists */
    ferry_wire_snap_status_t last; /* the last one's status */
    int64_t last_offset;           /* its offset */
    bool complete;                 /* a "complete" record exists ... */
    uint64_t complete_lsn;         /* ... with this LSN ... */
    int64_t complete_offset;       /* ... at this offset */
    long tables;                   /* records of tables' re-snapshots
                                      (not the slot's: left out of the
                                      above) */
} sink_snaplog_t;

/* Takes record m (borrowed) of the snapshot topic into *log when it is
 * slot's (borrowed); a record that does not decode is logged and left
 * out. */
void sink_snaplog_take(sink_snaplog_t *log, const char *slot,
                       const rd_kafka_message_t *m);

/* Reads every record of cfg's slot on the snapshot topic (partition 0)
 * up to its end into *out (zeroed first), with a Kafka client of its own
 * (the sink's consumer keeps its assignment).  Blocking: between modes
 * only.  A missing topic is no record.  Returns 0, FERRY_ECONFIG or
 * FERRY_ETRANSIENT with err set. */
int sink_snaplog_read(const map_config_t *cfg, sink_snaplog_t *out,
                      ferry_err_t *err) FERRY_WUR;

/* True when the log holds a snapshot newer than the applied one (the
 * record at applied_record, or none when !applied): one started after it,
 * or completed after it. */
bool sink_snaplog_pending(const sink_snaplog_t *log, bool applied,
                          int64_t applied_record);

#endif
