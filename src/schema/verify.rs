//! Stage 6 — `verify`: after the DDL ran, compare the catalog with the normalized schema.
//!
//! Pure: it compares a [`Schema`] with [`TableSnapshot`]s read back after apply. Any mismatch fails
//! the call (and `apply` rolls the DDL back). Checked per table: existence, every column (type as
//! Postgres renders it, NOT NULL, presence of a default, generated), primary/unique/check/foreign
//! keys by name, every index by name and columns, the updated_at trigger, RLS enabled/forced, and
//! the tenant policy (FOR ALL, USING and WITH CHECK both calling `revos.current_tenant_id()`).

use serde::Serialize;
use std::collections::HashMap;

use crate::ident::Name;
use crate::schema::compare::{self, Verdict};
use crate::schema::model::*;
use crate::schema::properties::{row, Prop};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Verification {
    pub ok: bool,
    pub objects_checked: usize,
    pub mismatches: Vec<String>,
    /// Properties that could not be compared and were applied from the spec anyway
    /// (`allow_destructive` over the risk `cannot_compare`): never counted as matching.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<String>,
    /// Checks kept NOT VALID over rows that violate them (`allow_destructive` over
    /// `check_change`): enforced for new rows only, never counted as enforced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_validated: Vec<String>,
    /// Constraints `NOT VALID` until their deferred `VALIDATE` runs (online forms): verified
    /// when that step completes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validated_later: Vec<String>,
}

pub type Snapshots = HashMap<(String, String), TableSnapshot>;

/// What verification needs to know of the apply: the tables that existed before it (a table it
/// created was built from the spec's own text, so defaults, generated expressions, checks and
/// index predicates — what only a deparse could compare — are checked by structure and presence
/// there; its tenant policy is not: a function called during the apply may have changed it, so
/// `apply` deparses the declared policy for it too, `shadow::declare_created_policies`), and what
/// the caller accepted with `allow_destructive`.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub existed: std::collections::HashSet<(String, String)>,
    pub allow_destructive: bool,
    /// Constraints whose `VALIDATE` runs after the commit (online forms): (schema, table, name).
    pub validated_later: std::collections::HashSet<(String, String, String)>,
    /// A DDL command that was not revos's own ran during the apply (its tag; a function called
    /// from a caller's expression, an event trigger): what the apply created is then not taken as
    /// built from the spec's own text — what only a deparse could compare cannot be compared.
    pub foreign_ddl: Option<String>,
}

/// The checks with a default context: every table counts as created by the apply.
pub fn verify(
    s: &Schema,
    tables: &Snapshots,
    enums: &HashMap<(String, String), Vec<String>>,
) -> Verification {
    verify_with(s, tables, enums, &Context::default())
}

/// The checks, in pipeline order: enums, then per table its existence, columns, keys, indexes,
/// trigger, RLS flags and tenant policy — each property through `compare`, as `plan` compared it.
pub fn verify_with(
    s: &Schema,
    tables: &Snapshots,
    enums: &HashMap<(String, String), Vec<String>>,
    cx: &Context,
) -> Verification {
    let mut v = Verification::default();
    verify_enums(s, enums, &mut v);
    for t in &s.tables {
        let q = format!("{}.{}", t.schema.as_str(), t.name.as_str());
        let Some(sn) = tables.get(&t.key()) else {
            v.check(false, || format!("table {q} does not exist"));
            continue;
        };
        v.check(true, String::new);
        let tc = TableCheck {
            s,
            t,
            sn,
            q,
            created: !cx.existed.contains(&t.key()),
            accept_unknown: cx.allow_destructive,
            later: &cx.validated_later,
            foreign_ddl: cx.foreign_ddl.as_deref(),
        };
        tc.columns(&mut v);
        tc.keys(&mut v);
        tc.indexes(&mut v);
        tc.triggers(&mut v);
        tc.rls(&mut v);
        tc.policies(&mut v);
        tc.created_amid_foreign_ddl(&mut v);
    }
    evolution(s, tables, &mut v);
    v.ok = v.mismatches.is_empty();
    v
}

impl Verification {
    /// Counts one checked object; records `what` when it does not match.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.objects_checked += 1;
        if !ok {
            self.mismatches.push(what());
        }
    }
}

