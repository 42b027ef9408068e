-- revos finalize: privileges, after every object exists.
--
-- Schema changes run as the CALLER (the functions are SECURITY INVOKER): the tables a caller
-- creates are owned by the caller, and a caller can only create what its own privileges allow.
-- Who may call them is decided here: revos_admin (created by bootstrap.sql), not PUBLIC.

GRANT USAGE ON SCHEMA revos TO PUBLIC;

REVOKE ALL ON FUNCTION revos.apply_schema(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.plan_schema(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.tenant_table(text, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.apply_schema(jsonb) TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.plan_schema(jsonb) TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.tenant_table(text, jsonb, jsonb) TO revos_admin;

-- Every role's queries go through the tenant policy, which calls current_tenant_id().
GRANT EXECUTE ON FUNCTION revos.current_tenant_id() TO PUBLIC;
GRANT EXECUTE ON FUNCTION revos.set_tenant(text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION revos.pre_request() TO PUBLIC;
GRANT EXECUTE ON FUNCTION revos.jwt_claims_tenant(text) TO PUBLIC;
-- The membership tenancy mode's policies call current_user_id() (issue 25).
GRANT EXECUTE ON FUNCTION revos.current_user_id() TO PUBLIC;
-- The claims tenancy mode's policies call current_tenant_ids() (issue 25).
GRANT EXECUTE ON FUNCTION revos.current_tenant_ids() TO PUBLIC;

-- Internal helpers and trigger functions: not for PUBLIC (CREATE TRIGGER needs EXECUTE on the
-- function, so nobody else can attach them to a table). revos_admin runs apply_schema as itself,
-- which resolves types with type_sql and creates tenant tables' revos_touch_updated_at triggers.
REVOKE ALL ON FUNCTION revos.touch_updated_at() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.type_sql(oid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.touch_updated_at() TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.type_sql(oid, integer) TO revos_admin;
-- The apply state the triggers read (src/ledger/writer.rs): the owner's functions only.
REVOKE ALL ON FUNCTION revos.writing_ledger() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.drift_paused() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.note_restore() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.drift_frame_snapshot(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.drift_actor() FROM PUBLIC;

-- Read-only for admins: only revos's own code writes the ledger (apply inserts as the table's
-- owner; the no-op fast path trusts these rows).
REVOKE ALL ON revos.schema_migrations FROM PUBLIC;
REVOKE ALL ON revos.payload_memo FROM PUBLIC;
-- read by apply_schema's fast answer as the caller (a revos_admin member), like the ledger
GRANT SELECT ON revos.payload_memo TO revos_admin;
GRANT SELECT ON revos.schema_migrations TO revos_admin;

-- The event ledger: app roles log events (log_event is SECURITY DEFINER: no table privileges
-- needed); admins also verify the chains and read the ledger.
GRANT EXECUTE ON FUNCTION revos.log_event(jsonb) TO revos_app, revos_admin;
GRANT EXECUTE ON FUNCTION revos.verify_ledger(text) TO revos_admin;
GRANT SELECT ON revos.events TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.event_hash(revos.events) TO revos_admin;

-- Deferred steps (sql/deferred.sql): written only by revos (as the ledgers' owner); admins read them
-- and call deferred_status(), which starts a worker where steps wait without one.
REVOKE ALL ON revos.deferred_steps FROM PUBLIC;
GRANT SELECT ON revos.deferred_steps TO revos_admin;
REVOKE ALL ON FUNCTION revos.deferred_status(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.deferred_status(text) TO revos_admin;

-- Citus (sql/citus.sql): checking the shards is for admins.
REVOKE ALL ON FUNCTION revos.verify_shards() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.verify_shards() TO revos_admin;
REVOKE ALL ON FUNCTION revos.property_table() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.property_table() TO revos_admin;
REVOKE ALL ON FUNCTION revos.shard_shape(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.shard_shape(regclass) TO revos_admin;

-- (Created here, last, as the update script 0.2.0 -> 0.3.0 creates it last: pg_dump lists the
-- configuration tables in the order they were registered.)
-- The roles an apply trusts besides the superusers and the applying role itself (docs/security.md,
-- "Trusted roles"): what a payload's statements may depend on and run, and whose schemas its tables
-- may live in, must be owned by one of them. Membership does not count (a group's admin can put its
-- own objects under the group and leave it; a login role can be used by whoever logs in as it): a
-- role is trusted only when the extension's owner lists it here. Readable by everyone; written only
-- by the extension's owner. Not kept by pg_dump: roles belong to the cluster, and a dropped role's
-- OID would be read as another role in the cluster a dump is restored into — list them again there.
CREATE TABLE revos.trusted_roles (
    role      pg_catalog.regrole PRIMARY KEY,
    note      text,
    added_by  name NOT NULL DEFAULT CURRENT_USER,
    added_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE revos.trusted_roles IS
    'Roles whose objects an apply may depend on and run, besides superusers and the applying role. Written only by the extension owner.';

-- Who may write the tables whose rows revos trusts — the ledger, the payload memo, the managed
-- tables, the deferred steps the worker runs, the trusted roles: their owner (revos writes them as
-- the extension's owner) and superusers (a dump being restored), whatever privileges say. A row
-- written while another role could write a table stayed after the privilege was revoked, and was
-- trusted (the twelfth adversarial review, T: a deferred step forged by a pg_write_all_data member
-- ran as the superuser it named). ENABLE ALWAYS: a replica's apply and session_replication_role do
-- not skip them. revos.events' chain trigger makes the same check (its INSERT must have no other
-- trigger: src/ledger/direct_insert.rs). The chain heads have the guard too (the thirteenth review,
-- F1: a forged or deleted head broke the next event's chain); revos moves them without the executor
-- (src/ledger/chain_head.rs), making the guard's check itself.
CREATE FUNCTION revos.written_by_revos() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'written_by_revos_wrapper';
COMMENT ON FUNCTION revos.written_by_revos() IS
    'Trigger: only the table''s owner (as whom revos writes) or a superuser may write revos''s own tables (src/ledger/written_by_revos.rs).';
DO $guard$
DECLARE
    t pg_catalog.text;
BEGIN
    FOREACH t IN ARRAY ARRAY['schema_migrations', 'payload_memo', 'managed_tables', 'deferred_steps', 'trusted_roles', 'event_chain_heads'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER written_by_revos BEFORE INSERT OR UPDATE OR DELETE ON revos.%I
                                       FOR EACH ROW EXECUTE FUNCTION revos.written_by_revos()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER written_by_revos_truncate BEFORE TRUNCATE ON revos.%I
                                       FOR EACH STATEMENT EXECUTE FUNCTION revos.written_by_revos()', t);
        EXECUTE pg_catalog.format('ALTER TABLE revos.%I ENABLE ALWAYS TRIGGER written_by_revos', t);
        EXECUTE pg_catalog.format('ALTER TABLE revos.%I ENABLE ALWAYS TRIGGER written_by_revos_truncate', t);
    END LOOP;
END
$guard$;
-- the chain trigger too: in a session with session_replication_role = replica (a replica's apply),
-- an ordinary trigger does not fire, and a row would go in unchecked and unchained
ALTER TABLE revos.events ENABLE ALWAYS TRIGGER events_chain;

-- Default privileges (ALTER DEFAULT PRIVILEGES FOR ROLE <the installing role> GRANT … TO some_role) reach
-- the schemas, tables, sequences and functions this script creates: such a role could write revos's
-- ledgers, its payload memo, the deferred steps the worker runs or revos.trusted_roles, or create in
-- schema revos, which revos's own search_path reads (the tenth and eleventh adversarial reviews, P1,
-- S, D). So: the tables', sequences' and schemas' privileges are reset to exactly what revos grants
-- (every grant to another role than the owner revoked, PUBLIC, revos_admin and revos_app included,
-- then the intended ones again); so are the functions' (F, the twelfth review: EXECUTE that default
-- privileges gave revos_admin on revos.note_restore() let a member switch the drift capture off for
-- its session) — a function nobody granted or revoked has PUBLIC's default EXECUTE, revoked too.
DO $revoke$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT pg_catalog.format('%s %s', k.what, k.obj) AS obj, a.grantee
          FROM (SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS what,
                       c.oid::pg_catalog.regclass::pg_catalog.text AS obj, c.relacl AS acl, c.relowner AS owner
                  FROM pg_catalog.pg_class c
                 WHERE c.relnamespace OPERATOR(pg_catalog.=) 'revos'::pg_catalog.regnamespace
                   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'v', 'm', 'S']::"char"[])
                UNION ALL
                SELECT 'SCHEMA', pg_catalog.quote_ident(n.nspname::pg_catalog.text), n.nspacl, n.nspowner
                  FROM pg_catalog.pg_namespace n
                 WHERE n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['revos', 'revos_shadow']::pg_catalog.name[])
                UNION ALL
                SELECT 'ROUTINE', p.oid::pg_catalog.regprocedure::pg_catalog.text,
                       COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner)), p.proowner
                  FROM pg_catalog.pg_proc p
                 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'revos'::pg_catalog.regnamespace) k,
               pg_catalog.aclexplode(k.acl) a
         WHERE a.grantee OPERATOR(pg_catalog.<>) k.owner
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', g.obj,
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)::pg_catalog.text) END);
    END LOOP;
END
$revoke$;
-- what revos grants (pg_test/expected/ledger_trust.out lists it)
GRANT EXECUTE ON FUNCTION revos.current_tenant_id(), revos.current_tenant_ids(), revos.current_user_id(),
    revos.jwt_claims_tenant(text), revos.set_tenant(text), revos.pre_request(), revos.backfilling() TO PUBLIC;
GRANT EXECUTE ON FUNCTION revos.apply_schema(jsonb), revos.plan_schema(jsonb), revos.tenant_table(text, jsonb, jsonb),
    revos.deferred_status(text), revos.event_hash(revos.events), revos.log_event(jsonb), revos.property_table(),
    revos.shard_shape(regclass), revos.touch_updated_at(), revos.type_sql(oid, integer), revos.verify_ledger(text),
    revos.verify_shards() TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.log_event(jsonb) TO revos_app;
GRANT USAGE ON SCHEMA revos TO PUBLIC;
GRANT USAGE, CREATE ON SCHEMA revos_shadow TO revos_admin;
GRANT SELECT ON revos.schema_migrations, revos.events, revos.payload_memo, revos.deferred_steps TO revos_admin;
GRANT SELECT ON revos.trusted_roles TO PUBLIC;
