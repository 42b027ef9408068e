'use strict';
// pgbouncer in TRANSACTION pooling mode with ONE server connection (default_pool_size = 1) in
// front of the cluster: two clients take turns on the same server backend. revos.set_tenant()
// is SET LOCAL, so a tenant set in one client's transaction ends with that transaction and never
// reaches the next client. A plain session-level SET does leak: it stays on the server backend,
// and the next client that is handed that backend inherits it. That is why set_tenant uses
// SET LOCAL (and why current_tenant_id() must never be fed by a session SET behind a pooler).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client } = require('pg');

const { DB, baseDsn, asSuperuser, ensureRoleSql, uuid, within, sleep } = require('./lib/common');

const APP_ROLE = 'revos_bouncer_app';
const TABLE = 'public.bouncer_notes';
const TA = uuid();
const TB = uuid();

const work = path.join(process.env.REVOS_CALLERS_WORK || path.join(__dirname, '..', '..', 'target', 'callers'), 'pgbouncer');
const isRoot = process.getuid && process.getuid() === 0;
let bouncer; // the pgbouncer child process (started here, stopped here)
let port;
let stderrTail = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
}

/** A client of pgbouncer (not of the server). */
async function bouncerClient(user = APP_ROLE, database = DB.bouncer) {
  const c = new Client({ host: '127.0.0.1', port, user, database });
  await c.connect();
  return c;
}

before(async () => {
  // The tenant table, created through revos by the superuser; the app role is NOT its owner and
  // not a superuser, so the tenant policy (FORCE RLS) applies to it.
  await asSuperuser(
    DB.bouncer,
    `${ensureRoleSql(APP_ROLE, 'LOGIN NOSUPERUSER NOBYPASSRLS')}`,
  );
  const applied = await asSuperuser(DB.bouncer, 'SELECT revos.apply_schema($1::jsonb) AS r', [
    JSON.stringify({
      schema_version: 'bouncer-001',
      description: 'pgbouncer test table',
      tables: [{ name: 'bouncer_notes', columns: [{ name: 'note', type: 'text' }] }],
    }),
  ]);
  assert.equal(applied.rows[0].r.result.status, 'applied', JSON.stringify(applied.rows[0].r.result));
  await asSuperuser(DB.bouncer, `GRANT SELECT, INSERT ON ${TABLE} TO ${APP_ROLE}`);

  // pgbouncer's own config, under target/callers/pgbouncer, owned by the postgres OS user.
  const server = new URL(baseDsn());
  port = await freePort();
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const userlist = path.join(work, 'userlist.txt');
  const ini = path.join(work, 'pgbouncer.ini');
  fs.writeFileSync(userlist, `"${APP_ROLE}" ""\n"pgbouncer_admin" ""\n`);
  fs.writeFileSync(
    ini,
    `[databases]
${DB.bouncer} = host=${server.hostname} port=${server.port || 5432} dbname=${DB.bouncer}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${userlist}
admin_users = pgbouncer_admin
pool_mode = transaction
default_pool_size = 1
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 20
server_reset_query = DISCARD ALL
server_reset_query_always = 0
ignore_startup_parameters = extra_float_digits,options
logfile = ${path.join(work, 'pgbouncer.log')}
pidfile = ${path.join(work, 'pgbouncer.pid')}
`,
  );
  const bin = process.env.PGBOUNCER_BIN || '/usr/sbin/pgbouncer';
  let cmd = bin;
  let args = [ini];
  if (isRoot) {
    // pgbouncer refuses to run as root: run it as the postgres OS user, like the cluster.
    fs.chmodSync(path.dirname(work), 0o755);
    const { execFileSync } = require('node:child_process');
    execFileSync('chown', ['-R', 'postgres:postgres', work]);
    cmd = 'runuser';
    args = ['-u', 'postgres', '--', bin, ini];
  }
  bouncer = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  bouncer.stderr.on('data', (d) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  // Wait until it accepts connections.
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      const c = await bouncerClient();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (e) {
      if (bouncer.exitCode !== null || Date.now() > deadline) {
        const log = fs.existsSync(path.join(work, 'pgbouncer.log')) ? fs.readFileSync(path.join(work, 'pgbouncer.log'), 'utf8') : '';
        throw new Error(`pgbouncer did not come up on 127.0.0.1:${port}: ${e.message}\n${stderrTail}\n${log.slice(-2000)}`);
      }
      await sleep(100);
    }
  }
});

after(async () => {
  if (bouncer && bouncer.exitCode === null && bouncer.signalCode === null) {
    const exited = new Promise((r) => bouncer.once('exit', r));
    // Stop the pgbouncer started above: SIGTERM to pgbouncer itself (its pidfile), after which
    // runuser exits too (signalling runuser instead would make it wait 2 s before returning).
    const pidfile = path.join(work, 'pgbouncer.pid');
    let pid = null;
    try {
      pid = Number(fs.readFileSync(pidfile, 'utf8').trim()) || null;
    } catch {}
    if (pid) process.kill(pid, 'SIGTERM');
    else bouncer.kill('SIGTERM');
    await within(exited, 5000);
    if (bouncer.exitCode === null && bouncer.signalCode === null) bouncer.kill('SIGKILL');
  }
});

