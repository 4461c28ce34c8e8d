# The mapping's value rules give the same answer in C (what ferry-sink
# writes) and in SQL (what ferry-map validate expects): one set of tricky
# inputs, loaded into a source table, goes through map_rules_value() and
# map_rules_legacy_key() (tools/map_rules_eval c) and through the SQL that
# map_rules_value_sql(), map_rules_rejected_sql() and
# map_rules_legacy_key_sql() build for validate (tools/map_rules_eval sql,
# run by psql): NULL, empty strings, every white space trim strips and some
# it does not, non-ASCII letters for lower/upper, quotes, commas,
# backslashes, tabs and newlines, every transform alone and in combination
# with values maps and defaults, JSON valid and invalid (huge numbers,
# escapes, nesting at and past the depth limit) with on_invalid null and
# error, and legacy keys of one to three columns.  Any line that differs
# fails the test.
# tests/integration/test_map_rules_agree.sh
fresh_dbs map_rules_agree
dir=$FERRY_TEST_TMP

# The inputs, as COPY text with a header (psql loads the same bytes the C
# side reads).
python3 - "$dir" <<'PY'
import sys

out = sys.argv[1]


def field(v):
    if v is None:
        return "\\N"
    for a, b in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"),
                 ("\v", "\\v"), ("\f", "\\f")):
        v = v.replace(a, b)
    return v


