//! The property table: every property of an existing object that a payload declares, how it is
//! read from the catalog, how it is compared, what a difference becomes (a change, or a risk that
//! blocks until `allow_destructive`), and how the result is verified. `plan` and `verify` decide
//! through the predicates of `compare` named here, and report by the row's `name`; a comparison
//! that cannot be made (`compare::Verdict::Unknown`) is the risk `cannot_compare` in `plan` and a
//! mismatch in `verify`, never a match. `revos.property_table()` returns this table, and the
//! in-database test `tests/properties.rs` mutates the catalog as a person would for every row that
//! has a `mutation`, re-applies the declared version and expects the row's `expect`.

use serde::Serialize;

use crate::error::RiskCode;

/// One declared property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prop {
    ColumnType,
    NotNull,
    Default,
    Generated,
    Identity,
    Collation,
    ColumnComment,
    TableComment,
    PrimaryKey,
    Unique,
    Check,
    CheckValidated,
    ForeignKey,
    ForeignKeyValidated,
    Index,
    TouchTrigger,
    RlsEnabled,
    RlsForced,
    TenantPolicy,
    ForeignPolicy,
    EnumValues,
    Extension,
    SchemaObject,
    Sequence,
    Domain,
    Function,
    Aggregate,
    View,
    MaterializedView,
    Trigger,
    Policy,
    Grants,
    Partition,
    PartitionKey,
}

/// What the generated mutation test expects after re-applying the declared version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `applied`, with a step that changes the property back (and verification ok).
    Changed,
    /// `blocked` with this risk (nothing changed).
    Risk(RiskCode),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Row {
    pub prop: Prop,
    /// How plans, risks and verification name it: `column.default`, `index.where`, …
    pub name: &'static str,
    /// How the catalog side is read.
    pub read: &'static str,
    /// How the two sides are compared.
    pub compared: &'static str,
    /// What a difference becomes.
    pub on_diff: &'static str,
    /// The risk a difference is (when it is one), besides `cannot_compare`.
    pub risk: Option<RiskCode>,
    /// How verification proves the result.
    pub verified: &'static str,
    /// An out-of-band change a person would make (placeholders: `{table}`, `{column}` — the
    /// fixture's columns are named in `tests/properties.rs`), or None when no SQL can make it.
    pub mutation: Option<&'static str>,
    pub expect: Expect,
}

const DEPARSE_OBJ: &str =
    "the declared statements run on the object in a subtransaction that is always rolled back, both forms deparsed by the same query under search_path = pg_catalog, pg_temp; equal text";

const DEPARSE: &str =
    "the spec's text built on a shadow table (rolled back) and both sides deparsed under search_path = pg_catalog, pg_temp; equal text";

