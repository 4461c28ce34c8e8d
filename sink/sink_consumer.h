/* ferry-sink's Kafka consumer: which partitions it reads and from where.
 * sink/sink_consumer.h
 *
 * The ordered mode assigns itself every partition of the entity topics and
 * the transaction topic (rd_kafka_assign(), never subscribe()).  The
 * scale-out mode subscribes to the entity topics in a consumer group; an
 * assignment is only noted in the rebalance callback (c->on_assign), and
 * the caller, once it has read the stored offsets of the partitions it
 * got, assigns them with sink_consumer_assign_owned().  Either way
 * positions live in <state_schema>.offsets, written in the same target
 * transaction as the rows, so Kafka's own committed offsets are never
 * used.  Reading is sink_intake.h's.  Not thread-safe.
 */
#ifndef SINK_CONSUMER_H
#define SINK_CONSUMER_H

#include "map_config.h"
#include "sink_util.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* One assigned partition. */
typedef struct sink_slot {
    const char *topic; /* borrowed from the consumer */
    int32_t partition; /* the partition */
    bool is_tx;        /* true for the transaction topic */
    bool is_snap;      /* true for the snapshot topic (ordered mode) */
    int64_t next;      /* next offset to read */
    int64_t end;       /* high watermark when the sink started */
    int64_t stored;    /* offset last stored in the target, or -1 */
    bool owned;        /* scale-out: assigned to this process now */
} sink_slot_t;

typedef struct sink_consumer sink_consumer_t;

/* Scale-out: called during rd_kafka_consumer_poll() when the group assigns
 * the n slots idx (borrowed: copy them).  It must not wait: it notes the
 * assignment, and the caller assigns it later with
 * sink_consumer_assign_owned() once each slot's stored, next and end are
 * set (sink_consumer_position() helps).  Returns 0, or an error class with
 * err set, which the consumer keeps for the caller (c->failed). */
typedef int (*sink_assign_fn)(void *arg, sink_consumer_t *c, const size_t *idx,
                              size_t n, ferry_err_t *err);

/* Scale-out: called when the group takes the partitions away, before they
 * are unassigned; events read and not yet applied must be dropped. */
typedef void (*sink_revoke_fn)(void *arg);

struct sink_consumer {
    rd_kafka_t *rk;         /* owned: the consumer */
    char **topics;          /* owned: distinct topic names; [0] is the
                               transaction topic, then the entity topics,
                               then (ordered mode) the snapshot topic */
    size_t n_entity_topics; /* entity topics: topics[1..n_entity_topics] */
    size_t snap_topic;      /* index of the snapshot topic, 0 if none */
    bool *missing;          /* owned: per topic, it did not exist when the
                               partitions were assigned (ordered mode) */
    size_t n_topics;        /* number of topics */
    sink_slot_t *slots;     /* owned: known partitions (ordered mode: all
                               assigned; scale-out: those ever assigned) */
    size_t n_slots;         /* number of slots */
    size_t cap_slots;       /* allocated slots */
    sink_map_t *slot_of;    /* "topic\x1fpartition" -> slot index + 1 */
    /* Scale-out only: */
    const char *group;        /* borrowed: the consumer group, or NULL */
    sink_assign_fn on_assign; /* set before sink_consumer_subscribe() */
    sink_revoke_fn on_revoke; /* idem */
    void *cb_arg;             /* their argument */
    bool assigned;            /* an assignment has been received */
    int failed;               /* error class from a rebalance, or 0 */
    ferry_err_t failure;      /* its message */
    int64_t assigned_at;      /* monotonic ms of the last assignment
                                 change (sink_consumer_assign_list()) */
};

/* Creates the consumer for cfg (borrowed) into *c (caller-allocated;
 * release with sink_consumer_close() whatever the result).  group (borrowed,
 * must outlive c) selects the scale-out mode; NULL is the ordered mode. Returns
 * 0, FERRY_ECONFIG or FERRY_ENOMEM, with err set. */
int sink_consumer_open(sink_consumer_t *c, const map_config_t *cfg,
                       const char *group, ferry_err_t *err) FERRY_WUR;

/* Scale-out: joins the group, subscribed to the entity topics (not the
 * transaction topic).  Assignments arrive through c->on_assign during
 * rd_kafka_consumer_poll().  Returns 0 or FERRY_ECONFIG with err set. */
