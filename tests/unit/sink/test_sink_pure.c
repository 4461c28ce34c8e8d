/* Unit tests of ferry-sink's pure parts.
 * tests/unit/sink/test_sink_pure.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink_event.h"
#include "sink_row.h"
#include "sink_sql.h"
#include "sink_txbuf.h"

static const char *const YAML =
    "source: { dsn: \"dbname=a\" }\n"
    "kafka: { brokers: \"b:1\", topic_prefix: p }\n"
    "target: { dsn: \"dbname=b\", uuid_namespace: "
    "3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f }\n"
    "entities:\n"
    "  offices:\n"
    "    source: office\n"
    "    target: offices\n"
    "    key: [id]\n"
    "    legacy_id_column: legacy_id\n"
    "    columns:\n"
    "      name: { from: name, transform: [trim, lower, nullif_empty], "
    "default: none }\n"
    "      status: { from: status, values: { A: active, X: ~ } }\n"
    "      settings: { from: settings, json: true, on_invalid: error }\n"
    "  doctors:\n"
    "    source: doctor\n"
    "    target: doctors\n"
    "    key: [id]\n"
    "    legacy_id_column: legacy_id\n"
    "    columns:\n"
    "      office_id: { ref: offices, from: office_id }\n"
    "      \"we\\\"ird\": name\n";

static map_config_t *
load(void)
{
    map_config_t *cfg = NULL;
    map_diags_t d;

    map_diags_init(&d);
    assert_int_equal(map_config_parse(YAML, strlen(YAML), "t.yaml", &cfg, &d),
                     0);
    map_diags_free(&d);
    return cfg;
}

static sink_event_t *
ev(const char *table, const char *txid, long order, unsigned commit,
   unsigned change, const char *after, int slot, int64_t off)
{
    char buf[1024];
    sink_event_t *e = NULL;
    sink_pos_t pos = {slot, off};

    snprintf(buf, sizeof(buf),
             "{\"before\":null,\"after\":%s,\"source\":{\"schema\":"
             "\"public\",\"table\":\"%s\",\"sequence\":\"[\\\"%u\\\",\\\"%u"
             "\\\"]\",\"ts_ms\":1},\"op\":\"c\",\"transaction\":{\"id\":"
             "\"%s\",\"total_order\":%ld}}",
             after, table, commit, change, txid, order);
    assert_int_equal(
        sink_event_parse("{\"id\":1}", 8, buf, strlen(buf), pos, &e), 0);
    return e;
}

static void
reassembly(void **state)
{
    const char *tables[] = {"public.office", "public.doctor"};
    sink_txbuf_t *b = sink_txbuf_new(tables, 2);
    sink_txmsg_t end1, end2;
    ferry_err_t err = {0, ""};
    const char *e1 = "{\"status\":\"END\",\"id\":\"7:200\",\"event_count\":2,"
                     "\"data_collections\":[{\"data_collection\":\"public."
                     "office\",\"event_count\":1},{\"data_collection\":"
                     "\"public.doctor\",\"event_count\":1}]}";
    const char *e2 = "{\"status\":\"END\",\"id\":\"8:300\",\"event_count\":1,"
                     "\"data_collections\":[{\"data_collection\":\"public."
                     "office\",\"event_count\":1}]}";
    int64_t minoff[3] = {100, 100, 100};
    sink_tx_t *tx;

    (void)state;
    assert_int_equal(sink_txmsg_parse(e1, strlen(e1), &end1, &err), 0);
    assert_int_equal(sink_txmsg_parse(e2, strlen(e2), &end2, &err), 0);
    assert_int_equal(end1.commit_lsn, 200);
    /* the later transaction completes first, but must wait */
    assert_int_equal(sink_txbuf_add_event(b, ev("office", "8:300", 1, 300, 250,
                                                "{\"id\":2}", 0, 5)),
                     0);
    assert_int_equal(sink_txbuf_add_txmsg(b, &end2, (sink_pos_t){2, 9}), 0);
    assert_int_equal(sink_txbuf_add_event(b, ev("doctor", "7:200", 2, 200, 150,
                                                "{\"id\":1}", 1, 3)),
                     0);
    assert_null(sink_txbuf_pop(b));
    sink_txbuf_min_offsets(b, minoff, 3);
    assert_int_equal(minoff[0], 5);
    assert_int_equal(minoff[1], 3);
    assert_int_equal(minoff[2], 9);
    assert_int_equal(sink_txbuf_add_txmsg(b, &end1, (sink_pos_t){2, 8}), 0);
    assert_null(sink_txbuf_pop(b)); /* office event of 7:200 missing */
    /* a duplicate does not complete it */
    assert_int_equal(sink_txbuf_add_event(b, ev("doctor", "7:200", 2, 200, 150,
                                                "{\"id\":1}", 1, 4)),
                     0);
    assert_null(sink_txbuf_pop(b));
    assert_int_equal(sink_txbuf_add_event(b, ev("office", "7:200", 1, 200, 100,
                                                "{\"id\":1}", 0, 6)),
                     0);
    tx = sink_txbuf_pop(b);
    assert_non_null(tx);
    assert_int_equal(tx->commit_lsn, 200);
    assert_int_equal(tx->n_events, 2);
    assert_string_equal(tx->events[0]->table, "office");
    sink_tx_free(tx);
    tx = sink_txbuf_pop(b);
    assert_non_null(tx);
    assert_int_equal(tx->commit_lsn, 300);
    sink_tx_free(tx);
    assert_int_equal(sink_txbuf_count(b), 0);
    sink_txmsg_clear(&end1);
    sink_txmsg_clear(&end2);
    sink_txbuf_free(b);
}

