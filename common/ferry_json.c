/* The RFC 8259 number scanner.
 * common/ferry_json.c */
#include "ferry_json.h"

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
