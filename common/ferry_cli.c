/* Command-line helpers shared by ferry's programs.
 * common/ferry_cli.c */
#include "ferry_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static volatile sig_atomic_t *stop_flag;

static void
on_stop_signal(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

int
ferry_cli_parse_long(const char *prog, const char *name, const char *arg,
                     long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: invalid %s \"%s\": expected %ld to %ld\n", prog,
                name, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int
ferry_parse_size(const char *arg, long long *out, const char **why)
{
    static const struct {
        const char *unit;
        int shift;
    } units[] = {{"", 0},    {"b", 0},  {"k", 10},  {"kb", 10}, {"m", 20},
                 {"mb", 20}, {"g", 30}, {"gb", 30}, {"t", 40},  {"tb", 40}};
    char *end;
    long long v;
    size_t i;

    errno = 0;
    v = strtoll(arg, &end, 10);
    if (errno != 0 || end == arg || v < 0) {
        *why = "expected a size such as 1048576, 512MB or 2GB";
        return -1;
    }
    while (*end == ' ')
        end++;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].unit) != 0)
            continue;
        if (units[i].shift > 0 && v > (LLONG_MAX >> units[i].shift)) {
            *why = "too large";
            return -1;
        }
        *out = v << units[i].shift;
        return 0;
    }
    *why = "unknown unit: expected kB, MB, GB or TB";
    return -1;
}

int
ferry_cli_parse_size(const char *prog, const char *name, const char *arg,
                     long long *out)
{
    const char *why = NULL;

    if (ferry_parse_size(arg, out, &why) == 0)
        return 0;
    fprintf(stderr, "%s: invalid %s \"%s\": %s\n", prog, name, arg, why);
    return -1;
}

void
ferry_cli_stop_on_signals(volatile sig_atomic_t *flag)
{
    struct sigaction sa;

    stop_flag = flag;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
