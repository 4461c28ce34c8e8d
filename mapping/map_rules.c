/* The mapping's value rules in C and their SQL twins, side by side.
 * mapping/map_rules.c
 *
 * Each section holds one rule twice: the C that ferry-sink runs and the SQL
 * that `ferry-map validate` runs on the source.  Change one, change the
 * other in the same commit; tests/integration/test_map_rules_agree.sh fails
 * when they give different answers.
 */
#include "map_rules.h"

#include "ferry_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_RULES_STR_(x) #x
#define MAP_RULES_STR(x) MAP_RULES_STR_(x)

/* ---- The transforms ---------------------------------------------------- */

/* The white space trim strips: C's isspace() in the C locale.  Written out
 * so that no locale changes it; the SQL twin lists the same six bytes. */
static bool
is_trim_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' ||
           ch == '\r';
}

static int
apply_trim(char **v)
{
    char *s = *v;
    size_t b = 0, e = strlen(s);

    while (b < e && is_trim_space(s[b]))
        b++;
    while (e > b && is_trim_space(s[e - 1]))
        e--;
    memmove(s, s + b, e - b);
    s[e - b] = '\0';
    return 0;
}

/* ASCII letters only, byte by byte: UTF-8 lead and continuation bytes are
 * all >= 0x80, so a multibyte character is never touched, exactly as
 * translate() with the 26 letters leaves it alone in SQL. */
static int
apply_lower(char **v)
{
    for (char *p = *v; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return 0;
}

static int
apply_upper(char **v)
{
    for (char *p = *v; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return 0;
}

static int
apply_nullif_empty(char **v)
{
    if (**v == '\0') {
        free(*v);
        *v = NULL;
    }
    return 0;
}

/* Sized by its rows: a row missing at the end fails the assertion below,
 * one missing in the middle is a NULL name, which mapping_value_rules
 * refuses. */
const map_rules_transform_t map_rules_transforms[] = {
    [MAP_TRANSFORM_TRIM] =
        {"trim",
         "strips leading and trailing white space: space, tab, line feed, "
         "vertical tab, form feed and carriage return (C `isspace`); other "
         "spaces, such as U+00A0, stay",
         apply_trim, "btrim(%s, E' \\t\\n\\r\\f\\x0b')"},
    [MAP_TRANSFORM_LOWER] =
        {"lower",
         "turns ASCII `A`-`Z` into `a`-`z`; every other character stays as "
         "it is, non-ASCII letters (`É`, `Ä`) included",
         apply_lower,
         "translate(%s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
         "'abcdefghijklmnopqrstuvwxyz')"},
    [MAP_TRANSFORM_UPPER] =
        {"upper",
         "turns ASCII `a`-`z` into `A`-`Z`; every other character stays as "
         "it is, non-ASCII letters (`é`, `ß`) included",
         apply_upper,
         "translate(%s, 'abcdefghijklmnopqrstuvwxyz', "
         "'ABCDEFGHIJKLMNOPQRSTUVWXYZ')"},
    [MAP_TRANSFORM_NULLIF_EMPTY] = {"nullif_empty",
                                    "the empty string becomes NULL",
                                    apply_nullif_empty, "NULLIF(%s, '')"},
};

_Static_assert(sizeof(map_rules_transforms) / sizeof(map_rules_transforms[0]) ==
                   MAP_TRANSFORM__COUNT,
               "one row in map_rules_transforms per enum map_transform");

bool
map_rules_transform_find(const char *name, enum map_transform *out)
{
    for (size_t i = 0; i < MAP_TRANSFORM__COUNT; i++) {
        if (strcmp(map_rules_transforms[i].name, name) == 0) {
            *out = (enum map_transform)i;
            return true;
        }
    }
    return false;
}

void
map_rules_transform_words(char *out, size_t cap)
{
    size_t used = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < MAP_TRANSFORM__COUNT; i++) {
        const char *sep = i == 0                          ? ""
                          : i + 1 == MAP_TRANSFORM__COUNT ? " or "
                                                          : ", ";
        int w = snprintf(out + used, cap - used, "%s%s", sep,
                         map_rules_transforms[i].name);

        if (w < 0 || (size_t)w >= cap - used) {
            out[used] = '\0'; /* whole words only */
            return;
        }
        used += (size_t)w;
    }
}

void
map_rules_print_transforms(FILE *out)
{
    fprintf(out, "| transform | what it does |\n|---|---|\n");
    for (size_t i = 0; i < MAP_TRANSFORM__COUNT; i++)
        fprintf(out, "| `%s` | %s |\n", map_rules_transforms[i].name,
                map_rules_transforms[i].doc);
}

/* ---- JSON validity: C ---------------------------------------------------- */

/* RFC 8259 white space; PostgreSQL's json lexer skips the same four. */
static const char *
json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static bool
is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
           (ch >= 'A' && ch <= 'F');
}

