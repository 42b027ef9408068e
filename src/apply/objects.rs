//! The schema objects beside tables, as the database shows them (issue 25): their live forms,
//! their declared forms (the declared statements run on the live object in a subtransaction that
//! is always rolled back, then deparsed by the same query), the extensions a payload needs, the
//! types its extensions and domains bring for validation, and the check after the DDL.
//!
//! Everything runs as the caller, under revos's pinned search_path (the statements) or
//! `pg_catalog, pg_temp` (the deparse queries, so that every name comes back qualified). Every
//! statement is announced to the drift capture as revos's own (`own_statement`); nothing of a
//! trial survives it.

use pgrx::prelude::*;

use super::pg_catalog::{
    restore_search_path, rolled_back, subtransaction, with_catalog_search_path,
};
use crate::error::{code, Issue};
use crate::ledger::writer::own_statement;
use crate::schema::catalog::CatalogState;
use crate::schema::model::{Catalog as _, Schema, Table};
use crate::schema::objects::{ForeignPolicy, Kind, Object, ObjectState};
use crate::schema::steps::Plan;
use crate::schema::verify::Verification;

/// One text (or NULL) from a deparse query, under `pg_catalog, pg_temp`.
fn deparse(sql: &str) -> Result<Option<String>, String> {
    let saved = with_catalog_search_path();
    let r = subtransaction(|| Spi::get_one::<String>(sql));
    restore_search_path(saved);
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(pgrx::spi::SpiError::InvalidPosition)) => Ok(None),
        Ok(Err(e)) => Err(e.to_string()),
        Err((m, s)) => Err(format!("{m} (SQLSTATE {s})")),
    }
}

/// The live names an object's `names` query reads (`text[]`), under `pg_catalog, pg_temp`. An
/// error is never "none": the declared statements would then leave the live object as it is, and
/// the trial would call it the declared form.
fn names(sql: &str) -> Result<Vec<String>, String> {
    let saved = with_catalog_search_path();
    let r = subtransaction(|| Spi::get_one::<Vec<String>>(sql));
    restore_search_path(saved);
    match r {
        Ok(Ok(v)) => Ok(v.unwrap_or_default()),
        Ok(Err(e)) => Err(format!("what it holds could not be read: {e}")),
        Err((m, s)) => Err(format!(
            "what it holds could not be read: {m} (SQLSTATE {s})"
        )),
    }
}

/// `o`'s live names, none when it has no `names` query.
fn live_names(o: &Object) -> Result<Vec<String>, String> {
    o.names.as_deref().map_or(Ok(vec![]), names)
}

/// What `o`'s `kept_after` query reads: statements that keep, after its replacement, what the
/// replacement resets (none when it has no such query).
fn kept_statements(o: &Object) -> Result<Vec<String>, String> {
    o.kept_after.as_deref().map_or(Ok(vec![]), names)
}

/// `f`'s queries under a snapshot taken now, the command counter advanced: a query in a fresh
/// subtransaction (`deparse`, `names`) runs read-only (pgrx: no transaction id of its own yet)
/// under the active snapshot, which misses what ran since it was taken — a function called during
/// the apply (contract §11) that changed a policy after revos's last statement.
fn as_now<R>(f: impl FnOnce() -> R) -> R {
    unsafe {
        pg_sys::CommandCounterIncrement();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        pg_sys::UpdateActiveSnapshotCommandId();
    }
    let r = f();
    unsafe {
        pg_sys::PopActiveSnapshot();
    }
    r
}

/// Runs revos's own statement (announced to the drift capture); raises on error.
fn run(sql: &str) {
    own_statement(|| Spi::run(sql)).unwrap_or_else(|e| pgrx::error!("{e}"));
}

