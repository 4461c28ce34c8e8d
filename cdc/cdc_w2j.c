/* The zero-copy wal2json format-version 2 parser: finds token boundaries and
 * keeps every value as a slice of the input.
 * cdc/cdc_w2j.c */
#include "cdc_w2j.h"

#include "ferry_json.h"
#include "ferry_lsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_IS(tok, lit)                                                       \
    ((tok).len == sizeof(lit) - 1 && memcmp((tok).ptr, (lit), (tok).len) == 0)

/* wal2json writes every entry as {"name":"..","type":"..","value":..} with
 * no white space; matching that shape literally skips the generic member
 * loop.  Returns 1 when the entry was parsed, 0 (s->p unchanged) when it has
 * another shape, or an error from the scanners. */
static int
parse_col_fast(ferry_json_scan_t *s, cdc_w2j_col_t *col)
{
    const char *start = s->p;
    int rc;

    if (!ferry_json_take(s, "{\"name\":\"", 9))
        return 0;
    s->p--;
    if ((rc = ferry_json_string(s, &col->name)) != 0)
        return rc;
    if (ferry_json_take(s, ",\"type\":\"", 9)) {
        s->p--;
        if ((rc = ferry_json_string(s, &col->type)) != 0)
            return rc;
    }
    if (ferry_json_take(s, ",\"value\":", 9) &&
        (rc = ferry_json_scalar(s, &col->value, &col->kind)) != 0)
        return rc;
    if (ferry_json_take(s, "}", 1))
        return 1;
    memset(col, 0, sizeof(*col));
    s->p = start;
    return 0;
}

/* Parses one {"name":..,"type":..,"value":..} entry. */
static int
parse_col(ferry_json_scan_t *s, cdc_w2j_col_t *col)
{
    ferry_json_tok_t key;
    const char *open;
    int rc;

    memset(col, 0, sizeof(*col));
    ferry_json_skip_ws(s);
    if ((rc = parse_col_fast(s, col)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = ferry_json_expect(s, '{')) != 0)
        return rc;
    open = s->p - 1;
    ferry_json_skip_ws(s);
    if (s->p < s->end && *s->p == '}')
        s->p++;
    else
        do {
            if ((rc = ferry_json_string_value(s, &key, false)) != 0 ||
                (rc = ferry_json_expect(s, ':')) != 0)
                return rc;
            if (KEY_IS(key, "name"))
                rc = ferry_json_string_value(s, &col->name, false);
            else if (KEY_IS(key, "type"))
                rc = ferry_json_string_value(s, &col->type, false);
            else if (KEY_IS(key, "value"))
                rc = ferry_json_scalar(s, &col->value, &col->kind);
            else
                rc = ferry_json_skip_value(s, 2);
            if (rc != 0)
                return rc;
        } while ((rc = ferry_json_next_member(s, '}')) == 1);
    if (rc < 0)
        return rc;
    if (col->name.ptr == NULL) {
        s->p = open;
        return ferry_json_fail(s, "column entry without \"name\"");
    }
    return 0;
}

/* Parses an array of column entries into cols, growing it if needed.
 * need_value: every entry must have a "value" (columns and identity). */
static int
parse_cols(ferry_json_scan_t *s, cdc_w2j_cols_t *cols, bool need_value)
{
    const char *entry;
    int rc;

    cols->n = 0;
    cols->present = true;
    if ((rc = ferry_json_expect(s, '[')) != 0)
        return rc;
    ferry_json_skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    do {
        if (cols->n == cols->cap) {
            size_t cap = cols->cap < 16 ? 16 : cols->cap * 2;
            cdc_w2j_col_t *v = realloc(cols->v, cap * sizeof(*v));

            if (v == NULL)
                return ferry_err_set(s->err, FERRY_ENOMEM,
                                     "could not allocate %zu column entries",
                                     cap);
            cols->v = v;
            cols->cap = cap;
        }
        ferry_json_skip_ws(s);
        entry = s->p;
        if ((rc = parse_col(s, &cols->v[cols->n])) != 0)
            return rc;
        if (need_value && cols->v[cols->n].kind == FERRY_JSON_ABSENT) {
            s->p = entry;
            return ferry_json_fail(s, "column entry without \"value\"");
        }
        cols->n++;
    } while ((rc = ferry_json_next_member(s, ']')) == 1);
    return rc;
}

