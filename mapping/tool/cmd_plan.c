/* ferry-map plan: the entities in apply order and what each waits on.
 * mapping/tool/cmd_plan.c */
#include "ferry_map.h"
#include "map_plan.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
plan_usage(FILE *out)
{
    fprintf(out,
            "ferry-map plan prints the entities in the order ferry applies "
            "them:\n"
            "parents before children, ties in file order.  For each: its "
            "source\n"
            "table and topic, its target table, the entities it waits on, "
            "and its\n"
            "deferred refs (written as NULL first, patched later).  Needs no "
            "database.\n\n"
            "Usage:\n"
            "  ferry-map plan [--config FILE] [--format text|json]\n\n"
            "Options:\n"
            "  -c, --config=FILE     the mapping file (default ./ferry.yaml)\n"
            "  -f, --format=FORMAT   text (default) or json\n"
            "  -h, --help            show this help and exit\n\n"
            "Examples:\n"
            "  ferry-map plan -c ferry.yaml\n"
            "  ferry-map plan -c ferry.yaml --format json | jq "
            "'.entities[].name'\n");
}

/* Writes the names of the entities col refs into arr. */
static void
ref_targets(const map_config_t *cfg, const map_column_t *col, json_t *arr)
{
    if (col->kind == MAP_COLUMN_REF)
        json_array_append_new(arr,
                              json_string(cfg->entities[col->ref_index].name));
    for (size_t k = 0; k < col->n_cases; k++)
        json_array_append_new(arr, json_string(col->cases[k].entity));
}

/* Returns a new JSON object describing entity i at position pos. */
static json_t *
entity_json(const map_config_t *cfg, size_t i, size_t pos, size_t *deps)
{
    const map_entity_t *e = &cfg->entities[i];
    json_t *o = json_object();
    json_t *waits = json_array();
    json_t *deferred = json_array();
    json_t *self = json_array();
    json_t *key = json_array();
    size_t n = map_plan_waits_on(cfg, i, deps);

    for (size_t k = 0; k < n; k++)
        json_array_append_new(waits, json_string(cfg->entities[deps[k]].name));
    for (size_t k = 0; k < e->n_key; k++)
        json_array_append_new(key, json_string(e->key[k]));
    for (size_t k = 0; k < e->n_columns; k++) {
        const map_column_t *c = &e->columns[k];

        if (c->kind == MAP_COLUMN_COPY)
            continue;
        if (c->deferred) {
            json_t *d = json_object();
            json_t *to = json_array();

            ref_targets(cfg, c, to);
            json_object_set_new(d, "column", json_string(c->name));
            json_object_set_new(d, "entities", to);
            json_array_append_new(deferred, d);
        } else if (c->kind == MAP_COLUMN_REF && c->ref_index == i) {
            json_array_append_new(self, json_string(c->name));
        }
    }
    json_object_set_new(o, "position", json_integer((json_int_t)pos));
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "source",
                        json_pack("{s:s, s:s}", "schema", e->source_schema,
                                  "table", e->source_table));
    json_object_set_new(o, "target",
                        json_pack("{s:s, s:s}", "schema", e->target_schema,
                                  "table", e->target_table));
    json_object_set_new(o, "topic", json_string(map_entity_topic(cfg, e)));
    json_object_set_new(o, "key", e->n_key ? key : json_null());
    if (e->n_key == 0)
        json_decref(key);
    json_object_set_new(o, "waits_on", waits);
    json_object_set_new(o, "deferred_refs", deferred);
    json_object_set_new(o, "self_refs", self);
    return o;
}

static int
print_json(const map_config_t *cfg, size_t *deps)
{
    json_t *root = json_object();
    json_t *list = json_array();
    char *text;

    for (size_t p = 0; p < cfg->n_entities; p++)
        json_array_append_new(
            list, entity_json(cfg, cfg->apply_order[p], p + 1, deps));
    json_object_set_new(root, "entities", list);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL) {
        fprintf(stderr, "ferry-map: out of memory\n");
        return TOOL_EXIT_PROBLEMS;
    }
    printf("%s\n", text);
    free(text);
    return TOOL_EXIT_OK;
}

static void
print_entity_text(const map_config_t *cfg, size_t i, size_t pos, size_t *deps)
{
    const map_entity_t *e = &cfg->entities[i];
    size_t n = map_plan_waits_on(cfg, i, deps);

    printf("%zu. %s\n", pos, e->name);
    printf("     source:   %s.%s (topic %s)\n", e->source_schema,
           e->source_table, map_entity_topic(cfg, e));
    printf("     target:   %s.%s\n", e->target_schema, e->target_table);
    printf("     waits on:");
    for (size_t k = 0; k < n; k++)
        printf("%s %s", k ? "," : "", cfg->entities[deps[k]].name);
    printf("%s\n", n ? "" : " nothing");
    for (size_t k = 0; k < e->n_columns; k++) {
        const map_column_t *c = &e->columns[k];

        if (c->kind == MAP_COLUMN_COPY)
            continue;
        if (c->deferred)
            printf("     deferred: %s -> %s (patched once the parent is "
                   "there)\n",
                   c->name,
                   c->kind == MAP_COLUMN_REF ? c->ref : "(conditional ref)");
        else if (c->kind == MAP_COLUMN_REF && c->ref_index == i)
            printf("     self ref: %s\n", c->name);
    }
}

int
tool_cmd_plan(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = "ferry.yaml";
    const char *format = "text";
    map_config_t *cfg = NULL;
    size_t *deps = NULL;
    int c;
    int rc = TOOL_EXIT_USAGE;

    while ((c = getopt_long(argc, argv, "c:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            plan_usage(stdout);
            return TOOL_EXIT_OK;
        default:
            return tool_usage_error("plan ");
        }
    }
    if (optind < argc ||
        (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)) {
        fprintf(stderr, "ferry-map plan: %s\n",
                optind < argc ? "unexpected argument"
                              : "--format must be text or json");
        return tool_usage_error("plan ");
    }
    cfg = tool_load_config(path);
    if (cfg == NULL)
        goto done;
    deps = calloc(cfg->n_entities + 1, sizeof(*deps));
    if (deps == NULL) {
        rc = TOOL_EXIT_PROBLEMS;
        goto done;
    }
    if (strcmp(format, "json") == 0) {
        rc = print_json(cfg, deps);
        goto done;
    }
    printf("apply order of %s (%zu entities):\n", path, cfg->n_entities);
    for (size_t p = 0; p < cfg->n_entities; p++)
        print_entity_text(cfg, cfg->apply_order[p], p + 1, deps);
    rc = TOOL_EXIT_OK;

done:
    free(deps);
    map_config_free(cfg);
    return rc;
}
