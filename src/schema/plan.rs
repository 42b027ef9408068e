//! Stage 4 — `plan`: the SQL, generated from the validated schema and the catalog state. Pure.
//!
//! The plan is built by named stages, in this order (see [`plan`]):
//!
//! ```text
//! [evolve: renames, drops — prepended by apply] → schemas → enums → tables → [distribute: Citus]
//!   → target keys → foreign keys → indexes → triggers → rls → policies → comments → cost warnings
//! ```
//!
//! Creating every table before any foreign key is what lets cyclic and cross-schema references
//! apply in any payload order. A table that already exists is diffed, never skipped: missing
//! columns, constraints, indexes, RLS and policy are added; columns only in the database are
//! reported as warnings; changes that could lose data or fail on existing rows are reported as
//! [`Risk`]s (the caller blocks on them unless `allow_destructive`). Every name is a quoted
//! [`Name`], every literal is quoted, and the only caller text pasted in is expressions that
//! `validate` had Postgres' parser accept.
//!
//! Every [`Step`] states what it costs: the lock it takes on its table, whether it rewrites or
//! scans it, and the table's estimated rows (`pg_class.reltuples`; 0 for a table it creates).

use std::collections::{BTreeSet, HashSet};

use crate::error::RiskCode;
use crate::ident::{quote_literal, Name};
use crate::schema::catalog::CatalogState;
use crate::schema::compare::{self, Verdict};
use crate::schema::derived_names::not_null_helper;
use crate::schema::model::*;
use crate::schema::properties::Prop;
use crate::schema::steps::{Cost, Lock, Plan, Risk, Step, LARGE_TABLE_ROWS};
use crate::schema::trigger_firing;

/// The plan under construction, with what every stage needs to know.
pub struct Planner<'a> {
    pub s: &'a Schema,
    pub st: &'a CatalogState,
    pub p: Plan,
    /// Tables this plan creates.
    pub new_tables: HashSet<(String, String)>,
    /// `(schema, table, column)` keys that tenant-bound foreign keys need on their targets.
    needed_keys: Vec<(Name, Name, Name)>,
    /// Columns dropped and added again (a changed generated expression): what depended on them
    /// (indexes, checks) is gone and is created again.
    rebuilt: HashSet<(String, String, String)>,
}

impl<'a> Planner<'a> {
    pub fn new(s: &'a Schema, st: &'a CatalogState) -> Self {
        Planner {
            s,
            st,
            p: Plan::default(),
            new_tables: HashSet::new(),
            needed_keys: needed_keys(s),
            rebuilt: HashSet::new(),
        }
    }

    /// The live table and what the spec declares for it, deparsed.
    fn live(&self, t: &Table) -> Option<(&'a TableSnapshot, Option<&'a Declared>)> {
        self.st
            .table(&t.schema, &t.name)
            .map(|sn| (sn, sn.declared.as_ref()))
    }

    /// Whether any of `cols` of `t` is dropped and added again by this plan.
    fn touches_rebuilt(&self, t: &Table, cols: &[Name]) -> bool {
        cols.iter().any(|c| {
            self.rebuilt.contains(&(
                t.schema.as_str().to_string(),
                t.name.as_str().to_string(),
                c.as_str().to_string(),
            ))
        })
    }

    /// What a property's verdict asks of the plan: true when the declared form must be (re)applied
    /// — it differs, or it could not be compared (then also the risk `cannot_compare`, which
    /// blocks unless `allow_destructive`: the declared form is then applied without knowing
    /// whether it differed, and verification reports what it could not compare).
    fn needs_change(&mut self, v: Verdict, path: &str, prop: Prop, object: &str) -> bool {
        compare::needs_change(&mut self.p, v, path, prop, object)
    }

    /// Estimated rows of `schema.table`: 0 for a table this plan creates.
    pub fn rows_of(&self, schema: &Name, name: &Name) -> Option<i64> {
        match self.st.table(schema, name) {
            Some(sn) => sn.est_rows,
            None => Some(0),
        }
    }

    /// A step on table `t` (schema, name), with its cost.
    pub fn push(&mut self, kind: &'static str, t: (&Name, &Name), sql: String, cost: Cost) {
        let est_rows = self.rows_of(t.0, t.1);
        self.p.steps.push(Step {
            kind,
            object: format!("{}.{}", t.0, t.1),
            sql,
            lock: cost.lock,
            rewrites: cost.rewrites,
            scans: cost.scans,
            est_rows,
        });
    }

    /// A step on a table of the payload.
    pub fn push_on(&mut self, kind: &'static str, t: &Table, sql: String, cost: Cost) {
        self.push(kind, (&t.schema, &t.name), sql, cost);
    }
}

pub fn col_list(cols: &[Name]) -> String {
    cols.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn column_sql(c: &Column) -> String {
    let mut s = format!(
        "{} {}",
        c.name,
        c.sql_type.as_deref().expect("validated column has a type")
    );
    if let Some(x) = &c.collation {
        s.push_str(&format!(" COLLATE {x}"));
    }
    if let Some(g) = &c.generated {
        let kind = if c.virtual_ { "VIRTUAL" } else { "STORED" };
        s.push_str(&format!(" GENERATED ALWAYS AS (({g})) {kind}"));
    }
    if let Some(k) = c.identity {
        s.push_str(&format!(" GENERATED {} AS IDENTITY", k.sql()));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT ({d})"));
    }
    s
}

pub fn fk_sql(fk: &ForeignKey, o: &Options) -> String {
    let (from, to) = if fk.tenant_bound {
        (
            vec![o.tenant_column.clone(), fk.column.clone()],
            vec![o.tenant_column.clone(), fk.target_column.clone()],
        )
    } else {
        (vec![fk.column.clone()], vec![fk.target_column.clone()])
    };
    let mut s = format!(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}.{} ({})",
        fk.name,
        col_list(&from),
        fk.target_schema,
        fk.target_table,
        col_list(&to)
    );
    if let Some(a) = fk.on_delete {
        s.push_str(" ON DELETE ");
        s.push_str(a.sql());
        // Only the referencing column is nulled/defaulted, never the tenant column.
        if fk.tenant_bound && matches!(a, FkAction::SetNull | FkAction::SetDefault) {
            s.push_str(&format!(" ({})", fk.column));
        }
    }
    if let Some(a) = fk.on_update {
        s.push_str(" ON UPDATE ");
        s.push_str(a.sql());
    }
    s
}

pub fn index_sql(t: &Table, x: &Index) -> String {
    index_sql_on(&x.name.to_string(), &t.qualified(), x)
}