int sink_consumer_subscribe(sink_consumer_t *c, ferry_err_t *err) FERRY_WUR;

/* Sets slot i's next offset to stored (-1 when none is stored: the
 * beginning) and its end to the high watermark; fails like
 * sink_consumer_assign() when the broker no longer holds that offset or the
 * partition ends before it.  Returns 0, FERRY_ETRANSIENT or FERRY_EFATAL
 * with err set. */
int sink_consumer_position(sink_consumer_t *c, size_t i, int64_t stored,
                           ferry_err_t *err) FERRY_WUR;

/* Scale-out: seeks every owned slot to its next offset (after the stored
 * offsets were read again).  Returns 0 or FERRY_ETRANSIENT with err set. */
int sink_consumer_reassign(sink_consumer_t *c, ferry_err_t *err) FERRY_WUR;

/* Scale-out: makes the n slots idx (borrowed) the whole assignment, each
 * at its next offset, after an on_assign.  Returns 0, FERRY_ETRANSIENT or
 * FERRY_ENOMEM with err set. */
int sink_consumer_assign_owned(sink_consumer_t *c, const size_t *idx, size_t n,
                               ferry_err_t *err) FERRY_WUR;

/* The topic (borrowed) and partition of slot, or NULL when there is no such
 * slot.  The signature of sink_slot_topic_fn (arg is the consumer). */
const char *sink_consumer_slot_topic(void *c, int slot, int *partition);

/* Finds every partition of the topics, checks the stored offsets (map
 * "topic\x1fpartition" -> int64_t* offset, borrowed, may be empty) against
 * what the broker still holds, and assigns them.  Returns 0,
 * FERRY_ETRANSIENT (broker unreachable), or FERRY_EFATAL when the broker no
 * longer holds an offset the sink needs, with err set. */
int sink_consumer_assign(sink_consumer_t *c, const sink_map_t *stored,
                         ferry_err_t *err) FERRY_WUR;

/* Assigns every slot at its next offset (the ordered mode's manual
 * assignment; rd_kafka_assign() replaces the assignment whole).  Returns 0,
 * FERRY_ETRANSIENT or FERRY_ENOMEM with err set. */
int sink_consumer_assign_next(sink_consumer_t *c, ferry_err_t *err) FERRY_WUR;

/* Seeks every slot back to the offset last stored in the target (or the
 * beginning when none was stored), so that what was read since is read
 * again.  Returns 0 or
 * FERRY_ETRANSIENT / FERRY_ENOMEM with err set. */
int sink_consumer_rewind(sink_consumer_t *c, ferry_err_t *err) FERRY_WUR;

/* Ordered mode: looks again for the topics that did not exist when the
 * partitions were assigned; the partitions of each that exists now are
 * added as slots (from the beginning: nothing of it was ever stored) and
 * the whole assignment is renewed.  *added (may be NULL) counts the new
 * slots.  Blocking for up to 2 s per missing topic.  Returns 0,
 * FERRY_ETRANSIENT or FERRY_ENOMEM with err set. */
int sink_consumer_add_late_topics(sink_consumer_t *c, size_t *added,
                                  ferry_err_t *err) FERRY_WUR;

/* The number of topics that did not exist yet, and in *first (may be NULL)
 * the name of one (borrowed). */
size_t sink_consumer_missing(const sink_consumer_t *c, const char **first);

/* Sets every slot's end to its partition's high watermark now (before a
 * bulk load).  Blocking.  Returns 0 or FERRY_ETRANSIENT with err set. */
int sink_consumer_refresh_ends(sink_consumer_t *c, ferry_err_t *err) FERRY_WUR;

/* The slot index of a message's topic and partition, or -1. */
int sink_consumer_slot(const sink_consumer_t *c, const char *topic,
                       int32_t partition);

/* Makes list (borrowed; NULL: nothing) the whole assignment: the one
 * place that changes it.  librdkafka (up to 2.15 at least,
 * confluentinc/librdkafka#5573) can stop a partition twice, and abort,
 * when a second change comes before the first one's stops are done, so
 * changes are spaced by 250 ms (waiting out the rest here).  Returns
 * librdkafka's error code. */
rd_kafka_resp_err_t
sink_consumer_assign_list(sink_consumer_t *c,
                          const rd_kafka_topic_partition_list_t *list);

/* Frees everything; safe on a partly opened consumer. */
void sink_consumer_close(sink_consumer_t *c);

#endif
