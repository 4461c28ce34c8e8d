/* The apply order: a stable topological sort of the entities by their refs.
 * mapping/map_plan.c
 *
 * Entity counts are small (tens, a few hundred), so the sort keeps a
 * dependency matrix and picks, at every step, the first entity in file order
 * whose parents are all placed.  That is quadratic per step and makes the
 * order easy to predict from the file.
 */
#include "map_plan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
column_refs(const map_column_t *c, size_t b)
{
    if (c->deferred)
        return false;
    if (c->kind == MAP_COLUMN_REF)
        return c->ref_index == b;
    for (size_t i = 0; c->kind == MAP_COLUMN_COND_REF && i < c->n_cases; i++) {
        if (c->cases[i].entity_index == b)
            return true;
    }
    return false;
}

const map_column_t *
map_plan_edge(const map_config_t *cfg, size_t a, size_t b)
{
    const map_entity_t *e = &cfg->entities[a];

    if (a == b)
        return NULL;
    for (size_t i = 0; i < e->n_columns; i++) {
        if (column_refs(&e->columns[i], b))
            return &e->columns[i];
    }
    return NULL;
}

size_t
map_plan_waits_on(const map_config_t *cfg, size_t entity, size_t *deps)
{
    size_t n = 0;

    for (size_t b = 0; b < cfg->n_entities; b++) {
        if (map_plan_edge(cfg, entity, b) != NULL)
            deps[n++] = b;
    }
    return n;
}

/* Finds a cycle among the entities not yet placed, starting from the first,
 * and writes it into cycle; returns its length. */
static size_t
find_cycle(size_t n, const bool *dep, const bool *placed, size_t *walk,
           size_t *cycle)
{
    size_t len = 0;
    size_t cur = 0;

    while (placed[cur])
        cur++;
    for (;;) {
        size_t next;

        for (size_t i = 0; i < len; i++) {
            if (walk[i] == cur) {
                memcpy(cycle, walk + i, (len - i) * sizeof(*cycle));
                return len - i;
            }
        }
        walk[len++] = cur;
        for (next = 0; next < n; next++) {
            if (dep[cur * n + next] && !placed[next])
                break;
        }
        cur = next; /* every unplaced entity has an unplaced parent */
    }
}

static void
report_cycle(const map_config_t *cfg, const size_t *cycle, size_t len,
             map_diags_t *diags)
{
    char names[1024];
    char path[512];
    size_t used = 0;
    size_t last = cycle[len - 1];
    const map_column_t *c = map_plan_edge(cfg, last, cycle[0]);
    map_diag_t *d;

    names[0] = '\0';
    for (size_t i = 0; i <= len; i++) {
        int w = snprintf(names + used, sizeof(names) - used, "%s%s",
                         i ? " -> " : "", cfg->entities[cycle[i % len]].name);

        if (w < 0 || (size_t)w >= sizeof(names) - used)
            break;
        used += (size_t)w;
    }
    snprintf(path, sizeof(path), "entities.%s.columns.%s",
             cfg->entities[last].name, c->name);
    d = map_diags_add(diags, cfg->path, c->pos, path,
                      "dependency cycle: %s (each waits on the next through a "
                      "ref)",
                      names);
    map_diag_hint(d,
                  "break the cycle with \"deferred: true\" on one of its "
                  "refs, e.g. on %s (written as NULL first, patched once the "
                  "%s row is there)",
                  path, cfg->entities[cycle[0]].name);
}

int
map_plan_order(const map_config_t *cfg, size_t *order, map_diags_t *diags)
{
    size_t n = cfg->n_entities;
    bool *dep = calloc(n * n + 1, sizeof(*dep));
    bool *placed = calloc(n + 1, sizeof(*placed));
    size_t *walk = calloc(2 * n + 2, sizeof(*walk));
    size_t done = 0;
    int rc = FERRY_ENOMEM;

    if (dep == NULL || placed == NULL || walk == NULL)
        goto done;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++)
            dep[a * n + b] = map_plan_edge(cfg, a, b) != NULL;
    }
    rc = 0;
    while (done < n) {
        size_t a;

        for (a = 0; a < n; a++) {
            size_t b;

            if (placed[a])
                continue;
            for (b = 0; b < n && !(dep[a * n + b] && !placed[b]); b++)
                ;
            if (b == n)
                break;
        }
        if (a < n) {
            placed[a] = true;
            order[done++] = a;
            continue;
        }
        /* Stuck: every entity left waits on another one left. */
        {
            size_t *cycle = walk + n + 1;
            size_t len = find_cycle(n, dep, placed, walk, cycle);

            report_cycle(cfg, cycle, len, diags);
            rc = FERRY_ECONFIG;
            /* Break the reported cycle's closing edge and go on, so that
             * other cycles are reported too. */
            dep[cycle[len - 1] * n + cycle[0]] = false;
        }
    }

done:
    free(dep);
    free(placed);
    free(walk);
    return rc;
}
