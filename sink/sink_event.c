/* Parsing ferry-cdc's change events and transaction events.
 * sink/sink_event.c */
#include "sink_event.h"

#include <errno.h>
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

static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

bool
sink_txid_commit(const char *id, uint64_t *out)
{
    const char *colon = id != NULL ? strchr(id, ':') : NULL;

    return colon != NULL && parse_u64(colon + 1, out);
}

/* One JSON string of decimal digits at *p (after blanks): its value into
 * *out, *p moved past it. */
static bool
seq_item(const char **p, uint64_t *out)
{
    const char *s = *p;
    char *end;
    unsigned long long v;

    while (*s == ' ')
        s++;
    if (*s != '"' || s[1] < '0' || s[1] > '9')
        return false;
    errno = 0;
    v = strtoull(s + 1, &end, 10);
    if (errno != 0 || *end != '"')
        return false;
    *out = (uint64_t)v;
    *p = end + 1;
    return true;
}

/* source.sequence is a JSON string holding ["<commit>","<change>"]; read
 * by hand (a JSON parse per event for it cost more than the event's). */
static bool
parse_sequence(const char *seq, sink_pair_t *pair)
{
    const char *p = seq;

    while (*p == ' ')
        p++;
    if (*p++ != '[' || !seq_item(&p, &pair->commit))
        return false;
    while (*p == ' ')
        p++;
    if (*p++ != ',' || !seq_item(&p, &pair->change))
        return false;
    while (*p == ' ')
        p++;
    if (*p++ != ']')
        return false;
    while (*p == ' ')
        p++;
    return *p == '\0';
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
    json_t *v = ev->value, *src, *tx, *op, *seq;

    if (!json_is_object(v))
        return malformed(ev, "message value is not a JSON object", NULL);
    op = json_object_get(v, "op");
    if (!json_is_string(op) || json_string_length(op) != 1 ||
        strchr("cudtr", json_string_value(op)[0]) == NULL)
        return malformed(ev, "\"op\" is missing or not c, u, d, t, r", NULL);
    ev->op = json_string_value(op)[0];
    src = json_object_get(v, "source");
    if (!json_is_object(src))
        return malformed(ev, "\"source\" is missing or not an object", NULL);
    seq = json_object_get(src, "sequence");
    if (!json_is_string(seq) ||
        !parse_sequence(json_string_value(seq), &ev->pair))
        return malformed(ev, "\"source.sequence\" is not [commit, lsn]", NULL);
    ev->schema = json_string_value(json_object_get(src, "schema"));
    ev->table = json_string_value(json_object_get(src, "table"));
    if (ev->schema == NULL || ev->table == NULL)
        return malformed(ev,
                         "\"source.schema\" or \"source.table\" "
                         "is missing",
                         NULL);
    ev->ts_ms = json_is_integer(json_object_get(src, "ts_ms"))
                    ? json_integer_value(json_object_get(src, "ts_ms"))
                    : 0;
    ev->before = json_object_get(v, "before");
    ev->after = json_object_get(v, "after");
    ev->absent = json_object_get(v, "absent");
    if (json_is_null(ev->before))
        ev->before = NULL;
    if (json_is_null(ev->after))
        ev->after = NULL;
    if ((ev->before != NULL && !json_is_object(ev->before)) ||
        (ev->after != NULL && !json_is_object(ev->after)) ||
        (ev->absent != NULL && !json_is_array(ev->absent)))
        return malformed(ev,
                         "\"before\", \"after\" or \"absent\" "
                         "has the wrong type",
                         NULL);
    if ((ev->op == 'c' || ev->op == 'u' || ev->op == 'r') && ev->after == NULL)
        return malformed(ev, "an insert or update without \"after\"", NULL);
    if (ev->op == 'd' && ev->before == NULL)
        return malformed(ev, "a delete without \"before\"", NULL);
    tx = json_object_get(v, "transaction");
    if (json_is_object(tx)) {
        ev->txid = json_string_value(json_object_get(tx, "id"));
        ev->total_order =
            (long)json_integer_value(json_object_get(tx, "total_order"));
        if (ev->txid == NULL || ev->total_order <= 0)
            return malformed(ev,
                             "\"transaction\" lacks id or "
                             "total_order",
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
                             "END event without \"data_collections\"");
    out->n = json_array_size(dc);
    out->collections = calloc(out->n + 1, sizeof(char *));
    out->counts = calloc(out->n + 1, sizeof(long));
    if (out->collections == NULL || out->counts == NULL)
        return FERRY_ENOMEM;
    for (i = 0; i < out->n; i++) {
        json_t *c = json_array_get(dc, i);
        const char *name =
            json_string_value(json_object_get(c, "data_collection"));
        json_t *cnt = json_object_get(c, "event_count");

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
    json_t *v;
    const char *status, *id;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->event_count = -1;
    v = val != NULL ? json_loadb(val, vlen, 0, &jerr) : NULL;
    if (!json_is_object(v)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "transaction event is not a JSON object");
        goto done;
    }
    status = json_string_value(json_object_get(v, "status"));
    id = json_string_value(json_object_get(v, "id"));
    if (status == NULL || id == NULL ||
        (strcmp(status, "BEGIN") != 0 && strcmp(status, "END") != 0)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "transaction event without status or id");
        goto done;
    }
    out->end = strcmp(status, "END") == 0;
    out->id = strdup(id);
    if (out->id == NULL) {
        rc = FERRY_ENOMEM;
        goto done;
    }
    if (!sink_txid_commit(id, &out->commit_lsn)) {
        rc = ferry_err_set(err, FERRY_EDATA,
                           "transaction id \"%s\" is not \"xid:lsn\"", id);
        goto done;
    }
    if (out->end) {
        json_t *ec = json_object_get(v, "event_count");

        out->event_count =
            json_is_integer(ec) ? (long)json_integer_value(ec) : -1;
        rc = read_collections(json_object_get(v, "data_collections"), out, err);
    }
done:
    json_decref(v);
    if (rc != 0)
        sink_txmsg_clear(out);
    return rc;
}
