/* A string map for ferry-sink.
 * sink/sink_util.c */
#include "sink_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sink_map_slot {
    char *key;   /* owned copy, NULL when free, TOMB when deleted */
    void *value; /* borrowed */
};

struct sink_map {
    struct sink_map_slot *slots; /* owned: cap slots */
    size_t cap;                  /* a power of two */
    size_t count;                /* live keys */
    size_t used;                 /* live keys and tombstones */
};

static char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

sink_map_t *
sink_map_new(void)
{
    sink_map_t *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->cap = 64;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void
sink_map_free(sink_map_t *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL && m->slots[i].key != TOMB)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

static struct sink_map_slot *
find_slot(const sink_map_t *m, const char *key, bool for_insert)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_str(key) & mask;
    struct sink_map_slot *tomb = NULL;

    for (;;) {
        struct sink_map_slot *s = &m->slots[i];

        if (s->key == NULL)
            return for_insert && tomb != NULL ? tomb : for_insert ? s : NULL;
        if (s->key == TOMB) {
            if (tomb == NULL)
                tomb = s;
        } else if (strcmp(s->key, key) == 0) {
            return s;
        }
        i = (i + 1) & mask;
    }
}

static int
map_grow(sink_map_t *m)
{
    struct sink_map_slot *old = m->slots;
    size_t oldcap = m->cap;
    size_t i;

    m->cap = m->count * 4 > oldcap ? oldcap * 2 : oldcap;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        m->slots = old;
        m->cap = oldcap;
        return FERRY_ENOMEM;
    }
    m->used = m->count;
    for (i = 0; i < oldcap; i++) {
        if (old[i].key != NULL && old[i].key != TOMB) {
            struct sink_map_slot *s = find_slot(m, old[i].key, true);

            *s = old[i];
        }
    }
    free(old);
    return 0;
}

void *
sink_map_get(const sink_map_t *m, const char *key)
{
    struct sink_map_slot *s = find_slot(m, key, false);

    return s != NULL ? s->value : NULL;
}

int
sink_map_put(sink_map_t *m, const char *key, void *value)
{
    struct sink_map_slot *s;

    if ((m->used + 1) * 2 > m->cap && map_grow(m) != 0)
        return FERRY_ENOMEM;
    s = find_slot(m, key, true);
    if (s->key != NULL && s->key != TOMB) {
        s->value = value;
        return 0;
    }
    if (s->key == NULL)
        m->used++;
    s->key = strdup(key);
    if (s->key == NULL) {
        s->key = TOMB;
        return FERRY_ENOMEM;
    }
    s->value = value;
    m->count++;
    return 0;
}

void *
sink_map_del(sink_map_t *m, const char *key)
{
    struct sink_map_slot *s = find_slot(m, key, false);
    void *v;

    if (s == NULL)
        return NULL;
    v = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->count--;
    return v;
}

size_t
sink_map_count(const sink_map_t *m)
{
    return m->count;
}

void
sink_map_each(const sink_map_t *m,
              void (*fn)(const char *key, void *value, void *arg), void *arg)
{
    size_t i;

    for (i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL && m->slots[i].key != TOMB)
            fn(m->slots[i].key, m->slots[i].value, arg);
}
