'use strict';
// The real n8n (1.123.81, from npm; installed in ~/.cache/revos/n8n by tests/callers/run.sh) runs the
// shipped workflow examples/n8n-apply-schema.workflow.json against the test cluster, through its own
// Postgres node and its own credential store, with `n8n execute`. What the test changes in the
// workflow, and why: `n8n execute` starts only from a Manual Trigger, so the Webhook trigger is
// replaced by a Manual Trigger followed by a Set node that emits what the Webhook would (the request,
// with the schema as `body`); the Respond to Webhook node needs a real webhook, so it is left out and
// its responseCode expression is evaluated here on the Postgres node's output. The Postgres node runs
// exactly as shipped (same parameters, same typeVersion; only the credential id is this run's).
//
// n8n runs with its own SQLite under target/callers/n8n-home, no task runners, the legacy
// expression engine, telemetry and every outside call off; it talks to nothing but 127.0.0.1.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const { DB, asSuperuser, ensureRoleSql, baseDsn } = require('./lib/common');
const n8nMirror = require('./lib/n8n-postgres');

const ROLE = 'revos_n8n_cli';
const WORKFLOW = path.join(__dirname, '..', '..', 'examples', 'n8n-apply-schema.workflow.json');
const N8N = process.env.REVOS_N8N_BIN;
const CRED_ID = 'revosCliCred0001';
const WF_GOOD = 'revosCliApply001';
const WF_BAD = 'revosCliBlock001';

const patients = {
  schema_version: 'n8n-cli-001',
  // commas, an apostrophe, a quote and a dollar sign: all must reach Postgres as ONE parameter
  description: 'Patients, wards, and beds for O\'Brien\'s "clinic" ($1, not a parameter)',
  tables: [
    {
      name: 'n8nCliPatients',
      columns: [
        { name: 'firstName', type: 'text', not_null: true },
        { name: 'ward', type: 'varchar(20)', default: "'A, east'" },
      ],
    },
  ],
};
const bad = {
  schema_version: 'n8n-cli-bad',
  description: 'a bad column name',
  tables: [{ name: 'n8n_cli_bad', columns: [{ name: 'a;b', type: 'text' }] }],
};

let home;
let env;

