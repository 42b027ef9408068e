'use strict';
// revos driven through pg-promise exactly the way n8n's Postgres node v2 ("Execute Query") drives
// Postgres, in its three "Query Batching" modes. How n8n batches is mirrored from
// n8n-io/n8n packages/nodes-base/nodes/Postgres/v2/helpers/utils.ts, configureQueryRunner():
//   'single'        db.multi(pgp.helpers.concat(queries))   one query string, one implicit transaction
//   'independently' db.task(t => t.multi(q) per query)       one connection, autocommit per query
//   'transaction'   db.tx(t => t.multi(q) per query)         one connection, one BEGIN ... COMMIT
// (see lib/n8n-postgres.js for the other files mirrored). Also checks the shipped workflow
// examples/n8n-apply-schema.workflow.json and runs its Postgres node's query.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { DB, dsnFor, asSuperuser, ensureRoleSql, uuid } = require('./lib/common');
const n8n = require('./lib/n8n-postgres');

const APP_ROLE = 'revos_n8n';
const QUERY = 'SELECT revos.apply_schema($1::jsonb) AS result';
const QUERY_REPLACEMENT = '={{ JSON.stringify($json.body) }}';
const WORKFLOW = path.join(__dirname, '..', '..', 'examples', 'n8n-apply-schema.workflow.json');

const T1 = uuid();
const T2 = uuid();

const patients = {
  schema_version: 'n8n-001',
  // a comma and an apostrophe: must survive n8n's parameter handling and pg-promise's quoting
  description: "Patients, for O'Brien's clinic",
  tables: [
    {
      name: 'n8n_patients',
      columns: [
        { name: 'first_name', type: 'text', not_null: true },
        { name: 'notes', type: 'text' },
      ],
    },
  ],
};

let pgp;
let db;
let runQueries;
let runQueriesContinue;

before(async () => {
  await asSuperuser(
    DB.n8n,
    `${ensureRoleSql(APP_ROLE, 'LOGIN NOSUPERUSER NOBYPASSRLS')}
     GRANT revos_admin TO ${APP_ROLE};
     GRANT CREATE ON SCHEMA public TO ${APP_ROLE};
     GRANT EXECUTE ON FUNCTION revos.log_event(jsonb) TO ${APP_ROLE};`,
  );
  ({ pgp, db } = n8n.configurePostgres(dsnFor({ database: DB.n8n, user: APP_ROLE })));
  runQueries = n8n.configureQueryRunner(pgp, db);
  runQueriesContinue = n8n.configureQueryRunner(pgp, db, { continueOnFail: true });
});

after(async () => {
  if (pgp) pgp.end();
});

function loadWorkflow() {
  return JSON.parse(fs.readFileSync(WORKFLOW, 'utf8'));
}

/** The Respond to Webhook node's responseCode expression, evaluated for one Postgres output item. */
function responseCodeFor(wf, itemJson) {
  const respond = wf.nodes.find((n) => n.type === 'n8n-nodes-base.respondToWebhook');
  const expr = respond.parameters.options.responseCode.replace(/^=/, '');
  return n8n.evaluate(expr, itemJson);
}

test('the shipped n8n workflow: Webhook -> Postgres "Execute Query" -> Respond to Webhook, running the tested query', () => {
  const wf = loadWorkflow();
  assert.ok(Array.isArray(wf.nodes) && typeof wf.connections === 'object');
  const byType = Object.fromEntries(wf.nodes.map((n) => [n.type, n]));
  const hook = byType['n8n-nodes-base.webhook'];
  const pg = byType['n8n-nodes-base.postgres'];
  const respond = byType['n8n-nodes-base.respondToWebhook'];
  assert.ok(hook && pg && respond, 'webhook, postgres and respondToWebhook nodes');
  assert.equal(wf.nodes.length, 3);
  assert.equal(hook.parameters.httpMethod, 'POST');
  assert.equal(hook.parameters.responseMode, 'responseNode');
  assert.equal(pg.parameters.operation, 'executeQuery');
  assert.equal(pg.parameters.query, QUERY, 'the workflow runs exactly the query tested here');
  assert.equal(pg.parameters.options.queryReplacement, QUERY_REPLACEMENT);
  assert.ok(pg.typeVersion >= 2.5, 'typeVersion >= 2.5: JSON parameters are not split on commas');
  assert.equal(respond.parameters.respondWith, 'json');
  // connections: Webhook -> Postgres -> Respond
  const next = (n) => wf.connections[n.name].main[0].map((c) => c.node);
  assert.deepEqual(next(hook), [pg.name]);
  assert.deepEqual(next(pg), [respond.name]);
  assert.equal(wf.connections[respond.name], undefined);
  for (const n of wf.nodes) assert.ok(n.id && n.name && Array.isArray(n.position) && n.typeVersion, n.name);
});

