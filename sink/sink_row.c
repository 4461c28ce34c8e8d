/* The value pipeline and UUID resolution of one row.
 * sink/sink_row.c */
#include "sink_row.h"

#include "map_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sink_row_uuid(const sink_uuidctx_t *ctx, const char *entity, const char *lkey,
              char *out)
{
    map_uuid_t u;

    if (ctx->imported != NULL && sink_map_count(ctx->imported) > 0) {
        char *k = malloc(strlen(entity) + strlen(lkey) + 2);
        const char *hit;

        if (k == NULL)
            return FERRY_ENOMEM;
        snprintf(k, strlen(entity) + strlen(lkey) + 2, "%s\x1f%s", entity,
                 lkey);
        hit = sink_map_get(ctx->imported, k);
        free(k);
        if (hit != NULL) {
            snprintf(out, MAP_UUID_STRLEN, "%s", hit);
            return 0;
        }
    }
    if (map_uuid_entity(&ctx->ns, entity, lkey, &u) != 0)
        return FERRY_ENOMEM;
    map_uuid_format(&u, out);
    return 0;
}

static bool
is_absent(const sink_event_t *ev, const char *col)
{
    return ev->absent.n > 0 && sink_image_get(&ev->absent, col, 0) != NULL;
}

/* The text of source column col of the row image img into *out (borrowed
 * from the event, NULL for SQL NULL); hint is where col usually is. */
static int
source_text(const sink_image_t *img, const char *col, size_t hint,
            const char **out, ferry_err_t *err)
{
    const sink_field_t *f = sink_image_get(img, col, hint);

    *out = NULL;
    /* Absent is not NULL: the source no longer sends the column (dropped
     * or renamed).  Writing NULL would lose the value for good; the
     * caller stops with the mapping change to make. */
    if (f == NULL)
        return ferry_err_set(err, FERRY_ESCHEMA,
                             "source column \"%s\" is missing from the "
                             "change",
                             col);
    if (f->kind == FERRY_JSON_OBJECT || f->kind == FERRY_JSON_ARRAY)
        return ferry_err_set(err, FERRY_EDATA,
                             "source column \"%s\" holds a JSON object or "
                             "array",
                             col);
    *out = f->text;
    return 0;
}

static int
build_key(const sink_uuidctx_t *ctx, const map_entity_t *e,
          const sink_event_t *ev, sink_row_t *row, ferry_err_t *err)
{
    const sink_image_t *img = ev->op == 'd' ? &ev->before : &ev->after;
    size_t i, n = e->n_key;
    int rc;

    if (n == 0) {
        if (ev->key.n == 0)
            return ferry_err_set(err, FERRY_EDATA,
                                 "message has no key and the entity names "
                                 "no key columns");
        n = ev->key.n;
    }
    row->keyvals = calloc(n, sizeof(*row->keyvals));
    if (row->keyvals == NULL)
        return FERRY_ENOMEM;
    row->n_key = n;
    for (i = 0; i < n; i++) {
        const char *t = NULL;

        if (e->n_key > 0) {
            if ((rc = source_text(img, e->key[i], i, &t, err)) != 0)
                return rc;
        } else if (ev->key.f[i].kind != FERRY_JSON_OBJECT &&
                   ev->key.f[i].kind != FERRY_JSON_ARRAY) {
            t = ev->key.f[i].text;
        }
        if (t == NULL)
            return ferry_err_set(err, FERRY_EDATA, "a key column is NULL");
        row->keyvals[i] = t;
    }
    row->lkey = map_rules_legacy_key(row->keyvals, n);
    if (row->lkey == NULL)
        return FERRY_ENOMEM;
    return sink_row_uuid(ctx, e->name, row->lkey, row->uuid);
}

/* The parent entity of ref column c for this row, or NULL for a NULL
 * reference; sets *nocase for a discriminator value without a case. */
static const char *
ref_target(const map_column_t *c, const sink_image_t *img, bool *nocase)
{
    const sink_field_t *f;
    size_t i;

    *nocase = false;
    if (c->kind == MAP_COLUMN_REF)
        return c->ref;
    f = sink_image_get(img, c->discriminator, 0);
    if (f == NULL || f->text == NULL)
        return NULL;
    for (i = 0; i < c->n_cases; i++)
        if (strcmp(c->cases[i].value, f->text) == 0)
            return c->cases[i].entity;
    *nocase = true;
    return NULL;
}

