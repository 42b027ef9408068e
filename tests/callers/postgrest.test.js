'use strict';
// PostgREST cannot be installed here, so this replays the SQL that PostgREST v12 (v12.2.12) sends
// for a request, statement by statement, over one `authenticator` connection (as PostgREST's
// pool does). The statement texts are taken from the PostgREST/postgrest sources at tag v12.2.12:
//
//   src/PostgREST/Query.hs            runQuery / setPgLocals: the transaction, then ONE
//                                     "select set_config(...), ..." (search_path, role,
//                                     request.jwt.claims (+ "role"), request.method, request.path,
//                                     request.headers, request.cookies), all is_local = true
//   hasql-transaction                 "begin isolation level read committed read write|only"
//   src/PostgREST/Query/Statements.hs prepareCall / prepareRead / prepareWrite: the outer
//                                     WITH pgrst_source AS (...) SELECT ... response_status ...
//   src/PostgREST/Query/QueryBuilder.hs callPlanToQuery (single unnamed jsonb param ->
//                                     OnePosParam -> "(SELECT f($1::jsonb) pgrst_scalar) pgrst_call"),
//                                     readPlanToQuery, mutatePlanToQuery (Insert)
//   src/PostgREST/Query/SqlFragment.hs asJsonF, fromJsonBodyF, currentSettingF, escapeIdentList
//
// (In v13 the prelude moved to src/PostgREST/Query/PreQuery.hs, txVarQuery; same set_config list.)
// Parameters go over the extended protocol with unspecified types, like hasql's `unknown`
// encoder; results are read as raw text, as PostgREST reads them. Known deviation: PostgREST binds
// the INSERT body as type json; node-postgres cannot type a parameter, so that $1 is `$1::json`.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { DB, connect, asSuperuser, ensureRoleSql, uuid, within } = require('./lib/common');

const T1 = uuid();
const T2 = uuid();

// --- the SQL PostgREST v12 sends ------------------------------------------------------------
const BEGIN_WRITE = 'begin isolation level read committed read write';
const BEGIN_READ = 'begin isolation level read committed read only';

const PRELUDE =
  "select set_config('search_path', $1, true), set_config('role', $2, true), " +
  "set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true), " +
  "set_config('request.path', $5, true), set_config('request.headers', $6, true), " +
  "set_config('request.cookies', $7, true)";

const TAIL =
  "nullif(current_setting('response.headers', true), '') AS response_headers, " +
  "nullif(current_setting('response.status', true), '') AS response_status, " +
  "'' AS response_inserted ";

/** POST /rpc/<fn> with a JSON body, fn having ONE unnamed jsonb parameter and returning jsonb. */
function rpcCallSql(schema, fn) {
  const qi = `"${schema}"."${fn}"`;
  return (
    `WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT ${qi}($1::jsonb) pgrst_scalar) pgrst_call) ` +
    'SELECT null::bigint AS total_result_set, 1 AS page_total, ' +
    "coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null') AS body, " +
    TAIL +
    `FROM (SELECT "${fn}".* FROM "pgrst_source" AS "${fn}"     ) _postgrest_t`
  );
}

/** GET /<table> (all columns, no filters, no count). */
function readSql(schema, table) {
  const qi = `"${schema}"."${table}"`;
  return (
    `WITH pgrst_source AS ( SELECT ${qi}.* FROM ${qi}      )  ` +
    'SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, ' +
    "coalesce(json_agg(_postgrest_t), '[]') AS body, " +
    TAIL +
    'FROM ( SELECT * FROM pgrst_source ) _postgrest_t'
  );
}

/** POST /<table> with a JSON object body, Prefer: return=minimal (the default). */
function insertSql(schema, table, columns /* [[name, type]] sorted by name */) {
  const qi = `"${schema}"."${table}"`;
  const cols = columns.map(([n]) => `"${n}"`).join(', ');
  const named = columns.map(([n]) => `"pgrst_body"."${n}"`).join(', ');
  const typed = columns.map(([n, t]) => `"${n}" ${t}`).join(', ');
  return (
    `WITH pgrst_source AS (INSERT INTO ${qi}(${cols}) SELECT ${named} FROM (SELECT $1::json AS json_data) pgrst_payload, ` +
    `LATERAL (SELECT ${cols} FROM json_to_record(pgrst_payload.json_data) AS _(${typed}) ) pgrst_body  RETURNING 1) ` +
    "SELECT '' AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, array[]::text[] AS header, ''::text AS body, " +
    TAIL +
    'FROM (SELECT * FROM pgrst_source) _postgrest_t'
  );
}

