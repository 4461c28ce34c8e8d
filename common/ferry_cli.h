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

/* Makes SIGINT and SIGTERM set *flag (borrowed; must stay valid for the
 * life of the process) and ignores SIGPIPE.  Call once, from main. */
void ferry_cli_stop_on_signals(volatile sig_atomic_t *flag);

#endif
