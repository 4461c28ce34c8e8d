/* ferry-cdc's golden messages read back by ferry-sink's parser: the two
 * sides of the wire format checked against each other.
 * tests/unit/sink/test_sink_reads_cdc_golden.c
 *
 * tests/unit/cdc/golden/NAME.out holds the exact messages ferry-cdc
 * publishes for real wal2json input (test_cdc_golden proves the bytes), one
 * "topic TAB key TAB value" line each, "null" for a null key or value.  This
 * test feeds every message of every such file to the sink: change events
 * and tombstones (a null value) to sink_event_parse(), transaction events to
 * sink_txmsg_parse().  It reads each message a second time on its own, with
 * jansson and sscanf, and checks that
 *
 *   - every object holds exactly the members common/ferry_wire.h names for
 *     it (the required ones, an optional "absent", nothing else), so a field
 *     the writer renames alone is caught;
 *   - what the sink gives (op, schema, table, sequence pair, transaction id
 *     and total_order, before/after/absent, the END event's counts and
 *     collections) is what the message says, so a field the reader renames
 *     alone is caught;
 *   - the pieces agree with each other: the pair is (the transaction id's
 *     commit LSN, source.lsn), total_order counts up, END counts what was
 *     published, a tombstone follows a delete under its key.
 *
 * A last test renames each field of each kind in one golden message and
 * requires the check to fail, so that it cannot pass by reading nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ferry_wire.h"
#include "sink_event.h"

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_DIR "../cdc/golden"
#define PREFIX "ferry" /* the topic prefix test_cdc_golden uses */
#define MAX_COLLECTIONS 16
#define MAX_TOPICS 16

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The members of each object of the format. */
static const char *const event_required[] = {
    FERRY_WIRE_F_BEFORE, FERRY_WIRE_F_AFTER,      FERRY_WIRE_F_SOURCE,
    FERRY_WIRE_F_OP,     FERRY_WIRE_F_TS_MS,      FERRY_WIRE_F_TS_US,
    FERRY_WIRE_F_TS_NS,  FERRY_WIRE_F_TRANSACTION};
static const char *const event_optional[] = {FERRY_WIRE_F_ABSENT};
static const char *const source_required[] = {
    FERRY_WIRE_F_SRC_VERSION,  FERRY_WIRE_F_SRC_CONNECTOR,
    FERRY_WIRE_F_SRC_NAME,     FERRY_WIRE_F_SRC_TS_MS,
    FERRY_WIRE_F_SRC_TS_US,    FERRY_WIRE_F_SRC_TS_NS,
    FERRY_WIRE_F_SRC_SNAPSHOT, FERRY_WIRE_F_SRC_DB,
    FERRY_WIRE_F_SRC_SEQUENCE, FERRY_WIRE_F_SRC_SCHEMA,
    FERRY_WIRE_F_SRC_TABLE,    FERRY_WIRE_F_SRC_TXID,
    FERRY_WIRE_F_SRC_LSN,      FERRY_WIRE_F_SRC_XMIN};
static const char *const txn_required[] = {
    FERRY_WIRE_F_TXN_ID, FERRY_WIRE_F_TXN_TOTAL_ORDER,
    FERRY_WIRE_F_TXN_DATA_COLLECTION_ORDER};
static const char *const txkey_required[] = {FERRY_WIRE_F_TXKEY_ID};
static const char *const txev_required[] = {
    FERRY_WIRE_F_TXEV_STATUS, FERRY_WIRE_F_TXEV_ID, FERRY_WIRE_F_TXEV_TS_MS,
    FERRY_WIRE_F_TXEV_EVENT_COUNT, FERRY_WIRE_F_TXEV_DATA_COLLECTIONS};
static const char *const dc_required[] = {FERRY_WIRE_F_TXEV_DC_NAME,
                                          FERRY_WIRE_F_TXEV_DC_EVENT_COUNT};

/* What a file has shown so far: the open transaction and the last message
 * of each entity topic. */
typedef struct golden_state {
    bool tx_open;                   /* between BEGIN and END */
    char txid[FERRY_WIRE_TXID_LEN]; /* its id */
    uint64_t commit;                /* its commit LSN */
    long total;                     /* its change events so far */
    char dc[MAX_COLLECTIONS][128];  /* "schema.table", first seen
                                       first */
    long dc_count[MAX_COLLECTIONS]; /* events of each */
    size_t ndc;                     /* entries in dc */
    char topic[MAX_TOPICS][64];     /* entity topics seen */
    char last_op[MAX_TOPICS];       /* the last op on each */
    json_t *last_key[MAX_TOPICS];   /* owned: its key, or NULL */
    size_t ntopics;                 /* entries in topic */
    size_t messages;                /* messages checked */
    char why[1024];                 /* the first failed check */
} golden_state_t;

