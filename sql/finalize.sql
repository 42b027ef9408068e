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
