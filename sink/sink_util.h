/* Small helpers of ferry-sink: a growable byte buffer and a string map.
 * sink/sink_util.h
 *
 * The buffer builds SQL text and COPY data; the map indexes transactions,
 * collapsed rows and imported UUIDs by a string key.  Neither is
 * thread-safe: each belongs to one thread.
 */
#ifndef SINK_UTIL_H
#define SINK_UTIL_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>

/* A growable, NUL-terminated byte buffer.  Zero-initialise it; release with
 * sink_buf_free(). */
typedef struct sink_buf {
    char *data; /* owned: the bytes, NUL-terminated, or NULL when empty */
    size_t len; /* bytes in use, without the NUL */
    size_t cap; /* bytes allocated */
} sink_buf_t;

/* Appends len bytes of s (borrowed).  Returns 0 or FERRY_ENOMEM. */
int sink_buf_add(sink_buf_t *b, const char *s, size_t len) FERRY_WUR;

/* Appends the NUL-terminated string s (borrowed). */
int sink_buf_adds(sink_buf_t *b, const char *s) FERRY_WUR;

/* Appends printf-formatted text.  Returns 0 or FERRY_ENOMEM. */
int sink_buf_printf(sink_buf_t *b, const char *fmt, ...)
    FERRY_PRINTF(2, 3) FERRY_WUR;

/* Appends s (borrowed) escaped for COPY's text format, or \N when s is
 * NULL. */
int sink_buf_copy_field(sink_buf_t *b, const char *s) FERRY_WUR;

/* Empties the buffer and keeps its memory. */
void sink_buf_reset(sink_buf_t *b);

/* Frees the memory; the buffer may be used again afterwards. */
void sink_buf_free(sink_buf_t *b);

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