#define CHECK(st, cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf((st)->why, sizeof((st)->why), __VA_ARGS__);               \
            goto fail;                                                         \
        }                                                                      \
    } while (0)

static bool
in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* Whether o is an object with every required member, no member outside
 * required and optional; why says which when not. */
static bool
members_are(golden_state_t *st, const char *what, const json_t *o,
            const char *const *req, size_t nreq, const char *const *opt,
            size_t nopt)
{
    const char *name;
    json_t *v;

    CHECK(st, json_is_object(o), "%s is not an object", what);
    for (size_t i = 0; i < nreq; i++)
        CHECK(st, json_object_get(o, req[i]) != NULL,
              "%s lacks the member \"%s\"", what, req[i]);
    json_object_foreach((json_t *)o, name, v)
    {
        CHECK(st, in_list(name, req, nreq) || in_list(name, opt, nopt),
              "%s has a member \"%s\" that ferry_wire.h does not name", what,
              name);
    }
    return true;
fail:
    return false;
}

/* Reads "<a>:<b>" on its own, without ferry_wire. */
static bool
own_txid(const char *s, uint64_t *xid, uint64_t *commit)
{
    int n = -1;

    return s != NULL &&
           sscanf(s, "%" SCNu64 ":%" SCNu64 "%n", xid, commit, &n) == 2 &&
           n == (int)strlen(s);
}

/* Reads ["<a>","<b>"] on its own, without ferry_wire. */
static bool
own_sequence(const char *s, uint64_t *commit, uint64_t *change)
{
    int n = -1;

    return s != NULL &&
           sscanf(s, "[\"%" SCNu64 "\",\"%" SCNu64 "\"]%n", commit, change,
                  &n) == 2 &&
           n == (int)strlen(s);
}

/* The index of an entity topic in st, added when new. */
static size_t
topic_slot(golden_state_t *st, const char *topic)
{
    size_t i;

    for (i = 0; i < st->ntopics; i++)
        if (strcmp(st->topic[i], topic) == 0)
            return i;
    assert_true(i < MAX_TOPICS && strlen(topic) < sizeof(st->topic[i]));
    snprintf(st->topic[i], sizeof(st->topic[i]), "%s", topic);
    st->last_op[i] = 0;
    st->last_key[i] = NULL;
    st->ntopics++;
    return i;
}

/* Counts one change event of collection name in the open transaction and
 * returns its data_collection_order. */
static long
count_collection(golden_state_t *st, const char *name)
{
    size_t i;

    for (i = 0; i < st->ndc; i++)
        if (strcmp(st->dc[i], name) == 0)
            return ++st->dc_count[i];
    assert_true(i < MAX_COLLECTIONS && strlen(name) < sizeof(st->dc[i]));
    snprintf(st->dc[i], sizeof(st->dc[i]), "%s", name);
    st->dc_count[i] = 1;
    st->ndc++;
    return 1;
}

/* Whether the sink's field f holds the message's value v: the text the
 * sink writes (a string as it is, an integer in decimal, a boolean t or
 * f, NULL for null). */
static bool
same_value(const sink_field_t *f, const json_t *v)
{
    char buf[32];

    if (f == NULL)
        return false;
    if (json_is_null(v))
        return f->text == NULL && f->kind == FERRY_JSON_NULL;
    if (f->text == NULL || strlen(f->text) != f->len)
        return false;
    if (json_is_string(v))
        return f->kind == FERRY_JSON_STRING &&
               f->len == json_string_length(v) &&
               memcmp(f->text, json_string_value(v), f->len) == 0;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return f->kind == FERRY_JSON_NUMBER && strcmp(f->text, buf) == 0;
    }
    if (json_is_boolean(v))
        return strcmp(f->text, json_is_true(v) ? "t" : "f") == 0;
    return false;
}

/* Whether the sink's image (borrowed from the event) is the message's
 * member msg (an object, the absent array, null or missing). */
