/* What ferry's programs share on the command line: numeric options and the
 * signals that ask for a clean stop.
 * common/ferry_cli.h
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <signal.h>

/* Parses arg as a whole number from lo to hi into *out.  On failure prints
 * "<prog>: invalid <name> "<arg>": expected <lo> to <hi>" on stderr and
 * returns -1; returns 0 otherwise.  prog and name are borrowed. */
int ferry_cli_parse_long(const char *prog, const char *name, const char *arg,
                         long lo, long hi, long *out);

/* Parses arg as a size in bytes into *out: a whole number with an
 * optional unit, kB, MB, GB or TB (powers of 1024, as PostgreSQL's
 * settings; the B may be left out and case does not matter).  Returns 0,
 * or -1 with *why (static) saying what is wrong.  Checks nothing else:
 * prog-less, for options and ferry.yaml alike. */
int ferry_parse_size(const char *arg, long long *out, const char **why);

/* As ferry_parse_size(), for option name of prog (both borrowed): on
 * failure prints "<prog>: invalid <name> "<arg>": <why>" on stderr and
 * returns -1. */
int ferry_cli_parse_size(const char *prog, const char *name, const char *arg,
                         long long *out);

/* Makes SIGINT and SIGTERM set *flag (borrowed; must stay valid for the
 * life of the process) and ignores SIGPIPE.  Call once, from main. */
void ferry_cli_stop_on_signals(volatile sig_atomic_t *flag);

#endif
