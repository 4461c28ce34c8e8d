/* Internal to ferry-sink's main loop: its state, shared by sink_run.c
 * (both modes) and sink_group.c (what the scale-out mode adds).
 * sink/sink_run_int.h
 */
#ifndef SINK_RUN_INT_H
#define SINK_RUN_INT_H

#include "sink_apply.h"
#include "sink_consumer.h"
#include "sink_lsnset.h"
#include "sink_run.h"
#include "sink_txbuf.h"

#include <libpq-fe.h>

typedef struct run {
    const map_config_t *cfg;     /* borrowed */
    const sink_run_opts_t *opts; /* borrowed */
    volatile sig_atomic_t *stop; /* borrowed */
    PGconn *conn;                /* owned: the target */
    char *q_state;               /* owned: quoted state schema */
    sink_consumer_t kc;          /* the Kafka side */
    sink_txbuf_t *txbuf;         /* owned: reassembly */
    sink_apply_t *apply;         /* owned: the applier */
    sink_lsnset_t applied;       /* recently applied commit LSNs */
    sink_tx_t **batch;           /* owned: transactions to apply */
    size_t n_batch, cap_batch;   /* in use, allocated */
    size_t batch_events;         /* events in the batch */
    int64_t *minoff;             /* owned: per slot, offsets to store */
    bool dirty;                  /* offsets moved since the last commit */
    char **tables;               /* owned: consumed "schema.table" names */
    bool spill_open;             /* the open target transaction holds a
                                    spilled source transaction */
    sink_event_t **spill_evs;    /* owned array: events being spilled */
    /* Scale-out mode (sink_group.c): */
    bool shared;        /* several sinks share the partitions */
    char *group;        /* owned: the consumer group */
    sink_tx_t *loose;   /* owned: events read since the last
                           commit, applied as one batch */
    bool fenced;        /* the offsets moved under this sink */
    bool lock_conflict; /* another sink holds the state schema */
    bool connected;     /* the target accepted us once in this run */
    /* --rebuild's bulk load (sink_bulk.c): */
    bool bulk_active;     /* the bulk load is not finished */
    uint64_t bulk_cut;    /* highest commit LSN it applied, 0 if none */
    int idle_rc;          /* error while reading during a statement */
    size_t read_ahead;    /* messages read then, since the last pop */
    ferry_err_t idle_err; /* its message */
    bool loose_in_batch;  /* the batch holds events of transactions it cut
                             (ordered mode, in r->loose until queued) */
    int64_t *bulk_end;    /* owned: per slot, the offset it loads up to,
                             -1 where it loads nothing */
    size_t *bulk_slots;   /* owned: the slots of the topic being loaded */
    size_t n_bulk_slots;  /* their number */
} run_t;

/* Sleeps ms milliseconds. */
void sink__run_sleep_ms(long ms);

/* Between two attempts: sleeps *backoff ms and doubles it (up to 10 s).
 * Returns 0, or FERRY_ETRANSIENT ("stopped while retrying: <err>") once
 * the sink is asked to stop. */
int sink__run_pause(run_t *r, long *backoff, ferry_err_t *err) FERRY_WUR;

/* Rolls back, reconnects to the target when the connection is gone.
 * Returns 0 or an error class with err set. */
int sink__run_reconnect(run_t *r, ferry_err_t *err) FERRY_WUR;

/* Milliseconds of a monotonic clock. */
int64_t sink__run_now_ms(void);

/* Marks slot read up to message m (borrowed) and queues its event into
 * r->loose (a malformed one as op 'X', a tombstone not at all).  Returns 0
 * or FERRY_ENOMEM with err set. */
int sink__loose_take(run_t *r, const rd_kafka_message_t *m, int slot,
                     ferry_err_t *err) FERRY_WUR;

/* Appends ev (ownership taken) to r->loose, creating it.  Returns 0 or
 * FERRY_ENOMEM. */
int sink__loose_add(run_t *r, sink_event_t *ev) FERRY_WUR;

/* Applies r->batch and stores the offsets in one target transaction,
 * retrying transient errors.  Returns 0 or an error class with err set. */
int sink__commit_batch(run_t *r, ferry_err_t *err) FERRY_WUR;

/* Queues tx (ownership taken) into r->batch.  Returns 0 or
 * FERRY_ENOMEM. */
int sink__batch_add(run_t *r, sink_tx_t *tx) FERRY_WUR;

/* Queues r->loose, when there is one, into r->batch and clears it.
 * Returns 0, or FERRY_ENOMEM with err set (r->loose is then kept, and
 * freed with the run). */
int sink__loose_to_batch(run_t *r, ferry_err_t *err) FERRY_WUR;

/* Once the consumer is assigned: with fresh (a rebuild has just reset the
 * state) records the end offsets of the entity partitions and starts the
 * bulk load; else reads the state of an earlier one (to resume it, or to
 * know its cut).  Returns 0 or an error class with err set. */
int sink__bulk_prepare(run_t *r, bool fresh, ferry_err_t *err) FERRY_WUR;

/* True when an unfinished bulk load is recorded in the target, *yes set.
 * Returns 0 or an error class with err set. */
int sink__bulk_unfinished(run_t *r, bool *yes, ferry_err_t *err) FERRY_WUR;

/* Loads every entity's topic, in dependency order, up to the recorded end
 * offsets, a batch per target transaction, then assigns every partition
 * for the live stream.  Returns 0 or an error class with err set. */
int sink__bulk_run(run_t *r, ferry_err_t *err) FERRY_WUR;

/* In the open target transaction of a bulk batch: raises the recorded cut
 * to the batch's newest commit LSN.  Returns 0 or an error class. */
int sink__bulk_store(run_t *r, ferry_err_t *err) FERRY_WUR;

/* Scale-out: subscribes r's consumer in its group with the callbacks below.
 * Returns 0 or an error class with err set. */
int sink__group_start(run_t *r, ferry_err_t *err) FERRY_WUR;

/* Scale-out: queues message m (borrowed) read from slot into r->loose,
 * unless the slot is no longer owned.  Returns 0 or FERRY_ENOMEM. */
int sink__group_on_message(run_t *r, const rd_kafka_message_t *m, int slot,
                           ferry_err_t *err) FERRY_WUR;

/* Scale-out: in the open target transaction, moves the stored offset of
 * every owned partition that advanced, but only from the offset this sink
 * last stored or read at assignment; when another process moved one in
 * between, sets r->fenced and returns FERRY_EFATAL with err set. */
int sink__group_store_positions(run_t *r, ferry_err_t *err) FERRY_WUR;

/* Scale-out, after r->fenced: forgets what was read, reads the stored
 * offsets of the owned partitions again and seeks to them.  Returns 0 or
 * an error class with err set. */
int sink__group_refetch(run_t *r, ferry_err_t *err) FERRY_WUR;

#endif
