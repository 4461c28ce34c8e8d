/* The list of diagnostics the parser and the check fill.
 * mapping/map_diag.c */
#include "map_diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void
map_diags_init(map_diags_t *diags)
{
    memset(diags, 0, sizeof(*diags));
}

void
map_diags_free(map_diags_t *diags)
{
    for (size_t i = 0; i < diags->n; i++) {
        free(diags->items[i].file);
        free(diags->items[i].path);
        free(diags->items[i].msg);
        free(diags->items[i].hint);
    }
    free(diags->items);
    map_diags_init(diags);
}

static char *vformat(const char *fmt, va_list ap) FERRY_PRINTF(1, 0);

static char *
vformat(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

map_diag_t *
map_diags_add(map_diags_t *diags, const char *file, map_pos_t pos,
              const char *path, const char *fmt, ...)
{
    map_diag_t d = {.pos = pos};
    va_list ap;

    if (diags->n == diags->cap) {
        size_t cap = diags->cap ? diags->cap * 2 : 16;
        map_diag_t *items = realloc(diags->items, cap * sizeof(*items));

        if (items == NULL)
            goto oom;
        diags->items = items;
        diags->cap = cap;
    }
    va_start(ap, fmt);
    d.msg = vformat(fmt, ap);
    va_end(ap);
    d.file = file ? strdup(file) : NULL;
    d.path = strdup(path ? path : "");
    if (d.msg == NULL || d.path == NULL || (file && d.file == NULL))
        goto oom;
    diags->items[diags->n] = d;
    return &diags->items[diags->n++];

oom:
    free(d.msg);
    free(d.file);
    free(d.path);
    diags->oom = true;
    return NULL;
}

void
map_diag_hint(map_diag_t *d, const char *fmt, ...)
{
    va_list ap;

    if (d == NULL)
        return;
    free(d->hint);
    va_start(ap, fmt);
    d->hint = vformat(fmt, ap);
    va_end(ap);
}

void
map_diags_print(const map_diags_t *diags, FILE *out)
{
    for (size_t i = 0; i < diags->n; i++) {
        const map_diag_t *d = &diags->items[i];

        if (d->file)
            fprintf(out, "%s:", d->file);
        if (d->pos.line > 0)
            fprintf(out, "%d:%d:", d->pos.line, d->pos.column);
        if (d->file || d->pos.line > 0)
            fputc(' ', out);
        if (d->path[0])
            fprintf(out, "%s: ", d->path);
        fprintf(out, "%s\n", d->msg);
        if (d->hint)
            fprintf(out, "    hint: %s\n", d->hint);
    }
    if (diags->oom)
        fprintf(out, "(some diagnostics were lost: out of memory)\n");
}
