/* The zero-copy wal2json format-version 2 parser: finds token boundaries and
 * keeps every value as a slice of the input.
 * cdc/cdc_w2j.c */
#include "cdc_w2j.h"

#include "ferry_json.h"
#include "ferry_lsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any wal2json option; keeps hostile input off the stack. */
#define W2J_MAX_DEPTH 32

#define KEY_IS(tok, lit)                                                       \
    ((tok).len == sizeof(lit) - 1 && memcmp((tok).ptr, (lit), (tok).len) == 0)

typedef struct scan {
    const char *start; /* first byte of the message, for error positions */
    const char *p;     /* next byte to read */
    const char *end;   /* one past the last byte */
    ferry_err_t *err;  /* caller's error report, may be NULL */
} scan_t;

static int
fail(scan_t *s, const char *what)
{
    return ferry_err_set(s->err, FERRY_EDATA,
                         "invalid wal2json message at byte %zu: %s",
                         (size_t)(s->p - s->start), what);
}

static inline void
skip_ws(scan_t *s)
{
    while (s->p < s->end && (unsigned char)*s->p <= ' ' &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r'))
        s->p++;
}

/* Skips white space and consumes c; fails with "expected 'c'". */
static int
expect(scan_t *s, char c)
{
    char what[40];

    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 0;
    }
    if (s->p >= s->end)
        snprintf(what, sizeof(what), "unexpected end of input, expected '%c'",
                 c);
    else
        snprintf(what, sizeof(what), "expected '%c'", c);
    return fail(s, what);
}

#define W2J_ONES 0x0101010101010101ULL
#define W2J_HIGHS 0x8080808080808080ULL

/* Whether any byte of 8 needs a closer look: '"', '\\' or a control
 * character.  A byte >= 0x80 (UTF-8) never matches. */
static inline uint64_t
special8(uint64_t x)
{
    uint64_t q = x ^ (W2J_ONES * '"');
    uint64_t b = x ^ (W2J_ONES * '\\');

    return (((q - W2J_ONES) & ~q) | ((b - W2J_ONES) & ~b) |
            ((x - W2J_ONES * 0x20) & ~x)) &
           W2J_HIGHS;
}

static inline bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* Checks one escape at s->p (a backslash) and steps over it. */
static int
scan_escape(scan_t *s)
{
    if (s->end - s->p < 2)
        return fail(s, "unexpected end of input in string");
    switch (s->p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        s->p += 2;
        return 0;
    case 'u':
        if (s->end - s->p < 6 || !is_hex(s->p[2]) || !is_hex(s->p[3]) ||
            !is_hex(s->p[4]) || !is_hex(s->p[5]))
            return fail(s, "invalid \\u escape in string");
        s->p += 6;
        return 0;
    default:
        return fail(s, "invalid escape in string");
    }
}

/* Moves s->p to the first byte that needs a closer look ('"', '\\' or a
 * control character), eight bytes at a time.  Only the lowest flagged byte
 * of special8() is exact, and that is the one taken. */
static inline void
skip_plain(scan_t *s)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (s->end - s->p >= 8) {
        uint64_t x, m;

        memcpy(&x, s->p, 8);
        m = special8(x);
        if (m != 0) {
            s->p += __builtin_ctzll(m) >> 3;
            return;
        }
        s->p += 8;
    }
#endif
    while (s->p < s->end && *s->p != '"' && *s->p != '\\' &&
           (unsigned char)*s->p >= 0x20)
        s->p++;
}

/* Scans the string at s->p (a '"'); *inner gets the bytes between the
 * quotes, and s->p ends after the closing quote. */
static int
scan_string(scan_t *s, cdc_w2j_tok_t *inner)
{
    int rc;

    s->p++;
    inner->ptr = s->p;
    for (;;) {
        skip_plain(s);
        if (s->p >= s->end)
            return fail(s, "unexpected end of input in string");
        if (*s->p == '"')
            break;
        if (*s->p != '\\')
            return fail(s, "control character in string");
        if ((rc = scan_escape(s)) != 0)
            return rc;
    }
    inner->len = (size_t)(s->p - inner->ptr);
    s->p++;
    return 0;
}

/* Scans a JSON number at s->p with the one RFC 8259 scanner
 * (ferry_json.h), without converting it. */
static int
scan_number(scan_t *s, cdc_w2j_tok_t *tok)
{
    const char *stop;
    bool ok = ferry_json_scan_number(s->p, s->end, &stop);

    tok->ptr = s->p;
    s->p = stop;
    if (!ok)
        return fail(s, "invalid number");
    tok->len = (size_t)(stop - tok->ptr);
    return 0;
}