/* The end of the string at p (a '"'), or NULL when it is not one. */
static const char *
json_string_end(const char *p, const char *end)
{
    p++;
    while (p < end && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (p >= end)
                return NULL;
            if (*p == 'u') {
                for (int i = 0; i < 4; i++)
                    if (++p >= end || !is_hex(*p))
                        return NULL;
            } else if (strchr("\"\\/bfnrt", *p) == NULL) {
                return NULL;
            }
        }
        p++;
    }
    return p < end ? p + 1 : NULL;
}

static const char *
json_scalar_end(const char *p, const char *end)
{
    static const char *const words[] = {"true", "false", "null"};
    const char *stop;

    if (*p == '"')
        return json_string_end(p, end);
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);

        if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
            return p + n;
    }
    return ferry_json_scan_number(p, end, &stop) ? stop : NULL;
}

/* Iterative over the nesting, with the open brackets on a fixed stack: the
 * depth limit is part of the rule (the SQL twin enforces the same). */
bool
map_rules_json_valid(const char *s, size_t len)
{
    char stack[MAP_RULES_JSON_MAX_DEPTH];
    size_t depth = 0;
    const char *p = s, *end = s + len;
    bool want_value = true;

    for (;;) {
        p = json_ws(p, end);
        if (p >= end)
            return false;
        if (want_value) {
            if (*p == '{' || *p == '[') {
                if (depth == sizeof(stack))
                    return false;
                stack[depth++] = *p++;
                p = json_ws(p, end);
                if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
                    depth--;
                    p++;
                    want_value = false;
                    goto after_value;
                }
                if (stack[depth - 1] == '{')
                    goto want_key;
                continue;
            }
            p = json_scalar_end(p, end);
            if (p == NULL)
                return false;
        }
    after_value:
        p = json_ws(p, end);
        if (depth == 0)
            return p == end;
        if (p >= end)
            return false;
        if (*p == ',') {
            p++;
            want_value = true;
            if (stack[depth - 1] == '{')
                goto want_key;
            continue;
        }
        if (*p != (stack[depth - 1] == '{' ? '}' : ']'))
            return false;
        depth--;
        p++;
        want_value = false;
        goto after_value;
    want_key:
        p = json_ws(p, end);
        if (p >= end || *p != '"')
            return false;
        p = json_string_end(p, end);
        if (p == NULL)
            return false;
        p = json_ws(p, end);
        if (p >= end || *p != ':')
            return false;
        p++;
        want_value = true;
    }
}

/* ---- JSON validity: SQL -------------------------------------------------- */

#define JSON_FN "pg_temp.ferry_json_or_null"
#define JSON_DEPTH MAP_RULES_STR(MAP_RULES_JSON_MAX_DEPTH)

/* PostgreSQL's json input decides the syntax, and it agrees with the C
 * checker above on every text (the agreement test proves the corners).
 * The depth is the one thing to add: only text with more opening brackets
 * than the limit can be too deep, and for those the strings are cut out,
 * everything but brackets dropped, and the innermost pairs removed once
 * per level (each pass removes every innermost pair, so the passes count
 * the depth). */
const char *const map_rules_json_fn_sql =
    "CREATE OR REPLACE FUNCTION " JSON_FN "(v text) "
    "RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$ "
    "DECLARE s text; depth int := 0; "
    "BEGIN "
    "PERFORM v::json; "
    "IF length(v) - length(translate(v, '[{', '')) > " JSON_DEPTH " THEN "
    "s := regexp_replace(v, E'\"(?:[^\"\\\\\\\\]|\\\\\\\\.)*\"', '', 'g'); "
    "s := regexp_replace(s, '[^][{}]', '', 'g'); "
    "WHILE s <> '' LOOP "
    "depth := depth + 1; "
    "IF depth > " JSON_DEPTH " THEN RETURN NULL; END IF; "
    "s := regexp_replace(s, E'\\\\[\\\\]|\\\\{\\\\}', '', 'g'); "
    "END LOOP; "
    "END IF; "
    "RETURN v; "
    "EXCEPTION WHEN others THEN RETURN NULL; "
    "END $f$";

