/* The window of recently applied commit LSNs.
 * sink/sink_lsnset.c */
#include "sink_lsnset.h"

#include <stdlib.h>
#include <string.h>

void
sink_lsnset_init(sink_lsnset_t *s, size_t limit)
{
    memset(s, 0, sizeof(*s));
    s->limit = limit > 0 ? limit : 1;
}

void
sink_lsnset_free(sink_lsnset_t *s)
{
    free(s->lsn);
    s->lsn = NULL;
    s->start = s->n = s->cap = 0;
}

/* Index (from start) of the first entry >= lsn. */
static size_t
lower_bound(const sink_lsnset_t *s, uint64_t lsn)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->lsn[s->start + mid] < lsn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool
sink_lsnset_has(const sink_lsnset_t *s, uint64_t lsn)
{
    size_t i = lower_bound(s, lsn);

    return i < s->n && s->lsn[s->start + i] == lsn;
}

/* Makes room for one more entry at the end: first by moving the entries
 * down over the forgotten ones, else by growing. */
static int
make_room(sink_lsnset_t *s)
{
    size_t cap;
    uint64_t *p;

    if (s->start + s->n < s->cap)
        return 0;
    if (s->start > 0 && s->start >= s->n) {
        memmove(s->lsn, s->lsn + s->start, s->n * sizeof(*s->lsn));
        s->start = 0;
        return 0;
    }
    cap = s->cap ? s->cap * 2 : 64;
    p = realloc(s->lsn, cap * sizeof(*p));
    if (p == NULL)
        return FERRY_ENOMEM;
    s->lsn = p;
    s->cap = cap;
    return 0;
}

int
sink_lsnset_add(sink_lsnset_t *s, uint64_t lsn)
{
    size_t i = lower_bound(s, lsn);
    uint64_t *base;

    if (i < s->n && s->lsn[s->start + i] == lsn)
        return 0;
    if (i == 0 && s->n >= s->limit)
        return 0; /* older than everything kept: forgotten at once */
    if (make_room(s) != 0)
        return FERRY_ENOMEM;
    base = s->lsn + s->start;
    memmove(base + i + 1, base + i, (s->n - i) * sizeof(*base));
    base[i] = lsn;
    s->n++;
    while (s->n > s->limit) {
        s->start++;
        s->n--;
    }
    return 0;
}

uint64_t
sink_lsnset_floor(const sink_lsnset_t *s)
{
    return s->n >= s->limit ? s->lsn[s->start] : 0;
}

size_t
sink_lsnset_count(const sink_lsnset_t *s)
{
    return s->n;
}
