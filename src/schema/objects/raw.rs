//! Stage 1 for the schema objects beside tables (issue 25): the payload's `extensions`,
//! `schemas`, `sequences`, `domains`, `functions`, `aggregates`, `views`, `triggers`, and a table's
//! `policies` and `grants`, read into typed structs. Every problem is an issue with its path;
//! unknown keys are errors, as everywhere in the format.

use serde_json::{Map, Value};

use crate::schema::spec::Reader;

pub const EXTENSION_KEYS: &[&str] = &["name", "schema", "version"];
pub const SCHEMA_DECL_KEYS: &[&str] = &["name", "grants"];
pub const SEQUENCE_KEYS: &[&str] = &[
    "name",
    "schema",
    "type",
    "start",
    "increment",
    "min",
    "max",
    "cache",
    "cycle",
    "grants",
];
pub const DOMAIN_KEYS: &[&str] = &[
    "name",
    "schema",
    "type",
    "not_null",
    "default",
    "collation",
    "checks",
];
pub const DOMAIN_CHECK_KEYS: &[&str] = &["name", "expression"];
pub const FUNCTION_KEYS: &[&str] = &[
    "name",
    "schema",
    "arguments",
    "returns",
    "language",
    "body",
    "volatility",
    "strict",
    "parallel",
    "security_definer",
    "search_path",
    "grants",
    "comment",
];
pub const AGGREGATE_KEYS: &[&str] = &[
    "name",
    "schema",
    "arguments",
    "sfunc",
    "stype",
    "finalfunc",
    "initcond",
    "grants",
];
pub const VIEW_KEYS: &[&str] = &[
    "name",
    "schema",
    "query",
    "materialized",
    "security_invoker",
    "with_data",
    "indexes",
    "grants",
    "comment",
];
pub const VIEW_INDEX_KEYS: &[&str] = &["name", "columns", "unique", "method"];
pub const TRIGGER_KEYS: &[&str] = &[
    "name",
    "table",
    "timing",
    "events",
    "update_of",
    "level",
    "function",
    "arguments",
    "when",
];
pub const POLICY_KEYS: &[&str] = &[
    "name",
    "command",
    "roles",
    "permissive",
    "using",
    "with_check",
];
pub const GRANT_KEYS: &[&str] = &["to", "privileges"];
pub const PARTITION_BY_KEYS: &[&str] = &["method", "columns"];
pub const PARTITION_KEYS: &[&str] = &["name", "values", "indexes", "foreign_keys"];
pub const PARTITION_FK_KEYS: &[&str] = &["name", "columns", "references", "on_delete", "on_update"];
pub const PARTITION_FK_REF_KEYS: &[&str] = &["table", "columns"];