static int
scan_word(scan_t *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "invalid literal");
    s->p += n;
    return 0;
}

/* Scans a scalar (string, number, true, false, null) at s->p after white
 * space; *tok gets the raw token, quotes included. */
static int
scan_scalar(scan_t *s, cdc_w2j_tok_t *tok, cdc_w2j_kind_t *kind)
{
    cdc_w2j_tok_t inner;
    int rc;

    skip_ws(s);
    if (s->p >= s->end)
        return fail(s, "unexpected end of input, expected a value");
    tok->ptr = s->p;
    switch (*s->p) {
    case '"':
        *kind = CDC_W2J_STRING;
        rc = scan_string(s, &inner);
        break;
    case 't':
        *kind = CDC_W2J_TRUE;
        rc = scan_word(s, "true", 4);
        break;
    case 'f':
        *kind = CDC_W2J_FALSE;
        rc = scan_word(s, "false", 5);
        break;
    case 'n':
        *kind = CDC_W2J_NULL;
        rc = scan_word(s, "null", 4);
        break;
    default:
        if (*s->p != '-' && (*s->p < '0' || *s->p > '9'))
            return fail(s, "expected a scalar value");
        *kind = CDC_W2J_NUMBER;
        rc = scan_number(s, tok);
        break;
    }
    tok->len = (size_t)(s->p - tok->ptr);
    return rc;
}

/* Scans a string value; *inner is the text between the quotes, or a NULL
 * slice when null_ok and the value is null. */
static int
scan_string_value(scan_t *s, cdc_w2j_tok_t *inner, bool null_ok)
{
    skip_ws(s);
    if (null_ok && s->p < s->end && *s->p == 'n') {
        inner->ptr = NULL;
        inner->len = 0;
        return scan_word(s, "null", 4);
    }
    if (s->p >= s->end || *s->p != '"')
        return fail(s, s->p >= s->end ? "unexpected end of input, expected "
                                        "a string"
                                      : "expected a string");
    return scan_string(s, inner);
}

static int skip_value(scan_t *s, int depth);

/* Skips the members of an object or array whose opener s->p is at. */
static int
skip_container(scan_t *s, int depth)
{
    char close = *s->p == '{' ? '}' : ']';
    bool object = close == '}';
    cdc_w2j_tok_t key;
    int rc;

    if (depth >= W2J_MAX_DEPTH)
        return fail(s, "nesting too deep");
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (object) {
            if ((rc = scan_string_value(s, &key, false)) != 0 ||
                (rc = expect(s, ':')) != 0)
                return rc;
        }
        if ((rc = skip_value(s, depth + 1)) != 0)
            return rc;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        return expect(s, close);
    }
}

/* Skips any JSON value (an option ferry does not use, say). */
static int
skip_value(scan_t *s, int depth)
{
    cdc_w2j_tok_t tok;
    cdc_w2j_kind_t kind;

    skip_ws(s);
    if (s->p < s->end && (*s->p == '{' || *s->p == '['))
        return skip_container(s, depth);
    return scan_scalar(s, &tok, &kind);
}

/* After a member: consumes ',' (returns 1) or the closer (returns 0). */
static int
next_member(scan_t *s, char close)
{
    char what[48];

    skip_ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    snprintf(what, sizeof(what), "%sexpected ',' or '%c'",
             s->p >= s->end ? "unexpected end of input, " : "", close);
    return fail(s, what);
}

/* Consumes the literal lit (n bytes) if the input continues with it. */
static inline bool
take(scan_t *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* wal2json writes every entry as {"name":"..","type":"..","value":..} with
 * no white space; matching that shape literally skips the generic member
 * loop.  Returns 1 when the entry was parsed, 0 (s->p unchanged) when it has
 * another shape, or an error from the scanners. */
static int
parse_col_fast(scan_t *s, cdc_w2j_col_t *col)
{
    const char *start = s->p;
    int rc;

    if (!take(s, "{\"name\":\"", 9))
        return 0;
    s->p--;
    if ((rc = scan_string(s, &col->name)) != 0)
        return rc;
    if (take(s, ",\"type\":\"", 9)) {
        s->p--;
        if ((rc = scan_string(s, &col->type)) != 0)
            return rc;
    }
    if (take(s, ",\"value\":", 9) &&
        (rc = scan_scalar(s, &col->value, &col->kind)) != 0)
        return rc;
    if (take(s, "}", 1))
        return 1;
    memset(col, 0, sizeof(*col));
    s->p = start;
    return 0;
}

/* Parses one {"name":..,"type":..,"value":..} entry. */
static int
parse_col(scan_t *s, cdc_w2j_col_t *col)
{
    cdc_w2j_tok_t key;
    const char *open;
    int rc;

    memset(col, 0, sizeof(*col));
    skip_ws(s);
    if ((rc = parse_col_fast(s, col)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = expect(s, '{')) != 0)
        return rc;
    open = s->p - 1;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}')
        s->p++;
    else
        do {
            if ((rc = scan_string_value(s, &key, false)) != 0 ||
                (rc = expect(s, ':')) != 0)
                return rc;
            if (KEY_IS(key, "name"))
                rc = scan_string_value(s, &col->name, false);
            else if (KEY_IS(key, "type"))
                rc = scan_string_value(s, &col->type, false);
            else if (KEY_IS(key, "value"))
                rc = scan_scalar(s, &col->value, &col->kind);
            else
                rc = skip_value(s, 2);
            if (rc != 0)
                return rc;
        } while ((rc = next_member(s, '}')) == 1);
    if (rc < 0)
        return rc;
    if (col->name.ptr == NULL) {
        s->p = open;
        return fail(s, "column entry without \"name\"");
    }
    return 0;
}

