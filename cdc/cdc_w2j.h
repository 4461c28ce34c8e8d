/* A zero-copy, lossless parser of one wal2json format-version 2 message.
 * cdc/cdc_w2j.h
 *
 * wal2json writes one JSON object per change (actions B, C, I, U, D, T, M).
 * A general JSON library would turn numbers into doubles and unescape every
 * string only for ferry to escape it again, so this parser only finds token
 * boundaries: every value stays a slice of the input, strings stay escaped
 * exactly as wal2json wrote them, and numbers keep their exact digits
 * (99999999999999999999, -9223372036854775808, 1e-300, -0).
 *
 * The slices point into the caller's input, so a parsed message is valid only
 * while that input is.  A cdc_w2j_msg_t is reused from message to message:
 * its column arrays grow to the widest table seen and are then never
 * reallocated.  A message is used by one thread at a time.
 */
#ifndef CDC_W2J_H
#define CDC_W2J_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry_err.h"
#include "ferry_json.h"

/* Tokens and their kinds are common/ferry_json.h's: a ferry_json_tok_t
 * points into the parsed data; kind FERRY_JSON_ABSENT is an entry without
 * "value" (entries of "pk"), FERRY_JSON_NULL is SQL NULL (or, in wal2json
 * 2.5, NaN/Infinity of numeric and float types: see docs/format.md). */

/* One entry of "columns", "identity" or "pk". */
typedef struct cdc_w2j_col {
    ferry_json_tok_t name;  /* between the quotes, still JSON-escaped */
    ferry_json_tok_t type;  /* between the quotes, still escaped; ptr NULL
                            without include-types */
    ferry_json_tok_t value; /* the raw JSON token: a string keeps its quotes */
    ferry_json_kind_t kind; /* the JSON type of value */
} cdc_w2j_col_t;

/* A list of columns; the array is owned by the message. */
typedef struct cdc_w2j_cols {
    cdc_w2j_col_t *v; /* owned by the message; n entries valid */
    size_t n;         /* entries in this message */
    size_t cap;       /* entries allocated */
    bool present;     /* the key was in this message (even as []) */
} cdc_w2j_cols_t;

/* One decoded wal2json message. */
typedef struct cdc_w2j_msg {
    char action;                /* 'B', 'C', 'I', 'U', 'D', 'T' or 'M' */
    bool has_xid;               /* "xid" was a number (include-xids) */
    uint64_t xid;               /* transaction id */
    bool has_lsn;               /* "lsn" was present (include-lsn) */
    uint64_t lsn;               /* B and C: the commit LSN; I/U/D/T/M: the
                                   change's own LSN */
    bool has_nextlsn;           /* "nextlsn" was present (B and C) */
    uint64_t nextlsn;           /* B and C: the LSN after the commit record */
    ferry_json_tok_t timestamp; /* commit time text between the quotes, e.g.
                                "2024-02-29 10:34:56.789012+00"; ptr NULL if
                                absent or null */
    ferry_json_tok_t schema;    /* I/U/D/T: escaped, between the quotes */
    ferry_json_tok_t table;     /* I/U/D/T: escaped, between the quotes */
    cdc_w2j_cols_t columns;     /* I/U: new values; an unchanged TOASTed column
                                   is missing from an UPDATE */
    cdc_w2j_cols_t identity;    /* U/D: old replica identity columns */
    cdc_w2j_cols_t pk;          /* primary key names and types (include-pk);
                                   kind is FERRY_JSON_ABSENT */
    bool transactional;         /* M: "transactional" */
    ferry_json_tok_t prefix;    /* M: escaped, between the quotes */
    ferry_json_tok_t content;   /* M: the raw JSON token, quotes kept */
} cdc_w2j_msg_t;

/* Makes an empty message without allocating.  msg: caller-owned. */
void cdc_w2j_msg_init(cdc_w2j_msg_t *msg);

/* Frees the column arrays the message owns. */
void cdc_w2j_msg_close(cdc_w2j_msg_t *msg);

/* Parses one wal2json format-version 2 message, data[0..len) (borrowed; need
 * not be NUL-terminated), into msg, overwriting what it held.  Every slice in
 * msg points into data and is valid only while data is.  Returns 0, or
 * FERRY_EDATA for malformed input (err says what and at which byte), or
 * FERRY_ENOMEM.  Any thread, one message at a time. */
int cdc_w2j_parse(cdc_w2j_msg_t *msg, const char *data, size_t len,
                  ferry_err_t *err) FERRY_WUR;

/* Returns the column of cols named s[0..n) (raw text), or NULL.  hint is the
 * index to try first (the position where the name usually is).  Borrowed
 * from cols. */
const cdc_w2j_col_t *cdc_w2j_cols_find(const cdc_w2j_cols_t *cols,
                                       const char *s, size_t n, size_t hint);

#endif
