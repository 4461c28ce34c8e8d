/* Parsing ferry-cdc's change events and transaction events.
 * sink/sink_event.c
 *
 * Every field name, the sequence and the transaction id are
 * common/ferry_wire.h's, the module ferry-cdc writes them with. */
#include "sink_event.h"

#include "ferry_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
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

/* --- change events ------------------------------------------------------ */

/* The parse of one event: the scanner, the event's text block being
 * filled and its fields. */
typedef struct parse {
    ferry_json_scan_t s;
    sink_event_t *ev;
    char *out;       /* next free byte of the event's text */
    char *out_end;   /* one past its last byte */
    size_t n, cap;   /* fields used and allocated in ev->fields */
    const char *bad; /* a decoding failure ("\u0000", ...), or NULL */
} parse_t;

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
    /* The key stays: a tombstone is malformed and keeps its key. */
    memset(&ev->before, 0, sizeof(ev->before));
    memset(&ev->after, 0, sizeof(ev->after));
    memset(&ev->absent, 0, sizeof(ev->absent));
    ev->schema = ev->table = ev->txid = NULL;
    ev->op = 'X';
    return ev->reason != NULL ? FERRY_EDATA : FERRY_ENOMEM;
}

/* Room for n more bytes of text: never short (an unescaped text is never
 * longer than its token and the delimiter after it), checked all the
 * same. */
static char *
text_room(parse_t *ps, size_t n)
{
    char *at = ps->out;

    if ((size_t)(ps->out_end - ps->out) < n) {
        ps->bad = "the message's text does not fit";
        return NULL;
    }
    ps->out += n;
    return at;
}

/* The string inner (escaped) unescaped into the event's text: *out, *len. */
static bool
put_string(parse_t *ps, ferry_json_tok_t inner, const char **out, uint32_t *len)
{
    char *at = text_room(ps, inner.len + 1);
    size_t n;

    if (at == NULL)
        return false;
    n = ferry_json_unescape(inner, at);
    if (n == (size_t)-1) {
        ps->bad = "a string holds \\u0000 or an unpaired surrogate";
        return false;
    }
    ps->out = at + n + 1;
    *out = at;
    if (len != NULL)
        *len = (uint32_t)n;
    return true;
}

/* The raw token tok copied into the event's text. */
static bool
put_raw(parse_t *ps, const char *p, size_t n, const char **out, uint32_t *len)
{
    char *at = text_room(ps, n + 1);

    if (at == NULL)
        return false;
    memcpy(at, p, n);
    at[n] = '\0';
    *out = at;
    *len = (uint32_t)n;
    return true;
}

static sink_field_t *
new_field(parse_t *ps)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap < 16 ? 16 : ps->cap * 2;
        sink_field_t *f = realloc(ps->ev->fields, cap * sizeof(*f));

        if (f == NULL)
            return NULL;
        ps->ev->fields = f;
        ps->cap = cap;
    }
    return memset(&ps->ev->fields[ps->n++], 0, sizeof(sink_field_t));
}

/* A failure while reading: the scanner's report, a decoding failure, or
 * out of memory. */
static int
read_failed(parse_t *ps, int rc, const char *what, ferry_err_t *err)
{
    if (rc == FERRY_ENOMEM)
        return FERRY_ENOMEM;
    return malformed(ps->ev, what, ps->bad != NULL ? ps->bad : err->msg);
}

/* Reads the value of a field at ps->s into f. */
static int
read_field_value(parse_t *ps, sink_field_t *f)
{
    ferry_json_tok_t tok;
    ferry_json_kind_t kind;
    int rc = ferry_json_value(&ps->s, 2, &tok, &kind);

    if (rc != 0)
        return rc;
    f->kind = kind;
    switch (kind) {
    case FERRY_JSON_NULL:
        return 0;
    case FERRY_JSON_TRUE:
        return put_raw(ps, "t", 1, &f->text, &f->len) ? 0 : FERRY_EDATA;
    case FERRY_JSON_FALSE:
        return put_raw(ps, "f", 1, &f->text, &f->len) ? 0 : FERRY_EDATA;
    case FERRY_JSON_STRING:
        tok.ptr++;
        tok.len -= 2;
        return put_string(ps, tok, &f->text, &f->len) ? 0 : FERRY_EDATA;
    default: /* a number as written; an object or array as its JSON */
        return put_raw(ps, tok.ptr, tok.len, &f->text, &f->len) ? 0
                                                                : FERRY_EDATA;
    }
}