/// The object's statements run on it in a rolled-back subtransaction, then its deparse.
fn trial(o: &Object, statements: &[String]) -> Result<Option<String>, String> {
    let r = rolled_back(|| {
        if o.function_body {
            Spi::run("SET LOCAL check_function_bodies = off").ok();
        }
        for sql in statements {
            run(sql);
        }
        deparse(&o.deparse)
    });
    match r {
        Ok(v) => v,
        Err((m, s)) => Err(format!("{m} (SQLSTATE {s})")),
    }
}

/// Fills `state.objects` and `state.schemas`; returns what blocks the payload (an extension the
/// server does not have, or that the caller may not create).
pub fn read(s: &Schema, state: &mut CatalogState) -> Vec<Issue> {
    let mut issues = vec![];
    if s.objects.is_empty() && s.tables.iter().all(|t| t.schema.as_str() == "public") {
        return issues;
    }
    state.schemas = existing_schemas(s);
    for o in &s.objects {
        let mut st = ObjectState::default();
        match deparse(&o.deparse) {
            Ok(live) => st.live = live,
            Err(why) => {
                // the live form cannot be read: never equal
                st.live = Some(String::new());
                st.declared = Some(Err(why));
                state.objects.insert(o.key.clone(), st);
                continue;
            }
        }
        if o.tenant_partition && st.live.is_some() {
            match foreign_policies(o) {
                Ok(f) => st.foreign = f,
                Err(why) => st.foreign_unread = Some(why),
            }
        }
        if st.live.is_none() {
            if o.kind == Kind::Extension {
                issues.extend(extension_allowed(o));
            }
            if let Some(q) = &o.names_if_created {
                match names(q) {
                    Ok(n) => st.names = n,
                    Err(why) => st.declared = Some(Err(why)),
                }
            }
        } else if o.expected.is_none() {
            let read = live_names(o).and_then(|n| Ok((n, kept_statements(o)?)));
            (st.names, st.kept) = match read {
                Ok(n) => n,
                Err(why) => {
                    st.declared = Some(Err(why));
                    state.objects.insert(o.key.clone(), st);
                    continue;
                }
            };
            st.declared = Some(
                match trial(o, &o.change_statements(&st.names, &st.kept, false)) {
                    Ok(Some(form)) => Ok(form),
                    Ok(None) => Err("it was gone after its declared statements ran".into()),
                    Err(why) if !o.recreate.is_empty() => match trial(o, &o.recreate) {
                        Ok(Some(form)) => {
                            st.recreate = true;
                            Ok(form)
                        }
                        Ok(None) => Err(why),
                        Err(again) => Err(format!("{why}; dropped and created: {again}")),
                    },
                    Err(why) => Err(why),
                },
            );
        }
        state.objects.insert(o.key.clone(), st);
    }
    issues
}

