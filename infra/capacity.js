// What one stage carries, from the quotas of the services it runs on and what
// `npm run bench -- --only capacity` measured: connections, new connections a second, room
// messages a second by room size, posts out, and which limit binds first, per instance class
// (docs/operations.md#what-one-stage-carries, a table this module writes through `npm run docs`).
// The stage throttle's defaults come from here (settings.js), and `npm run deploy -- --check`
// prints a stage's capacity in one line (describeCapacity). Pure: numbers in, numbers out.
'use strict';
const { DEFAULT_ACCOUNT_CONCURRENCY, RESERVABLE_SHARE } = require('./concurrency');
const { apiRequests } = require('./request-costs');

// --- the quotas --------------------------------------------------------------------------

/**
 * API Gateway, per account and Region ("Amazon API Gateway quotas"): 10,000 requests a second
 * across HTTP, REST and WebSocket APIs *and WebSocket callback APIs* (PostToConnection), so a
 * message in and every post out draw on the same 10,000; and for WebSocket APIs ("Quotas for
 * configuring and running a WebSocket API") 500 new connections a second, and no quota on
 * connections open at once, which last at most 2 hours.
 */
const API_GATEWAY = { requestsPerSecond: 10_000, newConnectionsPerSecond: 500, connectionHours: 2 };

/**
 * RDS IAM database authentication: "consider using IAM database authentication when your
 * applications create fewer than 200 connections per second" (its user guide). Every new Lambda
 * container opens one, so at most this many containers should start in one second: what a burst
 * may start at once.
 */
const IAM_NEW_CONNECTIONS_PER_SECOND = 200;

/** Lambda: "At 1,769 MB, a function has the equivalent of one vCPU" (Configure Lambda function memory). */
const ONE_VCPU_MB = 1769;

/**
 * RDS MySQL's default max_connections is {DBInstanceClassMemory/12582880}, where
 * DBInstanceClassMemory is the class's memory less what RDS keeps for the OS and its own
 * processes (AWS does not publish it per class). These are the values RDS MySQL has been
 * seen to report for classes of 1, 2, 4 and 8 GiB (every one of them 2 vCPUs); any other class
 * needs DB_MAX_CONNECTIONS set explicitly (`SHOW VARIABLES LIKE 'max_connections'`), as does a
 * parameter group that changes it.
 */
const RDS_MYSQL_MAX_CONNECTIONS = {
  'db.t3.micro': 66,
  'db.t4g.micro': 66,
  'db.t3.small': 150,
  'db.t4g.small': 150,
  'db.t3.medium': 312,
  'db.t4g.medium': 312,
  'db.t3.large': 648,
  'db.t4g.large': 648,
  'db.m5.large': 648,
  'db.m6g.large': 648,
  'db.m6i.large': 648,
  'db.m7g.large': 648,
};
const DEFAULT_INSTANCE_CLASS = 'db.t4g.micro';

// --- what was measured, and what AWS adds to it --------------------------------------------

/**
 * Which run the figures below are from: BENCHMARKS.md#capacity shows it whole. Each route's CPU
 * per invocation and its MySQL round trips (commands on the wire, end() included) are its
 * MariaDB row, measured through src/handler.ts in a room of ROUTE_ROOM members; the store's
 * publishes a second are the best MariaDB row without posts (its work alone), on one room and
 * spread over 100.
 */
const MEASURED_RUN = '`npm run bench -- --only capacity` of 2026-12-07 04:51 UTC';
const ROUTE_ROOM = 10;
/**
 * `cpuMs`: the handler's CPU here (one core of this machine); `roundTrips`; `replies`: posts made
 * one after another (the summary, an answer); `fanOut`: whether it posts to an audience (the
 * room's members, in rounds of FANOUT_CONCURRENCY); `memoryMb`: its function's (serverless.yml).
 */
const ROUTES = {
  $connect: { cpuMs: 0.21, roundTrips: 1, replies: 0, fanOut: false, memoryMb: 256 },
  $disconnect: { cpuMs: 0.31, roundTrips: 1, replies: 0, fanOut: false, memoryMb: 256 },
  ping: { cpuMs: 0.26, roundTrips: 0, replies: 1, fanOut: false, memoryMb: 512 },
  list: { cpuMs: 0.85, roundTrips: 2, replies: 1, fanOut: false, memoryMb: 512 },
  sendmessage: { cpuMs: 1.88, roundTrips: 1, replies: 1, fanOut: true, memoryMb: 512 },
  publish: { cpuMs: 1.72, roundTrips: 2, replies: 1, fanOut: true, memoryMb: 512 },
  'publish-ephemeral': { cpuMs: 1.51, roundTrips: 1, replies: 1, fanOut: true, memoryMb: 512 },
  join: { cpuMs: 2.08, roundTrips: 3.5, replies: 1, fanOut: true, memoryMb: 512 },
  leave: { cpuMs: 2.46, roundTrips: 3.5, replies: 1, fanOut: true, memoryMb: 512 },
  history: { cpuMs: 1.31, roundTrips: 1, replies: 1, fanOut: false, memoryMb: 512 },
  members: { cpuMs: 0.92, roundTrips: 4, replies: 1, fanOut: false, memoryMb: 512 },
};
/** Room publishes a second one MariaDB took here, its work alone: on one room, and over 100. */
const STORE_PUBLISHES_PER_SECOND = { oneRoom: 3079, manyRooms: 4012 };

