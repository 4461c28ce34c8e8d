/* Staging: the rows of one entity COPYed into its temporary staging
 * table, from which set-based statements apply them; and the UUIDs of a
 * truncate's chunk of keys.
 * sink/sink_stage.c */
#include "sink_stage.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One staging row: the columns of sink_sql_stage_ddl(). */
static void
copy_row(const map_config_t *cfg, const sink_plan_t *p, size_t n,
         const sink_row_t *r, ferry_buf_t *b)
{
    const map_entity_t *e = p->e;
    size_t i;

    /* No printf on this path: it was a tenth of the sink's instructions
     * (docs/sink.md, Throughput). */
    ferry_buf_append_u64(b, n);
    ferry_buf_putc(b, '\t');
    ferry_buf_putc(b, r->op);
    ferry_buf_putc(b, '\t');
    ferry_buf_append_copy_field(b, r->lkey);
    ferry_buf_putc(b, '\t');
    ferry_buf_append_i64(b, (int64_t)r->pair.commit);
    ferry_buf_putc(b, '\t');
    ferry_buf_append_i64(b, (int64_t)r->pair.change);
    ferry_buf_putc(b, '\t');
    ferry_buf_append_i64(b, r->ts_ms);
    ferry_buf_putc(b, '\t');
    ferry_buf_append_str(b, r->uuid);
    ferry_buf_putc(b, '\t');
    if (r->soft_deleted) {
        ferry_buf_append_i64(b, r->del_ts_ms);
        ferry_buf_putc(b, '\t');
    } else {
        ferry_buf_append_lit(b, "\\N\t");
    }
    if (r->absent == NULL || r->op == 'd') {
        ferry_buf_append_lit(b, "\\N");
    } else {
        for (i = 0; i < r->n_cols; i++) {
            ferry_buf_putc(b, i == 0 ? '{' : ',');
            ferry_buf_putc(b, r->absent[i] ? 't' : 'f');
        }
        ferry_buf_append_str(b, r->n_cols == 0 ? "{}" : "}");
    }
    for (i = 0; i < p->n_lcols; i++) {
        ferry_buf_putc(b, '\t');
        ferry_buf_append_copy_field(b, i < r->n_key ? r->keyvals[i] : NULL);
    }
    for (i = 0; i < e->n_columns; i++) {
        ferry_buf_putc(b, '\t');
        ferry_buf_append_copy_field(b, r->op == 'u' ? r->vals[i] : NULL);
        if (e->columns[i].kind == MAP_COLUMN_COND_REF) {
            const map_entity_t *pe =
                r->op == 'u' && r->ref_entity[i] != NULL
                    ? map_config_entity(cfg, r->ref_entity[i])
                    : NULL;

            if (pe != NULL) {
                ferry_buf_putc(b, '\t');
                ferry_buf_append_u64(b, (uint64_t)(pe - cfg->entities));
            } else
                ferry_buf_append_lit(b, "\t\\N");
        }
    }
    ferry_buf_putc(b, '\n');
}

int
sink_stage_push(sink_target_t *t, const map_config_t *cfg, const sink_plan_t *p,
                rowset_t *s, const char *empty_sql, const char *copy_sql,
                ferry_err_t *err)
{
    ferry_buf_t data;
    size_t i;
    int rc;

    ferry_buf_init(&data);
    s->min_commit = UINT64_MAX;
    s->max_commit = 0;
    for (i = 0; i < s->n; i++) {
        uint64_t c = s->rows[i].pair.commit;

        s->min_commit = c < s->min_commit ? c : s->min_commit;
        s->max_commit = c > s->max_commit ? c : s->max_commit;
        copy_row(cfg, p, i, &s->rows[i], &data);
    }
    if ((rc = ferry_buf_status(&data, err, "staging %zu rows of entity \"%s\"",
                               s->n, p->e->name)) != 0) {
        ferry_buf_close(&data);
        return rc;
    }
    rc = sink_target_push(
        t, &(sink_stmt_t){.what = "empty the staging table", .sql = empty_sql},
        err);
    if (rc == 0)
        rc = sink_target_push_copy(t, "COPY into the staging table", copy_sql,
                                   &data, err);
    ferry_buf_close(&data);
    return rc;
}

int
sink_stage_push_uuids(sink_target_t *t, const sink_uuidctx_t *u,
                      const char *entity, const PGresult *keys,
                      ferry_err_t *err)
{
    ferry_buf_t data;
    char uuid[MAP_UUID_STRLEN];
    int i, rc = 0;

    ferry_buf_init(&data);
    for (i = 0; rc == 0 && i < PQntuples(keys); i++) {
        rc = sink_row_uuid(u, entity, PQgetvalue(keys, i, 0), uuid);
        ferry_buf_append_str(&data, uuid);
        ferry_buf_putc(&data, '\n');
    }
    if (rc != 0 ||
        (rc = ferry_buf_status(&data, err, "staging %d UUIDs of entity \"%s\"",
                               PQntuples(keys), entity)) != 0) {
        ferry_buf_close(&data);
        return ferry_err_set(err, FERRY_ENOMEM,
                             "out of memory staging the UUIDs of entity "
                             "\"%s\"",
                             entity);
    }
    rc = sink_target_push_copy(t, "COPY into the truncate's UUIDs",
                               "COPY pg_temp.ferry_trunc FROM STDIN", &data,
                               err);
    ferry_buf_close(&data);
    return rc;
}
