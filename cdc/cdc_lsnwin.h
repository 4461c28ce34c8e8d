/* The window of messages in flight to Kafka, and the LSN that is safe to
 * confirm to the replication slot.
 * cdc/cdc_lsnwin.h
 *
 * ferry-cdc never confirms an LSN past a change that Kafka has not
 * acknowledged.  Every produced message takes a sequence number from this
 * window; delivery reports may come back in any order (several partitions),
 * and the window keeps the lowest sequence not yet acknowledged.  A commit
 * point (the end LSN of a source transaction) becomes confirmable once every
 * message added before it has been acknowledged.
 *
 * Memory is bounded by the capacity given at creation: cdc_lsnwin_full()
 * tells the caller to stop reading the replication stream and wait for
 * delivery reports (backpressure).  Commit points without a message between
 * them are merged, so they never outnumber the messages in flight.
 *
 * Not thread-safe: call from the thread that produces and serves delivery
 * reports (rd_kafka_poll runs the callbacks on the caller's thread).
 */
#ifndef CDC_LSNWIN_H
#define CDC_LSNWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdc_lsnwin cdc_lsnwin_t;

/* Returns a new window for at most capacity messages in flight (free with
 * cdc_lsnwin_destroy), or NULL if out of memory.  start_lsn is what
 * cdc_lsnwin_confirmable() returns until a commit point passes it. */
cdc_lsnwin_t *cdc_lsnwin_new(size_t capacity, uint64_t start_lsn);

void cdc_lsnwin_destroy(cdc_lsnwin_t *w);

/* Replaces the start LSN before any commit point was recorded (ferry-cdc
 * knows where streaming starts only once the snapshot hand-off is done). */
void cdc_lsnwin_set_start(cdc_lsnwin_t *w, uint64_t start_lsn);

/* True when no further message may be added until some are acknowledged. */
bool cdc_lsnwin_full(const cdc_lsnwin_t *w);

/* Takes the next sequence number for a message about to be produced.  The
 * caller must check cdc_lsnwin_full() first. */
uint64_t cdc_lsnwin_add(cdc_lsnwin_t *w);

/* Gives back the last sequence number taken, when producing it failed at
 * once (the message never reached librdkafka).  seq must be the last one
 * returned by cdc_lsnwin_add(). */
void cdc_lsnwin_unadd(cdc_lsnwin_t *w, uint64_t seq);

/* Records that lsn may be confirmed once every message added so far has
 * been acknowledged.  LSNs must not go backwards. */
void cdc_lsnwin_commit(cdc_lsnwin_t *w, uint64_t lsn);

/* Marks seq acknowledged by Kafka. */
void cdc_lsnwin_ack(cdc_lsnwin_t *w, uint64_t seq);

/* Returns the highest LSN that is safe to confirm now. */
uint64_t cdc_lsnwin_confirmable(cdc_lsnwin_t *w);

/* The sequence number the next cdc_lsnwin_add() will return: a mark that
 * cdc_lsnwin_acked_before() can wait for. */
uint64_t cdc_lsnwin_next_seq(const cdc_lsnwin_t *w);

/* Whether every message added before mark (from cdc_lsnwin_next_seq()) has
 * been acknowledged. */
bool cdc_lsnwin_acked_before(const cdc_lsnwin_t *w, uint64_t mark);

/* Returns the number of messages added and not yet acknowledged. */
size_t cdc_lsnwin_inflight(const cdc_lsnwin_t *w);

#endif
