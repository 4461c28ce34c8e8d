/* ferry's logger: one line per call on stderr, with level and timestamp.
 * common/ferry_log.c */
#include "ferry_log.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static const char *log_progname = "ferry";
static enum ferry_log_level log_level = FERRY_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void
ferry_log_init(const char *progname)
{
    const char *env = getenv("FERRY_LOG_LEVEL");
    enum ferry_log_level lvl;

    log_progname = progname;
    if (env != NULL && ferry_log_parse_level(env, &lvl)) {
        log_level = lvl;
    }
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

void
ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
    char line[4096];
    char stamp[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    if (level < log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03d %s %s: %s\n", stamp, (int)(tv.tv_usec / 1000),
            log_progname, level_names[level], line);
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