/* Reads the object or null at ps->s into img (names: only the names of an
 * array of strings, for absent). */
static int
read_image(parse_t *ps, sink_image_t *img, bool names)
{
    size_t first = ps->n;
    char open = names ? '[' : '{', close = names ? ']' : '}';
    ferry_json_tok_t name;
    sink_field_t *f;
    int rc;

    memset(img, 0, sizeof(*img));
    ferry_json_skip_ws(&ps->s);
    if (ferry_json_take(&ps->s, "null", 4))
        return 0;
    if (ps->s.p >= ps->s.end || *ps->s.p != open)
        return ferry_json_fail(&ps->s, names ? "expected an array"
                                             : "expected an object");
    ps->s.p++;
    ferry_json_skip_ws(&ps->s);
    if (!ferry_json_take(&ps->s, &close, 1))
        do {
            if ((rc = ferry_json_string_value(&ps->s, &name, false)) != 0)
                return rc;
            if ((f = new_field(ps)) == NULL)
                return FERRY_ENOMEM;
            if (!put_string(ps, name, &f->name, &f->name_len))
                return FERRY_EDATA;
            if (names) {
                f->kind = FERRY_JSON_STRING;
                f->text = f->name;
                f->len = f->name_len;
            } else if ((rc = ferry_json_expect(&ps->s, ':')) != 0 ||
                       (rc = read_field_value(ps, f)) != 0) {
                return rc;
            }
        } while ((rc = ferry_json_next_member(&ps->s, close)) == 1);
    else
        rc = 0;
    if (rc != 0)
        return rc;
    img->present = true;
    img->n = ps->n - first;
    /* Fields are addressed by index until the parse ends (ev->fields may
     * move); sink_event_parse() turns them into pointers. */
    img->f = (const sink_field_t *)(uintptr_t)first;
    return 0;
}

/* A string member's value into *out (event text), or NULL for null. */
static int
read_str(parse_t *ps, const char **out, size_t *len)
{
    ferry_json_tok_t inner;
    uint32_t n = 0;
    int rc = ferry_json_string_value(&ps->s, &inner, true);

    *out = NULL;
    if (rc != 0 || inner.ptr == NULL)
        return rc;
    if (!put_string(ps, inner, out, &n))
        return FERRY_EDATA;
    if (len != NULL)
        *len = n;
    return 0;
}

/* An integer member's value into *out; *ok false when it is not an
 * integer that fits an int64. */
static int
read_int(parse_t *ps, int64_t *out, bool *ok)
{
    ferry_json_tok_t tok;
    ferry_json_kind_t kind;
    char buf[24];
    char *end;
    int rc = ferry_json_value(&ps->s, 2, &tok, &kind);

    *ok = false;
    *out = 0;
    if (rc != 0 || kind != FERRY_JSON_NUMBER || tok.len >= sizeof(buf) ||
        memchr(tok.ptr, '.', tok.len) != NULL ||
        memchr(tok.ptr, 'e', tok.len) != NULL ||
        memchr(tok.ptr, 'E', tok.len) != NULL)
        return rc;
    memcpy(buf, tok.ptr, tok.len);
    buf[tok.len] = '\0';
    errno = 0;
    *out = strtoll(buf, &end, 10);
    *ok = errno == 0 && *end == '\0';
    if (!*ok)
        *out = 0;
    return 0;
}

typedef struct envelope {
    const char *op, *seq, *txid;
    size_t op_len, seq_len, txid_len;
    bool has_source, has_tx, ts_ok, order_ok;
    int64_t total_order;
} envelope_t;

#define NAME_IS(tok, lit)                                                      \
    ((tok).len == sizeof(lit) - 1 && memcmp((tok).ptr, (lit), (tok).len) == 0)

