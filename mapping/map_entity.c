/* Parsing the entities section: tables, keys, delete and truncate handling.
 * mapping/map_entity.c
 *
 * Entity names are collected before any entity is parsed so that a ref can
 * name an entity written further down.  Checks that need two entities (the
 * width of a composite ref against the parent's key) run once all are
 * parsed.
 */
#include "map_int.h"

#include <stdio.h>
#include <string.h>

bool
map__is_entity_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Declared in map_config.h with the model's other lookups; defined here,
 * beside its one caller in the parser (check_reserved()), so that the
 * entities parser does not call back up into map_config.c. */
const map_column_t *
map_entity_column(const map_entity_t *entity, const char *name)
{
    for (size_t i = 0; i < entity->n_columns; i++) {
        if (strcmp(entity->columns[i].name, name) == 0)
            return &entity->columns[i];
    }
    return NULL;
}

/* One part of a table name at *s, up to an unquoted '.' or the end, into
 * *out (from the arena).  A part in double quotes follows PostgreSQL's
 * rules for a quoted identifier ("" is one double quote; any other
 * character, a dot included, is itself); an unquoted part is taken as
 * written (its case kept) and cannot hold a '.' or a '"'.  NULL with *why
 * set when the part is malformed. */
static const char *
name_part(map_parser_t *p, const char **s, const char **why)
{
    const char *c = *s;
    char *out, *o;

    if (*c != '"') {
        size_t n = strcspn(c, ".\"");

        if (n == 0) {
            *why = "an empty name";
            return NULL;
        }
        if (c[n] == '"') {
            *why = "a double quote inside an unquoted name (quote the whole "
                   "name: \"a\"\"b\" is a\"b)";
            return NULL;
        }
        *s = c + n;
        return (out = map__strndup(p->arena, c, n)) != NULL
                   ? out
                   : (p->oom = true, *why = "out of memory", NULL);
    }
    if ((out = map__strndup(p->arena, c, strlen(c))) == NULL) {
        p->oom = true;
        *why = "out of memory";
        return NULL;
    }
    for (o = out, c++;; c++) {
        if (*c == '\0') {
            *why = "a double quote that is not closed";
            return NULL;
        }
        if (*c == '"' && c[1] == '"') {
            *o++ = '"';
            c++;
        } else if (*c == '"') {
            break;
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    if (o == out) {
        *why = "an empty quoted name (\"\")";
        return NULL;
    }
    c++;
    if (*c != '\0' && *c != '.') {
        *why = "characters after a closing double quote";
        return NULL;
    }
    *s = c;
    return out;
}

/* "[schema.]table" into its parts; schema defaults to public.  Either part
 * may be a quoted identifier ("a.b", "Odd ""x""") for names that hold a
 * dot or a double quote (docs/mapping.md). */
static void
parse_table(map_parser_t *p, yaml_node_t *n, const char *path,
            const char **schema, const char **table)
{
    const char *s = map__string(p, n, path);
    const char *c = s, *why = NULL, *a, *b = NULL;

    if (s == NULL)
        return;
    a = name_part(p, &c, &why);
    if (a != NULL && *c == '.') {
        c++;
        b = name_part(p, &c, &why);
        if (b != NULL && *c != '\0')
            why = "more than two dot-separated parts", b = NULL;
    }
    if (a == NULL || (why != NULL && b == NULL)) {
        if (!p->oom)
            map__diag(p, n, path,
                      "invalid table name \"%s\": %s (expected \"table\" "
                      "or \"schema.table\", each part optionally in double "
                      "quotes)",
                      s, why);
        return;
    }
    for (const char *part = a; part != NULL; part = part == a ? b : NULL)
        if (strlen(part) > 63) {
            map__diag(p, n, path,
                      "invalid table name \"%s\": \"%s\" is longer than "
                      "63 bytes, which PostgreSQL cuts short",
                      s, part);
            return;
        }
    *schema = b != NULL ? a : "public";
    *table = b != NULL ? b : a;
}

/* delete: hard | soft | {mode: hard|soft, column: COLUMN} */
static void
parse_delete(map_parser_t *p, map_entity_t *e, yaml_node_t *n, const char *path)
{
    static const char *const modes[] = {"hard", "soft"};
    char sub[MAP__PATH_MAX];
    int mode = MAP_DELETE_HARD;
    yaml_node_t *col;

    e->delete_pos = map__pos(n);
    if (n->type != YAML_MAPPING_NODE) {
        if (map__enum(p, n, path, modes, 2, &mode))
            e->delete_mode = (enum map_delete_mode)mode;
        if (e->delete_mode == MAP_DELETE_SOFT)
            e->soft_delete_column = "deleted_at";
        return;
    }
    if (!map__check_mapping(p, n, path, "delete", "with mode and column"))
        return;
    map__path(sub, path, "mode");
    if (map__get(p, n, "mode") &&
        map__enum(p, map__get(p, n, "mode"), sub, modes, 2, &mode))
        e->delete_mode = (enum map_delete_mode)mode;
    col = map__get(p, n, "column");
    map__path(sub, path, "column");
    if (e->delete_mode == MAP_DELETE_HARD && col != NULL) {
        map__diag(p, col, sub, "a column is only used with mode soft");
        return;
    }
    if (e->delete_mode == MAP_DELETE_SOFT)
        e->soft_delete_column = col ? map__string(p, col, sub) : "deleted_at";
}

static void
parse_key_columns(map_parser_t *p, map_entity_t *e, yaml_node_t *n,
                  const char *path)
{
    char sub[MAP__PATH_MAX];
    yaml_node_t *v;

    if ((v = map__get(p, n, "key")) != NULL) {
        map__path(sub, path, "key");
        e->key_pos = map__pos(v);
        e->key = map__string_list(p, v, sub, &e->n_key, false);
    }
    e->id_column = "id";
    if ((v = map__get(p, n, "id_column")) != NULL) {
        map__path(sub, path, "id_column");
        e->id_column_pos = map__pos(v);
        e->id_column = map__string(p, v, sub);
    }
    if ((v = map__get(p, n, "legacy_id_column")) != NULL) {
        map__path(sub, path, "legacy_id_column");
        e->legacy_id_pos = map__pos(v);
        e->legacy_id_columns =
            map__string_list(p, v, sub, &e->n_legacy_id_columns, false);
        if (e->n_key > 0 && e->n_legacy_id_columns > 0 &&
            e->n_key != e->n_legacy_id_columns)
            map__diag(p, v, sub,
                      "%zu legacy id column(s) for a key of %zu column(s) "
                      "(expected one per key column)",
                      e->n_legacy_id_columns, e->n_key);
    }
}

static void
parse_entity(map_parser_t *p, map_entity_t *e, yaml_node_t *n, const char *path)
{
    static const char *const truncs[] = {"apply", "ignore"};
    char sub[MAP__PATH_MAX];
    yaml_node_t *v;
    int t = MAP_TRUNCATE_APPLY;

    e->key_pos = e->id_column_pos = e->legacy_id_pos = e->pos;
    if (!map__check_mapping(p, n, path, "entity",
                            "with source, target, key, columns, ..."))
        return;
    if ((v = map__get(p, n, "source")) != NULL) {
        map__path(sub, path, "source");
        e->source_pos = map__pos(v);
        parse_table(p, v, sub, &e->source_schema, &e->source_table);
    }
    if ((v = map__get(p, n, "target")) != NULL) {
        map__path(sub, path, "target");
        e->target_pos = map__pos(v);
        parse_table(p, v, sub, &e->target_schema, &e->target_table);
    }
    parse_key_columns(p, e, n, path);
    if ((v = map__get(p, n, "topic")) != NULL) {
        map__path(sub, path, "topic");
        e->topic = map__string(p, v, sub);
        e->topic_is_override = true;
        if (e->topic && strspn(e->topic, "abcdefghijklmnopqrstuvwxyz"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789._-") != strlen(e->topic))
            map__diag(p, v, sub,
                      "invalid topic \"%s\" (expected letters, "
                      "digits, \".\", \"_\" and \"-\")",
                      e->topic);
    }
    if ((v = map__get(p, n, "delete")) != NULL) {
        map__path(sub, path, "delete");
        parse_delete(p, e, v, sub);
    }
    if ((v = map__get(p, n, "truncate")) != NULL) {
        map__path(sub, path, "truncate");
        if (map__enum(p, v, sub, truncs, 2, &t))
            e->truncate_mode = (enum map_truncate_mode)t;
    }
    if ((v = map__get(p, n, "lsn_column")) != NULL) {
        map__path(sub, path, "lsn_column");
        e->lsn_pos = map__pos(v);
        e->lsn_column = map__string(p, v, sub);
        /* Without legacy ids the target cannot tell ferry's rows from the
         * application's, and the sweep and truncate find the keys ferry
         * applied in their positions: those of state_schema.row_lsn. */
        if (e->lsn_column != NULL && e->n_legacy_id_columns == 0)
            map__diag(p, v, sub,
                      "lsn_column needs legacy_id_column (the target must "
                      "keep the legacy key)");
    }
    if ((v = map__get(p, n, "columns")) != NULL) {
        map__path(sub, path, "columns");
        map__parse_columns(p, e, v, sub);
    }
}

/* A column that ferry fills itself must not also be mapped. */
static void
check_reserved(map_parser_t *p, const map_entity_t *e, const char *col,
               const char *why)
{
    char path[MAP__PATH_MAX];
    const map_column_t *c;

    if (col == NULL || (c = map_entity_column(e, col)) == NULL)
        return;
    snprintf(path, sizeof(path), "entities.%s.columns.%s", e->name, col);
    map_diag_hint(map_diags_add(p->diags, p->file, c->pos, path,
                                "column \"%s\" is the entity's %s, which "
                                "ferry fills itself",
                                col, why),
                  "remove it from columns");
}

/* A composite ref needs as many source columns as the parent has key
 * columns; a parent without a key in the file is checked against its
 * primary key by ferry-map check. */
static void
check_ref_width(map_parser_t *p, const map_entity_t *e, const map_column_t *c,
                size_t parent)
{
    const map_entity_t *pe = &p->cfg->entities[parent];
    char path[MAP__PATH_MAX];

    if (pe->n_key == 0 || pe->n_key == c->n_from)
        return;
    snprintf(path, sizeof(path), "entities.%s.columns.%s.from", e->name,
             c->name);
    map_diags_add(p->diags, p->file, c->pos, path,
                  "%zu source column(s) for a ref to \"%s\", whose key has "
                  "%zu column(s) (expected one per key column)",
                  c->n_from, pe->name, pe->n_key);
}

static void
check_entity(map_parser_t *p, const map_entity_t *e)
{
    for (size_t i = 0; i < e->n_legacy_id_columns; i++)
        check_reserved(p, e, e->legacy_id_columns[i], "legacy_id_column");
    check_reserved(p, e, e->id_column, "id_column");
    if (e->delete_mode == MAP_DELETE_SOFT)
        check_reserved(p, e, e->soft_delete_column, "soft delete column");
    check_reserved(p, e, e->lsn_column, "lsn_column");
    for (size_t i = 0; i < e->n_columns; i++) {
        const map_column_t *c = &e->columns[i];

        if (c->kind == MAP_COLUMN_REF && c->ref_index != MAP__NONE)
            check_ref_width(p, e, c, c->ref_index);
        for (size_t j = 0; j < c->n_cases; j++) {
            if (c->cases[j].entity_index != MAP__NONE)
                check_ref_width(p, e, c, c->cases[j].entity_index);
        }
    }
}

void
map__parse_entities(map_parser_t *p, yaml_node_t *n)
{
    map_config_t *cfg = p->cfg;
    map_entity_t *ents;
    size_t len;

    if (!map__check_mapping(p, n, "entities", NULL, "entity name -> entity"))
        return;
    len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (len == 0) {
        map__diag(p, n, "entities", "no entities (expected at least one)");
        return;
    }
    ents = map__alloc(p->arena, len * sizeof(*ents));
    p->names = map__alloc(p->arena, len * sizeof(*p->names));
    if (ents == NULL || p->names == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        const char *k = map__key_copy(p, &n->data.mapping.pairs.start[i]);

        p->names[i] = k;
        if (k && !map__is_entity_name(k))
            map__diag(p, map__node(p, n->data.mapping.pairs.start[i].key),
                      "entities",
                      "invalid entity name \"%s\" (expected letters, digits "
                      "and underscores, not starting with a digit, at most "
                      "63 characters)",
                      k);
    }
    p->n_names = len;
    cfg->entities = ents;
    cfg->n_entities = len;
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        char path[MAP__PATH_MAX];

        ents[i].name = p->names[i] ? p->names[i] : "?";
        ents[i].pos = map__pos(map__node(p, pr->key));
        ents[i].id_column = "id";
        map__path(path, "entities", ents[i].name);
        parse_entity(p, &ents[i], map__node(p, pr->value), path);
    }
    for (size_t i = 0; i < len; i++)
        check_entity(p, &ents[i]);
}