test('single mode: the workflow\'s Postgres node applies a schema; jsonb arrives as an object', async () => {
  const wf = loadWorkflow();
  const pgNode = wf.nodes.find((n) => n.type === 'n8n-nodes-base.postgres');
  const items = [{ json: { headers: { 'content-type': 'application/json' }, body: patients } }];
  const queries = n8n.buildQueries(pgNode.parameters.query, pgNode.parameters.options.queryReplacement, items);
  assert.equal(queries[0].values.length, 1, 'the JSON body with commas stays ONE parameter');
  assert.deepEqual(JSON.parse(queries[0].values[0]), patients);

  const out = await runQueries(queries, { queryBatching: pgNode.parameters.options.queryBatching || 'single' });
  assert.equal(out.length, 1);
  const r = out[0].json;
  assert.equal(typeof r.result, 'object', 'jsonb is parsed by node-postgres');
  assert.equal(r.result.result.status, 'applied', JSON.stringify(r.result.result));
  assert.equal(r.result.meta_out.success, true);
  assert.equal(responseCodeFor(wf, r), 200);

  // The same webhook call again is a noop (still 200).
  const again = await runQueries(queries, { queryBatching: 'single' });
  assert.equal(again[0].json.result.result.status, 'noop');
  assert.equal(responseCodeFor(wf, again[0].json), 200);

  // A bad column name is blocked (400 in the Respond node), with nothing executed.
  const bad = { schema_version: 'n8n-bad', description: 'bad', tables: [{ name: 'n8n_bad', columns: [{ name: 'a;b', type: 'text' }] }] };
  const blocked = await runQueries(n8n.buildQueries(QUERY, QUERY_REPLACEMENT, [{ json: { body: bad } }]), { queryBatching: 'single' });
  assert.equal(blocked[0].json.result.result.status, 'blocked');
  assert.equal(blocked[0].json.result.meta_out.success, false);
  assert.equal(responseCodeFor(wf, blocked[0].json), 400);
  const exists = await db.one("SELECT to_regclass('public.n8n_bad') IS NOT NULL AS e");
  assert.equal(exists.e, false);

  // Unaliased, the column is named after the function, and it is an object too.
  const plain = await db.one('SELECT revos.apply_schema($1::jsonb)', [JSON.stringify(patients)]);
  assert.equal(typeof plain.apply_schema, 'object');
  assert.equal(plain.apply_schema.result.status, 'noop');
});

test('single mode: statements joined into one query string share ONE implicit transaction', async () => {
  const notes = {
    schema_version: 'n8n-002',
    description: 'single-mode notes',
    tables: [{ name: 'n8n_single_notes', columns: [{ name: 'note', type: 'text' }] }],
  };
  // What n8n does with a multi-statement query and $n parameters: pg-promise formats it client-side.
  const text = pgp.as.format(
    'SELECT revos.set_tenant($1) AS tenant; SELECT revos.apply_schema($2::jsonb) AS result; ' +
      'INSERT INTO public.n8n_single_notes(note) VALUES ($3) RETURNING tenant_id, note; ' +
      "SELECT revos.current_tenant_id() AS current, current_setting('response.status', true) AS status",
    [T1, JSON.stringify(notes), 'written in single mode'],
  );
  assert.ok(!/\$\d/.test(text), 'all $n were formatted client-side');
  const out = await runQueries([{ query: text, values: [] }], { queryBatching: 'single' });
  const rows = out.map((i) => i.json);
  assert.equal(rows.length, 4);
  assert.equal(rows[0].tenant, T1);
  assert.equal(typeof rows[1].result, 'object');
  assert.equal(rows[1].result.result.status, 'applied');
  assert.equal(rows[2].tenant_id, T1, 'set_tenant carried over to the INSERT in the same query string');
  assert.equal(rows[3].current, T1);
  assert.equal(rows[3].status, null, 'no request.method (not PostgREST): response.status is not set');

  // Several input items are concatenated the same way (pgp.helpers.concat) into one implicit transaction.
  const concat = await runQueries(
    [
      { query: 'SELECT revos.set_tenant($1) AS tenant', values: [T1] },
      { query: 'INSERT INTO public.n8n_single_notes(note) VALUES ($1) RETURNING tenant_id', values: ['second item'] },
    ],
    { queryBatching: 'single' },
  );
  assert.equal(concat[1].json.tenant_id, T1);

  // The next query is a new transaction: the tenant is gone and RLS shows nothing.
  const later = await db.one('SELECT revos.current_tenant_id() AS current, (SELECT count(*)::int FROM public.n8n_single_notes) AS n');
  assert.equal(later.current, null);
  assert.equal(later.n, 0);

  // All-or-nothing: a failing statement later in the string rolls back the apply too.
  const doomed = { schema_version: 'n8n-003', description: 'rolled back', tables: [{ name: 'n8n_doomed', columns: [{ name: 'x', type: 'text' }] }] };
  await assert.rejects(
    runQueries([{ query: 'SELECT revos.apply_schema($1::jsonb) AS result; SELECT 1/0', values: [JSON.stringify(doomed)] }], { queryBatching: 'single' }),
    (err) => err.code === '22012',
  );
  const gone = await db.one("SELECT to_regclass('public.n8n_doomed') IS NULL AS gone, (SELECT count(*)::int FROM revos.schema_migrations WHERE version = 'n8n-003') AS n");
  assert.equal(gone.gone, true);
  assert.equal(gone.n, 0);
});