def write(name, header, rows):
    with open(f"{out}/{name}.copy", "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for i, row in enumerate(rows, 1):
            f.write("\t".join([str(i)] + [field(x) for x in row]) + "\n")


def deep(n, inner=""):
    return "[" * n + inner + "]" * n


text = [
    None, "", " ", "  hello  ", " \t\n\v\f\rhello\r\f\v\n\t ",
    "\v", "\t\t", "\r\n", "a\u00a0", "\u00a0a\u00a0", "\u2003em\u3000",
    "\ufeffbom", "x\u200b",
    "ÉCOLE Ärger straße ÿ Œuvre", "İstanbul ıi Iı", "ǅemal ǆ", "ΣΑΣ σας",
    "Здравствуй МИР", "日本語テキスト", "emoji 😀 ÀÉ",
    "O'Brien", "it''s", '"double" quotes', "a,b", "c\\d", "\\,", ",\\",
    "a\\,b\\\\", "tab\there", "line1\nline2", "cr\rlf", "a\x7fb",
    "A", "X", "a", "x", " A ", "B", "é", "É", "$5", "null",
]
json = [
    '{"a": 1}', '[1, -2.5e+3, "x\\u0041", {}, []]', "1e400", "-1E-400",
    "123456789012345678901234567890123456789.123e-99999", "-0", "0", "01",
    "-01", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity",
    '{"a" 1}', "[1,]", '{"a":1,}', '{"a":1,"a":2}', "[]", "{}",
    '"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"', '"\\uD83D\\uDE00"',
    '"\\u00G1"', '"\\U0041"', '"\\x"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"',
    ' {"a":1} ', "\t[1]\n", "\r\n1\r\n", "\v{}", "\f1", "1\v",
    '{"a":"tab\there"}', '{"a":"nl\nhere"}', '"\x7f"', '"é 日本"', "é",
    "true", "false", "null", "truex", "nul", "[1true]", "1 2", '"a"b',
    "\ufeff{}", '{"a":[1,{"b":null}]}', '[[[]]]', "[[]", "]",
    deep(1), deep(1023), deep(1024), deep(1025), deep(5000), deep(20000),
    "[" + ",".join(["{}"] * 1100) + "]",
    deep(1023, '["\\\\", "\\"]]]", "[[[[{{{{"]'),
    deep(1024, '["\\\\", "\\"]]]", "[[[[{{{{"]'),
    '["' + "[" * 2000 + '"]', '{"k":"' + "{" * 1500 + '\\""}',
    deep(1021, '{"a":{"b":[1]}}'), deep(1022, '{"a":{"b":[1]}}'),
]
write("rules_vals", ["id", "v"], [[v] for v in text + json])
write("rules_keys", ["id", "a", "b", "c"], [
    ["42", "x", "1"], ["a,b", "c\\d", "2"], ["", "", "3"],
    ["\\,", ",\\", "-4"], ["é,ü", "O'Brien", "5"], ["a\tb", "c\nd", "6"],
    [" lead", "trail ", "0"], [None, "b", "8"], ["a", None, "9"],
    ["a", "b", None], ["\\\\", ",,", "11"], ["日本", "\u00a0", "12"],
    ["null", "NULL", "13"], ["\\N", "'", "14"],
])
PY

src_psql <<'SQL'
CREATE TABLE rules_vals (id int PRIMARY KEY, v text);
CREATE TABLE rules_keys (id int PRIMARY KEY, a text, b text, c int);
SQL
src_psql -c "\\copy rules_vals FROM '$dir/rules_vals.copy' WITH (FORMAT text, HEADER match)"
src_psql -c "\\copy rules_keys FROM '$dir/rules_keys.copy' WITH (FORMAT text, HEADER match)"

cat >"$dir/ferry.yaml" <<YAML
source: { dsn: "$SRC_DSN" }
kafka: { brokers: "localhost:9092", topic_prefix: legacy }
target:
  dsn: "$TGT_DSN"
  uuid_namespace: 3f1c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f
entities:
  vals:
    source: rules_vals
    target: rules_vals
    key: [id]
    columns:
      plain: v
      t_trim: { from: v, transform: trim }
      t_lower: { from: v, transform: lower }
      t_upper: { from: v, transform: upper }
      t_nullif: { from: v, transform: nullif_empty }
      trim_nullif: { from: v, transform: [trim, nullif_empty] }
      nullif_trim: { from: v, transform: [nullif_empty, trim] }
      all4: { from: v, transform: [upper, trim, lower, nullif_empty] }
      upper_lower: { from: v, transform: [upper, lower] }
      vmap:
        from: v
        values:
          A: active
          a: lower a
          "": empty
          " ": one space
          X: ~
          "O'Brien": "it's"
          "a,b": 'c\\d'
          'c\\d': "a,b"
          "tab\\there": "tab"
          é: É
          "\$\$5": "five \$\$"
          "null": ~
      trim_upper_vmap_default:
        from: v
        transform: [trim, upper]
        values: { A: active, X: ~, "": ~, É: "e acute" }
        default: "n/a"
      vmap_default: { from: v, values: { "": ~, " ": "" }, default: 'it''s "q", \\ back' }
      nullif_default_empty: { from: v, transform: nullif_empty, default: "" }
      const: { default: "constant, 'quoted' \\\\" }
      j_null: { from: v, json: true, on_invalid: null }
      j_error: { from: v, json: true, on_invalid: error }
      j_default_error: { from: v, json: true }
      j_trim: { from: v, transform: trim, json: true, on_invalid: error }
      j_trim_nullif_default:
        from: v
        transform: [trim, nullif_empty]
        default: "{}"
        json: true
        on_invalid: null
      j_vmap_default_bad:
        from: v
        values: { "null": ~, "[]": "not json", A: "[1]" }
        default: "also not json"
        json: true
        on_invalid: error
      j_const: { default: '{"k": [1, 2e999]}', json: true }
  keys1:
    source: rules_keys
    target: rules_keys
    key: [a]
  keys2:
    source: rules_keys
    target: rules_keys
    key: [a, b]
  keys3:
    source: rules_keys
    target: rules_keys
    key: [a, b, c]
    columns:
      b_upper: { from: b, transform: upper }
YAML

map_rules_eval c "$dir/ferry.yaml" "$dir" >"$dir/c.out"
map_rules_eval sql "$dir/ferry.yaml" >"$dir/rules.sql"
src_psql -f "$dir/rules.sql" >"$dir/sql.out"

lines=$(wc -l <"$dir/c.out")
echo "C and SQL results: $lines and $(wc -l <"$dir/sql.out") lines"
[ "$lines" -gt 2000 ] || fail "only $lines results: the inputs did not load"

if ! diff "$dir/c.out" "$dir/sql.out" >"$dir/diff"; then
  python3 - "$dir/diff" <<'PY'
import sys

for line in open(sys.argv[1], encoding="utf-8"):
    if line[:2] not in ("< ", "> "):
        continue
    side = "C  " if line[0] == "<" else "SQL"
    entity, column, row, res = line[2:].rstrip("\n").split("\t")
    if res.startswith("x"):
        res = repr(bytes.fromhex(res[1:]).decode("utf-8", "replace"))
    print(f"{side} {entity}.{column} input {row}: {res[:200]}")
PY
  fail "the C and SQL twins of the value rules disagree (lines above)"
fi

# Not vacuous: rejections, NULLs and the depth limit are among the answers.
grep -q $'^vals\tj_error\t[0-9]*\tERROR$' "$dir/c.out" || fail "no rejection"
grep -q $'^vals\tt_nullif\t[0-9]*\tNULL$' "$dir/c.out" || fail "no NULL"
grep -q $'^keys3\t(key)\t[0-9]*\tNULL$' "$dir/c.out" || fail "no NULL key"
echo "the C and SQL twins agree on every input"
