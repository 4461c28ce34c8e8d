/* Parsing ferry-cdc's change events and transaction events.
 * sink/sink_event.c
 *
 * Every field name, the sequence and the transaction id are
 * common/ferry_wire.h's, the module ferry-cdc writes them with. */
#include "sink_event.h"

#include "ferry_wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sink_pair_cmp(sink_pair_t a, sink_pair_t b)
{
    if (a.commit != b.commit)
        return a.commit < b.commit ? -1 : 1;
    if (a.change != b.change)
        return a.change < b.change ? -1 : 1;
    return 0;
}

bool
sink_txid_commit(const char *id, uint64_t *out)
{
    uint64_t xid;

    return id != NULL && ferry_wire_txid_decode(id, strlen(id), &xid, out);
}

static char *
dup_len(const void *p, size_t len)
{
    char *s = malloc(len + 1);

    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

static int
malformed(sink_event_t *ev, const char *what, const char *detail)
{
    char msg[512];

    if (detail != NULL)
        snprintf(msg, sizeof(msg), "%s: %s", what, detail);
    else
        snprintf(msg, sizeof(msg), "%s", what);
    free(ev->reason);
    ev->reason = strdup(msg);
    json_decref(ev->value);
    ev->value = NULL;
    ev->before = ev->after = ev->absent = NULL;
    ev->schema = ev->table = ev->txid = NULL;
    ev->op = 'X';
    return ev->reason != NULL ? FERRY_EDATA : FERRY_ENOMEM;
}

/* Checks the envelope fields and fills the event's shortcuts. */
static int
read_envelope(sink_event_t *ev)
{
    json_t *v = ev->value, *src, *tx, *op, *seq, *ts;
    uint64_t xid, commit;

    if (!json_is_object(v))
        return malformed(ev, "message value is not a JSON object", NULL);
    op = json_object_get(v, FERRY_WIRE_F_OP);
    if (!json_is_string(op) || json_string_length(op) != 1 ||
        !ferry_wire_op_known(json_string_value(op)[0]))
        return malformed(ev, "\"" FERRY_WIRE_F_OP "\" is missing or unknown",
                         NULL);
    ev->op = json_string_value(op)[0];
    src = json_object_get(v, FERRY_WIRE_F_SOURCE);
    if (!json_is_object(src))
        return malformed(
            ev, "\"" FERRY_WIRE_F_SOURCE "\" is missing or not an object",
            NULL);
    seq = json_object_get(src, FERRY_WIRE_F_SRC_SEQUENCE);
    if (!json_is_string(seq) ||
        !ferry_wire_seq_decode(json_string_value(seq), json_string_length(seq),
                               &ev->pair.commit, &ev->pair.change))
        return malformed(ev,
                         "\"" FERRY_WIRE_F_SOURCE "." FERRY_WIRE_F_SRC_SEQUENCE
                         "\" is not [commit, lsn]",
                         NULL);
    ev->schema =
        json_string_value(json_object_get(src, FERRY_WIRE_F_SRC_SCHEMA));
    ev->table = json_string_value(json_object_get(src, FERRY_WIRE_F_SRC_TABLE));
    if (ev->schema == NULL || ev->table == NULL)
        return malformed(ev,
                         "\"" FERRY_WIRE_F_SOURCE "." FERRY_WIRE_F_SRC_SCHEMA
                         "\" or \"" FERRY_WIRE_F_SOURCE
                         "." FERRY_WIRE_F_SRC_TABLE "\" is missing",
                         NULL);
    ts = json_object_get(src, FERRY_WIRE_F_SRC_TS_MS);
    ev->ts_ms = json_is_integer(ts) ? json_integer_value(ts) : 0;
    ev->before = json_object_get(v, FERRY_WIRE_F_BEFORE);
    ev->after = json_object_get(v, FERRY_WIRE_F_AFTER);
    ev->absent = json_object_get(v, FERRY_WIRE_F_ABSENT);
    if (json_is_null(ev->before))
        ev->before = NULL;
    if (json_is_null(ev->after))
        ev->after = NULL;
    if ((ev->before != NULL && !json_is_object(ev->before)) ||
        (ev->after != NULL && !json_is_object(ev->after)) ||
        (ev->absent != NULL && !json_is_array(ev->absent)))
        return malformed(ev,
                         "\"" FERRY_WIRE_F_BEFORE "\", \"" FERRY_WIRE_F_AFTER
                         "\" or \"" FERRY_WIRE_F_ABSENT "\" has the wrong type",
                         NULL);
    if ((ev->op == FERRY_WIRE_OP_CREATE || ev->op == FERRY_WIRE_OP_UPDATE ||
         ev->op == FERRY_WIRE_OP_READ) &&
        ev->after == NULL)
        return malformed(
            ev, "an insert or update without \"" FERRY_WIRE_F_AFTER "\"", NULL);
    if (ev->op == FERRY_WIRE_OP_DELETE && ev->before == NULL)
        return malformed(ev, "a delete without \"" FERRY_WIRE_F_BEFORE "\"",
                         NULL);
    tx = json_object_get(v, FERRY_WIRE_F_TRANSACTION);
    if (json_is_object(tx)) {
        json_t *id = json_object_get(tx, FERRY_WIRE_F_TXN_ID);

        ev->txid = json_string_value(id);
        ev->total_order = (long)json_integer_value(
            json_object_get(tx, FERRY_WIRE_F_TXN_TOTAL_ORDER));
        if (ev->txid == NULL || ev->total_order <= 0)
            return malformed(ev,
                             "\"" FERRY_WIRE_F_TRANSACTION
                             "\" lacks " FERRY_WIRE_F_TXN_ID
                             " or " FERRY_WIRE_F_TXN_TOTAL_ORDER,
                             NULL);
        /* The transaction buffer keys on the id and its commit LSN. */
        if (!ferry_wire_txid_decode(ev->txid, json_string_length(id), &xid,
                                    &commit))
            return malformed(ev,
                             "\"" FERRY_WIRE_F_TRANSACTION
                             "." FERRY_WIRE_F_TXN_ID "\" is not \"xid:lsn\"",
                             NULL);
    }
    return 0;
}

int
sink_event_parse(const void *key, size_t klen, const void *val, size_t vlen,
                 sink_pos_t pos, sink_event_t **out)
{
    sink_event_t *ev = calloc(1, sizeof(*ev));
    json_error_t jerr;

    *out = NULL;
    if (ev == NULL)
        return FERRY_ENOMEM;
    ev->pos = pos;
    ev->raw = dup_len(val != NULL ? val : "", val != NULL ? vlen : 0);
    if (key != NULL)
        ev->raw_key = dup_len(key, klen);
    if (ev->raw == NULL || (key != NULL && ev->raw_key == NULL)) {
        sink_event_free(ev);
        return FERRY_ENOMEM;
    }
    *out = ev;
    if (key != NULL) {
        ev->key = json_loadb(key, klen, JSON_DECODE_ANY, NULL);
        if (ev->key != NULL && !json_is_object(ev->key) &&
            !json_is_null(ev->key))
            return malformed(ev, "message key is not a JSON object", NULL);
    }
    ev->value = json_loadb(ev->raw, strlen(ev->raw), 0, &jerr);
    if (ev->value == NULL)
        return malformed(ev, "message value is not JSON", jerr.text);
    return read_envelope(ev);
}

void
sink_event_free(sink_event_t *ev)
{
    if (ev == NULL)
        return;
    json_decref(ev->value);
    json_decref(ev->key);
    free(ev->raw);
    free(ev->raw_key);
    free(ev->reason);
    free(ev);
}

const char *
sink_event_text(const json_t *v, char *buf, size_t buflen, bool *ok)
{
    *ok = true;
    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_true(v))
        return "t";
    if (json_is_false(v))
        return "f";
    if (json_is_real(v)) {
        snprintf(buf, buflen, "%.17g", json_real_value(v));
        return buf;
    }
    *ok = false;
    return NULL;
}

