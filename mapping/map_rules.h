/* The mapping's value rules, each in C and in SQL side by side: the
 * transforms, a column's value pipeline, the JSON check and the legacy key
 * text.
 * mapping/map_rules.h
 *
 * ferry-sink applies a rule in C to every value it writes; `ferry-map
 * validate` applies the same rule in SQL to the source table, so that both
 * sides of the comparison print a column the same way.  Each rule is
 * written here once per language, next to its twin, and
 * tests/integration/test_map_rules_agree.sh runs one set of tricky inputs
 * through both against a real PostgreSQL and requires equal answers.
 *
 * The transforms are one table (map_rules_transforms[]): its YAML name, its
 * line in docs/mapping.md, its C function and its SQL template.  The parser,
 * map_transform_name(), the docs (map_rules_print_transforms(), checked by a
 * unit test), the C pipeline and the SQL pipeline all read that table, so a
 * new transform is one enum value (map_config.h) and one row there.
 *
 * The value pipeline of a copy column (docs/mapping.md): the source value,
 * then each transform in order, then the values map, then the default when
 * the result is NULL, then the JSON check when json is set (on_invalid: null
 * writes NULL, on_invalid: error rejects the row).
 *
 * The SQL is built into a caller's ferry_buf_t (ferry_buf.h: appends never
 * fail on their own; the caller checks the buffer once).  Every text that
 * comes from the mapping (a values key, a default) goes through the
 * caller's value callback, which validate turns into a parameter; source
 * column names go through the column callback, which quotes them.
 *
 * Pure functions on read-only data: any thread.
 */
#ifndef MAP_RULES_H
#define MAP_RULES_H

#include "ferry_buf.h"
#include "ferry_err.h"
#include "map_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- The transforms ---------------------------------------------------- */

/* One transform: the same rule for ferry.yaml, the docs, C and SQL. */
typedef struct map_rules_transform {
    const char *name; /* the word in ferry.yaml's transform list */
    const char *doc;  /* its meaning: one row of docs/mapping.md's table */
    /* The C rule: rewrites *v, a non-NULL string of the caller's (from
     * malloc()), in place, or frees it and sets *v to NULL for SQL NULL.
     * Returns 0, or FERRY_ENOMEM with *v still the caller's. */
    int (*apply)(char **v);
    /* The SQL twin: an expression of type text with exactly one "%s", the
     * text expression it applies to; NULL in must give NULL out, as the C
     * pipeline stops at a NULL. */
    const char *sql;
} map_rules_transform_t;

/* The table, MAP_TRANSFORM__COUNT rows indexed by enum map_transform (the
 * parser stores the index). */
extern const map_rules_transform_t map_rules_transforms[];

/* Looks the transform called name (borrowed) up in the table: true with *out
 * set, or false when no transform has that name. */
bool map_rules_transform_find(const char *name, enum map_transform *out);

/* Writes the names of every transform as a message lists them ("trim,
 * lower, upper or nullif_empty") into out (caller-owned, cap bytes,
 * NUL-terminated; the words that fit when it is too small). */
void map_rules_transform_words(char *out, size_t cap);

/* Prints the table of transforms as docs/mapping.md carries it (a Markdown
 * table, one row per transform; `ferry-map keys` prints it too). */
void map_rules_print_transforms(FILE *out);

/* ---- The value pipeline of a copy column ------------------------------- */

/* Runs the value pipeline of copy column c (borrowed; c->kind must be
 * MAP_COLUMN_COPY) on the source value v (borrowed; NULL for SQL NULL, and
 * ignored for a column without from).  On success returns 0 and *out is a
 * new string (free with free()) or NULL for SQL NULL.  Returns FERRY_EDATA
 * with err (may be NULL) naming the column for a value that is not JSON
 * with json: true and on_invalid: error (the row is rejected), or
 * FERRY_ENOMEM; *out is NULL then. */
int map_rules_value(const map_column_t *c, const char *v, char **out,
                    ferry_err_t *err) FERRY_WUR;

/* True when map_rules_value() gives every non-NULL source value of copy
 * column c (borrowed) back unchanged, so that a caller may use the source
 * text itself: c has from, and no transform, values map or json check. */
bool map_rules_value_unchanged(const map_column_t *c);

