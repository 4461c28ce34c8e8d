/* Fixtures shared by ferry-sink's unit tests: a two-entity mapping and
 * change events as ferry-cdc writes them.
 * tests/unit/sink/sink_fixture.h
 *
 * Each function fails the running cmocka test when its input does not
 * parse, so a test never goes on with a fixture that is not there. */
#ifndef SINK_FIXTURE_H
#define SINK_FIXTURE_H

#include "map_config.h"
#include "sink_event.h"

#include <stdint.h>

/* The mapping of entities offices (source office: a transform chain, a value
 * map and a JSON column) and doctors (source doctor: a ref to offices and a
 * column whose name needs quoting).  Returns a new model (free with
 * map_config_free()). */
map_config_t *fixture_mapping(void);

/* A create event of public.<table> (borrowed) in transaction txid
 * (borrowed, "<xid>:<commit LSN>"), at position order in it, with sequence
 * [commit, change], new row after (borrowed JSON text), key {"id":1}, read
 * at offset off of consumer slot slot.  Returns a new event (free with
 * sink_event_free()). */
sink_event_t *fixture_event(const char *table, const char *txid, long order,
                            unsigned commit, unsigned change, const char *after,
                            int slot, int64_t off);

#endif