/* Parses an array of column entries into cols, growing it if needed.
 * need_value: every entry must have a "value" (columns and identity). */
static int
parse_cols(scan_t *s, cdc_w2j_cols_t *cols, bool need_value)
{
    const char *entry;
    int rc;

    cols->n = 0;
    cols->present = true;
    if ((rc = expect(s, '[')) != 0)
        return rc;
    skip_ws(s);
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
        skip_ws(s);
        entry = s->p;
        if ((rc = parse_col(s, &cols->v[cols->n])) != 0)
            return rc;
        if (need_value && cols->v[cols->n].kind == CDC_W2J_ABSENT) {
            s->p = entry;
            return fail(s, "column entry without \"value\"");
        }
        cols->n++;
    } while ((rc = next_member(s, ']')) == 1);
    return rc;
}

static int
parse_lsn_value(scan_t *s, bool *has, uint64_t *lsn)
{
    cdc_w2j_tok_t inner;
    const char *at;
    int rc;

    skip_ws(s);
    at = s->p;
    if ((rc = scan_string_value(s, &inner, true)) != 0)
        return rc;
    if (inner.ptr == NULL)
        return 0;
    if (!ferry_lsn_parse(inner.ptr, inner.len, lsn)) {
        s->p = at;
        return fail(s, "invalid LSN");
    }
    *has = true;
    return 0;
}

static int
parse_xid(scan_t *s, cdc_w2j_msg_t *msg)
{
    cdc_w2j_tok_t tok;
    cdc_w2j_kind_t kind;
    const char *at;
    uint64_t v = 0;
    int rc;

    skip_ws(s);
    at = s->p;
    if ((rc = scan_scalar(s, &tok, &kind)) != 0)
        return rc;
    if (kind == CDC_W2J_NULL)
        return 0;
    for (size_t i = 0; kind == CDC_W2J_NUMBER && i < tok.len; i++) {
        unsigned d = (unsigned)(tok.ptr[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            kind = CDC_W2J_NULL;
            break;
        }
        v = v * 10 + d;
    }
    if (kind != CDC_W2J_NUMBER) {
        s->p = at;
        return fail(s, "invalid \"xid\"");
    }
    msg->has_xid = true;
    msg->xid = v;
    return 0;
}

static int
parse_bool(scan_t *s, bool *out)
{
    cdc_w2j_tok_t tok;
    cdc_w2j_kind_t kind;
    const char *at;
    int rc;

    skip_ws(s);
    at = s->p;
    if ((rc = scan_scalar(s, &tok, &kind)) != 0)
        return rc;
    if (kind != CDC_W2J_TRUE && kind != CDC_W2J_FALSE) {
        s->p = at;
        return fail(s, "expected true or false");
    }
    *out = kind == CDC_W2J_TRUE;
    return 0;
}

static int
parse_action(scan_t *s, cdc_w2j_msg_t *msg)
{
    cdc_w2j_tok_t inner;
    const char *at;
    int rc;

    skip_ws(s);
    at = s->p;
    if ((rc = scan_string_value(s, &inner, false)) != 0)
        return rc;
    if (inner.len != 1 || strchr("BCIUDTM", inner.ptr[0]) == NULL) {
        s->p = at;
        return fail(s, "unknown \"action\"");
    }
    msg->action = inner.ptr[0];
    return 0;
}

/* Parses the value of one top-level member named key. */
static int
parse_member(scan_t *s, cdc_w2j_msg_t *msg, cdc_w2j_tok_t key)
{
    cdc_w2j_kind_t kind;

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
            return scan_string_value(s, &msg->table, false);
        break;
    case 6:
        if (KEY_IS(key, "action"))
            return parse_action(s, msg);
        if (KEY_IS(key, "schema"))
            return scan_string_value(s, &msg->schema, false);
        if (KEY_IS(key, "prefix"))
            return scan_string_value(s, &msg->prefix, true);
        break;
    case 7:
        if (KEY_IS(key, "columns"))
            return parse_cols(s, &msg->columns, true);
        if (KEY_IS(key, "nextlsn"))
            return parse_lsn_value(s, &msg->has_nextlsn, &msg->nextlsn);
        if (KEY_IS(key, "content"))
            return scan_scalar(s, &msg->content, &kind);
        break;
    case 8:
        if (KEY_IS(key, "identity"))
            return parse_cols(s, &msg->identity, true);
        break;
    case 9:
        if (KEY_IS(key, "timestamp"))
            return scan_string_value(s, &msg->timestamp, true);
        break;
    case 13:
        if (KEY_IS(key, "transactional"))
            return parse_bool(s, &msg->transactional);
        break;
    default:
        break;
    }
    return skip_value(s, 1);
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
    scan_t s = {data, data, data + len, err};
    cdc_w2j_tok_t key;
    int rc;

    msg_clear(msg);
    if ((rc = expect(&s, '{')) != 0)
        return rc;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}')
        s.p++;
    else
        do {
            if ((rc = scan_string_value(&s, &key, false)) != 0 ||
                (rc = expect(&s, ':')) != 0 ||
                (rc = parse_member(&s, msg, key)) != 0)
                return rc;
        } while ((rc = next_member(&s, '}')) == 1);
    if (rc < 0)
        return rc;
    skip_ws(&s);
    if (s.p != s.end)
        return fail(&s, "unexpected data after the message");
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