static bool
same_image(const sink_image_t *sink, const json_t *msg)
{
    const char *name;
    json_t *v;
    size_t i;

    if (msg == NULL || json_is_null(msg))
        return !sink->present && sink->n == 0;
    if (!sink->present)
        return false;
    if (json_is_array(msg)) {
        if (sink->n != json_array_size(msg))
            return false;
        for (i = 0; i < sink->n; i++)
            if (!json_is_string(json_array_get(msg, i)) ||
                strcmp(sink->f[i].name,
                       json_string_value(json_array_get(msg, i))) != 0)
                return false;
        return true;
    }
    if (!json_is_object(msg) || sink->n != json_object_size(msg))
        return false;
    json_object_foreach((json_t *)msg, name, v)
    {
        if (!same_value(sink_image_get(sink, name, 0), v))
            return false;
    }
    return true;
}

/* What a change event says, read without the sink. */
typedef struct own_event {
    json_t *v;          /* owned: the parsed value */
    const char *op;     /* borrowed from v: one letter */
    const char *schema; /* borrowed from v: source.schema */
    const char *table;  /* borrowed from v: source.table */
    const char *id;     /* borrowed from v: transaction.id, NULL for a
                           snapshot read */
    uint64_t commit;    /* sequence[0] */
    uint64_t change;    /* sequence[1] */
    long total_order;   /* transaction.total_order, 0 without one */
} own_event_t;

/* Reads value (borrowed) into *o and checks its shape and its pieces
 * against each other and the open transaction. */
static bool
read_own_event(golden_state_t *st, const char *value, size_t line,
               own_event_t *o)
{
    json_t *src, *txn;
    uint64_t xid, txcommit;
    const char *snap;

    memset(o, 0, sizeof(*o));
    o->v = json_loads(value, 0, NULL);
    CHECK(st, o->v != NULL, "line %zu: value is not JSON", line);
    if (!members_are(st, "change event", o->v, event_required,
                     N(event_required), event_optional, N(event_optional)))
        goto fail;
    src = json_object_get(o->v, FERRY_WIRE_F_SOURCE);
    txn = json_object_get(o->v, FERRY_WIRE_F_TRANSACTION);
    if (!members_are(st, "source block", src, source_required,
                     N(source_required), NULL, 0))
        goto fail;
    o->op = json_string_value(json_object_get(o->v, FERRY_WIRE_F_OP));
    o->schema =
        json_string_value(json_object_get(src, FERRY_WIRE_F_SRC_SCHEMA));
    o->table = json_string_value(json_object_get(src, FERRY_WIRE_F_SRC_TABLE));
    snap = json_string_value(json_object_get(src, FERRY_WIRE_F_SRC_SNAPSHOT));
    CHECK(st, o->op && strlen(o->op) == 1 && o->schema && o->table && snap,
          "line %zu: op, schema, table or snapshot is not a string", line);
    CHECK(st,
          own_sequence(json_string_value(
                           json_object_get(src, FERRY_WIRE_F_SRC_SEQUENCE)),
                       &o->commit, &o->change),
          "line %zu: the sequence is not [\"<commit>\",\"<change>\"]", line);
    if (json_is_null(txn)) {
        /* A snapshot read: [<hand-off LSN>, 0], outside any transaction. */
        CHECK(st, o->op[0] == FERRY_WIRE_OP_READ && strcmp(snap, "false") != 0,
              "line %zu: a streamed event without a transaction", line);
        CHECK(st,
              json_is_null(json_object_get(src, FERRY_WIRE_F_SRC_TXID)) &&
                  o->change == 0 &&
                  json_integer_value(json_object_get(
                      src, FERRY_WIRE_F_SRC_LSN)) == (json_int_t)o->commit,
              "line %zu: a snapshot read not at [lsn, 0] or with a txId", line);
        return true;
    }
    if (!members_are(st, "transaction block", txn, txn_required,
                     N(txn_required), NULL, 0))
        goto fail;
    o->id = json_string_value(json_object_get(txn, FERRY_WIRE_F_TXN_ID));
    o->total_order = (long)json_integer_value(
        json_object_get(txn, FERRY_WIRE_F_TXN_TOTAL_ORDER));
    CHECK(st, own_txid(o->id, &xid, &txcommit),
          "line %zu: the transaction id is not \"<xid>:<commit>\"", line);
    CHECK(st, st->tx_open && strcmp(o->id, st->txid) == 0,
          "line %zu: event of transaction %s outside its BEGIN and END", line,
          o->id);
    CHECK(st, o->commit == txcommit,
          "line %zu: sequence[0] %" PRIu64 " is not the commit LSN %" PRIu64,
          line, o->commit, txcommit);
    CHECK(st,
          json_integer_value(json_object_get(src, FERRY_WIRE_F_SRC_LSN)) ==
              (json_int_t)o->change,
          "line %zu: sequence[1] is not source.lsn", line);
    CHECK(st,
          json_integer_value(json_object_get(src, FERRY_WIRE_F_SRC_TXID)) ==
              (json_int_t)xid,
          "line %zu: source.txId is not the transaction id's xid", line);
    CHECK(st, o->total_order == st->total + 1,
          "line %zu: total_order %ld, expected %ld", line, o->total_order,
          st->total + 1);
    return true;
fail:
    return false;
}