/* How the SQL builders below name what they do not know themselves. */
typedef struct map_rules_sqlctx {
    /* Appends to b the SQL expression of source column name (borrowed),
     * e.g. s."name": a primary expression, any type (it gets "::text"). */
    void (*column)(ferry_buf_t *b, const char *name, void *arg);
    /* Appends to b a reference to the text value (borrowed, from the
     * model, never NULL): a parameter "$n" or a quoted literal.  It gets
     * "::text". */
    void (*value)(ferry_buf_t *b, const char *text, void *arg);
    void *arg; /* borrowed: handed to both callbacks */
} map_rules_sqlctx_t;

/* Appends to b the SQL twin of map_rules_value() for copy column c
 * (borrowed): one expression of type text over the source row, NULL where
 * the C pipeline gives NULL.  A value the C pipeline rejects (on_invalid:
 * error) is NULL here too: validate cannot leave out a column, and the
 * sink did not write the row (see map_rules_rejected_sql()).  With json:
 * true the expression calls pg_temp.ferry_json_or_null(), which the session
 * must have created first (map_rules_json_fn_sql). */
void map_rules_value_sql(ferry_buf_t *b, const map_column_t *c,
                         const map_rules_sqlctx_t *sx);

/* Appends to b a boolean SQL expression, true exactly where
 * map_rules_value() returns FERRY_EDATA for copy column c (borrowed): json:
 * true, on_invalid: error, and a non-NULL value before the check that is not
 * JSON; "false" for any other column.  Needs the function as
 * map_rules_value_sql() does. */
void map_rules_rejected_sql(ferry_buf_t *b, const map_column_t *c,
                            const map_rules_sqlctx_t *sx);

/* ---- JSON validity ----------------------------------------------------- */

/* Deepest nesting of arrays and objects that is valid JSON here, in both
 * twins.  PostgreSQL's own parser stops at its max_stack_depth (some
 * thousands of levels with the default 2MB), so a fixed limit below that
 * makes the answer the same everywhere. */
#define MAP_RULES_JSON_MAX_DEPTH 1024

/* True when the len bytes at s (borrowed; need not be NUL-terminated) are
 * one JSON text as PostgreSQL's json type accepts it: RFC 8259 syntax,
 * white space only space, tab, LF and CR, numbers of any size (one scanner
 * with ferry-cdc, ferry_json.h), any \uXXXX escape (json, unlike jsonb,
 * also takes \u0000 and unpaired surrogates), nesting at most
 * MAP_RULES_JSON_MAX_DEPTH deep. */
bool map_rules_json_valid(const char *s, size_t len);

/* The SQL twin of map_rules_json_valid(): a statement that creates the
 * temporary function pg_temp.ferry_json_or_null(text), which returns its
 * argument when map_rules_json_valid() accepts it and NULL otherwise (NULL
 * for NULL).  It is PostgreSQL's json input plus the depth limit; run it in
 * the session (it needs the TEMP privilege) before a query from
 * map_rules_value_sql() on a json: true column. */
extern const char *const map_rules_json_fn_sql;

/* ---- The legacy key text ----------------------------------------------- */

/* Builds the legacy key text from the n key values (borrowed, in key column
 * order, PostgreSQL text form, none NULL): each value with every "\" and ","
 * escaped by a "\", joined by ",".  This is the key of every derived UUID
 * (map_uuid_entity()) and the legacy_key of the id-map.  Returns a new
 * string (free with free()), or NULL when out of memory. */
char *map_rules_legacy_key(const char *const *values, size_t n);

/* The inverse of map_rules_legacy_key(): splits lkey (borrowed) at its
 * unescaped commas into n values, each unescaped.  On success *values is
 * a new array of new strings (free each, then the array) and *n their
 * number (at least 1), and returns 0; FERRY_ENOMEM otherwise (*values
 * NULL). */
int map_rules_legacy_key_split(const char *lkey, char ***values,
                               size_t *n) FERRY_WUR;

/* Appends to b the SQL twin of map_rules_legacy_key() over the n source
 * columns cols (borrowed; each through sx->column, cast to text): an
 * expression of type text, NULL when any column is NULL (where the sink
 * refuses the row). */
void map_rules_legacy_key_sql(ferry_buf_t *b, const char *const *cols, size_t n,
                              const map_rules_sqlctx_t *sx);

#endif
