-- The legacy clinic database: schema and deterministic data at a scale.
-- deploy/examples/clinic/generate.sql
--
-- Run with psql on an empty database (generate.sh does it):
--
--     psql -v scale=0.01 [-v part=schema|data] -f generate.sql "dbname=legacy"
--
-- Scale 1 gives the volumes the seeds report for production, about 1.6M rows
-- in all; the default scale 0.01 gives about 16k.  Every value comes from an
-- md5 of (table, field, id), so the same scale gives the same rows on every
-- machine and PostgreSQL version, whatever order the rows are written in.
--
-- The quirks of the real database are here on purpose (docs/clinic.md):
--   * integer keys with gaps: a few cases, orders and comments were deleted
--     long ago; the columns that point at them have no foreign key in the
--     legacy schema, so their children are still there (orphans);
--   * dispatch_notification.template_context is text holding JSON, some of
--     it invalid; item_type_id says whether item_id is an order (1) or a case
--     (2); a few rows have a type no one remembers (3);
--   * dispatch_patient.insurance_info and medical_history are being retired;
--   * a jaw is upper or lower only through dispatch_instruction.upper_jaw_id
--     and lower_jaw_id;
--   * e-mail addresses with stray blanks and capitals, one-letter status
--     codes, numeric order statuses, currencies in lower case.
-- Big tables are written in chunks of 50000 rows, one transaction each.

\set ON_ERROR_STOP on
\if :{?scale}
\else
\set scale 0.01
\endif
\if :{?part}
\else
\set part all
\endif
SELECT :'part' IN ('all', 'schema') AS do_schema,
       :'part' IN ('all', 'data') AS do_data \gset
SET client_min_messages = warning;
SELECT set_config('ferry.scale', :'scale', false) \g /dev/null

-- A number in [0, 1) from (tag, id): stable everywhere.
CREATE FUNCTION pg_temp.rnd(tag text, id bigint) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
  SELECT ('x' || substr(md5(tag || ':' || id), 1, 8))::bit(32)::bigint
         / 4294967296.0
$$;