/* Reads the members of an object at ps->s, calling member() for each name
 * (escaped; ferry-cdc's names have no escapes). */
static int
read_object(parse_t *ps, envelope_t *env,
            int (*member)(parse_t *, envelope_t *, ferry_json_tok_t))
{
    ferry_json_tok_t name;
    int rc;

    if ((rc = ferry_json_expect(&ps->s, '{')) != 0)
        return rc;
    ferry_json_skip_ws(&ps->s);
    if (ferry_json_take(&ps->s, "}", 1))
        return 0;
    do {
        if ((rc = ferry_json_string_value(&ps->s, &name, false)) != 0 ||
            (rc = ferry_json_expect(&ps->s, ':')) != 0 ||
            (rc = member(ps, env, name)) != 0)
            return rc;
    } while ((rc = ferry_json_next_member(&ps->s, '}')) == 1);
    return rc;
}

static int
source_member(parse_t *ps, envelope_t *env, ferry_json_tok_t name)
{
    if (NAME_IS(name, FERRY_WIRE_F_SRC_SCHEMA))
        return read_str(ps, &ps->ev->schema, NULL);
    if (NAME_IS(name, FERRY_WIRE_F_SRC_TABLE))
        return read_str(ps, &ps->ev->table, NULL);
    if (NAME_IS(name, FERRY_WIRE_F_SRC_SEQUENCE))
        return read_str(ps, &env->seq, &env->seq_len);
    if (NAME_IS(name, FERRY_WIRE_F_SRC_TS_MS))
        return read_int(ps, &ps->ev->ts_ms, &env->ts_ok);
    return ferry_json_skip_value(&ps->s, 2);
}

static int
tx_member(parse_t *ps, envelope_t *env, ferry_json_tok_t name)
{
    if (NAME_IS(name, FERRY_WIRE_F_TXN_ID))
        return read_str(ps, &env->txid, &env->txid_len);
    if (NAME_IS(name, FERRY_WIRE_F_TXN_TOTAL_ORDER))
        return read_int(ps, &env->total_order, &env->order_ok);
    return ferry_json_skip_value(&ps->s, 2);
}

static int
top_member(parse_t *ps, envelope_t *env, ferry_json_tok_t name)
{
    sink_event_t *ev = ps->ev;

    if (NAME_IS(name, FERRY_WIRE_F_AFTER))
        return read_image(ps, &ev->after, false);
    if (NAME_IS(name, FERRY_WIRE_F_BEFORE))
        return read_image(ps, &ev->before, false);
    if (NAME_IS(name, FERRY_WIRE_F_ABSENT))
        return read_image(ps, &ev->absent, true);
    if (NAME_IS(name, FERRY_WIRE_F_OP))
        return read_str(ps, &env->op, &env->op_len);
    if (NAME_IS(name, FERRY_WIRE_F_SOURCE)) {
        ferry_json_skip_ws(&ps->s);
        if (ps->s.p >= ps->s.end || *ps->s.p != '{')
            return ferry_json_skip_value(&ps->s, 1);
        env->has_source = true;
        return read_object(ps, env, source_member);
    }
    if (NAME_IS(name, FERRY_WIRE_F_TRANSACTION)) {
        ferry_json_skip_ws(&ps->s);
        if (ps->s.p >= ps->s.end || *ps->s.p != '{')
            return ferry_json_skip_value(&ps->s, 1);
        env->has_tx = true;
        return read_object(ps, env, tx_member);
    }
    return ferry_json_skip_value(&ps->s, 1);
}

static void
fix_image(sink_event_t *ev, sink_image_t *img)
{
    if (img->present && ev->fields != NULL)
        img->f = ev->fields + (uintptr_t)img->f;
    else
        img->f = NULL; /* absent, or an object without members */
}

