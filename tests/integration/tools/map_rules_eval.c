/* Test tool: runs the mapping's value rules in C, or prints their SQL twins,
 * for tests/integration/test_map_rules_agree.sh.
 * tests/integration/tools/map_rules_eval.c
 *
 * Usage:
 *   map_rules_eval c MAPPING DIR   the C results (map_rules.h) of every
 *                                  row of DIR/<source table>.copy
 *   map_rules_eval sql MAPPING     a psql script that prints the same lines
 *                                  with the SQL twins, from the same tables
 *
 * For each entity of MAPPING, in file order, the tool prints one line per
 * input row for the legacy key ("(key)", when the entity names key columns)
 * and then for every copy column in order:
 *
 *     ENTITY <tab> COLUMN <tab> ID <tab> RESULT
 *
 * RESULT is "NULL", "ERROR" (the sink rejects the value) or "x" and the
 * hex of the UTF-8 bytes.  A legacy key with a NULL value is NULL: the sink
 * refuses such a row, and the SQL gives NULL.  The input files are
 * PostgreSQL COPY text with a header line naming the columns, one of them
 * "id" (increasing), so that psql loads the very same rows into the source
 * table.  The SQL is built by map_rules_value_sql(), map_rules_rejected_sql()
 * and map_rules_legacy_key_sql(), the builders `ferry-map validate` uses;
 * the mapping's texts become parameters there too ($n of a PREPARE, given
 * as literals to EXECUTE).
 *
 * To keep the test honest as rules are added, the c mode fails unless the
 * mapping uses every transform alone, json with both on_invalid words, and
 * a key of at least three columns.
 */
#include "ferry_buf.h"
#include "map_config.h"
#include "map_rules.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One input table: its column names and rows of decoded fields. */
typedef struct input {
    char **names;   /* owned: header fields */
    size_t n_names; /* number of columns */
    char ***rows;   /* owned: n_rows rows of n_names fields (NULL: NULL) */
    size_t n_rows;  /* number of rows */
} input_t;

static void
oom(void)
{
    fprintf(stderr, "map_rules_eval: out of memory\n");
    exit(1);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (p == NULL)
        oom();
    return p;
}

static int
hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes one COPY text field s[0..n) into a new string, NULL for \N. */
static char *
copy_field(const char *s, size_t n)
{
    char *out, *o;

    if (n == 2 && s[0] == '\\' && s[1] == 'N')
        return NULL;
    out = o = xcalloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (ch != '\\' || i + 1 == n) {
            *o++ = ch;
            continue;
        }
        ch = s[++i];
        if (ch >= '0' && ch <= '7') {
            int v = ch - '0';

            for (int k = 0;
                 k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                v = v * 8 + (s[++i] - '0');
            *o++ = (char)v;
        } else if (ch == 'x' && i + 1 < n && hexval(s[i + 1]) >= 0) {
            int v = hexval(s[++i]);

            if (i + 1 < n && hexval(s[i + 1]) >= 0)
                v = v * 16 + hexval(s[++i]);
            *o++ = (char)v;
        } else {
            const char *from = "bfnrtv", *to = "\b\f\n\r\t\v";
            const char *at = strchr(from, ch);

            *o++ = at != NULL && ch != '\0' ? to[at - from] : ch;
        }
    }
    *o = '\0';
    return out;
}

/* Splits line[0..n) at tabs into out (cap fields); returns the count. */
static size_t
split(const char *line, size_t n, char **out, size_t cap, bool decode)
{
    size_t k = 0, start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != '\t')
            continue;
        if (k < cap) {
            if (decode) {
                out[k] = copy_field(line + start, i - start);
            } else {
                out[k] = xcalloc(i - start + 1, 1);
                memcpy(out[k], line + start, i - start);
            }
        }
        k++;
        start = i + 1;
    }
    return k;
}

