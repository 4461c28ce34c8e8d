/* JSON text pieces every program reads the same way: the one scanner of
 * the RFC 8259 number grammar, and the one zero-copy JSON tokenizer.
 * common/ferry_json.h
 *
 * ferry-cdc finds the numbers of a wal2json message with it, and the
 * mapping's JSON check (map_rules_json_valid()) validates the numbers of a
 * json: true column with it, so both accept exactly the same texts.  Only
 * the syntax is checked, nothing is converted: a number of any size or
 * precision ("1e400", a hundred digits) is fine, as it is for PostgreSQL's
 * json type.
 *
 * The tokenizer (ferry_json_scan_t) reads a JSON text front to back
 * without building a tree: every token is a slice of the input (strings
 * still escaped, numbers with their exact digits), and the caller decides
 * what to keep.  ferry-cdc parses wal2json with it (cdc/cdc_w2j.c) and
 * ferry-sink parses ferry-cdc's events with it (sink/sink_event.c).
 * Strings are checked as they are scanned (escapes, no raw control
 * characters), so ferry_json_unescape() can decode them without checks.
 * Slices borrow the scanned input and are valid while it is.  Pure
 * functions: any thread, one scanner per thread.
 */
#ifndef FERRY_JSON_H
#define FERRY_JSON_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Scans the JSON number that starts at p, by the grammar of RFC 8259
 * section 6:
 *
 *     -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 *
 * reading no byte at or past end (p and end borrowed, p <= end).  The
 * longest match is taken and what follows is the caller's business ("01"
 * scans as "0", and the caller finds the "1").  Returns true with *stop one
 * past the number's last byte; or false, when no number starts at p or one
 * breaks off ("-", "1.", "1e+"), with *stop at the first byte that breaks
 * the grammar (end when the input ran out), for error positions. */
bool ferry_json_scan_number(const char *p, const char *end, const char **stop);

/* A slice of the scanned input (borrowed). */
typedef struct ferry_json_tok {
    const char *ptr; /* first byte, or NULL when absent (or null, where a
                        function says so) */
    size_t len;      /* bytes */
} ferry_json_tok_t;

/* The JSON type of a value. */
typedef enum ferry_json_kind {
    FERRY_JSON_ABSENT = 0, /* no value (a member that was not there) */
    FERRY_JSON_NULL,       /* null */
    FERRY_JSON_FALSE,      /* false */
    FERRY_JSON_TRUE,       /* true */
    FERRY_JSON_NUMBER,     /* a number, digits kept exactly */
    FERRY_JSON_STRING,     /* a string, escapes kept */
    FERRY_JSON_OBJECT,     /* an object (ferry_json_value() only) */
    FERRY_JSON_ARRAY       /* an array (ferry_json_value() only) */
} ferry_json_kind_t;

/* Nesting deeper than this is refused: keeps hostile input off the stack. */
#define FERRY_JSON_MAX_DEPTH 32

/* A cursor over one JSON text.  Errors read "invalid <what> at byte N:
 * <why>" (N counted from start) and go to err (may be NULL). */
typedef struct ferry_json_scan {
    const char *start; /* first byte of the text, for error positions */
    const char *p;     /* next byte to read */
    const char *end;   /* one past the last byte */
    const char *what;  /* borrowed, static: "wal2json message", ... */
    ferry_err_t *err;  /* borrowed: the caller's error report, or NULL */
} ferry_json_scan_t;

/* A scanner over data[0..len) (borrowed, need not be NUL-terminated). */
static inline ferry_json_scan_t
ferry_json_scan(const char *data, size_t len, const char *what,
                ferry_err_t *err)
{
    ferry_json_scan_t s = {data, data, data + len, what, err};

    return s;
}

/* Reports why at the current position: FERRY_EDATA. */
int ferry_json_fail(ferry_json_scan_t *s, const char *why);

/* Skips white space. */
static inline void
ferry_json_skip_ws(ferry_json_scan_t *s)
{
    while (s->p < s->end && (unsigned char)*s->p <= ' ' &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r'))
        s->p++;
}

/* Consumes the literal lit (n bytes) if the input continues with it,
 * without skipping white space first. */
static inline bool
ferry_json_take(ferry_json_scan_t *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Skips white space and consumes c, or fails with "expected 'c'". */
int ferry_json_expect(ferry_json_scan_t *s, char c);

/* Scans the string whose opening quote s->p is at; *inner gets the bytes
 * between the quotes (still escaped), and s->p ends after the closing
 * quote.  Escapes are checked (\uXXXX has four hex digits), raw control
 * characters refused. */
int ferry_json_string(ferry_json_scan_t *s, ferry_json_tok_t *inner);

/* Skips white space and scans a string, *inner as ferry_json_string();
 * with null_ok a null gives a NULL slice. */
int ferry_json_string_value(ferry_json_scan_t *s, ferry_json_tok_t *inner,
                            bool null_ok);

/* Skips white space and scans a scalar (string, number, true, false,
 * null); *tok gets the raw token, quotes included. */
int ferry_json_scalar(ferry_json_scan_t *s, ferry_json_tok_t *tok,
                      ferry_json_kind_t *kind);

/* Skips white space and scans any value: a scalar as
 * ferry_json_scalar(), an object or an array skipped whole (nesting
 * checked to FERRY_JSON_MAX_DEPTH less depth), *tok its raw text. */
int ferry_json_value(ferry_json_scan_t *s, int depth, ferry_json_tok_t *tok,
                     ferry_json_kind_t *kind);

/* Skips any value, as ferry_json_value(). */
int ferry_json_skip_value(ferry_json_scan_t *s, int depth);

/* After a member of an object (close '}') or array (close ']'): consumes
 * ',' and returns 1, or the closer and returns 0; else FERRY_EDATA (< 0).
 * Callers loop while it returns 1. */
int ferry_json_next_member(ferry_json_scan_t *s, char close);

/* Decodes the escaped string text tok (a string's inner slice that
 * ferry_json_string() accepted) into out, which has room for tok.len + 1
 * bytes (an unescaped text is never longer than its escaped form), and
 * NUL-terminates it.  \uXXXX becomes UTF-8; a surrogate pair one
 * character.  Returns the decoded length, or (size_t)-1 when the text
 * holds \u0000 or an unpaired surrogate, which no PostgreSQL text can. */
size_t ferry_json_unescape(ferry_json_tok_t tok, char *out);

/* Whether the escaped token tok and the raw (unescaped) text s[0..n) name
 * the same string.  Fast when tok holds no backslash. */
bool ferry_json_tok_eq(ferry_json_tok_t tok, const char *s, size_t n);

/* Unescapes tok into out (caller-owned, outsz bytes, always NUL-terminated
 * when outsz > 0; truncated if too small).  Returns the length of the whole
 * unescaped text, which may exceed outsz - 1.  For logs and lookups. */
size_t ferry_json_tok_unescape(ferry_json_tok_t tok, char *out, size_t outsz);

/* The bytes at s (n of them, borrowed) before the first that a JSON
 * string cannot hold as it is: '"', '\\' or a control character.  What the
 * scanner skips in a string, and what ferry_buf_append_json_esc() copies
 * without escaping: one predicate for both directions. */
size_t ferry_json_plain_len(const char *s, size_t n);

/* Whether s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF).  ASCII is checked eight bytes at a time. */
bool ferry_json_utf8_valid(const char *s, size_t n);

#endif
