/* The id-map table: creating it, and importing earlier migrations' mappings.
 * mapping/map_idmap.c
 *
 * An import stages its rows in a temporary table through COPY, checks them
 * all, and only then inserts them, in one transaction: a bad file changes
 * nothing.
 */
#include "map_idmap.h"
#include "ferry_buf.h"
#include "ferry_pg.h"
#include "map_uuid.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE "pg_temp.ferry_idmap_import"

/* Every statement of an import fails it as a whole, transiently: nothing
 * is committed until the end, and running the import again is safe. */
#define IMPORT_FLAGS (FERRY_PG_ANY_TRANSIENT | FERRY_PG_MULTI)

/* "schema".id_map, quoted; a new string (free with free()) or NULL. */
static char *
idmap_table(PGconn *conn, const char *schema, ferry_err_t *err)
{
    char *q = PQescapeIdentifier(conn, schema, strlen(schema));
    char *t = NULL;

    if (q == NULL) {
        ferry_err_set(err, FERRY_ENOMEM, "could not quote \"%s\": %s", schema,
                      PQerrorMessage(conn));
        return NULL;
    }
    if (asprintf(&t, "%s.id_map", q) < 0) {
        t = NULL;
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory naming the id-map table");
    }
    PQfreemem(q);
    return t;
}

int
map_idmap_ensure(PGconn *tgt, const char *state_schema, ferry_err_t *err)
{
    char *q = PQescapeIdentifier(tgt, state_schema, strlen(state_schema));
    char *sql = NULL;
    int rc = FERRY_ENOMEM;

    if (q == NULL) {
        ferry_err_set(err, FERRY_ENOMEM, "could not quote \"%s\": %s",
                      state_schema, PQerrorMessage(tgt));
        goto done;
    }
    if (asprintf(&sql,
                 "CREATE SCHEMA IF NOT EXISTS %s;"
                 "CREATE TABLE IF NOT EXISTS %s.id_map ("
                 " entity text NOT NULL,"
                 " legacy_key text NOT NULL,"
                 " uuid uuid NOT NULL,"
                 " source text NOT NULL CHECK (source IN ('v5', 'import')),"
                 " PRIMARY KEY (entity, legacy_key))",
                 q, q) < 0) {
        sql = NULL;
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory creating the id-map table");
        goto done;
    }
    rc = ferry_pg_exec(tgt, sql, 0, NULL, NULL, NULL, "create the id-map table",
                       IMPORT_FLAGS, err);

done:
    PQfreemem(q);
    free(sql);
    return rc;
}

static int
begin_stage(PGconn *tgt, const map_config_t *cfg, ferry_err_t *err)
{
    int rc = ferry_pg_exec(tgt, "BEGIN", 0, NULL, NULL, NULL,
                           "begin the import", IMPORT_FLAGS, err);

    if (rc == 0)
        rc = map_idmap_ensure(tgt, cfg->state_schema, err);
    if (rc == 0)
        rc = ferry_pg_exec(tgt,
                           "CREATE TEMP TABLE ferry_idmap_import "
                           "(legacy_key text, uuid text) ON COMMIT DROP",
                           0, NULL, NULL, NULL,
                           "create the import's staging table", IMPORT_FLAGS,
                           err);
    return rc;
}

/* Runs a check query.  Returns 1 when it found a row (a problem; its first
 * two values go to v1 and v2), 0 when none, or FERRY_ETRANSIENT. */
static int
first_row(PGconn *tgt, const char *sql, const char *entity, char *v1, char *v2,
          size_t len, ferry_err_t *err)
{
    const char *params[1] = {entity};
    PGresult *res = NULL;
    int rc =
        ferry_pg_exec(tgt, sql, entity ? 1 : 0, params, &res, NULL,
                      "check the imported rows", FERRY_PG_ANY_TRANSIENT, err);

    if (rc == 0 && PQntuples(res) > 0) {
        snprintf(v1, len, "%s", PQgetvalue(res, 0, 0));
        snprintf(v2, len, "%s",
                 PQnfields(res) > 1 ? PQgetvalue(res, 0, 1) : "");
        rc = 1;
    }
    PQclear(res);
    return rc;
}