fn verify_enums(s: &Schema, enums: &HashMap<(String, String), Vec<String>>, v: &mut Verification) {
    for e in &s.enums {
        let labels = enums.get(&(e.schema.as_str().into(), e.name.as_str().into()));
        // Exactly the values, in the declared order.
        let ok = labels.is_some_and(|l| compare::enum_values(e, l).is_same());
        v.check(ok, || {
            format!(
                "enum {}.{} is missing, or its values or their order differ ({})",
                e.schema.as_str(),
                e.name.as_str(),
                labels.map(|l| l.join(", ")).unwrap_or_default()
            )
        });
    }
}

/// Why a table the apply created cannot be taken as built from the spec.
fn foreign_reason(tag: &str) -> String {
    format!(
        "{tag} that revos did not plan ran during the apply (a function called from the payload, an event trigger), so the table it created is not taken as built from the spec"
    )
}

/// One table of the schema and its snapshot.
struct TableCheck<'a> {
    s: &'a Schema,
    t: &'a Table,
    sn: &'a TableSnapshot,
    q: String,
    /// The apply created the table (from the spec's own text).
    created: bool,
    /// [`Context::foreign_ddl`].
    foreign_ddl: Option<&'a str>,
    /// allow_destructive: a property that cannot be compared is reported, not a mismatch.
    accept_unknown: bool,
    /// Constraints validated after the commit (see [`Context::validated_later`]).
    later: &'a std::collections::HashSet<(String, String, String)>,
}

