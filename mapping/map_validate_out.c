/* ferry-map validate's report, for people and as JSON.
 * mapping/map_validate_out.c */
#include "map_validate.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void
verdict(const map_ventity_t *e, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    if (e->problem != NULL) {
        snprintf(buf, len, "NOT COMPARED: %s", e->problem);
        return;
    }
    if (e->agree) {
        if (e->n[MAP_VKIND_PARKED] > 0)
            snprintf(buf, len, "agree (%lld parked: parent not in target)",
                     e->n[MAP_VKIND_PARKED]);
        else
            snprintf(buf, len, "agree");
        return;
    }
    used = (size_t)snprintf(buf, len, "DIFFER:");
    for (int k = 0; k < MAP_VKIND_COUNT && used < len; k++) {
        if (e->n[k] == 0)
            continue;
        used += (size_t)snprintf(buf + used, len - used, " %lld %s,", e->n[k],
                                 map_vkind_name((enum map_vkind)k));
    }
    if (e->unresolved > 0 && used < len)
        used += (size_t)snprintf(buf + used, len - used,
                                 " %lld unresolved refs,", e->unresolved);
    if (used < len && used > 0 && buf[used - 1] == ',')
        buf[used - 1] = '\0';
}

static void
print_row(const map_vrow_t *r, FILE *out)
{
    fprintf(out, "    %-8s %s", map_vkind_name(r->kind), r->key);
    if (r->columns != NULL)
        fprintf(out, "  columns: %s", r->columns);
    if (r->waits_on != NULL)
        fprintf(out, "  waits on: %s",
                r->waits_on[0] ? r->waits_on : "(discriminator without case)");
    if (r->blocked_by != NULL)
        fprintf(out, "  blocked by: %s", r->blocked_by);
    if (r->error != NULL)
        fprintf(out, "  sink error: %s", r->error);
    fputc('\n', out);
}

void
map_validate_print_text(const map_vreport_t *r, FILE *out)
{
    long long src = 0, tgt = 0, parked = 0;
    size_t bad = 0;

    fprintf(out, "%-20s %10s %10s  %s\n", "entity", "source", "target",
            "verdict");
    for (size_t i = 0; i < r->n_entities; i++) {
        const map_ventity_t *e = &r->entities[i];
        char v[512];

        verdict(e, v, sizeof(v));
        fprintf(out, "%-20s %10lld %10lld  %s\n", e->name, e->source_rows,
                e->target_rows, v);
        for (size_t k = 0; k < e->n_rows; k++)
            if (!e->agree || e->rows[k].kind != MAP_VKIND_PARKED)
                print_row(&e->rows[k], out);
        if (!e->agree && e->errored > 0)
            fprintf(out,
                    "    (%lld of these rows have an error recorded by "
                    "ferry-sink)\n",
                    e->errored);
        src += e->source_rows;
        tgt += e->target_rows;
        parked += e->n[MAP_VKIND_PARKED];
        bad += !e->agree;
    }
    if (!r->state_found)
        fprintf(out, "note: no ferry-sink state in the target (parked and "
                     "errors tables not found)\n");
    if (r->agree)
        fprintf(out,
                "source and target agree: %zu entities, %lld source rows, "
                "%lld target rows, %lld parked, %lld sink errors recorded "
                "(%.1f s)\n",
                r->n_entities, src, tgt, parked, r->errors_total, r->seconds);
    else
        fprintf(out,
                "source and target DIFFER in %zu of %zu entities: %lld "
                "source rows, %lld target rows, %lld parked, %lld sink "
                "errors recorded (%.1f s)\n",
                bad, r->n_entities, src, tgt, parked, r->errors_total,
                r->seconds);
}

static json_t *
entity_json(const map_ventity_t *e)
{
    json_t *o = json_object(), *rows = json_array();

    if (o == NULL || rows == NULL) {
        json_decref(o);
        json_decref(rows);
        return NULL;
    }
    json_object_set_new(o, "entity", json_string(e->name));
    json_object_set_new(o, "agree", json_boolean(e->agree));
    json_object_set_new(o, "problem",
                        e->problem ? json_string(e->problem) : json_null());
    json_object_set_new(o, "source_rows", json_integer(e->source_rows));
    json_object_set_new(o, "target_rows", json_integer(e->target_rows));
    json_object_set_new(o, "buckets", json_integer(e->buckets));
    json_object_set_new(o, "differing_buckets", json_integer(e->diff_buckets));
    for (int k = 0; k < MAP_VKIND_COUNT; k++)
        json_object_set_new(o, map_vkind_name((enum map_vkind)k),
                            json_integer(e->n[k]));
    json_object_set_new(o, "errored", json_integer(e->errored));
    json_object_set_new(o, "unresolved_refs", json_integer(e->unresolved));
    for (size_t i = 0; i < e->n_rows; i++) {
        const map_vrow_t *r = &e->rows[i];
        json_t *j = json_object();

        if (j == NULL)
            continue;
        json_object_set_new(j, "kind", json_string(map_vkind_name(r->kind)));
        json_object_set_new(j, "key", json_string(r->key));
        if (r->columns != NULL) {
            json_t *cols = json_array();
            const char *p = r->columns;

            while (cols != NULL && *p != '\0') {
                const char *q = strstr(p, ", ");
                size_t n = q ? (size_t)(q - p) : strlen(p);

                json_array_append_new(cols, json_stringn(p, n));
                p += n + (q ? 2 : 0);
            }
            json_object_set_new(j, "columns", cols);
        }
        if (r->waits_on != NULL)
            json_object_set_new(j, "waits_on", json_string(r->waits_on));
        if (r->blocked_by != NULL)
            json_object_set_new(j, "blocked_by", json_string(r->blocked_by));
        json_object_set_new(j, "error",
                            r->error ? json_string(r->error) : json_null());
        json_array_append_new(rows, j);
    }
    json_object_set_new(o, "rows", rows);
    return o;
}

int
map_validate_print_json(const map_vreport_t *r, FILE *out)
{
    json_t *root = json_object(), *ents = json_array();
    int rc = -1;

    if (root == NULL || ents == NULL) {
        json_decref(root);
        json_decref(ents);
        return -1;
    }
    json_object_set_new(root, "agree", json_boolean(r->agree));
    json_object_set_new(root, "state_found", json_boolean(r->state_found));
    json_object_set_new(root, "errors_total", json_integer(r->errors_total));
    json_object_set_new(root, "seconds", json_real(r->seconds));
    for (size_t i = 0; i < r->n_entities; i++)
        json_array_append_new(ents, entity_json(&r->entities[i]));
    json_object_set_new(root, "entities", ents);
    if (json_dumpf(root, out, JSON_COMPACT) == 0) {
        fputc('\n', out);
        rc = 0;
    }
    json_decref(root);
    return rc;
}
