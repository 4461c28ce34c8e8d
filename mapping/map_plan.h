/* The apply order: entities sorted so that parents come before children.
 * mapping/map_plan.h
 *
 * An entity waits on every entity it refs (for a conditional ref, on every
 * case's entity), except through refs marked deferred: true and refs to
 * itself.  The order is a topological sort that is stable: among entities
 * that are ready at the same time, the one written first in the file comes
 * first.  A cycle is an error naming its entities in order.
 *
 * map_config_load() already stores the order in cfg->apply_order; these
 * functions are for tools and tests.  Thread-safe on a loaded model.
 */
#ifndef MAP_PLAN_H
#define MAP_PLAN_H

#include "map_config.h"

#include <stddef.h>

/* Writes into order (caller-owned, cfg->n_entities slots) the entity indexes
 * in apply order.  Each cycle adds one diagnostic to diags (caller-owned)
 * naming the entities in the cycle and the ref to defer; the entities of a
 * cycle are then placed as if the cycle were broken, so order is always
 * complete.  Returns 0, FERRY_ECONFIG when there was a cycle, or
 * FERRY_ENOMEM. */
int map_plan_order(const map_config_t *cfg, size_t *order,
                   map_diags_t *diags) FERRY_WUR;

/* Writes into deps (caller-owned, cfg->n_entities slots) the indexes of the
 * entities that entity waits on, in file order, and returns their number. */
size_t map_plan_waits_on(const map_config_t *cfg, size_t entity, size_t *deps);

/* Returns the first column of entity a (borrowed) through which it waits on
 * entity b, or NULL. */
const map_column_t *map_plan_edge(const map_config_t *cfg, size_t a, size_t b);

#endif
