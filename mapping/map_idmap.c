/* The id-map table: creating it, and importing earlier migrations' mappings.
 * mapping/map_idmap.c
 *
 * An import stages its rows in a temporary table through COPY, checks them
 * all, and only then inserts them, in one transaction: a bad file changes
 * nothing.
 */
#include "map_idmap.h"
#include "map_uuid.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOO_LONG ((size_t)-1)
#define STAGE "pg_temp.ferry_idmap_import"

static int
exec_ok(PGconn *conn, const char *sql, ferry_err_t *err, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not %s: %s", what,
                           PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

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
        ferry_err_set(err, FERRY_ENOMEM, "out of memory");
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
        ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    rc = exec_ok(tgt, sql, err, "create the id-map table");

done:
    PQfreemem(q);
    free(sql);
    return rc;
}

static int
begin_stage(PGconn *tgt, const map_config_t *cfg, ferry_err_t *err)
{
    int rc = exec_ok(tgt, "BEGIN", err, "begin the import");

    if (rc == 0)
        rc = map_idmap_ensure(tgt, cfg->state_schema, err);
    if (rc == 0)
        rc = exec_ok(tgt,
                     "CREATE TEMP TABLE ferry_idmap_import "
                     "(legacy_key text, uuid text) ON COMMIT DROP",
                     err, "create the import's staging table");
    return rc;
}

/* Runs a check query.  Returns 1 when it found a row (a problem; its first
 * two values go to v1 and v2), 0 when none, or FERRY_ETRANSIENT. */
static int
first_row(PGconn *tgt, const char *sql, const char *entity, char *v1, char *v2,
          size_t len, ferry_err_t *err)
{
    const char *params[1] = {entity};
    PGresult *res =
        PQexecParams(tgt, sql, entity ? 1 : 0, NULL, params, NULL, NULL, 0);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not check the imported rows: %s",
                           PQerrorMessage(tgt));
    } else if (PQntuples(res) > 0) {
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
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
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
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    params[0] = row_lsn;
    res = PQexecParams(tgt, "SELECT to_regclass($1) IS NOT NULL", 1, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not look for %s: %s",
                           row_lsn, PQerrorMessage(tgt));
        goto done;
    }
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
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    res = PQexec(tgt, sql);
    free(sql);
    sql = NULL;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not lock %s: %s",
                           row_lsn, PQerrorMessage(tgt));
        goto done;
    }
    PQclear(res);
    res = NULL;
    if (asprintf(&sql,
                 "DECLARE ferry_idmap_derived NO SCROLL CURSOR FOR "
                 "SELECT i.legacy_key, lower(i.uuid) FROM " STAGE " i "
                 "JOIN %s r ON r.entity = $1 AND r.legacy_key = i.legacy_key "
                 "WHERE NOT EXISTS (SELECT 1 FROM %s m WHERE m.entity = $1 "
                 "AND m.legacy_key = i.legacy_key)",
                 row_lsn, idmap) < 0) {
        sql = NULL;
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    params[0] = entity;
    res = PQexecParams(tgt, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not check the imported rows: %s",
                           PQerrorMessage(tgt));
        goto done;
    }
    open = true;
    rc = 0;
    while (rc == 0) {
        int i, n;

        PQclear(res);
        res = PQexec(tgt, "FETCH 10000 FROM ferry_idmap_derived");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "could not check the imported rows: %s",
                               PQerrorMessage(tgt));
            break;
        }
        n = PQntuples(res);
        if (n == 0)
            break;
        for (i = 0; i < n && rc == 0; i++) {
            const char *key = PQgetvalue(res, i, 0);
            map_uuid_t u;
            char text[MAP_UUID_STRLEN];

            if (map_uuid_entity(&ns, entity, key, &u) != 0) {
                rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
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
        rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
        goto done;
    }
    res = PQexecParams(tgt, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not insert into the id-map: %s",
                           PQerrorMessage(tgt));
        goto done;
    }
    *imported = atol(PQcmdTuples(res));
    rc = exec_ok(tgt, "COMMIT", err, "commit the import");