static int
check_stage(PGconn *tgt, const char *table, const char *entity,
            ferry_err_t *err)
{
    char v1[256];
    char v2[256];
    char *sql = NULL;
    int rc;

    rc = first_row(
        tgt,
        "SELECT coalesce(legacy_key, '(null)'), coalesce(uuid, '(null)') "
        "FROM " STAGE " WHERE legacy_key IS NULL OR legacy_key = '' "
        "OR uuid IS NULL OR uuid !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
        "[0-9a-f]{4}-[0-9a-f]{12}$' LIMIT 1",
        NULL, v1, v2, sizeof(v1), err);
    if (rc == 1)
        return ferry_err_set(err, FERRY_EDATA,
                             "invalid row: legacy key \"%s\", uuid \"%s\"", v1,
                             v2);
    if (rc == 0)
        rc = first_row(tgt,
                       "SELECT legacy_key FROM " STAGE " GROUP BY legacy_key "
                       "HAVING count(DISTINCT lower(uuid)) > 1 LIMIT 1",
                       NULL, v1, v2, sizeof(v1), err);
    if (rc == 1)
        return ferry_err_set(err, FERRY_EDATA,
                             "legacy key \"%s\" is given more than one UUID",
                             v1);
    if (rc != 0)
        return rc;
    if (asprintf(&sql,
                 "SELECT i.legacy_key, m.uuid FROM " STAGE " i "
                 "JOIN %s m ON m.entity = $1 AND m.legacy_key = i.legacy_key "
                 "WHERE m.uuid <> i.uuid::uuid LIMIT 1",
                 table) < 0)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory checking the imported rows");
    rc = first_row(tgt, sql, entity, v1, v2, sizeof(v1), err);
    free(sql);
    if (rc == 1)
        return ferry_err_set(err, FERRY_EDATA,
                             "legacy key \"%s\" of entity \"%s\" already "
                             "maps to %s in the id-map",
                             v1, entity, v2);
    return rc;
}

/* Keys that ferry-sink already applied (a row in <state_schema>.row_lsn)
 * and that have no id-map row were written with their derived UUID; an
 * imported UUID other than that one would part the target row from its
 * children.  The derived UUIDs are not stored, so they are computed here,
 * reading the candidates through a cursor (memory stays bounded).
 * Returns 0, FERRY_EDATA with err naming the first such key, or
 * FERRY_ETRANSIENT / FERRY_ENOMEM. */
static int
check_derived(PGconn *tgt, const map_config_t *cfg, const char *entity,
              const char *idmap, ferry_err_t *err)
{
    char *q =
        PQescapeIdentifier(tgt, cfg->state_schema, strlen(cfg->state_schema));
    char *row_lsn = NULL, *sql = NULL;
    const char *params[1];
    PGresult *res = NULL;
    char what[600];
    map_uuid_t ns;
    bool open = false;
    int rc = FERRY_ENOMEM;

    memcpy(ns.b, cfg->uuid_namespace, sizeof(ns.b));
    if (q == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM, "could not quote \"%s\": %s",
                           cfg->state_schema, PQerrorMessage(tgt));
        goto done;
    }
    if (asprintf(&row_lsn, "%s.row_lsn", q) < 0) {
        row_lsn = NULL;
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory checking the imported rows");
        goto done;
    }
    params[0] = row_lsn;
    snprintf(what, sizeof(what), "look for %s", row_lsn);
    if ((rc =
             ferry_pg_exec(tgt, "SELECT to_regclass($1) IS NOT NULL", 1, params,
                           &res, NULL, what, FERRY_PG_ANY_TRANSIENT, err)) != 0)
        goto done;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        rc = 0; /* ferry-sink never ran here */
        goto done;
    }
    PQclear(res);
    /* A running sink must not apply a key between this check and the
     * import's commit: its writes wait for the import (SHARE blocks them,
     * not readers). */
    if (asprintf(&sql, "LOCK TABLE %s IN SHARE MODE", row_lsn) < 0) {
        res = NULL;
        sql = NULL;
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory checking the imported rows");
        goto done;
    }
    res = NULL;
    snprintf(what, sizeof(what), "lock %s", row_lsn);
    rc = ferry_pg_exec(tgt, sql, 0, NULL, NULL, NULL, what, IMPORT_FLAGS, err);
    free(sql);
    sql = NULL;
    if (rc != 0)
        goto done;
    if (asprintf(&sql,
                 "DECLARE ferry_idmap_derived NO SCROLL CURSOR FOR "
                 "SELECT i.legacy_key, lower(i.uuid) FROM " STAGE " i "
                 "JOIN %s r ON r.entity = $1 AND r.legacy_key = i.legacy_key "
                 "WHERE NOT EXISTS (SELECT 1 FROM %s m WHERE m.entity = $1 "
                 "AND m.legacy_key = i.legacy_key)",
                 row_lsn, idmap) < 0) {
        sql = NULL;
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory checking the imported rows");
        goto done;
    }
    params[0] = entity;
    if ((rc = ferry_pg_exec(tgt, sql, 1, params, NULL, NULL,
                            "check the imported rows", FERRY_PG_ANY_TRANSIENT,
                            err)) != 0)
        goto done;
    open = true;
    while (rc == 0) {
        int i, n;

        PQclear(res);
        if ((rc = ferry_pg_exec(tgt, "FETCH 10000 FROM ferry_idmap_derived", 0,
                                NULL, &res, NULL, "check the imported rows",
                                FERRY_PG_ANY_TRANSIENT, err)) != 0)
            break;
        n = PQntuples(res);
        if (n == 0)
            break;
        for (i = 0; i < n && rc == 0; i++) {
            const char *key = PQgetvalue(res, i, 0);
            map_uuid_t u;
            char text[MAP_UUID_STRLEN];

            if (map_uuid_entity(&ns, entity, key, &u) != 0) {
                rc = ferry_err_set(err, FERRY_ENOMEM,
                                   "out of memory checking the imported rows");
                break;
            }
            map_uuid_format(&u, text);
            if (strcmp(text, PQgetvalue(res, i, 1)) != 0)
                rc = ferry_err_set(
                    err, FERRY_EDATA,
                    "legacy key \"%s\" of entity \"%s\" is already in the "
                    "target with its derived UUID %s (ferry-sink applied it); "
                    "import an entity's mappings before ferry-sink first "
                    "writes it",
                    key, entity, text);
        }
    }