/* Checks what the sink read (ev, borrowed) against the message (o). */
static bool
compare_sink(golden_state_t *st, const sink_event_t *ev, const own_event_t *o,
             size_t line)
{
    const json_t *src = json_object_get(o->v, FERRY_WIRE_F_SOURCE);
    uint64_t commit;

    CHECK(st, ev->op == o->op[0], "line %zu: the sink read op '%c', not '%c'",
          line, ev->op, o->op[0]);
    CHECK(st, ev->schema && strcmp(ev->schema, o->schema) == 0,
          "line %zu: the sink read schema \"%s\"", line,
          ev->schema ? ev->schema : "(none)");
    CHECK(st, ev->table && strcmp(ev->table, o->table) == 0,
          "line %zu: the sink read table \"%s\"", line,
          ev->table ? ev->table : "(none)");
    CHECK(st, ev->pair.commit == o->commit && ev->pair.change == o->change,
          "line %zu: the sink read the pair (%" PRIu64 ", %" PRIu64 ")", line,
          ev->pair.commit, ev->pair.change);
    CHECK(st,
          ev->ts_ms ==
              json_integer_value(json_object_get(src, FERRY_WIRE_F_SRC_TS_MS)),
          "line %zu: the sink read source.ts_ms %" PRId64, line, ev->ts_ms);
    if (o->id == NULL) {
        CHECK(st, ev->txid == NULL && ev->total_order == 0,
              "line %zu: the sink read a transaction into a snapshot read",
              line);
    } else {
        CHECK(st, ev->txid && strcmp(ev->txid, o->id) == 0,
              "line %zu: the sink read the transaction id \"%s\"", line,
              ev->txid ? ev->txid : "(none)");
        CHECK(st, sink_txid_commit(ev->txid, &commit) && commit == o->commit,
              "line %zu: sink_txid_commit() disagrees", line);
        CHECK(st, ev->total_order == o->total_order,
              "line %zu: the sink read total_order %ld", line, ev->total_order);
    }
    CHECK(st,
          same_image(&ev->before, json_object_get(o->v, FERRY_WIRE_F_BEFORE)),
          "line %zu: the sink's before differs", line);
    CHECK(st, same_image(&ev->after, json_object_get(o->v, FERRY_WIRE_F_AFTER)),
          "line %zu: the sink's after differs", line);
    CHECK(st,
          same_image(&ev->absent, json_object_get(o->v, FERRY_WIRE_F_ABSENT)),
          "line %zu: the sink's absent differs", line);
    return true;
fail:
    return false;
}

/* A change event: key and value are the message's text (borrowed). */
static bool
check_change(golden_state_t *st, size_t ti, const char *key, size_t klen,
             const char *value, size_t line)
{
    sink_event_t *ev = NULL;
    json_t *k = NULL;
    own_event_t o;
    char dc[256];
    long dc_order;
    bool ok = false;

    if (!read_own_event(st, value, line, &o))
        goto fail;
    CHECK(st,
          sink_event_parse(key, klen, value, strlen(value),
                           (sink_pos_t){0, (int64_t)line}, &ev) == 0 &&
              ev != NULL,
          "line %zu: the sink refused the event: %s", line,
          ev != NULL && ev->reason != NULL ? ev->reason : "out of memory");
    if (!compare_sink(st, ev, &o, line))
        goto fail;
    if (key != NULL) {
        k = json_loadb(key, klen, 0, NULL);
        CHECK(st, json_is_object(k) && same_image(&ev->key, k),
              "line %zu: the sink's key differs", line);
    }
    CHECK(st, (key == NULL) == (o.op[0] == FERRY_WIRE_OP_TRUNCATE),
          "line %zu: only a truncate has a null key", line);
    if (o.id != NULL) {
        /* What END will have to say. */
        st->total++;
        snprintf(dc, sizeof(dc), "%s.%s", o.schema, o.table);
        dc_order = count_collection(st, dc);
        CHECK(st,
              json_integer_value(json_object_get(
                  json_object_get(o.v, FERRY_WIRE_F_TRANSACTION),
                  FERRY_WIRE_F_TXN_DATA_COLLECTION_ORDER)) == dc_order,
              "line %zu: data_collection_order is not %ld", line, dc_order);
    }
    st->last_op[ti] = o.op[0];
    json_decref(st->last_key[ti]);
    st->last_key[ti] = k;
    k = NULL;
    ok = true;
fail:
    json_decref(k);
    json_decref(o.v);
    sink_event_free(ev);
    return ok;
}