static int
parse_lsn_value(ferry_json_scan_t *s, bool *has, uint64_t *lsn)
{
    ferry_json_tok_t inner;
    const char *at;
    int rc;

    ferry_json_skip_ws(s);
    at = s->p;
    if ((rc = ferry_json_string_value(s, &inner, true)) != 0)
        return rc;
    if (inner.ptr == NULL)
        return 0;
    if (!ferry_lsn_parse(inner.ptr, inner.len, lsn)) {
        s->p = at;
        return ferry_json_fail(s, "invalid LSN");
    }
    *has = true;
    return 0;
}

static int
parse_xid(ferry_json_scan_t *s, cdc_w2j_msg_t *msg)
{
    ferry_json_tok_t tok;
    ferry_json_kind_t kind;
    const char *at;
    uint64_t v = 0;
    int rc;

    ferry_json_skip_ws(s);
    at = s->p;
    if ((rc = ferry_json_scalar(s, &tok, &kind)) != 0)
        return rc;
    if (kind == FERRY_JSON_NULL)
        return 0;
    for (size_t i = 0; kind == FERRY_JSON_NUMBER && i < tok.len; i++) {
        unsigned d = (unsigned)(tok.ptr[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            kind = FERRY_JSON_NULL;
            break;
        }
        v = v * 10 + d;
    }
    if (kind != FERRY_JSON_NUMBER) {
        s->p = at;
        return ferry_json_fail(s, "invalid \"xid\"");
    }
    msg->has_xid = true;
    msg->xid = v;
    return 0;
}

static int
parse_bool(ferry_json_scan_t *s, bool *out)
{
    ferry_json_tok_t tok;
    ferry_json_kind_t kind;
    const char *at;
    int rc;

    ferry_json_skip_ws(s);
    at = s->p;
    if ((rc = ferry_json_scalar(s, &tok, &kind)) != 0)
        return rc;
    if (kind != FERRY_JSON_TRUE && kind != FERRY_JSON_FALSE) {
        s->p = at;
        return ferry_json_fail(s, "expected true or false");
    }
    *out = kind == FERRY_JSON_TRUE;
    return 0;
}

static int
parse_action(ferry_json_scan_t *s, cdc_w2j_msg_t *msg)
{
    ferry_json_tok_t inner;
    const char *at;
    int rc;

    ferry_json_skip_ws(s);
    at = s->p;
    if ((rc = ferry_json_string_value(s, &inner, false)) != 0)
        return rc;
    if (inner.len != 1 || strchr("BCIUDTM", inner.ptr[0]) == NULL) {
        s->p = at;
        return ferry_json_fail(s, "unknown \"action\"");
    }
    msg->action = inner.ptr[0];
    return 0;
}

/* Parses the value of one top-level member named key. */
static int
parse_member(ferry_json_scan_t *s, cdc_w2j_msg_t *msg, ferry_json_tok_t key)
{
    ferry_json_kind_t kind;

    switch (key.len) {
    case 2:
        if (KEY_IS(key, "pk"))
            return parse_cols(s, &msg->pk, false);
        break;
    case 3:
        if (KEY_IS(key, "xid"))
            return parse_xid(s, msg);
        if (KEY_IS(key, "lsn"))
            return parse_lsn_value(s, &msg->has_lsn, &msg->lsn);
        break;
    case 5:
        if (KEY_IS(key, "table"))
            return ferry_json_string_value(s, &msg->table, false);
        break;
    case 6:
        if (KEY_IS(key, "action"))
            return parse_action(s, msg);
        if (KEY_IS(key, "schema"))
            return ferry_json_string_value(s, &msg->schema, false);
        if (KEY_IS(key, "prefix"))
            return ferry_json_string_value(s, &msg->prefix, true);
        break;
    case 7:
        if (KEY_IS(key, "columns"))
            return parse_cols(s, &msg->columns, true);
        if (KEY_IS(key, "nextlsn"))
            return parse_lsn_value(s, &msg->has_nextlsn, &msg->nextlsn);
        if (KEY_IS(key, "content"))
            return ferry_json_scalar(s, &msg->content, &kind);
        break;
    case 8:
        if (KEY_IS(key, "identity"))
            return parse_cols(s, &msg->identity, true);
        break;
    case 9:
        if (KEY_IS(key, "timestamp"))
            return ferry_json_string_value(s, &msg->timestamp, true);
        break;
    case 13:
        if (KEY_IS(key, "transactional"))
            return parse_bool(s, &msg->transactional);
        break;
    default:
        break;
    }
    return ferry_json_skip_value(s, 1);
}

static void
msg_clear(cdc_w2j_msg_t *msg)
{
    cdc_w2j_cols_t c = msg->columns, i = msg->identity, k = msg->pk;

    memset(msg, 0, sizeof(*msg));
    msg->columns = c;
    msg->identity = i;
    msg->pk = k;
    msg->columns.n = msg->identity.n = msg->pk.n = 0;
    msg->columns.present = msg->identity.present = msg->pk.present = false;
}

/* Checks that the members an action needs were all there. */
static int
check_required(const cdc_w2j_msg_t *msg, ferry_err_t *err)
{
    const char *missing = NULL;

    if (msg->action == 0)
        missing = "action";
    else if (strchr("IUDT", msg->action) != NULL && msg->schema.ptr == NULL)
        missing = "schema";
    else if (strchr("IUDT", msg->action) != NULL && msg->table.ptr == NULL)
        missing = "table";
    else if ((msg->action == 'I' || msg->action == 'U') &&
             !msg->columns.present)
        missing = "columns";
    else if (msg->action == 'D' && !msg->identity.present)
        missing = "identity";
    if (missing == NULL)
        return 0;
    if (msg->action == 0)
        return ferry_err_set(err, FERRY_EDATA,
                             "invalid wal2json message: missing \"action\"");
    return ferry_err_set(err, FERRY_EDATA,
                         "invalid wal2json message: action \"%c\" without "
                         "\"%s\"",
                         msg->action, missing);
}

int
cdc_w2j_parse(cdc_w2j_msg_t *msg, const char *data, size_t len,
              ferry_err_t *err)
{
    ferry_json_scan_t s = ferry_json_scan(data, len, "wal2json message", err);
    ferry_json_tok_t key;
    int rc;

    msg_clear(msg);
    if ((rc = ferry_json_expect(&s, '{')) != 0)
        return rc;
    ferry_json_skip_ws(&s);
    if (s.p < s.end && *s.p == '}')
        s.p++;
    else
        do {
            if ((rc = ferry_json_string_value(&s, &key, false)) != 0 ||
                (rc = ferry_json_expect(&s, ':')) != 0 ||
                (rc = parse_member(&s, msg, key)) != 0)
                return rc;
        } while ((rc = ferry_json_next_member(&s, '}')) == 1);
    if (rc < 0)
        return rc;
    ferry_json_skip_ws(&s);
    if (s.p != s.end)
        return ferry_json_fail(&s, "unexpected data after the message");
    return check_required(msg, err);
}

void
cdc_w2j_msg_init(cdc_w2j_msg_t *msg)
{
    memset(msg, 0, sizeof(*msg));
}

void
cdc_w2j_msg_close(cdc_w2j_msg_t *msg)
{
    free(msg->columns.v);
    free(msg->identity.v);
    free(msg->pk.v);
    memset(msg, 0, sizeof(*msg));
}

const cdc_w2j_col_t *
cdc_w2j_cols_find(const cdc_w2j_cols_t *cols, const char *s, size_t n,
                  size_t hint)
{
    if (hint < cols->n && ferry_json_tok_eq(cols->v[hint].name, s, n))
        return &cols->v[hint];
    for (size_t i = 0; i < cols->n; i++)
        if (i != hint && ferry_json_tok_eq(cols->v[i].name, s, n))
            return &cols->v[i];
    return NULL;
}