impl TableCheck<'_> {
    /// `name` is NOT VALID, and its `VALIDATE` runs after the commit: counted, listed, not a
    /// mismatch (its step verifies it when it completes).
    fn validated_later(&self, v: &mut Verification, name: &Name, object: &str) -> bool {
        let key = (
            self.t.schema.as_str().to_string(),
            self.t.name.as_str().to_string(),
            name.as_str().to_string(),
        );
        let pending = self.later.contains(&key)
            && compare::validated(name, self.sn).differs()
            && self.sn.constraint(name.as_str()).is_some();
        if pending {
            v.objects_checked += 1;
            v.validated_later.push(format!(
                "{object} is NOT VALID until its deferred VALIDATE runs"
            ));
        }
        pending
    }

    fn keeps_own_pk(&self) -> bool {
        self.sn.column("id").is_none() && self.t.primary_key == [Name::from_catalog("id")]
    }

    /// One property's verdict: `Same` passes; `Differs` is a mismatch (`what` says how);
    /// `Unknown` is a mismatch too, or — when the caller accepted it — listed as unverified.
    fn property(
        &self,
        v: &mut Verification,
        verdict: Verdict,
        prop: Prop,
        object: &str,
        what: impl FnOnce() -> String,
    ) {
        v.objects_checked += 1;
        match verdict {
            Verdict::Same => {}
            Verdict::Differs => v.mismatches.push(what()),
            Verdict::Unknown(why) => {
                let msg = format!(
                    "{} of {object} could not be compared: {why}",
                    row(prop).name
                );
                if self.accept_unknown {
                    v.unverified.push(msg);
                } else {
                    v.mismatches.push(msg);
                }
            }
        }
    }

    /// What only a deparse can compare, on a table the apply created from the spec's own text:
    /// presence and structure are what is checked there — unless DDL that was not revos's ran
    /// during the apply ([`Self::built_as_declared`]).
    fn by_construction(&self, verdict: Verdict, present: bool) -> Verdict {
        if self.built_as_declared() {
            verdict.or_else(|_| Verdict::of(present))
        } else {
            self.unless_foreign(verdict)
        }
    }

    /// A table the apply created while other DDL ran: whatever verification does not compare
    /// in full (revos's own columns' defaults, what is not read at all) is not taken as declared
    /// either — one "could not be compared" for the table (the review of 55e129f, F2 and F8).
    fn created_amid_foreign_ddl(&self, v: &mut Verification) {
        let Some(tag) = self.foreign_ddl.filter(|_| self.created) else {
            return;
        };
        let msg = format!(
            "table {} could not be compared as a whole: {}",
            self.q,
            foreign_reason(tag)
        );
        // a mismatch even with allow_destructive, as for the objects the apply created (the review
        // of 523b683, 6): nothing the apply made is promised once other DDL ran
        v.objects_checked += 1;
        v.mismatches.push(msg);
    }

    /// The apply created the table, and no DDL but revos's own ran during the apply: what it
    /// holds was built from the spec's own text.
    fn built_as_declared(&self) -> bool {
        self.created && self.foreign_ddl.is_none()
    }

    /// A verdict that could not be reached on a created table because other DDL ran during the
    /// apply says so.
    fn unless_foreign(&self, verdict: Verdict) -> Verdict {
        match self.foreign_ddl.filter(|_| self.created) {
            Some(tag) => verdict.or_else(|_| Verdict::Unknown(foreign_reason(tag))),
            None => verdict,
        }
    }

    fn columns(&self, v: &mut Verification) {
        let (t, sn, q) = (self.t, self.sn, &self.q);
        let keeps_own_pk = self.keeps_own_pk();
        for c in &t.columns {
            if keeps_own_pk && c.auto && c.name.as_str() == "id" {
                continue;
            }
            let Some(live) = sn.column(c.name.as_str()) else {
                v.check(false, || {
                    format!("column {q}.{} does not exist", c.name.as_str())
                });
                continue;
            };
            let object = format!("column {q}.{}", c.name.as_str());
            let want = c.sql_type.as_deref().unwrap_or_default();
            self.property(
                v,
                compare::column_type(c, live),
                Prop::ColumnType,
                &object,
                || format!("{object} is {} (schema says {want})", live.sql_type),
            );
            if c.not_null {
                v.check(live.not_null, || format!("{object} is not NOT NULL"));
            } else if !c.auto && !self.in_primary_key(c) {
                v.check(!live.not_null, || {
                    format!("{object} is NOT NULL (schema says nullable)")
                });
            }
            self.property(
                v,
                compare::identity(c, live),
                Prop::Identity,
                &object,
                || {
                    format!(
                        "{object} has another identity (schema says {:?})",
                        c.identity
                    )
                },
            );
            self.property(
                v,
                compare::collation(c, live),
                Prop::Collation,
                &object,
                || {
                    format!(
                        "{object} has collation {} (schema says {})",
                        live.collation.as_deref().unwrap_or("default"),
                        c.collation.as_deref().unwrap_or("default")
                    )
                },
            );
            self.column_expressions(v, c, live, &object);
            self.property(
                v,
                compare::comment(&c.comment, &live.comment),
                Prop::ColumnComment,
                &object,
                || format!("{object} has another comment"),
            );
        }
    }

    fn in_primary_key(&self, c: &Column) -> bool {
        self.t.primary_key.contains(&c.name)
            || self
                .sn
                .constraints
                .iter()
                .any(|k| k.kind == 'p' && k.columns.iter().any(|x| x == c.name.as_str()))
    }

    fn column_expressions(
        &self,
        v: &mut Verification,
        c: &Column,
        live: &ColumnSnapshot,
        object: &str,
    ) {
        let (t, sn) = (self.t, self.sn);
        let d = sn.declared.as_ref();
        let adopted = c.auto && !(t.tenant_scoped && c.name == self.s.options.tenant_column);
        if c.generated.is_none() && !adopted {
            let verdict = compare::default(c, live, sn, d);
            let verdict = self.by_construction(verdict, live.has_default == c.default.is_some());
            self.property(v, verdict, Prop::Default, object, || {
                format!(
                    "{object} has default {} (schema says {})",
                    live.default.as_deref().unwrap_or("none"),
                    c.default.as_deref().unwrap_or("none")
                )
            });
        } else if c.default.is_some() {
            v.check(live.has_default, || format!("{object} has no default"));
        }
        if adopted && live.generated {
            // revos's own column on a table that has it: kept as it is, a generated one too
            return;
        }
        let verdict = compare::generated(c, live, sn, d);
        let verdict = self.by_construction(verdict, live.generated == c.generated.is_some());
        self.property(v, verdict, Prop::Generated, object, || {
            format!(
                "{object} is generated as {} (schema says {})",
                live.expression.as_deref().unwrap_or("nothing"),
                c.generated.as_deref().unwrap_or("nothing")
            )
        });
    }

    fn keys(&self, v: &mut Verification) {
        let (t, sn, q) = (self.t, self.sn, &self.q);
        let auto_pk = t.primary_key == [Name::from_catalog("id")]
            && t.column(&t.primary_key[0]).is_some_and(|c| c.auto);
        if auto_pk && sn.primary_key().is_some() && self.keeps_own_pk() {
            // an adopted table keeps the primary key it has
            v.check(true, String::new);
        } else if !t.primary_key.is_empty() {
            self.property(v, compare::primary_key(t, sn), Prop::PrimaryKey, q, || {
                format!(
                    "primary key {} of {q} is missing or not ({})",
                    t.pk_name().as_str(),
                    crate::schema::plan::col_list(&t.primary_key)
                )
            });
        }
        for u in &t.uniques {
            let object = format!("unique key {} on {q}", u.name.as_str());
            self.property(v, compare::unique(u, sn), Prop::Unique, &object, || {
                format!("{object} is missing or not UNIQUE on the declared columns")
            });
        }
        self.checks(v);
        for f in &t.foreign_keys {
            let object = format!("foreign key {} on {q}", f.name.as_str());
            self.property(v, compare::foreign_key(f, &self.s.options, sn), Prop::ForeignKey, &object, || {
                format!("{object} is missing or has other columns, target, actions, match or deferrability than the schema says")
            });
            if self.validated_later(v, &f.name, &object) {
                continue;
            }
            self.property(
                v,
                compare::validated(&f.name, sn),
                Prop::ForeignKeyValidated,
                &object,
                || format!("{object} is NOT VALID"),
            );
        }
        self.property(
            v,
            compare::comment(&t.comment, &sn.comment),
            Prop::TableComment,
            q,
            || format!("table {q} has another comment"),
        );
    }

    fn checks(&self, v: &mut Verification) {
        let (t, sn, q) = (self.t, self.sn, &self.q);
        let d = sn.declared.as_ref();
        for c in &t.checks {
            let object = format!("check {} on {q}", c.name.as_str());
            let present = sn
                .constraint(c.name.as_str())
                .is_some_and(|k| k.kind == 'c');
            let verdict = self.by_construction(compare::check(c, sn, d), present);
            self.property(v, verdict, Prop::Check, &object, || {
                format!(
                    "{object} is {} (schema says {})",
                    sn.constraint(c.name.as_str())
                        .and_then(|x| x.definition.as_deref())
                        .unwrap_or("-"),
                    c.expression
                )
            });
            if self.validated_later(v, &c.name, &object) {
                continue;
            }
            let validated = compare::validated(&c.name, sn);
            if validated.differs() && present && self.accept_unknown {
                // kept NOT VALID over violating rows, as the caller allowed
                v.objects_checked += 1;
                v.not_validated
                    .push(format!("{object} is NOT VALID: existing rows violate it"));
                continue;
            }
            self.property(v, validated, Prop::CheckValidated, &object, || {
                format!("{object} is NOT VALID")
            });
        }
    }

    fn indexes(&self, v: &mut Verification) {
        for x in &self.t.indexes {
            let object = format!("index {} on {}", x.name.as_str(), self.q);
            let verdict = compare::index(
                x,
                self.sn,
                self.sn.declared.as_ref(),
                self.built_as_declared(),
            );
            let verdict = self.unless_foreign(verdict);
            self.property(v, verdict, Prop::Index, &object, || {
                format!(
                    "{object} is missing or defined otherwise ({})",
                    self.sn
                        .index(x.name.as_str())
                        .and_then(|i| i.definition.as_deref())
                        .unwrap_or("missing")
                )
            });
        }
    }

    fn triggers(&self, v: &mut Verification) {
        if self.t.touch_trigger {
            let object = format!("trigger {} on {}", Table::trigger_name().as_str(), self.q);
            self.property(
                v,
                compare::touch_trigger(self.t, self.sn),
                Prop::TouchTrigger,
                &object,
                || {
                    let off = compare::touch_trigger_off_on_partitions(self.t, self.sn);
                    format!(
                        "{object} is missing or not revos's ({}){}",
                        self.sn
                            .trigger_defs
                            .get(Table::trigger_name().as_str())
                            .map(String::as_str)
                            .unwrap_or("missing"),
                        if off.is_empty() {
                            String::new()
                        } else {
                            let names: Vec<String> = off.iter().map(|p| p.to_string()).collect();
                            format!(", or does not fire on the partitions {}", names.join(", "))
                        }
                    )
                },
            );
        }
    }

    fn rls(&self, v: &mut Verification) {
        if !self.t.rls {
            return;
        }
        v.check(self.sn.rls_enabled, || {
            format!("row level security is not enabled on {}", self.q)
        });
        if self.t.force_rls {
            v.check(self.sn.rls_forced, || {
                format!("row level security is not forced on {}", self.q)
            });
        }
    }

    fn policies(&self, v: &mut Verification) {
        if !self.t.has_revos_policy() {
            return;
        }
        let object = format!("the tenant policy on {}", self.q);
        let verdict = compare::policy(self.t, self.sn, self.sn.declared.as_ref());
        self.property(v, verdict, Prop::TenantPolicy, &object, || {
            format!(
                "tenant policy on {} is missing, or not FOR ALL TO PUBLIC with the tenant USING and WITH CHECK",
                self.q
            )
        });
        for p in compare::foreign_policies(self.t, self.sn) {
            v.check(false, || {
                format!(
                    "{} still has the PERMISSIVE policy {} that the schema does not declare",
                    self.q, p.name
                )
            });
        }
    }
}