/* Checks the envelope's fields, as the shapes of docs/format.md. */
static int
check_envelope(sink_event_t *ev, const envelope_t *env)
{
    uint64_t xid, commit;

    if (env->op == NULL || env->op_len != 1 || !ferry_wire_op_known(env->op[0]))
        return malformed(ev, "\"" FERRY_WIRE_F_OP "\" is missing or unknown",
                         NULL);
    ev->op = env->op[0];
    if (!env->has_source)
        return malformed(
            ev, "\"" FERRY_WIRE_F_SOURCE "\" is missing or not an object",
            NULL);
    if (env->seq == NULL ||
        !ferry_wire_seq_decode(env->seq, env->seq_len, &ev->pair.commit,
                               &ev->pair.change))
        return malformed(ev,
                         "\"" FERRY_WIRE_F_SOURCE "." FERRY_WIRE_F_SRC_SEQUENCE
                         "\" is not [commit, lsn]",
                         NULL);
    if (ev->schema == NULL || ev->table == NULL)
        return malformed(ev,
                         "\"" FERRY_WIRE_F_SOURCE "." FERRY_WIRE_F_SRC_SCHEMA
                         "\" or \"" FERRY_WIRE_F_SOURCE
                         "." FERRY_WIRE_F_SRC_TABLE "\" is missing",
                         NULL);
    if ((ev->op == FERRY_WIRE_OP_CREATE || ev->op == FERRY_WIRE_OP_UPDATE ||
         ev->op == FERRY_WIRE_OP_READ) &&
        !ev->after.present)
        return malformed(
            ev, "an insert or update without \"" FERRY_WIRE_F_AFTER "\"", NULL);
    if (ev->op == FERRY_WIRE_OP_DELETE && !ev->before.present)
        return malformed(ev, "a delete without \"" FERRY_WIRE_F_BEFORE "\"",
                         NULL);
    if (env->has_tx) {
        ev->txid = env->txid;
        ev->total_order = env->order_ok ? (long)env->total_order : 0;
        if (ev->txid == NULL || ev->total_order <= 0)
            return malformed(ev,
                             "\"" FERRY_WIRE_F_TRANSACTION
                             "\" lacks " FERRY_WIRE_F_TXN_ID
                             " or " FERRY_WIRE_F_TXN_TOTAL_ORDER,
                             NULL);
        /* The transaction buffer keys on the id and its commit LSN. */
        if (!ferry_wire_txid_decode(ev->txid, env->txid_len, &xid, &commit))
            return malformed(ev,
                             "\"" FERRY_WIRE_F_TRANSACTION
                             "." FERRY_WIRE_F_TXN_ID "\" is not \"xid:lsn\"",
                             NULL);
    }
    return 0;
}

/* Reads the message key (klen bytes at ev->raw_key): a JSON object; null
 * or text that is not JSON give a key without columns; other JSON is
 * malformed. */
static int
read_key(parse_t *ps, size_t klen)
{
    ferry_err_t kerr;
    char *mark = ps->out;
    size_t nfields = ps->n;
    ferry_json_tok_t tok;
    ferry_json_kind_t kind = FERRY_JSON_NULL;
    int rc;

    kerr.status = 0;
    kerr.msg[0] = '\0';
    if (!ferry_json_utf8_valid(ps->ev->raw_key, klen))
        return 0;
    ps->s = ferry_json_scan(ps->ev->raw_key, klen, "message key", &kerr);
    ferry_json_skip_ws(&ps->s);
    if (ps->s.p < ps->s.end && *ps->s.p == '{')
        rc = read_image(ps, &ps->ev->key, false);
    else
        rc = ferry_json_value(&ps->s, 0, &tok, &kind);
    ferry_json_skip_ws(&ps->s);
    if (rc == 0 && ps->s.p != ps->s.end)
        rc = FERRY_EDATA;
    if (rc == FERRY_ENOMEM)
        return rc;
    if (rc != 0) {
        memset(&ps->ev->key, 0, sizeof(ps->ev->key));
        ps->out = mark;
        ps->n = nfields;
        ps->bad = NULL;
        return 0;
    }
    if (!ps->ev->key.present && kind != FERRY_JSON_NULL)
        return malformed(ps->ev, "message key is not a JSON object", NULL);
    return 0;
}

/* A new event with the value and key copied into its block (room for
 * their unescaped text after them), or NULL. */
