/* The RFC 8259 number scanner and the zero-copy JSON tokenizer.
 * common/ferry_json.c */
#include "ferry_json.h"

#include <stdint.h>
#include <stdio.h>

static inline bool
is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

bool
ferry_json_scan_number(const char *p, const char *end, const char **stop)
{
    if (p < end && *p == '-')
        p++;
    if (!is_digit(p, end))
        goto bad;
    if (*p == '0')
        p++;
    else
        while (is_digit(p, end))
            p++;
    if (p < end && *p == '.') {
        p++;
        if (!is_digit(p, end))
            goto bad;
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            goto bad;
        while (is_digit(p, end))
            p++;
    }
    *stop = p;
    return true;
bad:
    *stop = p;
    return false;
}

/* --- the tokenizer ------------------------------------------------------ */

int
ferry_json_fail(ferry_json_scan_t *s, const char *why)
{
    return ferry_err_set(s->err, FERRY_EDATA, "invalid %s at byte %zu: %s",
                         s->what, (size_t)(s->p - s->start), why);
}

int
ferry_json_expect(ferry_json_scan_t *s, char c)
{
    char why[40];

    ferry_json_skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 0;
    }
    if (s->p >= s->end)
        snprintf(why, sizeof(why), "unexpected end of input, expected '%c'", c);
    else
        snprintf(why, sizeof(why), "expected '%c'", c);
    return ferry_json_fail(s, why);
}

#define JSON_ONES 0x0101010101010101ULL
#define JSON_HIGHS 0x8080808080808080ULL

/* Whether any byte of 8 needs a closer look: '"', '\\' or a control
 * character.  A byte >= 0x80 (UTF-8) never matches. */
static inline uint64_t
special8(uint64_t x)
{
    uint64_t q = x ^ (JSON_ONES * '"');
    uint64_t b = x ^ (JSON_ONES * '\\');

    return (((q - JSON_ONES) & ~q) | ((b - JSON_ONES) & ~b) |
            ((x - JSON_ONES * 0x20) & ~x)) &
           JSON_HIGHS;
}

static inline bool
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* Checks one escape at s->p (a backslash) and steps over it. */
static int
scan_escape(ferry_json_scan_t *s)
{
    if (s->end - s->p < 2)
        return ferry_json_fail(s, "unexpected end of input in string");
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
            return ferry_json_fail(s, "invalid \\u escape in string");
        s->p += 6;
        return 0;
    default:
        return ferry_json_fail(s, "invalid escape in string");
    }
}

size_t
ferry_json_plain_len(const char *s, size_t n)
{
    size_t i = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Eight bytes at a time: only the lowest flagged byte of special8()
     * is exact, and that is the one taken. */
    for (; n - i >= 8; i += 8) {
        uint64_t x, m;

        memcpy(&x, s + i, 8);
        m = special8(x);
        if (m != 0)
            return i + ((size_t)__builtin_ctzll(m) >> 3);
    }
#endif
    while (i < n && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20)
        i++;
    return i;
}

/* Moves s->p to the first byte that needs a closer look ('"', '\\' or a
 * control character). */
static inline void
skip_plain(ferry_json_scan_t *s)
{
    s->p += ferry_json_plain_len(s->p, (size_t)(s->end - s->p));
}

int
ferry_json_string(ferry_json_scan_t *s, ferry_json_tok_t *inner)
{
    int rc;

    s->p++;
    inner->ptr = s->p;
    for (;;) {
        skip_plain(s);
        if (s->p >= s->end)
            return ferry_json_fail(s, "unexpected end of input in string");
        if (*s->p == '"')
            break;
        if (*s->p != '\\')
            return ferry_json_fail(s, "control character in string");
        if ((rc = scan_escape(s)) != 0)
            return rc;
    }
    inner->len = (size_t)(s->p - inner->ptr);
    s->p++;
    return 0;
}

static int
scan_word(ferry_json_scan_t *s, const char *word, size_t n)
{
    if (!ferry_json_take(s, word, n))
        return ferry_json_fail(s, "invalid literal");
    return 0;
}

int
ferry_json_string_value(ferry_json_scan_t *s, ferry_json_tok_t *inner,
                        bool null_ok)
{
    ferry_json_skip_ws(s);
    if (null_ok && s->p < s->end && *s->p == 'n') {
        inner->ptr = NULL;
        inner->len = 0;
        return scan_word(s, "null", 4);
    }
    if (s->p >= s->end || *s->p != '"')
        return ferry_json_fail(s, s->p >= s->end
                                      ? "unexpected end of input, expected "
                                        "a string"
                                      : "expected a string");
    return ferry_json_string(s, inner);
}

int
ferry_json_scalar(ferry_json_scan_t *s, ferry_json_tok_t *tok,
                  ferry_json_kind_t *kind)
{
    ferry_json_tok_t inner;
    const char *stop;
    int rc;

    ferry_json_skip_ws(s);
    if (s->p >= s->end)
        return ferry_json_fail(s, "unexpected end of input, expected a value");
    tok->ptr = s->p;
    switch (*s->p) {
    case '"':
        *kind = FERRY_JSON_STRING;
        rc = ferry_json_string(s, &inner);
        break;
    case 't':
        *kind = FERRY_JSON_TRUE;
        rc = scan_word(s, "true", 4);
        break;
    case 'f':
        *kind = FERRY_JSON_FALSE;
        rc = scan_word(s, "false", 5);
        break;
    case 'n':
        *kind = FERRY_JSON_NULL;
        rc = scan_word(s, "null", 4);
        break;
    default:
        if (*s->p != '-' && (*s->p < '0' || *s->p > '9'))
            return ferry_json_fail(s, "expected a scalar value");
        *kind = FERRY_JSON_NUMBER;
        rc = ferry_json_scan_number(s->p, s->end, &stop) ? 0 : -1;
        s->p = stop;
        if (rc != 0)
            rc = ferry_json_fail(s, "invalid number");
        break;
    }
    tok->len = (size_t)(s->p - tok->ptr);
    return rc;
}

