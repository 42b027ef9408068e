'use strict';
// Shared helpers for the caller tests. The databases are created by tests/callers/run.sh;
// each test file sets up the roles it needs (idempotently: roles are cluster-wide).

const { Client } = require('pg');

/** DSN of the cluster (any database), as given to run.sh. */
function baseDsn() {
  const dsn = process.env.REVOS_CALLERS_DSN;
  if (!dsn) throw new Error('REVOS_CALLERS_DSN is not set: run these tests through tests/callers/run.sh DSN');
  return dsn;
}

/** The same DSN pointed at another database and/or user (password dropped for another user). */
function dsnFor({ database, user } = {}) {
  const u = new URL(baseDsn());
  if (database) u.pathname = '/' + encodeURIComponent(database);
  if (user) {
    u.username = encodeURIComponent(user);
    u.password = '';
  }
  return u.toString();
}

/** Database names used by the tests (run.sh creates them with the same names). */
const DB = {
  n8n: process.env.REVOS_CALLERS_DB_N8N || 'revos_callers_n8n',
  n8nCli: process.env.REVOS_CALLERS_DB_N8N_CLI || 'revos_callers_n8n_cli',
  bouncer: process.env.REVOS_CALLERS_DB_BOUNCER || 'revos_callers_bouncer',
  postgrest: process.env.REVOS_CALLERS_DB_POSTGREST || 'revos_callers_postgrest',
};

/** Connects one node-postgres client (superuser unless `user` is given). */
async function connect(opts = {}) {
  const c = new Client({ connectionString: dsnFor(opts) });
  await c.connect();
  return c;
}

/** Runs SQL as the superuser on `database` and closes the connection. */
async function asSuperuser(database, sql, values) {
  const c = await connect({ database });
  try {
    return await c.query(sql, values);
  } finally {
    await c.end();
  }
}

/** CREATE ROLE ... unless it exists (roles are shared by all databases of the cluster). */
function ensureRoleSql(name, attrs) {
  return `DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${name}') THEN
      CREATE ROLE "${name}" ${attrs};
    END IF;
  END $$;`;
}

/** A fresh random UUID (tenant ids are uuids: tenant_id columns are uuid). */
function uuid() {
  return require('node:crypto').randomUUID();
}

/** Awaits `p` but gives up after `ms`, resolving to `fallback`. */
function within(p, ms, fallback) {
  let timer;
  const t = new Promise((r) => {
    timer = setTimeout(() => r(fallback), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { baseDsn, dsnFor, DB, connect, asSuperuser, ensureRoleSql, uuid, within, sleep };