/// What evolution removed is gone: dropped tables, columns and indexes, and the old names of
/// renamed tables and columns (`tables` must hold the snapshots of `catalog::catalog_keys`).
fn evolution(s: &Schema, tables: &Snapshots, v: &mut Verification) {
    let mut gone = |ok: bool, what: String| {
        v.objects_checked += 1;
        if !ok {
            v.mismatches.push(what);
        }
    };
    for d in &s.drop_tables {
        gone(
            !tables.contains_key(&d.key()),
            format!(
                "table {}.{} still exists",
                d.schema.as_str(),
                d.name.as_str()
            ),
        );
    }
    for t in &s.tables {
        let q = format!("{}.{}", t.schema.as_str(), t.name.as_str());
        if let Some(old) = &t.renamed_from {
            let key = (t.schema.as_str().to_string(), old.as_str().to_string());
            gone(
                !tables.contains_key(&key),
                format!(
                    "table {}.{} (renamed) still exists",
                    t.schema.as_str(),
                    old.as_str()
                ),
            );
        }
        let Some(sn) = tables.get(&t.key()) else {
            continue;
        };
        for c in &t.columns {
            if let Some(old) = &c.renamed_from {
                gone(
                    sn.column(old.as_str()).is_none(),
                    format!("column {q}.{} (renamed) still exists", old.as_str()),
                );
            }
        }
        for d in &t.drop_columns {
            gone(
                sn.column(d.name.as_str()).is_none(),
                format!("column {q}.{} (dropped) still exists", d.name.as_str()),
            );
        }
        for d in &t.drop_indexes {
            gone(
                sn.index(d.name.as_str()).is_none(),
                format!("index {} on {q} (dropped) still exists", d.name.as_str()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::validate::tests::{run, MemCatalog};
    use serde_json::json;

    /// The snapshot Postgres would show right after the patients plan ran.
    fn applied_snapshot() -> TableSnapshot {
        let col = |n: &str, t: &str, nn: bool, d: bool| ColumnSnapshot {
            name: n.into(),
            sql_type: t.into(),
            not_null: nn,
            has_default: d,
            generated: false,
            ..Default::default()
        };
        let ts = "timestamp with time zone";
        let pred = Some(
            "(tenant_id = ( SELECT (revos.current_tenant_id())::uuid AS current_tenant_id))"
                .to_string(),
        );
        crate::schema::catalog::testing::as_applied(TableSnapshot {
            columns: vec![
                col("id", "uuid", true, true),
                col("tenant_id", "uuid", true, true),
                col("created_at", ts, true, true),
                col("updated_at", ts, true, true),
                col("deleted_at", ts, false, false),
                col("first_name", "text", true, false),
            ],
            indexes: vec![
                IndexSnapshot {
                    name: "patients_pkey".into(),
                    unique: true,
                    method: "btree".into(),
                    columns: vec!["id".into()],
                    partial: false,
                    ..Default::default()
                },
                IndexSnapshot {
                    name: "idx_patients_tenant_id".into(),
                    unique: false,
                    method: "btree".into(),
                    columns: vec!["tenant_id".into()],
                    partial: false,
                    ..Default::default()
                },
                IndexSnapshot {
                    name: "idx_patients_created_at".into(),
                    unique: false,
                    method: "btree".into(),
                    columns: vec!["tenant_id".into(), "created_at".into()],
                    partial: false,
                    ..Default::default()
                },
            ],
            constraints: vec![ConstraintSnapshot {
                name: "patients_pkey".into(),
                kind: 'p',
                ..Default::default()
            }],
            rls_enabled: true,
            rls_forced: true,
            policies: vec![PolicySnapshot {
                name: "revos_tenant_isolation".into(),
                command: '*',
                using: pred.clone(),
                with_check: pred,
                permissive: true,
                roles: vec!["public".into()],
            }],
            triggers: vec!["revos_touch_updated_at".into()],
            has_rows: false,
            ..Default::default()
        })
    }

    fn schema() -> Schema {
        let (s, _, issues) = run(
            json!({"schema_version": "1", "description": "d", "tables": [{"name": "patients", "columns": [{"name": "first_name", "type": "text", "not_null": true}]}]}),
            &MemCatalog::default(),
        );
        assert!(issues.is_empty());
        s
    }

    fn snaps(sn: TableSnapshot) -> Snapshots {
        HashMap::from([(("public".to_string(), "patients".to_string()), sn)])
    }

    #[test]
    fn matching_catalog_verifies() {
        let v = verify(&schema(), &snaps(applied_snapshot()), &HashMap::new());
        assert!(v.ok, "{:?}", v.mismatches);
        assert!(v.objects_checked >= 20, "{}", v.objects_checked);
    }

    #[test]
    fn each_kind_of_drift_is_caught() {
        let s = schema();
        let cases: Vec<(&str, Box<dyn Fn(&mut TableSnapshot)>)> = vec![
            ("policy", Box::new(|sn| sn.policies.clear())),
            ("policy", Box::new(|sn| sn.policies[0].with_check = None)),
            ("policy", Box::new(|sn| sn.policies[0].command = 'r')),
            ("not enabled", Box::new(|sn| sn.rls_enabled = false)),
            ("not forced", Box::new(|sn| sn.rls_forced = false)),
            (
                "idx_patients_created_at",
                Box::new(|sn| {
                    sn.indexes[2].columns = vec!["created_at".into()];
                    sn.indexes[2].definition = Some("btree (created_at)".into());
                }),
            ),
            (
                "first_name is integer",
                Box::new(|sn| sn.columns[5].sql_type = "integer".into()),
            ),
            (
                "not NOT NULL",
                Box::new(|sn| sn.columns[5].not_null = false),
            ),
            (
                "has default none",
                Box::new(|sn| {
                    sn.columns[1].has_default = false;
                    sn.columns[1].default = None;
                }),
            ),
            (
                "deleted_at does not exist",
                Box::new(|sn| {
                    sn.columns.remove(4);
                }),
            ),
            ("patients_pkey", Box::new(|sn| sn.constraints.clear())),
            ("trigger", Box::new(|sn| sn.triggers.clear())),
        ];
        for (want, mutate) in cases {
            let mut sn = applied_snapshot();
            mutate(&mut sn);
            let v = verify(&s, &snaps(sn), &HashMap::new());
            assert!(!v.ok, "{want}: drift not caught");
            assert!(
                v.mismatches.iter().any(|m| m.contains(want)),
                "{want}: {:?}",
                v.mismatches
            );
        }
        let v = verify(&s, &HashMap::new(), &HashMap::new());
        assert_eq!(v.mismatches, ["table public.patients does not exist"]);
    }

    #[test]
    fn a_change_that_did_not_land_fails_with_the_deparsed_forms() {
        let (s, _, issues) = run(
            json!({"schema_version": "2", "description": "d", "tables": [{"name": "patients", "columns": [
                {"name": "first_name", "type": "text", "not_null": true, "default": "'x'"}],
                "checks": [{"name": "ck_len", "expression": "length(first_name) > 1"}]}]}),
            &MemCatalog::default(),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let mut sn = applied_snapshot();
        sn.columns[5].has_default = true;
        sn.columns[5].default = Some("'x'::text".into());
        sn.constraints.push(ConstraintSnapshot {
            name: "ck_len".into(),
            kind: 'c',
            definition: Some("CHECK ((length(first_name) > 1))".into()),
            ..Default::default()
        });
        let mut d = sn.declared.clone().unwrap_or_default();
        d.defaults.insert("first_name".into(), "'x'::text".into());
        d.checks
            .insert("ck_len".into(), "CHECK ((length(first_name) > 1))".into());
        let pred = sn.policies[0].using.clone();
        d.policy = Some((pred.clone(), pred));
        sn.declared = Some(d);
        let v = verify(&s, &snaps(sn.clone()), &HashMap::new());
        assert!(v.ok, "{:?}", v.mismatches);
        // the catalog still holds the old definitions
        let mut old = sn.clone();
        old.columns[5].default = Some("'y'::text".into());
        old.constraints[1].definition = Some("CHECK ((length(first_name) > 0))".into());
        old.policies[0].using = Some("true".into());
        let v = verify(&s, &snaps(old), &HashMap::new());
        assert_eq!(v.mismatches.len(), 3, "{:?}", v.mismatches);
        assert!(
            v.mismatches[0].contains("has default 'y'::text"),
            "{:?}",
            v.mismatches
        );
        assert!(
            v.mismatches[1].contains("check ck_len"),
            "{:?}",
            v.mismatches
        );
        assert!(
            v.mismatches[2].contains("tenant policy"),
            "{:?}",
            v.mismatches
        );
        // a leftover permissive policy is a mismatch too
        let mut extra = sn;
        extra.policies.push(PolicySnapshot {
            name: "all_rows".into(),
            command: '*',
            using: Some("true".into()),
            permissive: true,
            roles: vec!["public".into()],
            ..Default::default()
        });
        let v = verify(&s, &snaps(extra), &HashMap::new());
        assert!(
            v.mismatches.iter().any(|m| m.contains("all_rows")),
            "{:?}",
            v.mismatches
        );
    }

    #[test]
    fn what_evolution_removed_must_be_gone() {
        let (s, _, issues) = run(
            json!({"schema_version": "1", "description": "d", "drop_tables": ["old_stuff"],
                   "tables": [{"name": "patients", "renamed_from": "people", "drop_columns": ["fax"],
                               "drop_indexes": ["idx_fax"],
                               "columns": [{"name": "first_name", "type": "text", "not_null": true, "renamed_from": "fname"}]}]}),
            &MemCatalog::default(),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let v = verify(&s, &snaps(applied_snapshot()), &HashMap::new());
        assert!(v.ok, "{:?}", v.mismatches);
        let mut sn = applied_snapshot();
        sn.columns.push(ColumnSnapshot {
            name: "fax".into(),
            ..Default::default()
        });
        sn.columns.push(ColumnSnapshot {
            name: "fname".into(),
            ..Default::default()
        });
        sn.indexes.push(IndexSnapshot {
            name: "idx_fax".into(),
            ..Default::default()
        });
        let mut all = snaps(sn);
        all.insert(
            ("public".into(), "old_stuff".into()),
            TableSnapshot::default(),
        );
        all.insert(("public".into(), "people".into()), TableSnapshot::default());
        let v = verify(&s, &all, &HashMap::new());
        assert_eq!(
            v.mismatches,
            [
                "table public.old_stuff still exists",
                "table public.people (renamed) still exists",
                "column public.patients.fname (renamed) still exists",
                "column public.patients.fax (dropped) still exists",
                "index idx_fax on public.patients (dropped) still exists"
            ]
        );
    }
}
