/* Tracks messages in flight to Kafka and the LSN that is safe to confirm.
 * cdc/cdc_lsnwin.c */
#include "cdc_lsnwin.h"

#include <stdlib.h>

typedef struct commit_point {
    uint64_t next_seq; /* confirmable once every seq below it is acked */
    uint64_t lsn;      /* the commit's end LSN */
} commit_point_t;

struct cdc_lsnwin {
    size_t capacity;         /* ring size: messages in flight at most */
    unsigned char *acked;    /* ring of flags, indexed by seq % capacity */
    uint64_t low;            /* lowest seq not yet acknowledged */
    uint64_t next;           /* next seq to hand out */
    commit_point_t *commits; /* ring of pending commit points */
    size_t ncommits;         /* pending commit points */
    size_t chead;            /* index of the oldest pending commit point */
    uint64_t confirmed;      /* highest LSN known to be safe */
};

cdc_lsnwin_t *
cdc_lsnwin_new(size_t capacity, uint64_t start_lsn)
{
    cdc_lsnwin_t *w = calloc(1, sizeof(*w));

    if (w == NULL || capacity == 0)
        goto fail;
    w->capacity = capacity;
    w->acked = calloc(capacity, 1);
    /* One commit point per message at most, plus one with no message. */
    w->commits = calloc(capacity + 1, sizeof(*w->commits));
    if (w->acked == NULL || w->commits == NULL)
        goto fail;
    w->confirmed = start_lsn;
    return w;

fail:
    cdc_lsnwin_destroy(w);
    return NULL;
}

void
cdc_lsnwin_destroy(cdc_lsnwin_t *w)
{
    if (w == NULL)
        return;
    free(w->acked);
    free(w->commits);
    free(w);
}

void
cdc_lsnwin_set_start(cdc_lsnwin_t *w, uint64_t start_lsn)
{
    if (w->ncommits == 0)
        w->confirmed = start_lsn;
}

bool
cdc_lsnwin_full(const cdc_lsnwin_t *w)
{
    return w->next - w->low >= w->capacity;
}

uint64_t
cdc_lsnwin_add(cdc_lsnwin_t *w)
{
    uint64_t seq = w->next++;

    w->acked[seq % w->capacity] = 0;
    return seq;
}

void
cdc_lsnwin_unadd(cdc_lsnwin_t *w, uint64_t seq)
{
    if (seq + 1 == w->next)
        w->next = seq;
}

static commit_point_t *
commit_at(cdc_lsnwin_t *w, size_t i)
{
    return &w->commits[(w->chead + i) % (w->capacity + 1)];
}

void
cdc_lsnwin_commit(cdc_lsnwin_t *w, uint64_t lsn)
{
    commit_point_t *last;

    if (w->ncommits > 0) {
        last = commit_at(w, w->ncommits - 1);
        if (last->next_seq == w->next) {
            /* No message since the last commit point: move it forward. */
            if (lsn > last->lsn)
                last->lsn = lsn;
            return;
        }
    }
    if (w->next == w->low) {
        /* Nothing in flight: safe at once. */
        if (lsn > w->confirmed)
            w->confirmed = lsn;
        return;
    }
    last = commit_at(w, w->ncommits++);
    last->next_seq = w->next;
    last->lsn = lsn;
}

void
cdc_lsnwin_ack(cdc_lsnwin_t *w, uint64_t seq)
{
    if (seq < w->low || seq >= w->next)
        return; /* a duplicate report; nothing to do */
    w->acked[seq % w->capacity] = 1;
    while (w->low < w->next && w->acked[w->low % w->capacity])
        w->low++;
}

uint64_t
cdc_lsnwin_confirmable(cdc_lsnwin_t *w)
{
    while (w->ncommits > 0) {
        commit_point_t *c = commit_at(w, 0);

        if (c->next_seq > w->low)
            break;
        if (c->lsn > w->confirmed)
            w->confirmed = c->lsn;
        w->chead = (w->chead + 1) % (w->capacity + 1);
        w->ncommits--;
    }
    return w->confirmed;
}

uint64_t
cdc_lsnwin_next_seq(const cdc_lsnwin_t *w)
{
    return w->next;
}

bool
cdc_lsnwin_acked_before(const cdc_lsnwin_t *w, uint64_t mark)
{
    return w->low >= mark;
}

size_t
cdc_lsnwin_inflight(const cdc_lsnwin_t *w)
{
    return (size_t)(w->next - w->low);
}