done:
    PQclear(res);
    if (open)
        PQclear(PQexec(tgt, "CLOSE ferry_idmap_derived"));
    PQfreemem(q);
    free(row_lsn);
    free(sql);
    return rc;
}

/* Checks the staged rows, inserts them and commits; rolls back on error. */
static int
finish_import(PGconn *tgt, const map_config_t *cfg, const map_entity_t *e,
              long *imported, ferry_err_t *err)
{
    const char *params[1] = {e->name};
    char *table = idmap_table(tgt, cfg->state_schema, err);
    char *sql = NULL;
    PGresult *res = NULL;
    int rc = FERRY_ENOMEM;

    if (table == NULL)
        goto done;
    rc = check_stage(tgt, table, e->name, err);
    if (rc == 0)
        rc = check_derived(tgt, cfg, e->name, table, err);
    if (rc != 0)
        goto done;
    if (asprintf(&sql,
                 "INSERT INTO %s (entity, legacy_key, uuid, source) "
                 "SELECT DISTINCT $1, legacy_key, lower(uuid)::uuid, 'import' "
                 "FROM " STAGE " ON CONFLICT (entity, legacy_key) DO NOTHING",
                 table) < 0) {
        sql = NULL;
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory inserting into the id-map");
        goto done;
    }
    if ((rc = ferry_pg_exec(tgt, sql, 1, params, &res, NULL,
                            "insert into the id-map", FERRY_PG_ANY_TRANSIENT,
                            err)) != 0)
        goto done;
    *imported = atol(PQcmdTuples(res));
    rc = ferry_pg_exec(tgt, "COMMIT", 0, NULL, NULL, NULL, "commit the import",
                       IMPORT_FLAGS, err);

done:
    if (rc != 0)
        PQclear(PQexec(tgt, "ROLLBACK"));
    PQclear(res);
    free(sql);
    free(table);
    return rc;
}

/* Ends the COPY of the rows to import, or aborts it after the caller's
 * failure rc (returned as it is).  A row the target cannot load (a CSV that
 * does not parse) is a data error: FERRY_EDATA. */
static int
end_copy(PGconn *tgt, int rc, ferry_err_t *err)
{
    if (rc != 0) {
        ferry_pg_copy_abort(tgt, "import aborted");
        return rc;
    }
    return ferry_pg_copy_end(tgt, "load the rows to import", 0, err);
}