/* A tombstone: the sink's parser gets a null value. */
static bool
check_tombstone(golden_state_t *st, size_t ti, const char *key, size_t klen,
                size_t line)
{
    sink_event_t *ev = NULL;
    json_t *k = NULL;
    bool ok = false;

    CHECK(st, key != NULL, "line %zu: a tombstone without a key", line);
    CHECK(st, st->last_op[ti] == FERRY_WIRE_OP_DELETE,
          "line %zu: a tombstone that follows no delete", line);
    k = json_loadb(key, klen, 0, NULL);
    CHECK(st, json_is_object(k) && json_equal(k, st->last_key[ti]),
          "line %zu: a tombstone under another key than its delete's", line);
    /* The sink never applies a null value: its parser calls it malformed
     * and keeps the key, and its intake skips tombstones before that. */
    CHECK(st,
          sink_event_parse(key, klen, NULL, 0, (sink_pos_t){0, (int64_t)line},
                           &ev) == FERRY_EDATA &&
              ev != NULL && ev->op == 'X',
          "line %zu: the sink took a tombstone for an event", line);
    CHECK(st, same_image(&ev->key, k),
          "line %zu: the sink lost the tombstone's key", line);
    st->last_op[ti] = 0;
    ok = true;
fail:
    json_decref(k);
    sink_event_free(ev);
    return ok;
}

