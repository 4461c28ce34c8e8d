/* The dead-letter path: where ferry-sink puts what it cannot apply.
 * sink/sink_dlq.h
 *
 * A row the target rejects, a message that does not parse, a parent that
 * is missing under on_missing: error: each is recorded twice, in the
 * target's <state_schema>.errors (inside the batch's transaction, so it
 * commits with the rows) and on the dead-letter topic <prefix>.dlq, and
 * logged with its context (entity, legacy key, topic, partition, offset).
 * Nothing the sink cannot apply is dropped silently.  Dead letters must
 * reach Kafka before the offsets move past them: sink_dlq_push_flush()
 * puts a step that waits for that before the batch's COMMIT.
 *
 * A dead letter is a JSON object: reason, entity, topic, partition,
 * offset, key and value (the original message as text).  Not thread-safe:
 * the loop's thread only.
 */
#ifndef SINK_DLQ_H
#define SINK_DLQ_H

#include "ferry_err.h"
#include "map_config.h"
#include "sink_event.h"
#include "sink_target.h"

#include <stdint.h>

typedef struct sink_dlq sink_dlq_t;

/* Where a message came from: consumer slot slot's topic (borrowed) and
 * partition, or NULL when unknown. */
typedef const char *(*sink_slot_topic_fn)(void *arg, int slot, int *partition);

/* Creates the dead-letter producer for cfg (borrowed, must outlive it):
 * idempotent, uncompressed, to <prefix>.dlq, with the mapping's Kafka
 * properties.  q_state (borrowed, must outlive it) is the quoted state
 * schema.  slot_topic(arg, ...) resolves a message's slot.  Returns a new
 * path (free with sink_dlq_free()) or NULL with err set. */
sink_dlq_t *sink_dlq_new(const map_config_t *cfg, const char *q_state,
                         sink_slot_topic_fn slot_topic, void *arg,
                         ferry_err_t *err) FERRY_WUR;

/* Flushes for up to 10 s and frees the producer. */
void sink_dlq_free(sink_dlq_t *d);

/* Records ev (borrowed; must live until the step ran): pushes the INSERT
 * into <state>.errors onto t's job, produces the dead letter, and logs it.
 * entity and lkey (borrowed, copied) may be NULL; sqlstate may be NULL or
 * ""; msg is the reason.  Returns 0, FERRY_ENOMEM, or FERRY_ETRANSIENT when
 * the producer refuses the message, with err set. */
int sink_dlq_record(sink_dlq_t *d, sink_target_t *t, const char *entity,
                    const char *lkey, const sink_event_t *ev,
                    const char *sqlstate, const char *msg,
                    ferry_err_t *err) FERRY_WUR;

/* Pushes a step that waits until every dead letter produced so far is
 * acknowledged (30 s at most, then FERRY_ETRANSIENT). */
int sink_dlq_push_flush(sink_dlq_t *d, sink_target_t *t,
                        ferry_err_t *err) FERRY_WUR;

/* Dead letters recorded since the path was created. */
long sink_dlq_count(const sink_dlq_t *d);

#endif
