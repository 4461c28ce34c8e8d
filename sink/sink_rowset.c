/* The rows of one entity in a batch, one per legacy key.
 * sink/sink_rowset.c */
#include "sink_rowset.h"

#include <stdlib.h>
#include <string.h>

int
sink_rowset_add(rowset_t *s, sink_row_t *row, bool soft)
{
    uintptr_t at = (uintptr_t)sink_map_get(s->index, row->lkey);

    if (at != 0) {
        /* An older event of the key (a parked row drained next to a newer
         * one) would be stale on its own: it never overwrites. */
        if (sink_pair_cmp(row->pair, s->rows[at - 1].pair) < 0)
            return 0;
        sink_row_merge(&s->rows[at - 1], row, soft);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        sink_row_t *r = realloc(s->rows, cap * sizeof(*r));

        if (r == NULL)
            return FERRY_ENOMEM;
        s->rows = r;
        s->cap = cap;
    }
    if (sink_map_put(s->index, row->lkey, (void *)(uintptr_t)(s->n + 1)))
        return FERRY_ENOMEM;
    s->rows[s->n++] = *row;
    memset(row, 0, sizeof(*row));
    return 0;
}

void
sink_rowset_clear(rowset_t *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        sink_row_clear(&s->rows[i]);
    s->n = 0;
    if (s->index != NULL && sink_map_count(s->index) > 0) {
        sink_map_free(s->index);
        s->index = sink_map_new();
    }
}

void
sink_rowset_free(rowset_t *s)
{
    sink_rowset_clear(s);
    free(s->rows);
    sink_map_free(s->index);
    memset(s, 0, sizeof(*s));
}
