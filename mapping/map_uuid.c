/* UUIDv5 (map_sha1.h's SHA-1), and the entity-row name around it; text
 * forms through libuuid.
 * mapping/map_uuid.c */
#include "map_uuid.h"

#include "map_sha1.h"

#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

int
map_uuid_parse(const char *text, map_uuid_t *out)
{
    /* uuid_parse() accepts exactly the 36-character form. */
    if (text == NULL || strlen(text) != 36 || uuid_parse(text, out->b) != 0)
        return FERRY_ECONFIG;
    return 0;
}

char *
map_uuid_format(const map_uuid_t *u, char *out)
{
    uuid_unparse_lower(u->b, out);
    return out;
}

/* The UUID from the digest of ns and the name: its first 16 bytes, with
 * the version (5) and the RFC 4122 variant set. */
static void
finish_v5(map_sha1_t *s, map_uuid_t *out)
{
    unsigned char d[MAP_SHA1_LEN];

    map_sha1_final(s, d);
    memcpy(out->b, d, sizeof(out->b));
    out->b[6] = (unsigned char)((out->b[6] & 0x0f) | 0x50);
    out->b[8] = (unsigned char)((out->b[8] & 0x3f) | 0x80);
}

void
map_uuid_v5(const map_uuid_t *ns, const void *name, size_t len, map_uuid_t *out)
{
    map_sha1_t s;

    map_sha1_init(&s);
    map_sha1_update(&s, ns->b, sizeof(ns->b));
    map_sha1_update(&s, name, len);
    finish_v5(&s, out);
}

int
map_uuid_entity(const map_uuid_t *ns, const char *entity,
                const char *legacy_key, map_uuid_t *out)
{
    map_sha1_t s;

    map_sha1_init(&s);
    map_sha1_update(&s, ns->b, sizeof(ns->b));
    map_sha1_update(&s, entity, strlen(entity));
    map_sha1_update(&s, ":", 1);
    map_sha1_update(&s, legacy_key, strlen(legacy_key));
    finish_v5(&s, out);
    return 0;
}
