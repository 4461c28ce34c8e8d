/* A growable byte buffer that builds Kafka keys and values without a malloc
 * per value.
 * cdc/cdc_buf.h
 *
 * The hot path appends hundreds of small pieces per message, so an append
 * never returns a status: when growing fails the buffer remembers it
 * ("failed") and the caller checks once with cdc_buf_status() after the
 * whole message is built.  Appends after a failure may still land where
 * they fit, so the contents of a failed buffer are garbage; only the status
 * counts.  cdc_buf_reset() keeps
 * the memory, so a buffer reused per message stops allocating after the
 * first few messages.
 *
 * A buffer is not thread-safe; each thread uses its own.
 */
#ifndef CDC_BUF_H
#define CDC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ferry_err.h"

typedef struct cdc_buf {
    char *data;  /* owned; NULL before the first append; not NUL-terminated */
    size_t len;  /* bytes in use */
    size_t cap;  /* bytes allocated; always > len once data is non-NULL */
    bool failed; /* an allocation failed; contents are garbage until reset */
} cdc_buf_t;

/* Makes an empty buffer without allocating.  buf: caller-owned. */
void cdc_buf_init(cdc_buf_t *buf);

/* Frees the memory the buffer owns; the buffer is empty and usable again. */
void cdc_buf_close(cdc_buf_t *buf);

/* Internal: grows so that more than n bytes fit after len; false (and
 * failed set) when the allocation fails. */
bool cdc_buf__grow(cdc_buf_t *buf, size_t n);

/* Empties the buffer and clears "failed", keeping its memory. */
static inline void
cdc_buf_reset(cdc_buf_t *buf)
{
    buf->len = 0;
    buf->failed = false;
}

/* Appends n bytes from p (borrowed).  The "<=" keeps one spare byte so that
 * cdc_buf_cstr() never needs to grow. */
static inline void
cdc_buf_append(cdc_buf_t *buf, const void *p, size_t n)
{
    if (__builtin_expect(buf->cap - buf->len <= n, 0) && !cdc_buf__grow(buf, n))
        return;
    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
}

/* Appends one byte. */
static inline void
cdc_buf_putc(cdc_buf_t *buf, char c)
{
    if (__builtin_expect(buf->cap - buf->len <= 1, 0) && !cdc_buf__grow(buf, 1))
        return;
    buf->data[buf->len++] = c;
}

/* Appends a string literal without its terminating NUL.  The "" pasting
 * makes anything but a literal (a char pointer, whose sizeof is not its
 * length) a compile error. */
#define cdc_buf_append_lit(buf, lit)                                           \
    cdc_buf_append((buf), "" lit, sizeof("" lit) - 1)

/* Appends a NUL-terminated string (borrowed), without the NUL. */
void cdc_buf_append_str(cdc_buf_t *buf, const char *s);

/* Appends the decimal digits of v. */
void cdc_buf_append_u64(cdc_buf_t *buf, uint64_t v);

/* Appends the decimal digits of v, with a '-' when negative. */
void cdc_buf_append_i64(cdc_buf_t *buf, int64_t v);

/* Appends an LSN in PostgreSQL's "%X/%X" form. */
void cdc_buf_append_lsn(cdc_buf_t *buf, uint64_t lsn);

/* Appends s[0..n) (borrowed, raw text) as a quoted JSON string: '"', '\\'
 * and control characters are escaped, other bytes (UTF-8) pass through. */
void cdc_buf_append_json_str(cdc_buf_t *buf, const char *s, size_t n);

/* Appends s[0..n) escaped as the inside of a JSON string, without quotes. */
void cdc_buf_append_json_esc(cdc_buf_t *buf, const char *s, size_t n);

/* Returns 0, or FERRY_ENOMEM when an append since the last reset failed (and
 * sets err). */
int cdc_buf_status(const cdc_buf_t *buf, ferry_err_t *err) FERRY_WUR;

/* Returns the contents NUL-terminated (borrowed; valid until the next append,
 * reset or close), or "" when the buffer has never held anything.  For tests
 * and logs: Kafka takes data and len. */
const char *cdc_buf_cstr(cdc_buf_t *buf);

#endif
