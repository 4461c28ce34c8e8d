/* Parking rows whose parent is not in the target yet (and deletes that
 * rows still reference).  Taking them out again is the batch's
 * (sink_apply_batch.c: the drain).
 * sink/sink_park.c */
#include "ferry_log.h"
#include "sink_apply_int.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sink__park_push(sink_apply_t *a, size_t idx, const sink_row_t *row,
                const char *missing_entity, const char *missing_uuid,
                bool waits_children, ferry_err_t *err)
{
    char cl[24], ch[24], part[16], off[24];
    const char *topic = NULL;
    const char *params[12];
    int partition = -1, rc;

    if (row->ev->pos.slot >= 0 && a->slot_topic != NULL)
        topic = a->slot_topic(a->slot_arg, row->ev->pos.slot, &partition);
    snprintf(cl, sizeof(cl), "%" PRIu64, row->pair.commit);
    snprintf(ch, sizeof(ch), "%" PRIu64, row->pair.change);
    snprintf(part, sizeof(part), "%d", partition);
    snprintf(off, sizeof(off), "%" PRId64, row->ev->pos.offset);
    params[0] = sink__entity_name(a, idx);
    params[1] = row->lkey;
    params[2] = missing_entity;
    params[3] = missing_uuid;
    params[4] = cl;
    params[5] = ch;
    params[6] = topic;
    params[7] = topic != NULL ? part : NULL;
    params[8] = topic != NULL ? off : NULL;
    params[9] = row->ev->raw_key;
    params[10] = row->ev->raw;
    params[11] = waits_children ? "children" : "parent";
    rc = sink_target_push(a->t,
                          &(sink_stmt_t){.what = "park a row",
                                         .sql = a->park_sql,
                                         .n = 12,
                                         .params = params},
                          err);
    if (rc != 0)
        return rc;
    if (waits_children) {
        a->blocked_maybe = true;
        ferry_debug("entity \"%s\" legacy key \"%s\": delete parked until "
                    "the rows that reference it are gone",
                    sink__entity_name(a, idx), row->lkey);
    } else {
        ferry_debug("entity \"%s\" legacy key \"%s\": parked until the %s "
                    "row %s arrives",
                    sink__entity_name(a, idx), row->lkey, missing_entity,
                    missing_uuid != NULL ? missing_uuid : "(no case)");
    }
    a->parked_rows++;
    a->att.parked++;
    return 0;
}

/* aux of a take-missing statement: entity index * 3 + policy. */
static int
took_missing(void *arg, size_t aux, PGresult *res, int rc, const char *sqlstate,
             ferry_err_t *err)
{
    sink_apply_t *a = arg;
    size_t idx = aux / 3;
    enum map_on_missing pol = (enum map_on_missing)(aux % 3);
    int i;

    (void)rc, (void)sqlstate;
    for (i = 0; i < PQntuples(res); i++) {
        size_t n = (size_t)atol(PQgetvalue(res, i, 0));
        size_t pe = (size_t)atol(PQgetvalue(res, i, 1));
        const char *uuid = PQgetvalue(res, i, 2);
        const sink_row_t *row = &a->sets[idx].rows[n];
        char msg[256];

        if (pol == MAP_ON_MISSING_PARK) {
            if ((rc = sink__park_push(a, idx, row, sink__entity_name(a, pe),
                                      uuid, false, err)) != 0)
                return rc;
            continue;
        }
        snprintf(msg, sizeof(msg),
                 "the parent row %s of entity \"%s\" is missing "
                 "(on_missing: error)",
                 uuid, sink__entity_name(a, pe));
        a->att.errors++;
        if ((rc = sink_dlq_record(a->dlq, a->t, sink__entity_name(a, idx),
                                  row->lkey, row->ev, NULL, msg, err)) != 0)
            return rc;
    }
    /* Taking rows out may take the parent of others staged with them. */
    return PQntuples(res) > 0 ? sink__take_missing_push(a, idx, pol, err) : 0;
}

int
sink__take_missing_push(sink_apply_t *a, size_t idx, enum map_on_missing pol,
                        ferry_err_t *err)
{
    const char *sql = a->sql[idx].take[pol];

    if (sql[0] == '\0')
        return 0;
    return sink_target_push(
        a->t,
        &(sink_stmt_t){.what = "find rows whose parent is missing",
                       .sql = sql,
                       .done = took_missing,
                       .arg = a,
                       .aux = idx * 3 + (size_t)pol},
        err);
}
