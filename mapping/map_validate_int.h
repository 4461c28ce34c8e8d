/* Internals of ferry-map validate shared by its files; not a public header.
 * mapping/map_validate_int.h
 *
 * map_validate_sql.c writes, for one entity and one side (source or target),
 * the "row query": one row per legacy row with its legacy key text (k), its
 * checksum bucket (b) and the text form of every mapped column (c0, c1, ...)
 * as the target holds it.  map_validate.c runs the checksum and drill-down
 * queries built around it.  Every identifier in the SQL is quoted with
 * PQescapeIdentifier() and every value from the mapping is a parameter.
 */
#ifndef MAP_VALIDATE_INT_H
#define MAP_VALIDATE_INT_H

#include "ferry_buf.h"
#include "map_config.h"
#include "map_validate.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The SQL text is built in ferry_buf_t buffers (ferry_buf.h): appends
 * never fail on their own, the builder checks the buffer once. */

/* Appends name (borrowed) quoted as an identifier through conn; a failed
 * quoting fails the buffer. */
void map__vsql_ident(ferry_buf_t *b, PGconn *conn, const char *name);

/* The target type of one mapped column, as the source side casts to it. */
typedef struct map__vtype {
    char *cast; /* owned: format_type() of the (base) type when it is a
                   built-in type, else NULL: compared as text */
    bool found; /* the target column exists */
} map__vtype_t;

/* One side's row query and its parameters. */
typedef struct map__vside {
    char *rows;          /* owned: SELECT k, b, c0.. FROM ...; the bucket
                            count is parameter $(n_params + 1) */
    char *count;         /* owned: SELECT count(*) of the side's rows */
    int n_count_params;  /* parameters the count query uses (a prefix) */
    const char **params; /* owned array of borrowed strings */
    int n_params;        /* number of parameters */
    int cap_params;      /* allocated entries */
    size_t n_cols;       /* mapped columns: c0 .. c(n_cols-1) */
    bool oom;            /* an allocation failed */
} map__vside_t;

/* Builds the source side of entity e.  types (n = e->n_columns, borrowed)
 * are the target column types; parked_keys (borrowed, may be NULL) is a
 * PostgreSQL array literal of legacy keys to leave out.  Returns 0,
 * FERRY_ECONFIG with err set when the mapping cannot be compared, or
 * FERRY_ENOMEM.  Free out with map__vside_free() whatever the result. */
int map__vside_source(const map_config_t *cfg, const map_entity_t *e,
                      PGconn *conn, const map__vtype_t *types,
                      const char *parked_keys, map__vside_t *out,
                      ferry_err_t *err) FERRY_WUR;

/* Builds the target side of entity e; state_schema (borrowed, may be NULL)
 * names the schema holding the sink's parked table, whose rows are left
 * out.  Returns as map__vside_source(). */
int map__vside_target(const map_config_t *cfg, const map_entity_t *e,
                      PGconn *conn, const char *state_schema, map__vside_t *out,
                      ferry_err_t *err) FERRY_WUR;

/* Frees what the side owns. */
void map__vside_free(map__vside_t *s);

/* Adds a borrowed parameter; returns its number ($n), or 0 when out of
 * memory. */
int map__vside_param(map__vside_t *s, const char *value);

/* SQL of the per-row hash over the row query (k, b, h). */
void map__vsql_hashed(ferry_buf_t *b, const map__vside_t *s);

#endif