function n8n(args) {
  return execFileSync(N8N, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/** The shipped workflow, made runnable by `n8n execute` (see the header). */
function runnable(id, name, body) {
  const wf = JSON.parse(fs.readFileSync(WORKFLOW, 'utf8'));
  const hook = wf.nodes.find((n) => n.type === 'n8n-nodes-base.webhook');
  const pg = wf.nodes.find((n) => n.type === 'n8n-nodes-base.postgres');
  pg.credentials.postgres = { id: CRED_ID, name: 'revos test cluster' };
  const request = { headers: { 'content-type': 'application/json' }, params: {}, query: {}, body };
  return {
    id,
    name,
    active: false,
    settings: wf.settings,
    connections: {
      Start: { main: [[{ node: hook.name, type: 'main', index: 0 }]] },
      [hook.name]: { main: [[{ node: pg.name, type: 'main', index: 0 }]] },
    },
    nodes: [
      { id: 'a0000000-0000-4000-8000-000000000001', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [-240, 0], parameters: {} },
      {
        id: hook.id,
        name: hook.name, // the Webhook's place, and its output: the request, schema in `body`
        type: 'n8n-nodes-base.set',
        typeVersion: 3.4,
        position: hook.position,
        parameters: { mode: 'raw', jsonOutput: JSON.stringify(request), options: {} },
      },
      pg,
    ],
    pinData: {},
  };
}

/** `n8n execute --rawOutput` -> the Postgres node's output items. */
function execute(id) {
  const out = n8n(['execute', `--id=${id}`, '--rawOutput']);
  const start = out.indexOf('{');
  assert.ok(start >= 0, `n8n printed no JSON:\n${out}`);
  const run = JSON.parse(out.slice(start));
  assert.equal(run.data.resultData.error, undefined, JSON.stringify(run.data.resultData.error));
  const pgRuns = run.data.resultData.runData['revos.apply_schema'];
  assert.ok(pgRuns && pgRuns.length === 1, 'the Postgres node ran once');
  return pgRuns[0].data.main[0].map((i) => i.json);
}

function responseCode(itemJson) {
  const wf = JSON.parse(fs.readFileSync(WORKFLOW, 'utf8'));
  const respond = wf.nodes.find((n) => n.type === 'n8n-nodes-base.respondToWebhook');
  return n8nMirror.evaluate(respond.parameters.options.responseCode.replace(/^=/, ''), itemJson);
}

before(async () => {
  assert.ok(N8N && fs.existsSync(N8N), 'REVOS_N8N_BIN: run through tests/callers/run.sh, which installs n8n');
  await asSuperuser(
    DB.n8nCli,
    `${ensureRoleSql(ROLE, 'LOGIN NOSUPERUSER NOBYPASSRLS')}
     GRANT revos_admin TO ${ROLE};
     GRANT CREATE ON SCHEMA public TO ${ROLE};`,
  );
  const u = new URL(baseDsn());
  // n8n's own SQLite is kept between runs (its first start migrates it, which is slow); the
  // credential and the workflows are upserted by id on every run.
  home = path.join(process.env.REVOS_CALLERS_WORK, 'n8n-home');
  fs.mkdirSync(home, { recursive: true });
  env = {
    PATH: process.env.PATH,
    HOME: home,
    N8N_USER_FOLDER: home,
    DB_TYPE: 'sqlite',
    N8N_RUNNERS_ENABLED: 'false',
    N8N_EXPRESSION_ENGINE: 'legacy',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'false',
    N8N_HIRING_BANNER_ENABLED: 'false',
    N8N_ENCRYPTION_KEY: 'revos-test-only-key',
    GENERIC_TIMEZONE: 'UTC',
    NODE_ENV: 'production',
  };
  const credentials = [
    {
      id: CRED_ID,
      name: 'revos test cluster',
      type: 'postgres',
      data: { host: u.hostname, port: Number(u.port), database: DB.n8nCli, user: ROLE, password: '', ssl: 'disable', allowUnauthorizedCerts: false },
    },
  ];
  fs.writeFileSync(path.join(home, 'credentials.json'), JSON.stringify(credentials));
  fs.writeFileSync(
    path.join(home, 'workflows.json'),
    JSON.stringify([runnable(WF_GOOD, 'revos: apply patients', patients), runnable(WF_BAD, 'revos: a blocked schema', bad)]),
  );
  n8n(['import:credentials', `--input=${path.join(home, 'credentials.json')}`]);
  n8n(['import:workflow', `--input=${path.join(home, 'workflows.json')}`]);
});

test('the runnable copy keeps the shipped Postgres node as it is', () => {
  const shipped = JSON.parse(fs.readFileSync(WORKFLOW, 'utf8')).nodes.find((n) => n.type === 'n8n-nodes-base.postgres');
  const used = runnable(WF_GOOD, 'x', patients).nodes.find((n) => n.type === 'n8n-nodes-base.postgres');
  assert.deepEqual({ ...used, credentials: undefined }, { ...shipped, credentials: undefined });
  assert.equal(used.parameters.query, 'SELECT revos.apply_schema($1::jsonb) AS result');
});

test('real n8n: the workflow applies the schema, then the same call is a noop', async () => {
  const [first] = execute(WF_GOOD);
  assert.equal(typeof first.result, 'object', 'jsonb arrives as an object');
  assert.equal(first.result.result.status, 'applied', JSON.stringify(first.result.result));
  assert.equal(first.result.meta_out.success, true);
  assert.equal(first.result.result.primary_outputs.schema_version, 'n8n-cli-001');
  assert.equal(responseCode(first), 200);

  // What the envelope promises is in the database, as the role in n8n's credential left it.
  const { rows } = await asSuperuser(
    DB.n8nCli,
    `SELECT m.description, m.status, c.relrowsecurity, pg_get_userbyid(c.relowner) AS owner,
            (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS cols
       FROM revos.schema_migrations m, pg_class c
      WHERE m.version = 'n8n-cli-001' AND c.oid = 'public.n8n_cli_patients'::regclass`,
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0].description, patients.description, 'the payload reached Postgres whole');
  assert.equal(rows[0].status, 'applied');
  assert.equal(rows[0].relrowsecurity, true);
  assert.equal(rows[0].owner, ROLE);
  assert.match(rows[0].cols, /first_name/);
  assert.match(rows[0].cols, /tenant_id/);

  const [again] = execute(WF_GOOD);
  assert.equal(again.result.result.status, 'noop', JSON.stringify(again.result.result));
  assert.equal(responseCode(again), 200);
});

test('real n8n: a bad schema comes back blocked (400), and nothing ran', async () => {
  const [out] = execute(WF_BAD);
  assert.equal(out.result.result.status, 'blocked', JSON.stringify(out.result.result));
  assert.equal(out.result.meta_out.success, false);
  assert.equal(out.result.result.validation_errors[0].code, 'invalid_name');
  assert.equal(responseCode(out), 400);
  const { rows } = await asSuperuser(DB.n8nCli, "SELECT to_regclass('public.n8n_cli_bad') AS t");
  assert.equal(rows[0].t, null);
});
