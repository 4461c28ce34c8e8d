/* The caller-owned error report shared by every ferry module.
 * common/ferry_err.c */
#include "ferry_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* libpq's messages end in a newline (and may hold several lines): keep the
 * report on one line. */
static void
trim_newlines(char *msg)
{
    size_t len = strlen(msg);

    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n')
            *p = ' ';
    }
}

int
ferry_err_set(ferry_err_t *err, int status, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return status;
    err->status = status;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    trim_newlines(err->msg);
    return status;
}

int
ferry_err_prefix(ferry_err_t *err, const char *fmt, ...)
{
    char prefix[512];
    char old[sizeof(err->msg)];
    va_list ap;

    if (err == NULL)
        return FERRY_EFATAL;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Truncation is acceptable: the message stays NUL-terminated. */
    size_t plen = strlen(prefix);
    if (plen + 2 >= sizeof(err->msg))
        plen = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    size_t rest = sizeof(err->msg) - plen - 3;
    size_t olen = strnlen(old, rest);
    memcpy(err->msg + plen + 2, old, olen);
    err->msg[plen + 2 + olen] = '\0';
    return err->status;
}

const char *
ferry_status_name(int status)
{
    switch (status) {
    case FERRY_OK:
        return "ok";
    case FERRY_ECONFIG:
        return "config";
    case FERRY_ETRANSIENT:
        return "transient";
    case FERRY_EFATAL:
        return "fatal";
    case FERRY_EDATA:
        return "data";
    case FERRY_ENOMEM:
        return "no memory";
    case FERRY_ESCHEMA:
        return "schema";
    default:
        return "unknown";
    }
}
