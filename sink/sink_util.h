/* A string map for ferry-sink.
 * sink/sink_util.h
 *
 * The map indexes transactions, collapsed rows and imported UUIDs by a
 * string key.  It is not thread-safe: each belongs to one thread.  (SQL
 * text and COPY data are built in common/ferry_buf.h buffers.)
 */
#ifndef SINK_UTIL_H
#define SINK_UTIL_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>

/* A map from strings to pointers (open addressing).  Keys are copied;
 * values are borrowed unless the caller says otherwise. */
typedef struct sink_map sink_map_t;

/* Returns a new empty map (free with sink_map_free()), or NULL. */
sink_map_t *sink_map_new(void);

/* Frees the map and its key copies; not the values. */
void sink_map_free(sink_map_t *m);

/* Returns the value stored under key (borrowed), or NULL. */
void *sink_map_get(const sink_map_t *m, const char *key);

/* Stores value under key, replacing any earlier value.  Returns 0 or
 * FERRY_ENOMEM. */
int sink_map_put(sink_map_t *m, const char *key, void *value) FERRY_WUR;

/* Removes key; returns its value, or NULL. */
void *sink_map_del(sink_map_t *m, const char *key);

/* Number of keys. */
size_t sink_map_count(const sink_map_t *m);

/* Calls fn(key, value, arg) for every entry, in no particular order. */
void sink_map_each(const sink_map_t *m,
                   void (*fn)(const char *key, void *value, void *arg),
                   void *arg);

#endif