#[derive(Debug, Clone, Default)]
pub struct RawGrant {
    pub path: String,
    pub to: Vec<String>,
    pub privileges: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawExtension {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawSchemaDecl {
    pub path: String,
    pub name: String,
    pub grants: Option<Vec<RawGrant>>,
}

#[derive(Debug, Clone, Default)]
pub struct RawSequence {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub type_: Option<String>,
    pub start: Option<i64>,
    pub increment: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub cache: Option<i64>,
    pub cycle: bool,
    pub grants: Option<Vec<RawGrant>>,
}

#[derive(Debug, Clone, Default)]
pub struct RawDomainCheck {
    pub path: String,
    pub name: Option<String>,
    pub expression: String,
}

#[derive(Debug, Clone, Default)]
pub struct RawDomain {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub type_: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub collation: Option<String>,
    pub checks: Vec<RawDomainCheck>,
}

#[derive(Debug, Clone, Default)]
pub struct RawFunction {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub arguments: String,
    pub returns: String,
    pub language: String,
    pub body: String,
    pub volatility: Option<String>,
    pub strict: bool,
    pub parallel: Option<String>,
    pub security_definer: bool,
    pub search_path: Option<Vec<String>>,
    pub grants: Option<Vec<RawGrant>>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawAggregate {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub arguments: String,
    pub sfunc: String,
    pub stype: String,
    pub finalfunc: Option<String>,
    pub initcond: Option<String>,
    pub grants: Option<Vec<RawGrant>>,
}

#[derive(Debug, Clone, Default)]
pub struct RawViewIndex {
    pub path: String,
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawView {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub query: String,
    pub materialized: bool,
    pub security_invoker: Option<bool>,
    pub with_data: Option<bool>,
    pub indexes: Vec<RawViewIndex>,
    pub grants: Option<Vec<RawGrant>>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawTrigger {
    pub path: String,
    pub name: String,
    pub table: String,
    pub timing: String,
    pub events: Vec<String>,
    pub update_of: Vec<String>,
    pub level: Option<String>,
    pub function: String,
    pub arguments: Vec<String>,
    pub when: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawPolicy {
    pub path: String,
    pub name: String,
    pub command: Option<String>,
    pub roles: Option<Vec<String>>,
    pub permissive: Option<bool>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

/// Everything of this module a payload holds.
#[derive(Debug, Clone, Default)]
pub struct RawObjects {
    pub extensions: Vec<RawExtension>,
    pub schemas: Vec<RawSchemaDecl>,
    pub sequences: Vec<RawSequence>,
    pub domains: Vec<RawDomain>,
    pub functions: Vec<RawFunction>,
    pub aggregates: Vec<RawAggregate>,
    pub views: Vec<RawView>,
    pub triggers: Vec<RawTrigger>,
}

/// A table's `policies`, `grants`, `partition_by` and `partitions`.
#[derive(Debug, Clone, Default)]
pub struct RawTableObjects {
    pub policies: Vec<RawPolicy>,
    pub grants: Option<Vec<RawGrant>>,
    pub partition_by: Option<RawPartitionBy>,
    pub partitions: Vec<RawPartition>,
}

#[derive(Debug, Clone, Default)]
pub struct RawPartitionBy {
    pub path: String,
    pub method: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawPartitionFk {
    pub path: String,
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub table: String,
    pub ref_columns: Vec<String>,
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawPartition {
    pub path: String,
    pub name: String,
    pub values: String,
    pub indexes: Vec<RawViewIndex>,
    pub foreign_keys: Vec<RawPartitionFk>,
}

/// One object of a list, its keys checked, read through small typed getters.
struct Fields<'r, 'i, 'v> {
    r: &'r mut Reader<'i>,
    obj: &'v Map<String, Value>,
    path: String,
}

impl<'r, 'i, 'v> Fields<'r, 'i, 'v> {
    fn open(
        r: &'r mut Reader<'i>,
        v: &'v Value,
        path: String,
        keys: &[&str],
    ) -> Option<Fields<'r, 'i, 'v>> {
        let obj = r.object(v, &path)?;
        r.known_keys(obj, &path, keys);
        Some(Fields { r, obj, path })
    }
    fn at(&self, k: &str) -> String {
        format!("{}.{k}", self.path)
    }
    fn req(&mut self, k: &str) -> String {
        let p = self.at(k);
        self.r.req_string(self.obj, k, p).unwrap_or_default()
    }
    fn opt(&mut self, k: &str) -> Option<String> {
        let p = self.at(k);
        self.r.string(self.obj.get(k), p)
    }
    fn flag(&mut self, k: &str) -> Option<bool> {
        let p = self.at(k);
        self.r.boolean(self.obj.get(k), p)
    }
    fn expr(&mut self, k: &str) -> Option<String> {
        let p = self.at(k);
        self.r.scalar_text(self.obj.get(k), p)
    }
    fn int(&mut self, k: &str) -> Option<i64> {
        let v = self.obj.get(k)?;
        match v {
            Value::Null => None,
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            other => {
                let p = self.at(k);
                self.r.wrong(p, "an integer", other);
                None
            }
        }
    }
    fn list(&mut self, k: &str) -> Option<Vec<String>> {
        let p = self.at(k);
        self.obj.get(k).filter(|v| !v.is_null())?;
        Some(self.r.string_list(self.obj.get(k), p))
    }
    fn items(&mut self, k: &str) -> Vec<(&'v Value, String)> {
        let p = self.at(k);
        match self.r.array(self.obj.get(k), &p) {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (v, format!("{p}[{i}]")))
                .collect(),
            None => vec![],
        }
    }
    fn grants(&mut self) -> Option<Vec<RawGrant>> {
        self.obj.get("grants").filter(|v| !v.is_null())?;
        let items = self.items("grants");
        Some(
            items
                .into_iter()
                .filter_map(|(v, p)| read_grant(self.r, v, p))
                .collect(),
        )
    }
}

fn read_grant(r: &mut Reader, v: &Value, path: String) -> Option<RawGrant> {
    let mut f = Fields::open(r, v, path.clone(), GRANT_KEYS)?;
    let to = f.list("to");
    let privileges = f.list("privileges");
    if to.is_none() {
        f.r.missing(f.at("to"));
    }
    if privileges.is_none() {
        f.r.missing(f.at("privileges"));
    }
    Some(RawGrant {
        path,
        to: to.unwrap_or_default(),
        privileges: privileges.unwrap_or_default(),
    })
}

/// The items of the array at `obj[key]`, each with its path (`{path}[i]`); none when absent or
/// null (a value that is not an array is reported).
fn indexed(
    r: &mut Reader,
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Vec<(Value, String)> {
    match r.array(obj.get(key), path) {
        Some(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), format!("{path}[{i}]")))
            .collect(),
        None => vec![],
    }
}

/// Reads the top-level object keys of a schema (as `spec` kept them).
pub fn read(r: &mut Reader, obj: &Map<String, Value>) -> RawObjects {
    let mut o = RawObjects::default();
    let list = |r: &mut Reader, k: &str| indexed(r, obj, k, k);
    for (v, p) in list(r, "extensions") {
        o.extensions.extend(read_extension(r, &v, p));
    }
    for (v, p) in list(r, "schemas") {
        if let Some(mut f) = Fields::open(r, &v, p.clone(), SCHEMA_DECL_KEYS) {
            let name = f.req("name");
            let grants = f.grants();
            o.schemas.push(RawSchemaDecl {
                path: p,
                name,
                grants,
            });
        }
    }
    for (v, p) in list(r, "sequences") {
        o.sequences.extend(read_sequence(r, &v, p));
    }
    for (v, p) in list(r, "domains") {
        o.domains.extend(read_domain(r, &v, p));
    }
    for (v, p) in list(r, "functions") {
        o.functions.extend(read_function(r, &v, p));
    }
    for (v, p) in list(r, "aggregates") {
        o.aggregates.extend(read_aggregate(r, &v, p));
    }
    for (v, p) in list(r, "views") {
        o.views.extend(read_view(r, &v, p));
    }
    for (v, p) in list(r, "triggers") {
        o.triggers.extend(read_trigger(r, &v, p));
    }
    o
}

/// Reads a table's `policies` and `grants`.
pub fn read_table(r: &mut Reader, obj: &Map<String, Value>, path: &str) -> RawTableObjects {
    let mut t = RawTableObjects::default();
    let pp = format!("{path}.policies");
    let items = indexed(r, obj, "policies", &pp);
    for (v, p) in items {
        if let Some(mut f) = Fields::open(r, &v, p.clone(), POLICY_KEYS) {
            t.policies.push(RawPolicy {
                name: f.req("name"),
                command: f.opt("command"),
                roles: f.list("roles"),
                permissive: f.flag("permissive"),
                using: f.opt("using"),
                with_check: f.opt("with_check"),
                path: p,
            });
        }
    }
    if let Some(v) = obj.get("partition_by").filter(|v| !v.is_null()) {
        let pp = format!("{path}.partition_by");
        if let Some(mut f) = Fields::open(r, v, pp.clone(), PARTITION_BY_KEYS) {
            let columns = f.list("columns");
            if columns.is_none() {
                f.r.missing(f.at("columns"));
            }
            t.partition_by = Some(RawPartitionBy {
                method: f.req("method"),
                columns: columns.unwrap_or_default(),
                path: pp,
            });
        }
    }
    let pp = format!("{path}.partitions");
    let items = indexed(r, obj, "partitions", &pp);
    for (v, p) in items {
        t.partitions.extend(read_partition(r, &v, p));
    }
    if obj.get("grants").is_some_and(|v| !v.is_null()) {
        let gp = format!("{path}.grants");
        let items = indexed(r, obj, "grants", &gp);
        t.grants = Some(
            items
                .into_iter()
                .filter_map(|(v, p)| read_grant(r, &v, p))
                .collect(),
        );
    }
    t
}

fn read_view_index(r: &mut Reader, v: &Value, path: String) -> Option<RawViewIndex> {
    let mut x = Fields::open(r, v, path.clone(), VIEW_INDEX_KEYS)?;
    let columns = x.list("columns");
    if columns.is_none() {
        x.r.missing(x.at("columns"));
    }
    Some(RawViewIndex {
        name: x.req("name"),
        columns: columns.unwrap_or_default(),
        unique: x.flag("unique").unwrap_or(false),
        method: x.opt("method"),
        path,
    })
}

fn read_partition(r: &mut Reader, v: &Value, path: String) -> Option<RawPartition> {
    let mut f = Fields::open(r, v, path.clone(), PARTITION_KEYS)?;
    let mut p = RawPartition {
        name: f.req("name"),
        values: f.req("values"),
        path,
        ..Default::default()
    };
    for (xv, xp) in f.items("indexes") {
        p.indexes.extend(read_view_index(f.r, xv, xp));
    }
    for (kv, kp) in f.items("foreign_keys") {
        let Some(mut k) = Fields::open(f.r, kv, kp.clone(), PARTITION_FK_KEYS) else {
            continue;
        };
        let columns = k.list("columns").unwrap_or_default();
        let (mut table, mut ref_columns) = (String::new(), vec![]);
        match k.obj.get("references") {
            Some(rv) => {
                if let Some(mut rf) =
                    Fields::open(k.r, rv, k.at("references"), PARTITION_FK_REF_KEYS)
                {
                    table = rf.req("table");
                    ref_columns = rf.list("columns").unwrap_or_default();
                }
            }
            None => k.r.missing(k.at("references")),
        }
        p.foreign_keys.push(RawPartitionFk {
            name: k.opt("name"),
            columns,
            table,
            ref_columns,
            on_delete: k.opt("on_delete"),
            on_update: k.opt("on_update"),
            path: kp,
        });
    }
    Some(p)
}

fn read_extension(r: &mut Reader, v: &Value, path: String) -> Option<RawExtension> {
    let mut f = Fields::open(r, v, path.clone(), EXTENSION_KEYS)?;
    Some(RawExtension {
        name: f.req("name"),
        schema: f.opt("schema"),
        version: f.opt("version"),
        path,
    })
}

fn read_sequence(r: &mut Reader, v: &Value, path: String) -> Option<RawSequence> {
    let mut f = Fields::open(r, v, path.clone(), SEQUENCE_KEYS)?;
    Some(RawSequence {
        name: f.req("name"),
        schema: f.opt("schema"),
        type_: f.opt("type"),
        start: f.int("start"),
        increment: f.int("increment"),
        min: f.int("min"),
        max: f.int("max"),
        cache: f.int("cache"),
        cycle: f.flag("cycle").unwrap_or(false),
        grants: f.grants(),
        path,
    })
}

fn read_domain(r: &mut Reader, v: &Value, path: String) -> Option<RawDomain> {
    let mut f = Fields::open(r, v, path.clone(), DOMAIN_KEYS)?;
    let mut d = RawDomain {
        name: f.req("name"),
        schema: f.opt("schema"),
        type_: f.req("type"),
        not_null: f.flag("not_null").unwrap_or(false),
        default: f.expr("default"),
        collation: f.opt("collation"),
        checks: vec![],
        path,
    };
    for (cv, cp) in f.items("checks") {
        if let Some(mut c) = Fields::open(f.r, cv, cp.clone(), DOMAIN_CHECK_KEYS) {
            d.checks.push(RawDomainCheck {
                name: c.opt("name"),
                expression: c.req("expression"),
                path: cp,
            });
        }
    }
    Some(d)
}

fn read_function(r: &mut Reader, v: &Value, path: String) -> Option<RawFunction> {
    let mut f = Fields::open(r, v, path.clone(), FUNCTION_KEYS)?;
    Some(RawFunction {
        name: f.req("name"),
        schema: f.opt("schema"),
        arguments: f.opt("arguments").unwrap_or_default(),
        returns: f.req("returns"),
        language: f.req("language"),
        body: f.req("body"),
        volatility: f.opt("volatility"),
        strict: f.flag("strict").unwrap_or(false),
        parallel: f.opt("parallel"),
        security_definer: f.flag("security_definer").unwrap_or(false),
        search_path: f.list("search_path"),
        grants: f.grants(),
        comment: f.opt("comment"),
        path,
    })
}

fn read_aggregate(r: &mut Reader, v: &Value, path: String) -> Option<RawAggregate> {
    let mut f = Fields::open(r, v, path.clone(), AGGREGATE_KEYS)?;
    Some(RawAggregate {
        name: f.req("name"),
        schema: f.opt("schema"),
        arguments: f.req("arguments"),
        sfunc: f.req("sfunc"),
        stype: f.req("stype"),
        finalfunc: f.opt("finalfunc"),
        initcond: f.opt("initcond"),
        grants: f.grants(),
        path,
    })
}

fn read_view(r: &mut Reader, v: &Value, path: String) -> Option<RawView> {
    let mut f = Fields::open(r, v, path.clone(), VIEW_KEYS)?;
    let mut view = RawView {
        name: f.req("name"),
        schema: f.opt("schema"),
        query: f.req("query"),
        materialized: f.flag("materialized").unwrap_or(false),
        security_invoker: f.flag("security_invoker"),
        with_data: f.flag("with_data"),
        indexes: vec![],
        grants: f.grants(),
        comment: f.opt("comment"),
        path,
    };
    for (xv, xp) in f.items("indexes") {
        view.indexes.extend(read_view_index(f.r, xv, xp));
    }
    Some(view)
}

fn read_trigger(r: &mut Reader, v: &Value, path: String) -> Option<RawTrigger> {
    let mut f = Fields::open(r, v, path.clone(), TRIGGER_KEYS)?;
    let events = f.list("events");
    if events.is_none() {
        f.r.missing(f.at("events"));
    }
    Some(RawTrigger {
        name: f.req("name"),
        table: f.req("table"),
        timing: f.req("timing"),
        events: events.unwrap_or_default(),
        update_of: f.list("update_of").unwrap_or_default(),
        level: f.opt("level"),
        function: f.req("function"),
        arguments: f.list("arguments").unwrap_or_default(),
        when: f.opt("when"),
        path,
    })
}
