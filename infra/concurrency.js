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

/** The executions a reservation of `each` per function holds: 5 x each + 1 (sweep). */
const reservedTotal = (each) => RESERVED_WS_FUNCTIONS * each + 1;

/**
 * The problem with reserving `each` in an account of `accountConcurrency` executions, or
 * undefined. Other functions' reservations in the account count against the same quota.
 */
function accountConcurrencyProblem(each, accountConcurrency = DEFAULT_ACCOUNT_CONCURRENCY) {
  const total = reservedTotal(each);
  if (total + UNRESERVED_FLOOR <= accountConcurrency) return undefined;
  const most = Math.floor((accountConcurrency - UNRESERVED_FLOOR - 1) / RESERVED_WS_FUNCTIONS);
  return (
    `RESERVED_CONCURRENCY ${each}: ${RESERVED_WS_FUNCTIONS} functions x ${each} + 1 (sweep) = ${total} reserved ` +
    `executions, but Lambda keeps at least ${UNRESERVED_FLOOR} of the account's ${accountConcurrency} ` +
    `(ACCOUNT_CONCURRENCY) unreserved, so at most ${Math.max(0, accountConcurrency - UNRESERVED_FLOOR)} can be reserved ` +
    `(less what other functions reserve). ` +
    (most >= 1 ? `Use at most ${most}, ` : '') +
    'ask for a higher quota (Service Quotas: Lambda, Concurrent executions), or leave it unset.'
  );
}

module.exports = {
  UNRESERVED_FLOOR,
  DEFAULT_ACCOUNT_CONCURRENCY,
  RESERVED_WS_FUNCTIONS,
  reservedTotal,
  accountConcurrencyProblem,
};