// Results as raw text (PostgREST reads bytes; no JSON parsing by the driver).
const RAW = { getTypeParser: () => (v) => v };

let pg; // the authenticator connection ("PostgREST's pool", size 1)
let listener; // LISTEN pgrst, as PostgREST's schema-cache listener
const notices = [];

/**
 * One HTTP request, as PostgREST runs it. `schema` is the request's schema (the first of
 * db-schemas, or Content-Profile / Accept-Profile); db-extra-search-path is "public".
 * Returns the response row (raw text), or throws the database error after a ROLLBACK.
 */
async function request({ method = 'POST', path, schema, role, claims = {}, body, sql, headers = {}, read = false }) {
  const reqHeaders = {
    host: 'localhost:3000',
    'user-agent': 'curl/8.5.0',
    accept: '*/*',
    ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
    ...headers,
  };
  await pg.query(read ? BEGIN_READ : BEGIN_WRITE);
  try {
    await pg.query(PRELUDE, [
      `"${schema}", "public"`,
      role,
      JSON.stringify({ ...claims, role }),
      method,
      path,
      JSON.stringify(reqHeaders),
      '{}',
    ]);
    const r = await pg.query({ text: sql, values: body !== undefined ? [body] : [], types: RAW });
    await pg.query('commit');
    return r.rows[0];
  } catch (e) {
    await pg.query('rollback');
    throw e;
  }
}

const rpcApply = (body, { role = 'api_admin', claims = {}, schema = 'revos' } = {}) =>
  request({
    path: '/rpc/apply_schema',
    schema,
    role,
    claims,
    body,
    sql: rpcCallSql(schema, 'apply_schema'),
    headers: schema === 'revos' ? { 'content-profile': 'revos' } : {},
  });

/** Waits for the next NOTIFY on channel pgrst (or null after ms). */
function nextNotice(ms) {
  if (notices.length) return Promise.resolve(notices.shift());
  return within(
    new Promise((resolve) => {
      const poll = setInterval(() => {
        if (notices.length) {
          clearInterval(poll);
          resolve(notices.shift());
        }
      }, 20);
      setTimeout(() => clearInterval(poll), ms + 50);
    }),
    ms,
    null,
  );
}

before(async () => {
  // The usual PostgREST roles: authenticator (LOGIN NOINHERIT) switches to the request's role.
  await asSuperuser(
    DB.postgrest,
    `${ensureRoleSql('authenticator', 'LOGIN NOINHERIT NOSUPERUSER')}
     ${ensureRoleSql('api_admin', 'NOLOGIN')}
     ${ensureRoleSql('api_user', 'NOLOGIN')}
     ${ensureRoleSql('web_anon', 'NOLOGIN')}
     GRANT api_admin, api_user, web_anon TO authenticator;
     GRANT revos_admin TO api_admin;
     GRANT CREATE ON SCHEMA public TO api_admin;
     -- tables revos creates are granted to revos_app (docs/callers.md, issue 20): api_user reads
     -- and writes them as a member of revos_app alone (RLS still applies)
     GRANT revos_app TO api_user;
     -- the wrapper alternative: an exposed schema "api" with a thin SQL function
     CREATE SCHEMA api;
     GRANT USAGE ON SCHEMA api TO api_admin, api_user, web_anon;
     CREATE FUNCTION api.apply_schema(jsonb) RETURNS jsonb LANGUAGE sql VOLATILE
         AS $$ SELECT revos.apply_schema($1) $$;
     REVOKE ALL ON FUNCTION api.apply_schema(jsonb) FROM PUBLIC;
     GRANT EXECUTE ON FUNCTION api.apply_schema(jsonb) TO revos_admin;`,
  );
  pg = await connect({ database: DB.postgrest, user: 'authenticator' });
  listener = await connect({ database: DB.postgrest });
  listener.on('notification', (n) => {
    if (n.channel === 'pgrst') notices.push(n.payload);
  });
  await listener.query('LISTEN pgrst');
});