static int
start_copy(PGconn *tgt, const char *options, ferry_err_t *err)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "COPY " STAGE " (legacy_key, uuid) FROM STDIN WITH (%s)", options);
    return ferry_pg_copy_start(tgt, sql, "start COPY", FERRY_PG_ANY_TRANSIENT,
                               err);
}

int
map_idmap_import_csv(PGconn *tgt, const map_config_t *cfg,
                     const map_entity_t *e, FILE *csv, long *imported,
                     ferry_err_t *err)
{
    char buf[65536];
    size_t n;
    int rc;

    *imported = 0;
    rc = begin_stage(tgt, cfg, err);
    if (rc == 0)
        rc = start_copy(tgt, "FORMAT csv, HEADER match", err);
    if (rc != 0)
        goto fail;
    while ((n = fread(buf, 1, sizeof(buf), csv)) > 0) {
        if (PQputCopyData(tgt, buf, (int)n) != 1) {
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not send the CSV rows: %s",
                               PQerrorMessage(tgt));
            break;
        }
    }
    if (rc == 0 && ferror(csv))
        rc = ferry_err_set(err, FERRY_EDATA, "could not read the CSV file");
    if ((rc = end_copy(tgt, rc, err)) != 0)
        goto fail;
    return finish_import(tgt, cfg, e, imported, err);

fail:
    PQclear(PQexec(tgt, "ROLLBACK"));
    return rc;
}

static int
send_rows(PGconn *tgt, PGresult *rows, ferry_err_t *err)
{
    ferry_buf_t line;
    int rc = 0;

    ferry_buf_init(&line);
    for (int r = 0; r < PQntuples(rows) && rc == 0; r++) {
        if (PQgetisnull(rows, r, 0) || PQgetisnull(rows, r, 1)) {
            rc = ferry_err_set(err, FERRY_EDATA,
                               "row %d has a NULL source_id or "
                               "destination_id",
                               r + 1);
            break;
        }
        ferry_buf_reset(&line);
        ferry_buf_append_copy_field(&line, PQgetvalue(rows, r, 0));
        ferry_buf_putc(&line, '\t');
        ferry_buf_append_copy_field(&line, PQgetvalue(rows, r, 1));
        ferry_buf_putc(&line, '\n');
        if ((rc = ferry_buf_status(&line, err, "sending row %d to import",
                                   r + 1)) == 0 &&
            PQputCopyData(tgt, line.data, (int)line.len) != 1)
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not send the rows: %s",
                               PQerrorMessage(tgt));
    }
    ferry_buf_close(&line);
    return rc;
}

static PGresult *
read_mappings(PGconn *from, const char *schema, const char *table,
              const char *source_table, ferry_err_t *err)
{
    const char *params[1] = {source_table};
    char *qs = PQescapeIdentifier(from, schema, strlen(schema));
    char *qt = PQescapeIdentifier(from, table, strlen(table));
    char *sql = NULL;
    PGresult *res = NULL;

    if (qs == NULL || qt == NULL ||
        asprintf(&sql,
                 "SELECT source_id::text, destination_id::text FROM %s.%s "
                 "WHERE source_table = $1",
                 qs, qt) < 0) {
        sql = NULL;
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory reading the mappings to import");
        goto done;
    }
    res = PQexecParams(from, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ferry_err_set(err, FERRY_EDATA, "could not read \"%s.%s\": %s", schema,
                      table, PQerrorMessage(from));
        PQclear(res);
        res = NULL;
    }

done:
    PQfreemem(qs);
    PQfreemem(qt);
    free(sql);
    return res;
}

int
map_idmap_import_table(PGconn *tgt, const map_config_t *cfg,
                       const map_entity_t *e, PGconn *from, const char *schema,
                       const char *table, const char *source_table,
                       long *imported, ferry_err_t *err)
{
    PGresult *rows = NULL;
    int rc;

    *imported = 0;
    rows = read_mappings(from, schema, table, source_table, err);
    if (rows == NULL)
        return err ? err->status : FERRY_EDATA;
    rc = begin_stage(tgt, cfg, err);
    if (rc == 0)
        rc = start_copy(tgt, "FORMAT text", err);
    if (rc != 0)
        goto fail;
    rc = send_rows(tgt, rows, err);
    if ((rc = end_copy(tgt, rc, err)) != 0)
        goto fail;
    PQclear(rows);
    return finish_import(tgt, cfg, e, imported, err);

fail:
    PQclear(rows);
    PQclear(PQexec(tgt, "ROLLBACK"));
    return rc;
}