/// `CREATE INDEX <name> ON <on> …` of an index declaration (the shadow's index is `x` under
/// another name, on another relation).
pub fn index_sql_on(name: &str, on: &str, x: &Index) -> String {
    let keys = if x.keys.is_empty() {
        col_list(&x.columns)
    } else {
        x.keys
            .iter()
            .map(index_key_sql)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = format!(
        "CREATE {}INDEX {name} ON {on} USING {} ({})",
        if x.unique { "UNIQUE " } else { "" },
        x.method.sql(),
        keys
    );
    if !x.include.is_empty() {
        s.push_str(&format!(" INCLUDE ({})", col_list(&x.include)));
    }
    if x.nulls_not_distinct {
        s.push_str(" NULLS NOT DISTINCT");
    }
    if let Some(w) = &x.where_ {
        s.push_str(&format!(" WHERE ({w})"));
    }
    s
}

/// One index key written as an object: `"col"` or `((expr))`, then COLLATE, the operator class,
/// DESC and NULLS FIRST / LAST.
fn index_key_sql(k: &IndexKey) -> String {
    let mut s = match (&k.column, &k.expression) {
        (Some(c), _) => c.to_string(),
        (None, Some(e)) => format!("(({e}))"),
        (None, None) => String::new(),
    };
    if let Some(c) = &k.collation {
        s.push_str(&format!(" COLLATE {c}"));
    }
    if let Some(o) = &k.opclass {
        s.push_str(&format!(" {o}"));
    }
    if k.descending {
        s.push_str(" DESC");
    }
    match k.nulls_first {
        Some(true) => s.push_str(" NULLS FIRST"),
        Some(false) => s.push_str(" NULLS LAST"),
        None => {}
    }
    s
}

pub fn policy_sql(t: &Table, o: &Options) -> String {
    crate::schema::tenancy::tenant_policy_sql(&t.qualified(), t, o)
}

/// The `(tenant, column)` keys that tenant-bound foreign keys point at: name and columns.
fn tenant_target_key(tenant: &Name, table: &Name, column: &Name) -> (Name, Vec<Name>) {
    (
        Name::derived(&format!(
            "uq_{}_{}_{}",
            table.as_str(),
            tenant.as_str(),
            column.as_str()
        )),
        vec![tenant.clone(), column.clone()],
    )
}

fn needed_keys(s: &Schema) -> Vec<(Name, Name, Name)> {
    let mut needed: Vec<(Name, Name, Name)> = vec![];
    for t in &s.tables {
        for fk in t.foreign_keys.iter().filter(|f| f.tenant_bound) {
            let k = (
                fk.target_schema.clone(),
                fk.target_table.clone(),
                fk.target_column.clone(),
            );
            if !needed.contains(&k) {
                needed.push(k);
            }
        }
    }
    needed
}

/// The plan: every stage in pipeline order. A new capability is a new stage here.
pub fn plan(s: &Schema, st: &CatalogState) -> Plan {
    let mut pl = Planner::new(s, st);
    pl.schemas();
    pl.enums();
    // extensions, schemas, sequences, domains, functions a table expression calls (issue 25)
    crate::schema::objects::plan::before_tables(s, st, &mut pl.p);
    // evolve's renames and drops come first: apply prepends them (evolve::Evolution::prepend_to).
    pl.tables();
    // distribute (Citus): after every table exists, before keys and foreign keys.
    pl.target_keys();
    pl.foreign_keys();
    pl.indexes();
    pl.triggers();
    pl.rls();
    pl.policies();
    pl.comments();
    // functions, aggregates, views, triggers, declared policies, grants (issue 25)
    crate::schema::objects::plan::after_tables(s, st, &mut pl.p);
    pl.cost_warnings();
    for t in &s.tables {
        let Some(sn) = st.table(&t.schema, &t.name) else {
            continue;
        };
        if let Some(d) = sn.declared.clone() {
            pl.p.declared.insert(t.key(), d);
        }
        pl.p.existed.insert(t.key(), sn.unreadable.clone());
    }
    pl.p
}

impl Planner<'_> {
    /// 1. `CREATE SCHEMA IF NOT EXISTS` for every schema but `public`.
    fn schemas(&mut self) {
        let mut schemas = BTreeSet::new();
        for t in &self.s.tables {
            schemas.insert(t.schema.clone());
        }
        for e in &self.s.enums {
            schemas.insert(e.schema.clone());
        }
        // a schema that exists needs nothing (the same declaration again plans no step)
        for sc in schemas
            .iter()
            .filter(|n| n.as_str() != "public" && !self.st.schemas.contains(n.as_str()))
        {
            self.p.push_global(
                "schema",
                sc.as_str().to_string(),
                format!("CREATE SCHEMA IF NOT EXISTS {sc}"),
            );
        }
    }

    /// 2. New enums are created; new values are added to existing ones.
    fn enums(&mut self) {
        for e in &self.s.enums {
            let q = format!("{}.{}", e.schema, e.name);
            match self
                .st
                .enums
                .get(&(e.schema.as_str().to_string(), e.name.as_str().to_string()))
            {
                None => {
                    let vals = e
                        .values
                        .iter()
                        .map(|v| quote_literal(v))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.p.push_global(
                        "enum",
                        q.clone(),
                        format!("CREATE TYPE {q} AS ENUM ({vals})"),
                    );
                    self.p.enums_created += 1;
                }
                Some(existing) => {
                    // A removed value or another order recreates the type (evolve: risks
                    // drop_enum_value / enum_order), with every declared value in its place.
                    if existing.iter().any(|v| !e.values.contains(v)) || !e.keeps_order(existing) {
                        continue;
                    }
                    for sql in enum_additions(&q, &e.values, existing) {
                        self.p.push_global("enum_value", q.clone(), sql);
                    }
                }
            }
        }
    }

    /// 3. Tables: created (without foreign keys), or diffed against the catalog.
    fn tables(&mut self) {
        for t in &self.s.tables {
            match self.st.table(&t.schema, &t.name) {
                None => {
                    self.create_table(t);
                    self.new_tables.insert(t.key());
                }
                Some(snap) => self.alter_table(t, snap),
            }
        }
    }

    /// 4. The `(tenant, column)` unique keys that tenant-bound foreign keys need, on tables that
    /// exist already or are not in the payload (a new payload table got it in its CREATE TABLE).
    fn target_keys(&mut self) {
        let payload_tables: HashSet<(String, String)> =
            self.s.tables.iter().map(Table::key).collect();
        for (sc, tn, col) in self.needed_keys.clone() {
            let key = (sc.as_str().to_string(), tn.as_str().to_string());
            if self.new_tables.contains(&key) {
                continue;
            }
            let (kname, kcols) = tenant_target_key(&self.s.options.tenant_column, &tn, &col);
            let snap = self.st.tables.get(&key);
            let has = snap
                .is_some_and(|sn| has_unique_on(sn, &kcols) || sn.has_constraint(kname.as_str()));
            if has {
                continue;
            }
            let spec_has = self
                .s
                .tables
                .iter()
                .find(|t| t.key() == key)
                .is_some_and(|t| t.uniques.iter().any(|u| u.columns == kcols));
            if !spec_has || !payload_tables.contains(&key) {
                self.push(
                    "constraint",
                    (&sc, &tn),
                    format!(
                        "ALTER TABLE {sc}.{tn} ADD CONSTRAINT {kname} UNIQUE ({})",
                        col_list(&kcols)
                    ),
                    Cost::ALTER_SCAN,
                );
            }
        }
    }

    /// 5. Foreign keys, once every table exists. An existing one whose columns, target, actions,
    /// match type or deferrability differ is replaced (dropped and added in one statement, which
    /// checks every row); one that is NOT VALID is validated.
    fn foreign_keys(&mut self) {
        let o = &self.s.options;
        for t in &self.s.tables {
            let snap = self.st.table(&t.schema, &t.name);
            for fk in &t.foreign_keys {
                let Some(sn) = snap.filter(|sn| sn.has_constraint(fk.name.as_str())) else {
                    let sql = format!("ALTER TABLE {} ADD {}", t.qualified(), fk_sql(fk, o));
                    self.push_on("foreign_key", t, sql, Cost::ADD_FOREIGN_KEY);
                    self.referenced_lock_warning(t, fk);
                    continue;
                };
                let object = format!("foreign key {} on {}", fk.name, t.qualified());
                let v = compare::foreign_key(fk, o, sn);
                if self.needs_change(v, &fk.path, Prop::ForeignKey, &object) {
                    self.push_on(
                        "foreign_key",
                        t,
                        format!(
                            "ALTER TABLE {} DROP CONSTRAINT {}, ADD {}",
                            t.qualified(),
                            fk.name,
                            fk_sql(fk, o)
                        ),
                        Cost::ALTER_SCAN,
                    );
                    continue;
                }
                let v = compare::validated(&fk.name, sn);
                if self.needs_change(v, &fk.path, Prop::ForeignKeyValidated, &object) {
                    self.validate_constraint(t, &fk.name);
                }
            }
        }
    }

    /// `VALIDATE CONSTRAINT`: every row is checked (SHARE UPDATE EXCLUSIVE: writers go on); a
    /// row that violates it fails the apply with the SQLSTATE.
    fn validate_constraint(&mut self, t: &Table, name: &Name) {
        self.push_on(
            "constraint",
            t,
            format!("ALTER TABLE {} VALIDATE CONSTRAINT {name}", t.qualified()),
            Cost::VALIDATE,
        );
    }

    /// Adding a foreign key also takes SHARE ROW EXCLUSIVE on the referenced table (the step
    /// states the referencing one): writers to it wait while a large referencing table is
    /// checked, whatever the referenced table's own size.
    fn referenced_lock_warning(&mut self, t: &Table, fk: &ForeignKey) {
        let Some(rows) = self.rows_of(&t.schema, &t.name) else {
            return;
        };
        if rows > LARGE_TABLE_ROWS {
            self.p.warnings.push(format!(
                "{}.{} is locked SHARE ROW EXCLUSIVE too while the {rows} rows of {} are checked against it (foreign key {}); writers to it wait as well",
                fk.target_schema,
                fk.target_table,
                t.qualified(),
                fk.name
            ));
        }
    }

    /// 6. Indexes. An existing one that is INVALID, or whose uniqueness, method, keys, INCLUDE
    /// or WHERE differ, is rebuilt (DROP INDEX, CREATE INDEX).
    fn indexes(&mut self) {
        for t in &self.s.tables {
            let live = self.live(t);
            for x in &t.indexes {
                let mut cols = x.columns.clone();
                cols.extend(x.include.iter().cloned());
                let rebuilt = self.touches_rebuilt(t, &cols);
                let exists = live.is_some_and(|(sn, _)| sn.index(x.name.as_str()).is_some());
                if exists && !rebuilt {
                    let (sn, d) = live.expect("exists");
                    let object = format!("index {} on {}", x.name, t.qualified());
                    let v = compare::index(x, sn, d, false);
                    let path = path_of(&x.path, t, &format!("indexes.{}", x.name.as_str()));
                    if !self.needs_change(v, &path, Prop::Index, &object) {
                        continue;
                    }
                    self.push_on(
                        "index",
                        t,
                        format!("DROP INDEX {}.{}", t.schema, x.name),
                        Cost::ALTER,
                    );
                }
                self.push_on("index", t, index_sql(t, x), Cost::CREATE_INDEX);
                self.p.indexes_created += 1;
            }
        }
    }

    /// 7. The `updated_at` trigger, compared by its definition: created when missing, created
    /// again when it is not exactly revos's (a WHEN clause, another event or function), enabled
    /// (`ENABLE TRIGGER`: SHARE ROW EXCLUSIVE, nothing dropped) when it is revos's but disabled
    /// or ENABLE REPLICA, on the table or, its clone, on a declared partition (then enabled on that
    /// partition) — on Citus dropped and created again, as for any difference.
    fn triggers(&mut self) {
        for t in self.s.tables.iter().filter(|t| t.touch_trigger) {
            let name = Table::trigger_name();
            if let Some(sn) = self.st.table(&t.schema, &t.name) {
                let v = compare::touch_trigger(t, sn);
                let object = format!("trigger {name} on {}", t.qualified());
                if !self.needs_change(v, &t.path, Prop::TouchTrigger, &object) {
                    continue;
                }
                if !self.s.options.citus && self.enable_touch_trigger(t, sn) {
                    continue;
                }
                if sn.triggers.iter().any(|n| n == name.as_str()) {
                    self.push_on(
                        "trigger",
                        t,
                        format!("DROP TRIGGER {name} ON {}", t.qualified()),
                        Cost::CREATE_TRIGGER,
                    );
                }
            }
            self.push_on(
                "trigger",
                t,
                format!(
                    "CREATE TRIGGER {name} BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()",
                    t.qualified()
                ),
                Cost::CREATE_TRIGGER,
            );
            if let Some(sn) = self.st.table(&t.schema, &t.name) {
                if !self.s.options.citus {
                    self.touch_always_kept(t, sn, &trigger_firing::Scope::Table, true);
                }
            }
        }
    }

    /// `ALTER TABLE ONLY … ENABLE ALWAYS TRIGGER` where revos's trigger is to fire ALWAYS after a
    /// repair that reached `scope` (`trigger_firing::always_after_repair`; `created`: it was
    /// dropped and created).
    fn touch_always_kept(
        &mut self,
        t: &Table,
        sn: &TableSnapshot,
        scope: &trigger_firing::Scope,
        created: bool,
    ) {
        for (rel, trigger) in trigger_firing::always_after_repair(t, sn, scope, created) {
            self.push_on(
                "trigger",
                t,
                format!("ALTER TABLE ONLY {rel} ENABLE ALWAYS TRIGGER {trigger}"),
                Cost::CREATE_TRIGGER,
            );
        }
    }

    /// revos's `updated_at` trigger enabled again where only its firing differs
    /// (`compare::touch_trigger_fix`): `ALTER TABLE … ENABLE TRIGGER` on the table when its own does
    /// not fire, else on each declared partition whose clone does not fire (by the clone's own
    /// name) — recursive, so every clone below fires again (the review of 419eb1a, 1) — then
    /// ENABLE ALWAYS again where it is to stay or become so (`trigger_firing`). False when it must
    /// be created instead.
    fn enable_touch_trigger(&mut self, t: &Table, sn: &TableSnapshot) -> bool {
        let name = Table::trigger_name();
        let parts = match compare::touch_trigger_fix(t, sn) {
            compare::TouchFix::Enable => {
                self.push_on(
                    "trigger",
                    t,
                    format!("ALTER TABLE {} ENABLE TRIGGER {name}", t.qualified()),
                    Cost::CREATE_TRIGGER,
                );
                self.touch_always_kept(t, sn, &trigger_firing::Scope::Table, false);
                return true;
            }
            compare::TouchFix::EnableOn(parts) => parts,
            compare::TouchFix::Create => return false,
        };
        for p in parts {
            let clone = compare::touch_trigger_clone(t, sn, p);
            self.push_on(
                "trigger",
                t,
                format!("ALTER TABLE {}.{p} ENABLE TRIGGER {clone}", t.schema),
                Cost::CREATE_TRIGGER,
            );
            self.touch_always_kept(t, sn, &trigger_firing::Scope::Partition(p), false);
        }
        true
    }

    /// 8. ENABLE and FORCE row level security.
    fn rls(&mut self) {
        for t in self.s.tables.iter().filter(|t| t.rls) {
            let snap = self.st.table(&t.schema, &t.name);
            if !snap.is_some_and(|sn| sn.rls_enabled) {
                self.push_on(
                    "rls",
                    t,
                    format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", t.qualified()),
                    Cost::ALTER,
                );
            }
            if t.force_rls && !snap.is_some_and(|sn| sn.rls_forced) {
                self.push_on(
                    "rls",
                    t,
                    format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY", t.qualified()),
                    Cost::ALTER,
                );
            }
        }
    }

    /// 9. The tenant policy: created, or replaced when its command, roles, USING or WITH CHECK
    /// differ. Another PERMISSIVE policy on a tenant-scoped table is OR-ed with it and widens
    /// what a tenant sees: the risk `foreign_policy`, dropped when allowed.
    fn policies(&mut self) {
        for t in self.s.tables.iter().filter(|t| t.has_revos_policy()) {
            let live = self.live(t);
            let exists = live.is_some_and(|(sn, _)| {
                sn.policies
                    .iter()
                    .any(|p| p.name == Table::policy_name().as_str())
            });
            if exists {
                let (sn, d) = live.expect("exists");
                let object = format!("the tenant policy on {}", t.qualified());
                let v = compare::policy(t, sn, d);
                if self.needs_change(v, &t.path, Prop::TenantPolicy, &object) {
                    self.push_on(
                        "policy",
                        t,
                        format!("DROP POLICY {} ON {}", Table::policy_name(), t.qualified()),
                        Cost::ALTER,
                    );
                    self.push_on("policy", t, policy_sql(t, &self.s.options), Cost::ALTER);
                }
            } else {
                self.push_on("policy", t, policy_sql(t, &self.s.options), Cost::ALTER);
                self.p.policies_created += 1;
            }
            let Some((sn, _)) = live else { continue };
            for fp in compare::foreign_policies(t, sn) {
                let name = Name::from_catalog(&fp.name);
                self.p.risk(
                    t.path.clone(),
                    RiskCode::ForeignPolicy,
                    format!(
                        "{} has the PERMISSIVE policy {} (USING {}), which the schema does not declare; it is OR-ed with the tenant policy and lets a tenant see other rows; allow_destructive drops it",
                        t.qualified(),
                        name,
                        fp.using.as_deref().unwrap_or("-")
                    ),
                );
                self.push_on(
                    "policy",
                    t,
                    format!("DROP POLICY {name} ON {}", t.qualified()),
                    Cost::ALTER,
                );
            }
        }
    }

    /// 10. Table and column comments: on a new table or column when declared; on an existing
    /// one when the declared comment differs from `obj_description` / `col_description`. `""`
    /// declares "no comment" (`IS NULL`: Postgres stores an empty comment as none).
    fn comments(&mut self) {
        for t in &self.s.tables {
            let snap = self.st.table(&t.schema, &t.name);
            if t.comment.is_some()
                && !snap.is_some_and(|sn| compare::comment(&t.comment, &sn.comment).is_same())
            {
                let sql = format!(
                    "COMMENT ON TABLE {} IS {}",
                    t.qualified(),
                    comment_sql(&t.comment)
                );
                self.push_on("comment", t, sql, Cost::COMMENT);
            }
            for c in t.columns.iter().filter(|c| c.comment.is_some()) {
                let live = snap.and_then(|sn| sn.column(c.name.as_str()));
                if live.is_some_and(|l| compare::comment(&c.comment, &l.comment).is_same()) {
                    continue;
                }
                if live.is_none() && c.comment.as_deref() == Some("") {
                    continue;
                }
                let sql = format!(
                    "COMMENT ON COLUMN {}.{} IS {}",
                    t.qualified(),
                    c.name,
                    comment_sql(&c.comment)
                );
                self.push_on("comment", t, sql, Cost::COMMENT);
            }
        }
    }

    /// 11. A warning (not a risk) for every large table that a step locks against writes.
    fn cost_warnings(&mut self) {
        let mut seen: BTreeSet<(String, Lock)> = BTreeSet::new();
        for st in &self.p.steps {
            let (Some(lock), Some(rows)) = (st.lock, st.est_rows) else {
                continue;
            };
            if lock.blocks_writes()
                && rows > LARGE_TABLE_ROWS
                && seen.insert((st.object.clone(), lock))
            {
                let lock_name = serde_json::to_value(lock)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.p.warnings.push(format!(
                    "{} holds about {rows} rows and is locked {lock_name} while it changes; plan a quiet moment",
                    st.object
                ));
            }
        }
    }
}