static int
build_ref(const sink_uuidctx_t *ctx, const map_column_t *c,
          const sink_event_t *ev, sink_row_t *row, size_t ci, ferry_err_t *err)
{
    const char *vals[16];
    size_t i, n = c->n_from < 16 ? c->n_from : 16;
    bool nocase;
    const char *parent;
    char *lkey, *uuid;
    int rc = 0;

    if (c->kind == MAP_COLUMN_COND_REF) {
        /* An unchanged discriminator keeps the ref as it is; a missing one
         * is a column the source no longer has. */
        if (is_absent(ev, c->discriminator)) {
            row->absent[ci] = true;
            return 0;
        }
        if (sink_image_get(&ev->after, c->discriminator, 0) == NULL)
            return ferry_err_set(err, FERRY_ESCHEMA,
                                 "source column \"%s\" is missing from the "
                                 "change",
                                 c->discriminator);
    }
    parent = ref_target(c, &ev->after, &nocase);
    if (nocase) {
        if (c->on_missing == MAP_ON_MISSING_ERROR)
            return ferry_err_set(err, FERRY_EDATA,
                                 "column \"%s\": discriminator value has no "
                                 "case",
                                 c->name);
        if (c->on_missing == MAP_ON_MISSING_PARK)
            row->park_entity = "";
        return 0;
    }
    if (parent == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        if (is_absent(ev, c->from[i])) {
            row->absent[ci] = true;
            return 0;
        }
        if ((rc = source_text(&ev->after, c->from[i], ci, &vals[i], err)) != 0)
            return rc;
        if (vals[i] == NULL)
            return 0;
    }
    if ((lkey = map_rules_legacy_key(vals, n)) == NULL)
        return FERRY_ENOMEM;
    uuid = malloc(MAP_UUID_STRLEN);
    rc = uuid == NULL ? FERRY_ENOMEM : sink_row_uuid(ctx, parent, lkey, uuid);
    row->vals[ci] = uuid;
    row->owned[ci] = uuid != NULL;
    free(lkey);
    row->ref_entity[ci] = parent;
    return rc;
}

static int
build_columns(const sink_uuidctx_t *ctx, const map_entity_t *e,
              const sink_event_t *ev, sink_row_t *row, ferry_err_t *err)
{
    size_t i;
    int rc;

    for (i = 0; i < e->n_columns; i++) {
        const map_column_t *c = &e->columns[i];
        const char *src = NULL;
        char *val;

        if (c->kind != MAP_COLUMN_COPY) {
            if ((rc = build_ref(ctx, c, ev, row, i, err)) != 0)
                return rc;
            continue;
        }
        if (c->n_from > 0 && is_absent(ev, c->from[0])) {
            row->absent[i] = true;
            continue;
        }
        if (c->n_from > 0 &&
            (rc = source_text(&ev->after, c->from[0], i, &src, err)) != 0)
            return rc;
        /* Most columns take the source's text as it is: borrowed. */
        if (src != NULL && map_rules_value_unchanged(c)) {
            row->vals[i] = src;
            continue;
        }
        if ((rc = map_rules_value(c, src, &val, err)) != 0)
            return rc;
        row->vals[i] = val;
        row->owned[i] = val != NULL;
    }
    return 0;
}

int
sink_row_build(const sink_uuidctx_t *ctx, const map_entity_t *e,
               sink_event_t *ev, sink_row_t *row, ferry_err_t *err)
{
    size_t i, n = e->n_columns;
    int rc;

    memset(row, 0, sizeof(*row));
    row->op = ev->op == 'd' ? 'd' : 'u';
    row->pair = ev->pair;
    row->ts_ms = ev->ts_ms;
    row->ev = ev;
    row->n_cols = n;
    /* One allocation: the pointer arrays first, then the flags. */
    row->block = calloc(1, 2 * (n + 1) * sizeof(char *) + 2 * (n + 1));
    if (row->block == NULL)
        return FERRY_ENOMEM;
    row->vals = row->block;
    row->ref_entity = row->vals + n + 1;
    row->owned = (bool *)(row->ref_entity + n + 1);
    row->absent = row->owned + n + 1;
    if ((rc = build_key(ctx, e, ev, row, err)) != 0)
        return rc;
    if (row->op == 'd')
        return 0;
    if ((rc = build_columns(ctx, e, ev, row, err)) != 0)
        return rc;
    for (i = 0; i < n; i++)
        if (row->absent[i])
            return 0;
    row->absent = NULL;
    return 0;
}

void
sink_row_clear(sink_row_t *row)
{
    size_t i;

    if (row->vals != NULL)
        for (i = 0; i < row->n_cols; i++)
            if (row->owned[i])
                free((char *)row->vals[i]);
    free(row->keyvals);
    free(row->block);
    free(row->lkey);
    memset(row, 0, sizeof(*row));
}

void
sink_row_merge(sink_row_t *dst, sink_row_t *src, bool soft)
{
    size_t i;

    if (soft && src->op == 'd' && dst->op == 'u') {
        dst->soft_deleted = true;
        dst->del_ts_ms = src->ts_ms;
        dst->pair = src->pair;
        dst->ev = src->ev;
        sink_row_clear(src);
        return;
    }

    if (src->op == 'd' || dst->op == 'd' || src->absent == NULL) {
        sink_row_clear(dst);
        *dst = *src;
        memset(src, 0, sizeof(*src));
        return;
    }
    /* An update that left columns out keeps dst's values for them. */
    for (i = 0; i < src->n_cols; i++) {
        if (src->absent[i])
            continue;
        if (dst->owned[i])
            free((char *)dst->vals[i]);
        dst->vals[i] = src->vals[i];
        dst->owned[i] = src->owned[i];
        src->vals[i] = NULL;
        src->owned[i] = false;
        dst->ref_entity[i] = src->ref_entity[i];
        if (dst->absent != NULL)
            dst->absent[i] = false;
    }
    dst->pair = src->pair;
    dst->ts_ms = src->ts_ms;
    dst->ev = src->ev;
    dst->park_entity = src->park_entity;
    dst->soft_deleted = false;
    sink_row_clear(src);
}
