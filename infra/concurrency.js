// What a reservation of concurrency must leave the account. Lambda refuses a reservation
// that leaves fewer than 100 of the account's executions unreserved (the concurrency guide:
// "You can reserve up to the Unreserved account concurrency value that is shown, minus 100",
// and the deploy fails with "decreases account's UnreservedConcurrentExecution below its
// minimum"). Accounts with a low quota (new ones often have 10 in all) keep a smaller minimum,
// but then have next to nothing to reserve. Read by settings.js and scripts/deploy/checks.ts.
'use strict';

/** What Lambda keeps unreserved in an account with the default quota or more. */
const UNRESERVED_FLOOR = 100;
/** Lambda's default quota of concurrent executions per account and region. */
const DEFAULT_ACCOUNT_CONCURRENCY = 1000;
/** connect, disconnect, default, message and publish get RESERVED_CONCURRENCY each; the sweep gets 1. */
const RESERVED_WS_FUNCTIONS = 5;
/**
 * The departures function's concurrency: its queue's event source runs at most this many at once
 * (serverless.yml maximumConcurrency), and with RESERVED_CONCURRENCY set it reserves as many, so
 * that the reservation never throttles what the event source may run.
 */
const DEPARTURES_CONCURRENCY = 5;

/** Share of max_connections that reserved functions may hold at once (settings.js explains why 80%). */
const RESERVABLE_SHARE = 0.8;

/** What RESERVED_CONCURRENCY reserves beside the WebSocket functions: 1 (sweep) + 5 (departures). */
const RESERVED_OTHERS = 1 + DEPARTURES_CONCURRENCY;

/**
 * The executions the reservations hold: 5 x each + 1 (sweep) + 5 (departures) when
 * RESERVED_CONCURRENCY is set, plus what `deliver` reserves (DELIVER_RESERVED_CONCURRENCY). Each
 * one may hold a database connection, so the same sum is the most connections the reserved
 * functions open.
 */
const reservedTotal = (each, deliver = 0) =>
  (each > 0 ? RESERVED_WS_FUNCTIONS * each + RESERVED_OTHERS : 0) + (deliver ?? 0);

/**
 * "RESERVED_CONCURRENCY 10, DELIVER_RESERVED_CONCURRENCY 20: 5 functions x 10 + 1 (sweep) +
 * 5 (departures) + 20 (deliver) = 76".
 */
function describeTotal(each, deliver) {
  const names = [];
  const terms = [];
  if (each > 0) {
    names.push(`RESERVED_CONCURRENCY ${each}`);
    terms.push(`${RESERVED_WS_FUNCTIONS} functions x ${each} + 1 (sweep) + ${DEPARTURES_CONCURRENCY} (departures)`);
  }
  if (deliver > 0) {
    names.push(`DELIVER_RESERVED_CONCURRENCY ${deliver}`);
    terms.push(`${deliver} (deliver)`);
  }
  return `${names.join(', ')}: ${terms.join(' + ')} = ${reservedTotal(each, deliver)}`;
}

/** "Use at most N, " for whichever setting can still give (the total may be `room`), or nothing. */
function useAtMost(each, deliver, room) {
  if (each > 0) {
    const most = Math.floor((room - RESERVED_OTHERS - (deliver ?? 0)) / RESERVED_WS_FUNCTIONS);
    if (most >= 1) return `Use at most ${most}${deliver > 0 ? ' with that DELIVER_RESERVED_CONCURRENCY' : ''}, `;
  } else if (deliver > 0 && room >= 1) {
    return `Use at most ${room} for DELIVER_RESERVED_CONCURRENCY, `;
  }
  return '';
}

/**
 * The problem with reserving `each` per WebSocket function (and `deliver` for the deliver
 * function) in an account of `accountConcurrency` executions, or undefined. Other
 * functions' reservations in the account count against the same quota.
 */
function accountConcurrencyProblem(each, accountConcurrency = DEFAULT_ACCOUNT_CONCURRENCY, deliver = 0) {
  const total = reservedTotal(each, deliver);
  if (total + UNRESERVED_FLOOR <= accountConcurrency) return undefined;
  return (
    `${describeTotal(each, deliver)} reserved ` +
    `executions, but Lambda keeps at least ${UNRESERVED_FLOOR} of the account's ${accountConcurrency} ` +
    `(ACCOUNT_CONCURRENCY) unreserved, so at most ${Math.max(0, accountConcurrency - UNRESERVED_FLOOR)} can be reserved ` +
    `(less what other functions reserve). ` +
    useAtMost(each, deliver, accountConcurrency - UNRESERVED_FLOOR) +
    'ask for a higher quota (Service Quotas: Lambda, Concurrent executions), or leave it unset.'
  );
}

/**
 * The problem with reservations that could hold more database connections at once than 80%
 * of `maxConnections` (DB_MAX_CONNECTIONS of `instanceClass`), or undefined.
 */
function databaseBudgetProblem(each, deliver, maxConnections, instanceClass) {
  const total = reservedTotal(each, deliver);
  const budget = Math.floor(maxConnections * RESERVABLE_SHARE);
  if (total <= budget) return undefined;
  return (
    `${describeTotal(each, deliver)} ` +
    `database connections at once, more than ${RESERVABLE_SHARE * 100}% of DB_MAX_CONNECTIONS ` +
    `${maxConnections} (${instanceClass}) = ${budget}. ` +
    useAtMost(each, deliver, budget) +
    'a larger DB_INSTANCE_CLASS, or leave it unset.'
  );
}

/**
 * A warning, or undefined: with RESERVED_CONCURRENCY set but not DELIVER_RESERVED_CONCURRENCY,
 * the WebSocket functions are bounded and the shards are not, so a few large broadcasts can
 * still open as many connections as the account lets `deliver` run.
 */
function unboundedShardsWarning(each, deliver) {
  if (!(each > 0) || deliver > 0) return undefined;
  return (
    `RESERVED_CONCURRENCY ${each} bounds the WebSocket functions but not the shards of large broadcasts: ` +
    'each running deliver holds a database connection too; set DELIVER_RESERVED_CONCURRENCY to bound them.'
  );
}

module.exports = {
  UNRESERVED_FLOOR,
  DEFAULT_ACCOUNT_CONCURRENCY,
  RESERVED_WS_FUNCTIONS,
  DEPARTURES_CONCURRENCY,
  RESERVABLE_SHARE,
  reservedTotal,
  accountConcurrencyProblem,
  databaseBudgetProblem,
  unboundedShardsWarning,
};