static unsigned
hex4(const char *p)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v = v << 4 | (unsigned)(c <= '9'   ? c - '0'
                                : c <= 'F' ? c - 'A' + 10
                                           : c - 'a' + 10);
    }
    return v;
}

/* Decodes the character at *pp (the parser has checked the escapes) into
 * out, returning its length in bytes (1 to 4) and advancing *pp. */
static size_t
unescape_one(const char **pp, const char *end, char out[4])
{
    const char *p = *pp;
    unsigned cp;

    if (*p != '\\') {
        out[0] = *p;
        *pp = p + 1;
        return 1;
    }
    *pp = p + 2;
    switch (p[1]) {
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        out[0] = p[1];
        return 1;
    }
    cp = hex4(p + 2);
    *pp = p + 6;
    if (cp >= 0xD800 && cp < 0xDC00 && end - *pp >= 6 && (*pp)[0] == '\\' &&
        (*pp)[1] == 'u') {
        unsigned lo = hex4(*pp + 2);

        if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *pp += 6;
        }
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool
cdc_w2j_tok_eq(cdc_w2j_tok_t tok, const char *s, size_t n)
{
    const char *p = tok.ptr;
    const char *end = tok.ptr + tok.len;
    size_t off = 0;

    if (tok.ptr == NULL)
        return false;
    if (memchr(tok.ptr, '\\', tok.len) == NULL)
        return tok.len == n && memcmp(tok.ptr, s, n) == 0;
    while (p < end) {
        char ch[4];
        size_t k = unescape_one(&p, end, ch);

        if (off + k > n || memcmp(s + off, ch, k) != 0)
            return false;
        off += k;
    }
    return off == n;
}

size_t
cdc_w2j_tok_unescape(cdc_w2j_tok_t tok, char *out, size_t outsz)
{
    const char *p = tok.ptr;
    const char *end = tok.ptr + tok.len;
    size_t total = 0;

    while (p != NULL && p < end) {
        char ch[4];
        size_t k = unescape_one(&p, end, ch);

        for (size_t i = 0; i < k; i++, total++)
            if (total + 1 < outsz)
                out[total] = ch[i];
    }
    if (outsz > 0)
        out[total < outsz ? total : outsz - 1] = '\0';
    return total;
}

const cdc_w2j_col_t *
cdc_w2j_cols_find(const cdc_w2j_cols_t *cols, const char *s, size_t n,
                  size_t hint)
{
    if (hint < cols->n && cdc_w2j_tok_eq(cols->v[hint].name, s, n))
        return &cols->v[hint];
    for (size_t i = 0; i < cols->n; i++)
        if (i != hint && cdc_w2j_tok_eq(cols->v[i].name, s, n))
            return &cols->v[i];
    return NULL;
}