/// Where a risk points: the object's own path, or — for what revos adds itself (its columns and
/// indexes have no path in the payload) — the table's path and the object.
fn path_of(own: &str, t: &Table, what: &str) -> String {
    if own.is_empty() {
        format!("{}.{what}", t.path)
    } else {
        own.to_string()
    }
}

/// A declared comment as SQL: `""` is no comment (`NULL`).
fn comment_sql(c: &Option<String>) -> String {
    match c.as_deref() {
        None | Some("") => "NULL".into(),
        Some(x) => quote_literal(x),
    }
}

/// `ALTER TYPE … ADD VALUE` for each declared value the type lacks, `BEFORE` the next declared
/// value that exists (or `AFTER` the previous one), so that it sorts where it is declared.
fn enum_additions(q: &str, declared: &[String], existing: &[String]) -> Vec<String> {
    let mut have: Vec<String> = existing.to_vec();
    let mut out = vec![];
    for (i, v) in declared.iter().enumerate() {
        if have.contains(v) {
            continue;
        }
        let next = declared[i + 1..].iter().find(|n| have.contains(n));
        let prev = declared[..i].iter().rev().find(|n| have.contains(n));
        let place = match (next, prev) {
            (Some(n), _) => format!(" BEFORE {}", quote_literal(n)),
            (None, Some(p)) => format!(" AFTER {}", quote_literal(p)),
            (None, None) => String::new(),
        };
        out.push(format!(
            "ALTER TYPE {q} ADD VALUE IF NOT EXISTS {}{place}",
            quote_literal(v)
        ));
        match next.and_then(|n| have.iter().position(|h| h == n)) {
            Some(at) => have.insert(at, v.clone()),
            None => have.push(v.clone()),
        }
    }
    out
}

