/* The logical replication connection to the source: slot handling, the
 * streaming protocol (XLogData, keepalives) and standby status updates.
 * cdc/cdc_repl.h
 *
 * A thin layer over libpq's replication mode, in the manner of PostgreSQL's
 * streamutil.c: it knows the wire format, not what the changes mean.  All
 * functions are for one thread at a time per connection.
 */
#ifndef CDC_REPL_H
#define CDC_REPL_H

#include "ferry_err.h"
#include "ferry_lsn.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One message from the server during START_REPLICATION. */
typedef struct cdc_repl_msg {
    enum { CDC_REPL_NONE, CDC_REPL_DATA, CDC_REPL_KEEPALIVE } kind;
    uint64_t wal_start;   /* XLogData: LSN of the change (dataStart) */
    uint64_t wal_end;     /* the server's current end of WAL */
    bool reply_requested; /* keepalive: the server wants a status now */
    const char *data;     /* XLogData payload, inside raw */
    size_t len;           /* payload length */
    char *raw;            /* owned: the libpq buffer, freed by the next
                             cdc_repl_read() or cdc_repl_msg_clear() */
} cdc_repl_msg_t;

/* Frees the message's buffer and zeroes it.  A message must start zeroed. */
void cdc_repl_msg_clear(cdc_repl_msg_t *msg);

/* Opens a replication connection (replication=database) from a libpq
 * conninfo string or URI.  Returns a new connection (PQfinish it) or NULL
 * with err set as ferry_pg_connect() does: FERRY_ECONFIG when the server
 * refused us, FERRY_ETRANSIENT when it could not be reached.  The message
 * never contains a password. */
PGconn *cdc_repl_connect(const char *dsn, ferry_err_t *err) FERRY_WUR;

/* Opens an ordinary (non-replication) connection for catalog queries. */
PGconn *cdc_repl_connect_sql(const char *dsn, ferry_err_t *err) FERRY_WUR;

/* Looks up the slot.  *exists tells whether it is there; when it is,
 * *plugin_ok whether it uses wal2json and *confirmed its confirmed_flush_lsn.
 * Works on either kind of connection. */
int cdc_repl_slot_info(PGconn *conn, const char *slot, bool *exists,
                       bool *plugin_ok, uint64_t *confirmed,
                       ferry_err_t *err) FERRY_WUR;

/* Creates the logical slot with wal2json.  When snapshot_name is not NULL
 * the snapshot is exported and its name copied there (at least 64 bytes);
 * the snapshot stays valid until the next command on conn.  *consistent_lsn
 * receives the slot's consistent point. */
int cdc_repl_create_slot(PGconn *conn, const char *slot, char *snapshot_name,
                         uint64_t *consistent_lsn, ferry_err_t *err) FERRY_WUR;

/* A table wal2json is to decode: its schema and name as the catalog
 * spells them (borrowed, any legal PostgreSQL name). */
typedef struct cdc_repl_table {
    const char *schema;
    const char *table;
} cdc_repl_table_t;

/* The START_REPLICATION command for slot from start_lsn with wal2json's
 * options, tables (count ntables) as add-tables so that only they are
 * decoded.  The slot is a quoted identifier ("" for a double quote); every
 * option value is a string literal of the replication grammar ('' for a
 * single quote; it knows no E'' and no backslash escapes); inside
 * add-tables each schema and table name has wal2json's escaping (a
 * backslash before a space, single quote, comma, period, asterisk and
 * backslash).  Returns a new string (free it) or NULL when out of memory. */
char *cdc_repl_command(const char *slot, uint64_t start_lsn,
                       const cdc_repl_table_t *tables, size_t ntables);

/* Sends cdc_repl_command()'s command and enters the CopyBoth stream. */
int cdc_repl_start(PGconn *conn, const char *slot, uint64_t start_lsn,
                   const cdc_repl_table_t *tables, size_t ntables,
                   ferry_err_t *err) FERRY_WUR;

/* Reads the next message without blocking into msg (which must be zeroed
 * or hold an earlier message: its buffer is freed).  Returns 1 with *msg
 * filled, 0
 * when nothing is available (wait on PQsocket), or a negative status: the
 * stream ended or the connection broke (FERRY_ETRANSIENT). */
int cdc_repl_read(PGconn *conn, cdc_repl_msg_t *msg, ferry_err_t *err);

/* Sends a standby status update: written and flushed up to flush_lsn. */
int cdc_repl_feedback(PGconn *conn, uint64_t written_lsn, uint64_t flush_lsn,
                      bool reply_requested, ferry_err_t *err) FERRY_WUR;

/* Waits until the socket is readable or timeout_ms passes. */
void cdc_repl_wait(PGconn *conn, int timeout_ms);

#endif
