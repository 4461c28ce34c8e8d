/* libpq replication mode: slots, START_REPLICATION, the CopyBoth stream.
 * cdc/cdc_repl.c */
#include "cdc_repl.h"

#include "ferry_buf.h"

#include "ferry_log.h"
#include "ferry_pg.h"

#include <endian.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

PGconn *
cdc_repl_connect(const char *dsn, ferry_err_t *err)
{
    return ferry_pg_connect(dsn, "database", "ferry-cdc", "source", err);
}

PGconn *
cdc_repl_connect_sql(const char *dsn, ferry_err_t *err)
{
    return ferry_pg_connect(dsn, NULL, "ferry-cdc", "source", err);
}

int
cdc_repl_slot_info(PGconn *conn, const char *slot, bool *exists,
                   bool *plugin_ok, uint64_t *confirmed, ferry_err_t *err)
{
    char *lit = PQescapeLiteral(conn, slot, strlen(slot));
    char sql[512];
    PGresult *res = NULL;
    int rc = FERRY_OK;

    if (lit == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "could not quote slot name");
    /* Simple query protocol only: replication connections refuse
     * parameters, so the name is quoted as a literal. */
    snprintf(sql, sizeof(sql),
             "SELECT plugin, confirmed_flush_lsn, slot_type "
             "FROM pg_catalog.pg_replication_slots WHERE slot_name = %s",
             lit);
    PQfreemem(lit);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ferry_err_set(err, FERRY_ETRANSIENT,
                           "could not look up replication slot \"%s\": %s",
                           slot, PQerrorMessage(conn));
        goto done;
    }
    *exists = PQntuples(res) == 1;
    *plugin_ok = false;
    *confirmed = 0;
    if (*exists) {
        *plugin_ok = strcmp(PQgetvalue(res, 0, 0), "wal2json") == 0 &&
                     strcmp(PQgetvalue(res, 0, 2), "logical") == 0;
        /* An unreadable LSN stays 0, as a NULL one does. */
        if (!PQgetisnull(res, 0, 1) &&
            !ferry_lsn_parse(PQgetvalue(res, 0, 1),
                             (size_t)PQgetlength(res, 0, 1), confirmed))
            *confirmed = 0;
    }

done:
    PQclear(res);
    return rc;
}

int
cdc_repl_create_slot(PGconn *conn, const char *slot, char *snapshot_name,
                     uint64_t *consistent_lsn, ferry_err_t *err)
{
    char *ident = PQescapeIdentifier(conn, slot, strlen(slot));
    char sql[512];
    PGresult *res;
    int rc = FERRY_OK;

    if (ident == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "could not quote slot name");
    snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL wal2json %s",
             ident, snapshot_name ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    PQfreemem(ident);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = ferry_err_set(err, FERRY_EFATAL,
                           "could not create replication slot \"%s\": %s", slot,
                           PQerrorMessage(conn));
        goto done;
    }
    if (!ferry_lsn_parse(PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1),
                         consistent_lsn)) {
        rc = ferry_err_set(err, FERRY_EFATAL,
                           "could not parse consistent point \"%s\" of "
                           "replication slot \"%s\"",
                           PQgetvalue(res, 0, 1), slot);
        goto done;
    }
    if (snapshot_name != NULL)
        snprintf(snapshot_name, 64, "%s",
                 PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
    ferry_info("created replication slot \"%s\" at " FERRY_LSN_FMT, slot,
               FERRY_LSN_ARGS(*consistent_lsn));

done:
    PQclear(res);
    return rc;
}

/* Appends name with wal2json's add-tables escaping. */
static void
w2j_name(ferry_buf_t *b, const char *name)
{
    for (const char *p = name; *p != '\0'; p++) {
        if (strchr(" ',.*\\", *p) != NULL)
            ferry_buf_append(b, "\\", 1);
        ferry_buf_append(b, p, 1);
    }
}

/* Appends s between q's, each q inside doubled: a quoted identifier (")
 * or a string literal (') of the replication grammar. */
static void
quoted(ferry_buf_t *b, const char *s, char q)
{
    ferry_buf_append(b, &q, 1);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == q)
            ferry_buf_append(b, &q, 1);
        ferry_buf_append(b, p, 1);
    }
    ferry_buf_append(b, &q, 1);
}

char *
cdc_repl_command(const char *slot, uint64_t start_lsn,
                 const cdc_repl_table_t *tables, size_t ntables)
{
    ferry_buf_t add, cmd;
    char *out = NULL;

    ferry_buf_init(&add);
    ferry_buf_init(&cmd);
    for (size_t i = 0; i < ntables; i++) {
        if (i > 0)
            ferry_buf_append(&add, ",", 1);
        w2j_name(&add, tables[i].schema);
        ferry_buf_append(&add, ".", 1);
        w2j_name(&add, tables[i].table);
    }
    ferry_buf_append_lit(&cmd, "START_REPLICATION SLOT ");
    quoted(&cmd, slot, '"');
    ferry_buf_printf(&cmd,
                     " LOGICAL " FERRY_LSN_FMT
                     " (\"format-version\" '2', \"include-xids\" '1', "
                     "\"include-timestamp\" '1', \"include-lsn\" '1', "
                     "\"include-pk\" '1', \"include-types\" '1', "
                     "\"add-tables\" ",
                     FERRY_LSN_ARGS(start_lsn));
    quoted(&cmd, ferry_buf_cstr(&add), '\'');
    ferry_buf_append_lit(&cmd, ")");
    if (!add.failed && !cmd.failed)
        out = strdup(ferry_buf_cstr(&cmd));
    ferry_buf_close(&add);
    ferry_buf_close(&cmd);
    return out;
}

