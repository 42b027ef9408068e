-- revos bootstrap: runs first inside CREATE EXTENSION revos (schema revos, not relocatable).
-- Everything here is plain SQL on purpose: the tenant functions are called once per statement
-- by every RLS policy, and the ledger is read by people with psql.

-- First: schema revos is this script's alone. A schema revos another role created before the install
-- (a database owner may), or one holding anything already, would choose what the unqualified names
-- below resolve to while this script runs as the installing superuser (the twelfth adversarial
-- review, P). Every name here is qualified.
DO $guard$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
                WHERE n.nspname OPERATOR(pg_catalog.=) 'revos'
                  AND (n.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
                                                             WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
                       OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid)
                       OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid)
                       OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) n.oid)
                       OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) n.oid)))
    THEN
        RAISE EXCEPTION 'revos: schema revos already exists, owned by another role or not empty: CREATE EXTENSION revos refuses to run in it'
            USING ERRCODE = '42501', HINT = 'Drop schema revos (or make it empty and the installing role''s), then CREATE EXTENSION revos.';
    END IF;
END
$guard$;

-- ---------------------------------------------------------------------------------------------
-- Roles (cluster-wide, kept on DROP EXTENSION). revos_admin may change schemas through revos;
-- revos_app may log events; everyone may use the tenant functions (every policy calls them).
-- ---------------------------------------------------------------------------------------------
-- Two databases may install revos at the same moment: the loser of the race to create a role
-- sees it already exists (42710) or collides on the catalog's unique index (23505); both are fine.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['revos_admin', 'revos_app'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- The scratch schema for the shadows of apply (src/apply/shadow.rs): when a caller may not create
-- temporary tables (REVOKE TEMP ON DATABASE ... FROM PUBLIC), how Postgres deparses what a payload
-- declares is read from shadow tables built here, in a subtransaction that is always rolled back.
-- Nothing is ever kept in it; nobody has it on a search_path.
CREATE SCHEMA revos_shadow;
REVOKE ALL ON SCHEMA revos_shadow FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA revos_shadow TO revos_admin;

-- ---------------------------------------------------------------------------------------------
-- The migration ledger (contract section 7).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE revos.schema_migrations (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version           text NOT NULL CHECK (version ~ '^[A-Za-z0-9._-]{1,100}$'),
    description       text NOT NULL,
    schema_hash       text NOT NULL,
    checksum          text NOT NULL,
    status            text NOT NULL CHECK (status IN ('applied', 'failed')),
    applied_at        timestamptz,
    applied_by        text NOT NULL DEFAULT current_user,
    tenant_id         text,
    idempotency_key   text,
    workflow_run_id   text,
    sql_script        text NOT NULL,
    error_message     text,
    sqlstate          text,
    execution_time_ms double precision,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- the version's normalized schema (what a later conflict is compared with) and its plan as a
    -- person reads it: in their own columns, so that metadata stays small for the readers of every
    -- call (the no-op's ledger probe, the migration's event)
    normalized_schema jsonb,
    plan_text         text
);
COMMENT ON TABLE revos.schema_migrations IS
    'One row per apply_schema/tenant_table call that ran DDL: applied or failed. Written only by revos.';

-- At most one applied row per version, unless the re-apply was forced.
CREATE UNIQUE INDEX schema_migrations_one_applied_per_version
    ON revos.schema_migrations (version)
    WHERE status = 'applied' AND NOT coalesce((metadata ->> 'force_apply')::boolean, false);
CREATE INDEX schema_migrations_version_idx ON revos.schema_migrations (version, created_at DESC);
-- Kept by pg_dump / pg_restore (extension configuration: its rows are dumped).
SELECT pg_catalog.pg_extension_config_dump('revos.schema_migrations', '');

-- What revos learnt about a payload's bytes: sha256 of the jsonb's binary form -> the version and
-- normalized schema hash the normal path computed for it (a pure function of the bytes). Lets a
-- NEW backend answer `noop` / `conflict` for a payload some backend already normalized without
-- normalizing it again (src/apply/fast.rs). Written only by revos (as the ledger's owner, under the
-- apply lock); nobody else may write it, since a forged row could turn a conflict into a noop. A
-- cache: not dumped (empty after a restore), any row may be deleted by the owner.
CREATE TABLE revos.payload_memo (
    jsonb_sha256  text PRIMARY KEY,
    version       text NOT NULL,
    schema_hash   text NOT NULL,
    payload_hash  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE revos.payload_memo IS
    'Cache: jsonb bytes hash -> version and normalized schema hash of a payload revos normalized. Written only by revos.';

-- ---------------------------------------------------------------------------------------------
-- Tenancy (contract section 6).
-- ---------------------------------------------------------------------------------------------

-- revos.current_tenant_id() is defined next to revos.jwt_claims_tenant() (src/api.rs), which it calls.

-- revos.set_tenant(text) is C (src/tenant.rs, declared in src/api.rs): it checks the tenant against
-- the tenant tables' type, warns outside a transaction block, then SET LOCAL app.current_tenant_id
-- (on Citus with citus.propagate_set_commands = 'local', so that the workers see it too).

-- For PostgREST's db-pre-request: the tenant of the JWT (request.jwt.claims tenant_id, then
-- app_metadata.tenant_id) becomes the transaction's tenant through set_tenant(), so that it also
-- reaches Citus workers (PostgREST's own set_config() calls do not). A request without a tenant
-- claim clears it.
CREATE FUNCTION revos.pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM revos.set_tenant(revos.jwt_claims_tenant(current_setting('request.jwt.claims', true)));
END
$$;
COMMENT ON FUNCTION revos.pre_request() IS
    'PostgREST db-pre-request: set_tenant() from the JWT claims (request.jwt.claims), so the tenant reaches Citus workers too.';

-- Keeps updated_at current on every tenant table revos creates (not while revos's deferred worker
-- backfills a column added online: src/deferred/backfill.rs).
CREATE FUNCTION revos.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a batch of revos's deferred backfill fills a column added online: the row's updated_at
    -- stays (revos.backfilling() reads a flag of the worker's process that no SQL can set)
    IF revos.backfilling() THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- How revos writes a column type, used both when it resolves a type and when it reads the
-- catalog back, so the two compare as text: built-in types as format_type() renders them
-- (with their modifiers), user types (enums, domains, composites) always schema-qualified and
-- quoted, whatever the search_path: "schema"."name", with [] for an array of one, and the
-- type's modifier when it has one ("public"."vector"(20)).
CREATE FUNCTION revos.type_sql(typ oid, typmod integer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
             WHEN base.typnamespace = 'pg_catalog'::regnamespace THEN format_type(typ, typmod)
             ELSE '"' || replace(n.nspname, '"', '""') || '"."' || replace(base.typname, '"', '""') || '"'
                  -- a modifier of an extension's type (pgvector's vector(20)), as the type prints it
                  || CASE WHEN typmod >= 0
                          THEN substr(format_type(base.oid, typmod), length(format_type(base.oid, NULL)) + 1)
                          ELSE '' END
                  || CASE WHEN base.oid <> t.oid THEN '[]' ELSE '' END
           END
      FROM pg_type t
      JOIN pg_type base ON base.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
      JOIN pg_namespace n ON n.oid = base.typnamespace
     WHERE t.oid = typ
$$;
