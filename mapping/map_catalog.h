/* What a live database says about a mapped table: columns, keys, identity.
 * mapping/map_catalog.h
 *
 * The one reader of pg_catalog for a table.  ferry-map check compares
 * these facts with the mapping; ferry-cdc describes its captured tables
 * from them (columns, the identity wal2json keys changes by); ferry-sink
 * reads its target tables' column types; map_catalog_resolve_keys() fills
 * entity keys that the file leaves to the source primary key.  Every value
 * is passed to the server as a parameter.  A connection belongs to one
 * thread at a time.
 */
#ifndef MAP_CATALOG_H
#define MAP_CATALOG_H

#include "ferry_err.h"
#include "map_config.h"
#include "map_types.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct map_pg_column {
    const char *name; /* borrowed from the table: the column name */
    const char
        *type;       /* borrowed: format_type(), e.g. "character varying(40)" */
    map_type_t base; /* the base type (domains resolved) */
    Oid type_oid;    /* the column's own type (a domain's, not its base
                        type's): what wal2json looks at */
    bool not_null;   /* attnotnull */
    bool has_default; /* a DEFAULT, identity or generated value exists */
    bool generated;   /* GENERATED ALWAYS AS (...) STORED: cannot be written */
    bool toastable;   /* a variable-length type stored EXTENDED or
                         EXTERNAL: a value may live out of line, and an
                         UPDATE that leaves it unchanged does not log it
                         again (MAIN, numeric's, moves out of line only as
                         a last resort, and is not counted) */
} map_pg_column_t;

typedef struct map_pg_index {
    const char *name;      /* borrowed: the index name */
    const char **columns;  /* owned by the table: key columns in order */
    size_t n_columns;      /* number of key columns */
    bool primary;          /* the primary key's index */
    bool replica_identity; /* REPLICA IDENTITY USING INDEX this one */
} map_pg_index_t;

/* One table; only valid unique, non-partial, plain-column indexes are
 * listed. */
typedef struct map_pg_table {
    bool exists;              /* false: no such table (or not a table) */
    char replident;           /* 'd' default, 'n' nothing, 'f' full, 'i' */
    map_pg_column_t *columns; /* owned: the columns in attnum order */
    size_t n_columns;         /* number of columns */
    map_pg_index_t *indexes;  /* owned: the unique indexes */
    size_t n_indexes;         /* number of indexes */
    PGresult *res_cols;       /* private: holds the column strings */
    PGresult *res_idx;        /* private: holds the index strings */
} map_pg_table_t;

/* Reads schema.table (borrowed) through conn (borrowed) into *out
 * (caller-allocated; release with map_catalog_table_free() whatever the
 * result).  side (borrowed: "source" or "target") names the database in
 * messages.  A missing table is not an error: out->exists is false.
 * Returns 0, FERRY_ETRANSIENT when a query failed ("could not read the
 * <side> catalog: ..."), or FERRY_ENOMEM. */
int map_catalog_table(PGconn *conn, const char *side, const char *schema,
                      const char *table, map_pg_table_t *out,
                      ferry_err_t *err) FERRY_WUR;

/* The prefix of the logical decoding messages that ferry's event trigger
 * writes on ddl_command_end, one per changed table, with the table as
 * "schema.table" (identifiers quoted as format('%I.%I') quotes them):
 * pg_logical_emit_message(true, 'ferry-ddl', ...).  docs/setup.md has the
 * SQL that installs it. */
#define MAP_CATALOG_DDL_PREFIX "ferry-ddl"

/* Sets *installed to whether an enabled event trigger on ddl_command_end
 * runs a function that writes MAP_CATALOG_DDL_PREFIX messages, read
 * through conn (borrowed).  side names the database in messages.  Returns 0
 * or FERRY_ETRANSIENT. */
int map_catalog_ddl_trigger(PGconn *conn, const char *side, bool *installed,
                            ferry_err_t *err) FERRY_WUR;

/* Whether a column's base type is numeric, real or double precision: the
 * types whose NaN and Infinity wal2json 2.5 sends as null. */
bool map_catalog_is_nan_type(const map_pg_column_t *c);

/* Frees what the table owns; the struct itself is the caller's. */
void map_catalog_table_free(map_pg_table_t *t);

/* The column named name (borrowed), or NULL. */
const map_pg_column_t *map_catalog_column(const map_pg_table_t *t,
                                          const char *name);

/* The primary key's index (borrowed), or NULL. */
const map_pg_index_t *map_catalog_primary_key(const map_pg_table_t *t);

/* The index whose key columns logical decoding sends as a changed row's
 * old identity: with REPLICA IDENTITY USING INDEX (replident 'i') that
 * index, otherwise the primary key.  Borrowed, or NULL when there is none
 * (a table with REPLICA IDENTITY FULL may still have its primary key). */
const map_pg_index_t *map_catalog_identity_index(const map_pg_table_t *t);

/* True when a unique index's key columns are all among cols (n names,
 * borrowed), which makes cols unique. */
bool map_catalog_is_unique(const map_pg_table_t *t, const char *const *cols,
                           size_t n);

/* Fills the key of every entity that has none in the file with its source
 * table's primary key, read through src (borrowed).  The one write to a
 * loaded model: call it once, before other threads read the model.  Names
 * are copied into the model.  An entity whose table is missing or has no
 * primary key is an error.  Returns 0, FERRY_ECONFIG, FERRY_ETRANSIENT or
 * FERRY_ENOMEM, with err saying which entity. */
int map_catalog_resolve_keys(map_config_t *cfg, PGconn *src,
                             ferry_err_t *err) FERRY_WUR;

#endif
