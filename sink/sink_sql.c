/* Generating the SQL of one entity.
 * sink/sink_sql.c */
#include "sink_sql.h"

#include <string.h>

/* Every builder appends to its parameter out. */
#define ADD(s) ferry_buf_append_str(out, (s))
#define PRINTF(...) ferry_buf_printf(out, __VA_ARGS__)

void
sink_sql_stage_ddl(const sink_plan_t *p, ferry_buf_t *out)
{
    size_t i;

    PRINTF("CREATE TEMP TABLE IF NOT EXISTS %s (__n int4, __op text, "
           "__lkey text, __cl int8, __ch int8, __ts int8, __id text, "
           "__dts int8, __abs bool[]",
           p->q_stage);
    for (i = 0; i < p->n_lcols; i++)
        PRINTF(", k%zu text", i);
    for (i = 0; i < p->e->n_columns; i++) {
        PRINTF(", c%zu text", i);
        if (p->e->columns[i].kind == MAP_COLUMN_COND_REF)
            PRINTF(", e%zu text", i);
    }
    ADD(")");
}

void
sink_sql_stale(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("DELETE FROM %s s WHERE EXISTS (SELECT 1 FROM %s.row_lsn r "
           "WHERE r.entity = $1 AND r.legacy_key = s.__lkey AND "
           "(r.commit_lsn, r.change_lsn) >= (s.__cl, s.__ch)) OR EXISTS "
           "(SELECT 1 FROM %s.truncated t WHERE t.entity = $1 AND "
           "(t.commit_lsn, t.change_lsn) >= (s.__cl, s.__ch))",
           p->q_stage, p->q_state, p->q_state);
}

/* "the row of parent entity pi with UUID s.c<ci> is in neither the target
 * nor the batch" */
static void
parent_absent(const sink_plan_t *p, size_t ci, size_t pi, ferry_buf_t *out)
{
    const sink_plan_t *pp = &p->plans[pi];

    PRINTF("NOT EXISTS (SELECT 1 FROM %s x WHERE x.%s = s.c%zu::uuid)",
           pp->q_target, pp->q_id, ci);
    if (pi == p->index)
        PRINTF(" AND NOT EXISTS (SELECT 1 FROM %s y WHERE y.__op = 'u' AND "
               "y.__id = s.c%zu)",
               p->q_stage, ci);
}

void
sink_sql_missing(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    const map_column_t *c = &p->e->columns[ci];
    size_t k;

    PRINTF("(s.c%zu IS NOT NULL AND ", ci);
    if (c->kind == MAP_COLUMN_REF) {
        parent_absent(p, ci, c->ref_index, out);
    } else {
        ADD("(false");
        for (k = 0; k < c->n_cases; k++) {
            PRINTF(" OR (s.e%zu = '%zu' AND ", ci, c->cases[k].entity_index);
            parent_absent(p, ci, c->cases[k].entity_index, out);
            ADD(")");
        }
        ADD(")");
    }
    ADD(")");
}

/* The entity index of ref column ci's parent, as SQL text. */
static void
parent_index_expr(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    const map_column_t *c = &p->e->columns[ci];

    if (c->kind == MAP_COLUMN_REF)
        PRINTF("'%zu'", c->ref_index);
    else
        PRINTF("s.e%zu", ci);
}

static bool
policy_is(const map_column_t *c, enum map_on_missing pol)
{
    if (c->kind == MAP_COLUMN_COPY)
        return false;
    if (c->deferred)
        return pol == MAP_ON_MISSING_NULL;
    return c->on_missing == pol;
}

void
sink_sql_take_missing(const sink_plan_t *p, enum map_on_missing pol,
                      ferry_buf_t *out)
{
    size_t i;
    bool any = false;

    PRINTF("DELETE FROM %s s WHERE s.__op = 'u' AND (false", p->q_stage);
    for (i = 0; i < p->e->n_columns; i++) {
        if (!policy_is(&p->e->columns[i], pol))
            continue;
        any = true;
        ADD(" OR ");
        sink_sql_missing(p, i, out);
    }
    ADD(") RETURNING s.__n, CASE");
    for (i = 0; i < p->e->n_columns; i++) {
        if (!policy_is(&p->e->columns[i], pol))
            continue;
        ADD(" WHEN ");
        sink_sql_missing(p, i, out);
        ADD(" THEN ");
        parent_index_expr(p, i, out);
    }
    ADD(" END, CASE");
    for (i = 0; i < p->e->n_columns; i++) {
        if (!policy_is(&p->e->columns[i], pol))
            continue;
        ADD(" WHEN ");
        sink_sql_missing(p, i, out);
        PRINTF(" THEN s.c%zu", i);
    }
    ADD(" END");
    if (!any)
        ferry_buf_reset(out);
}