void
sink_txmsg_clear(sink_txmsg_t *m)
{
    size_t i;

    free(m->id);
    for (i = 0; i < m->n; i++)
        free(m->collections[i]);
    free(m->collections);
    free(m->counts);
    memset(m, 0, sizeof(*m));
}

static int
read_collections(json_t *dc, sink_txmsg_t *out, ferry_err_t *err)
{
    size_t i;

    if (!json_is_array(dc))
        return ferry_err_set(err, FERRY_EDATA,
                             "END event without "
                             "\"" FERRY_WIRE_F_TXEV_DATA_COLLECTIONS "\"");
    out->n = json_array_size(dc);
    out->collections = calloc(out->n + 1, sizeof(char *));
    out->counts = calloc(out->n + 1, sizeof(long));
    if (out->collections == NULL || out->counts == NULL)
        return FERRY_ENOMEM;
    for (i = 0; i < out->n; i++) {
        json_t *c = json_array_get(dc, i);
        const char *name =
            json_string_value(json_object_get(c, FERRY_WIRE_F_TXEV_DC_NAME));
        json_t *cnt = json_object_get(c, FERRY_WIRE_F_TXEV_DC_EVENT_COUNT);

        if (name == NULL || !json_is_integer(cnt))
            return ferry_err_set(err, FERRY_EDATA,
                                 "END event with a malformed data collection");
        out->collections[i] = strdup(name);
        if (out->collections[i] == NULL)
            return FERRY_ENOMEM;
        out->counts[i] = (long)json_integer_value(cnt);
    }
    return 0;
}

int
sink_txmsg_parse(const void *val, size_t vlen, sink_txmsg_t *out,
                 ferry_err_t *err)
{
    json_error_t jerr;
    json_t *v, *jid;
    const char *status, *id;
    uint64_t xid;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->event_count = -1;
    v = val != NULL ? json_loadb(val, vlen, 0, &jerr) : NULL;
    if (!json_is_object(v)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "transaction event is not a JSON object");
        goto done;
    }
    status = json_string_value(json_object_get(v, FERRY_WIRE_F_TXEV_STATUS));
    jid = json_object_get(v, FERRY_WIRE_F_TXEV_ID);
    id = json_string_value(jid);
    if (status == NULL || id == NULL ||
        (strcmp(status, FERRY_WIRE_V_TX_BEGIN) != 0 &&
         strcmp(status, FERRY_WIRE_V_TX_END) != 0)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "transaction event without " FERRY_WIRE_F_TXEV_STATUS
                           " or " FERRY_WIRE_F_TXEV_ID);
        goto done;
    }
    out->end = strcmp(status, FERRY_WIRE_V_TX_END) == 0;
    out->id = strdup(id);
    if (out->id == NULL) {
        rc = FERRY_ENOMEM;
        goto done;
    }
    if (!ferry_wire_txid_decode(id, json_string_length(jid), &xid,
                                &out->commit_lsn)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "transaction id \"%s\" is not \"xid:lsn\"", id);
        goto done;
    }
    if (out->end) {
        json_t *ec = json_object_get(v, FERRY_WIRE_F_TXEV_EVENT_COUNT);

        out->event_count =
            json_is_integer(ec) ? (long)json_integer_value(ec) : -1;
        rc = read_collections(
            json_object_get(v, FERRY_WIRE_F_TXEV_DATA_COLLECTIONS), out, err);
    }
done:
    json_decref(v);
    if (rc != 0)
        sink_txmsg_clear(out);
    return rc;
}
