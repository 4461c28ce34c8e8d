/* Reading Kafka: ferry-sink's one poll of the consumer and its one policy
 * for the consumer's errors, for every mode.
 * sink/sink_intake.h
 *
 * librdkafka fetches in its own threads; what it has fetched waits in the
 * consumer's queue.  The intake asks librdkafka to write to a pipe when
 * that queue stops being empty, watches the pipe in the event loop, and
 * then takes what is there without waiting, handing each message to the
 * mode's handler with the consumer slot it came from.  The mode bounds how
 * far it reads ahead of the target with sink_intake_pause(): a paused
 * intake leaves messages in librdkafka's queue (which bounds its own
 * prefetch), and sink_intake_resume() goes on where it stopped.
 *
 * The consumer-error policy: the end of a partition is not an error; an
 * offset the broker no longer holds (out of range, or an automatic reset
 * that ferry's auto.offset.reset=error refuses) stops the sink, because
 * it never skips ahead; anything else is logged and left to librdkafka to
 * retry.  Not thread-safe: the loop's thread only.
 */
#ifndef SINK_INTAKE_H
#define SINK_INTAKE_H

#include "ferry_err.h"
#include "sink_consumer.h"
#include "sink_loop.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

typedef struct sink_intake sink_intake_t;

/* A message m (borrowed for the call) from consumer slot slot (-1: a
 * partition the consumer does not know, never passed on).  Returns 0 or an
 * error class with err set, which stops the loop. */
typedef int (*sink_msg_fn)(void *arg, const rd_kafka_message_t *m, int slot,
                           ferry_err_t *err);

/* Creates the intake of c (borrowed; opened) in loop (borrowed).  It
 * starts paused, with no handler.  Returns a new intake (free with
 * sink_intake_free(), before the consumer is closed) or NULL with err. */
sink_intake_t *sink_intake_new(sink_consumer_t *c, sink_loop_t *loop,
                               ferry_err_t *err) FERRY_WUR;

void sink_intake_free(sink_intake_t *in);

/* Hands messages to fn(arg, ...) from now on (NULL: to nobody). */
void sink_intake_set_handler(sink_intake_t *in, sink_msg_fn fn, void *arg);

/* Stops taking messages until sink_intake_resume() (also from inside the
 * handler: the message being handled is the last one). */
void sink_intake_pause(sink_intake_t *in);

/* Takes messages again: at once, from the loop. */
void sink_intake_resume(sink_intake_t *in);

/* True while paused. */
bool sink_intake_paused(const sink_intake_t *in);

/* Takes what the consumer holds now, up to max messages (0: no limit),
 * without waiting; also serves the consumer's callbacks (rebalances).
 * *got (may be NULL) counts them.  Returns 0 or an error class with err
 * set (the handler's, or the policy's). */
int sink_intake_read(sink_intake_t *in, size_t max, size_t *got,
                     ferry_err_t *err) FERRY_WUR;

/* Messages taken since the intake was created. */
unsigned long sink_intake_count(const sink_intake_t *in);

/* Whether everything fetched has been taken: librdkafka's queue is empty
 * and the intake is not paused.  The ordered mode commits a batch at once
 * then (nothing is coming to join it), and waits --max-wait for more only
 * while messages queue up: low delay when the pipeline is idle, big
 * batches under a backlog. */
bool sink_intake_idle(const sink_intake_t *in);

#endif
