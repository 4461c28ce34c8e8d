/* PostgreSQL LSNs as text: the one parser and formatter of "X/X".
 * common/ferry_lsn.h
 *
 * An LSN is a 64-bit WAL position that PostgreSQL writes as two hex
 * numbers of up to 8 digits each, the high and the low 32 bits, around a
 * '/' ("16/B374D848").  Pure functions: any thread.
 */
#ifndef FERRY_LSN_H
#define FERRY_LSN_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* For log lines: ferry_info("at " FERRY_LSN_FMT, FERRY_LSN_ARGS(lsn)). */
#define FERRY_LSN_FMT "%X/%X"
#define FERRY_LSN_ARGS(lsn) (unsigned)((lsn) >> 32), (unsigned)(lsn)

/* Bytes ferry_lsn_format() needs at most: "FFFFFFFF/FFFFFFFF" and a NUL. */
#define FERRY_LSN_STRLEN 18

/* Parses the LSN text s[0..n) (borrowed; need not be NUL-terminated) into
 * *lsn.  Strict: exactly two numbers of 1 to 8 hex digits around one '/',
 * nothing else (no spaces, signs or "0x").  Returns false, leaving *lsn
 * alone, when s is not such a text. */
bool ferry_lsn_parse(const char *s, size_t n, uint64_t *lsn) FERRY_WUR;

/* Writes lsn as "%X/%X" (upper-case hex) into out (caller-owned, cap
 * bytes; FERRY_LSN_STRLEN suffice), NUL-terminated.  Returns the length of
 * the whole text without the NUL, as snprintf() does: with a smaller cap
 * the text is cut and the result is cap or more. */
size_t ferry_lsn_format(uint64_t lsn, char *out, size_t cap);

#endif
