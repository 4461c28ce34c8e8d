/* Transaction reassembly: pieces by id, handed out in commit LSN order.
 * sink/sink_txbuf.c */
#include "sink_txbuf.h"
#include "sink_util.h"

#include <stdlib.h>
#include <string.h>

struct sink_txbuf {
    sink_map_t *by_id;  /* id -> sink_tx_t (owned through heap) */
    sink_map_t *tables; /* consumed "schema.table" -> non-NULL marker */
    sink_tx_t **heap;   /* owned: min-heap by (commit_lsn, arrival) */
    size_t n_heap;      /* transactions in the heap */
    size_t cap_heap;    /* allocated heap slots */
    size_t n_events;    /* buffered events */
};

static bool
tx_less(const sink_tx_t *a, const sink_tx_t *b)
{
    return a->commit_lsn < b->commit_lsn;
}

static void
heap_swap(sink_txbuf_t *b, size_t i, size_t j)
{
    sink_tx_t *t = b->heap[i];

    b->heap[i] = b->heap[j];
    b->heap[j] = t;
    b->heap[i]->heap_index = i;
    b->heap[j]->heap_index = j;
}

static void
heap_up(sink_txbuf_t *b, size_t i)
{
    while (i > 0 && tx_less(b->heap[i], b->heap[(i - 1) / 2])) {
        heap_swap(b, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void
heap_down(sink_txbuf_t *b, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < b->n_heap && tx_less(b->heap[l], b->heap[m]))
            m = l;
        if (r < b->n_heap && tx_less(b->heap[r], b->heap[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(b, i, m);
        i = m;
    }
}

sink_txbuf_t *
sink_txbuf_new(const char *const *tables, size_t n_tables)
{
    sink_txbuf_t *b = calloc(1, sizeof(*b));
    size_t i;

    if (b == NULL)
        return NULL;
    b->by_id = sink_map_new();
    b->tables = sink_map_new();
    if (b->by_id == NULL || b->tables == NULL)
        goto fail;
    for (i = 0; i < n_tables; i++)
        if (sink_map_put(b->tables, tables[i], b) != 0)
            goto fail;
    return b;
fail:
    sink_txbuf_free(b);
    return NULL;
}

void
sink_tx_free(sink_tx_t *tx)
{
    size_t i;

    if (tx == NULL)
        return;
    for (i = 0; i < tx->n_events; i++)
        sink_event_free(tx->events[i]);
    free(tx->events);
    free(tx->id);
    free(tx->seen);
    free(tx);
}

int
sink_tx_loose_add(sink_tx_t **loose, sink_event_t *ev)
{
    sink_tx_t *tx = *loose;

    if (tx == NULL) {
        if ((tx = calloc(1, sizeof(*tx))) == NULL)
            return FERRY_ENOMEM;
        tx->expected = -1;
        tx->begin_pos.slot = -1;
        tx->end_pos.slot = -1;
        *loose = tx;
    }
    if (tx->n_events == tx->cap_events) {
        size_t cap = tx->cap_events ? tx->cap_events * 2 : 1024;
        sink_event_t **grown = realloc(tx->events, cap * sizeof(*grown));

        if (grown == NULL)
            return FERRY_ENOMEM;
        tx->events = grown;
        tx->cap_events = cap;
    }
    if (tx->ts_ms == 0)
        tx->ts_ms = ev->ts_ms;
    tx->events[tx->n_events++] = ev;
    return 0;
}

void
sink_txbuf_free(sink_txbuf_t *b)
{
    size_t i;

    if (b == NULL)
        return;
    for (i = 0; i < b->n_heap; i++)
        sink_tx_free(b->heap[i]);
    free(b->heap);
    sink_map_free(b->by_id);
    sink_map_free(b->tables);
    free(b);
}

static sink_tx_t *
tx_new(sink_txbuf_t *b, const char *id, uint64_t commit_lsn)
{
    sink_tx_t *tx = calloc(1, sizeof(*tx));

    if (tx == NULL)
        return NULL;
    tx->commit_lsn = commit_lsn;
    tx->expected = -1;
    tx->begin_pos.slot = tx->end_pos.slot = -1;
    if (id != NULL) {
        tx->id = strdup(id);
        if (tx->id == NULL || sink_map_put(b->by_id, id, tx) != 0)
            goto fail;
    }
    if (b->n_heap == b->cap_heap) {
        size_t cap = b->cap_heap ? b->cap_heap * 2 : 64;
        sink_tx_t **h = realloc(b->heap, cap * sizeof(*h));

        if (h == NULL)
            goto fail;
        b->heap = h;
        b->cap_heap = cap;
    }
    tx->heap_index = b->n_heap;
    b->heap[b->n_heap++] = tx;
    heap_up(b, tx->heap_index);
    return tx;
fail:
    if (id != NULL && tx->id != NULL)
        sink_map_del(b->by_id, id);
    free(tx->id);
    free(tx);
    return NULL;
}

static sink_tx_t *
tx_get(sink_txbuf_t *b, const char *id, uint64_t commit_lsn)
{
    sink_tx_t *tx = sink_map_get(b->by_id, id);

    return tx != NULL ? tx : tx_new(b, id, commit_lsn);
}

int
sink_txbuf_add_event(sink_txbuf_t *b, sink_event_t *ev)
{
    sink_tx_t *tx;
    uint64_t lsn = ev->op == 'X' ? 0 : ev->pair.commit;

    if (ev->txid != NULL)
        tx = tx_get(b, ev->txid, lsn);
    else
        tx = tx_new(b, NULL, lsn);
    if (tx == NULL)
        goto fail;
    if (tx->n_events == tx->cap_events) {
        size_t cap = tx->cap_events ? tx->cap_events * 2 : 8;
        sink_event_t **e = realloc(tx->events, cap * sizeof(*e));

        if (e == NULL)
            goto fail;
        tx->events = e;
        tx->cap_events = cap;
    }
    if (tx->ts_ms == 0)
        tx->ts_ms = ev->ts_ms;
    tx->events[tx->n_events++] = ev;
    b->n_events++;
    return 0;
fail:
    sink_event_free(ev);
    return FERRY_ENOMEM;
}

int
sink_txbuf_add_txmsg(sink_txbuf_t *b, const sink_txmsg_t *m, sink_pos_t pos)
{
    sink_tx_t *tx = tx_get(b, m->id, m->commit_lsn);
    size_t i;

    if (tx == NULL)
        return FERRY_ENOMEM;
    if (!m->end) {
        if (tx->begin_pos.slot < 0)
            tx->begin_pos = pos;
        return 0;
    }
    if (tx->end_pos.slot < 0)
        tx->end_pos = pos;
    tx->expected = 0;
    for (i = 0; i < m->n; i++)
        if (sink_map_get(b->tables, m->collections[i]) != NULL)
            tx->expected += m->counts[i];
    return 0;
}

static int
cmp_event(const void *a, const void *b)
{
    const sink_event_t *x = *(sink_event_t *const *)a;
    const sink_event_t *y = *(sink_event_t *const *)b;

    if (x->total_order != y->total_order)
        return x->total_order < y->total_order ? -1 : 1;
    if (x->pos.slot != y->pos.slot)
        return x->pos.slot < y->pos.slot ? -1 : 1;
    return x->pos.offset < y->pos.offset ? -1 : x->pos.offset > y->pos.offset;
}

/* Sorts the events by total_order and drops repeated ones (ferry-cdc sends
 * some events again after a restart); returns the distinct count. */
static size_t
dedupe(sink_txbuf_t *b, sink_tx_t *tx)
{
    size_t i, n = 0;

    if (tx->n_events == 0)
        return 0;
    qsort(tx->events, tx->n_events, sizeof(*tx->events), cmp_event);
    for (i = 0; i < tx->n_events; i++) {
        if (n > 0 && tx->id != NULL &&
            tx->events[i]->total_order == tx->events[n - 1]->total_order) {
            sink_event_free(tx->events[i]);
            b->n_events--;
            continue;
        }
        tx->events[n++] = tx->events[i];
    }
    tx->n_events = n;
    return n;
}

static bool
tx_complete(sink_txbuf_t *b, sink_tx_t *tx)
{
    if (tx->id == NULL)
        return true;
    if (tx->spilling)
        return tx->expected >= 0 && tx->n_events == 0 &&
               tx->spilled >= tx->expected;
    if (tx->expected < 0 || (long)tx->n_events < tx->expected)
        return false;
    return (long)dedupe(b, tx) >= tx->expected;
}

sink_tx_t *
sink_txbuf_pop(sink_txbuf_t *b)
{
    sink_tx_t *tx;

    if (b->n_heap == 0 || !tx_complete(b, b->heap[0]))
        return NULL;
    tx = b->heap[0];
    heap_swap(b, 0, b->n_heap - 1);
    b->n_heap--;
    if (b->n_heap > 0)
        heap_down(b, 0);
    if (tx->id != NULL)
        sink_map_del(b->by_id, tx->id);
    b->n_events -= tx->n_events;
    if (tx->id == NULL)
        dedupe(b, tx);
    return tx;
}

bool
sink_txbuf_front_ready(sink_txbuf_t *b)
{
    return b->n_heap > 0 && tx_complete(b, b->heap[0]);
}

sink_tx_t *
sink_txbuf_front(sink_txbuf_t *b)
{
    return b->n_heap > 0 ? b->heap[0] : NULL;
}

/* Marks total_order t as taken; false when it was taken before.  Orders
 * outside any sane range are never treated as repeats. */
static bool
mark_seen(sink_tx_t *tx, long t, bool *oom)
{
    size_t byte;

    if (t <= 0 || t > (1L << 32))
        return true;
    byte = (size_t)t / 8;
    if (byte >= tx->seen_len) {
        size_t len = tx->seen_len ? tx->seen_len : 1024;
        uint8_t *p;

        while (len <= byte)
            len *= 2;
        p = realloc(tx->seen, len);
        if (p == NULL) {
            *oom = true;
            return false;
        }
        memset(p + tx->seen_len, 0, len - tx->seen_len);
        tx->seen = p;
        tx->seen_len = len;
    }
    if (tx->seen[byte] & (1u << (t % 8)))
        return false;
    tx->seen[byte] |= (uint8_t)(1u << (t % 8));
    return true;
}

int
sink_txbuf_take(sink_txbuf_t *b, sink_tx_t *tx, sink_event_t ***out, size_t *n)
{
    sink_event_t **grown;
    size_t i;
    bool oom = false;

    grown = realloc(*out, (*n + tx->n_events + 1) * sizeof(**out));
    if (grown == NULL)
        return FERRY_ENOMEM;
    *out = grown;
    tx->spilling = true;
    for (i = 0; i < tx->n_events; i++) {
        sink_event_t *ev = tx->events[i];

        if (mark_seen(tx, ev->total_order, &oom)) {
            (*out)[(*n)++] = ev;
            tx->spilled++;
        } else if (oom) {
            /* Keep the rest buffered; the caller stops on the error. */
            memmove(tx->events, tx->events + i,
                    (tx->n_events - i) * sizeof(*tx->events));
            b->n_events -= i;
            tx->n_events -= i;
            return FERRY_ENOMEM;
        } else {
            sink_event_free(ev);
        }
    }
    b->n_events -= tx->n_events;
    tx->n_events = 0;
    return 0;
}

const sink_tx_t *
sink_txbuf_peek(const sink_txbuf_t *b)
{
    return b->n_heap > 0 ? b->heap[0] : NULL;
}

size_t
sink_txbuf_count(const sink_txbuf_t *b)
{
    return b->n_heap;
}

size_t
sink_txbuf_events(const sink_txbuf_t *b)
{
    return b->n_events;
}

static void
lower(int64_t *min_offset, size_t n_slots, sink_pos_t pos)
{
    if (pos.slot >= 0 && (size_t)pos.slot < n_slots &&
        pos.offset < min_offset[pos.slot])
        min_offset[pos.slot] = pos.offset;
}

int64_t
sink_tx_commit_ts(const sink_tx_t *tx)
{
    return tx != NULL ? tx->ts_ms : 0;
}

void
sink_tx_min_offsets(const sink_tx_t *tx, int64_t *min_offset, size_t n_slots)
{
    size_t j;

    lower(min_offset, n_slots, tx->begin_pos);
    lower(min_offset, n_slots, tx->end_pos);
    for (j = 0; j < tx->n_events; j++)
        lower(min_offset, n_slots, tx->events[j]->pos);
}

void
sink_txbuf_min_offsets(const sink_txbuf_t *b, int64_t *min_offset,
                       size_t n_slots)
{
    size_t i;

    for (i = 0; i < b->n_heap; i++)
        sink_tx_min_offsets(b->heap[i], min_offset, n_slots);
}
