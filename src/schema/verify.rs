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
use crate::schema::compare;
use crate::schema::model::*;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Verification {
    pub ok: bool,
    pub objects_checked: usize,
    pub mismatches: Vec<String>,
}

pub type Snapshots = HashMap<(String, String), TableSnapshot>;

/// The checks, in pipeline order: enums, then per table its existence, columns, keys, indexes,
/// trigger, RLS flags and tenant policy.
pub fn verify(
    s: &Schema,
    tables: &Snapshots,
    enums: &HashMap<(String, String), Vec<String>>,
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
        let cx = TableCheck { s, t, sn, q };
        cx.columns(&mut v);
        cx.keys(&mut v);
        cx.indexes(&mut v);
        cx.triggers(&mut v);
        cx.rls(&mut v);
        cx.policies(&mut v);
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
        // Exactly the values: evolution removes the ones the payload no longer lists.
        let ok = labels.is_some_and(|l| {
            e.values.iter().all(|x| l.contains(x)) && l.iter().all(|x| e.values.contains(x))
        });
        v.check(ok, || {
            format!(
                "enum {}.{} is missing or its values differ",
                e.schema.as_str(),
                e.name.as_str()
            )
        });
    }
}

/// One table of the schema and its snapshot.
struct TableCheck<'a> {
    s: &'a Schema,
    t: &'a Table,
    sn: &'a TableSnapshot,
    q: String,
}

impl TableCheck<'_> {
    fn keeps_own_pk(&self) -> bool {
        self.sn.column("id").is_none() && self.t.primary_key == [Name::from_catalog("id")]
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
            let want = c.sql_type.as_deref().unwrap_or_default();
            v.check(live.sql_type == want, || {
                format!(
                    "column {q}.{} is {} (schema says {want})",
                    c.name.as_str(),
                    live.sql_type
                )
            });
            if c.not_null {
                v.check(live.not_null, || {
                    format!("column {q}.{} is not NOT NULL", c.name.as_str())
                });
            }
            let d = sn.declared.as_ref();
            let adopted = c.auto && !(t.tenant_scoped && c.name == self.s.options.tenant_column);
            if c.generated.is_none() && !adopted {
                // the same comparison as plan's: deparsed defaults when the spec side was deparsed
                let ok = match compare::default_matches(c, live, d) {
                    Some(ok) => ok,
                    None => live.has_default == c.default.is_some(),
                };
                v.check(ok, || {
                    format!(
                        "column {q}.{} has default {} (schema says {})",
                        c.name.as_str(),
                        live.default.as_deref().unwrap_or("none"),
                        c.default.as_deref().unwrap_or("none")
                    )
                });
            } else if c.default.is_some() {
                v.check(live.has_default, || {
                    format!("column {q}.{} has no default", c.name.as_str())
                });
            }
            v.check(
                compare::generated_matches(c, live, d) != Some(false),
                || {
                    format!(
                        "column {q}.{} is generated as {} (schema says {})",
                        c.name.as_str(),
                        live.expression.as_deref().unwrap_or("nothing"),
                        c.generated.as_deref().unwrap_or("nothing")
                    )
                },
            );
            v.check(compare::comment_matches(&c.comment, &live.comment), || {
                format!("column {q}.{} has another comment", c.name.as_str())
            });
        }
    }

    fn keys(&self, v: &mut Verification) {
        let (t, sn, q) = (self.t, self.sn, &self.q);
        let constraint = |name: &Name, v: &mut Verification| {
            v.check(sn.has_constraint(name.as_str()), || {
                format!("constraint {} on {q} does not exist", name.as_str())
            })
        };
        let auto_pk = t.primary_key == [Name::from_catalog("id")]
            && t.column(&t.primary_key[0]).is_some_and(|c| c.auto);
        if auto_pk && sn.primary_key().is_some() {
            // an existing table keeps the primary key it has
            v.check(true, String::new);
        } else if !t.primary_key.is_empty() && !self.keeps_own_pk() {
            constraint(&t.pk_name(), v);
        }
        for u in &t.uniques {
            constraint(&u.name, v);
            v.check(compare::unique_matches(u, sn) != Some(false), || {
                format!(
                    "unique key {} on {q} is not UNIQUE on the declared columns",
                    u.name.as_str()
                )
            });
        }
        let d = sn.declared.as_ref();
        for c in &t.checks {
            constraint(&c.name, v);
            v.check(compare::check_matches(c, sn, d) != Some(false), || {
                format!(
                    "check {} on {q} is {} (schema says {})",
                    c.name.as_str(),
                    sn.constraint(c.name.as_str())
                        .and_then(|x| x.definition.as_deref())
                        .unwrap_or("-"),
                    c.expression
                )
            });
        }
        for f in &t.foreign_keys {
            constraint(&f.name, v);
            v.check(
                compare::fk_matches(f, &self.s.options, sn) != Some(false),
                || {
                    format!(
                        "foreign key {} on {q} has other columns, target or actions than the schema says",
                        f.name.as_str()
                    )
                },
            );
        }
        v.check(compare::comment_matches(&t.comment, &sn.comment), || {
            format!("table {q} has another comment")
        });
    }

    fn indexes(&self, v: &mut Verification) {
        for x in &self.t.indexes {
            let ok = compare::index_matches(x, self.sn, self.sn.declared.as_ref());
            v.check(ok == Some(true), || {
                format!(
                    "index {} on {} is missing or defined otherwise ({})",
                    x.name.as_str(),
                    self.q,
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
            let ok = self
                .sn
                .triggers
                .iter()
                .any(|n| n == Table::trigger_name().as_str());
            v.check(ok, || {
                format!(
                    "trigger {} on {} does not exist",
                    Table::trigger_name().as_str(),
                    self.q
                )
            });
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
        if !(self.t.rls && self.t.tenant_scoped) {
            return;
        }
        let ok = compare::policy_matches(self.sn, self.sn.declared.as_ref());
        v.check(ok == Some(true), || {
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
        TableSnapshot {
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
        }
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
                Box::new(|sn| sn.indexes[2].columns = vec!["created_at".into()]),
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
                Box::new(|sn| sn.columns[1].has_default = false),
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
        let mut d = Declared::default();
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
