/* ferry's logger: one line per call on stderr, with level and timestamp.
 * common/ferry_log.c */
#include "ferry_log.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static const char *log_progname = "ferry";
static enum ferry_log_level log_level = FERRY_LOG_INFO;
static enum ferry_log_format log_format = FERRY_LOG_TEXT;

/* The standing fields of JSON lines. */
#define MAX_FIELDS 8
static char *field_keys[MAX_FIELDS];
static char *field_values[MAX_FIELDS];
static size_t n_fields;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void
ferry_log_init(const char *progname)
{
    const char *env = getenv("FERRY_LOG_LEVEL");
    enum ferry_log_level lvl;

    enum ferry_log_format fmt;

    log_progname = progname;
    if (env != NULL && ferry_log_parse_level(env, &lvl)) {
        log_level = lvl;
    }
    env = getenv("FERRY_LOG_FORMAT");
    if (env != NULL && ferry_log_parse_format(env, &fmt))
        log_format = fmt;
}

void
ferry_log_set_format(enum ferry_log_format format)
{
    log_format = format;
}

int
ferry_log_parse_format(const char *name, enum ferry_log_format *out)
{
    if (strcasecmp(name, "text") == 0) {
        *out = FERRY_LOG_TEXT;
        return 1;
    }
    if (strcasecmp(name, "json") == 0) {
        *out = FERRY_LOG_JSON;
        return 1;
    }
    return 0;
}

int
ferry_log_set_field(const char *key, const char *value)
{
    size_t i;
    char *v = strdup(value), *k;

    if (v == NULL)
        return -1;
    for (i = 0; i < n_fields; i++)
        if (strcmp(field_keys[i], key) == 0) {
            free(field_values[i]);
            field_values[i] = v;
            return 0;
        }
    if (n_fields == MAX_FIELDS || (k = strdup(key)) == NULL) {
        free(v);
        return -1;
    }
    field_keys[n_fields] = k;
    field_values[n_fields++] = v;
    return 0;
}

void
ferry_log_set_level(enum ferry_log_level level)
{
    log_level = level;
}

enum ferry_log_level
ferry_log_get_level(void)
{
    return log_level;
}

int
ferry_log_parse_level(const char *name, enum ferry_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0 ||
            (i == FERRY_LOG_WARNING && strcasecmp(name, "warn") == 0)) {
            *out = (enum ferry_log_level)i;
            return 1;
        }
    }
    return 0;
}

/* Appends s as a JSON string to out (size room), NUL-terminated; returns
 * the length appended, short of room when it does not fit. */
static size_t
json_str(char *out, size_t room, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (room < 3)
        return 0;
    out[n++] = '"';
    for (; *s != '\0' && n + 8 < room; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c == '\t') {
            out[n++] = '\\';
            out[n++] = 't';
        } else if (c < 0x20) {
            out[n++] = '\\';
            out[n++] = 'u';
            out[n++] = '0';
            out[n++] = '0';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

/* Appends ,"key":<string value> (or a bare number when num). */
static size_t
json_field(char *out, size_t room, const char *key, const char *value, bool num)
{
    size_t n;

    if (room < strlen(key) + 8)
        return 0;
    n = (size_t)snprintf(out, room, ",\"%s\":", key);
    if (num) {
        int w = snprintf(out + n, room - n, "%s", value);

        return w > 0 && (size_t)w < room - n ? n + (size_t)w : 0;
    }
    return n + json_str(out + n, room - n, value);
}

static void
write_line(enum ferry_log_level level, const ferry_logctx_t *ctx,
           const char *msg)
{
    static const char *const json_levels[] = {"debug", "info", "warning",
                                              "error"};
    char stamp[32], out[8192], num[32];
    struct timeval tv;
    struct tm tm;
    size_t n, i;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    if (log_format == FERRY_LOG_TEXT) {
        strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s.%03d %s %s: %s\n", stamp, (int)(tv.tv_usec / 1000),
                log_progname, level_names[level], msg);
        return;
    }
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    n = (size_t)snprintf(out, sizeof(out),
                         "{\"time\":\"%s.%03dZ\",\"level\":\"%s\"", stamp,
                         (int)(tv.tv_usec / 1000), json_levels[level]);
    n += json_field(out + n, sizeof(out) - n, "program", log_progname, false);
    n += json_field(out + n, sizeof(out) - n, "message", msg, false);
    for (i = 0; i < n_fields; i++)
        n += json_field(out + n, sizeof(out) - n, field_keys[i],
                        field_values[i], false);
    if (ctx != NULL) {
        if (ctx->slot != NULL)
            n += json_field(out + n, sizeof(out) - n, "slot", ctx->slot, false);
        if (ctx->lsn != 0) {
            snprintf(num, sizeof(num), "%X/%X", (unsigned)(ctx->lsn >> 32),
                     (unsigned)ctx->lsn);
            n += json_field(out + n, sizeof(out) - n, "lsn", num, false);
        }
        if (ctx->entity != NULL)
            n += json_field(out + n, sizeof(out) - n, "entity", ctx->entity,
                            false);
        if (ctx->key != NULL)
            n += json_field(out + n, sizeof(out) - n, "key", ctx->key, false);
        if (ctx->topic != NULL)
            n += json_field(out + n, sizeof(out) - n, "topic", ctx->topic,
                            false);
        if (ctx->partition >= 0) {
            snprintf(num, sizeof(num), "%d", ctx->partition);
            n += json_field(out + n, sizeof(out) - n, "partition", num, true);
        }
        if (ctx->offset >= 0) {
            snprintf(num, sizeof(num), "%lld", (long long)ctx->offset);
            n += json_field(out + n, sizeof(out) - n, "offset", num, true);
        }
    }
    if (n + 2 < sizeof(out)) {
        out[n++] = '}';
        out[n] = '\0';
    } else {
        /* Too long for one line: the message is what was cut. */
        snprintf(out, sizeof(out),
                 "{\"level\":\"%s\",\"program\":\"%s\",\"message\":"
                 "\"(a log line too long to write)\"}",
                 json_levels[level], log_progname);
    }
    fprintf(stderr, "%s\n", out);
}

void
ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
    char line[4096];
    va_list ap;

    if (level < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    write_line(level, NULL, line);
}

void
ferry_log_ctx(enum ferry_log_level level, const ferry_logctx_t *ctx,
              const char *fmt, ...)
{
    char line[4096];
    va_list ap;

    if (level < log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    write_line(level, ctx, line);
}

char *
ferry_log_dsn_safe(const char *dsn, char *buf, size_t buflen)
{
    static const char *const keep[] = {"host", "hostaddr", "port", "dbname",
                                       "user"};
    PQconninfoOption *opts;
    size_t used = 0;

    buf[0] = '\0';
    opts = PQconninfoParse(dsn, NULL);
    if (opts == NULL) {
        snprintf(buf, buflen, "(unparsable connection string)");
        return buf;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
            if (strcmp(o->keyword, keep[k]) != 0)
                continue;
            int n = snprintf(buf + used, buflen - used, "%s%s=%s",
                             used ? " " : "", o->keyword, o->val);
            if (n > 0 && (size_t)n < buflen - used)
                used += (size_t)n;
        }
    }
    PQconninfoFree(opts);
    return buf;
}