/// The policies on tenant partition `o` (`Object::tenant_partition`) other than revos's tenant
/// policy — partitions have no declared policies of their own — read under `pg_catalog, pg_temp`.
fn foreign_policies(o: &Object) -> Result<Vec<ForeignPolicy>, String> {
    let Some((schema, table)) = &o.table else {
        return Ok(vec![]);
    };
    let rel = format!("{schema}.{table}");
    let saved = with_catalog_search_path();
    let r = subtransaction(|| {
        Spi::connect(|c| {
            let rows = c.select(
                "SELECT p.polname::text, p.polpermissive, pg_catalog.pg_get_expr(p.polqual, p.polrelid)
                   FROM pg_catalog.pg_policy p
                  WHERE p.polrelid = pg_catalog.to_regclass($1) AND p.polname OPERATOR(pg_catalog.<>) $2
                  ORDER BY p.polname",
                None,
                &[rel.as_str().into(), Table::policy_name().as_str().into()],
            )?;
            let mut out = vec![];
            for row in rows {
                out.push(ForeignPolicy {
                    name: row.get::<String>(1)?.unwrap_or_default(),
                    permissive: row.get::<bool>(2)?.unwrap_or(true),
                    using: row.get::<String>(3)?,
                });
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
    });
    restore_search_path(saved);
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("its policies could not be read: {e}")),
        Err((m, s)) => Err(format!(
            "its policies could not be read: {m} (SQLSTATE {s})"
        )),
    }
}

/// The schemas that exist, of those the payload names.
fn existing_schemas(s: &Schema) -> std::collections::HashSet<String> {
    let mut named: Vec<String> = s
        .tables
        .iter()
        .map(|t| t.schema.as_str().to_string())
        .collect();
    named.extend(s.enums.iter().map(|e| e.schema.as_str().to_string()));
    named.extend(
        s.objects
            .iter()
            .filter_map(|o| o.schema.as_ref())
            .map(|n| n.as_str().to_string()),
    );
    let found: Option<Vec<String>> = Spi::get_one_with_args(
        "SELECT pg_catalog.array_agg(nspname::text) FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)",
        &[named.into()],
    )
    .ok()
    .flatten();
    found.unwrap_or_default().into_iter().collect()
}

/// An extension that is not installed: the server must have it, and the caller must be allowed
/// to create it (a superuser, or a trusted extension and CREATE on the database).
fn extension_allowed(o: &Object) -> Option<Issue> {
    let name = o.key.trim_start_matches("extension ");
    let row: Result<Option<(Option<bool>, Option<bool>)>, _> = Spi::connect(|c| {
        let t = c.select(
            "SELECT bool_or(v.trusted), (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
               FROM pg_catalog.pg_available_extension_versions v WHERE v.name = $1 HAVING count(*) > 0",
            None,
            &[name.into()],
        )?;
        Ok::<_, pgrx::spi::Error>(t.first().get_two::<bool, bool>().ok())
    });
    let why = match row {
        Ok(None) => format!("the server has no extension {name:?} (pg_available_extensions)"),
        Ok(Some((trusted, superuser))) => {
            if superuser == Some(true) || trusted == Some(true) {
                return None;
            }
            format!("extension {name:?} is not trusted: only a superuser can create it (ask one to CREATE EXTENSION {name}, then apply)")
        }
        Err(e) => format!("the available extensions could not be read: {e}"),
    };
    Some(Issue::new(
        format!("{}.name", o.path),
        code::INVALID_VALUE,
        why,
    ))
}

/// `validate`, then the objects' own checks (`schema::objects::check`), with the payload's new
/// extensions and domains in place (see [`with_declared_types`]): the types and index methods
/// they bring resolve.
pub fn validated(
    s: &mut Schema,
    cat: &crate::apply::pg_catalog::PgCatalog,
) -> (Vec<Issue>, CatalogState) {
    let declared = s.clone();
    // no trial object goes into a schema another role owns (an extension's script runs as the
    // caller, with that schema first on its search_path: the eighth adversarial review, X); the
    // validation step says why the payload is refused
    // (nor into a schema another role may create in on an extension's script's search_path: its
    // own, X', or a required extension's, F2)
    let homes = crate::schema::trusted_names::homes(s);
    let extension_homes = crate::schema::trusted_names::extension_homes(s);
    let untrusted: Vec<String> = homes
        .iter()
        .filter(|(_, schema)| cat.untrusted_schema(schema).is_err())
        .map(|(_, schema)| *schema)
        .chain(
            extension_homes
                .iter()
                .filter(|(_, schema, name)| {
                    crate::schema::trusted_names::untrusted_extension_path(cat, schema, name)
                        .is_err()
                })
                .map(|(_, schema, _)| *schema),
        )
        .map(str::to_string)
        .collect();
    with_declared_types(&declared, &untrusted, cat, || {
        let (mut issues, state) = crate::schema::validate::validate(s, cat);
        crate::schema::objects::check::validate(s, cat, &mut issues);
        (issues, state)
    })
}

/// Whether the schemas on extension `o`'s script's search_path hold only what trusted roles control,
/// read now (`schema::trusted_names::untrusted_extension_path`, under the latest snapshot).
fn trial_path_trusted(o: &Object, cat: &crate::apply::pg_catalog::PgCatalog) -> bool {
    let name = o.key.strip_prefix("extension ").unwrap_or(&o.key);
    let Some(home) = o.schema.as_ref() else {
        return false;
    };
    cat.untrusted_schema(home.as_str()).is_ok()
        && crate::schema::trusted_names::untrusted_extension_path(cat, home.as_str(), name).is_ok()
}

/// Runs `f` with the payload's new extensions and domains created in a subtransaction that is
/// always rolled back, so that the types they bring resolve while the payload is validated (the
/// apply creates them for real). One that cannot be created is left out (validation then says
/// why: the extension's availability, the type).
pub fn with_declared_types<R>(
    s: &Schema,
    untrusted: &[String],
    cat: &crate::apply::pg_catalog::PgCatalog,
    f: impl FnOnce() -> R,
) -> R {
    let new: Vec<&Object> = s
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Extension | Kind::Domain))
        .filter(|o| {
            o.schema
                .as_ref()
                .is_none_or(|n| !untrusted.iter().any(|u| u == n.as_str()))
        })
        .filter(|o| matches!(deparse(&o.deparse), Ok(None)))
        .collect();
    if new.is_empty() {
        return f();
    }
    let mut f = Some(f);
    let r = rolled_back(|| {
        for o in &new {
            if let Some(sc) = &o.schema {
                let _ = subtransaction(|| run(&format!("CREATE SCHEMA IF NOT EXISTS {sc}")));
            }
            // as the catalog is now: a statement before this one may have waited for another
            // role's transaction that installed a required extension, or this one, or the schema
            // (the fifteenth adversarial review, H1); the extension's script would run as the caller
            if matches!(o.kind, Kind::Extension) && !trial_path_trusted(o, cat) {
                continue;
            }
            for sql in &o.create {
                let _ = subtransaction(|| run(sql));
            }
        }
        (f.take().expect("once"))()
    });
    match r {
        Ok(v) => v,
        Err(_) => (f.take().expect("not run when the trial failed"))(),
    }
}

