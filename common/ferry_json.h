/* JSON text pieces every program reads the same way: the one scanner of
 * the RFC 8259 number grammar.
 * common/ferry_json.h
 *
 * ferry-cdc finds the numbers of a wal2json message with it, and the
 * mapping's JSON check (map_rules_json_valid()) validates the numbers of a
 * json: true column with it, so both accept exactly the same texts.  Only
 * the syntax is checked, nothing is converted: a number of any size or
 * precision ("1e400", a hundred digits) is fine, as it is for PostgreSQL's
 * json type.  Pure functions: any thread.
 */
#ifndef FERRY_JSON_H
#define FERRY_JSON_H

#include <stdbool.h>

/* Scans the JSON number that starts at p, by the grammar of RFC 8259
 * section 6:
 *
 *     -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 *
 * reading no byte at or past end (p and end borrowed, p <= end).  The
 * longest match is taken and what follows is the caller's business ("01"
 * scans as "0", and the caller finds the "1").  Returns true with *stop one
 * past the number's last byte; or false, when no number starts at p or one
 * breaks off ("-", "1.", "1e+"), with *stop at the first byte that breaks
 * the grammar (end when the input ran out), for error positions. */
bool ferry_json_scan_number(const char *p, const char *end, const char **stop);

#endif