test('independently mode: set_tenant does NOT carry over to the next query (SET LOCAL, autocommit)', async () => {
  const queries = [
    { query: 'SELECT revos.set_tenant($1) AS tenant, pg_backend_pid() AS pid', values: [T1] },
    { query: 'SELECT revos.current_tenant_id() AS current, pg_backend_pid() AS pid', values: [] },
    { query: 'INSERT INTO public.n8n_single_notes(note) VALUES ($1) RETURNING tenant_id', values: ['independent'] },
  ];
  const out = (await runQueriesContinue(queries, { queryBatching: 'independently' })).map((i) => i.json);
  assert.equal(out.length, 3);
  assert.equal(out[0].tenant, T1);
  assert.equal(out[1].pid, out[0].pid, 'same connection (db.task) ...');
  assert.equal(out[1].current, null, '... but the tenant was transaction-local and is gone');
  assert.ok(out[2].error, 'the INSERT without a tenant fails');
  assert.equal(out[2].error.code, '42501', `RLS WITH CHECK rejects a NULL tenant: ${out[2].message}`);

  // Without "continue on fail" (n8n's default) the node fails.
  await assert.rejects(runQueries(queries, { queryBatching: 'independently' }), (err) => err.code === '42501');

  // The same with two plain pg-promise calls (pool, autocommit each).
  assert.equal((await db.one('SELECT revos.set_tenant($1) AS t', [T1])).t, T1);
  assert.equal((await db.one('SELECT revos.current_tenant_id() AS c')).c, null);
});