/* A BEGIN or END event with its key. */
static bool
check_txmsg(golden_state_t *st, const char *key, size_t klen, const char *value,
            size_t line)
{
    json_t *v = NULL, *k = NULL, *dcs;
    sink_txmsg_t m = {0};
    ferry_err_t err = {0};
    const char *status, *id;
    uint64_t xid, commit;
    bool end, ok = false;

    k = key != NULL ? json_loadb(key, klen, 0, NULL) : NULL;
    v = json_loads(value, 0, NULL);
    if (!members_are(st, "transaction key", k, txkey_required,
                     N(txkey_required), NULL, 0) ||
        !members_are(st, "transaction event", v, txev_required,
                     N(txev_required), NULL, 0))
        goto fail;
    status = json_string_value(json_object_get(v, FERRY_WIRE_F_TXEV_STATUS));
    id = json_string_value(json_object_get(v, FERRY_WIRE_F_TXEV_ID));
    CHECK(st,
          status != NULL &&
              (strcmp(status, "BEGIN") == 0 || strcmp(status, "END") == 0),
          "line %zu: status is neither BEGIN nor END", line);
    end = strcmp(status, "END") == 0;
    CHECK(st, own_txid(id, &xid, &commit),
          "line %zu: the id is not \"<xid>:<commit>\"", line);
    CHECK(st,
          strcmp(json_string_value(json_object_get(k, FERRY_WIRE_F_TXKEY_ID)),
                 id) == 0,
          "line %zu: the key's id is not the event's", line);

    CHECK(st, sink_txmsg_parse(value, strlen(value), &m, &err) == 0,
          "line %zu: the sink refused the transaction event: %s", line,
          err.msg);
    CHECK(st, m.end == end, "line %zu: the sink read BEGIN for END or back",
          line);
    CHECK(st, m.id && strcmp(m.id, id) == 0 && m.commit_lsn == commit,
          "line %zu: the sink read id \"%s\" commit %" PRIu64, line,
          m.id ? m.id : "(none)", m.commit_lsn);
    dcs = json_object_get(v, FERRY_WIRE_F_TXEV_DATA_COLLECTIONS);
    if (!end) {
        CHECK(st, !st->tx_open, "line %zu: BEGIN inside a transaction", line);
        CHECK(st,
              json_is_null(json_object_get(v, FERRY_WIRE_F_TXEV_EVENT_COUNT)) &&
                  json_is_null(dcs),
              "line %zu: BEGIN with counts", line);
        CHECK(st, m.event_count == -1 && m.n == 0,
              "line %zu: the sink read counts into a BEGIN", line);
        st->tx_open = true;
        snprintf(st->txid, sizeof(st->txid), "%s", id);
        st->commit = commit;
        st->total = 0;
        st->ndc = 0;
        ok = true;
        goto fail;
    }
    CHECK(st, st->tx_open && strcmp(st->txid, id) == 0,
          "line %zu: END without its BEGIN", line);
    CHECK(st,
          json_integer_value(
              json_object_get(v, FERRY_WIRE_F_TXEV_EVENT_COUNT)) == st->total &&
              m.event_count == st->total,
          "line %zu: END counts %ld events (sink %ld), %ld were published",
          line,
          (long)json_integer_value(
              json_object_get(v, FERRY_WIRE_F_TXEV_EVENT_COUNT)),
          m.event_count, st->total);
    CHECK(st,
          json_is_array(dcs) && json_array_size(dcs) == st->ndc &&
              m.n == st->ndc,
          "line %zu: END lists %zu collections (sink %zu), %zu were seen", line,
          json_array_size(dcs), m.n, st->ndc);
    for (size_t i = 0; i < st->ndc; i++) {
        json_t *c = json_array_get(dcs, i);

        if (!members_are(st, "data collection", c, dc_required, N(dc_required),
                         NULL, 0))
            goto fail;
        CHECK(st,
              strcmp(json_string_value(
                         json_object_get(c, FERRY_WIRE_F_TXEV_DC_NAME)),
                     st->dc[i]) == 0 &&
                  strcmp(m.collections[i], st->dc[i]) == 0,
              "line %zu: collection %zu is not \"%s\"", line, i, st->dc[i]);
        CHECK(st,
              json_integer_value(json_object_get(
                  c, FERRY_WIRE_F_TXEV_DC_EVENT_COUNT)) == st->dc_count[i] &&
                  m.counts[i] == st->dc_count[i],
              "line %zu: \"%s\" counts %ld events (sink %ld), not %ld", line,
              st->dc[i],
              (long)json_integer_value(
                  json_object_get(c, FERRY_WIRE_F_TXEV_DC_EVENT_COUNT)),
              m.counts[i], st->dc_count[i]);
    }
    st->tx_open = false;
    ok = true;
fail:
    sink_txmsg_clear(&m);
    json_decref(k);
    json_decref(v);
    return ok;
}

/* One "topic TAB key TAB value" line (borrowed, NUL-terminated, changed in
 * place); ERROR lines are cdc's errors, not messages. */
