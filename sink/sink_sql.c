/* Generating the SQL of one entity.
 * sink/sink_sql.c */
#include "sink_sql.h"

#include "map_rules.h"

#include <stdint.h>
#include <stdlib.h>
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

static void match(const sink_plan_t *p, const char *t, ferry_buf_t *out);

/* The staged row's position as the lsn column holds it. */
#define STAGED_LSN SINK_SQL_LSN("s.__cl", "s.__ch")

void
sink_sql_stale(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("DELETE FROM %s s WHERE EXISTS (SELECT 1 FROM %s.row_lsn r "
           "WHERE r.entity = $1 AND r.legacy_key = s.__lkey AND "
           "(r.commit_lsn, r.change_lsn) >= (s.__cl, s.__ch)) OR EXISTS "
           "(SELECT 1 FROM %s.truncated t WHERE t.entity = $1 AND "
           "(t.commit_lsn, t.change_lsn) >= (s.__cl, s.__ch))",
           p->q_stage, p->q_state, p->q_state);
    /* With an lsn column, row_lsn holds the positions of deletes only: a
     * row's own is in the row. */
    if (p->q_lsn != NULL) {
        PRINTF(" OR EXISTS (SELECT 1 FROM %s o WHERE ", p->q_target);
        match(p, "o", out);
        PRINTF(" AND o.%s >= " STAGED_LSN ")", p->q_lsn);
    }
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

/* A pending patch noted again replaces the earlier one: the newest parent
 * wins. */
#define DEFER_UPSERT                                                           \
    " ON CONFLICT (entity, col, row_uuid) DO UPDATE SET parent_uuid = "        \
    "EXCLUDED.parent_uuid, noted_at = now()"

void
sink_sql_defer_note(const sink_plan_t *p, size_t ci, ferry_buf_t *out)
{
    PRINTF("INSERT INTO %s.deferred AS d (entity, col, row_uuid, "
           "parent_uuid) SELECT $1, $2, s.__id::uuid, s.c%zu::uuid FROM %s s "
           "WHERE s.__op = 'u' AND ",
           p->q_state, ci, p->q_stage);
    sink_sql_missing(p, ci, out);
    ADD(DEFER_UPSERT);
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
    PRINTF(" AND EXISTS (SELECT 1 FROM %s w WHERE w.%s = d.row_uuid)",
           p->q_target, p->q_id);
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
    if (p->q_lsn != NULL)
        PRINTF(", %s", p->q_lsn);
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
    if (p->q_lsn != NULL)
        ADD(", " STAGED_LSN);
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
    /* The stale guard in the upsert: an older position never overwrites
     * a newer one (the stale check before it drops such rows when any can
     * be; this makes the upsert safe on its own). */
    if (p->q_lsn != NULL) {
        PRINTF("%s%s = EXCLUDED.%s WHERE t.%s IS NULL OR t.%s < EXCLUDED.%s",
               any_set ? ", " : "UPDATE SET ", p->q_lsn, p->q_lsn, p->q_lsn,
               p->q_lsn, p->q_lsn);
        any_set = true;
    }
    if (!any_set)
        ADD("NOTHING");
}

void
sink_sql_delete(const sink_plan_t *p, bool one_row, ferry_buf_t *out)
{
    if (p->q_soft != NULL) {
        PRINTF("UPDATE %s t SET %s = to_timestamp(s.__ts / 1000.0)::%s",
               p->q_target, p->q_soft, p->soft_type);
        if (p->q_lsn != NULL)
            PRINTF(", %s = " STAGED_LSN, p->q_lsn);
        PRINTF(" FROM %s s WHERE s.__op = 'd'%s AND ", p->q_stage,
               one_row ? " AND s.__n = $1" : "");
    } else {
        PRINTF("DELETE FROM %s t USING %s s WHERE s.__op = 'd'%s AND ",
               p->q_target, p->q_stage, one_row ? " AND s.__n = $1" : "");
    }
    match(p, "t", out);
    /* A delete older than the row (drained late, say) leaves it. */
    if (p->q_lsn != NULL)
        PRINTF(" AND (t.%s IS NULL OR t.%s < " STAGED_LSN ")", p->q_lsn,
               p->q_lsn);
}

void
sink_sql_lock_keys(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("SELECT count(pg_advisory_xact_lock(hashtext($1), hashtext(k))) "
           "FROM (SELECT DISTINCT __lkey AS k FROM %s ORDER BY 1) s",
           p->q_stage);
}

/* One CTE of sink_sql_lock_parents(): the rows of parent entity pi that
 * the staged upserts reference through column ci (with cond, only where
 * its discriminator chose pi). */
static void
lock_parent(const sink_plan_t *p, size_t ci, size_t pi, bool cond, size_t k,
            ferry_buf_t *out)
{
    const sink_plan_t *pp = &p->plans[pi];

    PRINTF("%s l%zu AS (SELECT 1 FROM %s x WHERE x.%s IN (SELECT "
           "s.c%zu::uuid FROM %s s WHERE s.__op = 'u' AND s.c%zu IS NOT NULL",
           k == 0 ? "WITH" : ",", k, pp->q_target, pp->q_id, ci, p->q_stage,
           ci);
    if (cond)
        PRINTF(" AND s.e%zu = '%zu'", ci, pi);
    PRINTF(") ORDER BY x.%s FOR KEY SHARE OF x)", pp->q_id);
}

void
sink_sql_lock_parents(const sink_plan_t *p, ferry_buf_t *out)
{
    size_t ci, j, k = 0;

    for (ci = 0; ci < p->e->n_columns; ci++) {
        const map_column_t *c = &p->e->columns[ci];

        if (c->kind == MAP_COLUMN_REF)
            lock_parent(p, ci, c->ref_index, false, k++, out);
        else if (c->kind == MAP_COLUMN_COND_REF)
            for (j = 0; j < c->n_cases; j++)
                lock_parent(p, ci, c->cases[j].entity_index, true, k++, out);
    }
    if (k == 0)
        return; /* no refs: no statement */
    ADD(" SELECT 0");
    for (j = 0; j < k; j++)
        PRINTF(" + (SELECT count(*) FROM l%zu)", j);
}

void
sink_sql_row_lsn(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("INSERT INTO %s.row_lsn AS r (entity, legacy_key, commit_lsn, "
           "change_lsn) SELECT $1, s.__lkey, s.__cl, s.__ch FROM %s s%s "
           "ON CONFLICT (entity, legacy_key) DO UPDATE SET commit_lsn = "
           "EXCLUDED.commit_lsn, change_lsn = EXCLUDED.change_lsn WHERE "
           "(r.commit_lsn, r.change_lsn) < (EXCLUDED.commit_lsn, "
           "EXCLUDED.change_lsn)",
           p->q_state, p->q_stage,
           p->q_lsn != NULL ? " WHERE s.__op = 'd'" : "");
}

void
sink_sql_unpark_stale(const sink_plan_t *p, ferry_buf_t *out)
{
    /* SKIP LOCKED: a row another sink is draining is its business (it
     * finds it stale), and waiting for it could deadlock on the key locks. */
    PRINTF("DELETE FROM %s.parked WHERE id IN (SELECT p.id FROM %s.parked p "
           "JOIN %s s ON p.legacy_key = s.__lkey WHERE p.entity = $1 AND "
           "(p.commit_lsn, p.change_lsn) < "
           "(s.__cl, s.__ch) FOR UPDATE OF p SKIP LOCKED)",
           p->q_state, p->q_state, p->q_stage);
}

/* The statement of sink_sql_drain() and sink_sql_retry_blocked(), around
 * their condition on parked p. */
#define TAKE_PARKED_HEAD                                                       \
    "WITH d AS (DELETE FROM %s.parked WHERE id IN (SELECT p.id FROM "          \
    "%s.parked p WHERE "
#define TAKE_PARKED_TAIL                                                       \
    " FOR UPDATE SKIP LOCKED) RETURNING " SINK_SQL_TAKEN_COLS                  \
    ", commit_lsn, change_lsn) SELECT " SINK_SQL_TAKEN_COLS                    \
    " FROM d ORDER BY commit_lsn, change_lsn"

static void row_refs_ready(const sink_plan_t *p, ferry_buf_t *out);

void
sink_sql_drain(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF(TAKE_PARKED_HEAD "p.missing_entity = $1 AND p.waits_for = "
                            "'parent' AND EXISTS (SELECT 1 FROM %s x WHERE "
                            "x.%s = p.missing_uuid)",
           p->q_state, p->q_state, p->q_target, p->q_id);
    row_refs_ready(p, out);
    ADD(" ORDER BY p.commit_lsn, p.change_lsn LIMIT $2" TAKE_PARKED_TAIL);
}

void
sink_sql_retry_blocked(const char *q_state, int limit, ferry_buf_t *out)
{
    PRINTF(TAKE_PARKED_HEAD "p.waits_for = 'children' AND (p.next_retry_at "
                            "IS NULL OR p.next_retry_at <= now()) ORDER BY "
                            "p.next_retry_at NULLS FIRST, p.id LIMIT "
                            "%d" TAKE_PARKED_TAIL,
           q_state, q_state, limit);
}

void
sink_sql_truncate(const sink_plan_t *p, ferry_buf_t *out)
{
    size_t i;

    /* Without a legacy id, the application's own rows look like ferry's:
     * only the UUIDs of the keys ferry applied are deleted. */
    if (p->n_lcols == 0) {
        PRINTF("DELETE FROM %s t USING pg_temp.ferry_trunc x WHERE t.%s = "
               "x.id",
               p->q_target, p->q_id);
        return;
    }
    PRINTF("DELETE FROM %s", p->q_target);
    for (i = 0; i < p->n_lcols; i++)
        PRINTF("%s%s IS NOT NULL", i > 0 ? " AND " : " WHERE ", p->q_lcols[i]);
}

static void literal(ferry_buf_t *out, const char *s);

void
sink_sql_truncate_keys(const sink_plan_t *p, ferry_buf_t *out)
{
    if (p->n_lcols > 0)
        return;
    PRINTF("DECLARE ferry_trunc_keys NO SCROLL CURSOR FOR SELECT legacy_key "
           "FROM %s.row_lsn WHERE entity = ",
           p->q_state);
    literal(out, p->e->name);
}

void
sink_sql_truncate_stale(const sink_plan_t *p, ferry_buf_t *out)
{
    PRINTF("SELECT EXISTS (SELECT 1 FROM %s.truncated WHERE entity = $1 AND "
           "(commit_lsn, change_lsn) >= ($2::int8, $3::int8)) OR EXISTS "
           "(SELECT 1 FROM %s.row_lsn WHERE entity = $1 AND (commit_lsn, "
           "change_lsn) > ($2::int8, $3::int8))",
           p->q_state, p->q_state);
    if (p->q_lsn != NULL)
        PRINTF(" OR EXISTS (SELECT 1 FROM %s WHERE %s > " SINK_SQL_LSN(
                   "$2::int8", "$3::int8") ")",
               p->q_target, p->q_lsn);
}

/* --- parents deleted under children ------------------------------------ */

/* s as an E'' literal, whatever standard_conforming_strings says. */
static void
literal(ferry_buf_t *out, const char *s)
{
    ADD("E'");
    for (; *s != '\0'; s++) {
        if (*s == '\'' || *s == '\\')
            ferry_buf_putc(out, *s);
        ferry_buf_putc(out, *s);
    }
    ADD("'");
}

/* Whether ref column c may point at a row of entity pi. */
static bool
refs_entity(const map_column_t *c, size_t pi)
{
    size_t k;

    if (c->kind == MAP_COLUMN_REF)
        return c->ref_index == pi;
    if (c->kind == MAP_COLUMN_COND_REF)
        for (k = 0; k < c->n_cases; k++)
            if (c->cases[k].entity_index == pi)
                return true;
    return false;
}

/* What a row of child entity plan cp gets when the parent its ref column
 * ci points at is deleted: a deferred ref is written NULL like a "null"
 * one; a parked row comes back under its legacy key, so the "park" of an
 * entity without legacy id columns is an error. */
static enum map_on_missing
child_policy(const sink_plan_t *cp, size_t ci)
{
    const map_column_t *c = &cp->e->columns[ci];

    if (c->deferred)
        return MAP_ON_MISSING_NULL;
    if (c->on_missing == MAP_ON_MISSING_PARK && cp->n_lcols == 0)
        return MAP_ON_MISSING_ERROR;
    return c->on_missing;
}

/* Whether column ci of p is a ref with policy pol. */
static bool
ref_with(const sink_plan_t *p, size_t ci, enum map_on_missing pol)
{
    return p->e->columns[ci].kind != MAP_COLUMN_COPY &&
           child_policy(p, ci) == pol;
}

/* Whether ref column ci of cp has policy pol and may point at an entity
 * marked in in[]. */
static bool
edge_into(const sink_plan_t *cp, size_t ci, enum map_on_missing pol,
          const bool *in, size_t n)
{
    size_t q;

    if (!ref_with(cp, ci, pol))
        return false;
    for (q = 0; q < n; q++)
        if (in[q] && refs_entity(&cp->e->columns[ci], q))
            return true;
    return false;
}

/* The entities whose rows may leave the target with a deleted row of p:
 * p, and the children of "park" refs of the entities in the set,
 * recursively.  Returns a new array by entity index (free with free()),
 * or NULL with out failed. */
static bool *
leaving_set(const sink_plan_t *p, ferry_buf_t *out)
{
    bool *in = calloc(p->n_plans + 1, sizeof(*in));
    bool grew = true;
    size_t k, ci;

    if (in == NULL) {
        out->failed = true;
        return NULL;
    }
    in[p->index] = true;
    while (grew) {
        grew = false;
        for (k = 0; k < p->n_plans; k++)
            for (ci = 0; !in[k] && ci < p->plans[k].e->n_columns; ci++)
                if (edge_into(&p->plans[k], ci, MAP_ON_MISSING_PARK, in,
                              p->n_plans))
                    in[k] = grew = true;
    }
    return in;
}

/* Whether rows of entity k join the leaving set through a "park" ref. */
static bool
parked_child(const sink_plan_t *p, size_t k, const bool *in)
{
    size_t ci;

    for (ci = 0; ci < p->plans[k].e->n_columns; ci++)
        if (edge_into(&p->plans[k], ci, MAP_ON_MISSING_PARK, in, p->n_plans))
            return true;
    return false;
}

/* "a.<ref column ci of cp> points at a row of the leaving set g" (of
 * entity only, or of any entity of in[] when only is SIZE_MAX).  IN over
 * an uncorrelated subquery: hashed once, not scanned per row. */
static void
hit(const sink_plan_t *p, const sink_plan_t *cp, size_t ci, const char *a,
    const bool *in, size_t only, ferry_buf_t *out)
{
    const char *sep = "";
    size_t q;

    PRINTF("%s.%s IN (SELECT h.id FROM g h WHERE h.ent IN (", a,
           cp->q_cols[ci]);
    for (q = 0; q < p->n_plans; q++)
        if (in[q] && refs_entity(&cp->e->columns[ci], q) &&
            (only == SIZE_MAX || q == only)) {
            PRINTF("%s%zu", sep, q);
            sep = ", ";
        }
    ADD("))");
}

/* " AND a.<legacy id> IS NOT NULL ...": a row ferry applied. */
static void
legacy_set(const sink_plan_t *cp, const char *a, ferry_buf_t *out)
{
    size_t i;

    for (i = 0; i < cp->n_lcols; i++)
        PRINTF(" AND %s.%s IS NOT NULL", a, cp->q_lcols[i]);
}

/* The legacy key text (map_rules_legacy_key_sql()) of target row alias
 * over cp's legacy id columns. */
typedef struct lkey_names {
    const sink_plan_t *cp; /* borrowed: the entity */
    const char *alias;     /* borrowed: the row's alias */
} lkey_names_t;

static void
lkey_column(ferry_buf_t *b, const char *name, void *arg)
{
    const lkey_names_t *nm = arg;
    size_t i;

    for (i = 0; i < nm->cp->n_lcols; i++)
        if (strcmp(nm->cp->e->legacy_id_columns[i], name) == 0)
            ferry_buf_printf(b, "%s.%s", nm->alias, nm->cp->q_lcols[i]);
}

static void
lkey_value(ferry_buf_t *b, const char *text, void *arg)
{
    (void)arg;
    literal(b, text);
}

static void
lkey_sql(const sink_plan_t *cp, const char *alias, ferry_buf_t *out)
{
    lkey_names_t nm = {cp, alias};
    map_rules_sqlctx_t sx = {lkey_column, lkey_value, &nm};

    map_rules_legacy_key_sql(out, cp->e->legacy_id_columns, cp->n_lcols, &sx);
}

/* "WITH RECURSIVE r AS (...), g(ent, id) AS (...)": r holds the target rows
 * of p's staged deletes (staging row $1 only with one_row), g those rows
 * and, through the "park" refs, every row ferry applied that leaves the
 * target with them, as (entity index, UUID).  UNION: a cycle ends.  Each
 * round joins the rows found last to the refs (child entity, child,
 * parent entity, parent), so the planner may hash them or probe an index
 * of the ref column. */
static void
closure(const sink_plan_t *p, const bool *in, bool one_row, ferry_buf_t *out)
{
    size_t k, ci, q;
    bool any = false;

    PRINTF("WITH RECURSIVE r AS (SELECT t.%s::uuid AS id FROM %s t JOIN %s s "
           "ON ",
           p->q_id, p->q_target, p->q_stage);
    match(p, "t", out);
    PRINTF(" WHERE s.__op = 'd'%s), g(ent, id) AS (SELECT %zu, r.id FROM r",
           one_row ? " AND s.__n = $1" : "", p->index);
    for (k = 0; k < p->n_plans; k++) {
        const sink_plan_t *cp = &p->plans[k];

        for (ci = 0; in[k] && ci < cp->e->n_columns; ci++) {
            if (!edge_into(cp, ci, MAP_ON_MISSING_PARK, in, p->n_plans))
                continue;
            for (q = 0; q < p->n_plans; q++) {
                if (!in[q] || !refs_entity(&cp->e->columns[ci], q))
                    continue;
                ADD(any ? " UNION ALL "
                        : " UNION SELECT x.ent, x.id FROM g "
                          "JOIN (");
                any = true;
                PRINTF("SELECT %zu, c.%s::uuid, %zu, c.%s::uuid FROM %s c "
                       "WHERE c.%s IS NOT NULL",
                       k, cp->q_id, q, cp->q_cols[ci], cp->q_target,
                       cp->q_cols[ci]);
                legacy_set(cp, "c", out);
            }
        }
    }
    if (any)
        ADD(") x(ent, id, pent, pid) ON x.pent = g.ent AND x.pid = g.id");
    ADD(")");
}

/* ", n<k> AS (UPDATE ...), d<k> AS (INSERT INTO deferred ...)": the rows
 * of entity k that stay but point at a leaving row through a "null" ref
 * get NULL there, and a pending patch each, as a late parent does.  A
 * staged delete of p itself (row by row, its turn comes later) gets no
 * patch.  Returns whether k has such refs. */
static bool
null_children(const sink_plan_t *p, size_t k, const bool *in, ferry_buf_t *out)
{
    const sink_plan_t *cp = &p->plans[k];
    const char *sep = "";
    size_t ci, j;

    for (ci = 0; ci < cp->e->n_columns; ci++)
        if (edge_into(cp, ci, MAP_ON_MISSING_NULL, in, p->n_plans))
            break;
    if (ci == cp->e->n_columns)
        return false;
    PRINTF(", n%zu AS (UPDATE %s x SET ", k, cp->q_target);
    for (ci = 0; ci < cp->e->n_columns; ci++) {
        if (!edge_into(cp, ci, MAP_ON_MISSING_NULL, in, p->n_plans))
            continue;
        PRINTF("%s%s = CASE WHEN ", sep, cp->q_cols[ci]);
        hit(p, cp, ci, "x", in, SIZE_MAX, out);
        PRINTF(" THEN NULL ELSE x.%s END", cp->q_cols[ci]);
        sep = ", ";
    }
    PRINTF(" FROM %s o WHERE o.%s = x.%s AND (false", cp->q_target, cp->q_id,
           cp->q_id);
    for (ci = 0; ci < cp->e->n_columns; ci++)
        if (edge_into(cp, ci, MAP_ON_MISSING_NULL, in, p->n_plans)) {
            ADD(" OR ");
            hit(p, cp, ci, "x", in, SIZE_MAX, out);
        }
    ADD(")");
    legacy_set(cp, "x", out);
    if (in[k])
        PRINTF(" AND NOT EXISTS (SELECT 1 FROM g h WHERE h.ent = %zu AND "
               "h.id = x.%s)",
               k, cp->q_id);
    PRINTF(" RETURNING x.%s::uuid AS id", cp->q_id);
    for (ci = 0, j = 0; ci < cp->e->n_columns; ci++)
        if (edge_into(cp, ci, MAP_ON_MISSING_NULL, in, p->n_plans)) {
            ADD(", ");
            hit(p, cp, ci, "o", in, SIZE_MAX, out);
            PRINTF(" AS m%zu, o.%s::uuid AS p%zu", j, cp->q_cols[ci], j);
            j++;
        }
    PRINTF("), d%zu AS (INSERT INTO %s.deferred AS d (entity, col, "
           "row_uuid, parent_uuid) SELECT ",
           k, p->q_state);
    literal(out, cp->e->name);
    PRINTF(", v.col, n.id, v.pid FROM n%zu n CROSS JOIN LATERAL (VALUES ", k);
    sep = "";
    for (ci = 0, j = 0; ci < cp->e->n_columns; ci++)
        if (edge_into(cp, ci, MAP_ON_MISSING_NULL, in, p->n_plans)) {
            PRINTF("%s(", sep);
            literal(out, cp->e->columns[ci].name);
            PRINTF(", n.m%zu, n.p%zu)", j, j);
            sep = ", ";
            j++;
        }
    ADD(") v(col, m, pid) WHERE v.m");
    if (k == p->index)
        PRINTF(" AND NOT EXISTS (SELECT 1 FROM %s y WHERE y.__op = 'd' AND "
               "y.__id::uuid = n.id)",
               p->q_stage);
    ADD(DEFER_UPSERT ")");
    return true;
}

/* ", p<k> AS (INSERT INTO parked ...), x<k> AS (DELETE ...)": the leaving
 * rows of entity k (not the deleted rows themselves) are parked as kind
 * 'row', waiting for the parent they went with, at their row_lsn pair (a
 * newer event of the key supersedes them), and leave the target. */
static void
park_children(const sink_plan_t *p, size_t k, const bool *in, ferry_buf_t *out)
{
    const sink_plan_t *cp = &p->plans[k];
    const char *roots =
        k == p->index ? " AND NOT EXISTS (SELECT 1 FROM r WHERE r.id = g.id)"
                      : "";
    size_t ci, q;
    int part;

    PRINTF(", p%zu AS (INSERT INTO %s.parked (entity, legacy_key, "
           "missing_entity, missing_uuid, commit_lsn, change_lsn, event, "
           "waits_for, kind) SELECT ",
           k, p->q_state);
    literal(out, cp->e->name);
    ADD(", y.k");
    for (part = 0; part < 2; part++) {
        ADD(", CASE");
        for (ci = 0; ci < cp->e->n_columns; ci++) {
            if (!edge_into(cp, ci, MAP_ON_MISSING_PARK, in, p->n_plans))
                continue;
            for (q = 0; q < p->n_plans; q++) {
                if (!in[q] || !refs_entity(&cp->e->columns[ci], q))
                    continue;
                ADD(" WHEN ");
                hit(p, cp, ci, "x", in, q, out);
                ADD(" THEN ");
                if (part == 0)
                    literal(out, p->plans[q].e->name);
                else
                    PRINTF("x.%s::uuid", cp->q_cols[ci]);
            }
        }
        ADD(" END");
    }
    /* The leaving row's position: its lsn column's (NULL when written
     * before the column was named), or row_lsn's. */
    if (cp->q_lsn != NULL)
        PRINTF(", coalesce(div(x.%s, " SINK_SQL_LSN_SCALE ")::int8, "
               "l.commit_lsn, 0), coalesce(mod(x.%s, " SINK_SQL_LSN_SCALE
               ")::int8, l.change_lsn, 0)",
               cp->q_lsn, cp->q_lsn);
    else
        ADD(", coalesce(l.commit_lsn, 0), coalesce(l.change_lsn, 0)");
    PRINTF(", to_jsonb(x.*)::text, 'parent', 'row' FROM g JOIN %s x ON x.%s = "
           "g.id CROSS JOIN LATERAL (SELECT ",
           cp->q_target, cp->q_id);
    lkey_sql(cp, "x", out);
    PRINTF(" AS k) y LEFT JOIN %s.row_lsn l ON l.entity = ", p->q_state);
    literal(out, cp->e->name);
    PRINTF(" AND l.legacy_key = y.k WHERE g.ent = %zu%s RETURNING 1), x%zu AS "
           "(DELETE FROM %s x USING g WHERE g.ent = %zu AND x.%s = g.id%s)",
           k, roots, k, cp->q_target, k, cp->q_id, roots);
}

void
sink_sql_delete_children(const sink_plan_t *p, bool one_row, ferry_buf_t *out)
{
    bool *in, *nulled;
    bool any = false;
    size_t k, ci;

    if (p->q_soft != NULL || p->index >= p->n_plans)
        return;
    if ((in = leaving_set(p, out)) == NULL)
        return;
    for (k = 0; k < p->n_plans; k++)
        for (ci = 0; ci < p->plans[k].e->n_columns; ci++)
            any = any ||
                  edge_into(&p->plans[k], ci, MAP_ON_MISSING_NULL, in,
                            p->n_plans) ||
                  edge_into(&p->plans[k], ci, MAP_ON_MISSING_PARK, in,
                            p->n_plans);
    if (!any || (nulled = calloc(p->n_plans, sizeof(*nulled))) == NULL) {
        out->failed = out->failed || any;
        free(in);
        return;
    }
    closure(p, in, one_row, out);
    for (k = 0; k < p->n_plans; k++) {
        nulled[k] = null_children(p, k, in, out);
        if (in[k] && parked_child(p, k, in))
            park_children(p, k, in, out);
    }
    PRINTF(", del AS (DELETE FROM %s t USING %s s WHERE s.__op = 'd'%s AND ",
           p->q_target, p->q_stage, one_row ? " AND s.__n = $1" : "");
    match(p, "t", out);
    ADD(" RETURNING 1) SELECT (SELECT count(*) FROM del), 0");
    for (k = 0; k < p->n_plans; k++)
        if (in[k] && parked_child(p, k, in))
            PRINTF(" + (SELECT count(*) FROM p%zu)", k);
    ADD(", 0");
    for (k = 0; k < p->n_plans; k++)
        if (nulled[k])
            PRINTF(" + (SELECT count(*) FROM n%zu)", k);
    free(nulled);
    free(in);
}

/* Whether foreign key f of referenced entity plan rp is the FK of a mapped
 * ref: sets *child and *col to the entity and its ref column. */
static bool
known_edge(const sink_plan_t *rp, const sink_fk_t *f, size_t *child,
           size_t *col)
{
    size_t k, ci;

    if (f->column == NULL || f->ref_column == NULL ||
        strcmp(f->ref_column, rp->e->id_column) != 0)
        return false;
    for (k = 0; k < rp->n_plans; k++) {
        const map_entity_t *e = rp->plans[k].e;

        if (strcmp(e->target_schema, f->schema) != 0 ||
            strcmp(e->target_table, f->table) != 0)
            continue;
        for (ci = 0; ci < e->n_columns; ci++)
            if (e->columns[ci].kind != MAP_COLUMN_COPY &&
                strcmp(e->columns[ci].name, f->column) == 0 &&
                refs_entity(&e->columns[ci], rp->index)) {
                *child = k;
                *col = ci;
                return true;
            }
    }
    return false;
}

/* What a row of the referencing table counts as in the diagnosis. */
enum fk_rows { FK_BLOCKERS, FK_ERROR_CHILDREN };

/* Appends " OR EXISTS (rows of f that point at a leaving row of entity k
 * and count as what)"; nothing when no row can. */
static void
fk_rows(const sink_plan_t *p, size_t k, const sink_fk_t *f, enum fk_rows what,
        ferry_buf_t *out)
{
    const sink_plan_t *rp = &p->plans[k];
    const sink_plan_t *cp = NULL;
    size_t child, col, i;
    enum map_on_missing pol = MAP_ON_MISSING_ERROR;

    if (known_edge(rp, f, &child, &col)) {
        cp = &p->plans[child];
        pol = child_policy(cp, col);
    }
    /* Rows ferry applied of a mapped ref are the children: handled by
     * their policy, or, with error, the reason; any other row is one the
     * mapping does not know. */
    if (what == FK_ERROR_CHILDREN &&
        (cp == NULL || pol != MAP_ON_MISSING_ERROR))
        return;
    if (what == FK_BLOCKERS && cp != NULL && cp->n_lcols == 0)
        return;
    PRINTF(" OR EXISTS (SELECT 1 FROM g JOIN %s t ON t.%s = g.id JOIN %s c "
           "ON %s WHERE g.ent = %zu",
           rp->q_target, rp->q_id, f->q_table, f->cond, k);
    if (cp != NULL && cp->n_lcols > 0) {
        ADD(what == FK_BLOCKERS ? " AND NOT (true" : " AND (true");
        for (i = 0; i < cp->n_lcols; i++)
            PRINTF(" AND c.%s IS NOT NULL", cp->q_lcols[i]);
        ADD(")");
    }
    ADD(")");
}

void
sink_sql_delete_blockers(const sink_plan_t *p, ferry_buf_t *out)
{
    bool *in;
    size_t k, j;

    if (p->q_soft != NULL || p->index >= p->n_plans)
        return;
    if ((in = leaving_set(p, out)) == NULL)
        return;
    closure(p, in, true, out);
    /* One name per referencing table, whatever the number of its keys. */
    ADD(" SELECT coalesce((SELECT string_agg(DISTINCT b, ', ' ORDER BY b) "
        "FROM unnest(ARRAY[NULL::text");
    for (k = 0; k < p->n_plans; k++)
        for (j = 0; in[k] && j < p->plans[k].n_fks; j++) {
            ADD(", CASE WHEN false");
            fk_rows(p, k, &p->plans[k].fks[j], FK_BLOCKERS, out);
            PRINTF(" THEN %s END", p->plans[k].fks[j].name_lit);
        }
    ADD("]) b), ''), false");
    for (k = 0; k < p->n_plans; k++)
        for (j = 0; in[k] && j < p->plans[k].n_fks; j++)
            fk_rows(p, k, &p->plans[k].fks[j], FK_ERROR_CHILDREN, out);
    free(in);
}

/* "the parent the text ref names is in none of column ci's tables" */
static void
ref_absent(const sink_plan_t *p, size_t ci, const char *ref, ferry_buf_t *out)
{
    const map_column_t *c = &p->e->columns[ci];
    size_t q;

    PRINTF("(%s IS NOT NULL AND NOT (false", ref);
    for (q = 0; q < p->n_plans; q++)
        if (refs_entity(c, q))
            PRINTF(" OR EXISTS (SELECT 1 FROM %s x WHERE x.%s = (%s)::uuid)",
                   p->plans[q].q_target, p->plans[q].q_id, ref);
    ADD("))");
}

/* Appends "(<row> ->> '<column ci>')" into ref (a small buffer). */
static void
json_ref(const sink_plan_t *p, size_t ci, const char *row, ferry_buf_t *ref)
{
    ferry_buf_reset(ref);
    ferry_buf_printf(ref, "(%s ->> ", row);
    literal(ref, p->e->columns[ci].name);
    ferry_buf_append_str(ref, ")");
}

void
sink_sql_restore_row(const sink_plan_t *p, ferry_buf_t *out)
{
    ferry_buf_t ref;
    const char *sep = "";
    size_t ci, j;

    for (ci = 0; ci < p->e->n_columns; ci++)
        if (ref_with(p, ci, MAP_ON_MISSING_NULL))
            break;
    if (ci == p->e->n_columns) {
        PRINTF("INSERT INTO %s SELECT r.* FROM jsonb_populate_record(NULL::%s, "
               "$1::jsonb) r ON CONFLICT DO NOTHING",
               p->q_target, p->q_target);
        return;
    }
    ferry_buf_init(&ref);
    ADD("WITH j AS (SELECT $1::jsonb AS v), f AS (SELECT j.v || "
        "jsonb_build_object(");
    for (ci = 0; ci < p->e->n_columns; ci++) {
        if (!ref_with(p, ci, MAP_ON_MISSING_NULL))
            continue;
        json_ref(p, ci, "j.v", &ref);
        ADD(sep);
        literal(out, p->e->columns[ci].name);
        ADD(", CASE WHEN ");
        ref_absent(p, ci, ferry_buf_cstr(&ref), out);
        ADD(" THEN NULL ELSE j.v -> ");
        literal(out, p->e->columns[ci].name);
        ADD(" END");
        sep = ", ";
    }
    ADD(") AS v");
    for (ci = 0, j = 0; ci < p->e->n_columns; ci++) {
        if (!ref_with(p, ci, MAP_ON_MISSING_NULL))
            continue;
        json_ref(p, ci, "j.v", &ref);
        ADD(", ");
        ref_absent(p, ci, ferry_buf_cstr(&ref), out);
        PRINTF(" AS m%zu, %s::uuid AS p%zu", j, ferry_buf_cstr(&ref), j);
        j++;
    }
    PRINTF(" FROM j), ins AS (INSERT INTO %s SELECT r.* FROM f CROSS JOIN "
           "LATERAL jsonb_populate_record(NULL::%s, f.v) r ON CONFLICT DO "
           "NOTHING RETURNING %s::uuid AS id) INSERT INTO %s.deferred AS d "
           "(entity, col, row_uuid, parent_uuid) SELECT ",
           p->q_target, p->q_target, p->q_id, p->q_state);
    literal(out, p->e->name);
    ADD(", v.col, ins.id, v.pid FROM ins CROSS JOIN f CROSS JOIN LATERAL "
        "(VALUES ");
    sep = "";
    for (ci = 0, j = 0; ci < p->e->n_columns; ci++) {
        if (!ref_with(p, ci, MAP_ON_MISSING_NULL))
            continue;
        PRINTF("%s(", sep);
        literal(out, p->e->columns[ci].name);
        PRINTF(", f.m%zu, f.p%zu)", j, j);
        sep = ", ";
        j++;
    }
    ADD(") v(col, m, pid) WHERE v.m" DEFER_UPSERT);
    if (ref.failed)
        out->failed = true;
    ferry_buf_close(&ref);
}

/* " AND (p.kind <> 'row' OR CASE p.entity ... END)": a parked target row is
 * taken out only once the parent of each of its "park" and "error" refs
 * is there (its "null" refs are the restore's business); p is parked. */
static void
row_refs_ready(const sink_plan_t *p, ferry_buf_t *out)
{
    ferry_buf_t ref;
    bool any = false;
    size_t k, ci;

    ferry_buf_init(&ref);
    for (k = 0; k < p->n_plans; k++) {
        const sink_plan_t *cp = &p->plans[k];
        bool parkable = false;

        for (ci = 0; ci < cp->e->n_columns; ci++)
            parkable = parkable || ref_with(cp, ci, MAP_ON_MISSING_PARK);
        if (!parkable)
            continue;
        /* "kind <> 'row' OR", not "CASE WHEN kind = 'row'": the planner
         * cannot estimate a CASE, took the filter for one row in 200 and
         * joined the parents by a scan of them per parked row (40,000
         * parked rows of 1,000 parents: 950 ms instead of 70). */
        ADD(any ? " WHEN " : " AND (p.kind <> 'row' OR CASE p.entity WHEN ");
        any = true;
        literal(out, cp->e->name);
        ADD(" THEN true");
        for (ci = 0; ci < cp->e->n_columns; ci++) {
            if (cp->e->columns[ci].kind == MAP_COLUMN_COPY ||
                ref_with(cp, ci, MAP_ON_MISSING_NULL))
                continue;
            json_ref(cp, ci, "p.event::jsonb", &ref);
            ADD(" AND NOT ");
            ref_absent(cp, ci, ferry_buf_cstr(&ref), out);
        }
    }
    if (any)
        ADD(" ELSE true END)");
    if (ref.failed)
        out->failed = true;
    ferry_buf_close(&ref);
}
