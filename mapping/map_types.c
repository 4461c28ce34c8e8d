/* Which PostgreSQL types a source column may be copied into.
 * mapping/map_types.c */
#include "map_types.h"

#include <stddef.h>
#include <string.h>

/* Exact numeric types, narrowest first. */
static int
exact_rank(const char *t)
{
    static const char *const ranks[] = {"int2", "int4", "int8", "numeric"};

    for (int i = 0; i < 4; i++) {
        if (strcmp(t, ranks[i]) == 0)
            return i + 1;
    }
    return 0;
}

static bool
numeric_ok(const char *s, const char *t)
{
    int rs = exact_rank(s);
    int rt = exact_rank(t);

    if (rs && rt)
        return rs <= rt;
    if (strcmp(t, "numeric") == 0)
        return strcmp(s, "float4") == 0 || strcmp(s, "float8") == 0;
    if (strcmp(t, "float8") == 0)
        return strcmp(s, "float4") == 0 || strcmp(s, "int2") == 0 ||
               strcmp(s, "int4") == 0;
    if (strcmp(t, "float4") == 0)
        return strcmp(s, "int2") == 0;
    return false;
}

static bool
datetime_ok(const char *s, const char *t)
{
    bool t_stamp = strcmp(t, "timestamp") == 0 || strcmp(t, "timestamptz") == 0;

    if (t_stamp)
        return strcmp(s, "date") == 0 || strcmp(s, "timestamp") == 0 ||
               strcmp(s, "timestamptz") == 0;
    if (strcmp(t, "timetz") == 0)
        return strcmp(s, "time") == 0;
    return false;
}

bool
map_types_is_text(map_type_t t)
{
    return t.category == 'S';
}

bool
map_types_is_json(map_type_t t)
{
    return strcmp(t.name, "json") == 0 || strcmp(t.name, "jsonb") == 0;
}

bool
map_types_compatible(map_type_t src, map_type_t tgt)
{
    if (strcmp(src.name, tgt.name) == 0)
        return true;
    if (map_types_is_text(tgt))
        return true;
    if (map_types_is_json(tgt))
        return map_types_is_json(src);
    if (src.category == 'N' && tgt.category == 'N')
        return numeric_ok(src.name, tgt.name);
    if (src.category == 'D' && tgt.category == 'D')
        return datetime_ok(src.name, tgt.name);
    return false;
}