static bool
read_input(const char *path, input_t *in)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    memset(in, 0, sizeof(*in));
    if (f == NULL) {
        fprintf(stderr, "map_rules_eval: could not open \"%s\"\n", path);
        return false;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        char **fields;
        size_t n;

        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (in->names == NULL) {
            in->names = xcalloc(64, sizeof(char *));
            in->n_names = split(line, (size_t)len, in->names, 64, false);
            continue;
        }
        fields = xcalloc(in->n_names, sizeof(char *));
        n = split(line, (size_t)len, fields, in->n_names, true);
        if (n != in->n_names) {
            fprintf(stderr,
                    "map_rules_eval: \"%s\": a row has %zu fields, "
                    "the header %zu\n",
                    path, n, in->n_names);
            fclose(f);
            free(line);
            return false;
        }
        in->rows = realloc(in->rows, (in->n_rows + 1) * sizeof(char **));
        if (in->rows == NULL)
            oom();
        in->rows[in->n_rows++] = fields;
    }
    free(line);
    fclose(f);
    return in->names != NULL;
}

static long
column_of(const input_t *in, const char *name)
{
    for (size_t i = 0; i < in->n_names; i++)
        if (strcmp(in->names[i], name) == 0)
            return (long)i;
    return -1;
}

static void
print_result(const char *entity, const char *column, const char *id,
             const char *v, bool error)
{
    printf("%s\t%s\t%s\t", entity, column, id);
    if (error)
        printf("ERROR\n");
    else if (v == NULL)
        printf("NULL\n");
    else {
        putchar('x');
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
            printf("%02x", *p);
        putchar('\n');
    }
}

/* The key lines of entity e over the rows of in. */
static bool
eval_key(const map_entity_t *e, const input_t *in, long id_col)
{
    const char *vals[16];
    long cols[16];

    if (e->n_key == 0)
        return true;
    for (size_t k = 0; k < e->n_key && k < 16; k++)
        if ((cols[k] = column_of(in, e->key[k])) < 0) {
            fprintf(stderr, "map_rules_eval: no column \"%s\"\n", e->key[k]);
            return false;
        }
    for (size_t r = 0; r < in->n_rows; r++) {
        bool null = false;
        char *key;

        for (size_t k = 0; k < e->n_key && k < 16; k++) {
            vals[k] = in->rows[r][cols[k]];
            null = null || vals[k] == NULL;
        }
        key = null ? NULL : map_rules_legacy_key(vals, e->n_key);
        if (!null && key == NULL)
            oom();
        print_result(e->name, "(key)", in->rows[r][id_col], key, false);
        free(key);
    }
    return true;
}

static bool
eval_column(const map_entity_t *e, const map_column_t *c, const input_t *in,
            long id_col)
{
    long src = c->n_from > 0 ? column_of(in, c->from[0]) : -1;

    if (c->n_from > 0 && src < 0) {
        fprintf(stderr, "map_rules_eval: no column \"%s\"\n", c->from[0]);
        return false;
    }
    for (size_t r = 0; r < in->n_rows; r++) {
        ferry_err_t err = {0, ""};
        char *out = NULL;
        int rc =
            map_rules_value(c, src >= 0 ? in->rows[r][src] : NULL, &out, &err);

        if (rc != 0 && rc != FERRY_EDATA) {
            fprintf(stderr, "map_rules_eval: %s\n", err.msg);
            return false;
        }
        print_result(e->name, c->name, in->rows[r][id_col], out,
                     rc == FERRY_EDATA);
        free(out);
    }
    return true;
}

