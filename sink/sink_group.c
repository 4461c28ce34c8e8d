/* The scale-out mode of ferry-sink: several processes share the entity
 * topics' partitions through a consumer group.  What it adds to the main
 * loop: reading the stored offsets at each assignment, dropping what was
 * read at a revocation, and storing offsets fenced against another member
 * that took a partition over.
 * sink/sink_group.c
 *
 * Why the offsets are fenced: a member that stalls past the session
 * timeout (a long target retry, a GC-like pause of the host) loses its
 * partitions while it may still be applying a batch read from them.  Its
 * successor started from the offsets stored in the target.  Whichever of
 * the two commits second finds the offset it started from gone (the UPDATE
 * below matches no row), rolls its whole batch back, and reads again from
 * what the first one stored.  Rows are never applied twice in a way that
 * counts: the loser's transaction is rolled back, and staged keys are
 * locked before the stale check (sink_apply_set_shared()).
 */
#include "ferry_buf.h"
#include "ferry_log.h"
#include "sink_pg.h"
#include "sink_run_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the array literals of the topics and partitions of the n slots
 * idx to t and p. */
static void
slot_arrays(const run_t *r, const size_t *idx, size_t n, ferry_buf_t *t,
            ferry_buf_t *p)
{
    size_t i;

    ferry_buf_putc(t, '{');
    ferry_buf_putc(p, '{');
    for (i = 0; i < n; i++) {
        const sink_slot_t *s = &r->kc.slots[idx[i]];

        ferry_buf_printf(t, "%s\"%s\"", i > 0 ? "," : "", s->topic);
        ferry_buf_printf(p, "%s%d", i > 0 ? "," : "", (int)s->partition);
    }
    ferry_buf_putc(t, '}');
    ferry_buf_putc(p, '}');
}

/* Makes sure every slot in idx has a row in offsets (0: the beginning),
 * reads the stored offsets and positions the slots there. */
static int
read_stored(run_t *r, const size_t *idx, size_t n, ferry_err_t *err)
{
    ferry_buf_t sql = {0}, t = {0}, p = {0};
    const char *params[2];
    PGresult *res = NULL;
    int64_t *found = calloc(n + 1, sizeof(*found));
    size_t i;
    int rc;

    slot_arrays(r, idx, n, &t, &p);
    ferry_buf_printf(
        &sql,
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::int[]) WITH "
        "ORDINALITY AS u(t, p, i)), ins AS (INSERT INTO %s.offsets "
        "(topic, partition, next_offset) SELECT t, p, 0 FROM u ON "
        "CONFLICT DO NOTHING RETURNING topic, partition, next_offset) "
        "SELECT u.i, coalesce(o.next_offset, ins.next_offset) FROM u "
        "LEFT JOIN %s.offsets o ON o.topic = u.t AND o.partition = u.p "
        "LEFT JOIN ins ON ins.topic = u.t AND ins.partition = u.p",
        r->q_state, r->q_state);
    if (found == NULL) {
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory reading the stored offsets");
        goto done;
    }
    if ((rc = ferry_buf_status(&t, err, "reading the stored offsets")) != 0 ||
        (rc = ferry_buf_status(&p, err, "reading the stored offsets")) != 0 ||
        (rc = ferry_buf_status(&sql, err, "reading the stored offsets")) != 0)
        goto done;
    params[0] = ferry_buf_cstr(&t);
    params[1] = ferry_buf_cstr(&p);
    for (i = 0; i < n; i++)
        found[i] = -1;
    rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 2, params, &res, NULL,
                      "read the stored offsets", FERRY_PG_DATA_FATAL, err);
    for (i = 0; rc == 0 && i < (size_t)PQntuples(res); i++) {
        long at = atol(PQgetvalue(res, (int)i, 0)) - 1;

        if (at >= 0 && (size_t)at < n && !PQgetisnull(res, (int)i, 1))
            found[at] = atoll(PQgetvalue(res, (int)i, 1));
    }
    PQclear(res);
    for (i = 0; rc == 0 && i < n; i++) {
        if (found[i] < 0) {
            rc = ferry_err_set(err, FERRY_ETRANSIENT,
                               "no stored offset for topic \"%s\" partition "
                               "%d after creating it",
                               r->kc.slots[idx[i]].topic,
                               (int)r->kc.slots[idx[i]].partition);
            break;
        }
        rc = sink_consumer_position(&r->kc, idx[i], found[i], err);
    }
done:
    free(found);
    ferry_buf_close(&sql);
    ferry_buf_close(&t);
    ferry_buf_close(&p);
    return rc;
}

