/* Parsing column specs: copies, refs, conditional refs and value handling.
 * mapping/map_column.c
 *
 * A column is written either as the name of a source column or as a spec
 * mapping.  Keys that only make sense for refs (on_missing, deferred) or for
 * JSON (on_invalid) are errors elsewhere, so that a typo in the shape of a
 * spec does not silently change what ferry writes.
 */
#include "map_int.h"
#include "map_rules.h"

#include <stdio.h>
#include <string.h>

/* Lists the entity names for an "unknown entity" message. */
static void
entity_names(map_parser_t *p, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < p->n_names; i++) {
        int w;

        if (p->names[i] == NULL)
            continue;
        w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                     p->names[i]);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

/* Index of entity name in p->names (collected before any entity is
 * parsed), or MAP__NONE. */
static size_t
entity_index(const map_parser_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_names; i++) {
        if (p->names[i] && strcmp(p->names[i], name) == 0)
            return i;
    }
    return MAP__NONE;
}

static size_t
resolve_entity(map_parser_t *p, yaml_node_t *n, const char *path,
               const char *name)
{
    char names[512];
    size_t idx = entity_index(p, name);

    if (idx == MAP__NONE) {
        entity_names(p, names, sizeof(names));
        map__diag(p, n, path, "unknown entity \"%s\" (expected one of: %s)",
                  name, names);
    }
    return idx;
}

/* ref: {discriminator: COLUMN, cases: {VALUE: ENTITY, ...}} */
static void
parse_cond_ref(map_parser_t *p, map_column_t *c, yaml_node_t *n,
               const char *path)
{
    char sub[MAP__PATH_MAX];
    yaml_node_t *v;
    map_ref_case_t *cases;
    size_t len;

    c->kind = MAP_COLUMN_COND_REF;
    if (!map__check_mapping(p, n, path, "ref", "with discriminator and cases"))
        return;
    if ((v = map__get(p, n, "discriminator")) != NULL) {
        map__path(sub, path, "discriminator");
        c->discriminator = map__string(p, v, sub);
    }
    map__path(sub, path, "cases");
    v = map__get(p, n, "cases");
    if (v == NULL ||
        !map__check_mapping(p, v, sub, NULL, "discriminator value -> entity"))
        return;
    len = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (len == 0) {
        map__diag(p, v, sub, "no cases (expected at least one)");
        return;
    }
    cases = map__alloc(p->arena, len * sizeof(*cases));
    if (cases == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
        yaml_node_t *val = map__node(p, pr->value);
        const char *k = map__key_copy(p, pr);
        char cpath[MAP__PATH_MAX];

        if (k == NULL)
            continue;
        map__path(cpath, sub, k);
        cases[c->n_cases].value = k;
        cases[c->n_cases].pos = map__pos(val);
        cases[c->n_cases].entity = map__string(p, val, cpath);
        if (cases[c->n_cases].entity == NULL)
            continue;
        cases[c->n_cases].entity_index =
            resolve_entity(p, val, cpath, cases[c->n_cases].entity);
        c->n_cases++;
    }
    c->cases = cases;
}

static void
parse_ref(map_parser_t *p, map_column_t *c, yaml_node_t *n, const char *path)
{
    if (n->type == YAML_MAPPING_NODE) {
        parse_cond_ref(p, c, n, path);
        return;
    }
    c->kind = MAP_COLUMN_REF;
    c->ref_index = MAP__NONE;
    c->ref = map__string(p, n, path);
    if (c->ref != NULL)
        c->ref_index = resolve_entity(p, n, path, c->ref);
}

static void
parse_values(map_parser_t *p, map_column_t *c, yaml_node_t *n, const char *path)
{
    map_kv_t *kv;
    size_t len;

    if (!map__check_mapping(p, n, path, NULL, "legacy value -> target value"))
        return;
    len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    kv = map__alloc(p->arena, (len ? len : 1) * sizeof(*kv));
    if (kv == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *val = map__node(p, pr->value);
        const char *k = map__key_copy(p, pr);
        char vpath[MAP__PATH_MAX];

        if (k == NULL)
            continue;
        map__path(vpath, path, k);
        kv[c->n_values].key = k;
        kv[c->n_values].pos = map__pos(val);
        if (map__is_null(val)) {
            kv[c->n_values++].value = NULL;
            continue;
        }
        kv[c->n_values].value = map__string(p, val, vpath);
        if (kv[c->n_values].value != NULL)
            c->n_values++;
    }
    c->values = kv;
}

/* The words come from the one table of transforms (map_rules.h). */
static void
parse_transforms(map_parser_t *p, map_column_t *c, yaml_node_t *n,
                 const char *path)
{
    const char *const *list;
    enum map_transform *t;
    size_t len;

    list = map__string_list(p, n, path, &len, false);
    if (list == NULL)
        return;
    t = map__alloc(p->arena, len * sizeof(*t));
    if (t == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (!map_rules_transform_find(list[i], &t[i])) {
            char words[256];

            map_rules_transform_words(words, sizeof(words));
            map__diag(p, n, path, "invalid transform \"%s\" (expected %s)",
                      list[i], words);
            return;
        }
    }
    c->transforms = t;
    c->n_transforms = len;
}