/* What the mapping must exercise; prints what it lacks. */
static bool
covers_every_rule(const map_config_t *cfg)
{
    bool alone[MAP_TRANSFORM__COUNT] = {false};
    bool json_null = false, json_error = false, wide_key = false, ok = true;

    for (size_t i = 0; i < cfg->n_entities; i++) {
        const map_entity_t *e = &cfg->entities[i];

        wide_key = wide_key || e->n_key >= 3;
        for (size_t j = 0; j < e->n_columns; j++) {
            const map_column_t *c = &e->columns[j];

            if (c->n_transforms == 1 && c->n_values == 0 &&
                c->default_value == NULL && !c->json)
                alone[c->transforms[0]] = true;
            json_null =
                json_null || (c->json && c->on_invalid == MAP_ON_INVALID_NULL);
            json_error = json_error ||
                         (c->json && c->on_invalid == MAP_ON_INVALID_ERROR);
        }
    }
    for (size_t t = 0; t < MAP_TRANSFORM__COUNT; t++)
        if (!alone[t]) {
            fprintf(stderr,
                    "map_rules_eval: no column uses transform \"%s\" "
                    "alone\n",
                    map_rules_transforms[t].name);
            ok = false;
        }
    if (!json_null || !json_error || !wide_key) {
        fprintf(stderr, "map_rules_eval: the mapping needs json with "
                        "on_invalid null and error, and a key of three "
                        "columns\n");
        ok = false;
    }
    return ok;
}

static int
run_c(const map_config_t *cfg, const char *dir)
{
    if (!covers_every_rule(cfg))
        return 1;
    for (size_t i = 0; i < cfg->n_entities; i++) {
        const map_entity_t *e = &cfg->entities[i];
        char path[4096];
        input_t in;
        long id_col;
        bool ok;

        snprintf(path, sizeof(path), "%s/%s.copy", dir, e->source_table);
        if (!read_input(path, &in))
            return 1;
        if ((id_col = column_of(&in, "id")) < 0) {
            fprintf(stderr, "map_rules_eval: \"%s\" has no id column\n", path);
            return 1;
        }
        ok = eval_key(e, &in, id_col);
        for (size_t j = 0; ok && j < e->n_columns; j++)
            if (e->columns[j].kind == MAP_COLUMN_COPY)
                ok = eval_column(e, &e->columns[j], &in, id_col);
        for (size_t r = 0; r < in.n_rows; r++) {
            for (size_t k = 0; k < in.n_names; k++)
                free(in.rows[r][k]);
            free(in.rows[r]);
        }
        for (size_t k = 0; k < in.n_names; k++)
            free(in.names[k]);
        free(in.rows);
        free(in.names);
        if (!ok)
            return 1;
    }
    return 0;
}

/* ---- the SQL side ------------------------------------------------------ */

/* The parameters one statement collects, in $n order. */
typedef struct params {
    const char *text[256]; /* borrowed from the model */
    int n;                 /* number used */
} params_t;

/* text between two q, with every q inside doubled: an identifier for '"',
 * a literal for '\'' (with standard_conforming_strings = on). */
static void
append_quoted(ferry_buf_t *b, const char *text, char q)
{
    ferry_buf_putc(b, q);
    for (const char *p = text; *p; p++) {
        if (*p == q)
            ferry_buf_putc(b, q);
        ferry_buf_putc(b, *p);
    }
    ferry_buf_putc(b, q);
}

#define append_ident(b, name) append_quoted((b), (name), '"')
#define append_literal(b, text) append_quoted((b), (text), '\'')

static void
sql_column(ferry_buf_t *b, const char *name, void *arg)
{
    (void)arg;
    ferry_buf_append_lit(b, "s.");
    append_ident(b, name);
}

static void
sql_value(ferry_buf_t *b, const char *text, void *arg)
{
    params_t *p = arg;

    if (p->n == 256) {
        b->failed = true;
        return;
    }
    p->text[p->n++] = text;
    ferry_buf_printf(b, "$%d", p->n);
}

/* PREPARE name AS SELECT the line of each row, with result as its last
 * field; then EXECUTE with the collected parameters. */