-- An integer in [1, n] from (tag, id).
CREATE FUNCTION pg_temp.pick(tag text, id bigint, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT 1 + floor(pg_temp.rnd(tag, id) * greatest(n, 1))::bigint
$$;

-- The row count of a table at the current scale: base rows at scale 1.
CREATE FUNCTION pg_temp.cnt(base bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT greatest(2, round(base * current_setting('ferry.scale')::float8))::bigint
$$;

-- True for the ids of table tag that were deleted long ago (rate in [0, 1)).
-- Only even ids go, so id - 1 always exists: rows with a real foreign key
-- take that one instead.
CREATE FUNCTION pg_temp.gone(tag text, id bigint, rate float8) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
  SELECT id % 2 = 0 AND pg_temp.rnd(tag || '/gone', id) < rate
$$;

-- An element of arr picked by (tag, id).
CREATE FUNCTION pg_temp.one(tag text, id bigint, arr text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT arr[pg_temp.pick(tag, id, cardinality(arr))]
$$;

-- A timestamp between 2015 and 2024.
CREATE FUNCTION pg_temp.ts(tag text, id bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE AS $$
  SELECT timestamp '2015-01-01' + pg_temp.rnd(tag, id) * interval '3400 days'
$$;

-- An id of table tag in [1, n] that still exists (for real foreign keys).
CREATE FUNCTION pg_temp.live(tag text, salt text, id bigint, n bigint,
                             rate float8) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN pg_temp.gone(tag, p, rate) THEN p - 1 ELSE p END
    FROM (SELECT pg_temp.pick(salt, id, n) AS p) x
$$;

\if :do_schema
CREATE TABLE dispatch_office (
    id integer PRIMARY KEY,
    name text NOT NULL,
    city text,
    country text,
    phone text,
    status char(1) NOT NULL,
    created_at timestamp NOT NULL
);

CREATE TABLE auth_user (
    id integer PRIMARY KEY,
    username text NOT NULL,
    email text,
    first_name text,
    last_name text,
    is_active boolean NOT NULL,
    date_joined timestamptz NOT NULL
);

CREATE TABLE dispatch_doctor (
    id integer PRIMARY KEY,
    user_id integer REFERENCES auth_user (id),
    office_id integer NOT NULL REFERENCES dispatch_office (id),
    license_no text,
    specialty text,
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_patient (
    id integer PRIMARY KEY,
    doctor_id integer REFERENCES dispatch_doctor (id),
    first_name text NOT NULL,
    last_name text NOT NULL,
    birth_date date,
    email text,
    insurance_info text,          -- being retired: not mapped
    medical_history text,         -- being retired: not mapped
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_jaw (
    id integer PRIMARY KEY,
    product text NOT NULL,
    tooth_count smallint,
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_instruction (
    id integer PRIMARY KEY,
    patient_id integer NOT NULL REFERENCES dispatch_patient (id),
    office_id integer REFERENCES dispatch_office (id),
    doctor_id integer REFERENCES dispatch_doctor (id),
    upper_jaw_id integer REFERENCES dispatch_jaw (id),
    lower_jaw_id integer REFERENCES dispatch_jaw (id),
    status smallint NOT NULL,     -- 1 draft .. 5 delivered
    price numeric(10, 2),
    notes text,
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_instance (
    id integer PRIMARY KEY,
    instruction_id integer REFERENCES dispatch_instruction (id),
    patient_id integer REFERENCES dispatch_patient (id),
    doctor_id integer REFERENCES dispatch_doctor (id),
    status text NOT NULL,
    created_at timestamp NOT NULL
);

-- instance_id and parent_comment_id have no foreign key: orphans live here.
CREATE TABLE dispatch_comment (
    id integer PRIMARY KEY,
    instance_id integer NOT NULL,
    author_id integer REFERENCES auth_user (id),
    parent_comment_id integer,
    body text NOT NULL,
    created_at timestamp NOT NULL
);

-- instruction_id has no foreign key: orphans live here.
CREATE TABLE dispatch_record (
    id integer PRIMARY KEY,
    instruction_id integer NOT NULL,
    author_id integer REFERENCES auth_user (id),
    body text,
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_file (
    id integer PRIMARY KEY,
    instruction_id integer REFERENCES dispatch_instruction (id),
    path text NOT NULL,
    size_bytes bigint,
    mime text,
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_treatment_plan (
    id integer PRIMARY KEY,
    instance_id integer REFERENCES dispatch_instance (id),
    patient_id integer REFERENCES dispatch_patient (id),
    plan text,
    steps integer,
    approved boolean,
    created_at timestamp NOT NULL
);

CREATE TABLE dispatch_payment (
    id integer PRIMARY KEY,
    instruction_id integer REFERENCES dispatch_instruction (id),
    amount numeric(12, 2) NOT NULL,
    currency char(3) NOT NULL,
    method text,
    paid_at timestamptz
);

-- instance_id has no foreign key: orphans live here.
CREATE TABLE dispatch_state (
    id integer PRIMARY KEY,
    instance_id integer NOT NULL,
    state text NOT NULL,
    changed_at timestamp NOT NULL
);

-- item_id points at an order (item_type_id 1) or a case (2): no foreign key.
CREATE TABLE dispatch_notification (
    id integer PRIMARY KEY,
    recipient_id integer REFERENCES auth_user (id),
    item_type_id smallint,
    item_id integer,
    template_context text,
    is_read boolean NOT NULL,
    created_at timestamp NOT NULL
);

\endif

\if :do_data
-- Row counts at this scale, in the seeds' proportions (scale 1: ~1.6M).
CREATE TEMP TABLE gen_counts AS
SELECT * FROM (VALUES
    ('dispatch_office', pg_temp.cnt(523)),
    ('auth_user', pg_temp.cnt(9751)),
    ('dispatch_doctor', pg_temp.cnt(1200)),
    ('dispatch_patient', pg_temp.cnt(7800)),
    ('dispatch_jaw', pg_temp.cnt(39000)),
    ('dispatch_instruction', pg_temp.cnt(23000)),
    ('dispatch_instance', pg_temp.cnt(7800)),
    ('dispatch_comment', pg_temp.cnt(40000)),
    ('dispatch_record', pg_temp.cnt(60000)),
    ('dispatch_file', pg_temp.cnt(294000)),
    ('dispatch_treatment_plan', pg_temp.cnt(67000)),
    ('dispatch_payment', pg_temp.cnt(16000)),
    ('dispatch_state', pg_temp.cnt(60000)),
    ('dispatch_notification', pg_temp.cnt(975000))) v(tab, n);

CREATE FUNCTION pg_temp.n(tab text) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT n FROM gen_counts WHERE gen_counts.tab = $1 $$;

-- Rate of ids deleted long ago, per table whose children keep pointing there.
-- gone() takes even ids only, so the real rates are half: instruction 1.5%,
-- instance 3%, comment 1%.

CREATE FUNCTION pg_temp.gen_dispatch_office(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_office
SELECT g,
       pg_temp.one('office.name', g, '{Smile,Bright,Align,Dental Care,Ortho Studio,Family Dentistry}')
           || ' ' || pg_temp.one('office.city', g, '{Amsterdam,Utrecht,Rotterdam,Leiden,Delft,Haarlem}') || ' ' || g,
       CASE WHEN pg_temp.rnd('office.citynull', g) < 0.05 THEN ''
            ELSE '  ' || pg_temp.one('office.city', g, '{Amsterdam,Utrecht,Rotterdam,Leiden,Delft,Haarlem}') || ' ' END,
       CASE WHEN pg_temp.rnd('office.country', g) < 0.3 THEN NULL ELSE 'NL' END,
       '+31 20 ' || lpad((pg_temp.pick('office.phone', g, 9999999))::text, 7, '0'),
       pg_temp.one('office.status', g, '{A,A,A,A,A,A,I,X}'),
       pg_temp.ts('office.created', g)
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_auth_user(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO auth_user
SELECT g, 'user' || g,
       CASE WHEN pg_temp.rnd('user.emailnull', g) < 0.03 THEN NULL
            WHEN pg_temp.rnd('user.emailmess', g) < 0.2
            THEN ' ' || upper(pg_temp.one('user.first', g, '{anna,ben,carla,daan,eva,finn,greta,hugo}'))
                 || '.' || g || '@Example.COM '
            ELSE pg_temp.one('user.first', g, '{anna,ben,carla,daan,eva,finn,greta,hugo}')
                 || '.' || g || '@example.com' END,
       initcap(pg_temp.one('user.first', g, '{anna,ben,carla,daan,eva,finn,greta,hugo}')),
       pg_temp.one('user.last', g, '{de Vries,Jansen,Bakker,Visser,Smit,Meijer,Mulder,Bos}'),
       pg_temp.rnd('user.active', g) < 0.9,
       pg_temp.ts('user.joined', g)::timestamptz
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_dispatch_doctor(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_doctor
SELECT g, pg_temp.pick('doctor.user', g, pg_temp.n('auth_user')),
       pg_temp.pick('doctor.office', g, pg_temp.n('dispatch_office')),
       'BIG-' || lpad(g::text, 8, '0'),
       pg_temp.one('doctor.spec', g, '{orthodontics,general,implantology,pediatric}'),
       pg_temp.ts('doctor.created', g)
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_dispatch_patient(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_patient
SELECT g, CASE WHEN pg_temp.rnd('patient.nodoc', g) < 0.02 THEN NULL
               ELSE pg_temp.pick('patient.doctor', g, pg_temp.n('dispatch_doctor')) END,
       initcap(pg_temp.one('patient.first', g, '{lotte,sem,julia,noah,emma,liam,tess,luuk,saar,milan}')),
       pg_temp.one('patient.last', g, '{de Jong,van Dijk,Peters,Hendriks,Dekker,Brouwer,de Wit}'),
       date '1950-01-01' + pg_temp.pick('patient.birth', g, 25000)::int,
       CASE WHEN pg_temp.rnd('patient.email', g) < 0.3 THEN NULL
            ELSE 'patient' || g || '@mail.example' END,
       'policy ' || pg_temp.pick('patient.ins', g, 99999999),
       CASE WHEN pg_temp.rnd('patient.hist', g) < 0.5 THEN NULL
            ELSE pg_temp.one('patient.hist', g, '{allergy: penicillin,none,braces 2009,bruxism}') END,
       pg_temp.ts('patient.created', g)
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_dispatch_jaw(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_jaw
SELECT g, pg_temp.one('jaw.product', g, '{aligner,retainer,bracket set,night guard}'),
       CASE WHEN pg_temp.rnd('jaw.teethnull', g) < 0.1 THEN NULL
            ELSE 10 + pg_temp.pick('jaw.teeth', g, 6) END,
       pg_temp.ts('jaw.created', g)
  FROM generate_series(lo, hi) g
$$;

-- Order i owns jaws 2i-1 (upper) and 2i (lower) when they exist; about one
-- slot in ten stays empty.
CREATE FUNCTION pg_temp.gen_dispatch_instruction(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_instruction
SELECT g, pg_temp.pick('instr.patient', g, pg_temp.n('dispatch_patient')),
       CASE WHEN pg_temp.rnd('instr.nooffice', g) < 0.05 THEN NULL
            ELSE pg_temp.pick('instr.office', g, pg_temp.n('dispatch_office')) END,
       pg_temp.pick('instr.doctor', g, pg_temp.n('dispatch_doctor')),
       CASE WHEN 2 * g - 1 <= pg_temp.n('dispatch_jaw')
             AND pg_temp.rnd('instr.upper', g) < 0.9 THEN 2 * g - 1 END,
       CASE WHEN 2 * g <= pg_temp.n('dispatch_jaw')
             AND pg_temp.rnd('instr.lower', g) < 0.9 THEN 2 * g END,
       pg_temp.pick('instr.status', g, 5),
       round((100 + pg_temp.rnd('instr.price', g) * 4900)::numeric, 2),
       CASE WHEN pg_temp.rnd('instr.notes', g) < 0.6 THEN NULL
            ELSE 'please check ' || pg_temp.one('instr.notes', g, '{bite,midline,crowding,spacing}') END,
       pg_temp.ts('instr.created', g)
  FROM generate_series(lo, hi) g
 WHERE NOT pg_temp.gone('instruction', g, 0.03)
$$;

CREATE FUNCTION pg_temp.gen_dispatch_instance(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_instance
SELECT g, o.id, o.patient_id, o.doctor_id,
       pg_temp.one('case.status', g, '{open,in_treatment,in_treatment,finished,cancelled}'),
       o.created_at + interval '1 day'
  FROM generate_series(lo, hi) g
  JOIN dispatch_instruction o
    ON o.id = pg_temp.live('instruction', 'case.order', g,
                           pg_temp.n('dispatch_instruction'), 0.03)
 WHERE NOT pg_temp.gone('instance', g, 0.06)
$$;

-- Replies point at the comment just before them; some of those are gone.
-- No reply answers a comment that is itself parked (its case is gone, or it
-- replies to a comment that is gone), and replies are never answered, so
-- orphans stay one level deep (docs/clinic.md, "Known limits").
CREATE FUNCTION pg_temp.gen_dispatch_comment(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_comment
SELECT g, pg_temp.pick('comment.case', g, pg_temp.n('dispatch_instance')),
       pg_temp.pick('comment.author', g, pg_temp.n('auth_user')),
       CASE WHEN g > 1 AND pg_temp.rnd('comment.reply', g) < 0.25
             AND pg_temp.rnd('comment.reply', g - 1) >= 0.25
             AND NOT pg_temp.gone('instance',
                     pg_temp.pick('comment.case', g - 1,
                                  pg_temp.n('dispatch_instance')), 0.06)
            THEN g - 1 END,
       pg_temp.one('comment.body', g, '{Looks good.,Please re-scan the upper jaw.,Approved.,Patient asks for a call.,See attached photo.}'),
       pg_temp.ts('comment.created', g)
  FROM generate_series(lo, hi) g
 WHERE NOT pg_temp.gone('comment', g, 0.02)
$$;

CREATE FUNCTION pg_temp.gen_dispatch_record(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_record
SELECT g, pg_temp.pick('record.order', g, pg_temp.n('dispatch_instruction')),
       pg_temp.pick('record.author', g, pg_temp.n('auth_user')),
       CASE WHEN pg_temp.rnd('record.bodynull', g) < 0.02 THEN NULL
            ELSE pg_temp.one('record.body', g, ARRAY['Order received.', 'Shipping tomorrow.', 'Question about the "midline".', E'Scan is blurry;\nplease resend.']) END,
       pg_temp.ts('record.created', g)
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_dispatch_file(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_file
SELECT g, pg_temp.live('instruction', 'file.order', g,
                       pg_temp.n('dispatch_instruction'), 0.03),
       '/media/orders/' || (g / 1000) || '/' || g || '.' || pg_temp.one('file.ext', g, '{stl,jpg,pdf,png}'),
       pg_temp.pick('file.size', g, 50000000),
       CASE WHEN pg_temp.rnd('file.mimenull', g) < 0.1 THEN NULL
            ELSE pg_temp.one('file.mime', g, '{model/stl,image/jpeg,application/pdf,image/png}') END,
       pg_temp.ts('file.created', g)
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_dispatch_treatment_plan(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_treatment_plan
SELECT g, c.id, c.patient_id,
       'plan v' || pg_temp.pick('plan.version', g, 4) || ': ' || pg_temp.one('plan.text', g, '{14 aligners,22 aligners,retainer only,refinement}'),
       pg_temp.pick('plan.steps', g, 40),
       CASE WHEN pg_temp.rnd('plan.appr', g) < 0.1 THEN NULL
            ELSE pg_temp.rnd('plan.approved', g) < 0.7 END,
       c.created_at + interval '3 days'
  FROM generate_series(lo, hi) g
  JOIN dispatch_instance c
    ON c.id = pg_temp.live('instance', 'plan.case', g,
                           pg_temp.n('dispatch_instance'), 0.06)
$$;

CREATE FUNCTION pg_temp.gen_dispatch_payment(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_payment
SELECT g, pg_temp.live('instruction', 'payment.order', g,
                       pg_temp.n('dispatch_instruction'), 0.03),
       round((50 + pg_temp.rnd('payment.amount', g) * 2000)::numeric, 2),
       pg_temp.one('payment.cur', g, '{eur,eur,EUR,usd}'),
       CASE WHEN pg_temp.rnd('payment.methodnull', g) < 0.2 THEN NULL
            ELSE pg_temp.one('payment.method', g, '{card,ideal,invoice,cash}') END,
       pg_temp.ts('payment.paid', g)::timestamptz
  FROM generate_series(lo, hi) g
$$;

CREATE FUNCTION pg_temp.gen_dispatch_state(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_state
SELECT g, pg_temp.pick('state.case', g, pg_temp.n('dispatch_instance')),
       pg_temp.one('state.state', g, '{created,scanned,planned,approved,produced,shipped}'),
       pg_temp.ts('state.changed', g)
  FROM generate_series(lo, hi) g
$$;

-- template_context: JSON text; ~3% is not JSON (Python reprs, truncated
-- text, empty strings), ~2% is NULL.
CREATE FUNCTION pg_temp.gen_dispatch_notification(lo bigint, hi bigint) RETURNS void
LANGUAGE sql AS $$
INSERT INTO dispatch_notification
SELECT g, pg_temp.pick('notif.user', g, pg_temp.n('auth_user')), t.type,
       CASE t.type WHEN 1 THEN pg_temp.pick('notif.order', g, pg_temp.n('dispatch_instruction'))
                   WHEN 2 THEN pg_temp.pick('notif.case', g, pg_temp.n('dispatch_instance'))
                   ELSE pg_temp.pick('notif.other', g, 1000) END,
       CASE WHEN r < 0.02 THEN NULL
            WHEN r < 0.03 THEN '{''event'': ''' || ev || ''', ''id'': ' || g || '}'
            WHEN r < 0.04 THEN '{"event": "' || ev || '", "id": ' || g
            WHEN r < 0.05 THEN ''
            ELSE '{"event": "' || ev || '", "id": ' || g || ', "lang": "nl",  "vars": {"b": 2, "a": [1, 2.50]}}' END,
       pg_temp.rnd('notif.read', g) < 0.7,
       pg_temp.ts('notif.created', g)
  FROM generate_series(lo, hi) g,
       LATERAL (SELECT CASE WHEN pg_temp.rnd('notif.type', g) < 0.6 THEN 1
                            WHEN pg_temp.rnd('notif.type', g) < 0.995 THEN 2
                            ELSE 3 END AS type,
                       pg_temp.rnd('notif.ctx', g) AS r,
                       pg_temp.one('notif.event', g, '{status_changed,comment_added,file_uploaded,payment_received}') AS ev) t
$$;

-- Parents first; one transaction per chunk of 50000 ids.
DO $$
DECLARE
    tabs text[] := ARRAY['dispatch_office', 'auth_user', 'dispatch_doctor',
        'dispatch_patient', 'dispatch_jaw', 'dispatch_instruction',
        'dispatch_instance', 'dispatch_comment', 'dispatch_record',
        'dispatch_file', 'dispatch_treatment_plan', 'dispatch_payment',
        'dispatch_state', 'dispatch_notification'];
    t text;
    n bigint;
    lo bigint;
BEGIN
    FOREACH t IN ARRAY tabs LOOP
        n := pg_temp.n(t);
        lo := 1;
        WHILE lo <= n LOOP
            EXECUTE format('SELECT pg_temp.%I($1, $2)', 'gen_' || t)
              USING lo, least(lo + 49999, n);
            COMMIT;
            lo := lo + 50000;
        END LOOP;
    END LOOP;
END
$$;

ANALYZE;
\pset tuples_only on
SELECT 'generated ' || sum(n_live_tup) || ' rows at scale ' ||
       current_setting('ferry.scale')
  FROM pg_stat_user_tables WHERE relname LIKE 'dispatch\_%' OR relname = 'auth_user';
\endif
