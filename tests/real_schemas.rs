//! Real schemas nobody here wrote (issue 25), applied from their translations in
//! tests/fixtures/real/ (see tests/fixtures/real/README.md for the commits they were translated from):
//! they apply, re-apply as `noop`, a new version of the same declaration plans nothing, and they
//! keep their behaviour. The fixtures need what not every server has (basejump: Supabase's
//! `uuid-ossp` and `pgcrypto`; Pagila: PostgreSQL 18's `uuidv7()` and virtual generated columns,
//! and pgvector), so those tests are `#[ignore]`d here and run by the suites `real_basejump` and
//! `real_pagila` of scripts/test, which say SKIPPED when the server lacks them. The other tests run
//! everywhere.
mod common;

use common::*;
use postgres::Client;
use serde_json::{json, Value};

fn steps(env: &Value) -> Vec<String> {
    env["result"]["plan"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["sql"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Applied, then `noop`, then a new version of the same declaration plans nothing.
fn applies_and_stays(c: &mut Client, payload: &Value) {
    let env = apply(c, payload);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], json!(true), "{env:#}");
    let again = apply(c, payload);
    assert_eq!(status(&again), "noop", "{again:#}");
    let mut next = payload.clone();
    next["schema_version"] = json!("next");
    let p = plan(c, &next);
    assert_eq!(status(&p), "planned", "{p:#}");
    assert_eq!(steps(&p), Vec::<String>::new(), "{p:#}");
    assert_eq!(p["result"]["risks"], json!([]), "{p:#}");
}

/// What a Supabase database has before basejump's migrations run: the API roles, `auth.users`
/// and `auth.uid()` as Supabase defines them, and the `extensions` schema. The platform, not
/// basejump: nothing of basejump is made by hand.
const SUPABASE: &str = r#"
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN BYPASSRLS; END IF;
END $$;
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text, raw_user_meta_data jsonb);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $f$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$f$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
"#;

const ANN: &str = "00000000-0000-0000-0000-0000000000a1";
const BOB: &str = "00000000-0000-0000-0000-0000000000b2";
const CY: &str = "00000000-0000-0000-0000-0000000000c3";

/// `sql` as PostgREST runs a request: role `authenticated`, the JWT claims in
/// `request.jwt.claims` (only `sub`, as Supabase issues them), one transaction.
fn as_user(c: &mut Client, sub: Option<&str>, sql: &str) -> Vec<String> {
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL ROLE authenticated").unwrap();
    if let Some(sub) = sub {
        let claims = json!({"sub": sub, "role": "authenticated"}).to_string();
        tx.execute(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims],
        )
        .unwrap();
    }
    let rows: Vec<String> = tx
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        .collect();
    tx.commit().unwrap();
    rows
}

/// basejump's users and accounts, made as basejump makes them: the config row and three users
/// (basejump's trigger on auth.users makes each one's personal account); ann creates Team A and
/// invites bob, who creates Team B and accepts. So ann belongs to Team A and ann, bob to Team A,
/// Team B and bob, cy to cy.
fn basejump_members(c: &mut Client) {
    // the config row is data (basejump's migration inserts it), and so are the users: inserting
    // one fires basejump's trigger on auth.users, which makes the personal account
    c.batch_execute(&format!(
        "INSERT INTO basejump.config (enable_team_accounts, enable_personal_account_billing, enable_team_account_billing) VALUES (true, true, true);
         INSERT INTO auth.users (id, email) VALUES ('{ANN}', 'ann@example.com'), ('{BOB}', 'bob@example.com'), ('{CY}', 'cy@example.com');"
    ))
    .unwrap();
    as_user(
        c,
        Some(ANN),
        "SELECT public.create_account('team-a', 'Team A') ->> 'slug'",
    );
    let token = as_user(
        c,
        Some(ANN),
        "SELECT public.create_invitation((SELECT id FROM basejump.accounts WHERE slug = 'team-a'), 'member', 'one_time') ->> 'token'",
    )
    .remove(0);
    as_user(
        c,
        Some(BOB),
        "SELECT public.create_account('team-b', 'Team B') ->> 'slug'",
    );
    as_user(
        c,
        Some(BOB),
        &format!("SELECT public.accept_invitation('{token}') ->> 'slug'"),
    );
}