/* Skips the members of the object or array whose opener s->p is at. */
static int
skip_container(ferry_json_scan_t *s, int depth)
{
    char close = *s->p == '{' ? '}' : ']';
    bool object = close == '}';
    ferry_json_tok_t key;
    int rc;

    if (depth >= FERRY_JSON_MAX_DEPTH)
        return ferry_json_fail(s, "nesting too deep");
    s->p++;
    ferry_json_skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    do {
        if (object && ((rc = ferry_json_string_value(s, &key, false)) != 0 ||
                       (rc = ferry_json_expect(s, ':')) != 0))
            return rc;
        if ((rc = ferry_json_skip_value(s, depth + 1)) != 0)
            return rc;
    } while ((rc = ferry_json_next_member(s, close)) == 1);
    return rc;
}

int
ferry_json_value(ferry_json_scan_t *s, int depth, ferry_json_tok_t *tok,
                 ferry_json_kind_t *kind)
{
    int rc;

    ferry_json_skip_ws(s);
    if (s->p < s->end && (*s->p == '{' || *s->p == '[')) {
        *kind = *s->p == '{' ? FERRY_JSON_OBJECT : FERRY_JSON_ARRAY;
        tok->ptr = s->p;
        rc = skip_container(s, depth);
        tok->len = (size_t)(s->p - tok->ptr);
        return rc;
    }
    return ferry_json_scalar(s, tok, kind);
}

int
ferry_json_skip_value(ferry_json_scan_t *s, int depth)
{
    ferry_json_tok_t tok;
    ferry_json_kind_t kind;

    return ferry_json_value(s, depth, &tok, &kind);
}

int
ferry_json_next_member(ferry_json_scan_t *s, char close)
{
    char why[48];

    ferry_json_skip_ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    snprintf(why, sizeof(why), "%sexpected ',' or '%c'",
             s->p >= s->end ? "unexpected end of input, " : "", close);
    return ferry_json_fail(s, why);
}

/* --- decoding strings --------------------------------------------------- */

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

/* Decodes the character at *pp (escapes checked by the scanner) into out,
 * returning its length in bytes (1 to 4) and advancing *pp; *bad is set
 * for \u0000 and an unpaired surrogate (written as U+FFFD). */
static size_t
unescape_one(const char **pp, const char *end, char out[4], bool *bad)
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
    if (cp == 0 || (cp >= 0xD800 && cp < 0xE000)) {
        *bad = true;
        cp = 0xFFFD;
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

size_t
ferry_json_unescape(ferry_json_tok_t tok, char *out)
{
    const char *p = tok.ptr, *end = tok.ptr + tok.len, *bs;
    size_t n = 0;
    bool bad = false;

    while (p < end) {
        bs = memchr(p, '\\', (size_t)(end - p));
        if (bs == NULL)
            bs = end;
        memcpy(out + n, p, (size_t)(bs - p));
        n += (size_t)(bs - p);
        p = bs;
        if (p < end)
            n += unescape_one(&p, end, out + n, &bad);
    }
    out[n] = '\0';
    return bad ? (size_t)-1 : n;
}

bool
ferry_json_tok_eq(ferry_json_tok_t tok, const char *s, size_t n)
{
    const char *p = tok.ptr;
    const char *end = tok.ptr + tok.len;
    size_t off = 0;
    bool bad = false;

    if (tok.ptr == NULL)
        return false;
    if (memchr(tok.ptr, '\\', tok.len) == NULL)
        return tok.len == n && memcmp(tok.ptr, s, n) == 0;
    while (p < end) {
        char ch[4];
        size_t k = unescape_one(&p, end, ch, &bad);

        if (off + k > n || memcmp(s + off, ch, k) != 0)
            return false;
        off += k;
    }
    return off == n && !bad;
}

size_t
ferry_json_tok_unescape(ferry_json_tok_t tok, char *out, size_t outsz)
{
    const char *p = tok.ptr;
    const char *end = tok.ptr + tok.len;
    size_t total = 0;
    bool bad = false;

    while (p != NULL && p < end) {
        char ch[4];
        size_t k = unescape_one(&p, end, ch, &bad);

        for (size_t i = 0; i < k; i++, total++)
            if (total + 1 < outsz)
                out[total] = ch[i];
    }
    if (outsz > 0)
        out[total < outsz ? total : outsz - 1] = '\0';
    return total;
}

bool
ferry_json_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    while (p < end) {
        unsigned c = *p;
        size_t k;
        unsigned cp;

        if (c < 0x80) {
            uint64_t x;

            if (end - p >= 8) {
                memcpy(&x, p, 8);
                if ((x & JSON_HIGHS) == 0) {
                    p += 8;
                    continue;
                }
            }
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07;
        else
            return false;
        if ((size_t)(end - p) <= k)
            return false;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += k + 1;
    }
    return true;
}