void
sink_sql_null_missing(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    PRINTF("UPDATE %s s SET c%zu = NULL WHERE s.__op = 'u' AND ", p->q_stage,
           ci);
    sink_sql_missing(p, ci, out);
}

void
sink_sql_defer_forget(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    PRINTF("DELETE FROM %s.deferred d USING %s s WHERE d.entity = $1 AND "
           "d.col = $2 AND d.row_uuid = s.__id::uuid AND (s.__op = 'd' OR "
           "s.__abs IS NULL OR NOT s.__abs[%zu])",
           p->q_state, p->q_stage, ci + 1);
}

void
sink_sql_defer_note(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    PRINTF("INSERT INTO %s.deferred AS d (entity, col, row_uuid, "
           "parent_uuid) SELECT $1, $2, s.__id::uuid, s.c%zu::uuid FROM %s s "
           "WHERE s.__op = 'u' AND ",
           p->q_state, ci, p->q_stage);
    sink_sql_missing(p, ci, out);
    ADD(" ON CONFLICT (entity, col, row_uuid) DO UPDATE SET parent_uuid = "
        "EXCLUDED.parent_uuid, noted_at = now()");
}

/* "the parent d.parent_uuid of ref column ci is in the target" (UUIDs are
 * distinct across entities, so for a conditional ref any case will do) */
static void
parent_present(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    const map_column_t *c = &p->e->columns[ci];
    size_t k, n = c->kind == MAP_COLUMN_REF ? 1 : c->n_cases;

    ADD("(false");
    for (k = 0; k < n; k++) {
        const sink_plan_t *pp =
            &p->plans[c->kind == MAP_COLUMN_REF ? c->ref_index
                                                : c->cases[k].entity_index];

        PRINTF(" OR EXISTS (SELECT 1 FROM %s x WHERE x.%s = d.parent_uuid)",
               pp->q_target, pp->q_id);
    }
    ADD(")");
}

void
sink_sql_defer_patch(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    PRINTF("WITH ready AS (DELETE FROM %s.deferred d WHERE d.entity = $1 AND "
           "d.col = $2 AND ",
           p->q_state);
    parent_present(p, ci, out);
    PRINTF(" RETURNING d.row_uuid, d.parent_uuid) UPDATE %s t SET %s = "
           "r.parent_uuid::%s FROM ready r WHERE t.%s = r.row_uuid",
           p->q_target, p->q_cols[ci], p->col_types[ci], p->q_id);
}

/* "target row t is the staged row s" */
static void
match(const sink_plan_t *p, const char *t, ferry_buf_t *out)
{
    size_t i;

    if (p->n_lcols == 0) {
        PRINTF("%s.%s = s.__id::%s", t, p->q_id, p->id_type);
        return;
    }
    for (i = 0; i < p->n_lcols; i++)
        PRINTF("%s%s.%s = s.k%zu::%s", i > 0 ? " AND " : "", t, p->q_lcols[i],
               i, p->lcol_types[i]);
}

void
sink_sql_upsert(const sink_plan_t *p, bool one_row, ferry_buf_t *out)
{
    size_t i;
    bool any_set = false;

    PRINTF("INSERT INTO %s AS t (%s", p->q_target, p->q_id);
    for (i = 0; i < p->n_lcols; i++)
        PRINTF(", %s", p->q_lcols[i]);
    for (i = 0; i < p->e->n_columns; i++)
        PRINTF(", %s", p->q_cols[i]);
    if (p->q_soft != NULL)
        PRINTF(", %s", p->q_soft);
    PRINTF(") SELECT s.__id::%s", p->id_type);
    for (i = 0; i < p->n_lcols; i++)
        PRINTF(", s.k%zu::%s", i, p->lcol_types[i]);
    for (i = 0; i < p->e->n_columns; i++) {
        PRINTF(", CASE WHEN s.__abs IS NULL OR NOT s.__abs[%zu] THEN "
               "s.c%zu::%s ELSE (SELECT o.%s FROM %s o WHERE ",
               i + 1, i, p->col_types[i], p->q_cols[i], p->q_target);
        match(p, "o", out);
        ADD(") END");
    }
    if (p->q_soft != NULL)
        PRINTF(", to_timestamp(s.__dts / 1000.0)::%s", p->soft_type);
    PRINTF(" FROM %s s WHERE s.__op = 'u'%s ON CONFLICT (", p->q_stage,
           one_row ? " AND s.__n = $1" : "");
    if (p->n_lcols == 0)
        ADD(p->q_id);
    for (i = 0; i < p->n_lcols; i++)
        PRINTF("%s%s", i > 0 ? ", " : "", p->q_lcols[i]);
    ADD(") DO ");
    for (i = 0; i < p->e->n_columns; i++) {
        PRINTF("%s%s = EXCLUDED.%s", any_set ? ", " : "UPDATE SET ",
               p->q_cols[i], p->q_cols[i]);
        any_set = true;
    }
    if (p->q_soft != NULL) {
        PRINTF("%s%s = EXCLUDED.%s", any_set ? ", " : "UPDATE SET ", p->q_soft,
               p->q_soft);
        any_set = true;
    }
    if (!any_set)
        ADD("NOTHING");
}

