/* The id-map: UUIDs that are not derived (UUIDv5), in the target.
 * mapping/map_idmap.h
 *
 * The table is <state_schema>.id_map (entity text, legacy_key text, uuid
 * uuid, source text, PRIMARY KEY (entity, legacy_key)); source is 'import'
 * for mappings taken over from an earlier one-off migration ('v5' rows were
 * written by earlier ferry-sinks; derived UUIDs are no longer recorded).
 * An imported UUID takes precedence over the derived one: ferry looks the
 * id-map up before it derives.  legacy_key is the text of
 * map_rules_legacy_key() (map_rules.h).  Every identifier is quoted with
 * PQescapeIdentifier() and every value sent as a parameter or through COPY.
 * A connection belongs to one thread at a time.
 */
#ifndef MAP_IDMAP_H
#define MAP_IDMAP_H

#include "ferry_err.h"
#include "map_config.h"

#include <libpq-fe.h>
#include <stdio.h>

/* Creates the state schema and the id-map table if they do not exist, via
 * tgt (borrowed).  Returns 0, or FERRY_ETRANSIENT with err set. */
int map_idmap_ensure(PGconn *tgt, const char *state_schema,
                     ferry_err_t *err) FERRY_WUR;

/* Imports "legacy_key,uuid" CSV rows (with exactly that header line) from
 * csv (borrowed, read to its end) for entity e (borrowed) into the id-map of
 * cfg, in one transaction on tgt (borrowed).  A legacy key that already maps
 * to another UUID (in the id-map, or, when ferry-sink applied it, its
 * derived UUID), a key given two UUIDs, or a value that is not a UUID
 * fails the whole import.  Sets *imported to the number of new rows.
 * Returns 0, FERRY_EDATA (bad rows), FERRY_ETRANSIENT, FERRY_EFATAL (the
 * target refused the COPY itself) or FERRY_ENOMEM, with err saying why. */
int map_idmap_import_csv(PGconn *tgt, const map_config_t *cfg,
                         const map_entity_t *e, FILE *csv, long *imported,
                         ferry_err_t *err) FERRY_WUR;

/* As map_idmap_import_csv(), from the rows of a table shaped like
 * migration_mappings(source_table, source_id, destination_id) read through
 * from (borrowed; the source or the target connection): the rows whose
 * source_table equals source_table (borrowed) give legacy key source_id and
 * UUID destination_id.  schema and table (borrowed) name that table. */
int map_idmap_import_table(PGconn *tgt, const map_config_t *cfg,
                           const map_entity_t *e, PGconn *from,
                           const char *schema, const char *table,
                           const char *source_table, long *imported,
                           ferry_err_t *err) FERRY_WUR;

#endif
