/* Fixtures shared by ferry-sink's unit tests.
 * tests/unit/sink/sink_fixture.c */
#include "sink_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

map_config_t *
fixture_mapping(void)
{
    map_config_t *cfg = NULL;
    map_diags_t d;

    map_diags_init(&d);
    assert_int_equal(map_config_parse(YAML, strlen(YAML), "t.yaml", &cfg, &d),
                     0);
    map_diags_free(&d);
    return cfg;
}

sink_event_t *
fixture_event(const char *table, const char *txid, long order, unsigned commit,
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
