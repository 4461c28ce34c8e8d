/* The model's arena and the typed readers of libyaml nodes.
 * mapping/map_yaml.c */
#include "map_env.h"
#include "map_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blocks are chained; big requests get a block of their own. */
#define ARENA_BLOCK 8192

struct arena_block {
    struct arena_block *next; /* the block allocated before this one */
    size_t used;              /* bytes handed out from data */
    size_t size;              /* bytes in data */
    max_align_t data[];       /* the memory handed out */
};

struct map_arena {
    struct arena_block *head; /* the newest block */
};

struct map_arena *
map__arena_new(void)
{
    return calloc(1, sizeof(struct map_arena));
}

void
map__arena_free(struct map_arena *a)
{
    struct arena_block *b;

    if (a == NULL)
        return;
    while ((b = a->head) != NULL) {
        a->head = b->next;
        free(b);
    }
    free(a);
}

void *
map__alloc(struct map_arena *a, size_t size)
{
    struct arena_block *b = a->head;
    size_t align = sizeof(max_align_t);
    void *mem;

    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    if (b == NULL || b->size - b->used < size) {
        size_t bsize = size > ARENA_BLOCK ? size : ARENA_BLOCK;

        b = malloc(sizeof(*b) + bsize);
        if (b == NULL)
            return NULL;
        b->size = bsize;
        b->used = 0;
        /* A block made for one big request goes behind the current one so
         * that the rest of the current block stays in use. */
        if (size > ARENA_BLOCK && a->head != NULL) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    mem = (char *)b->data + b->used;
    b->used += size;
    memset(mem, 0, size);
    return mem;
}

char *
map__strndup(struct map_arena *a, const char *s, size_t n)
{
    char *d = map__alloc(a, n + 1);

    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
map__strdup(struct map_arena *a, const char *s)
{
    return map__strndup(a, s, strlen(s));
}

yaml_node_t *
map__node(map_parser_t *p, int index)
{
    return yaml_document_get_node(&p->doc, index);
}

map_pos_t
map__pos(const yaml_node_t *n)
{
    map_pos_t pos = {0, 0};

    if (n != NULL) {
        pos.line = (int)n->start_mark.line + 1;
        pos.column = (int)n->start_mark.column + 1;
    }
    return pos;
}

void
map__path(char *buf, const char *parent, const char *key)
{
    if (parent == NULL || parent[0] == '\0')
        snprintf(buf, MAP__PATH_MAX, "%s", key);
    else
        snprintf(buf, MAP__PATH_MAX, "%s.%s", parent, key);
}

map_diag_t *
map__diag(map_parser_t *p, const yaml_node_t *n, const char *path,
          const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return map_diags_add(p->diags, p->file, map__pos(n), path, "%s", msg);
}

bool
map__is_null(const yaml_node_t *n)
{
    const char *v;

    if (n == NULL || n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

const char *
map__kind(const yaml_node_t *n)
{
    if (n == NULL || map__is_null(n))
        return "nothing";
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a string";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

const char *
map__key_text(map_parser_t *p, const yaml_node_pair_t *pair)
{
    yaml_node_t *k = map__node(p, pair->key);

    if (k == NULL || k->type != YAML_SCALAR_NODE)
        return NULL;
    return (const char *)k->data.scalar.value;
}

const char *
map__key_copy(map_parser_t *p, const yaml_node_pair_t *pair)
{
    const char *k = map__key_text(p, pair);
    const char *copy;

    if (k == NULL)
        return NULL;
    copy = map__strdup(p->arena, k);
    if (copy == NULL)
        p->oom = true;
    return copy;
}

yaml_node_t *
map__get(map_parser_t *p, yaml_node_t *n, const char *key)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        const char *k = map__key_text(p, pr);

        if (k && strcmp(k, key) == 0)
            return map__node(p, pr->value);
    }
    return NULL;
}

/* Writes the keys of section, comma-separated, into buf. */
static void
section_keys(const char *section, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (const map__key_def_t *d = map__keys; d->name; d++) {
        int w;

        if (strcmp(d->section, section) != 0)
            continue;
        w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", d->name);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

static const map__key_def_t *
find_key_def(const char *section, const char *name)
{
    for (const map__key_def_t *d = map__keys; d->name; d++) {
        if (strcmp(d->section, section) == 0 && strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}

/* Reports keys that are not strings, repeated, or unknown in section. */
static void
check_keys(map_parser_t *p, yaml_node_t *n, const char *path,
           const char *section)
{
    char allowed[512];
    char kpath[MAP__PATH_MAX];

    if (section)
        section_keys(section, allowed, sizeof(allowed));
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = map__node(p, pr->key);
        const char *k = map__key_text(p, pr);

        if (k == NULL) {
            map__diag(p, kn, path, "expected a string as key, found %s",
                      map__kind(kn));
            continue;
        }
        map__path(kpath, path, k);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++) {
            const char *k2 = map__key_text(p, q);

            if (k2 && strcmp(k, k2) == 0) {
                map__diag(p, kn, kpath, "duplicate key \"%s\"", k);
                break;
            }
        }
        if (section && find_key_def(section, k) == NULL)
            map__diag(p, kn, kpath, "unknown key \"%s\" (expected one of: %s)",
                      k, allowed);
    }
}

bool
map__check_mapping(map_parser_t *p, yaml_node_t *n, const char *path,
                   const char *section, const char *what)
{
    if (n == NULL || n->type != YAML_MAPPING_NODE) {
        map__diag(p, n, path, "expected a mapping (%s), found %s", what,
                  map__kind(n));
        return false;
    }
    check_keys(p, n, path, section);
    if (section == NULL)
        return true;
    for (const map__key_def_t *d = map__keys; d->name; d++) {
        if (strcmp(d->section, section) == 0 && d->required &&
            map__get(p, n, d->name) == NULL)
            map__diag(p, n, path, "missing required key \"%s\" (%s)", d->name,
                      d->doc);
    }
    return true;
}

const char *
map__string(map_parser_t *p, yaml_node_t *n, const char *path)
{
    ferry_err_t err = {0};
    char *expanded = NULL;
    const char *s;

    if (n == NULL || n->type != YAML_SCALAR_NODE || map__is_null(n)) {
        map__diag(p, n, path, "expected a string, found %s", map__kind(n));
        return NULL;
    }
    if (map_env_expand((const char *)n->data.scalar.value, &expanded, &err) !=
        0) {
        if (err.status == FERRY_ENOMEM)
            p->oom = true;
        else
            map__diag(p, n, path, "%s", err.msg);
        return NULL;
    }
    s = map__strdup(p->arena, expanded);
    free(expanded);
    if (s == NULL)
        p->oom = true;
    return s;
}

bool
map__bool(map_parser_t *p, yaml_node_t *n, const char *path, bool *out)
{
    static const char *const names[] = {"false", "true"};
    if (n != NULL && n->type == YAML_SCALAR_NODE) {
        const char *s = (const char *)n->data.scalar.value;

        if (strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
            s = "true";
        else if (strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
            s = "false";
        for (int i = 0; i < 2; i++) {
            if (strcmp(s, names[i]) == 0) {
                *out = i == 1;
                return true;
            }
        }
    }
    if (n != NULL && n->type == YAML_SCALAR_NODE && !map__is_null(n))
        map__diag(p, n, path, "invalid value \"%s\" (expected true or false)",
                  (const char *)n->data.scalar.value);
    else
        map__diag(p, n, path, "expected true or false, found %s", map__kind(n));
    return false;
}

bool
map__enum(map_parser_t *p, yaml_node_t *n, const char *path,
          const char *const *names, size_t n_names, int *out)
{
    char expected[256];
    size_t used = 0;

    expected[0] = '\0';
    for (size_t i = 0; i < n_names; i++) {
        int w = snprintf(expected + used, sizeof(expected) - used, "%s%s",
                         i == 0 ? "" : (i + 1 == n_names ? " or " : ", "),
                         names[i]);

        if (w < 0 || (size_t)w >= sizeof(expected) - used)
            break;
        used += (size_t)w;
    }
    /* The words come first: "on_missing: null" means the word null. */
    for (size_t i = 0; n != NULL && n->type == YAML_SCALAR_NODE && i < n_names;
         i++) {
        if (strcmp((const char *)n->data.scalar.value, names[i]) == 0) {
            *out = (int)i;
            return true;
        }
    }
    if (n == NULL || n->type != YAML_SCALAR_NODE || map__is_null(n)) {
        map__diag(p, n, path, "expected %s, found %s", expected, map__kind(n));
        return false;
    }
    map__diag(p, n, path, "invalid value \"%s\" (expected %s)",
              (const char *)n->data.scalar.value, expected);
    return false;
}

const char *const *
map__string_list(map_parser_t *p, yaml_node_t *n, const char *path,
                 size_t *count, bool empty_ok)
{
    const char **items;
    size_t len;
    bool ok = true;

    *count = 0;
    if (n != NULL && n->type == YAML_SCALAR_NODE && !map__is_null(n)) {
        items = map__alloc(p->arena, sizeof(*items));
        if (items == NULL) {
            p->oom = true;
            return NULL;
        }
        items[0] = map__string(p, n, path);
        if (items[0] == NULL)
            return NULL;
        *count = 1;
        return items;
    }
    if (n == NULL || n->type != YAML_SEQUENCE_NODE) {
        map__diag(p, n, path,
                  "expected a string or a list of strings, "
                  "found %s",
                  map__kind(n));
        return NULL;
    }
    len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len == 0) {
        if (!empty_ok)
            map__diag(p, n, path,
                      "expected at least one string, found an "
                      "empty list");
        return NULL;
    }
    items = map__alloc(p->arena, len * sizeof(*items));
    if (items == NULL) {
        p->oom = true;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char ipath[MAP__PATH_MAX];
        yaml_node_t *item = map__node(p, n->data.sequence.items.start[i]);

        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        items[i] = map__string(p, item, ipath);
        if (items[i] == NULL)
            ok = false;
        for (size_t j = 0; ok && j < i; j++) {
            if (strcmp(items[i], items[j]) == 0) {
                map__diag(p, item, ipath, "\"%s\" is listed twice", items[i]);
                ok = false;
            }
        }
    }
    if (!ok)
        return NULL;
    *count = len;
    return items;
}