/**
 * What a region adds, per step, to what was measured on loopback: a round trip to RDS over TLS
 * (0.5 to 1.5 ms), and a PostToConnection's answer (tens of ms; the bench's stand-in takes 20).
 * CPU per post beyond the measured room's: BENCHMARKS.md#fan-out (ours at concurrency 50).
 */
const DB_ROUND_TRIP_MS = 1;
const POST_MS = 20;
const POST_CPU_MS = 0.13;
/** FANOUT_CONCURRENCY's default (serverless.yml): posts in flight per fan-out. */
const FANOUT_CONCURRENCY = 50;

/**
 * How long one invocation of `route` keeps its container in AWS, in ms, for an audience of
 * `members`: its CPU scaled to its function's share of a vCPU, plus a network hop per round trip,
 * plus a post's answer per round of posts. A sum, so it errs long (CPU and waits overlap).
 */
function routeMs(route, members = ROUTE_ROOM) {
  const r = ROUTES[route];
  if (r === undefined) throw new Error(`no route ${route} in the capacity model`);
  const cpuScale = Math.max(1, ONE_VCPU_MB / r.memoryMb);
  const extraPosts = r.fanOut ? Math.max(0, members - ROUTE_ROOM) : 0;
  const rounds = r.replies + (r.fanOut ? Math.ceil(members / FANOUT_CONCURRENCY) : 0);
  return (r.cpuMs + extraPosts * POST_CPU_MS) * cpuScale + r.roundTrips * DB_ROUND_TRIP_MS + rounds * POST_MS;
}

/** The slowest route a client can flood (any message route; the stage throttles each alike). */
function floodRoute() {
  return Object.keys(ROUTES)
    .filter((route) => !route.startsWith('$'))
    .reduce((a, b) => (routeMs(b) > routeMs(a) ? b : a));
}

// --- the budget and the defaults -----------------------------------------------------------

/**
 * The containers one flood may hold: each holds one database connection, so 80% of
 * max_connections (RESERVABLE_SHARE, infra/concurrency.js says why), and no more than a
 * reservation (RESERVED_CONCURRENCY, per function) or the account's concurrency allow.
 */
function containerBudget({ maxConnections, reserved, accountConcurrency = DEFAULT_ACCOUNT_CONCURRENCY }) {
  const candidates = [
    {
      containers: Math.floor(maxConnections * RESERVABLE_SHARE),
      boundBy: `${RESERVABLE_SHARE * 100}% of max_connections`,
    },
    ...(reserved > 0 ? [{ containers: reserved, boundBy: 'RESERVED_CONCURRENCY' }] : []),
    { containers: accountConcurrency, boundBy: 'ACCOUNT_CONCURRENCY' },
  ];
  return candidates.reduce((a, b) => (b.containers < a.containers ? b : a));
}

/**
 * The stage throttle's defaults: a burst of half the containers (a burst arrives at once, each
 * request in a container of its own), at most what RDS IAM authentication takes in a second;
 * and the highest rate whose containers (rate x the flood route's duration) fit the other half.
 */
function throttleDefaults(budget) {
  const durationMs = routeMs(floodRoute());
  const burst = Math.max(1, Math.min(Math.floor(budget.containers / 2), IAM_NEW_CONNECTIONS_PER_SECOND));
  const rate = Math.max(1, Math.floor(((budget.containers - burst) * 1000) / durationMs));
  return { burst, rate: Math.min(rate, API_GATEWAY.requestsPerSecond), durationMs };
}

/** The least of `candidates` ({ value, boundBy }), rounded down: whole from 10, to a tenth below. */
function least(candidates) {
  const first = candidates.reduce((a, b) => (b.value < a.value ? b : a));
  const value = first.value >= 10 ? Math.floor(first.value) : Math.floor(first.value * 10) / 10;
  return { value, boundBy: first.boundBy };
}

/** The room sizes the capacity table and line speak of. */
const ROOM_SIZES = [2, 10, 100, 1_000, 10_000];

/**
 * What a stage carries. `maxConnections` and `instanceClass` as settings.js resolved them;
 * `burst` and `rate` the stage throttle (derived when not given); `reserved` and
 * `accountConcurrency` as the settings say.
 */