test('transaction mode: set_tenant carries over; apply, insert and read back in one transaction', async () => {
  const schema = {
    schema_version: 'n8n-004',
    description: 'transaction-mode notes',
    tables: [{ name: 'n8n_tx_notes', columns: [{ name: 'note', type: 'text', not_null: true }] }],
  };
  const queries = [
    { query: 'SELECT revos.set_tenant($1) AS tenant', values: [T1] },
    { query: QUERY, values: [JSON.stringify(schema)] },
    { query: 'INSERT INTO public.n8n_tx_notes(note) VALUES ($1) RETURNING id, tenant_id, note, created_at', values: ['hello from n8n'] },
    { query: 'SELECT id, tenant_id, note FROM public.n8n_tx_notes', values: [] },
  ];
  const out = (await runQueries(queries, { queryBatching: 'transaction' })).map((i) => i.json);
  assert.equal(out.length, 4);
  assert.equal(out[0].tenant, T1);
  assert.equal(typeof out[1].result, 'object');
  assert.equal(out[1].result.result.status, 'applied', JSON.stringify(out[1].result.result));
  assert.equal(out[2].tenant_id, T1, 'tenant_id defaulted from set_tenant');
  assert.equal(out[2].note, 'hello from n8n');
  assert.match(out[2].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'n8n returns timestamps as ISO strings');
  assert.deepEqual(out[3], { id: out[2].id, tenant_id: T1, note: 'hello from n8n' });

  // Another tenant sees nothing; the same tenant sees its row; no tenant sees nothing.
  const other = await runQueries(
    [
      { query: 'SELECT revos.set_tenant($1) AS tenant', values: [T2] },
      { query: 'SELECT note FROM public.n8n_tx_notes', values: [] },
    ],
    { queryBatching: 'transaction' },
  );
  assert.deepEqual(other.map((i) => i.json), [{ tenant: T2 }]);
  const mine = await db.tx((t) => t.batch([t.one('SELECT revos.set_tenant($1) AS tenant', [T1]), t.any('SELECT note FROM public.n8n_tx_notes')]));
  assert.deepEqual(mine[1], [{ note: 'hello from n8n' }], 'db.tx + t.batch: set_tenant applies to the batch');
  const none = await db.any('SELECT note FROM public.n8n_tx_notes');
  assert.deepEqual(none, []);

  // docs/callers.md's example: two statements in one query, two Query Parameters, Transaction mode.
  const docs = n8n.buildQueries(
    'SELECT revos.set_tenant($1);\nINSERT INTO public.n8n_patients (first_name) VALUES ($2) RETURNING id, tenant_id;',
    '={{ $json.tenant_id }}, {{ $json.first_name }}',
    [{ json: { tenant_id: T2, first_name: 'Ada' } }],
  );
  assert.deepEqual(docs[0].values, [T2, 'Ada']);
  const ins = (await runQueries(docs, { queryBatching: 'transaction' })).map((i) => i.json);
  assert.equal(ins.length, 2);
  assert.equal(ins[0].set_tenant, T2);
  assert.equal(ins[1].tenant_id, T2);

  // A failing query rolls the whole transaction back (nothing of it stays).
  await assert.rejects(
    runQueries(
      [
        { query: 'SELECT revos.set_tenant($1) AS tenant', values: [T1] },
        { query: 'INSERT INTO public.n8n_tx_notes(note) VALUES ($1)', values: ['rolled back'] },
        { query: 'SELECT 1/0', values: [] },
      ],
      { queryBatching: 'transaction' },
    ),
    (err) => err.code === '22012',
  );
  const count = await db.tx(async (t) => {
    await t.one('SELECT revos.set_tenant($1)', [T1]);
    return t.one('SELECT count(*)::int AS n FROM public.n8n_tx_notes');
  });
  assert.equal(count.n, 1);
});

test('log_event through pg-promise with $1: recorded, then duplicate for the same idempotency_key', async () => {
  const key = `n8n-${uuid()}`;
  const event = {
    event_type: 'patient.created',
    subject_type: 'patient',
    subject_id: 'p-1',
    actor_id: 'n8n',
    idempotency_key: key,
    payload: { source: 'n8n', note: "commas, and 'quotes'" },
  };
  // Inside a transaction with set_tenant: the event takes the tenant from current_tenant_id().
  const first = await db.tx(async (t) => {
    await t.one('SELECT revos.set_tenant($1)', [T1]);
    return t.one('SELECT revos.log_event($1::jsonb) AS ev', [event]); // pg-promise formats the object as JSON
  });
  assert.equal(typeof first.ev, 'object');
  assert.equal(first.ev.status, 'recorded');
  assert.match(first.ev.event_id, /^[0-9a-f-]{36}$/);

  // The same event from an n8n node (single mode, JSON.stringify'd parameter): a duplicate.
  const again = await runQueries(n8n.buildQueries('SELECT revos.log_event($1::jsonb) AS ev', '={{ JSON.stringify($json) }}', [{ json: event }]), {
    queryBatching: 'single',
  });
  assert.equal(again.length, 1);
  assert.equal(again[0].json.ev.status, 'duplicate');
  assert.equal(again[0].json.ev.event_id, first.ev.event_id);
  assert.equal(String(again[0].json.ev.id), String(first.ev.id));

  const stored = await asSuperuser(DB.n8n, 'SELECT tenant_id, payload FROM revos.events WHERE idempotency_key = $1', [key]);
  assert.equal(stored.rows.length, 1);
  assert.equal(stored.rows[0].tenant_id, T1);
  assert.deepEqual(stored.rows[0].payload, event.payload);

  // A different key is a new event.
  const other = await db.one('SELECT revos.log_event($1::jsonb) AS ev', [{ ...event, idempotency_key: `${key}-b` }]);
  assert.equal(other.ev.status, 'recorded');
  assert.notEqual(other.ev.event_id, first.ev.event_id);
});