#[test]
#[ignore = "needs uuid-ossp and pgcrypto: run by the suite real_basejump"]
fn basejump_applies_stays_and_members_see_exactly_their_accounts() {
    let mut c = fresh_db("real_basejump");
    c.batch_execute(SUPABASE).unwrap();
    applies_and_stays(&mut c, &fixture("real/basejump.json"));

    basejump_members(&mut c);
    let names = "SELECT name FROM basejump.accounts ORDER BY name";
    assert_eq!(as_user(&mut c, Some(ANN), names), ["Team A", "ann"]);
    assert_eq!(
        as_user(&mut c, Some(BOB), names),
        ["Team A", "Team B", "bob"]
    );
    assert_eq!(as_user(&mut c, Some(CY), names), ["cy"]);
    assert_eq!(as_user(&mut c, None, names), Vec::<String>::new());
    // a member is not an owner: bob cannot invite to Team A
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(&format!(
        "SET LOCAL ROLE authenticated; SELECT set_config('request.jwt.claims', '{{\"sub\": \"{BOB}\"}}', true)"
    ))
    .unwrap();
    let refused = tx.query(
        "SELECT public.create_invitation((SELECT id FROM basejump.accounts WHERE slug = 'team-a'), 'member', 'one_time')",
        &[],
    );
    assert_eq!(sqlstate(&refused.unwrap_err()), "42501");
    drop(tx);
    // every table has RLS on, and the declared policies are revos's, not foreign
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'basejump' AND c.relkind = 'r' AND c.relrowsecurity"
        ),
        6
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'basejump'"
        ),
        13
    );
    // functions are executable only by the roles granted (PUBLIC's default EXECUTE revoked)
    assert_eq!(
        text(
            &mut c,
            "SELECT has_function_privilege('anon', 'public.get_accounts()', 'EXECUTE')::text"
        )
        .as_deref(),
        Some("false")
    );
}

/// basejump translated with the membership tenancy mode (issue 25) instead of hand-written
/// policies on the billing tables: `account_user` is the membership table, the billing tables
/// are tenant tables of `account_id`, and their policies (and account_user's "own rows" one) are
/// revos's. Through PostgREST's claims (role `authenticated`, only `sub`), a member sees exactly
/// the billing rows of their accounts.
fn basejump_with_membership() -> Value {
    let mut p = fixture("real/basejump.json");
    p["options"]["tenant_column"] = json!("account_id");
    p["options"]["tenancy"] = json!({"mode": "membership", "table": "account_user",
        "tenant_column": "account_id", "user_column": "user_id"});
    for t in p["tables"].as_array_mut().unwrap() {
        let name = t["name"].as_str().unwrap().to_string();
        let policies = t["policies"].as_array_mut().unwrap();
        match name.as_str() {
            // basejump's own policies here were exactly the membership rule
            "billing_customers" | "billing_subscriptions" => {
                t["tenant_scoped"] = json!(true);
                t.as_object_mut().unwrap().remove("policies");
            }
            // revos's policy on the membership table is "users can view their own account_users"
            "account_user" => {
                policies.retain(|p| p["name"] != "users can view their own account_users")
            }
            _ => {}
        }
    }
    p
}

#[test]
#[ignore = "needs uuid-ossp and pgcrypto: run by the suite real_basejump"]
fn basejump_with_the_membership_mode_members_see_exactly_their_billing_rows() {
    let mut c = fresh_db("real_basejump_members");
    c.batch_execute(SUPABASE).unwrap();
    applies_and_stays(&mut c, &basejump_with_membership());
    basejump_members(&mut c);
    // a billing customer per account, written by the service (a superuser here)
    c.batch_execute(
        "INSERT INTO basejump.billing_customers (account_id, id, email)
         SELECT id, 'cus_' || coalesce(slug, name), name FROM basejump.accounts",
    )
    .unwrap();
    let billing = "SELECT email FROM basejump.billing_customers ORDER BY email";
    assert_eq!(as_user(&mut c, Some(ANN), billing), ["Team A", "ann"]);
    assert_eq!(
        as_user(&mut c, Some(BOB), billing),
        ["Team A", "Team B", "bob"]
    );
    assert_eq!(as_user(&mut c, Some(CY), billing), ["cy"]);
    assert_eq!(as_user(&mut c, None, billing), Vec::<String>::new());
    // a member reads their own memberships (revos's policy) and their teammates' (basejump's)
    let members = "SELECT count(*)::text FROM basejump.account_user";
    assert_eq!(as_user(&mut c, Some(CY), members), ["1"]);
    assert_eq!(as_user(&mut c, Some(ANN), members), ["3"]);
    // the accounts themselves keep basejump's policies
    let names = "SELECT name FROM basejump.accounts ORDER BY name";
    assert_eq!(
        as_user(&mut c, Some(BOB), names),
        ["Team A", "Team B", "bob"]
    );
    // revos's policies: on account_user (FOR SELECT) and both billing tables (FOR ALL)
    assert_eq!(
        text(
            &mut c,
            "SELECT string_agg(c.relname || ':' || p.polcmd::text, ' ' ORDER BY c.relname) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.polname = 'revos_tenant_isolation'"
        )
        .as_deref(),
        Some("account_user:r billing_customers:* billing_subscriptions:*")
    );
}

#[test]
fn unique_on_the_primary_key_column_applies_with_a_warning() {
    let mut c = fresh_db("real_unique_pk");
    let p = json!({"schema_version": "1", "description": "a unique primary key", "tables": [
        {"name": "accounts", "tenant_scoped": false, "primary_key": ["id"],
         "columns": [{"name": "id", "type": "uuid", "unique": true, "not_null": true},
                     {"name": "slug", "type": "text", "unique": true}]}]});
    let env = apply(&mut c, &p);
    assert_eq!(status(&env), "applied", "{env:#}");
    let warnings = env["result"]["primary_outputs"]["warnings"].to_string();
    assert!(warnings.contains("uq_accounts_id"), "{env:#}");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.accounts'::regclass AND contype IN ('p', 'u')"
        ),
        2
    );
    applies_and_stays(
        &mut c,
        &json!({"schema_version": "2", "description": "again", "tables": p["tables"]}),
    );
}

