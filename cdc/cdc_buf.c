/* The growable byte buffer behind ferry-cdc's keys and values.
 * cdc/cdc_buf.c */
#include "cdc_buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void
cdc_buf_init(cdc_buf_t *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->failed = false;
}

void
cdc_buf_close(cdc_buf_t *buf)
{
    free(buf->data);
    cdc_buf_init(buf);
}

bool
cdc_buf__grow(cdc_buf_t *buf, size_t n)
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
cdc_buf_append_str(cdc_buf_t *buf, const char *s)
{
    cdc_buf_append(buf, s, strlen(s));
}

void
cdc_buf_append_u64(cdc_buf_t *buf, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    cdc_buf_append(buf, tmp + i, sizeof(tmp) - i);
}

void
cdc_buf_append_i64(cdc_buf_t *buf, int64_t v)
{
    if (v < 0) {
        cdc_buf_putc(buf, '-');
        /* Negating through uint64_t is defined even for INT64_MIN. */
        cdc_buf_append_u64(buf, (uint64_t)0 - (uint64_t)v);
    } else {
        cdc_buf_append_u64(buf, (uint64_t)v);
    }
}

void
cdc_buf_append_lsn(cdc_buf_t *buf, uint64_t lsn)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRIX32 "/%" PRIX32,
                     (uint32_t)(lsn >> 32), (uint32_t)lsn);

    cdc_buf_append(buf, tmp, (size_t)n);
}

void
cdc_buf_append_json_str(cdc_buf_t *buf, const char *s, size_t n)
{
    cdc_buf_putc(buf, '"');
    cdc_buf_append_json_esc(buf, s, n);
    cdc_buf_putc(buf, '"');
}

void
cdc_buf_append_json_esc(cdc_buf_t *buf, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 'u', '0', '0', 0, 0};
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        cdc_buf_append(buf, s + start, i - start);
        start = i + 1;
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
        cdc_buf_append(buf, esc, elen);
    }
    cdc_buf_append(buf, s + start, n - start);
}

int
cdc_buf_status(const cdc_buf_t *buf, ferry_err_t *err)
{
    if (buf->failed)
        return ferry_err_set(err, FERRY_ENOMEM,
                             "could not grow message buffer beyond %zu bytes",
                             buf->cap);
    return 0;
}

const char *
cdc_buf_cstr(cdc_buf_t *buf)
{
    if (buf->data == NULL)
        return "";
    buf->data[buf->len] = '\0';
    return buf->data;
}