after(async () => {
  if (pg) await pg.end();
  if (listener) await listener.end();
});

const notes = {
  schema_version: 'pgrst-001',
  description: 'notes, via PostgREST',
  tables: [{ name: 'pgrst_notes', columns: [{ name: 'note', type: 'text' }] }],
};

test('POST /rpc/apply_schema: applied -> 200, envelope body, NOTIFY pgrst reload schema', async () => {
  const raw = JSON.stringify(notes);
  const r = await rpcApply(raw);
  assert.equal(r.response_status, '200');
  assert.equal(r.page_total, '1');
  assert.equal(r.total_result_set, null);
  assert.equal(r.response_headers, null);
  const env = JSON.parse(r.body);
  assert.equal(env.result.status, 'applied', r.body);
  assert.equal(env.meta_out.success, true);
  assert.ok(env.audit && Array.isArray(env.audit.data_written));
  assert.equal(await nextNotice(3000), 'reload schema', 'PostgREST is told to reload its schema cache');

  const where = await asSuperuser(DB.postgrest, "SELECT to_regclass('public.pgrst_notes')::text AS t, (SELECT tableowner FROM pg_tables WHERE tablename = 'pgrst_notes') AS owner");
  assert.equal(where.rows[0].t, 'pgrst_notes', 'created in public despite search_path "revos", "public"');
  assert.equal(where.rows[0].owner, 'api_admin', 'created as the request role');
});

test('POST /rpc/apply_schema: the same body again -> 200 noop, and no NOTIFY', async () => {
  notices.length = 0;
  const r = await rpcApply(JSON.stringify(notes));
  assert.equal(r.response_status, '200');
  assert.equal(JSON.parse(r.body).result.status, 'noop');
  assert.equal(await nextNotice(500), null, 'no schema reload after a noop');
  // Same through the wrapper in an exposed "api" schema (no Content-Profile needed).
  const w = await rpcApply(JSON.stringify(notes), { schema: 'api' });
  assert.equal(w.response_status, '200');
  assert.equal(JSON.parse(w.body).result.status, 'noop');
  assert.equal(await nextNotice(300), null);
});

test('POST /rpc/apply_schema: same version, changed content -> 409 conflict', async () => {
  notices.length = 0;
  const changed = { ...notes, tables: [{ name: 'pgrst_notes', columns: [{ name: 'note', type: 'text' }, { name: 'extra', type: 'integer' }] }] };
  const r = await rpcApply(JSON.stringify(changed));
  assert.equal(r.response_status, '409', r.body);
  const env = JSON.parse(r.body);
  assert.equal(env.result.status, 'conflict');
  assert.equal(env.meta_out.success, false);
  assert.equal(await nextNotice(300), null);
});

test('POST /rpc/apply_schema: bad column name -> 400 blocked, nothing created', async () => {
  notices.length = 0;
  const bad = { schema_version: 'pgrst-002', description: 'bad', tables: [{ name: 'pgrst_bad', columns: [{ name: 'a;b', type: 'text' }] }] };
  const r = await rpcApply(JSON.stringify(bad));
  assert.equal(r.response_status, '400', r.body);
  const env = JSON.parse(r.body);
  assert.equal(env.result.status, 'blocked');
  assert.ok(Array.isArray(env.result.validation_errors) && env.result.validation_errors.length > 0);
  assert.equal(await nextNotice(300), null);
  const t = await asSuperuser(DB.postgrest, "SELECT to_regclass('public.pgrst_bad') AS t");
  assert.equal(t.rows[0].t, null);
});

test('POST /rpc/apply_schema as a role outside revos_admin -> 42501 permission denied', async () => {
  for (const [role, schema] of [
    ['web_anon', 'revos'],
    ['api_user', 'revos'],
    ['web_anon', 'api'],
  ]) {
    await assert.rejects(
      rpcApply(JSON.stringify({ ...notes, schema_version: 'pgrst-003' }), { role, schema }),
      (err) => err.code === '42501' && /permission denied for function apply_schema/.test(err.message),
      `${role} via ${schema}`,
    );
  }
  const n = await asSuperuser(DB.postgrest, "SELECT count(*)::int AS n FROM revos.schema_migrations WHERE version = 'pgrst-003'");
  assert.equal(n.rows[0].n, 0);
});

