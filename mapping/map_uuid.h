/* UUIDs: parsing, formatting, UUIDv5, and the UUID of an entity's row.
 * mapping/map_uuid.h
 *
 * A row's UUID is UUIDv5 (RFC 4122, SHA-1) of the mapping's uuid_namespace
 * and the name "<entity>:<legacy key>", where the legacy key is the text form
 * of each key column (as PostgreSQL prints it) joined by "," with "\" and ","
 * escaped by a "\" (map_rules_legacy_key(), map_rules.h).  docs/mapping.md
 * states the same; this derivation never changes, so a replay rebuilds the
 * same UUIDs and a child computes its parent's UUID without a lookup.  Every
 * function here is thread-safe.
 */
#ifndef MAP_UUID_H
#define MAP_UUID_H

#include "ferry_err.h"

#include <stddef.h>

/* Text form with its NUL: 36 characters and one. */
#define MAP_UUID_STRLEN 37

typedef struct map_uuid {
    unsigned char b[16]; /* the 16 bytes in network order */
} map_uuid_t;

/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (either case); returns 0, or
 * FERRY_ECONFIG when text is not a UUID. */
int map_uuid_parse(const char *text, map_uuid_t *out) FERRY_WUR;

/* Writes the lower-case text form into out (caller-owned, at least
 * MAP_UUID_STRLEN bytes); returns out. */
char *map_uuid_format(const map_uuid_t *u, char *out);

/* UUIDv5 of namespace ns and the len bytes at name (borrowed). */
void map_uuid_v5(const map_uuid_t *ns, const void *name, size_t len,
                 map_uuid_t *out);

/* The UUID of the row of entity (borrowed) with legacy key text legacy_key
 * (borrowed, from map_rules_legacy_key(), map_rules.h, which also holds
 * the SQL twin of that text): UUIDv5(ns, entity ":" legacy_key), hashed
 * in place (no allocation).  Returns 0. */
int map_uuid_entity(const map_uuid_t *ns, const char *entity,
                    const char *legacy_key, map_uuid_t *out) FERRY_WUR;

#endif
