/* The captured tables: the mapping's source tables, described from the
 * source catalog (columns, key, replica identity) for the envelope.
 * cdc/cdc_tables.h
 *
 * ferry-cdc refuses to start when a mapped table would lose its updates and
 * deletes (no primary key and no usable replica identity): wal2json only
 * warns about it, and a sync that silently drops changes is worse than one
 * that does not start.
 */
#ifndef CDC_TABLES_H
#define CDC_TABLES_H

#include "cdc_envelope.h"
#include "ferry_err.h"
#include "map_config.h"

#include <libpq-fe.h>
#include <stdbool.h>

typedef struct cdc_tables cdc_tables_t;

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

/* For snapshot reads of table i (borrowed from t): how each column is
 * written (cdc_env_coltype_t), and the index in columns of each key column
 * (NULL when a key column is not a column of the table). */
const unsigned char *cdc_tables_col_types(const cdc_tables_t *t, size_t i);
const size_t *cdc_tables_key_index(const cdc_tables_t *t, size_t i);

/* Whether table i's key is a primary key or replica identity index, so
 * that a snapshot can read it in key order (keyset chunks); otherwise (a
 * key named by the mapping, or every column) it reads through a cursor. */
bool cdc_tables_index_key(const cdc_tables_t *t, size_t i);

/* "schema.table" names for wal2json's add-tables (borrowed from t). */
const char *const *cdc_tables_names(const cdc_tables_t *t);

/* Finds the table of a wal2json message by its escaped schema and table
 * tokens; NULL if it is not captured.  Cheap for runs of the same table. */
const cdc_table_t *cdc_tables_find(cdc_tables_t *t, cdc_w2j_tok_t schema,
                                   cdc_w2j_tok_t table);

#endif