/* ---- The value pipeline: C ----------------------------------------------- */

int
map_rules_value(const map_column_t *c, const char *v, char **out,
                ferry_err_t *err)
{
    char *cur = NULL;

    *out = NULL;
    if (c->n_from > 0 && v != NULL && (cur = strdup(v)) == NULL)
        goto nomem;
    for (size_t i = 0; i < c->n_transforms && cur != NULL; i++)
        if (map_rules_transforms[c->transforms[i]].apply(&cur) != 0)
            goto nomem;
    for (size_t i = 0; i < c->n_values && cur != NULL; i++) {
        if (strcmp(c->values[i].key, cur) == 0) {
            free(cur);
            cur = NULL;
            if (c->values[i].value != NULL &&
                (cur = strdup(c->values[i].value)) == NULL)
                goto nomem;
            break;
        }
    }
    if (cur == NULL && c->default_value != NULL &&
        (cur = strdup(c->default_value)) == NULL)
        goto nomem;
    if (cur != NULL && c->json && !map_rules_json_valid(cur, strlen(cur))) {
        free(cur);
        cur = NULL;
        if (c->on_invalid == MAP_ON_INVALID_ERROR)
            return ferry_err_set(err, FERRY_EDATA,
                                 "column \"%s\": value is not valid JSON",
                                 c->name);
    }
    *out = cur;
    return 0;
nomem:
    free(cur);
    return ferry_err_set(err, FERRY_ENOMEM,
                         "out of memory in the value pipeline of column "
                         "\"%s\"",
                         c->name);
}

bool
map_rules_value_unchanged(const map_column_t *c)
{
    return c->n_from > 0 && c->n_transforms == 0 && c->n_values == 0 &&
           !c->json;
}

/* ---- The value pipeline: SQL --------------------------------------------- */

/* Appends tmpl with its one "%s" replaced by the text of arg. */
static void
subst(ferry_buf_t *b, const char *tmpl, const ferry_buf_t *arg)
{
    const char *at = strstr(tmpl, "%s");

    if (at == NULL) {
        b->failed = true;
        return;
    }
    ferry_buf_append(b, tmpl, (size_t)(at - tmpl));
    if (arg->len > 0)
        ferry_buf_append(b, arg->data, arg->len);
    ferry_buf_append_str(b, at + 2);
}

/* Replaces the expression in *v by tmpl around it. */
static void
wrap(ferry_buf_t *v, const char *tmpl)
{
    ferry_buf_t w = {0};

    subst(&w, tmpl, v);
    if (v->failed)
        w.failed = true;
    ferry_buf_close(v);
    *v = w;
}

/* The pipeline up to the JSON check, into the empty buffer v: the source
 * value, the transforms, the values map and the default. */
static void
pipeline_sql(ferry_buf_t *v, const map_column_t *c,
             const map_rules_sqlctx_t *sx)
{
    if (c->n_from > 0) {
        sx->column(v, c->from[0], sx->arg);
        ferry_buf_append_lit(v, "::text");
    } else {
        ferry_buf_append_lit(v, "NULL::text");
    }
    for (size_t i = 0; i < c->n_transforms; i++)
        wrap(v, map_rules_transforms[c->transforms[i]].sql);
    if (c->n_values > 0) {
        /* CASE x WHEN key THEN value ... ELSE x END: the first key equal
         * to the value wins, as in the C loop; NULL matches no key. */
        ferry_buf_t w = {0};

        ferry_buf_append_lit(&w, "CASE ");
        ferry_buf_append(&w, v->data, v->len);
        for (size_t i = 0; i < c->n_values; i++) {
            ferry_buf_append_lit(&w, " WHEN ");
            sx->value(&w, c->values[i].key, sx->arg);
            ferry_buf_append_lit(&w, "::text THEN ");
            if (c->values[i].value == NULL) {
                ferry_buf_append_lit(&w, "NULL");
            } else {
                sx->value(&w, c->values[i].value, sx->arg);
                ferry_buf_append_lit(&w, "::text");
            }
        }
        ferry_buf_append_lit(&w, " ELSE ");
        ferry_buf_append(&w, v->data, v->len);
        ferry_buf_append_lit(&w, " END");
        if (v->failed)
            w.failed = true;
        ferry_buf_close(v);
        *v = w;
    }
    if (c->default_value != NULL) {
        ferry_buf_t w = {0};

        ferry_buf_append_lit(&w, "COALESCE(");
        ferry_buf_append(&w, v->data, v->len);
        ferry_buf_append_lit(&w, ", ");
        sx->value(&w, c->default_value, sx->arg);
        ferry_buf_append_lit(&w, "::text)");
        if (v->failed)
            w.failed = true;
        ferry_buf_close(v);
        *v = w;
    }
}

