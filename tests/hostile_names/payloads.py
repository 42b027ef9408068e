#!/usr/bin/env python3
"""The payloads of tests/hostile_names.sh, for one search_path variant V: writes DIR/<name>.json.

The caller's own expressions (checks, defaults, generated, index `where`) call functions and
operators that revos's SQL mentions too (length, lower, now, =, >, ...), unqualified: whatever
search_path revos evaluates them under, the look-alikes must not be what they bind to.
Usage: payloads.py V DIR TENANT
"""
import copy
import json
import sys

v, out, tenant = sys.argv[1], sys.argv[2], sys.argv[3]
schema = f"hv_{v}"


def write(name, obj):
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(obj, f)


v1 = {
    "schema_version": f"hn-{v}-1",
    "description": f"hostile names {v}",
    "schema": schema,
    "enums": [{"name": "mood", "values": ["ok", "meh"]}],
    "tables": [
        {"name": "owners", "columns": [
            {"name": "name", "type": "text", "not_null": True, "default": "'nobody'"}]},
        {"name": "items", "comment": "items of the hostile-names suite",
         "columns": [
             {"name": "title", "type": "text", "not_null": True, "check": "length(title) > 0"},
             {"name": "qty", "type": "integer", "default": "0", "check": "qty >= 0"},
             {"name": "mood", "type": "mood", "default": "'ok'"},
             {"name": "slug", "type": "text", "generated": "lower(title)"},
             {"name": "meta", "type": "jsonb", "default": "'{}'::jsonb"},
             {"name": "owner_id", "type": "uuid", "references": "owners"},
             {"name": "seen_at", "type": "timestamptz", "default": "now()"}],
         "indexes": [{"columns": ["title"], "where": "qty > 0"},
                     {"columns": ["meta"], "method": "gin"}],
         "checks": [{"expression": "qty < 1000000"}],
         "unique": [["title", "qty"]]},
    ],
}
write("v1", v1)

# a table without tenant (no uuid column revos adds): its columns' types are the caller's only
write("plain", {
    "schema_version": f"hn-{v}-plain",
    "description": f"no tenant ({v})",
    "schema": schema,
    "tables": [{"name": "plain", "tenant_scoped": False, "primary_key": ["code"], "timestamps": False,
                "soft_delete": False, "columns": [
                    {"name": "code", "type": "int"},
                    {"name": "body", "type": "text", "default": "'b'"},
                    {"name": "doc", "type": "jsonb"}]}],
})

# v2: a column more, a changed default, an index and a check more
v2 = copy.deepcopy(v1)
v2["schema_version"] = f"hn-{v}-2"
items = next(t for t in v2["tables"] if t["name"] == "items")
next(c for c in items["columns"] if c["name"] == "qty")["default"] = "1"
items["columns"].append({"name": "note", "type": "text", "default": "'n/a'"})
items["indexes"].append({"columns": ["qty"], "where": "qty >= 1"})
items["checks"].append({"name": "ck_items_note", "expression": "length(note) < 500"})
write("v2", v2)

# v3 (plan_schema only): a table more
v3 = copy.deepcopy(v2)
v3["schema_version"] = f"hn-{v}-3"
v3["tables"].append({"name": "later", "columns": [
    {"name": "x", "type": "int", "default": "2", "check": "x > 1"}]})
write("v3", v3)

write("tt_cols", [{"name": "label", "type": "text", "default": "lower('X')", "check": "length(label) < 100"}])
write("tt_opts", {})
write("legacy_opts", {"backfill_tenant": tenant})

# the table hn_admin's own DDL changes (drift capture): applied by hn_admin without any attack,
# so that the drift cases test something even where the attacked applies fail
write("drifted", {
    "schema_version": f"hn-drifted-{v}",
    "description": f"drift target ({v})",
    "schema": f"hd_{v}",
    "tables": [{"name": "drifted", "columns": [{"name": "n", "type": "int"}]}],
})

# a table the plain owner (hn_owner) owns: applied by the superuser, then given away
write("owned", {
    "schema_version": f"hn-owned-{v}",
    "description": f"owned by hn_owner ({v})",
    "schema": f"ho_{v}",
    "tables": [{"name": "owned", "columns": [{"name": "n", "type": "int"},
                                             {"name": "label", "type": "text"}]}],
})

write("event", {"event_type": f"hn.{v}", "tenant_id": f"t-{v}", "idempotency_key": f"hn-{v}-key",
                "occurred_at": "2024-01-02T03:04:05Z", "subject_id": 42, "payload": {"a": 1}})
