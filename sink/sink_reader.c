/* The reader thread: consumer poll and event parsing ahead of the applier.
 * sink/sink_reader.c */
#include "sink_reader.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sink_reader {
    sink_consumer_t *c;       /* borrowed */
    pthread_t thread;         /* the reader */
    pthread_mutex_t mu;       /* guards everything below */
    pthread_cond_t not_empty; /* signalled when an item is queued */
    pthread_cond_t not_full;  /* signalled when an item is taken */
    sink_item_t **ring;       /* owned: queued items */
    size_t cap;               /* ring slots */
    size_t head;              /* next item to take */
    size_t n;                 /* items queued */
    bool stop;                /* set by sink_reader_free() */
};

void
sink_item_free(sink_item_t *it)
{
    if (it == NULL)
        return;
    sink_event_free(it->ev);
    free(it->errstr);
    free(it->payload);
    free(it->key);
    free(it);
}

static char *
copy_bytes(const void *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s != NULL) {
        if (len > 0)
            memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Turns a consumer message into an item; NULL when out of memory. */
static sink_item_t *
make_item(sink_reader_t *r, const rd_kafka_message_t *m)
{
    sink_item_t *it = calloc(1, sizeof(*it));
    const char *topic = m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : NULL;
    sink_pos_t pos;

    if (it == NULL)
        return NULL;
    it->slot =
        topic != NULL ? sink_consumer_slot(r->c, topic, m->partition) : -1;
    it->offset = m->offset;
    it->partition = m->partition;
    it->err = m->err;
    if (m->err != 0) {
        if ((it->errstr = strdup(rd_kafka_message_errstr(m))) == NULL)
            goto fail;
        return it;
    }
    if (it->slot < 0)
        return it;
    if (r->c->slots[it->slot].is_tx) {
        it->payload = copy_bytes(m->payload, m->payload ? m->len : 0);
        it->len = m->payload ? m->len : 0;
        it->key = m->key != NULL ? copy_bytes(m->key, m->key_len) : NULL;
        it->klen = m->key_len;
        if (it->payload == NULL || (m->key != NULL && it->key == NULL))
            goto fail;
        return it;
    }
    if (m->payload == NULL) {
        it->tombstone = true;
        return it;
    }
    pos.slot = it->slot;
    pos.offset = m->offset;
    /* A malformed message still gives an event (op 'X'), passed on. */
    if (sink_event_parse(m->key, m->key_len, m->payload, m->len, pos,
                         &it->ev) == FERRY_ENOMEM)
        goto fail;
    if (it->ev == NULL)
        goto fail;
    return it;
fail:
    sink_item_free(it);
    return NULL;
}

static void *
reader_main(void *arg)
{
    sink_reader_t *r = arg;

    for (;;) {
        rd_kafka_message_t *m;
        sink_item_t *it;

        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->n == r->cap)
            pthread_cond_wait(&r->not_full, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        pthread_mutex_unlock(&r->mu);
        m = rd_kafka_consumer_poll(r->c->rk, 100);
        if (m == NULL)
            continue;
        it = make_item(r, m);
        rd_kafka_message_destroy(m);
        while (it == NULL) {
            /* Out of memory: pass the failure on (the main thread stops
             * without storing an offset past this message). */
            struct timespec ts = {0, 50000000L};

            if ((it = calloc(1, sizeof(*it))) != NULL) {
                it->slot = -1;
                it->oom = true;
            } else {
                nanosleep(&ts, NULL);
            }
        }
        pthread_mutex_lock(&r->mu);
        r->ring[(r->head + r->n) % r->cap] = it;
        r->n++;
        pthread_cond_signal(&r->not_empty);
        pthread_mutex_unlock(&r->mu);
    }
}

sink_reader_t *
sink_reader_start(sink_consumer_t *c, size_t cap)
{
    sink_reader_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->c = c;
    r->cap = cap > 0 ? cap : 1;
    r->ring = calloc(r->cap, sizeof(*r->ring));
    if (r->ring == NULL) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->not_empty, NULL);
    pthread_cond_init(&r->not_full, NULL);
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->not_empty);
        pthread_cond_destroy(&r->not_full);
        free(r->ring);
        free(r);
        return NULL;
    }
    return r;
}

sink_item_t *
sink_reader_next(sink_reader_t *r, int timeout_ms)
{
    struct timespec until;
    sink_item_t *it = NULL;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->n == 0)
        if (pthread_cond_timedwait(&r->not_empty, &r->mu, &until) == ETIMEDOUT)
            break;
    if (r->n > 0) {
        it = r->ring[r->head];
        r->ring[r->head] = NULL;
        r->head = (r->head + 1) % r->cap;
        r->n--;
        pthread_cond_signal(&r->not_full);
    }
    pthread_mutex_unlock(&r->mu);
    return it;
}

void
sink_reader_free(sink_reader_t *r)
{
    size_t i;

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->not_full);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (i = 0; i < r->n; i++)
        sink_item_free(r->ring[(r->head + i) % r->cap]);
    free(r->ring);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->not_empty);
    pthread_cond_destroy(&r->not_full);
    free(r);
}