#[test]
fn rls_true_on_a_shared_table_is_on_and_its_declared_policies_decide() {
    let mut c = fresh_db("real_shared_rls");
    ensure_role(&mut c, "shared_reader", "");
    let p = json!({"schema_version": "1", "description": "rls on a shared table", "tables": [
        {"name": "notes", "tenant_scoped": false, "rls": true,
         "columns": [{"name": "body", "type": "text"}, {"name": "public", "type": "boolean", "not_null": true}],
         "grants": [{"to": ["shared_reader"], "privileges": ["SELECT"]}],
         "policies": [{"name": "Public notes are readable", "command": "select", "roles": ["shared_reader"], "using": "public"}]}]});
    applies_and_stays(&mut c, &p);
    c.batch_execute(
        "INSERT INTO public.notes (body, public) VALUES ('seen', true), ('hidden', false)",
    )
    .unwrap();
    let mut r = connect_as("real_shared_rls", "shared_reader");
    let seen: Vec<String> = r
        .query("SELECT body FROM public.notes", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(seen, ["seen"]);
    // the declared policy is revos's: not a foreign policy, no warning about it
    let mut next = p.clone();
    next["schema_version"] = json!("2");
    let env = plan(&mut c, &next);
    assert!(!env.to_string().contains("does not declare"), "{env:#}");
}

#[test]
#[ignore = "needs PostgreSQL 18 and pgvector: run by the suite real_pagila"]
fn pagila_applies_stays_and_its_triggers_partitions_and_functions_work() {
    let mut c = fresh_db("real_pagila");
    applies_and_stays(&mut c, &fixture("real/pagila.json"));
    // the fulltext trigger (tsvector_update_trigger) fills the NOT NULL tsvector on insert; the
    // virtual generated column is computed when read
    c.batch_execute(
        "INSERT INTO public.language (name) VALUES ('English');
         INSERT INTO public.film (title, description, language_id, length)
              VALUES ('ACADEMY DINOSAUR', 'A Epic Drama of a Feminist And a Mad Scientist', 1, 86);",
    )
    .unwrap();
    assert_eq!(
        text(&mut c, "SELECT fulltext::text FROM public.film").as_deref(),
        Some("'academi':1 'dinosaur':2 'drama':5 'epic':4 'feminist':8 'mad':11 'scientist':12")
    );
    assert_eq!(
        text(&mut c, "SELECT length_hours::text FROM public.film").as_deref(),
        Some("1.43")
    );
    assert_eq!(
        text(&mut c, "SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'public.film'::regclass AND attname = 'length_hours'").as_deref(),
        Some("v")
    );
    // the last_updated trigger sets last_update on UPDATE
    c.batch_execute("UPDATE public.film SET last_update = '2000-01-01' WHERE film_id = 1")
        .unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM public.film WHERE last_update > '2001-01-01'"
        ),
        1
    );
    // 55 partitions share one sequence; a payment lands in the partition of its month
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.payment'::regclass"
        ),
        55
    );
    c.batch_execute(
        "INSERT INTO public.country (country) VALUES ('Nowhere');
         INSERT INTO public.city (city, country_id) VALUES ('Town', 1);
         INSERT INTO public.address (address, district, city_id, phone) VALUES ('1 Road', 'D', 1, '555');
         INSERT INTO public.store (manager_staff_id, address_id) VALUES (1, 1);
         INSERT INTO public.staff (first_name, last_name, address_id, store_id, username) VALUES ('S', 'T', 1, 1, 'st');
         INSERT INTO public.customer (store_id, first_name, last_name, address_id) VALUES (1, 'C', 'U', 1);
         INSERT INTO public.inventory (film_id, store_id) VALUES (1, 1);
         INSERT INTO public.rental (rental_date, inventory_id, customer_id, staff_id) VALUES ('2024-01-10', 1, 1, 1);
         INSERT INTO public.payment (customer_id, staff_id, rental_id, amount, payment_date) VALUES (1, 1, 1, 4.99, '2024-01-11');",
    )
    .unwrap();
    assert_eq!(
        text(
            &mut c,
            "SELECT tableoid::regclass::text FROM public.payment"
        )
        .as_deref(),
        Some("payment_p2024_01")
    );
    // the functions and the aggregate, through the views that use them
    assert_eq!(
        text(&mut c, "SELECT public.inventory_in_stock(1)::text").as_deref(),
        Some("false")
    );
    assert_eq!(
        text(
            &mut c,
            "SELECT public.last_day('2024-02-10'::timestamptz)::text"
        )
        .as_deref(),
        Some("2024-02-29")
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM public.sales_by_store"),
        1
    );
    c.batch_execute("REFRESH MATERIALIZED VIEW public.rental_by_category")
        .unwrap();
}
