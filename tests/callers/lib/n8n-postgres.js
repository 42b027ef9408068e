'use strict';
// A faithful, minimal re-creation of how n8n's Postgres node (v2, "Execute Query", typeVersion
// >= 2.5) talks to Postgres, so that revos can be tested through the same pg-promise calls without
// running n8n itself. Mirrored from the n8n-io/n8n sources:
//
//   packages/nodes-base/nodes/Postgres/transport/index.ts            configurePostgres()
//       pgPromise({ noWarnings: true }); TIMESTAMP/TIMESTAMPTZ parsed to ISO strings (v >= 2.1)
//   packages/nodes-base/nodes/Postgres/v2/actions/database/executeQuery.operation.ts   execute()
//       one { query, values } per input item; "Query Parameters" (options.queryReplacement) for
//       nodeVersion >= 2.5: each {{ }} is evaluated, a JSON-looking result stays ONE value,
//       anything else is split on commas (stringToArray)
//   packages/nodes-base/nodes/Postgres/v2/helpers/utils.ts            configureQueryRunner()
//       queryBatching 'single'        -> db.multi(pgp.helpers.concat(queries))
//       queryBatching 'transaction'   -> db.tx(t => for each query: t.multi(query, values))
//       queryBatching 'independently' -> db.task(t => for each query: t.multi(query, values))
//
// pg-promise formats `$1` client-side (pgp.as.format), so every query reaches the server as plain
// text over the simple query protocol; 'single' sends ONE query string for all items, which the
// server runs as ONE implicit transaction.
//
// What is NOT n8n here: expressions ({{ ... }}) are evaluated as plain JavaScript with $json in
// scope, not by n8n's expression engine; continueOnFail error items are simplified.

const pgPromise = require('pg-promise');

const NODE_VERSION = 2.6;

/** transport/index.ts: configurePostgres (no SSH tunnel, no pool manager). */
function configurePostgres(connectionString, { nodeVersion = NODE_VERSION } = {}) {
  const pgp = pgPromise({ noWarnings: true });
  if (nodeVersion >= 2.1) {
    [pgp.pg.types.builtins.TIMESTAMP, pgp.pg.types.builtins.TIMESTAMPTZ].forEach((type) => {
      pgp.pg.types.setTypeParser(type, (value) => {
        const parsedDate = new Date(value);
        if (isNaN(parsedDate.getTime())) return value;
        return parsedDate.toISOString();
      });
    });
  }
  const db = pgp({ connectionString, keepAlive: true, max: 2 });
  return { pgp, db };
}

// utils/utilities.ts: getResolvables
function getResolvables(expression) {
  if (!expression) return [];
  const out = [];
  const re = /({{[\s\S]*?}})/g;
  let m;
  while ((m = re.exec(expression)) !== null) if (m[1]) out.push(m[1]);
  return out;
}

// helpers/utils.ts: isJSON, evaluateExpression, stringToArray
function isJSON(str) {
  try {
    JSON.parse(str.trim());
    return true;
  } catch {
    return false;
  }
}
function evaluateExpressionValue(expression) {
  if (expression === undefined) return '';
  if (expression === null) return 'null';
  return typeof expression === 'object' ? JSON.stringify(expression) : expression.toString();
}
function stringToArray(str) {
  if (str === undefined) return [];
  return String(str)
    .split(',')
    .filter((e) => e)
    .map((e) => e.trim());
}

/** Stand-in for n8n's expression engine: `{{ js }}` evaluated with $json bound. */
function evaluate(resolvable, json) {
  const body = resolvable.replace(/^{{/, '').replace(/}}$/, '');
  // eslint-disable-next-line no-new-func
  return new Function('$json', `return (${body});`)(json);
}

/**
 * executeQuery.operation.ts (nodeVersion >= 2.5): the values for one item from the raw
 * "Query Parameters" option string, e.g. '={{ JSON.stringify($json.body) }}'.
 */
function queryValues(rawReplacements, itemJson) {
  const values = [];
  if (!rawReplacements) return values;
  const rawValues = rawReplacements.replace(/^=+/, '');
  const resolvables = getResolvables(rawValues);
  if (resolvables.length) {
    for (const resolvable of resolvables) {
      const evaluated = evaluateExpressionValue(evaluate(resolvable, itemJson));
      const evaluatedValues = isJSON(evaluated) ? [evaluated] : stringToArray(evaluated);
      if (evaluatedValues.length) values.push(...evaluatedValues);
    }
  } else {
    values.push(...stringToArray(rawValues));
  }
  return values;
}

/** executeQuery.operation.ts: one { query, values } per input item. */
function buildQueries(query, rawReplacements, items) {
  return items.map((item) => ({ query, values: queryValues(rawReplacements, item.json) }));
}

const isSelectQuery = (query) =>
  query
    .replace(/\/\*.*?\*\//g, '')
    .replace(/\n/g, '')
    .split(';')
    .filter((s) => s && !s.startsWith('--'))
    .every((s) => s.trim().toLowerCase().startsWith('select'));

const wrapData = (data) => (Array.isArray(data) ? data.map((json) => ({ json })) : [{ json: data }]);

/** helpers/utils.ts: configureQueryRunner (nodeVersion >= 2.3 branches). */
function configureQueryRunner(pgp, db, { continueOnFail = false } = {}) {
  return async (queries, options = {}) => {
    const queryBatching = options.queryBatching || 'single';
    let returnData = [];

    if (queryBatching === 'single') {
      returnData = (await db.multi(pgp.helpers.concat(queries))).map((r) => wrapData(r)).flat();
      if (!returnData.length) {
        returnData = queries.every((q) => isSelectQuery(q.query)) ? [] : [{ json: { success: true } }];
      }
    }

    if (queryBatching === 'transaction') {
      returnData = await db.tx(async (transaction) => {
        const result = [];
        for (let i = 0; i < queries.length; i++) {
          const { query, values } = queries[i];
          try {
            let rows = (await transaction.multi(query, values)).flat();
            if (!rows.length) rows = isSelectQuery(query) ? [] : [{ success: true }];
            result.push(...wrapData(rows));
          } catch (err) {
            if (!continueOnFail) throw err;
            result.push({ json: { message: err.message, error: { code: err.code } } });
            return result; // n8n stops the transaction at the first failing query
          }
        }
        return result;
      });
    }

    if (queryBatching === 'independently') {
      returnData = await db.task(async (task) => {
        const result = [];
        for (let i = 0; i < queries.length; i++) {
          const { query, values } = queries[i];
          try {
            let rows = (await task.multi(query, values)).flat();
            if (!rows.length) rows = isSelectQuery(query) ? [] : [{ success: true }];
            result.push(...wrapData(rows));
          } catch (err) {
            if (!continueOnFail) throw err;
            result.push({ json: { message: err.message, error: { code: err.code } } });
          }
        }
        return result;
      });
    }

    return returnData;
  };
}

module.exports = {
  NODE_VERSION,
  configurePostgres,
  configureQueryRunner,
  buildQueries,
  queryValues,
  evaluate,
  isJSON,
  stringToArray,
};
