/* Diagnostics: every problem found in a mapping, with where and why.
 * mapping/map_diag.h
 *
 * The parser and the live check never stop at the first problem: they add
 * one diagnostic per problem to a caller-owned list and go on.  Each names
 * the file, line and column (1-based) of the YAML node at fault, the key path
 * ("entities.doctors.columns.office_id.ref"), a message saying what was
 * found and what was expected, and optionally a hint saying how to fix it.
 * Messages never carry a DSN or a password.
 *
 * A list belongs to one thread at a time.
 */
#ifndef MAP_DIAG_H
#define MAP_DIAG_H

#include "ferry_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A place in the mapping file; line and column are 1-based, 0 if unknown. */
typedef struct map_pos {
    int line;   /* 1-based line, 0 when the place is unknown */
    int column; /* 1-based column, 0 when the place is unknown */
} map_pos_t;

typedef struct map_diag {
    char *file;    /* owned by the list: the mapping file, or NULL */
    map_pos_t pos; /* where the problem is in file */
    char *path;    /* owned by the list: key path, "" for the whole file */
    char *msg;     /* owned by the list: lower case, no trailing period */
    char *hint;    /* owned by the list: how to fix it, or NULL */
} map_diag_t;

typedef struct map_diags {
    map_diag_t *items; /* owned: the diagnostics in the order found */
    size_t n;          /* number of diagnostics */
    size_t cap;        /* allocated slots in items */
    bool oom;          /* true when a diagnostic was lost for lack of memory */
} map_diags_t;

/* Prepares an empty caller-allocated list. */
void map_diags_init(map_diags_t *diags);

/* Frees what the list owns; the list is empty and reusable afterwards. */
void map_diags_free(map_diags_t *diags);

/* Adds a diagnostic.  file, path and the formatted message are copied; file
 * and path may be NULL.  On allocation failure sets diags->oom and drops the
 * diagnostic.  Returns the new diagnostic (borrowed, valid until the next
 * add or free) or NULL. */
map_diag_t *map_diags_add(map_diags_t *diags, const char *file, map_pos_t pos,
                          const char *path, const char *fmt, ...)
    FERRY_PRINTF(5, 6);

/* Sets the hint of d (from map_diags_add; NULL is ignored).  The hint is
 * copied. */
void map_diag_hint(map_diag_t *d, const char *fmt, ...) FERRY_PRINTF(2, 3);

/* Prints each diagnostic as "FILE:LINE:COLUMN: PATH: MESSAGE" followed, when
 * there is one, by an indented "hint: ..." line. */
void map_diags_print(const map_diags_t *diags, FILE *out);

#endif