pub const TABLE: &[Row] = &[
    Row {
        prop: Prop::ColumnType,
        name: "column.type",
        read: "format_type(atttypid, atttypmod); user types schema-qualified",
        compared: "text equality with the declared type as Postgres renders it (validate resolves it)",
        on_diff: "ALTER COLUMN … TYPE (assignment conversion: a value that does not fit fails the apply; `using` when declared), after the risk",
        risk: Some(RiskCode::TypeChange),
        verified: "format_type after the DDL",
        mutation: Some("ALTER TABLE {table} ALTER COLUMN seq TYPE integer"),
        expect: Expect::Risk(RiskCode::TypeChange),
    },
    Row {
        prop: Prop::NotNull,
        name: "column.not_null",
        read: "attnotnull",
        compared: "both ways: declared not_null (or in the primary key) = attnotnull",
        on_diff: "SET NOT NULL (the risk set_not_null when rows hold NULL, counted as the owner) or DROP NOT NULL",
        risk: None,
        verified: "attnotnull after the DDL",
        mutation: Some("ALTER TABLE {table} ALTER COLUMN code SET NOT NULL"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Default,
        name: "column.default",
        read: "pg_get_expr(adbin)",
        compared: DEPARSE,
        on_diff: "SET DEFAULT / DROP DEFAULT (catalog only)",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER TABLE {table} ALTER COLUMN qty SET DEFAULT 42"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Generated,
        name: "column.generated",
        read: "pg_get_expr(adbin) of a generated column, attgenerated",
        compared: DEPARSE,
        on_diff: "DROP EXPRESSION when declared plain; otherwise the column is dropped and added again (rewrite), after the risk",
        risk: Some(RiskCode::GeneratedChange),
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER TABLE {table} ALTER COLUMN total DROP EXPRESSION"),
        expect: Expect::Risk(RiskCode::GeneratedChange),
    },
    Row {
        prop: Prop::Identity,
        name: "column.identity",
        read: "attidentity",
        compared: "declared identity (always / by_default / none) = attidentity",
        on_diff: "ADD GENERATED … AS IDENTITY / SET GENERATED … / DROP IDENTITY (catalog only)",
        risk: None,
        verified: "attidentity after the DDL",
        mutation: Some("ALTER TABLE {table} ALTER COLUMN seq DROP DEFAULT, ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Collation,
        name: "column.collation",
        read: "attcollation when it is not the type's default, schema-qualified",
        compared: "declared collation (none: the type's default) as Postgres names it",
        on_diff: "ALTER COLUMN … TYPE <same type> COLLATE … (indexes on the column are rebuilt)",
        risk: None,
        verified: "attcollation after the DDL",
        mutation: Some(r#"ALTER TABLE {table} ALTER COLUMN code TYPE text COLLATE "C""#),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::ColumnComment,
        name: "column.comment",
        read: "col_description",
        compared: "the declared text; \"\" declares no comment; not declared: not compared",
        on_diff: "COMMENT ON COLUMN … IS … (IS NULL for \"\")",
        risk: None,
        verified: "col_description after the DDL",
        mutation: Some("COMMENT ON COLUMN {table}.qty IS 'changed by hand'"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::TableComment,
        name: "table.comment",
        read: "obj_description",
        compared: "the declared text; \"\" declares no comment; not declared: not compared",
        on_diff: "COMMENT ON TABLE … IS … (IS NULL for \"\")",
        risk: None,
        verified: "obj_description after the DDL",
        mutation: Some("COMMENT ON TABLE {table} IS NULL"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::PrimaryKey,
        name: "primary_key",
        read: "the p constraint's conkey, condeferrable",
        compared: "the declared columns in order, not deferrable",
        on_diff: "ADD PRIMARY KEY when missing; otherwise DROP CONSTRAINT and ADD PRIMARY KEY, after the risk",
        risk: Some(RiskCode::PrimaryKeyChange),
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER TABLE {table} DROP CONSTRAINT {table_name}_pkey, ADD PRIMARY KEY (id, code)"),
        expect: Expect::Risk(RiskCode::PrimaryKeyChange),
    },
    Row {
        prop: Prop::Unique,
        name: "unique",
        read: "the u constraint and its index (indkey, indpred, indisvalid, indnullsnotdistinct), condeferrable",
        compared: "a valid, not partial, not deferrable, NULLS DISTINCT UNIQUE on exactly the declared columns",
        on_diff: "ADD CONSTRAINT … UNIQUE, or DROP and ADD in one statement",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER TABLE {table} DROP CONSTRAINT uq_{table_name}_code"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Check,
        name: "check",
        read: "pg_get_constraintdef",
        compared: DEPARSE,
        on_diff: "DROP and ADD in one statement (every row checked); the risk check_change when rows violate the new expression (counted)",
        risk: Some(RiskCode::CheckChange),
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER TABLE {table} DROP CONSTRAINT ck_{table_name}_qty, ADD CONSTRAINT ck_{table_name}_qty CHECK (qty > -100)"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::CheckValidated,
        name: "check.validated",
        read: "convalidated",
        compared: "a declared check is validated (a NOT VALID one is never counted as enforced)",
        on_diff: "VALIDATE CONSTRAINT; the risk not_validated when rows violate it (counted)",
        risk: Some(RiskCode::NotValidated),
        verified: "convalidated after the DDL",
        mutation: Some("ALTER TABLE {table} DROP CONSTRAINT ck_{table_name}_qty, ADD CONSTRAINT ck_{table_name}_qty CHECK (qty >= 0) NOT VALID"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::ForeignKey,
        name: "foreign_key",
        read: "conkey, confrelid, confkey, confdeltype, confupdtype, confdelsetcols, confmatchtype, condeferrable",
        compared: "structurally: columns, target, actions, MATCH SIMPLE, not deferrable",
        on_diff: "DROP and ADD in one statement (rows checked against the target)",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER TABLE {table} ALTER CONSTRAINT fk_{table_name}_part_id DEFERRABLE INITIALLY DEFERRED"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::ForeignKeyValidated,
        name: "foreign_key.validated",
        read: "convalidated",
        compared: "a declared foreign key is validated",
        on_diff: "VALIDATE CONSTRAINT (a row without its target fails the apply with the SQLSTATE)",
        risk: None,
        verified: "convalidated after the DDL",
        mutation: Some("ALTER TABLE {table} DROP CONSTRAINT fk_{table_name}_part_id, ADD CONSTRAINT fk_{table_name}_part_id FOREIGN KEY (part_id) REFERENCES {schema}.parts (id) NOT VALID"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Index,
        name: "index",
        read: "pg_get_indexdef from USING on (method, keys, INCLUDE, WHERE, NULLS NOT DISTINCT), indisunique, indisvalid, indnullsnotdistinct",
        compared: DEPARSE,
        on_diff: "DROP INDEX and CREATE INDEX (an INVALID index is rebuilt)",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("DROP INDEX {schema}.idx_{table_name}_code; CREATE INDEX idx_{table_name}_code ON {table} (code) WHERE code <> ''"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::TouchTrigger,
        name: "trigger.updated_at",
        read: "pg_get_triggerdef, the table's name left out, and tgenabled — the table's, and its clone's on each declared partition",
        compared: "exactly BEFORE UPDATE … FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at(), no WHEN, firing in an ordinary session (ENABLE or ENABLE ALWAYS; not DISABLE, not ENABLE REPLICA) on the table and on each declared partition",
        on_diff: "ALTER TABLE … ENABLE TRIGGER when only its firing differs — on the table when its own does not fire, else on each declared partition whose clone does not fire (recursive: every clone below fires again; on Citus: DROP TRIGGER and CREATE TRIGGER) — else DROP TRIGGER and CREATE TRIGGER; then ALTER TABLE ONLY … ENABLE ALWAYS TRIGGER where it was ALWAYS, and on a clone that did not fire under an ALWAYS parent, two levels down",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("DROP TRIGGER revos_touch_updated_at ON {table}; CREATE TRIGGER revos_touch_updated_at BEFORE UPDATE ON {table} FOR EACH ROW WHEN (false) EXECUTE FUNCTION revos.touch_updated_at()"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::RlsEnabled,
        name: "rls.enabled",
        read: "relrowsecurity",
        compared: "true when the table declares rls",
        on_diff: "ENABLE ROW LEVEL SECURITY",
        risk: None,
        verified: "relrowsecurity after the DDL",
        mutation: Some("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::RlsForced,
        name: "rls.forced",
        read: "relforcerowsecurity",
        compared: "true when the table declares force_rls",
        on_diff: "FORCE ROW LEVEL SECURITY",
        risk: None,
        verified: "relforcerowsecurity after the DDL",
        mutation: Some("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::TenantPolicy,
        name: "policy.tenant",
        read: "polcmd, polpermissive, polroles, pg_get_expr(polqual), pg_get_expr(polwithcheck)",
        compared: "FOR ALL, PERMISSIVE, TO PUBLIC, and USING / WITH CHECK by DEPARSE",
        on_diff: "DROP POLICY and CREATE POLICY",
        risk: None,
        verified: "the same comparison after the DDL, on a table this apply created too (the declared policy deparsed then, once per distinct policy)",
        mutation: Some("ALTER POLICY revos_tenant_isolation ON {table} USING (true)"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::ForeignPolicy,
        name: "policy.undeclared",
        read: "every other policy on the table, polpermissive",
        compared: "an undeclared PERMISSIVE policy on a tenant table widens what a tenant sees",
        on_diff: "the risk foreign_policy; allow_destructive drops it",
        risk: Some(RiskCode::ForeignPolicy),
        verified: "verification fails while one remains",
        mutation: Some("CREATE POLICY leak ON {table} USING (true)"),
        expect: Expect::Risk(RiskCode::ForeignPolicy),
    },
    Row {
        prop: Prop::EnumValues,
        name: "enum.values",
        read: "pg_enum labels by enumsortorder",
        compared: "the declared values, in the declared order",
        on_diff: "ADD VALUE … BEFORE / AFTER its declared neighbour (sorts where declared); a value no longer declared is the risk drop_enum_value; existing values in another order are the risk enum_order (the type is recreated)",
        risk: Some(RiskCode::DropEnumValue),
        verified: "the labels in order after the DDL",
        mutation: Some("ALTER TYPE {schema}.{table_name}_level ADD VALUE 'extra'"),
        expect: Expect::Risk(RiskCode::DropEnumValue),
    },
    Row {
        prop: Prop::Extension,
        name: "extension",
        read: "pg_extension: its schema (and version when declared)",
        compared: "the declared schema and version",
        on_diff: "ALTER EXTENSION … SET SCHEMA / UPDATE TO",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: None,
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::SchemaObject,
        name: "schema",
        read: "pg_namespace",
        compared: "present",
        on_diff: "CREATE SCHEMA IF NOT EXISTS",
        risk: None,
        verified: "present after the DDL",
        mutation: None,
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Sequence,
        name: "sequence",
        read: "pg_sequence: type, start, increment, min, max, cache, cycle",
        compared: DEPARSE_OBJ,
        on_diff: "ALTER SEQUENCE with the declared parameters",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER SEQUENCE {schema}.things_seq INCREMENT BY 5"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Domain,
        name: "domain",
        read: "the base type, NOT NULL, typdefault, collation, each check by pg_get_constraintdef",
        compared: DEPARSE_OBJ,
        on_diff: "ALTER DOMAIN: default, NOT NULL, every check dropped and the declared ones added",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER DOMAIN {schema}.things_qty DROP CONSTRAINT things_qty_check"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Function,
        name: "function",
        read: "pg_get_functiondef (and the comment)",
        compared: DEPARSE_OBJ,
        on_diff: "CREATE OR REPLACE FUNCTION; when Postgres refuses it (another result type), DROP FUNCTION and CREATE",
        risk: None,
        verified: "the same comparison after the DDL; the body validated by its language",
        mutation: Some("CREATE OR REPLACE FUNCTION {schema}.things_fn() RETURNS integer LANGUAGE sql SET search_path = public, pg_temp AS 'SELECT 2'"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Aggregate,
        name: "aggregate",
        read: "pg_aggregate: arguments, state function and type, final function, initial condition",
        compared: DEPARSE_OBJ,
        on_diff: "CREATE OR REPLACE AGGREGATE (DROP and CREATE when refused)",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("CREATE OR REPLACE AGGREGATE {schema}.things_agg(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '5')"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::View,
        name: "view",
        read: "pg_get_viewdef, reloptions (security_invoker), comment",
        compared: DEPARSE_OBJ,
        on_diff: "CREATE OR REPLACE VIEW (DROP VIEW and CREATE when its columns change)",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("CREATE OR REPLACE VIEW {schema}.things_view AS SELECT label FROM {schema}.parts WHERE label <> 'x'"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::MaterializedView,
        name: "materialized_view",
        read: "pg_get_viewdef and every index by pg_get_indexdef",
        compared: DEPARSE_OBJ,
        on_diff: "DROP MATERIALIZED VIEW and CREATE, with its indexes",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("DROP INDEX {schema}.things_mv_one"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Trigger,
        name: "trigger",
        read: "pg_get_triggerdef, and tgenabled — the table's, and its clone's on each declared partition (DISABLE and ENABLE REPLICA differ from the declared ENABLE; ENABLE ALWAYS is the same)",
        compared: DEPARSE_OBJ,
        on_diff: "CREATE OR REPLACE TRIGGER (on a partitioned table it reaches every partition's clone, enabled), then ALTER TABLE ONLY … ENABLE ALWAYS TRIGGER where it was ALWAYS — the table's own and each clone down the partition tree — and on a clone that did not fire under an ALWAYS trigger",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("DROP TRIGGER things_trg ON {table}"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Policy,
        name: "policy",
        read: "polcmd, polpermissive, roles, pg_get_expr of USING and WITH CHECK",
        compared: DEPARSE_OBJ,
        on_diff: "DROP POLICY and CREATE POLICY",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("ALTER POLICY \"parts read\" ON {schema}.parts USING (false)"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Grants,
        name: "grants",
        read: "aclexplode of the object's ACL (acldefault when NULL) and, on a table, view or sequence, of every user column's attacl (column privileges: a grant names no column, so each is a difference), the owner left out: every grantee's privileges",
        compared: DEPARSE_OBJ,
        on_diff: "REVOKE ALL … CASCADE from every grantee and column grantor (its column privileges and what it granted onwards go too; a column grantor other than the owner first gets the column's grant option from the owner, so that the CASCADE reaches what it granted), then the declared GRANTs (the declared grants are the whole ACL besides the owner)",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: Some("GRANT INSERT ON {schema}.parts TO PUBLIC"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::Partition,
        name: "partition",
        read: "pg_get_expr(relpartbound), its parent, RLS flags, its own indexes by pg_get_indexdef, its own foreign keys by pg_get_constraintdef, revos's tenant policy in full (polcmd, polpermissive, polroles, USING, WITH CHECK); its other policies apart (polpermissive): a PERMISSIVE one is the risk foreign_policy, a RESTRICTIVE one a warning, as on the parent",
        compared: DEPARSE_OBJ,
        on_diff: "DETACH and ATTACH with the declared bound; its own undeclared indexes dropped, the declared indexes, foreign keys and tenant policy made again",
        risk: None,
        verified: "the same comparison after the DDL (on a partition this apply created, against its declared statements run on it then), and no undeclared PERMISSIVE policy left",
        mutation: Some("DROP INDEX {schema}.things_log_a_n"),
        expect: Expect::Changed,
    },
    Row {
        prop: Prop::PartitionKey,
        name: "partition_key",
        read: "pg_get_partkeydef",
        compared: "the declared method and columns",
        on_diff: "none: a partition key cannot be changed in place; the risk cannot_compare",
        risk: None,
        verified: "the same comparison after the DDL",
        mutation: None,
        expect: Expect::Changed,
    },
];

/// The row of a property.
pub fn row(p: Prop) -> &'static Row {
    TABLE
        .iter()
        .find(|r| r.prop == p)
        .expect("every property has a row")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_has_exactly_one_row_and_a_unique_name() {
        let mut names = std::collections::BTreeSet::new();
        for r in TABLE {
            assert!(names.insert(r.name), "{} twice", r.name);
            assert_eq!(TABLE.iter().filter(|x| x.prop == r.prop).count(), 1);
            if let Expect::Risk(code) = r.expect {
                assert_eq!(
                    r.risk,
                    Some(code),
                    "{}: the expected risk is the row's risk",
                    r.name
                );
            }
        }
        // the issue's list: type, NOT NULL, default, generated, identity, collation, comment;
        // keys, checks, foreign keys, indexes, the trigger, RLS flags and policies, enum values
        assert_eq!(TABLE.len(), 34);
    }
}