/* A spilling transaction: its events are taken out as they arrive,
 * repeats are dropped, and it completes once the END's count of distinct
 * events has been taken out (and no more is buffered). */
static void
spill_take(void **state)
{
    const char *tables[] = {"public.office", "public.doctor"};
    sink_txbuf_t *b = sink_txbuf_new(tables, 2);
    sink_txmsg_t end;
    ferry_err_t err = {0, ""};
    const char *e = "{\"status\":\"END\",\"id\":\"7:200\",\"event_count\":3,"
                    "\"data_collections\":[{\"data_collection\":\"public."
                    "doctor\",\"event_count\":3}]}";
    sink_event_t **out = NULL;
    size_t n = 0, i;
    sink_tx_t *front, *tx;

    (void)state;
    assert_int_equal(sink_txmsg_parse(e, strlen(e), &end, &err), 0);
    assert_int_equal(sink_txbuf_add_event(b, ev("doctor", "7:200", 1, 200, 100,
                                                "{\"id\":1}", 0, 1)),
                     0);
    assert_int_equal(sink_txbuf_add_event(b, ev("doctor", "7:200", 2, 200, 110,
                                                "{\"id\":2}", 1, 1)),
                     0);
    front = sink_txbuf_front(b);
    assert_non_null(front);
    assert_int_equal(sink_txbuf_take(b, front, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sink_txbuf_events(b), 0);
    assert_null(sink_txbuf_pop(b)); /* no END yet */
    /* a resent event is dropped; the END alone does not complete it */
    assert_int_equal(sink_txbuf_add_event(b, ev("doctor", "7:200", 2, 200, 110,
                                                "{\"id\":2}", 1, 7)),
                     0);
    assert_int_equal(sink_txbuf_add_txmsg(b, &end, (sink_pos_t){2, 4}), 0);
    assert_int_equal(sink_txbuf_take(b, front, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_null(sink_txbuf_pop(b));
    assert_int_equal(sink_txbuf_add_event(b, ev("doctor", "7:200", 3, 200, 120,
                                                "{\"id\":3}", 0, 2)),
                     0);
    assert_null(sink_txbuf_pop(b)); /* buffered, not taken out yet */
    assert_int_equal(sink_txbuf_take(b, front, &out, &n), 0);
    assert_int_equal(n, 3);
    tx = sink_txbuf_pop(b);
    assert_ptr_equal(tx, front);
    assert_true(tx->spilling);
    assert_int_equal(tx->spilled, 3);
    assert_int_equal(tx->n_events, 0);
    sink_tx_free(tx);
    for (i = 0; i < n; i++)
        sink_event_free(out[i]);
    free(out);
    sink_txmsg_clear(&end);
    sink_txbuf_free(b);
}

static void
malformed(void **state)
{
    static const struct {
        const char *text;
        bool ok;
    } seqs[] = {
        {"[\\\"12\\\",\\\"3\\\"]", true},
        {" [ \\\"12\\\" , \\\"3\\\" ] ", true},
        {"[\\\"12\\\"]", false},
        {"[12,3]", false},
        {"[\\\"12\\\",\\\"3\\\"]x", false},
        {"[\\\"-1\\\",\\\"3\\\"]", false},
        {"[\\\"1x\\\",\\\"3\\\"]", false},
        {"[null,\\\"3\\\"]", false},
        {"[\\\"99999999999999999999\\\",\\\"3\\\"]", false},
    };
    char buf[512];
    sink_event_t *e = NULL;
    sink_pos_t pos = {0, 1};
    size_t i;
    int rc;

    (void)state;
    assert_int_equal(sink_event_parse(NULL, 0, "nope", 4, pos, &e),
                     FERRY_EDATA);
    assert_int_equal(e->op, 'X');
    assert_non_null(strstr(e->reason, "not JSON"));
    sink_event_free(e);
    assert_int_equal(sink_event_parse(NULL, 0, "{\"op\":\"c\"}", 10, pos, &e),
                     FERRY_EDATA);
    assert_int_equal(e->op, 'X');
    sink_event_free(e);
    for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "{\"op\":\"c\",\"after\":{},\"source\":{\"schema\":\"s\","
                 "\"table\":\"t\",\"sequence\":\"%s\"}}",
                 seqs[i].text);
        rc = sink_event_parse(NULL, 0, buf, strlen(buf), pos, &e);
        assert_int_equal(rc, seqs[i].ok ? 0 : FERRY_EDATA);
        if (seqs[i].ok) {
            assert_int_equal(e->pair.commit, 12);
            assert_int_equal(e->pair.change, 3);
        } else {
            assert_non_null(strstr(e->reason, "sequence"));
        }
        sink_event_free(e);
    }
}

static void
collapse(void **state)
{
    map_config_t *cfg = load();
    const map_entity_t *e = map_config_entity(cfg, "doctors");
    sink_uuidctx_t ctx;
    sink_event_t *e1 = ev("doctor", "1:10", 1, 10, 5,
                          "{\"id\":1,\"office_id\":42,\"name\":\"a\"}", 0, 1);
    sink_event_t *e2 =
        ev("doctor", "2:20", 1, 20, 15, "{\"id\":1,\"office_id\":42}", 0, 2);
    sink_row_t r1, r2;
    ferry_err_t err = {0, ""};

    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    memcpy(ctx.ns.b, cfg->uuid_namespace, 16);
    assert_int_equal(
        json_array_append_new(
            json_object_get(e2->value, "absent") != NULL
                ? json_object_get(e2->value, "absent")
                : (json_object_set_new(e2->value, "absent", json_array()),
                   json_object_get(e2->value, "absent")),
            json_string("name")),
        0);
    e2->absent = json_object_get(e2->value, "absent");
    assert_int_equal(sink_row_build(&ctx, e, e1, &r1, &err), 0);
    assert_int_equal(sink_row_build(&ctx, e, e2, &r2, &err), 0);
    assert_string_equal(r1.lkey, "1");
    /* the parent's UUID, as docs/mapping.md gives it for offices:42 */
    assert_string_equal(r1.vals[0], "b7e34874-da14-5653-8d74-c9250da3b3fb");
    assert_non_null(r2.absent);
    sink_row_merge(&r1, &r2, false);
    assert_int_equal(r1.pair.commit, 20);
    assert_string_equal(r1.vals[1], "a"); /* kept: absent in the update */
    sink_row_clear(&r1);
    sink_row_clear(&r2);
    sink_event_free(e1);
    sink_event_free(e2);
    map_config_free(cfg);
}

static void
sql_quoting(void **state)
{
    map_config_t *cfg = load();
    sink_plan_t plans[2];
    char *cols[2] = {"\"office_id\"", "\"we\"\"ird\""};
    char *types[2] = {"uuid", "text"};
    char *lcols[1] = {"\"legacy_id\""};
    char *ltypes[1] = {"integer"};
    ferry_buf_t out = {0};

    (void)state;
    memset(plans, 0, sizeof(plans));
    plans[0].e = &cfg->entities[0];
    plans[0].q_target = "\"public\".\"offices\"";
    plans[0].q_id = "\"id\"";
    plans[1].e = &cfg->entities[1];
    plans[1].index = 1;
    plans[1].plans = plans;
    plans[1].q_state = "\"ferry\"";
    plans[1].q_target = "\"public\".\"doctors\"";
    plans[1].q_stage = "\"pg_temp\".\"ferry_stage_1\"";
    plans[1].q_id = "\"id\"";
    plans[1].id_type = "uuid";
    plans[1].q_lcols = lcols;
    plans[1].lcol_types = ltypes;
    plans[1].n_lcols = 1;
    plans[1].q_cols = cols;
    plans[1].col_types = types;
    sink_sql_upsert(&plans[1], false, &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out),
                           "INSERT INTO \"public\".\"doctors\" AS t"
                           " (\"id\", \"legacy_id\", \"office_id\", "
                           "\"we\"\"ird\")"));
    assert_non_null(strstr(ferry_buf_cstr(&out),
                           "ON CONFLICT (\"legacy_id\") DO UPDATE "
                           "SET \"office_id\" = EXCLUDED."
                           "\"office_id\", \"we\"\"ird\" = "
                           "EXCLUDED.\"we\"\"ird\""));
    assert_null(strstr(ferry_buf_cstr(&out), "$1"));
    ferry_buf_reset(&out);
    sink_sql_upsert(&plans[1], true, &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out), "s.__n = $1"));
    ferry_buf_reset(&out);
    sink_sql_take_missing(&plans[1], MAP_ON_MISSING_PARK, &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out),
                           "NOT EXISTS (SELECT 1 FROM "
                           "\"public\".\"offices\" x WHERE x.\"id\" "
                           "= s.c0::uuid)"));
    ferry_buf_reset(&out);
    sink_sql_stale(&plans[1], &out);
    assert_int_equal(ferry_buf_status(&out, NULL, "building a test"), 0);
    assert_non_null(strstr(ferry_buf_cstr(&out), "\"ferry\".row_lsn"));
    ferry_buf_close(&out);
    map_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reassembly), cmocka_unit_test(malformed),
        cmocka_unit_test(collapse),   cmocka_unit_test(sql_quoting),
        cmocka_unit_test(spill_take),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