function stageCapacity({ instanceClass, maxConnections, burst, rate, reserved, accountConcurrency }) {
  const budget = containerBudget({ maxConnections, reserved, accountConcurrency });
  const defaults = throttleDefaults(budget);
  const throttle = { burst: burst ?? defaults.burst, rate: rate ?? defaults.rate };
  const containersAtThrottle = Math.ceil(throttle.burst + (throttle.rate * defaults.durationMs) / 1000);
  const newConnections = least([
    { value: API_GATEWAY.newConnectionsPerSecond, boundBy: "API Gateway's 500 new connections/s" },
    { value: throttle.rate, boundBy: 'the stage throttle' },
    { value: (budget.containers * 1000) / routeMs('$connect'), boundBy: 'the connection budget' },
  ]);
  const rooms = ROOM_SIZES.map((members) => {
    const perMessage = apiRequests('publish', members);
    const messagesIn = least([
      { value: throttle.rate, boundBy: 'the stage throttle' },
      { value: API_GATEWAY.requestsPerSecond / perMessage, boundBy: "API Gateway's 10,000 requests/s" },
      { value: (budget.containers * 1000) / routeMs('publish', members), boundBy: 'the connection budget' },
      { value: STORE_PUBLISHES_PER_SECOND.oneRoom, boundBy: 'the store (one room, measured)' },
    ]);
    return { members, messagesIn, postsOut: messagesIn.value * (perMessage - 1) };
  });
  return {
    instanceClass,
    maxConnections,
    budget,
    throttle,
    derived: { burst: burst === undefined, rate: rate === undefined },
    floodRoute: floodRoute(),
    floodRouteMs: Math.round(defaults.durationMs * 10) / 10,
    containersAtThrottle,
    overBudget: containersAtThrottle > budget.containers,
    newConnections,
    // API Gateway keeps a connection at most 2 hours: at this rate, that many are open at most.
    openConnections: newConnections.value * API_GATEWAY.connectionHours * 3600,
    rooms,
  };
}

/** 1,234 or, below 10, 1.5: how the figures are said. */
const number = (value) =>
  value >= 10 ? Math.round(value).toLocaleString('en-US') : String(Math.round(value * 10) / 10);

/**
 * The stage's capacity in one line (`npm run deploy -- --check`): the budget, the throttle,
 * new connections a second, and room messages a second at two sizes, each with what binds.
 */
function describeCapacity(capacity) {
  const { throttle, budget } = capacity;
  const source = capacity.derived.burst && capacity.derived.rate ? 'derived' : 'as set';
  const room = (members) => {
    const { messagesIn, postsOut } = capacity.rooms.find((r) => r.members === members);
    return `a room of ${number(members)}: ${number(messagesIn.value)} messages/s in, ${number(postsOut)} posts/s out (${messagesIn.boundBy})`;
  };
  return (
    `capacity: ${capacity.instanceClass ?? 'DB_MAX_CONNECTIONS'}: ${budget.containers} of ${capacity.maxConnections} ` +
    `connections for functions; throttle per route burst ${throttle.burst}, ${number(throttle.rate)}/s (${source}); ` +
    `new connections ${number(capacity.newConnections.value)}/s (${capacity.newConnections.boundBy}); ` +
    `${room(10)}; ${room(100)} (docs/operations.md#what-one-stage-carries)`
  );
}

/**
 * The problem with a throttle whose containers (burst + rate x the flood route's duration) do
 * not fit the budget, or undefined: said as a warning, since a lower rate may be meant elsewhere.
 */
function throttleWarning(capacity) {
  if (!capacity.overBudget) return undefined;
  return (
    `WS_THROTTLE_BURST ${capacity.throttle.burst} and WS_THROTTLE_RATE ${capacity.throttle.rate} may keep ` +
    `${capacity.containersAtThrottle} containers busy at once (burst + rate x ${capacity.floodRouteMs} ms of ` +
    `${capacity.floodRoute}), more than the ${capacity.budget.containers} connections the functions may hold ` +
    `(${capacity.budget.boundBy}); leave them unset to derive them, or use a larger DB_INSTANCE_CLASS`
  );
}

module.exports = {
  API_GATEWAY,
  IAM_NEW_CONNECTIONS_PER_SECOND,
  ONE_VCPU_MB,
  RDS_MYSQL_MAX_CONNECTIONS,
  DEFAULT_INSTANCE_CLASS,
  MEASURED_RUN,
  ROUTE_ROOM,
  ROUTES,
  STORE_PUBLISHES_PER_SECOND,
  DB_ROUND_TRIP_MS,
  POST_MS,
  POST_CPU_MS,
  FANOUT_CONCURRENCY,
  ROOM_SIZES,
  routeMs,
  floodRoute,
  containerBudget,
  throttleDefaults,
  stageCapacity,
  describeCapacity,
  throttleWarning,
  number,
};
