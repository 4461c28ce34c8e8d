/* Reassembles source transactions from the entity topics and the
 * transaction topic, and hands them out in commit LSN order.
 * sink/sink_txbuf.h
 *
 * ferry-cdc writes each change to its table's topic and a BEGIN and an END
 * event (with per-table event counts) to <prefix>.transaction.  Partitions
 * are read in parallel, so a transaction's pieces arrive in any order.  The
 * buffer collects them by transaction id; a transaction is complete once
 * its END is there and it holds as many distinct events (by total_order) of
 * the consumed tables as the END counts.  sink_txbuf_pop() hands out the
 * buffered transaction with the lowest commit LSN, and only when it is
 * complete, so transactions known to the sink are applied in commit order.
 * Events that carry no transaction form one of their own.  Not
 * thread-safe.
 */
#ifndef SINK_TXBUF_H
#define SINK_TXBUF_H

#include "sink_event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One reassembled source transaction. */
typedef struct sink_tx {
    char *id;              /* owned: "<xid>:<commit lsn>", or NULL */
    uint64_t commit_lsn;   /* commit LSN (0 for a malformed message) */
    sink_event_t **events; /* owned: events, sorted by total_order once
                              popped; duplicates removed */
    size_t n_events;       /* number of events */
    size_t cap_events;     /* allocated slots */
    long expected;         /* END: events of consumed tables, else -1 */
    sink_pos_t begin_pos;  /* BEGIN message, slot -1 if none */
    sink_pos_t end_pos;    /* END message, slot -1 if none */
    size_t heap_index;     /* private: place in the buffer's heap */
    bool spilling;         /* events are taken out as they arrive */
    long spilled;          /* distinct events taken out so far */
    uint8_t *seen;         /* owned: bitmap of total_order taken out */
    size_t seen_len;       /* bytes in seen */
    int64_t ts_ms;         /* source.ts_ms of the first event added (the
                              commit time), 0 before */
} sink_tx_t;

typedef struct sink_txbuf sink_txbuf_t;

/* Returns a new buffer (free with sink_txbuf_free()), or NULL.  tables
 * (borrowed, copied) are the "schema.table" names the sink consumes; END
 * counts of other tables are ignored. */
sink_txbuf_t *sink_txbuf_new(const char *const *tables, size_t n_tables);

/* Frees the buffer and every transaction still in it. */
void sink_txbuf_free(sink_txbuf_t *b);

/* Adds an event; takes ownership of ev in every case.  Returns 0 or
 * FERRY_ENOMEM. */
int sink_txbuf_add_event(sink_txbuf_t *b, sink_event_t *ev) FERRY_WUR;

/* Adds a BEGIN or END (m borrowed) read at pos.  Returns 0 or
 * FERRY_ENOMEM. */
int sink_txbuf_add_txmsg(sink_txbuf_t *b, const sink_txmsg_t *m,
                         sink_pos_t pos) FERRY_WUR;

/* Removes and returns the buffered transaction with the lowest commit LSN
 * when it is complete (new: free with sink_tx_free()), else NULL. */
sink_tx_t *sink_txbuf_pop(sink_txbuf_t *b);

/* The buffered transaction with the lowest commit LSN (borrowed), or
 * NULL. */
const sink_tx_t *sink_txbuf_peek(const sink_txbuf_t *b);

/* True when sink_txbuf_pop() would hand out a transaction now. */
bool sink_txbuf_front_ready(sink_txbuf_t *b);

/* The buffered transaction with the lowest commit LSN (borrowed; the
 * caller may take its events with sink_txbuf_take()), or NULL. */
sink_tx_t *sink_txbuf_front(sink_txbuf_t *b);

/* Moves the buffered events of tx (borrowed, the front transaction, with
 * an id) out of the buffer so that a huge transaction need not stay in
 * memory: an event repeated (same total_order as one taken before) is
 * freed, the others are appended to *out (a caller-owned array grown with
 * realloc(), *n counting its entries) and become the caller's.  tx is then
 * spilling: it is complete once the distinct events taken out reach the
 * END's count and none is buffered.  Returns 0 or FERRY_ENOMEM. */
int sink_txbuf_take(sink_txbuf_t *b, sink_tx_t *tx, sink_event_t ***out,
                    size_t *n) FERRY_WUR;

/* Number of buffered transactions. */
size_t sink_txbuf_count(const sink_txbuf_t *b);

/* Number of buffered events. */
size_t sink_txbuf_events(const sink_txbuf_t *b);

/* Lowers min_offset[slot] (caller-owned, n_slots entries) to the offset of
 * every message still buffered in that slot, so that a restart from those
 * offsets reads every buffered message again. */
void sink_txbuf_min_offsets(const sink_txbuf_t *b, int64_t *min_offset,
                            size_t n_slots);

/* As sink_txbuf_min_offsets(), for the messages of tx (borrowed) alone. */
void sink_tx_min_offsets(const sink_tx_t *tx, int64_t *min_offset,
                         size_t n_slots);

/* Frees a transaction and its events; NULL is a no-op. */
void sink_tx_free(sink_tx_t *tx);

/* Adds ev (owned by the collection on success) to *loose, a collection of
 * events applied without their transaction (a bulk load's, or those past
 * a cut), creating it when *loose is NULL; the caller owns *loose and
 * frees it with sink_tx_free().  0 or FERRY_ENOMEM (ev stays the
 * caller's). */
int sink_tx_loose_add(sink_tx_t **loose, sink_event_t *ev) FERRY_WUR;

/* The commit time (source.ts_ms) of tx: that of the first event added
 * (every event of a source transaction has the same; for a collection of
 * loose events, the first read), even once spilled; 0 when none was
 * added or tx is NULL. */
int64_t sink_tx_commit_ts(const sink_tx_t *tx);

#endif
