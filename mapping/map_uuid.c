/* UUIDv5 through libuuid's SHA-1, and the entity-row name around it.
 * mapping/map_uuid.c */
#include "map_uuid.h"

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

void
map_uuid_v5(const map_uuid_t *ns, const void *name, size_t len, map_uuid_t *out)
{
    uuid_generate_sha1(out->b, ns->b, name, len);
}

int
map_uuid_entity(const map_uuid_t *ns, const char *entity,
                const char *legacy_key, map_uuid_t *out)
{
    size_t elen = strlen(entity);
    size_t klen = strlen(legacy_key);
    char buf[256];
    char *name = buf;

    if (elen + klen + 1 > sizeof(buf)) {
        name = malloc(elen + klen + 1);
        if (name == NULL)
            return FERRY_ENOMEM;
    }
    memcpy(name, entity, elen);
    name[elen] = ':';
    memcpy(name + elen + 1, legacy_key, klen);
    map_uuid_v5(ns, name, elen + klen + 1, out);
    if (name != buf)
        free(name);
    return 0;
}