done:
    if (rc != 0)
        PQclear(PQexec(tgt, "ROLLBACK"));
    PQclear(res);
    free(sql);
    free(table);
    return rc;
}

/* Ends a COPY FROM STDIN and collects its result. */
static int
end_copy(PGconn *tgt, const char *errmsg, ferry_err_t *err)
{
    PGresult *res;
    int rc = 0;

    if (PQputCopyEnd(tgt, errmsg) != 1)
        rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not end COPY: %s",
                           PQerrorMessage(tgt));
    while ((res = PQgetResult(tgt)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = ferry_err_set(err, FERRY_EDATA,
                               "could not load the rows to import: %s",
                               PQerrorMessage(tgt));
        PQclear(res);
    }
    return rc;
}

static int
start_copy(PGconn *tgt, const char *options, ferry_err_t *err)
{
    char sql[256];
    PGresult *res;
    int rc = 0;

    snprintf(sql, sizeof(sql),
             "COPY " STAGE " (legacy_key, uuid) FROM STDIN WITH (%s)", options);
    res = PQexec(tgt, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN)
        rc = ferry_err_set(err, FERRY_ETRANSIENT, "could not start COPY: %s",
                           PQerrorMessage(tgt));
    PQclear(res);
    return rc;
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
    {
        int end = end_copy(tgt, rc == 0 ? NULL : "import aborted",
                           rc == 0 ? err : NULL);

        if (rc == 0)
            rc = end;
    }
    if (rc != 0)
        goto fail;
    return finish_import(tgt, cfg, e, imported, err);

fail:
    PQclear(PQexec(tgt, "ROLLBACK"));
    return rc;
}

/* Appends v to the COPY text line in buf, escaped; returns the new length,
 * or TOO_LONG when v does not fit. */
static size_t
copy_escape(char *buf, size_t used, size_t cap, const char *v)
{
    for (; *v; v++) {
        char c = *v;
        char esc = c == '\\'   ? '\\'
                   : c == '\t' ? 't'
                   : c == '\n' ? 'n'
                   : c == '\r' ? 'r'
                               : 0;

        if (used + 3 >= cap)
            return TOO_LONG;
        if (esc) {
            buf[used++] = '\\';
            buf[used++] = esc;
        } else {
            buf[used++] = c;
        }
    }
    return used;
}

static int
send_rows(PGconn *tgt, PGresult *rows, ferry_err_t *err)
{
    char line[4096];

    for (int r = 0; r < PQntuples(rows); r++) {
        size_t used = 0;

        if (PQgetisnull(rows, r, 0) || PQgetisnull(rows, r, 1))
            return ferry_err_set(err, FERRY_EDATA,
                                 "row %d has a NULL source_id or "
                                 "destination_id",
                                 r + 1);
        used =
            copy_escape(line, used, sizeof(line) - 2, PQgetvalue(rows, r, 0));
        if (used != TOO_LONG) {
            line[used++] = '\t';
            used = copy_escape(line, used, sizeof(line) - 2,
                               PQgetvalue(rows, r, 1));
        }
        if (used == TOO_LONG)
            return ferry_err_set(err, FERRY_EDATA,
                                 "row %d is too long to import", r + 1);
        line[used++] = '\n';
        if (PQputCopyData(tgt, line, (int)used) != 1)
            return ferry_err_set(err, FERRY_ETRANSIENT,
                                 "could not send the rows: %s",
                                 PQerrorMessage(tgt));
    }
    return 0;
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
        ferry_err_set(err, FERRY_ENOMEM, "out of memory");
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
    {
        int end = end_copy(tgt, rc == 0 ? NULL : "import aborted",
                           rc == 0 ? err : NULL);

        if (rc == 0)
            rc = end;
    }
    if (rc != 0)
        goto fail;
    PQclear(rows);
    return finish_import(tgt, cfg, e, imported, err);

fail:
    PQclear(rows);
    PQclear(PQexec(tgt, "ROLLBACK"));
    return rc;
}
