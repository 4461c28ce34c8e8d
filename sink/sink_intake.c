/* Reading Kafka in the event loop.
 * sink/sink_intake.c */
#include "sink_intake.h"

#include "ferry_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sink_intake {
    sink_consumer_t *c;      /* borrowed */
    sink_loop_t *loop;       /* borrowed */
    rd_kafka_queue_t *queue; /* owned reference: the consumer's queue */
    int pipe_r, pipe_w;      /* owned: librdkafka writes to pipe_w */
    sink_msg_fn fn;          /* the mode's handler */
    void *arg;               /* borrowed: its argument */
    bool paused;             /* the mode asked for a pause */
    sink_timer_id_t resume;  /* the pending read after a resume */
    unsigned long count;     /* messages taken */
};

/* Drains the pipe: its bytes only say "the queue was empty, and is not". */
static void
drain_pipe(sink_intake_t *in)
{
    char buf[64];

    while (read(in->pipe_r, buf, sizeof(buf)) > 0)
        ;
}

/* Messages taken per turn of the loop: the target's results are served in
 * between. */
#define TURN 1024

static int resumed(void *arg, ferry_err_t *err);

/* Takes a turn's worth; when there may be more, the next turn goes on
 * (librdkafka signals only a queue that was empty). */
static int
take_turn(sink_intake_t *in, ferry_err_t *err)
{
    size_t got = 0;
    int rc = sink_intake_read(in, TURN, &got, err);

    if (rc == 0 && got == TURN && !in->paused && in->resume == 0)
        in->resume = sink_loop_after(in->loop, 0, resumed, in);
    return rc;
}

static int
readable(void *arg, int revents, ferry_err_t *err)
{
    sink_intake_t *in = arg;

    (void)revents;
    drain_pipe(in);
    return in->paused ? 0 : take_turn(in, err);
}

sink_intake_t *
sink_intake_new(sink_consumer_t *c, sink_loop_t *loop, ferry_err_t *err)
{
    sink_intake_t *in = calloc(1, sizeof(*in));
    int fds[2] = {-1, -1};

    if (in == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory creating the Kafka intake");
        return NULL;
    }
    in->c = c;
    in->loop = loop;
    in->paused = true;
    in->pipe_r = in->pipe_w = -1;
    if (pipe(fds) != 0) {
        ferry_err_set(err, FERRY_EFATAL, "could not create a pipe: %s",
                      strerror(errno));
        goto fail;
    }
    in->pipe_r = fds[0];
    in->pipe_w = fds[1];
    if (fcntl(in->pipe_r, F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(in->pipe_w, F_SETFL, O_NONBLOCK) != 0) {
        ferry_err_set(err, FERRY_EFATAL, "could not set up a pipe: %s",
                      strerror(errno));
        goto fail;
    }
    /* Everything the consumer serves (rebalances, errors, logs) goes
     * through its queue, the one the loop watches. */
    rd_kafka_poll_set_consumer(c->rk);
    in->queue = rd_kafka_queue_get_consumer(c->rk);
    if (in->queue == NULL) {
        ferry_err_set(err, FERRY_EFATAL, "the Kafka consumer has no queue");
        goto fail;
    }
    rd_kafka_queue_io_event_enable(in->queue, in->pipe_w, "1", 1);
    if (sink_loop_watch(loop, in->pipe_r, POLLIN, readable, in) != 0) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory creating the Kafka intake");
        goto fail;
    }
    return in;
fail:
    sink_intake_free(in);
    return NULL;
}

void
sink_intake_free(sink_intake_t *in)
{
    if (in == NULL)
        return;
    sink_loop_cancel(in->loop, in->resume);
    if (in->queue != NULL) {
        rd_kafka_queue_io_event_enable(in->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(in->queue);
    }
    if (in->pipe_r >= 0) {
        sink_loop_unwatch(in->loop, in->pipe_r);
        close(in->pipe_r);
    }
    if (in->pipe_w >= 0)
        close(in->pipe_w);
    free(in);
}

void
sink_intake_set_handler(sink_intake_t *in, sink_msg_fn fn, void *arg)
{
    in->fn = fn;
    in->arg = arg;
}

void
sink_intake_pause(sink_intake_t *in)
{
    in->paused = true;
}

static int
resumed(void *arg, ferry_err_t *err)
{
    sink_intake_t *in = arg;

    in->resume = 0;
    return in->paused ? 0 : take_turn(in, err);
}

void
sink_intake_resume(sink_intake_t *in)
{
    if (!in->paused)
        return;
    in->paused = false;
    /* librdkafka signals only a queue that was empty: what is there now
     * is taken from the loop, at the next turn. */
    if (in->resume == 0)
        in->resume = sink_loop_after(in->loop, 0, resumed, in);
}

bool
sink_intake_paused(const sink_intake_t *in)
{
    return in->paused;
}

unsigned long
sink_intake_count(const sink_intake_t *in)
{
    return in->count;
}

bool
sink_intake_idle(const sink_intake_t *in)
{
    return !in->paused && rd_kafka_queue_length(in->queue) == 0;
}

/* The consumer-error policy. */
static int
consumer_error(sink_intake_t *in, const rd_kafka_message_t *m, int slot,
               ferry_err_t *err)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return 0;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
        return ferry_err_set(
            err, FERRY_EFATAL,
            "cannot read topic \"%s\" partition %d at offset %" PRId64
            ": the broker no longer holds it (%s); the sink never skips "
            "ahead, rebuild the target",
            slot >= 0        ? in->c->slots[slot].topic
            : m->rkt != NULL ? rd_kafka_topic_name(m->rkt)
                             : "?",
            (int)m->partition, slot >= 0 ? in->c->slots[slot].next : m->offset,
            rd_kafka_message_errstr(m));
    ferry_warn("Kafka consumer: %s (retrying)", rd_kafka_message_errstr(m));
    return 0;
}

int
sink_intake_read(sink_intake_t *in, size_t max, size_t *got, ferry_err_t *err)
{
    size_t n = 0;
    int rc = 0;

    while (rc == 0 && !in->paused && (max == 0 || n < max)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->c->rk, 0);
        int slot;

        if (m == NULL)
            break;
        slot = m->rkt != NULL
                   ? sink_consumer_slot(in->c, rd_kafka_topic_name(m->rkt),
                                        m->partition)
                   : -1;
        if (m->err != 0)
            rc = consumer_error(in, m, slot, err);
        else if (slot >= 0 && in->fn != NULL) {
            n++;
            in->count++;
            rc = in->fn(in->arg, m, slot, err);
        }
        rd_kafka_message_destroy(m);
        /* A rebalance served by the poll may have failed. */
        if (rc == 0 && in->c->failed)
            rc = ferry_err_set(err, in->c->failed, "%s", in->c->failure.msg);
    }
    if (got != NULL)
        *got = n;
    return rc;
}