void
sink_sql_delete(const sink_plan_t *p, bool one_row, ferry_buf_t *out)
{
    if (p->q_soft != NULL)
        PRINTF("UPDATE %s t SET %s = to_timestamp(s.__ts / 1000.0)::%s "
               "FROM %s s WHERE s.__op = 'd'%s AND ",
               p->q_target, p->q_soft, p->soft_type, p->q_stage,
               one_row ? " AND s.__n = $1" : "");
    else
        PRINTF("DELETE FROM %s t USING %s s WHERE s.__op = 'd'%s AND ",
               p->q_target, p->q_stage, one_row ? " AND s.__n = $1" : "");
    match(p, "t", out);
}

void
sink_sql_lock_keys(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("SELECT count(pg_advisory_xact_lock(hashtext($1), hashtext(k))) "
           "FROM (SELECT DISTINCT __lkey AS k FROM %s ORDER BY 1) s",
           p->q_stage);
}

void
sink_sql_row_lsn(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("INSERT INTO %s.row_lsn AS r (entity, legacy_key, commit_lsn, "
           "change_lsn) SELECT $1, s.__lkey, s.__cl, s.__ch FROM %s s "
           "ON CONFLICT (entity, legacy_key) DO UPDATE SET commit_lsn = "
           "EXCLUDED.commit_lsn, change_lsn = EXCLUDED.change_lsn",
           p->q_state, p->q_stage);
}

void
sink_sql_unpark_stale(const sink_plan_t *p, ferry_buf_t *out)
{
    /* SKIP LOCKED: a row another sink is draining is its business (it
     * finds it stale), and waiting for it could deadlock on the key locks. */
    PRINTF("DELETE FROM %s.parked WHERE id IN (SELECT p.id FROM %s.parked p "
           "JOIN %s s ON p.legacy_key = s.__lkey WHERE p.entity = $1 AND "
           "p.waits_for = 'parent' AND (p.commit_lsn, p.change_lsn) < "
           "(s.__cl, s.__ch) FOR UPDATE OF p SKIP LOCKED)",
           p->q_state, p->q_state, p->q_stage);
}

/* The statement of sink_sql_drain() and sink_sql_retry_blocked(), around
 * their condition on parked p. */
#define TAKE_PARKED_HEAD                                                       \
    "WITH d AS (DELETE FROM %s.parked WHERE id IN (SELECT p.id FROM "          \
    "%s.parked p WHERE "
#define TAKE_PARKED_TAIL                                                       \
    " FOR UPDATE SKIP LOCKED) RETURNING entity, event_key, event, "            \
    "kafka_offset, commit_lsn, change_lsn) SELECT entity, event_key, event, "  \
    "kafka_offset FROM d ORDER BY commit_lsn, change_lsn"

void
sink_sql_drain(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF(TAKE_PARKED_HEAD "p.missing_entity = $1 AND p.waits_for = "
                            "'parent' AND EXISTS (SELECT 1 FROM %s x WHERE "
                            "x.%s = p.missing_uuid)" TAKE_PARKED_TAIL,
           p->q_state, p->q_state, p->q_target, p->q_id);
}

void
sink_sql_retry_blocked(const char *q_state, ferry_buf_t *out)
{
    PRINTF(TAKE_PARKED_HEAD "p.waits_for = 'children'" TAKE_PARKED_TAIL,
           q_state, q_state);
}

void
sink_sql_truncate(const sink_plan_t *p, ferry_buf_t *out)
{
    size_t i;

    PRINTF("DELETE FROM %s", p->q_target);
    for (i = 0; i < p->n_lcols; i++)
        PRINTF("%s%s IS NOT NULL", i > 0 ? " AND " : " WHERE ", p->q_lcols[i]);
}

void
sink_sql_truncate_stale(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("SELECT EXISTS (SELECT 1 FROM %s.truncated WHERE entity = $1 AND "
           "(commit_lsn, change_lsn) >= ($2::int8, $3::int8)) OR EXISTS "
           "(SELECT 1 FROM %s.row_lsn WHERE entity = $1 AND (commit_lsn, "
           "change_lsn) > ($2::int8, $3::int8))",
           p->q_state, p->q_state);
}