static bool
check_line(golden_state_t *st, char *text, size_t line)
{
    char *t1 = strchr(text, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    const char *topic = text, *key, *value;
    ferry_wire_topic_t kind;

    if (strncmp(text, "ERROR\t", 6) == 0)
        return true;
    CHECK(st, t2 != NULL, "line %zu is not topic TAB key TAB value", line);
    *t1 = *t2 = '\0';
    key = strcmp(t1 + 1, "null") == 0 ? NULL : t1 + 1;
    value = strcmp(t2 + 1, "null") == 0 ? NULL : t2 + 1;
    st->messages++;
    if (ferry_wire_topic_parse(topic, strlen(topic), PREFIX, &kind)) {
        CHECK(st, kind == FERRY_WIRE_TOPIC_TRANSACTION && value != NULL,
              "line %zu: unexpected control topic \"%s\"", line, topic);
        return check_txmsg(st, key, key ? strlen(key) : 0, value, line);
    }
    if (value == NULL)
        return check_tombstone(st, topic_slot(st, topic), key,
                               key ? strlen(key) : 0, line);
    return check_change(st, topic_slot(st, topic), key, key ? strlen(key) : 0,
                        value, line);
fail:
    return false;
}

/* Checks every line of text (borrowed); false with st->why on the first
 * failure. */
static bool
check_text(golden_state_t *st, const char *text)
{
    char *copy = strdup(text), *p, *next;
    size_t line = 1;
    bool ok = true;

    assert_non_null(copy);
    memset(st, 0, sizeof(*st));
    for (p = copy; ok && *p != '\0'; p = next, line++) {
        char *nl = strchr(p, '\n');

        next = nl != NULL ? nl + 1 : p + strlen(p);
        if (nl != NULL)
            *nl = '\0';
        if (*p != '\0')
            ok = check_line(st, p, line);
    }
    if (ok && st->tx_open) {
        snprintf(st->why, sizeof(st->why), "a transaction without its END");
        ok = false;
    }
    for (size_t i = 0; i < st->ntopics; i++)
        json_decref(st->last_key[i]);
    free(copy);
    return ok;
}

static char *
read_golden(const char *name)
{
    char path[512];
    FILE *f;
    long n;
    char *data;

    snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    return data;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of every golden/NAME.out, sorted; a new array of new strings
 * (free both), with *n entries. */
static char **
golden_files(size_t *n)
{
    DIR *d = opendir(GOLDEN_DIR);
    struct dirent *e;
    char **names = NULL;

    assert_non_null(d);
    *n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len <= 4 || strcmp(e->d_name + len - 4, ".out") != 0)
            continue;
        names = realloc(names, (*n + 1) * sizeof(*names));
        assert_non_null(names);
        names[*n] = strdup(e->d_name);
        assert_non_null(names[*n]);
        (*n)++;
    }
    closedir(d);
    qsort(names, *n, sizeof(*names), by_name);
    return names;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void
test_sink_reads_every_golden_message_as_cdc_wrote_it(void **state)
{
    size_t n, total = 0;
    char **names = golden_files(&n);

    (void)state;
    /* types, toast_and_key_change, identity_full_and_composite,
     * names_truncate_messages, no_pk, and any added later. */
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        char *text = read_golden(names[i]);
        golden_state_t st;

        if (!check_text(&st, text))
            fail_msg("%s: %s", names[i], st.why);
        assert_true(st.messages > 0);
        total += st.messages;
        free(text);
    }
    print_message("checked %zu messages of %zu golden files\n", total, n);
    assert_true(total >= 60);
    free_names(names, n);
}

/* Which object of which message kind a field is in. */
typedef enum where {
    IN_EVENT,  /* a change event's top level */
    IN_SOURCE, /* its source block */
    IN_TXN,    /* its transaction block */
    IN_TXEV,   /* a BEGIN or END event */
    IN_DC,     /* an END event's first data collection */
    IN_TXKEY   /* the transaction topic's key */
} where_t;

static const struct rename {
    where_t where;
    const char *field;
} renames[] = {
    {IN_EVENT, FERRY_WIRE_F_BEFORE},
    {IN_EVENT, FERRY_WIRE_F_AFTER},
    {IN_EVENT, FERRY_WIRE_F_ABSENT},
    {IN_EVENT, FERRY_WIRE_F_SOURCE},
    {IN_EVENT, FERRY_WIRE_F_OP},
    {IN_EVENT, FERRY_WIRE_F_TS_MS},
    {IN_EVENT, FERRY_WIRE_F_TS_US},
    {IN_EVENT, FERRY_WIRE_F_TS_NS},
    {IN_EVENT, FERRY_WIRE_F_TRANSACTION},
    {IN_SOURCE, FERRY_WIRE_F_SRC_VERSION},
    {IN_SOURCE, FERRY_WIRE_F_SRC_CONNECTOR},
    {IN_SOURCE, FERRY_WIRE_F_SRC_NAME},
    {IN_SOURCE, FERRY_WIRE_F_SRC_TS_MS},
    {IN_SOURCE, FERRY_WIRE_F_SRC_TS_US},
    {IN_SOURCE, FERRY_WIRE_F_SRC_TS_NS},
    {IN_SOURCE, FERRY_WIRE_F_SRC_SNAPSHOT},
    {IN_SOURCE, FERRY_WIRE_F_SRC_DB},
    {IN_SOURCE, FERRY_WIRE_F_SRC_SEQUENCE},
    {IN_SOURCE, FERRY_WIRE_F_SRC_SCHEMA},
    {IN_SOURCE, FERRY_WIRE_F_SRC_TABLE},
    {IN_SOURCE, FERRY_WIRE_F_SRC_TXID},
    {IN_SOURCE, FERRY_WIRE_F_SRC_LSN},
    {IN_SOURCE, FERRY_WIRE_F_SRC_XMIN},
    {IN_TXN, FERRY_WIRE_F_TXN_ID},
    {IN_TXN, FERRY_WIRE_F_TXN_TOTAL_ORDER},
    {IN_TXN, FERRY_WIRE_F_TXN_DATA_COLLECTION_ORDER},
    {IN_TXEV, FERRY_WIRE_F_TXEV_STATUS},
    {IN_TXEV, FERRY_WIRE_F_TXEV_ID},
    {IN_TXEV, FERRY_WIRE_F_TXEV_TS_MS},
    {IN_TXEV, FERRY_WIRE_F_TXEV_EVENT_COUNT},
    {IN_TXEV, FERRY_WIRE_F_TXEV_DATA_COLLECTIONS},
    {IN_DC, FERRY_WIRE_F_TXEV_DC_NAME},
    {IN_DC, FERRY_WIRE_F_TXEV_DC_EVENT_COUNT},
    {IN_TXKEY, FERRY_WIRE_F_TXKEY_ID},
};

