/* Command-line helpers shared by ferry's programs.
 * common/ferry_cli.c */
#include "ferry_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