/* Appends v's text, or fails b when building v failed. */
static void
append_built(ferry_buf_t *b, ferry_buf_t *v)
{
    if (v->failed)
        b->failed = true;
    else
        ferry_buf_append(b, ferry_buf_cstr(v), v->len);
    ferry_buf_close(v);
}

void
map_rules_value_sql(ferry_buf_t *b, const map_column_t *c,
                    const map_rules_sqlctx_t *sx)
{
    ferry_buf_t v = {0};

    pipeline_sql(&v, c, sx);
    if (c->json)
        wrap(&v, JSON_FN "(%s)");
    append_built(b, &v);
}

void
map_rules_rejected_sql(ferry_buf_t *b, const map_column_t *c,
                       const map_rules_sqlctx_t *sx)
{
    ferry_buf_t v = {0}, w = {0};

    if (!c->json || c->on_invalid != MAP_ON_INVALID_ERROR) {
        ferry_buf_append_lit(b, "false");
        return;
    }
    pipeline_sql(&v, c, sx);
    ferry_buf_append_lit(&w, "(");
    ferry_buf_append(&w, ferry_buf_cstr(&v), v.len);
    ferry_buf_append_lit(&w, " IS NOT NULL AND " JSON_FN "(");
    ferry_buf_append(&w, ferry_buf_cstr(&v), v.len);
    ferry_buf_append_lit(&w, ") IS NULL)");
    if (v.failed)
        w.failed = true;
    ferry_buf_close(&v);
    append_built(b, &w);
}

/* ---- The legacy key text: C ---------------------------------------------- */

char *
map_rules_legacy_key(const char *const *values, size_t n)
{
    size_t len = 1;
    char *s;
    char *p;

    for (size_t i = 0; i < n; i++) {
        len += 1;
        for (const char *ch = values[i]; *ch; ch++)
            len += (*ch == '\\' || *ch == ',') ? 2 : 1;
    }
    s = malloc(len);
    if (s == NULL)
        return NULL;
    p = s;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        for (const char *ch = values[i]; *ch; ch++) {
            if (*ch == '\\' || *ch == ',')
                *p++ = '\\';
            *p++ = *ch;
        }
    }
    *p = '\0';
    return s;
}

/* ---- The legacy key text: SQL -------------------------------------------- */

/* The backslashes first, then the commas, as the C loop escapes both in
 * one pass; E'' strings, so that standard_conforming_strings does not
 * matter.  || gives NULL when any value is NULL. */
int
map_rules_legacy_key_split(const char *lkey, char ***values, size_t *n)
{
    size_t count = 1, len = strlen(lkey), k = 0, i;
    char **out;
    char *cur;

    *values = NULL;
    *n = 0;
    for (i = 0; i < len; i++) {
        if (lkey[i] == '\\' && i + 1 < len)
            i++;
        else if (lkey[i] == ',')
            count++;
    }
    if ((out = calloc(count, sizeof(*out))) == NULL)
        return FERRY_ENOMEM;
    for (k = 0; k < count; k++)
        if ((out[k] = malloc(len + 1)) == NULL)
            goto oom;
    k = 0;
    cur = out[0];
    for (i = 0; i < len; i++) {
        if (lkey[i] == '\\' && i + 1 < len) {
            *cur++ = lkey[++i];
        } else if (lkey[i] == ',') {
            *cur = '\0';
            cur = out[++k];
        } else {
            *cur++ = lkey[i];
        }
    }
    *cur = '\0';
    *values = out;
    *n = count;
    return 0;
oom:
    for (i = 0; i < count; i++)
        free(out[i]);
    free(out);
    return FERRY_ENOMEM;
}

void
map_rules_legacy_key_sql(ferry_buf_t *b, const char *const *cols, size_t n,
                         const map_rules_sqlctx_t *sx)
{
    ferry_buf_append_lit(b, "(");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ferry_buf_append_lit(b, " || ',' || ");
        ferry_buf_append_lit(b, "replace(replace(");
        sx->column(b, cols[i], sx->arg);
        ferry_buf_append_lit(b,
                             "::text, E'\\\\', E'\\\\\\\\'), ',', E'\\\\,')");
    }
    ferry_buf_append_lit(b, ")");
}