/* Grows r->minoff to the consumer's slots. */
static int
grow_minoff(run_t *r, ferry_err_t *err)
{
    int64_t *m = realloc(r->minoff, (r->kc.n_slots + 1) * sizeof(*m));

    if (m == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    r->minoff = m;
    return 0;
}

/* Reads the stored offsets of the slots idx, retrying transient errors
 * with backoff until it works or the sink is stopped. */
static int
read_stored_retrying(run_t *r, const size_t *idx, size_t n, ferry_err_t *err)
{
    long backoff = 100;
    int rc;

    while ((rc = read_stored(r, idx, n, err)) == FERRY_ETRANSIENT) {
        ferry_warn("%s; retrying in %ld ms", err->msg, backoff);
        if ((rc = sink__run_pause(r, &backoff, err)) != 0)
            return rc;
        if ((rc = sink__run_reconnect(r, err)) != 0 && rc != FERRY_ETRANSIENT)
            return rc;
    }
    return rc;
}

static int
on_assign(void *arg, sink_consumer_t *c, const size_t *idx, size_t n,
          ferry_err_t *err)
{
    run_t *r = arg;
    int rc;

    (void)c;
    if ((rc = grow_minoff(r, err)) != 0 ||
        (rc = read_stored_retrying(r, idx, n, err)) != 0)
        return rc;
    ferry_info("group \"%s\" assigned %zu partitions to this sink", r->group,
               n);
    return 0;
}

static void
on_revoke(void *arg)
{
    run_t *r = arg;

    if (r->loose != NULL)
        ferry_info("group \"%s\" took the partitions back; dropping %zu "
                   "events read and not applied (their new owner reads "
                   "them from the stored offsets)",
                   r->group, r->loose->n_events);
    sink_tx_free(r->loose);
    r->loose = NULL;
    r->dirty = false;
}

int
sink__group_start(run_t *r, ferry_err_t *err)
{
    int rc;

    r->kc.on_assign = on_assign;
    r->kc.on_revoke = on_revoke;
    r->kc.cb_arg = r;
    sink_apply_set_shared(r->apply, true);
    rc = sink_apply_forget_bounds(r->apply, err);
    return rc != 0 ? rc : sink_consumer_subscribe(&r->kc, err);
}

int
sink__group_on_message(run_t *r, const rd_kafka_message_t *m, int slot,
                       ferry_err_t *err)
{

    /* A message fetched before a revocation: its new owner applies it. */
    if (!r->kc.slots[slot].owned)
        return 0;
    return sink__loose_take(r, m, slot, err);
}

int
sink__group_store_positions(run_t *r, ferry_err_t *err)
{
    ferry_buf_t sql = {0}, t = {0}, p = {0}, e = {0}, n = {0};
    const char *params[4];
    size_t i, k = 0;
    long moved;
    PGresult *res = NULL;
    int rc;

    if ((rc = grow_minoff(r, err)) != 0)
        return rc;
    for (i = 0; i < r->kc.n_slots; i++) {
        const sink_slot_t *s = &r->kc.slots[i];

        r->minoff[i] = s->owned ? s->next : s->stored;
        if (!s->owned || s->next == s->stored)
            continue;
        ferry_buf_printf(&t, "%s\"%s\"", k > 0 ? "," : "{", s->topic);
        ferry_buf_printf(&p, "%s%d", k > 0 ? "," : "{", (int)s->partition);
        ferry_buf_printf(&e, "%s%" PRId64, k > 0 ? "," : "{", s->stored);
        ferry_buf_printf(&n, "%s%" PRId64, k > 0 ? "," : "{", s->next);
        k++;
    }
    if (k == 0)
        goto done;
    ferry_buf_putc(&t, '}');
    ferry_buf_putc(&p, '}');
    ferry_buf_putc(&e, '}');
    ferry_buf_putc(&n, '}');
    ferry_buf_printf(
        &sql,
        "UPDATE %s.offsets o SET next_offset = u.n, updated_at = now() FROM "
        "unnest($1::text[], $2::int[], $3::int8[], $4::int8[]) AS u(t, p, e, "
        "n) WHERE o.topic = u.t AND o.partition = u.p AND o.next_offset = u.e",
        r->q_state);
    if ((rc = ferry_buf_status(&t, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&p, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&e, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&n, err, "storing the Kafka offsets")) != 0 ||
        (rc = ferry_buf_status(&sql, err, "storing the Kafka offsets")) != 0)
        goto done;
    params[0] = ferry_buf_cstr(&t);
    params[1] = ferry_buf_cstr(&p);
    params[2] = ferry_buf_cstr(&e);
    params[3] = ferry_buf_cstr(&n);
    rc = sink_pg_exec(r->conn, ferry_buf_cstr(&sql), 4, params, &res, NULL,
                      "store the Kafka offsets", FERRY_PG_DATA_FATAL, err);
    if (rc != 0)
        goto done;
    moved = atol(PQcmdTuples(res));
    PQclear(res);
    if (moved != (long)k) {
        r->fenced = true;
        rc = ferry_err_set(err, FERRY_EFATAL,
                           "the stored offsets of %ld of %zu partitions "
                           "moved under this sink (another member of group "
                           "\"%s\" applied them)",
                           (long)k - moved, k, r->group);
    }
done:
    ferry_buf_close(&sql);
    ferry_buf_close(&t);
    ferry_buf_close(&p);
    ferry_buf_close(&e);
    ferry_buf_close(&n);
    return rc;
}

int
sink__group_refetch(run_t *r, ferry_err_t *err)
{
    size_t *idx = calloc(r->kc.n_slots + 1, sizeof(*idx));
    size_t i, n = 0;
    int rc;

    if (idx == NULL)
        return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
    ferry_warn("%s; dropping this batch and reading again from the stored "
               "offsets",
               err->msg);
    r->fenced = false;
    sink_tx_free(r->loose);
    r->loose = NULL;
    r->dirty = false;
    for (i = 0; i < r->kc.n_slots; i++)
        if (r->kc.slots[i].owned)
            idx[n++] = i;
    rc = read_stored_retrying(r, idx, n, err);
    free(idx);
    if (rc == 0)
        rc = sink_consumer_reassign(&r->kc, err);
    return rc;
}