static void
sql_statement(ferry_buf_t *b, int no, const map_entity_t *e, const char *column,
              const char *result, const params_t *p)
{
    ferry_buf_printf(b, "PREPARE ferry_rule_%d AS SELECT concat_ws(E'\\t', ",
                     no);
    append_literal(b, e->name);
    ferry_buf_append_lit(b, ", ");
    append_literal(b, column);
    ferry_buf_printf(b, ", s.id::text, %s) FROM ", result);
    append_ident(b, e->source_schema);
    ferry_buf_putc(b, '.');
    append_ident(b, e->source_table);
    ferry_buf_printf(b, " s ORDER BY s.id;\nEXECUTE ferry_rule_%d", no);
    for (int i = 0; i < p->n; i++) {
        ferry_buf_append_str(b, i == 0 ? "(" : ", ");
        append_literal(b, p->text[i]);
    }
    ferry_buf_append_str(b, p->n > 0 ? ");\n" : ";\n");
}

/* The rendering of a text expression as the c mode prints it. */
#define HEX_OPEN "COALESCE('x' || encode(convert_to("
#define HEX_CLOSE ", 'UTF8'), 'hex'), 'NULL')"

static int
run_sql(const map_config_t *cfg)
{
    ferry_buf_t b = {0};
    int no = 0;

    ferry_buf_printf(&b, "SET standard_conforming_strings = on;\n%s;\n",
                     map_rules_json_fn_sql);
    for (size_t i = 0; i < cfg->n_entities; i++) {
        const map_entity_t *e = &cfg->entities[i];

        if (e->n_key > 0) {
            params_t p = {{0}, 0};
            map_rules_sqlctx_t sx = {sql_column, sql_value, &p};
            ferry_buf_t r = {0};

            ferry_buf_append_lit(&r, HEX_OPEN);
            map_rules_legacy_key_sql(&r, e->key, e->n_key, &sx);
            ferry_buf_append_lit(&r, HEX_CLOSE);
            sql_statement(&b, ++no, e, "(key)", ferry_buf_cstr(&r), &p);
            if (r.failed)
                b.failed = true;
            ferry_buf_close(&r);
        }
        for (size_t j = 0; j < e->n_columns; j++) {
            const map_column_t *c = &e->columns[j];
            params_t p = {{0}, 0};
            map_rules_sqlctx_t sx = {sql_column, sql_value, &p};
            ferry_buf_t r = {0};

            if (c->kind != MAP_COLUMN_COPY)
                continue;
            ferry_buf_append_lit(&r, "CASE WHEN ");
            map_rules_rejected_sql(&r, c, &sx);
            ferry_buf_append_lit(&r, " THEN 'ERROR' ELSE " HEX_OPEN);
            map_rules_value_sql(&r, c, &sx);
            ferry_buf_append_lit(&r, HEX_CLOSE " END");
            sql_statement(&b, ++no, e, c->name, ferry_buf_cstr(&r), &p);
            if (r.failed)
                b.failed = true;
            ferry_buf_close(&r);
        }
    }
    if (ferry_buf_status(&b, NULL, "building the script") != 0) {
        fprintf(stderr, "map_rules_eval: could not build the SQL\n");
        ferry_buf_close(&b);
        return 1;
    }
    fwrite(b.data, 1, b.len, stdout);
    ferry_buf_close(&b);
    return 0;
}

int
main(int argc, char **argv)
{
    map_config_t *cfg;
    int rc;

    if (argc < 3 || (strcmp(argv[1], "c") == 0 && argc != 4) ||
        (strcmp(argv[1], "sql") == 0 && argc != 3) ||
        (strcmp(argv[1], "c") != 0 && strcmp(argv[1], "sql") != 0)) {
        fprintf(stderr, "usage: map_rules_eval c MAPPING DIR\n"
                        "       map_rules_eval sql MAPPING\n");
        return 2;
    }
    cfg = map_config_load_or_report(argv[2], "map_rules_eval");
    if (cfg == NULL)
        return 2;
    rc = strcmp(argv[1], "c") == 0 ? run_c(cfg, argv[3]) : run_sql(cfg);
    map_config_free(cfg);
    return rc;
}