fn has_unique_on(sn: &TableSnapshot, cols: &[Name]) -> bool {
    let want: Vec<&str> = cols.iter().map(Name::as_str).collect();
    sn.indexes
        .iter()
        .any(|i| i.unique && !i.partial && i.columns == want)
}

impl Planner<'_> {
    fn create_table(&mut self, t: &Table) {
        let o = &self.s.options;
        let mut parts: Vec<String> = t.columns.iter().map(column_sql).collect();
        if !t.primary_key.is_empty() {
            parts.push(format!(
                "CONSTRAINT {} PRIMARY KEY ({})",
                t.pk_name(),
                col_list(&t.primary_key)
            ));
        }
        for u in &t.uniques {
            parts.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                u.name,
                col_list(&u.columns)
            ));
        }
        for (sc, tn, col) in &self.needed_keys {
            if sc == &t.schema && tn == &t.name {
                let (kname, kcols) = tenant_target_key(&o.tenant_column, tn, col);
                if !t.uniques.iter().any(|u| u.columns == kcols) && t.primary_key != kcols {
                    parts.push(format!("CONSTRAINT {kname} UNIQUE ({})", col_list(&kcols)));
                }
            }
        }
        for c in &t.checks {
            parts.push(format!("CONSTRAINT {} CHECK (({}))", c.name, c.expression));
        }
        self.push_on(
            "table",
            t,
            format!(
                "CREATE TABLE {} (\n  {}\n){}",
                t.qualified(),
                parts.join(",\n  "),
                t.partition_by
                    .as_deref()
                    .map(|p| format!(" PARTITION BY {p}"))
                    .unwrap_or_default()
            ),
            Cost::ALTER,
        );
        self.p.tables_created += 1;
    }

    fn alter_table(&mut self, t: &Table, sn: &TableSnapshot) {
        let q = t.qualified();
        let before = self.p.steps.len();
        let keeps_own_pk = sn.primary_key().is_some()
            && sn.column("id").is_none()
            && t.primary_key == [Name::from_catalog("id")];
        if keeps_own_pk {
            self.p.warnings.push(format!(
                "{q} keeps its primary key {:?}; no id column is added",
                sn.primary_key().unwrap_or_default()
            ));
        }
        for c in &t.columns {
            if keeps_own_pk && c.auto && c.name.as_str() == "id" {
                continue;
            }
            match sn.column(c.name.as_str()) {
                None => self.add_column(t, sn, c),
                Some(live) => self.alter_column(t, sn, c, live),
            }
        }
        for live in &sn.columns {
            if t.column(&Name::from_catalog(&live.name)).is_none() {
                self.p.warnings.push(format!(
                    "{q}.{} exists in the database but not in the schema; it is kept (list it in drop_columns to drop it)",
                    live.name
                ));
            }
        }
        if !keeps_own_pk {
            self.primary_key(t, sn);
        }
        for u in &t.uniques {
            let add = format!(
                "ADD CONSTRAINT {} UNIQUE ({})",
                u.name,
                col_list(&u.columns)
            );
            let sql = if !sn.has_constraint(u.name.as_str()) {
                format!("ALTER TABLE {q} {add}")
            } else if compare::unique(u, sn).differs() {
                format!("ALTER TABLE {q} DROP CONSTRAINT {}, {add}", u.name)
            } else {
                continue;
            };
            self.push_on("constraint", t, sql, Cost::ALTER_SCAN);
        }
        self.checks(t, sn);
        let left = self.helpers_left(t, sn);
        for (kind, name) in compare::undeclared(self.s, t, sn) {
            if kind == "constraint" && left.contains(&name) {
                continue;
            }
            self.p.warnings.push(format!(
                "{q} has the {kind} {} that the schema does not declare; it is kept",
                Name::from_catalog(&name)
            ));
        }
        self.p
            .warnings
            .extend(crate::schema::children::warnings(t, sn));
        self.p
            .warnings
            .extend(crate::schema::own_columns::warnings(self.s, t, sn));
        if self.p.steps.len() > before {
            self.p.tables_altered += 1;
        }
    }

    /// revos's NOT NULL helper checks an online NOT NULL whose chain failed left on the table
    /// (`revos_nn_<column>`, exactly `CHECK ((<column> IS NOT NULL))`, a name the schema does not
    /// declare): dropped (catalog only). The column is then what the schema declares — NOT NULL
    /// planned as any other (its online form adds a helper again), nullable left nullable (the
    /// review of 0a4279f, 2: a kept helper refused NULLs after a version declared the column
    /// nullable). Returns their names.
    fn helpers_left(&mut self, t: &Table, sn: &TableSnapshot) -> Vec<String> {
        let q = t.qualified();
        let mut left = vec![];
        for col in &sn.columns {
            let name = not_null_helper(&Name::from_catalog(&col.name));
            let Some(k) = sn.constraint(name.as_str()) else {
                continue;
            };
            let def = k.definition.as_deref().unwrap_or_default();
            let def = def.strip_suffix(" NOT VALID").unwrap_or(def);
            let quoted = format!("\"{}\"", col.name.replace('"', "\"\""));
            let shaped = [&col.name, &quoted]
                .iter()
                .any(|c| def == format!("CHECK (({c} IS NOT NULL))"));
            if k.kind != 'c' || !shaped || t.checks.iter().any(|c| c.name == name) {
                continue;
            }
            let sql = format!("ALTER TABLE {q} DROP CONSTRAINT {name}");
            self.push_on("constraint", t, sql, Cost::ALTER);
            left.push(name.as_str().to_string());
        }
        left
    }

    /// The primary key's columns: added when the table has none; another set of columns is the
    /// risk `primary_key_change` (the key is dropped and added again: foreign keys that
    /// reference it make that fail, with the SQLSTATE).
    fn primary_key(&mut self, t: &Table, sn: &TableSnapshot) {
        if t.primary_key.is_empty() || compare::primary_key(t, sn).is_same() {
            return;
        }
        let q = t.qualified();
        let add = format!(
            "ADD CONSTRAINT {} PRIMARY KEY ({})",
            t.pk_name(),
            col_list(&t.primary_key)
        );
        let Some(live) = sn.constraints.iter().find(|c| c.kind == 'p') else {
            self.push_on(
                "constraint",
                t,
                format!("ALTER TABLE {q} {add}"),
                Cost::ALTER_SCAN,
            );
            return;
        };
        self.p.risk(
            t.primary_key_path.clone(),
            RiskCode::PrimaryKeyChange,
            format!(
                "{q}'s primary key is ({}) in the database and ({}) in the schema: it is dropped and added again",
                live.columns.join(", "),
                col_list(&t.primary_key)
            ),
        );
        let sql = format!(
            "ALTER TABLE {q} DROP CONSTRAINT {}, {add}",
            Name::from_catalog(&live.name)
        );
        self.push_on("constraint", t, sql, Cost::ALTER_SCAN);
        // a column of the old key that the schema declares nullable loses the NOT NULL the key
        // gave it (only now: Postgres refuses it while the column is in a primary key)
        for col in live
            .columns
            .iter()
            .filter(|c| !t.primary_key.iter().any(|k| k.as_str() == c.as_str()))
        {
            let declared_nullable = t
                .columns
                .iter()
                .any(|c| c.name.as_str() == col.as_str() && !c.not_null && !c.auto);
            if declared_nullable {
                let sql = format!(
                    "ALTER TABLE {q} ALTER COLUMN {} DROP NOT NULL",
                    Name::from_catalog(col)
                );
                self.push_on("column", t, sql, Cost::ALTER);
            }
        }
    }

    /// An existing column, property by property: type (and collation), NOT NULL both ways,
    /// identity, then the default and generated expression.
    fn alter_column(&mut self, t: &Table, sn: &TableSnapshot, c: &Column, live: &ColumnSnapshot) {
        let q = t.qualified();
        let type_differs = compare::column_type(c, live).differs();
        let collation_differs = compare::collation(c, live).differs();
        if type_differs {
            self.type_change(t, c, live);
        } else if collation_differs {
            let want = c.sql_type.as_deref().unwrap_or_default();
            let sql = format!(
                "ALTER TABLE {q} ALTER COLUMN {} TYPE {want} COLLATE {}",
                c.name,
                c.collation.as_deref().unwrap_or("pg_catalog.\"default\"")
            );
            self.push_on("column", t, sql, Cost::ALTER_SCAN);
        }
        self.not_null(t, sn, c, live);
        if compare::identity(c, live).differs() {
            let what = match (c.identity, live.identity) {
                (Some(k), None) => format!("ADD GENERATED {} AS IDENTITY", k.sql()),
                (Some(k), Some(_)) => format!("SET GENERATED {}", k.sql()),
                (None, _) => "DROP IDENTITY".to_string(),
            };
            self.push_on(
                "column",
                t,
                format!("ALTER TABLE {q} ALTER COLUMN {} {what}", c.name),
                Cost::ALTER,
            );
        }
        self.column_expressions(t, sn, c, live);
    }

    /// NOT NULL both ways. Rows holding NULL make SET NOT NULL the risk `set_not_null`, with
    /// their count (evolve::not_null_on_rows). revos's own columns and primary key columns keep
    /// the NOT NULL they have.
    fn not_null(&mut self, t: &Table, sn: &TableSnapshot, c: &Column, live: &ColumnSnapshot) {
        let in_pk = t.primary_key.contains(&c.name)
            || sn
                .constraints
                .iter()
                .any(|k| k.kind == 'p' && k.columns.iter().any(|x| x == c.name.as_str()));
        let want = c.not_null || in_pk;
        if !compare::not_null(want, live).differs() || (c.auto && !want) {
            return;
        }
        let q = t.qualified();
        let (what, cost) = if want {
            ("SET NOT NULL", Cost::ALTER_SCAN)
        } else {
            ("DROP NOT NULL", Cost::ALTER)
        };
        self.push_on(
            "column",
            t,
            format!("ALTER TABLE {q} ALTER COLUMN {} {what}", c.name),
            cost,
        );
    }

    /// A type change is the risk `type_change` (with the rows whose value would change, counted
    /// as the owner, when the catalog could count them). Without `using` it is a plain
    /// `ALTER COLUMN … TYPE`: Postgres's assignment conversion, which refuses a value that does
    /// not fit (the apply then fails with the SQLSTATE and nothing changes) — never an explicit
    /// cast, which would truncate or round silently.
    fn type_change(&mut self, t: &Table, c: &Column, live: &ColumnSnapshot) {
        let q = t.qualified();
        let want = c.sql_type.as_deref().unwrap_or_default();
        let key = (
            t.schema.as_str().to_string(),
            t.name.as_str().to_string(),
            c.name.as_str().to_string(),
        );
        let changed = self.st.conversions.get(&key).copied();
        let counted = match changed {
            Some(Ok(n)) => format!("; {n} row(s) hold a value the conversion changes (counted)"),
            Some(Err(())) => "; the rows whose value would change could not be counted".into(),
            None => String::new(),
        };
        self.p.risks.push(Risk {
            path: format!("{}.type", c.path),
            code: RiskCode::TypeChange,
            message: format!(
                "{q}.{} is {} in the database and {want} in the schema{counted}",
                c.name, live.sql_type
            ),
            rows: changed.and_then(Result::ok),
            rows_counted: changed.and_then(Result::ok).map(|_| true),
        });
        let using = c
            .using
            .as_ref()
            .map(|u| format!(" USING ({u})"))
            .unwrap_or_default();
        let collate = c
            .collation
            .as_ref()
            .map(|x| format!(" COLLATE {x}"))
            .unwrap_or_default();
        self.push_on(
            "column",
            t,
            format!(
                "ALTER TABLE {q} ALTER COLUMN {} TYPE {want}{collate}{using}",
                c.name
            ),
            type_change_cost(&live.sql_type, want),
        );
    }

    /// An existing column's default and generated expression, compared as Postgres deparses
    /// them. A default is set or dropped (catalog only); a generated expression that differs is
    /// the risk `generated_change` (PostgreSQL 15 cannot alter it: the column is dropped and added
    /// again, which rewrites the table and recomputes every value); a generated column the schema
    /// declares plain keeps its values (DROP EXPRESSION).
    fn column_expressions(
        &mut self,
        t: &Table,
        sn: &TableSnapshot,
        c: &Column,
        live: &ColumnSnapshot,
    ) {
        let q = t.qualified();
        let d = sn.declared.as_ref();
        let object = format!("{q}.{}", c.name);
        // revos's own columns on an adopted table keep the defaults they have (validate adopts
        // them), except the tenant column, whose default is the tenant.
        let adopted = c.auto && !(t.tenant_scoped && c.name == self.s.options.tenant_column);
        if adopted {
            // kept as they are, a generated expression too (`DROP EXPRESSION` of an adopted
            // `created_at … GENERATED ALWAYS AS (…)`, the review of the stop 48 change, F1)
            return;
        }
        let v = compare::generated(c, live, sn, d);
        let at = path_of(&c.path, t, &format!("columns.{}", c.name.as_str()));
        let path = format!("{at}.generated");
        if self.needs_change(v, &path, Prop::Generated, &object) {
            if c.generated.is_none() {
                self.push_on(
                    "column",
                    t,
                    format!("ALTER TABLE {q} ALTER COLUMN {} DROP EXPRESSION", c.name),
                    Cost::ALTER,
                );
            } else {
                self.regenerate(t, c, live);
                return;
            }
        }
        if c.generated.is_some() {
            return;
        }
        let v = compare::default(c, live, sn, d);
        let path = format!("{at}.default");
        if self.needs_change(v, &path, Prop::Default, &object) {
            let sql = match &c.default {
                Some(def) => format!(
                    "ALTER TABLE {q} ALTER COLUMN {} SET DEFAULT ({def})",
                    c.name
                ),
                None => format!("ALTER TABLE {q} ALTER COLUMN {} DROP DEFAULT", c.name),
            };
            self.push_on("column", t, sql, Cost::ALTER);
        }
    }

    /// A changed generated expression: the risk `generated_change`; the column is dropped and
    /// added again (indexes and checks on it are created again).
    fn regenerate(&mut self, t: &Table, c: &Column, live: &ColumnSnapshot) {
        let q = t.qualified();
        self.p.risk(
            format!("{}.generated", c.path),
            RiskCode::GeneratedChange,
            format!(
                "{q}.{} is generated as {} in the database; the schema says {}: the column is dropped and added again (the table is rewritten; indexes and checks on it are created again)",
                c.name,
                live.expression.as_deref().unwrap_or("(not generated)"),
                c.generated.as_deref().unwrap_or_default()
            ),
        );
        self.push_on(
            "column",
            t,
            format!(
                "ALTER TABLE {q} DROP COLUMN {}, ADD COLUMN {}",
                c.name,
                column_sql(c)
            ),
            Cost::REWRITE,
        );
        self.rebuilt.insert((
            t.schema.as_str().to_string(),
            t.name.as_str().to_string(),
            c.name.as_str().to_string(),
        ));
    }

    /// Check constraints: added when missing; replaced (dropped and added in one statement, so
    /// the new one is validated against every row) when `pg_get_constraintdef` differs. A new
    /// definition that existing rows violate is the risk `check_change` with their count; with
    /// allow_destructive it is added NOT VALID (new rows are checked, those rows are kept, and
    /// verification reports it as not validated). A declared check that is NOT VALID in the
    /// catalog is validated; rows that violate it are the risk `not_validated`, with their count.
    fn checks(&mut self, t: &Table, sn: &TableSnapshot) {
        let q = t.qualified();
        for c in &t.checks {
            let add = format!("ADD CONSTRAINT {} CHECK (({}))", c.name, c.expression);
            if !sn.has_constraint(c.name.as_str()) {
                self.push_on(
                    "constraint",
                    t,
                    format!("ALTER TABLE {q} {add}"),
                    Cost::ALTER_SCAN,
                );
                continue;
            }
            // A column of this table is dropped and added again: Postgres dropped the checks on
            // it along, so every check is put back (IF EXISTS: the others are still there).
            let rebuilt = self
                .rebuilt
                .iter()
                .any(|(sc, tn, _)| sc == t.schema.as_str() && tn == t.name.as_str());
            let object = format!("check {} on {q}", c.name);
            let v = compare::check(c, sn, sn.declared.as_ref());
            let differs = self.needs_change(v, &c.path, Prop::Check, &object);
            if !differs && !rebuilt {
                let v = compare::validated(&c.name, sn);
                if self.needs_change(v, &c.path, Prop::CheckValidated, &object)
                    && !self.violations_risk(
                        c,
                        RiskCode::NotValidated,
                        "is NOT VALID in the database",
                    )
                {
                    self.validate_constraint(t, &c.name);
                }
                continue;
            }
            let not_valid = if self.violations_risk(c, RiskCode::CheckChange, "changes") {
                " NOT VALID"
            } else {
                ""
            };
            self.push_on(
                "constraint",
                t,
                format!(
                    "ALTER TABLE {q} DROP CONSTRAINT {}{}, {add}{not_valid}",
                    if rebuilt { "IF EXISTS " } else { "" },
                    c.name
                ),
                Cost::ALTER_SCAN,
            );
        }
    }

    /// The rows that violate a check's declared expression (counted while planning): the risk
    /// `code` when there are any. Returns whether there are.
    fn violations_risk(&mut self, c: &Check, code: RiskCode, what: &str) -> bool {
        let t = self
            .s
            .tables
            .iter()
            .find(|t| t.checks.iter().any(|x| x.path == c.path));
        let violating = t
            .and_then(|t| self.st.table(&t.schema, &t.name))
            .and_then(|sn| sn.declared.as_ref())
            .and_then(|d| d.check_violations.get(c.name.as_str()))
            .copied()
            .unwrap_or(0);
        if violating == 0 {
            return false;
        }
        let q = t.map(Table::qualified).unwrap_or_default();
        self.p.risks.push(Risk {
            path: c.path.clone(),
            code,
            message: format!(
                "{q}: check {} ({}) {what}; {violating} existing row(s) violate it (counted); allow_destructive keeps it NOT VALID (new rows are checked, those rows are kept; verification reports it as not validated)",
                c.name, c.expression
            ),
            rows: Some(violating),
            rows_counted: Some(true),
        });
        true
    }

    /// A column the table does not have yet. A tenant column added to a table with rows is
    /// backfilled first (`options.backfill_tenant`), then made NOT NULL.
    fn add_column(&mut self, t: &Table, sn: &TableSnapshot, c: &Column) {
        let o = &self.s.options;
        let q = t.qualified();
        let is_tenant = t.tenant_scoped && c.name == o.tenant_column;
        match (&o.backfill_tenant, is_tenant && sn.has_rows) {
            (Some(tenant), true) => {
                let ty = o.tenant_type.sql();
                self.push_on(
                    "column",
                    t,
                    format!("ALTER TABLE {q} ADD COLUMN {} {ty}", c.name),
                    Cost::ALTER,
                );
                self.push_on(
                    "backfill",
                    t,
                    format!(
                        "UPDATE {q} SET {} = {}::{ty}",
                        c.name,
                        quote_literal(tenant)
                    ),
                    Cost::UPDATE_ALL,
                );
                self.push_on(
                    "column",
                    t,
                    format!("ALTER TABLE {q} ALTER COLUMN {} SET NOT NULL", c.name),
                    Cost::ALTER_SCAN,
                );
                if let Some(d) = &c.default {
                    self.push_on(
                        "column",
                        t,
                        format!("ALTER TABLE {q} ALTER COLUMN {} SET DEFAULT ({d})", c.name),
                        Cost::ALTER,
                    );
                }
            }
            _ => {
                let cost = add_column_cost(c, sn);
                self.push_on(
                    "column",
                    t,
                    format!("ALTER TABLE {q} ADD COLUMN {}", column_sql(c)),
                    cost,
                );
            }
        }
    }
}