static sink_event_t *
event_new(const void *key, size_t klen, const void *val, size_t vlen,
          sink_pos_t pos, char **text, char **text_end)
{
    sink_event_t *ev = calloc(1, sizeof(*ev));
    size_t kl = key != NULL ? klen : 0, vl = val != NULL ? vlen : 0;
    size_t size = 2 * (vl + kl) + 16;
    char *block = ev != NULL ? malloc(size) : NULL;

    if (block == NULL) {
        free(ev);
        return NULL;
    }
    ev->pos = pos;
    ev->raw = block;
    memcpy(ev->raw, vl > 0 ? val : "", vl);
    ev->raw[vl] = '\0';
    if (key != NULL) {
        ev->raw_key = block + vl + 1;
        memcpy(ev->raw_key, key, kl);
        ev->raw_key[kl] = '\0';
    }
    *text = block + vl + 1 + (key != NULL ? kl + 1 : 0);
    *text_end = block + size;
    return ev;
}

int
sink_event_malformed(const void *key, size_t klen, const void *val, size_t vlen,
                     sink_pos_t pos, const char *reason, sink_event_t **out)
{
    char *text, *text_end;
    sink_event_t *ev = event_new(key, klen, val, vlen, pos, &text, &text_end);

    *out = NULL;
    if (ev == NULL)
        return FERRY_ENOMEM;
    if (malformed(ev, reason, NULL) == FERRY_ENOMEM) {
        sink_event_free(ev);
        return FERRY_ENOMEM;
    }
    *out = ev;
    return 0;
}

int
sink_event_parse(const void *key, size_t klen, const void *val, size_t vlen,
                 sink_pos_t pos, sink_event_t **out)
{
    ferry_err_t err;
    envelope_t env;
    parse_t ps;
    sink_event_t *ev;
    size_t kl = key != NULL ? klen : 0, vl = val != NULL ? vlen : 0;
    int rc = 0;

    memset(&ps, 0, sizeof(ps));
    /* One block: the value's text, the key's, then room for every name
     * and value unescaped (never more than the texts themselves). */
    *out = ev = ps.ev = event_new(key, kl, val, vl, pos, &ps.out, &ps.out_end);
    if (ev == NULL)
        return FERRY_ENOMEM;
    err.status = 0;
    err.msg[0] = '\0';
    memset(&env, 0, sizeof(env));
    if (key != NULL && (rc = read_key(&ps, kl)) != 0)
        goto done;
    ps.s = ferry_json_scan(ev->raw, vl, "message value", &err);
    if (!ferry_json_utf8_valid(ev->raw, vl)) {
        rc = malformed(ev, "message value is not JSON", "invalid UTF-8");
        goto done;
    }
    ferry_json_skip_ws(&ps.s);
    if (ps.s.p >= ps.s.end || *ps.s.p != '{') {
        rc = malformed(ev, "message value is not JSON", "expected an object");
        goto done;
    }
    rc = read_object(&ps, &env, top_member);
    if (rc == 0) {
        ferry_json_skip_ws(&ps.s);
        if (ps.s.p != ps.s.end)
            rc = ferry_json_fail(&ps.s, "unexpected data after the value");
    }
    if (rc != 0) {
        rc = read_failed(&ps, rc, "message value is not JSON", &err);
        goto done;
    }
    rc = check_envelope(ev, &env);
done:
    fix_image(ev, &ev->key);
    fix_image(ev, &ev->before);
    fix_image(ev, &ev->after);
    fix_image(ev, &ev->absent);
    return rc;
}

void
sink_event_free(sink_event_t *ev)
{
    if (ev == NULL)
        return;
    free(ev->raw);
    free(ev->fields);
    free(ev->reason);
    free(ev);
}

const sink_field_t *
sink_image_get(const sink_image_t *img, const char *name, size_t hint)
{
    size_t n = strlen(name), i;

    if (hint < img->n && img->f[hint].name_len == n &&
        memcmp(img->f[hint].name, name, n) == 0)
        return &img->f[hint];
    for (i = 0; i < img->n; i++)
        if (img->f[i].name_len == n && memcmp(img->f[i].name, name, n) == 0)
            return &img->f[i];
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
