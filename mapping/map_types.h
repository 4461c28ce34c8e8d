/* Which PostgreSQL types a source column may be copied into.
 * mapping/map_types.h
 *
 * The rule: the target type must accept every value of the source type
 * without loss, through the value's text form.  So int4 -> int8, int ->
 * numeric, date -> timestamp and anything -> text are fine; text -> int,
 * int8 -> int4 and float -> int are not.  uuid targets take uuid sources
 * only: other UUID columns are filled by refs and id_column.  Pure
 * functions; thread-safe.
 */
#ifndef MAP_TYPES_H
#define MAP_TYPES_H

#include <stdbool.h>

/* A column type as the catalog gives it: the name of the (base) type in
 * pg_type ("int4", "varchar", "timestamptz") and its typcategory ('N', 'S',
 * 'D', ...). */
typedef struct map_type {
    const char *name; /* borrowed: pg_type.typname of the base type */
    char category;    /* pg_type.typcategory */
} map_type_t;

/* True when every value of src can be written into tgt. */
bool map_types_compatible(map_type_t src, map_type_t tgt);

/* True for text-like types (category S): what transforms and json need. */
bool map_types_is_text(map_type_t t);

/* True for json and jsonb. */
bool map_types_is_json(map_type_t t);

#endif
