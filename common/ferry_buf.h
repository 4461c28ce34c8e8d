/* ferry's one growable byte buffer: Kafka keys and values, SQL text, COPY
 * data, without a malloc per piece.
 * common/ferry_buf.h
 *
 * The hot path appends hundreds of small pieces per message, so an append
 * never returns a status: when growing fails the buffer remembers it
 * ("failed") and the caller checks once with ferry_buf_status() after the
 * whole text is built.  Appends after a failure may still land where they
 * fit, so the contents of a failed buffer are garbage; only the status
 * counts.  ferry_buf_reset() keeps the memory, so a buffer reused per
 * message stops allocating after the first few messages.
 *
 * The bytes are not NUL-terminated as they are appended (Kafka and COPY take
 * data and len); ferry_buf_cstr() terminates them for libpq and tests.  A
 * zeroed struct is an empty buffer, the same as after ferry_buf_init().
 *
 * A buffer is not thread-safe; each thread uses its own.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ferry_err.h"

typedef struct ferry_buf {
    char *data;  /* owned; NULL before the first append; not NUL-terminated */
    size_t len;  /* bytes in use */
    size_t cap;  /* bytes allocated; always > len once data is non-NULL */
    bool failed; /* an allocation failed; contents are garbage until reset */
} ferry_buf_t;

/* Makes an empty buffer without allocating.  buf: caller-owned. */
void ferry_buf_init(ferry_buf_t *buf);

/* Frees the memory the buffer owns; the buffer is empty and usable again. */
void ferry_buf_close(ferry_buf_t *buf);

/* Internal: grows so that more than n bytes fit after len; false (and
 * failed set) when the allocation fails. */
bool ferry_buf__grow(ferry_buf_t *buf, size_t n);

/* Empties the buffer and clears "failed", keeping its memory. */
static inline void
ferry_buf_reset(ferry_buf_t *buf)
{
    buf->len = 0;
    buf->failed = false;
}

/* Appends n bytes from p (borrowed; not NULL).  The "<=" keeps one spare
 * byte so that ferry_buf_cstr() never needs to grow. */
static inline void
ferry_buf_append(ferry_buf_t *buf, const void *p, size_t n)
{
    if (__builtin_expect(buf->cap - buf->len <= n, 0) &&
        !ferry_buf__grow(buf, n))
        return;
    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
}

/* Appends one byte. */
static inline void
ferry_buf_putc(ferry_buf_t *buf, char c)
{
    if (__builtin_expect(buf->cap - buf->len <= 1, 0) &&
        !ferry_buf__grow(buf, 1))
        return;
    buf->data[buf->len++] = c;
}

/* Appends a string literal without its terminating NUL.  The "" pasting
 * makes anything but a literal (a char pointer, whose sizeof is not its
 * length) a compile error. */
#define ferry_buf_append_lit(buf, lit)                                         \
    ferry_buf_append((buf), "" lit, sizeof("" lit) - 1)

/* Appends a NUL-terminated string (borrowed), without the NUL. */
void ferry_buf_append_str(ferry_buf_t *buf, const char *s);

/* Appends printf-formatted text (fmt and the arguments borrowed). */
void ferry_buf_printf(ferry_buf_t *buf, const char *fmt, ...)
    FERRY_PRINTF(2, 3);

/* Writes the decimal digits of v into out (caller-owned; no NUL) and
 * returns how many there are: what ferry_buf_append_u64() appends, for a
 * number appended more than once. */
size_t ferry_buf_u64_digits(uint64_t v, char out[20]);

/* As ferry_buf_printf(), with the arguments in ap (consumed). */
void ferry_buf_vprintf(ferry_buf_t *buf, const char *fmt, va_list ap)
    FERRY_PRINTF(2, 0);

/* Appends the decimal digits of v. */
void ferry_buf_append_u64(ferry_buf_t *buf, uint64_t v);

/* Appends the decimal digits of v, with a '-' when negative. */
void ferry_buf_append_i64(ferry_buf_t *buf, int64_t v);

/* Appends an LSN in PostgreSQL's "%X/%X" form (ferry_lsn_format()). */
void ferry_buf_append_lsn(ferry_buf_t *buf, uint64_t lsn);

/* Appends s[0..n) (borrowed, raw text) as a quoted JSON string: '"', '\\'
 * and control characters are escaped, other bytes (UTF-8) pass through. */
void ferry_buf_append_json_str(ferry_buf_t *buf, const char *s, size_t n);

/* Appends s[0..n) escaped as the inside of a JSON string, without quotes. */
void ferry_buf_append_json_esc(ferry_buf_t *buf, const char *s, size_t n);

/* Appends one field of PostgreSQL's COPY text format: the NUL-terminated s
 * (borrowed) with backslash, newline, carriage return and tab escaped, or
 * \N (SQL NULL) when s is NULL.  Field and row separators are the
 * caller's. */
void ferry_buf_append_copy_field(ferry_buf_t *buf, const char *s);

/* Returns 0, or FERRY_ENOMEM when an append since the last reset failed,
 * with err (may be NULL) set to "out of memory <what> (could not grow a
 * buffer beyond <cap> bytes)", what being fmt and its arguments (borrowed):
 * say what was being built ("building the upsert of entity \"doctors\""). */
int ferry_buf_status(const ferry_buf_t *buf, ferry_err_t *err, const char *fmt,
                     ...) FERRY_PRINTF(3, 4) FERRY_WUR;

/* Returns the contents NUL-terminated (borrowed; valid until the next
 * append, reset or close), or "" when the buffer has never held anything.
 * For libpq, logs and tests: Kafka and COPY take data and len. */
const char *ferry_buf_cstr(ferry_buf_t *buf);

/* Hands the contents over as a NUL-terminated string: returns a new string
 * (free with free()), "" when the buffer holds nothing, and leaves the
 * buffer empty and without memory, as ferry_buf_close() does.  Returns NULL
 * when an append failed or allocating the empty string failed (the buffer
 * is closed all the same). */
char *ferry_buf_take(ferry_buf_t *buf) FERRY_WUR;

#endif