test('JWT claims: current_tenant_id() reads tenant_id, then app_metadata.tenant_id, per request', async () => {
  const probe = 'SELECT revos.current_tenant_id() AS tenant, current_user AS role';
  const ask = (claims) => request({ method: 'GET', path: '/rpc/whoami', schema: 'revos', role: 'api_user', claims, sql: probe, read: true });
  assert.deepEqual(await ask({ tenant_id: T1 }), { tenant: T1, role: 'api_user' });
  assert.deepEqual(await ask({ app_metadata: { tenant_id: T2 } }), { tenant: T2, role: 'api_user' });
  assert.deepEqual(await ask({ tenant_id: T1, app_metadata: { tenant_id: T2 } }), { tenant: T1, role: 'api_user' }, 'top level wins');
  assert.deepEqual(await ask({ sub: 'someone' }), { tenant: null, role: 'api_user' });
  // Nothing stays on the pooled connection after a request.
  const left = await pg.query("SELECT current_user AS role, current_setting('request.jwt.claims', true) AS claims, revos.current_tenant_id() AS tenant");
  assert.equal(left.rows[0].role, 'authenticator');
  assert.ok(!left.rows[0].claims, 'claims were transaction-local');
  assert.equal(left.rows[0].tenant, null);
});

test('a tenant table created via /rpc/apply_schema: POST/GET /pgrst_notes only ever see the caller\'s tenant', async () => {
  const post = (claims, obj, cols = [['note', 'text']]) =>
    request({ path: '/pgrst_notes', schema: 'public', role: 'api_user', claims, body: JSON.stringify(obj), sql: insertSql('public', 'pgrst_notes', cols) });
  const get = async (claims) => {
    const r = await request({ method: 'GET', path: '/pgrst_notes', schema: 'public', role: 'api_user', claims, sql: readSql('public', 'pgrst_notes'), read: true });
    return { n: Number(r.page_total), rows: JSON.parse(r.body) };
  };

  // tenant_id comes from the JWT (top level, or app_metadata) through the column default.
  assert.equal((await post({ tenant_id: T1 }, { note: 'T1 first' })).page_total, '1');
  assert.equal((await post({ tenant_id: T1 }, { note: 'T1 second' })).page_total, '1');
  assert.equal((await post({ app_metadata: { tenant_id: T2 } }, { note: 'T2 only' })).page_total, '1');

  const g1 = await get({ tenant_id: T1 });
  assert.equal(g1.n, 2);
  assert.deepEqual(g1.rows.map((r) => r.note).sort(), ['T1 first', 'T1 second']);
  assert.ok(g1.rows.every((r) => r.tenant_id === T1));
  const g2 = await get({ app_metadata: { tenant_id: T2 } });
  assert.deepEqual(g2.rows.map((r) => [r.note, r.tenant_id]), [['T2 only', T2]]);
  const g0 = await get({});
  assert.deepEqual(g0, { n: 0, rows: [] }, 'no tenant claim: no rows');

  // Writing a row for another tenant is refused by the policy's WITH CHECK.
  await assert.rejects(
    post({ tenant_id: T1 }, { note: 'sneaky', tenant_id: T2 }, [['note', 'text'], ['tenant_id', 'uuid']]),
    (err) => err.code === '42501' && /row-level security/.test(err.message),
  );
  // No tenant at all: refused as well (tenant_id would be NULL).
  await assert.rejects(post({}, { note: 'orphan' }), (err) => err.code === '42501' || err.code === '23502');

  const all = await asSuperuser(DB.postgrest, 'SELECT tenant_id::text AS t, count(*)::int AS n FROM public.pgrst_notes GROUP BY 1 ORDER BY 2');
  assert.deepEqual(all.rows, [{ t: T2, n: 1 }, { t: T1, n: 2 }]);
});