int
cdc_repl_start(PGconn *conn, const char *slot, uint64_t start_lsn,
               const cdc_repl_table_t *tables, size_t ntables, ferry_err_t *err)
{
    char *sql = cdc_repl_command(slot, start_lsn, tables, ntables);
    PGresult *res = NULL;
    int rc = FERRY_OK;

    if (sql == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory building START_REPLICATION for "
                           "slot \"%s\"",
                           slot);
        goto done;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        /* A lost connection, or the slot still held by a walsender that
         * has not noticed its previous client died (object_in_use), is
         * cured by retrying; the server refusing an option is not. */
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool transient = PQstatus(conn) == CONNECTION_BAD ||
                         (state != NULL && strcmp(state, "55006") == 0);

        rc = ferry_err_set(err, transient ? FERRY_ETRANSIENT : FERRY_EFATAL,
                           "could not start replication on slot \"%s\": %s",
                           slot, PQerrorMessage(conn));
        goto done;
    }
    ferry_info("streaming from slot \"%s\" at " FERRY_LSN_FMT, slot,
               FERRY_LSN_ARGS(start_lsn));

done:
    PQclear(res);
    free(sql);
    return rc;
}

static uint64_t
get_u64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

static void
put_u64(char *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof(v));
}

int
cdc_repl_read(PGconn *conn, cdc_repl_msg_t *msg, ferry_err_t *err)
{
    char *buf = NULL;
    int n;

    cdc_repl_msg_clear(msg);
    n = PQgetCopyData(conn, &buf, 1);
    if (n == 0) {
        if (PQconsumeInput(conn) == 0)
            return ferry_err_set(err, FERRY_ETRANSIENT,
                                 "could not read from the source: %s",
                                 PQerrorMessage(conn));
        n = PQgetCopyData(conn, &buf, 1);
        if (n == 0)
            return 0;
    }
    if (n == -1) {
        PGresult *res = PQgetResult(conn);
        int st = PQresultStatus(res);

        PQclear(res);
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "the source ended the replication stream%s%s",
                             st == PGRES_COMMAND_OK ? "" : ": ",
                             st == PGRES_COMMAND_OK ? ""
                                                    : PQerrorMessage(conn));
    }
    if (n < 0)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not read from the source: %s",
                             PQerrorMessage(conn));
    msg->raw = buf;
    if (buf[0] == 'w' && n >= 25) {
        msg->kind = CDC_REPL_DATA;
        msg->wal_start = get_u64(buf + 1);
        msg->wal_end = get_u64(buf + 9);
        msg->data = buf + 25;
        msg->len = (size_t)n - 25;
        return 1;
    }
    if (buf[0] == 'k' && n >= 18) {
        msg->kind = CDC_REPL_KEEPALIVE;
        msg->wal_end = get_u64(buf + 1);
        msg->reply_requested = buf[17] != 0;
        return 1;
    }
    return ferry_err_set(err, FERRY_EFATAL,
                         "unexpected replication message of type \"%c\" and "
                         "length %d",
                         buf[0], n);
}

void
cdc_repl_msg_clear(cdc_repl_msg_t *msg)
{
    if (msg->raw != NULL)
        PQfreemem(msg->raw);
    memset(msg, 0, sizeof(*msg));
}

int
cdc_repl_feedback(PGconn *conn, uint64_t written_lsn, uint64_t flush_lsn,
                  bool reply_requested, ferry_err_t *err)
{
    char msg[34];
    struct timeval tv;
    int64_t now;

    gettimeofday(&tv, NULL);
    now = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec - PG_EPOCH_OFFSET_US;
    msg[0] = 'r';
    put_u64(msg + 1, written_lsn);
    put_u64(msg + 9, flush_lsn);
    put_u64(msg + 17, 0); /* applied: not tracked by a logical client */
    put_u64(msg + 25, (uint64_t)now);
    msg[33] = reply_requested ? 1 : 0;
    if (PQputCopyData(conn, msg, sizeof(msg)) <= 0 || PQflush(conn) != 0)
        return ferry_err_set(err, FERRY_ETRANSIENT,
                             "could not send feedback to the source: %s",
                             PQerrorMessage(conn));
    return FERRY_OK;
}

void
cdc_repl_wait(PGconn *conn, int timeout_ms)
{
    struct pollfd pfd = {PQsocket(conn), POLLIN, 0};

    if (pfd.fd >= 0)
        poll(&pfd, 1, timeout_ms);
}
