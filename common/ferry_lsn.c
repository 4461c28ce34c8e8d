/* PostgreSQL LSNs as text.
 * common/ferry_lsn.c */
#include "ferry_lsn.h"

#include <stdio.h>
#include <string.h>

/* Parses 1 to 8 hex digits s[0..n). */
static bool
parse_hex32(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;

    if (n == 0 || n > 8)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        uint32_t d;

        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

bool
ferry_lsn_parse(const char *s, size_t n, uint64_t *lsn)
{
    const char *slash = s != NULL ? memchr(s, '/', n) : NULL;
    uint32_t hi, lo;

    /* The low half must hold no second '/': parse_hex32() refuses it. */
    if (slash == NULL || !parse_hex32(s, (size_t)(slash - s), &hi) ||
        !parse_hex32(slash + 1, n - (size_t)(slash - s) - 1, &lo))
        return false;
    *lsn = (uint64_t)hi << 32 | lo;
    return true;
}

size_t
ferry_lsn_format(uint64_t lsn, char *out, size_t cap)
{
    int n = snprintf(out, cap, FERRY_LSN_FMT, FERRY_LSN_ARGS(lsn));

    return n > 0 ? (size_t)n : 0;
}