/// ADD COLUMN rewrites the table when the column is stored-generated or its default is volatile
/// (Postgres evaluates a non-volatile default once and stores it in the catalog). Whether a
/// default is volatile is Postgres' answer, recorded in the snapshot by `apply`; without it
/// (unit tests) any default that calls a function counts as possibly volatile. NOT NULL without
/// a default scans (to find a row it would leave NULL); with a non-volatile default it does not
/// (every row reads the stored default, Postgres checks nothing).
fn add_column_cost(c: &Column, sn: &TableSnapshot) -> Cost {
    let volatile = c.default.as_deref().is_some_and(|d| match &sn.declared {
        Some(dec) => dec.volatile_defaults.contains(c.name.as_str()),
        None => d.contains('('),
    });
    if c.generated.is_some() || volatile {
        Cost::REWRITE
    } else if c.not_null && c.default.is_none() {
        Cost::ALTER_SCAN
    } else {
        Cost::ALTER
    }
}

/// ALTER COLUMN TYPE rewrites the table unless the change is binary-coercible; the cases
/// Postgres skips the rewrite for that revos can tell from the type names alone: varchar to text,
/// varchar(n) to a longer varchar or unbounded varchar, and numeric(p,s) to a larger precision
/// with the same scale or to unbounded numeric. Anything else is counted as a rewrite.
pub fn type_change_cost(from: &str, to: &str) -> Cost {
    fn args(t: &str, base: &str) -> Option<Vec<i64>> {
        let rest = t.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(vec![]);
        }
        let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
        inner.split(',').map(|x| x.trim().parse().ok()).collect()
    }
    let vc = "character varying";
    let coercible = match (args(from, vc), args(to, vc)) {
        (Some(a), Some(b)) => b.is_empty() || (!a.is_empty() && b[0] >= a[0]),
        (Some(_), None) => to == "text",
        _ => match (args(from, "numeric"), args(to, "numeric")) {
            (Some(a), Some(b)) => {
                b.is_empty() || (a.len() == 2 && b.len() == 2 && b[0] >= a[0] && b[1] == a[1])
            }
            _ => false,
        },
    };
    if coercible {
        Cost::ALTER
    } else {
        Cost::REWRITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::validate::tests::{run, MemCatalog};
    use serde_json::json;

    fn patients() -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/wf106-patients.json")).unwrap();
        v["payload"].clone()
    }

    #[test]
    fn patients_plan_is_exactly_this_sql() {
        let cat = MemCatalog::default();
        let (s, st, issues) = run(patients(), &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let want = r#"CREATE TABLE "public"."patients" (
  "id" uuid NOT NULL DEFAULT (gen_random_uuid()),
  "tenant_id" uuid NOT NULL DEFAULT ((revos.current_tenant_id())::uuid),
  "created_at" timestamp with time zone NOT NULL DEFAULT (now()),
  "updated_at" timestamp with time zone NOT NULL DEFAULT (now()),
  "deleted_at" timestamp with time zone,
  "first_name" text NOT NULL,
  "last_name" text NOT NULL,
  "phone" text,
  CONSTRAINT "patients_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "idx_patients_tenant_id" ON "public"."patients" USING btree ("tenant_id");
CREATE INDEX "idx_patients_created_at" ON "public"."patients" USING btree ("tenant_id", "created_at");
CREATE INDEX "idx_patients_phone" ON "public"."patients" USING btree ("phone");
CREATE TRIGGER "revos_touch_updated_at" BEFORE UPDATE ON "public"."patients" FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at();
ALTER TABLE "public"."patients" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "public"."patients" FORCE ROW LEVEL SECURITY;
CREATE POLICY "revos_tenant_isolation" ON "public"."patients" AS PERMISSIVE FOR ALL TO PUBLIC USING ("tenant_id" OPERATOR(pg_catalog.=) (SELECT (revos.current_tenant_id())::uuid)) WITH CHECK ("tenant_id" OPERATOR(pg_catalog.=) (SELECT (revos.current_tenant_id())::uuid));
"#;
        assert_eq!(p.script(), want);
        assert_eq!(
            (p.tables_created, p.indexes_created, p.policies_created),
            (1, 3, 1)
        );
        assert_eq!(p.checksum().len(), 64);
    }

    #[test]
    fn cyclic_and_tenant_bound_foreign_keys_come_after_all_tables() {
        let cat = MemCatalog::default();
        let (s, st, issues) = run(
            json!({"schema_version": "1", "description": "d", "tables": [
                {"name": "facts", "schema": "agent", "columns": [{"name": "event_id", "type": "uuid", "references": {"table": "agent.events", "on_delete": "set null"}}]},
                {"name": "events", "schema": "agent", "columns": [{"name": "fact_id", "type": "uuid", "references": "agent.facts"}]},
                {"name": "tools", "schema": "agent", "tenant_scoped": false, "columns": []},
                {"name": "uses", "schema": "agent", "columns": [{"name": "tool_id", "type": "uuid", "references": "agent.tools"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let kinds: Vec<&str> = p.steps.iter().map(|x| x.kind).collect();
        let last_table = kinds.iter().rposition(|k| *k == "table").unwrap();
        let first_fk = kinds.iter().position(|k| *k == "foreign_key").unwrap();
        assert!(last_table < first_fk, "{kinds:?}");
        assert_eq!(kinds[0], "schema");
        let sql = p.script();
        assert!(sql.contains(r#"FOREIGN KEY ("tenant_id", "event_id") REFERENCES "agent"."events" ("tenant_id", "id") ON DELETE SET NULL ("event_id")"#), "{sql}");
        assert!(
            sql.contains(r#"CONSTRAINT "uq_events_tenant_id_id" UNIQUE ("tenant_id", "id")"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"FOREIGN KEY ("tool_id") REFERENCES "agent"."tools" ("id")"#),
            "{sql}"
        );
        assert!(!sql.contains(r#"CREATE POLICY "revos_tenant_isolation" ON "agent"."tools""#));
    }

    #[test]
    fn existing_table_is_diffed_not_skipped() {
        let mut cat = MemCatalog::default();
        let col = |n: &str, t: &str, nn: bool| ColumnSnapshot {
            name: n.into(),
            sql_type: t.into(),
            not_null: nn,
            has_default: true,
            generated: false,
            ..Default::default()
        };
        cat.tables.insert(
            ("public".into(), "t".into()),
            crate::schema::catalog::testing::as_applied(TableSnapshot {
                columns: vec![
                    col("id", "uuid", true),
                    col("tenant_id", "uuid", true),
                    col("created_at", "timestamp with time zone", true),
                    col("updated_at", "timestamp with time zone", true),
                    col("deleted_at", "timestamp with time zone", false),
                    col("a", "integer", false),
                    col("legacy", "text", false),
                ],
                indexes: vec![IndexSnapshot {
                    name: "idx_t_tenant_id".into(),
                    unique: false,
                    method: "btree".into(),
                    columns: vec!["tenant_id".into()],
                    partial: false,
                    ..Default::default()
                }],
                constraints: vec![ConstraintSnapshot {
                    name: "t_pkey".into(),
                    kind: 'p',
                    columns: vec!["id".into()],
                    ..Default::default()
                }],
                rls_enabled: true,
                rls_forced: false,
                policies: vec![],
                triggers: vec!["revos_touch_updated_at".into()],
                has_rows: true,
                ..Default::default()
            }),
        );
        let (s, st, issues) = run(
            json!({"schema_version": "2", "description": "d", "tables": [{"name": "t", "columns": [
                {"name": "a", "type": "bigint", "not_null": true}, {"name": "b", "type": "text"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let sql = p.script();
        assert!(!sql.contains("CREATE TABLE"), "{sql}");
        assert!(
            sql.contains(r#"ALTER TABLE "public"."t" ADD COLUMN "b" text"#),
            "{sql}"
        );
        // assignment conversion: no explicit cast that would round or truncate silently
        assert!(
            sql.contains("ALTER COLUMN \"a\" TYPE bigint;\n") && !sql.contains("bigint USING"),
            "{sql}"
        );
        // the catalog's default on a, which the schema does not declare, is dropped (it used to
        // be left when only its presence was known)
        assert!(sql.contains(r#"ALTER COLUMN "a" DROP DEFAULT"#), "{sql}");
        assert!(sql.contains(r#"CREATE INDEX "idx_t_created_at""#), "{sql}");
        assert!(!sql.contains(r#"CREATE INDEX "idx_t_tenant_id""#), "{sql}");
        assert!(
            sql.contains("FORCE ROW LEVEL SECURITY") && !sql.contains("ENABLE ROW LEVEL SECURITY"),
            "{sql}"
        );
        assert!(sql.contains("CREATE POLICY"), "{sql}");
        assert!(!sql.contains("CREATE TRIGGER"), "{sql}");
        let risks: Vec<&str> = p.risks.iter().map(|r| r.code.as_str()).collect();
        // set_not_null needs the count of NULLs: evolve's (see evolve::tests)
        assert_eq!(risks, ["type_change"]);
        assert!(sql.contains(r#"ALTER COLUMN "a" SET NOT NULL"#), "{sql}");
        assert!(
            p.warnings.iter().any(|w| w.contains("legacy")),
            "{:?}",
            p.warnings
        );
        assert_eq!(p.tables_altered, 1);
    }

    /// The plan's step whose SQL contains `needle`.
    fn step_with<'a>(p: &'a Plan, needle: &str) -> &'a Step {
        p.steps
            .iter()
            .find(|x| x.sql.contains(needle))
            .unwrap_or_else(|| panic!("no step with {needle}: {}", p.script()))
    }

    #[test]
    fn every_step_states_its_lock_scan_rewrite_and_rows() {
        let mut cat = MemCatalog::default();
        let col = |n: &str, t: &str| ColumnSnapshot {
            name: n.into(),
            sql_type: t.into(),
            ..Default::default()
        };
        cat.tables.insert(
            ("public".into(), "big".into()),
            TableSnapshot {
                columns: vec![
                    col("id", "uuid"),
                    col("a", "integer"),
                    col("v", "character varying(10)"),
                ],
                constraints: vec![ConstraintSnapshot {
                    name: "big_pkey".into(),
                    kind: 'p',
                    columns: vec!["id".into()],
                    ..Default::default()
                }],
                est_rows: Some(2_500_000),
                ..Default::default()
            },
        );
        let (s, st, issues) = run(
            json!({"schema_version": "2", "description": "d", "tables": [
                {"name": "big", "tenant_scoped": false, "timestamps": false, "soft_delete": false, "rls": false, "columns": [
                    {"name": "a", "type": "bigint"}, {"name": "v", "type": "text"},
                    {"name": "b", "type": "timestamptz", "default": "clock_timestamp()"}],
                 "indexes": [{"columns": ["a"]}]},
                {"name": "fresh", "tenant_scoped": false, "columns": []}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let step = |needle: &str| step_with(&p, needle);
        let add = step(r#"ADD COLUMN "b""#);
        assert_eq!(
            (add.lock, add.rewrites, add.est_rows),
            (Some(Lock::AccessExclusive), true, Some(2_500_000))
        );
        let ty = step(r#"ALTER COLUMN "a" TYPE bigint"#);
        assert!(ty.rewrites && ty.scans);
        let vc = step(r#"ALTER COLUMN "v" TYPE text"#);
        assert!(!vc.rewrites, "varchar to text is binary-coercible");
        let ix = step(r#"CREATE INDEX "idx_big_a""#);
        assert_eq!(
            (ix.lock, ix.scans, ix.rewrites),
            (Some(Lock::Share), true, false)
        );
        let create = step(r#"CREATE TABLE "public"."fresh""#);
        assert_eq!(create.est_rows, Some(0));
        let json = serde_json::to_value(ix).unwrap();
        assert_eq!(json["lock"], "SHARE");
        assert_eq!(json["est_rows"], 2_500_000);
        let big: Vec<&String> = p
            .warnings
            .iter()
            .filter(|w| w.contains("2500000 rows"))
            .collect();
        assert_eq!(big.len(), 2, "one per lock mode: {:?}", p.warnings);
        assert!(!p
            .warnings
            .iter()
            .any(|w| w.contains("fresh") && w.contains("rows")));
    }

    /// What Postgres 11+ does, measured in tests/costs.rs: ADD COLUMN … NOT NULL with a constant
    /// default neither scans nor rewrites; ADD FOREIGN KEY's SHARE ROW EXCLUSIVE stops writers
    /// like SHARE and ACCESS EXCLUSIVE, so a large table gets the warning for it too.
    #[test]
    fn not_null_with_a_constant_default_does_not_scan_and_a_foreign_key_blocks_writers() {
        let mut cat = MemCatalog::default();
        cat.tables.insert(
            ("public".into(), "big".into()),
            TableSnapshot {
                columns: vec![
                    ColumnSnapshot {
                        name: "id".into(),
                        sql_type: "uuid".into(),
                        ..Default::default()
                    },
                    ColumnSnapshot {
                        name: "ref_id".into(),
                        sql_type: "uuid".into(),
                        ..Default::default()
                    },
                ],
                constraints: vec![ConstraintSnapshot {
                    name: "big_pkey".into(),
                    kind: 'p',
                    columns: vec!["id".into()],
                    ..Default::default()
                }],
                est_rows: Some(2_500_000),
                has_rows: true,
                ..Default::default()
            },
        );
        let (s, st, issues) = run(
            json!({"schema_version": "2", "description": "d", "tables": [
                {"name": "parent", "tenant_scoped": false, "timestamps": false, "soft_delete": false, "rls": false, "columns": []},
                {"name": "big", "tenant_scoped": false, "timestamps": false, "soft_delete": false, "rls": false, "columns": [
                    {"name": "ref_id", "type": "uuid", "references": "parent"},
                    {"name": "n", "type": "integer", "not_null": true, "default": "0"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let step = |needle: &str| step_with(&p, needle);
        let n = step(r#"ADD COLUMN "n""#);
        assert_eq!(
            (n.lock, n.scans, n.rewrites),
            (Some(Lock::AccessExclusive), false, false),
            "{}",
            n.sql
        );
        let fk = step("FOREIGN KEY");
        assert_eq!(
            (fk.lock, fk.scans, fk.rewrites),
            (Some(Lock::ShareRowExclusive), true, false)
        );
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("2500000 rows") && w.contains("SHARE ROW EXCLUSIVE")),
            "{:?}",
            p.warnings
        );
        assert!(
            p.warnings.iter().any(|w| w.starts_with(
                r#""public"."parent" is locked SHARE ROW EXCLUSIVE too while the 2500000 rows"#
            )),
            "the referenced table is named: {:?}",
            p.warnings
        );
    }

    /// An existing table whose catalog holds other definitions than the spec, with the deparsed
    /// forms `apply::shadow` would give: each difference is replaced; equal forms plan nothing.
    #[test]
    fn differing_properties_of_an_existing_table_are_replaced() {
        let payload = json!({"schema_version": "2", "description": "d", "tables": [
            {"name": "items", "tenant_scoped": false, "timestamps": false, "soft_delete": false, "rls": false,
             "comment": "stock", "columns": [
                {"name": "qty", "type": "integer", "default": "5", "check": "qty >= 10"}],
             "indexes": [{"name": "idx_items_qty", "columns": ["qty"], "where": "qty > 0"}]}]});
        let mut cat = MemCatalog::default();
        let (s0, _, _) = run(payload.clone(), &cat);
        let check = s0.tables[0].checks[0].name.as_str().to_string();
        let live = |default: &str, checkdef: &str, pred: &str, comment: &str| TableSnapshot {
            columns: vec![
                ColumnSnapshot {
                    name: "id".into(),
                    sql_type: "uuid".into(),
                    not_null: true,
                    has_default: true,
                    default: Some("gen_random_uuid()".into()),
                    ..Default::default()
                },
                ColumnSnapshot {
                    name: "qty".into(),
                    sql_type: "integer".into(),
                    has_default: true,
                    default: Some(default.into()),
                    ..Default::default()
                },
            ],
            constraints: vec![
                ConstraintSnapshot {
                    name: "items_pkey".into(),
                    kind: 'p',
                    columns: vec!["id".into()],
                    ..Default::default()
                },
                ConstraintSnapshot {
                    name: check.clone(),
                    kind: 'c',
                    definition: Some(checkdef.into()),
                    ..Default::default()
                },
            ],
            indexes: vec![IndexSnapshot {
                name: "idx_items_qty".into(),
                method: "btree".into(),
                columns: vec!["qty".into()],
                partial: true,
                definition: Some(format!("USING btree (qty) WHERE {pred}")),
                ..Default::default()
            }],
            comment: Some(comment.into()),
            declared: Some(Declared {
                defaults: [("qty".to_string(), "5".to_string())].into(),
                checks: [(check.clone(), "CHECK ((qty >= 10))".to_string())].into(),
                indexes: [(
                    "idx_items_qty".to_string(),
                    "USING btree (qty) WHERE (qty > 0)".to_string(),
                )]
                .into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        cat.tables.insert(
            ("public".into(), "items".into()),
            live("1", "CHECK ((qty >= 0))", "(qty IS NOT NULL)", "old"),
        );
        let (s, st, issues) = run(payload.clone(), &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let sql = plan(&s, &st).script();
        for want in [
            r#"ALTER COLUMN "qty" SET DEFAULT (5)"#,
            r#"DROP CONSTRAINT "ck_items_qty", ADD CONSTRAINT "ck_items_qty" CHECK ((qty >= 10))"#,
            r#"DROP INDEX "public"."idx_items_qty""#,
            r#"CREATE INDEX "idx_items_qty" ON "public"."items" USING btree ("qty") WHERE (qty > 0)"#,
            r#"COMMENT ON TABLE "public"."items" IS 'stock'"#,
        ] {
            assert!(sql.contains(want), "{want}\n{sql}");
        }
        cat.tables.insert(
            ("public".into(), "items".into()),
            live("5", "CHECK ((qty >= 10))", "(qty > 0)", "stock"),
        );
        let (s, st, _) = run(payload, &cat);
        assert_eq!(plan(&s, &st).script(), "", "the same forms: nothing to do");
    }

    #[test]
    fn binary_coercible_type_changes_do_not_rewrite() {
        assert!(!type_change_cost("character varying(10)", "character varying(20)").rewrites);
        assert!(!type_change_cost("character varying(10)", "character varying").rewrites);
        assert!(type_change_cost("character varying(20)", "character varying(10)").rewrites);
        assert!(!type_change_cost("numeric(8,2)", "numeric(10,2)").rewrites);
        assert!(type_change_cost("numeric(8,2)", "numeric(10,3)").rewrites);
        assert!(type_change_cost("integer", "bigint").rewrites);
    }

    #[test]
    fn every_identifier_is_quoted_and_literals_escaped() {
        let cat = MemCatalog::default();
        let (s, st, issues) = run(
            json!({"schema_version": "1", "description": "d", "enums": [{"name": "mood", "values": ["it's", "ok"]}],
                   "tables": [{"name": "Order", "comment": "O'Brien's", "columns": [{"name": "select", "type": "mood"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let sql = plan(&s, &st).script();
        assert!(
            sql.contains(r#"CREATE TYPE "public"."mood" AS ENUM ('it''s', 'ok')"#),
            "{sql}"
        );
        assert!(sql.contains(r#"CREATE TABLE "public"."order""#), "{sql}");
        assert!(sql.contains(r#""select" "public"."mood""#), "{sql}");
        assert!(sql.contains(r#"IS 'O''Brien''s'"#), "{sql}");
    }
}