/// After the DDL: every object as the plan expects it (the declared form where it was compared,
/// present where it was created — and, for what fences rows (a declared policy, a tenant
/// partition), compared in full there too: a function called during the apply may have changed
/// it, contract §11), no undeclared PERMISSIVE policy on a tenant partition, and every declared
/// function's body validated by its language.
pub fn verify(s: &Schema, p: &Plan, v: &mut Verification) {
    for o in &s.objects {
        let now = as_now(|| deparse(&o.deparse));
        match (p.object_forms.get(&o.key), now) {
            (_, Err(why)) => v.check(false, || format!("{} could not be read: {why}", o.label)),
            (Some(Some(want)), Ok(Some(have))) => v.check(&have == want, || {
                format!("{} differs from its declaration after apply", o.label)
            }),
            (_, Ok(Some(have)))
                if matches!(o.kind, Kind::Policy | Kind::Partition | Kind::Grants) =>
            {
                // created by this apply: its declared form is what its declared statements make
                // of it now (the same trial as for an existing object), never "as created" (grants:
                // a default privilege or an event trigger may have given it more)
                let statements = as_now(|| live_names(o)).map(|n| o.change_statements(&n, &[], false));
                match statements.and_then(|st| trial(o, &st)) {
                    Ok(Some(want)) => v.check(have == want, || {
                        format!(
                            "{} differs from its declaration after apply (it is {have}; declared {want})",
                            o.label
                        )
                    }),
                    Ok(None) => v.check(false, || {
                        format!("{} could not be compared: gone after its declared statements ran", o.label)
                    }),
                    Err(why) => v.check(false, || {
                        format!("{} could not be compared: {why}", o.label)
                    }),
                }
            }
            // created by this apply: a form known without PostgreSQL (an extension, a schema) is
            // compared with it — an extension's own event trigger's GRANT (Supabase's, after CREATE
            // EXTENSION pg_net) does not fail it (the review of 523b683, 1)
            (_, Ok(Some(have))) if o.expected.is_some() => v.check(Some(&have) == o.expected.as_ref(), || {
                format!("{} differs from its declaration after apply (it is {have})", o.label)
            }),
            (_, Ok(have)) => match crate::ledger::writer::foreign_ddl() {
                // checked for presence — unless other DDL ran during the apply (a function may have
                // replaced what the apply had just made: the review of 55e129f, F1)
                Some(tag) if have.is_some() => v.check(false, || {
                    format!(
                        "{} could not be compared: {tag} that revos did not plan ran during the apply, so what it created is not taken as declared",
                        o.label
                    )
                }),
                _ => v.check(have.is_some(), || format!("{} does not exist", o.label)),
            },
        }
        if o.tenant_partition {
            match as_now(|| foreign_policies(o)) {
                Ok(f) => {
                    for fp in f.iter().filter(|f| f.permissive) {
                        v.check(false, || {
                            format!(
                                "{} still has the PERMISSIVE policy {} that the schema does not declare",
                                o.label, fp.name
                            )
                        });
                    }
                }
                Err(why) => v.check(false, || format!("{}: {why}", o.label)),
            }
        }
        if o.kind == Kind::Function {
            if let Err(why) = validate_body(o) {
                v.check(false, || {
                    format!("{}: its body is not valid: {why}", o.label)
                });
            }
        }
    }
}