/** The admin console: the server connections pgbouncer holds for the test database. */
async function servers() {
  const admin = new Client({ host: '127.0.0.1', port, user: 'pgbouncer_admin', database: 'pgbouncer' });
  await admin.connect();
  try {
    const r = await admin.query('SHOW SERVERS');
    return r.rows.filter((s) => s.database === DB.bouncer);
  } finally {
    await admin.end();
  }
}

test('pgbouncer transaction pooling, pool size 1: set_tenant never leaks to the next client on the same backend', async () => {
  const a = await bouncerClient();
  const b = await bouncerClient();
  try {
    await a.query('BEGIN');
    await a.query('SELECT revos.set_tenant($1)', [TA]);
    const ins = await a.query(`INSERT INTO ${TABLE}(note) VALUES ('from A') RETURNING tenant_id`);
    assert.equal(ins.rows[0].tenant_id, TA);
    const inA = await a.query('SELECT pg_backend_pid() AS pid, revos.current_tenant_id() AS tenant');
    assert.equal(inA.rows[0].tenant, TA);
    const pidA = inA.rows[0].pid;

    // B asks while A's transaction holds the only server connection: B has to wait.
    const pendingB = b.query(`SELECT pg_backend_pid() AS pid, revos.current_tenant_id() AS tenant,
                                     current_setting('app.current_tenant_id', true) AS raw,
                                     (SELECT count(*)::int FROM ${TABLE}) AS n`);
    const early = await within(pendingB, 300, 'still waiting');
    assert.equal(early, 'still waiting', 'pool size 1: B waits for A\'s transaction to end');

    await a.query('COMMIT');
    const rb = (await pendingB).rows[0];
    assert.equal(rb.pid, pidA, 'B was handed the very server backend A used');
    assert.equal(rb.tenant, null, 'A\'s tenant did not survive A\'s COMMIT');
    assert.ok(rb.raw === null || rb.raw === '', `app.current_tenant_id is unset for B (got ${JSON.stringify(rb.raw)})`);
    assert.equal(rb.n, 0, 'B (no tenant) sees none of A\'s rows');

    // The row is there: B sees it once it sets tenant A itself, and only in that transaction.
    await b.query('BEGIN');
    await b.query('SELECT revos.set_tenant($1)', [TA]);
    const mine = await b.query(`SELECT pg_backend_pid() AS pid, (SELECT count(*)::int FROM ${TABLE}) AS n`);
    await b.query('COMMIT');
    assert.equal(mine.rows[0].n, 1);
    assert.equal(mine.rows[0].pid, pidA);

    // set_tenant outside an explicit transaction lasts for that one statement only.
    await a.query('SELECT revos.set_tenant($1)', [TB]);
    const after1 = await b.query('SELECT pg_backend_pid() AS pid, revos.current_tenant_id() AS tenant');
    assert.equal(after1.rows[0].pid, pidA);
    assert.equal(after1.rows[0].tenant, null);

    const sv = await servers();
    assert.equal(sv.length, 1, `pgbouncer holds exactly one server connection: ${JSON.stringify(sv)}`);
  } finally {
    await a.end().catch(() => {});
    await b.end().catch(() => {});
  }
});

test('pgbouncer transaction pooling: a session-level SET app.current_tenant_id DOES leak (why set_tenant is SET LOCAL)', async () => {
  const a = await bouncerClient();
  const b = await bouncerClient();
  try {
    // A sets the tenant the wrong way: a session SET, outside any transaction.
    await a.query(`SET app.current_tenant_id = '${TA}'`);
    const pa = (await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;

    // B never set a tenant, yet gets A's session state with the shared backend.
    const rb = (await b.query(`SELECT pg_backend_pid() AS pid, revos.current_tenant_id() AS tenant,
                                      (SELECT count(*)::int FROM ${TABLE}) AS n`)).rows[0];
    assert.equal(rb.pid, pa, 'same server backend');
    assert.equal(rb.tenant, TA, 'LEAK: B inherits A\'s session-level tenant through pgbouncer');
    assert.ok(rb.n >= 1, 'LEAK: B reads tenant A\'s rows');

    // set_config(..., false) is the same session-level SET, and leaks the same way.
    await a.query('SELECT set_config($1, $2, false)', ['app.current_tenant_id', TB]);
    const rb2 = (await b.query('SELECT revos.current_tenant_id() AS tenant')).rows[0];
    assert.equal(rb2.tenant, TB);

    // set_tenant inside B's transaction overrides the leaked value only until COMMIT ...
    await b.query('BEGIN');
    await b.query('SELECT revos.set_tenant($1)', [uuid()]);
    await b.query('COMMIT');
    const rb3 = (await b.query('SELECT revos.current_tenant_id() AS tenant')).rows[0];
    assert.equal(rb3.tenant, TB, '... the leaked session value is back afterwards');
  } finally {
    // Clean the shared backend for whoever comes next.
    await a.query('RESET app.current_tenant_id').catch(() => {});
    const clean = await b.query('SELECT revos.current_tenant_id() AS tenant').catch(() => null);
    await a.end().catch(() => {});
    await b.end().catch(() => {});
    if (clean) assert.equal(clean.rows[0].tenant, null, 'RESET cleaned the shared backend');
  }
});
