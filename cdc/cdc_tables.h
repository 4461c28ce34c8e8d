/* The captured tables: the mapping's source tables, described from the
 * source catalog (columns, types, key, replica identity) for the envelope,
 * the snapshots and the schema-change checks, and described again when a
 * table changes while streaming.
 * cdc/cdc_tables.h
 *
 * ferry-cdc refuses to start when a mapped table would lose its updates and
 * deletes (no primary key and no usable replica identity): wal2json only
 * warns about it, and a sync that silently drops changes is worse than one
 * that does not start.
 *
 * Every cdc_table_t handed out keeps its address for the life of the set,
 * through every refresh (the transaction counters key on it); the arrays it
 * points to are replaced by cdc_tables_refresh(), so a caller that keeps a
 * column list across a refresh must compare cdc_tables_generation().  The
 * streaming thread owns the set; the snapshot readers only read it, and
 * only before streaming starts.
 */
#ifndef CDC_TABLES_H
#define CDC_TABLES_H

#include "cdc_envelope.h"
#include "ferry_err.h"
#include "ferry_wire.h"
#include "map_config.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cdc_tables cdc_tables_t;

/* Facts about one column (cdc_tables_col_flags()). */
enum cdc_tables_col_flag {
    CDC_TABLES_COL_TOASTABLE = 1, /* a value may live out of line: an
                                     UPDATE that leaves it unchanged does
                                     not send it */
    CDC_TABLES_COL_NAN = 2,       /* numeric, real or double precision:
                                     wal2json 2.5 sends NaN as null */
    CDC_TABLES_COL_NOT_NULL = 4   /* NOT NULL */
};

/* How one row change of a table fits the cached columns. */
typedef enum cdc_tables_fit {
    CDC_TABLES_FIT = 0,    /* the columns and types are the cached ones */
    CDC_TABLES_STALE,      /* the table certainly changed: a column the
                              cache lacks, another type, a cached column
                              missing from an INSERT, or one that is always
                              sent missing from an UPDATE */
    CDC_TABLES_MAYBE_TOAST /* an UPDATE left out a TOAST-able column: an
                              unchanged TOAST value, or a dropped column */
} cdc_tables_fit_t;

/* What a refresh found, and the column lists of a schema-change record
 * (common/ferry_wire.h).  Filled by cdc_tables_refresh(); release with
 * cdc_tables_change_clear(). */
typedef struct cdc_tables_change {
    bool columns;                     /* names or types changed */
    bool keys;                        /* the key or replica identity did */
    ferry_wire_column_t *old_columns; /* owned array; strings owned by
                                         old_facts */
    size_t n_old;                     /* entries in old_columns */
    ferry_wire_column_t *new_columns; /* owned array; strings borrowed
                                         from the table until the next
                                         refresh */
    size_t n_new;                     /* entries in new_columns */
    void *old_facts;                  /* private: the facts replaced */
} cdc_tables_change_t;

/* Describes every distinct source table of cfg (borrowed; must outlive the
 * result) through conn (an ordinary SQL connection to the source).  Reports
 * every missing table and every table without a key or replica identity in
 * one error (FERRY_ECONFIG).  On success *out is new (cdc_tables_free). */
int cdc_tables_load(PGconn *conn, const map_config_t *cfg, cdc_tables_t **out,
                    ferry_err_t *err) FERRY_WUR;

void cdc_tables_free(cdc_tables_t *t);

/* Number of tables, and the i-th one (borrowed from t). */
size_t cdc_tables_count(const cdc_tables_t *t);
const cdc_table_t *cdc_tables_get(const cdc_tables_t *t, size_t i);

/* The index of tab (one of t's tables) in 0..count-1. */
size_t cdc_tables_index(const cdc_tables_t *t, const cdc_table_t *tab);

/* The index of table schema.table (raw names, borrowed), or -1. */
long cdc_tables_lookup(const cdc_tables_t *t, const char *schema,
                       const char *table);

/* For snapshot reads of table i (borrowed from t): how each column is
 * written (cdc_env_coltype_t), and the index in columns of each key column
 * (NULL when a key column is not a column of the table). */
const unsigned char *cdc_tables_col_types(const cdc_tables_t *t, size_t i);
const size_t *cdc_tables_key_index(const cdc_tables_t *t, size_t i);

/* cdc_tables_col_flag bits per column of table i (borrowed from t). */
const unsigned char *cdc_tables_col_flags(const cdc_tables_t *t, size_t i);

/* Table i's replica identity: 'd' default, 'f' full, 'i' index. */
char cdc_tables_replident(const cdc_tables_t *t, size_t i);

/* Whether table i's key is a primary key or replica identity index, so
 * that a snapshot can read it in key order (keyset chunks); otherwise (a
 * key named by the mapping, or every column) it reads through a cursor. */
bool cdc_tables_index_key(const cdc_tables_t *t, size_t i);

/* Table i's place in the mapping's dependency order (cfg->apply_order,
 * parents first): the lowest position of the entities reading it. */
size_t cdc_tables_order(const cdc_tables_t *t, size_t i);

/* How often table i's facts were replaced since the load (0 at first). */
uint64_t cdc_tables_generation(const cdc_tables_t *t, size_t i);

/* "schema.table" names for wal2json's add-tables (borrowed from t). */
const char *const *cdc_tables_names(const cdc_tables_t *t);

/* Finds the table of a wal2json message by its escaped schema and table
 * tokens; NULL if it is not captured.  Cheap for runs of the same table. */
const cdc_table_t *cdc_tables_find(cdc_tables_t *t, ferry_json_tok_t schema,
                                   ferry_json_tok_t table);

/* The index of table i's column named by name (a wal2json token, still
 * escaped), looking at hint first (where it usually is), or -1. */
long cdc_tables_column(const cdc_tables_t *t, size_t i, ferry_json_tok_t name,
                       size_t hint);

/* How msg (borrowed; an I or U of table i) fits the cached columns.  Other
 * actions always fit. */
cdc_tables_fit_t cdc_tables_fit(cdc_tables_t *t, size_t i,
                                const cdc_w2j_msg_t *msg);

/* Reads table i's catalog again through conn (borrowed) and, when any fact
 * changed, replaces them (the generation moves on) and fills *chg (caller-
 * allocated; clear it with cdc_tables_change_clear() in every case).  A
 * table that no longer exists or has lost its replica identity keeps its
 * facts, with a warning.  Returns 0, FERRY_ETRANSIENT (the catalog could
 * not be read) or FERRY_ENOMEM. */
int cdc_tables_refresh(cdc_tables_t *t, size_t i, PGconn *conn,
                       cdc_tables_change_t *chg, ferry_err_t *err) FERRY_WUR;

/* Frees what a refresh left in chg and zeroes it. */
void cdc_tables_change_clear(cdc_tables_change_t *chg);

#endif