/// Calls the function's language validator with `check_function_bodies` on (it was created with
/// it off, as pg_dump does): a body that names what does not exist fails the apply here.
fn validate_body(o: &Object) -> Result<(), String> {
    let key = o.key.trim_start_matches("function ");
    let Some((schema, name)) = key.split_once('.') else {
        return Ok(());
    };
    let saved: Option<String> =
        Spi::get_one("SELECT pg_catalog.current_setting('check_function_bodies')")
            .ok()
            .flatten();
    let r = subtransaction(|| {
        Spi::run("SELECT pg_catalog.set_config('check_function_bodies', 'on', true)").ok();
        // each body is read under the search_path it runs with (its own SET search_path), not
        // revos's: that is how it resolves names when called
        let fns: Vec<(pg_sys::Oid, pg_sys::Oid, Option<String>)> = Spi::connect(|c| {
            let t = c.select(
                "SELECT p.oid, l.lanvalidator, (SELECT pg_catalog.substr(x, 13) FROM pg_catalog.unnest(p.proconfig) x WHERE x LIKE 'search_path=%')
                   FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                  WHERE p.proname = $2 AND p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)",
                None,
                &[schema.into(), name.into()],
            )?;
            let mut out = vec![];
            for row in t {
                if let (Some(f), Some(val)) = (row.get::<pg_sys::Oid>(1)?, row.get::<pg_sys::Oid>(2)?) {
                    out.push((f, val, row.get::<String>(3)?));
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
        .unwrap_or_default();
        let pinned: Option<String> =
            Spi::get_one("SELECT pg_catalog.current_setting('search_path')")
                .ok()
                .flatten();
        for (f, validator, path) in fns {
            if validator == pg_sys::InvalidOid {
                continue;
            }
            if let Some(p) = &path {
                Spi::run_with_args(
                    "SELECT pg_catalog.set_config('search_path', $1, true)",
                    &[p.as_str().into()],
                )
                .ok();
            }
            unsafe {
                pg_sys::OidFunctionCall1Coll(validator, pg_sys::InvalidOid, pg_sys::Datum::from(f));
            }
            restore_search_path(pinned.clone());
        }
    });
    Spi::run_with_args(
        "SELECT pg_catalog.set_config('check_function_bodies', $1, true)",
        &[saved.unwrap_or_else(|| "on".into()).into()],
    )
    .ok();
    r.map_err(|(m, s)| format!("{m} (SQLSTATE {s})"))
}