/* Keys that belong to one kind of column only. */
static void
check_spec_shape(map_parser_t *p, map_column_t *c, yaml_node_t *n,
                 const char *path)
{
    static const char *const ref_only[] = {"on_missing", "deferred"};
    static const char *const not_ref[] = {"values", "transform", "json",
                                          "default"};
    bool is_ref = c->kind != MAP_COLUMN_COPY;
    char sub[MAP__PATH_MAX];

    for (size_t i = 0; !is_ref && i < 2; i++) {
        yaml_node_t *v = map__get(p, n, ref_only[i]);

        map__path(sub, path, ref_only[i]);
        if (v != NULL)
            map__diag(p, v, sub, "\"%s\" is only allowed with \"ref\"",
                      ref_only[i]);
    }
    for (size_t i = 0; is_ref && i < 4; i++) {
        yaml_node_t *v = map__get(p, n, not_ref[i]);

        map__path(sub, path, not_ref[i]);
        if (v != NULL)
            map__diag(p, v, sub, "\"%s\" is not allowed with \"ref\"",
                      not_ref[i]);
    }
    map__path(sub, path, "on_invalid");
    if (!c->json && map__get(p, n, "on_invalid") != NULL)
        map__diag(p, map__get(p, n, "on_invalid"), sub,
                  "\"on_invalid\" is only allowed with \"json: true\"");
    map__path(sub, path, "from");
    if (c->n_from == 0 && map__get(p, n, "from") == NULL &&
        (is_ref || c->default_value == NULL))
        map__diag(p, n, path,
                  "missing key \"from\" (expected the source "
                  "column%s)",
                  is_ref ? "(s) holding the legacy key" : ", or a default");
    else if (!is_ref && c->n_from > 1)
        map__diag(p, map__get(p, n, "from"), sub,
                  "a list of source columns is only allowed for a ref");
}

static void
parse_spec_options(map_parser_t *p, map_column_t *c, yaml_node_t *n,
                   const char *path)
{
    static const char *const missing[] = {"park", "null", "error"};
    static const char *const invalid[] = {"error", "null"};
    char sub[MAP__PATH_MAX];
    yaml_node_t *v;
    int e;

    if ((v = map__get(p, n, "on_missing")) != NULL) {
        map__path(sub, path, "on_missing");
        if (map__enum(p, v, sub, missing, 3, &e))
            c->on_missing = (enum map_on_missing)e;
    }
    if ((v = map__get(p, n, "deferred")) != NULL) {
        map__path(sub, path, "deferred");
        (void)map__bool(p, v, sub, &c->deferred);
    }
    if ((v = map__get(p, n, "default")) != NULL) {
        map__path(sub, path, "default");
        c->default_value = map__string(p, v, sub);
    }
    if ((v = map__get(p, n, "values")) != NULL) {
        map__path(sub, path, "values");
        parse_values(p, c, v, sub);
    }
    if ((v = map__get(p, n, "transform")) != NULL) {
        map__path(sub, path, "transform");
        parse_transforms(p, c, v, sub);
    }
    if ((v = map__get(p, n, "json")) != NULL) {
        map__path(sub, path, "json");
        (void)map__bool(p, v, sub, &c->json);
    }
    if ((v = map__get(p, n, "on_invalid")) != NULL) {
        map__path(sub, path, "on_invalid");
        if (map__enum(p, v, sub, invalid, 2, &e))
            c->on_invalid = (enum map_on_invalid)e;
    }
}

static void
parse_spec(map_parser_t *p, map_column_t *c, yaml_node_t *n, const char *path)
{
    char sub[MAP__PATH_MAX];
    yaml_node_t *v;

    if (!map__check_mapping(p, n, path, "column",
                            "with from, ref, transform, ..."))
        return;
    if ((v = map__get(p, n, "from")) != NULL) {
        map__path(sub, path, "from");
        c->from = map__string_list(p, v, sub, &c->n_from, false);
    }
    if ((v = map__get(p, n, "ref")) != NULL) {
        map__path(sub, path, "ref");
        parse_ref(p, c, v, sub);
    }
    parse_spec_options(p, c, n, path);
    check_spec_shape(p, c, n, path);
}

void
map__parse_columns(map_parser_t *p, map_entity_t *e, yaml_node_t *n,
                   const char *path)
{
    map_column_t *cols;
    size_t len;

    if (!map__check_mapping(p, n, path, NULL,
                            "target column -> source column or spec"))
        return;
    len = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    cols = map__alloc(p->arena, (len ? len : 1) * sizeof(*cols));
    if (cols == NULL) {
        p->oom = true;
        return;
    }
    for (size_t i = 0; i < len; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *v = map__node(p, pr->value);
        const char *name = map__key_copy(p, pr);
        map_column_t *c = &cols[e->n_columns];
        char cpath[MAP__PATH_MAX];

        if (name == NULL)
            continue;
        map__path(cpath, path, name);
        c->name = name;
        c->pos = map__pos(map__node(p, pr->key));
        c->ref_index = MAP__NONE;
        if (v != NULL && v->type == YAML_MAPPING_NODE) {
            parse_spec(p, c, v, cpath);
        } else if (v != NULL && v->type == YAML_SCALAR_NODE &&
                   !map__is_null(v)) {
            c->from = map__string_list(p, v, cpath, &c->n_from, false);
        } else {
            map__diag(p, v, cpath,
                      "expected a source column name or a column spec "
                      "mapping, found %s",
                      map__kind(v));
            continue;
        }
        e->n_columns++;
    }
    e->columns = cols;
}
