/* The growable byte buffer every ferry program builds its text in.
 * common/ferry_buf.c */
#include "ferry_buf.h"

#include "ferry_json.h"
#include "ferry_lsn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void
ferry_buf_init(ferry_buf_t *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->failed = false;
}

void
ferry_buf_close(ferry_buf_t *buf)
{
    free(buf->data);
    ferry_buf_init(buf);
}

bool
ferry_buf__grow(ferry_buf_t *buf, size_t n)
{
    size_t need;
    size_t cap;
    char *data;

    if (buf->failed)
        return false;
    if (n > SIZE_MAX / 2 - buf->len) {
        buf->failed = true;
        return false;
    }
    need = buf->len + n + 1;
    cap = buf->cap < 256 ? 256 : buf->cap;
    while (cap < need)
        cap *= 2;
    data = realloc(buf->data, cap);
    if (data == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->cap = cap;
    return true;
}

void
ferry_buf_append_str(ferry_buf_t *buf, const char *s)
{
    ferry_buf_append(buf, s, strlen(s));
}

void
ferry_buf_vprintf(ferry_buf_t *buf, const char *fmt, va_list ap)
{
    size_t room = buf->cap - buf->len;
    va_list again;
    int n;

    if (buf->failed)
        return;
    /* Straight into the spare room; only when the text does not fit is it
     * formatted a second time, after growing. */
    va_copy(again, ap);
    n = vsnprintf(buf->data != NULL ? buf->data + buf->len : NULL, room, fmt,
                  ap);
    if (n < 0) {
        buf->failed = true;
        va_end(again);
        return;
    }
    if ((size_t)n >= room) {
        if (!ferry_buf__grow(buf, (size_t)n)) {
            va_end(again);
            return;
        }
        vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, again);
    }
    va_end(again);
    buf->len += (size_t)n;
}

void
ferry_buf_printf(ferry_buf_t *buf, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ferry_buf_vprintf(buf, fmt, ap);
    va_end(ap);
}

size_t
ferry_buf_u64_digits(uint64_t v, char out[20])
{
    /* Two digits per division: integers are most of an envelope's
     * numbers (ferry-cdc's snapshot: a tenth of its instructions). */
    static const char pairs[] = "00010203040506070809"
                                "10111213141516171819"
                                "20212223242526272829"
                                "30313233343536373839"
                                "40414243444546474849"
                                "50515253545556575859"
                                "60616263646566676869"
                                "70717273747576777879"
                                "80818283848586878889"
                                "90919293949596979899";
    char tmp[20];
    size_t i = sizeof(tmp);

    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;

        v /= 100;
        tmp[--i] = pairs[d + 1];
        tmp[--i] = pairs[d];
    }
    if (v >= 10) {
        tmp[--i] = pairs[v * 2 + 1];
        tmp[--i] = pairs[v * 2];
    } else {
        tmp[--i] = (char)('0' + v);
    }
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

void
ferry_buf_append_u64(ferry_buf_t *buf, uint64_t v)
{
    char tmp[20];

    ferry_buf_append(buf, tmp, ferry_buf_u64_digits(v, tmp));
}

void
ferry_buf_append_i64(ferry_buf_t *buf, int64_t v)
{
    if (v < 0) {
        ferry_buf_putc(buf, '-');
        /* Negating through uint64_t is defined even for INT64_MIN. */
        ferry_buf_append_u64(buf, (uint64_t)0 - (uint64_t)v);
    } else {
        ferry_buf_append_u64(buf, (uint64_t)v);
    }
}

void
ferry_buf_append_lsn(ferry_buf_t *buf, uint64_t lsn)
{
    char tmp[FERRY_LSN_STRLEN];

    ferry_buf_append(buf, tmp, ferry_lsn_format(lsn, tmp, sizeof(tmp)));
}

void
ferry_buf_append_json_str(ferry_buf_t *buf, const char *s, size_t n)
{
    ferry_buf_putc(buf, '"');
    ferry_buf_append_json_esc(buf, s, n);
    ferry_buf_putc(buf, '"');
}

void
ferry_buf_append_json_esc(ferry_buf_t *buf, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    while (i < n) {
        size_t run = ferry_json_plain_len(s + i, n - i);
        unsigned char c;
        char esc[6] = {'\\', 'u', '0', '0', 0, 0};
        size_t elen = 2;

        /* Runs that need no escape are copied in one piece. */
        ferry_buf_append(buf, s + i, run);
        if ((i += run) == n)
            break;
        c = (unsigned char)s[i++];
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        ferry_buf_append(buf, esc, elen);
    }
}

void
ferry_buf_append_copy_field(ferry_buf_t *buf, const char *s)
{
    size_t start = 0, i;

    if (s == NULL) {
        ferry_buf_append_lit(buf, "\\N");
        return;
    }
    /* Runs without a special byte are copied in one piece. */
    for (i = 0; s[i] != '\0'; i++) {
        char esc[2] = {'\\', 0};

        switch (s[i]) {
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            continue;
        }
        ferry_buf_append(buf, s + start, i - start);
        ferry_buf_append(buf, esc, 2);
        start = i + 1;
    }
    ferry_buf_append(buf, s + start, i - start);
}

int
ferry_buf_status(const ferry_buf_t *buf, ferry_err_t *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    if (!buf->failed)
        return 0;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory %s (could not grow a buffer beyond "
                         "%zu bytes)",
                         what, buf->cap);
}

const char *
ferry_buf_cstr(ferry_buf_t *buf)
{
    if (buf->data == NULL)
        return "";
    buf->data[buf->len] = '\0';
    return buf->data;
}

char *
ferry_buf_take(ferry_buf_t *buf)
{
    char *s = buf->data;

    if (buf->failed) {
        ferry_buf_close(buf);
        return NULL;
    }
    if (s == NULL)
        return calloc(1, 1);
    s[buf->len] = '\0';
    ferry_buf_init(buf);
    return s;
}
