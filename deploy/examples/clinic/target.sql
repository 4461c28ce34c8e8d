-- The new clinic schema: UUID keys, legacy ids kept, foreign keys enforced.
-- deploy/examples/clinic/target.sql
--
-- ferry fills every table through ferry.yaml (next to this file); ferry's own
-- bookkeeping goes to the schema "ferry", which ferry-sink creates.  Every
-- table keeps the legacy key in a legacy_*_id column with a unique
-- constraint: that is the upsert target and what `ferry-map validate` joins
-- on.  The legacy columns being retired (dispatch_patient.insurance_info,
-- medical_history) have no place here.  docs/clinic.md describes the model.

CREATE TABLE offices (
    id uuid PRIMARY KEY,
    legacy_office_id integer UNIQUE,
    name text NOT NULL,
    city text,
    country text NOT NULL,
    phone text,
    status text CHECK (status IN ('active', 'inactive')),
    created_at timestamp NOT NULL
);

CREATE TABLE profiles (
    id uuid PRIMARY KEY,
    legacy_user_id integer UNIQUE,
    username text NOT NULL,
    email text,
    first_name text,
    last_name text,
    is_active boolean NOT NULL,
    joined_at timestamptz NOT NULL
);

CREATE TABLE doctors (
    id uuid PRIMARY KEY,
    legacy_doctor_id integer UNIQUE,
    profile_id uuid REFERENCES profiles (id),
    office_id uuid NOT NULL REFERENCES offices (id),
    license_number text,
    specialty text,
    created_at timestamp NOT NULL
);

-- Patients are soft-deleted: a legacy delete stamps deleted_at.
CREATE TABLE patients (
    id uuid PRIMARY KEY,
    legacy_patient_id integer UNIQUE,
    doctor_id uuid REFERENCES doctors (id),
    first_name text NOT NULL,
    last_name text NOT NULL,
    birth_date date,
    email text,
    created_at timestamp NOT NULL,
    deleted_at timestamptz
);

-- jaw_type is derived: orders.upper_jaw_id / lower_jaw_id say which jaw is
-- which, and the trigger on orders below keeps it current (the legacy
-- dispatch_jaw has no such column).
CREATE TABLE jaws (
    id uuid PRIMARY KEY,
    legacy_jaw_id integer UNIQUE,
    product text NOT NULL,
    tooth_count smallint,
    jaw_type text CHECK (jaw_type IN ('upper', 'lower')),
    created_at timestamp NOT NULL
);

CREATE TABLE orders (
    id uuid PRIMARY KEY,
    legacy_order_id integer UNIQUE,
    patient_id uuid NOT NULL REFERENCES patients (id),
    office_id uuid REFERENCES offices (id),
    doctor_id uuid REFERENCES doctors (id),
    upper_jaw_id uuid REFERENCES jaws (id),
    lower_jaw_id uuid REFERENCES jaws (id),
    status text NOT NULL,
    price numeric(10, 2),
    notes text,
    created_at timestamp NOT NULL
);

CREATE FUNCTION orders_derive_jaw_type() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.upper_jaw_id IS NOT NULL THEN
        UPDATE jaws SET jaw_type = 'upper'
         WHERE id = NEW.upper_jaw_id AND jaw_type IS DISTINCT FROM 'upper';
    END IF;
    IF NEW.lower_jaw_id IS NOT NULL THEN
        UPDATE jaws SET jaw_type = 'lower'
         WHERE id = NEW.lower_jaw_id AND jaw_type IS DISTINCT FROM 'lower';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_jaw_type
    AFTER INSERT OR UPDATE OF upper_jaw_id, lower_jaw_id ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_derive_jaw_type();

CREATE TABLE cases (
    id uuid PRIMARY KEY,
    legacy_case_id integer UNIQUE,
    order_id uuid REFERENCES orders (id),
    patient_id uuid REFERENCES patients (id),
    doctor_id uuid REFERENCES doctors (id),
    status text NOT NULL,
    created_at timestamp NOT NULL
);

CREATE TABLE comments (
    id uuid PRIMARY KEY,
    legacy_comment_id integer UNIQUE,
    case_id uuid NOT NULL REFERENCES cases (id),
    author_id uuid REFERENCES profiles (id),
    parent_comment_id uuid REFERENCES comments (id),
    body text NOT NULL,
    created_at timestamp NOT NULL
);

CREATE TABLE messages (
    id uuid PRIMARY KEY,
    legacy_message_id integer UNIQUE,
    order_id uuid NOT NULL REFERENCES orders (id),
    author_id uuid REFERENCES profiles (id),
    body text,
    created_at timestamp NOT NULL
);

CREATE TABLE files (
    id uuid PRIMARY KEY,
    legacy_file_id integer UNIQUE,
    order_id uuid REFERENCES orders (id),
    path text NOT NULL,
    size_bytes bigint,
    mime_type text,
    created_at timestamp NOT NULL
);

CREATE TABLE treatment_plans (
    id uuid PRIMARY KEY,
    legacy_treatment_plan_id integer UNIQUE,
    case_id uuid REFERENCES cases (id),
    patient_id uuid REFERENCES patients (id),
    plan text,
    steps integer,
    approved boolean,
    created_at timestamp NOT NULL
);

CREATE TABLE payments (
    id uuid PRIMARY KEY,
    legacy_payment_id integer UNIQUE,
    order_id uuid REFERENCES orders (id),
    amount numeric(12, 2) NOT NULL,
    currency text NOT NULL,
    method text NOT NULL,
    paid_at timestamptz
);

CREATE TABLE case_states (
    id uuid PRIMARY KEY,
    legacy_state_id integer UNIQUE,
    case_id uuid NOT NULL REFERENCES cases (id),
    state text NOT NULL,
    changed_at timestamp NOT NULL
);

-- item_id is an order or a case (item_type says which); a column cannot
-- hold a foreign key to two tables, so the trigger below checks it.
CREATE TABLE system_messages (
    id uuid PRIMARY KEY,
    legacy_notification_id integer UNIQUE,
    recipient_id uuid REFERENCES profiles (id),
    item_type text CHECK (item_type IN ('order', 'case')),
    item_id uuid,
    context jsonb,
    is_read boolean NOT NULL,
    created_at timestamp NOT NULL
);

CREATE FUNCTION system_messages_check_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.item_id IS NULL THEN
        RETURN NEW;
    END IF;
    IF (NEW.item_type = 'order'
        AND EXISTS (SELECT 1 FROM orders WHERE id = NEW.item_id))
       OR (NEW.item_type = 'case'
        AND EXISTS (SELECT 1 FROM cases WHERE id = NEW.item_id)) THEN
        RETURN NEW;
    END IF;
    RAISE foreign_key_violation
        USING MESSAGE = format('system message item %s is not a known %s',
                               NEW.item_id, coalesce(NEW.item_type, 'item'));
END
$$;

CREATE TRIGGER system_messages_item
    BEFORE INSERT OR UPDATE OF item_type, item_id ON system_messages
    FOR EACH ROW EXECUTE FUNCTION system_messages_check_item();