/* The object of msg (borrowed) where r's field lives, or NULL. */
static json_t *
rename_target(json_t *msg, where_t where)
{
    switch (where) {
    case IN_SOURCE:
        return json_object_get(msg, FERRY_WIRE_F_SOURCE);
    case IN_TXN:
        return json_object_get(msg, FERRY_WIRE_F_TRANSACTION);
    case IN_DC:
        return json_array_get(
            json_object_get(msg, FERRY_WIRE_F_TXEV_DATA_COLLECTIONS), 0);
    default:
        return msg;
    }
}

/* Renames r's field in the first line of text that has it, the way a
 * writer renaming it alone would.  Returns a new text, or NULL when no line
 * has the field. */
static char *
rename_once(const char *text, const struct rename *r)
{
    bool tx_kind =
        r->where == IN_TXEV || r->where == IN_DC || r->where == IN_TXKEY;
    const char *p = text;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len), *t1, *t2, *out = NULL;
        bool is_tx;
        json_t *msg, *obj, *v;

        assert_non_null(line);
        t1 = strchr(line, '\t');
        t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (t2 == NULL || strncmp(line, "ERROR\t", 6) == 0)
            goto next;
        *t1 = *t2 = '\0';
        is_tx = strcmp(line, PREFIX "." FERRY_WIRE_T_TRANSACTION) == 0;
        if (is_tx != tx_kind)
            goto next;
        msg = json_loads(r->where == IN_TXKEY ? t1 + 1 : t2 + 1, 0, NULL);
        obj = rename_target(msg, r->where);
        v = json_object_get(obj, r->field);
        if (v != NULL) {
            char renamed[128];
            char *js;
            ferry_buf_t b;

            snprintf(renamed, sizeof(renamed), "%s_renamed", r->field);
            json_object_set(obj, renamed, v);
            json_object_del(obj, r->field);
            js = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
            assert_non_null(js);
            ferry_buf_init(&b);
            ferry_buf_append(&b, text, (size_t)(p - text));
            ferry_buf_append_str(&b, line);
            ferry_buf_putc(&b, '\t');
            ferry_buf_append_str(&b, r->where == IN_TXKEY ? js : t1 + 1);
            ferry_buf_putc(&b, '\t');
            ferry_buf_append_str(&b, r->where == IN_TXKEY ? t2 + 1 : js);
            ferry_buf_append_str(&b, p + len);
            out = ferry_buf_take(&b);
            assert_non_null(out);
            free(js);
        }
        json_decref(msg);
        if (out != NULL) {
            free(line);
            return out;
        }
    next:
        free(line);
        p += len + (nl != NULL);
    }
    return NULL;
}

static void
test_a_field_renamed_on_one_side_fails_the_check(void **state)
{
    size_t n;
    char **names = golden_files(&n);

    (void)state;
    for (size_t r = 0; r < N(renames); r++) {
        char *mutated = NULL;
        golden_state_t st;

        for (size_t i = 0; i < n && mutated == NULL; i++) {
            char *text = read_golden(names[i]);

            mutated = rename_once(text, &renames[r]);
            free(text);
        }
        if (mutated == NULL)
            fail_msg("no golden message has the field \"%s\"",
                     renames[r].field);
        if (check_text(&st, mutated))
            fail_msg("renaming \"%s\" went unnoticed", renames[r].field);
        free(mutated);
    }
    free_names(names, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_reads_every_golden_message_as_cdc_wrote_it),
        cmocka_unit_test(test_a_field_renamed_on_one_side_fails_the_check),
    };

    return cmocka_run_group_tests_name("sink_reads_cdc_golden", tests, NULL,
                                       NULL);
}
