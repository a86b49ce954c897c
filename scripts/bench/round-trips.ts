/**
 * MySQL round trips per route, counted on the wire, and each route's median time: every route
 * through its Lambda entry point (src/handler.ts, the store's end() included), one call after
 * another as one warm container runs them, against MariaDB behind the loopback proxy of
 * test/support/stand-ins/tcp-proxy.ts. The proxy counts every command a client starts
 * (a packet of sequence id 0 after the handshake: a query, a ping, a quit), so what a library
 * sends on its own counts as much as our statements. The counts are per call and do not depend
 * on timing: test/integration/round-trips.test.ts runs the same `countRoundTrips` and fails when
 * a route goes over its target.
 *
 * The room is one of 10 members who see presence, so `join` and `leave` tell 10 members and a
 * publish goes to the 10 (the joiner has left by then). `$disconnect` is of a connection in no room (each room it was in adds that
 * room's presence event). The connection check end() makes once every 10 s per container
 * (CONNECTION_MANAGEMENT.usedConnsFreqMs) is left out: it is the container's, not a route's.
 */
import { ManagementApi } from '../../src/aws/management-api';
import { useManagementApiFactory } from '../../src/communication';
import { mysqlFromUrl } from '../../src/config';
import { connect, disconnect, message, useStore } from '../../src/handler';
import type { HandlerResult, WebSocketEvent } from '../../src/handler';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../../test/support/harnesses/events';
import { startTcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import type { TcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import { withBenchEnvironment } from './environment';
import { label } from './queries';
import type { StandIn } from './stand-in';
import { median, percentile, round } from './stats';

/** The routes of the targets, in the order they are reported. */
export const ROUND_TRIP_ROUTES = ['$connect', '$disconnect', 'join', 'leave', 'publish', 'history'] as const;
export type RoundTripRoute = (typeof ROUND_TRIP_ROUTES)[number];

/**
 * The round trips of each route's lifecycle events after the client's answer: a `leave` claims
 * its departure after the debounce (docs/events.md), a database step that cannot come before
 * the wait. Nothing else runs after the answer.
 */
export const EVENT_ROUND_TRIPS: Record<RoundTripRoute, number> = {
  $connect: 0,
  $disconnect: 0,
  join: 0,
  leave: 1,
  publish: 0,
  history: 0,
};

/**
 * The most round trips each route may take before its answer (docs/architecture.md#round-trips-per-route);
 * EVENT_ROUND_TRIPS come after it.
 */
export const ROUND_TRIP_TARGETS: Record<RoundTripRoute, number> = {
  $connect: 1,
  $disconnect: 2,
  join: 3,
  leave: 3,
  publish: 2,
  history: 1,
};

export interface RoundTripRow {
  route: RoundTripRoute;
  /** What the call did, in words. */
  what: string;
  calls: number;
  /**
   * The most round trips one call took before the caller's answer was posted (all of them for a
   * route that answers no one: `$connect`, `$disconnect`); the same for every call of a route here.
   */
  mysqlRoundTrips: number;
  /** The round trips after the answer (the lifecycle events' work: EVENT_ROUND_TRIPS). */
  eventRoundTrips: number;
  /** The fewest, to show they do not vary. */
  minRoundTrips: number;
  target: number;
  medianMs: number;
  p95Ms: number;
  /**
   * The median again, over `hopCalls` more calls with HOP_MS added by the proxy to every round
   * trip (what a network between the function and the database adds to each).
   */
  hopMedianMs: number;
  /** Posts to the management API one call made (the presence events, the message and its summary). */
  posts: number;
  /** The commands of the last call, by kind (./queries.ts `label`), in order of first appearance. */
  commands: Record<string, number>;
}

export interface RoundTripSection {
  routes: RoundTripRow[];
}

/** A network hop per round trip for the second pass: RDS in the function's region, with TLS, is 0.5-1.5 ms. */
export const HOP_MS = 1;

const MEMBERS = 10;
const ROOM = 'rt-room';
const JOINER = 'rt-joiner';
const member = (i: number) => `rt-m-${i}`;

/** The events offline's origin check accepts (src/aws/origin.ts): the fixtures name a deployed API. */
function offline(event: WebSocketEvent): WebSocketEvent {
  Object.assign(event.requestContext, { apiId: 'private', domainName: 'localhost', stage: 'local' });
  return event;
}
const on = (body: unknown, routeKey: string, id: string) => offline(messageEvent(body, id, routeKey));

type Invoke = (i: number) => Promise<HandlerResult>;

/** The connection each route answers (none for `$connect` and `$disconnect`). */
const CALLER: Record<RoundTripRoute, string | undefined> = {
  $connect: undefined,
  $disconnect: undefined,
  join: JOINER,
  leave: JOINER,
  publish: member(0),
  history: member(0),
};

/** Each route's call `i`; join and leave alternate (each needs the other's state). */
function cases(): [RoundTripRoute, string, Invoke][] {
  const data = { text: 'x'.repeat(100) };
  return [
    ['$connect', '$connect', (i) => connect(offline(connectEvent(`rt-new-${i}`)), lambdaContext())],
    [
      '$disconnect',
      '$disconnect (in no room)',
      (i) => disconnect(offline(disconnectEvent(`rt-new-${i}`)), lambdaContext()),
    ],
    [
      'publish',
      `publish to a room of ${MEMBERS}`,
      () => message(on({ action: 'publish', room: ROOM, data }, 'publish', member(0)), lambdaContext()),
    ],
    [
      'history',
      'history of that room (up to 100 messages)',
      () => message(on({ action: 'history', room: ROOM, after: 0 }, 'history', member(0)), lambdaContext()),
    ],
    [
      'join',
      `join that room (presence to ${MEMBERS})`,
      () => message(on({ action: 'join', room: ROOM }, 'join', JOINER), lambdaContext()),
    ],
    [
      'leave',
      `leave it (presence to ${MEMBERS})`,
      () => message(on({ action: 'leave', room: ROOM }, 'leave', JOINER), lambdaContext()),
    ],
  ];
}

/**
 * Runs each route `calls` times through the real handlers on a MySQL store of its own tables
 * (`prefix`) behind a counting proxy, and counts each call's commands. The management API is
 * the stand-in (every post answered at once). The tables are dropped before and after.
 */
export async function countRoundTrips(
  mysqlUrl: string,
  standIn: StandIn,
  options: { calls: number; hopCalls?: number; prefix?: string },
): Promise<RoundTripRow[]> {
  const prefix = options.prefix ?? 'bench_rt_';
  const settings = mysqlFromUrl(mysqlUrl, prefix);
  const proxy = await startTcpProxy({ host: settings.host, port: settings.port });
  const store = new MysqlConnectionStore(
    { ...settings, host: '127.0.0.1', port: proxy.port },
    // The container's connection check (every 10 s) is no route's round trip.
    { usedConnsFreqMs: Number.MAX_SAFE_INTEGER },
  );
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  try {
    // The handlers read their settings once per process (config()): offline, posts to the stand-in.
    // The debounce's wait is no round trip: without it, a leave claims its departure at once
    // (counted as event work) instead of 3 s later, 300 times.
    return await withBenchEnvironment({ IS_OFFLINE: 'true', EVENTS_DEBOUNCE_MS: '0' }, () =>
      countWithProxy(store, proxy, standIn, options),
    );
  } finally {
    await store.close();
    await proxy.close();
  }
}

async function countWithProxy(
  store: MysqlConnectionStore,
  proxy: TcpProxy,
  standIn: StandIn,
  options: { calls: number; hopCalls?: number },
): Promise<RoundTripRow[]> {
  // Where the route's work ends: the commands sent when the caller's answer is posted.
  let caller: string | undefined;
  let answeredAt: number | undefined;
  class Watched extends ManagementApi {
    override post(connectionId: string, data: Uint8Array, timeoutMs: number): Promise<number> {
      if (connectionId === caller && answeredAt === undefined) answeredAt = proxy.commands.length;
      return super.post(connectionId, data, timeoutMs);
    }
  }
  useManagementApiFactory((_endpoint, clientOptions) => new Watched(standIn.url, clientOptions));
  const rows: RoundTripRow[] = [];
  await store.dropTables();
  for (let i = 0; i < MEMBERS; i++) {
    await store.add({ connectionId: member(i), connectedAt: i, subject: null });
    await store.join(member(i), ROOM, 50, true);
  }
  await store.add({ connectionId: JOINER, connectedAt: MEMBERS, subject: null });
  useStore(store);
  const all = cases();
  const counts = new Map<RoundTripRoute, number[]>(all.map(([route]) => [route, []]));
  const eventCounts = new Map<RoundTripRoute, number[]>(all.map(([route]) => [route, []]));
  const times = new Map<RoundTripRoute, number[]>(all.map(([route]) => [route, []]));
  const last = new Map<RoundTripRoute, Record<string, number>>();
  const posts = new Map<RoundTripRoute, number>();
  const hopTimes = new Map<RoundTripRoute, number[]>(all.map(([route]) => [route, []]));
  // The first store use of a container (the schema's version) is no route's.
  await store.list(1);
  for (let i = 0; i < options.calls; i++) {
    for (const [route, , invoke] of all) {
      await standIn.reset();
      proxy.resetCommands();
      caller = CALLER[route];
      answeredAt = undefined;
      const started = performance.now();
      const { statusCode } = await invoke(i);
      const ms = performance.now() - started;
      // Every command the call waited for crossed the proxy before its answer did.
      await new Promise((resolve) => setImmediate(resolve));
      if (statusCode !== 200) throw new Error(`${route} answered ${statusCode}`);
      times.get(route)?.push(ms);
      const total = proxy.commands.length;
      counts.get(route)?.push(answeredAt ?? total);
      eventCounts.get(route)?.push(total - (answeredAt ?? total));
      const byKind: Record<string, number> = {};
      for (const command of proxy.commands) byKind[label(command)] = (byKind[label(command)] ?? 0) + 1;
      last.set(route, byKind);
      posts.set(route, Math.max(posts.get(route) ?? 0, (await standIn.stats()).posts));
    }
  }
  proxy.setHopDelay(HOP_MS);
  const hopCalls = options.hopCalls ?? 0;
  for (let i = options.calls; i < options.calls + hopCalls; i++) {
    for (const [route, , invoke] of all) {
      const started = performance.now();
      const { statusCode } = await invoke(i);
      if (statusCode !== 200) throw new Error(`${route} answered ${statusCode}`);
      hopTimes.get(route)?.push(performance.now() - started);
    }
  }
  proxy.setHopDelay(0);
  for (const route of ROUND_TRIP_ROUTES) {
    const found = all.find(([key]) => key === route);
    const counted = counts.get(route) ?? [];
    const ms = times.get(route) ?? [];
    rows.push({
      route,
      what: found?.[1] ?? route,
      calls: counted.length,
      mysqlRoundTrips: Math.max(...counted),
      eventRoundTrips: Math.max(...(eventCounts.get(route) ?? [])),
      minRoundTrips: Math.min(...counted),
      target: ROUND_TRIP_TARGETS[route],
      medianMs: round(median(ms), 2),
      p95Ms: round(percentile(ms, 95), 2),
      hopMedianMs: hopCalls > 0 ? round(median(hopTimes.get(route) ?? []), 2) : 0,
      posts: posts.get(route) ?? 0,
      commands: last.get(route) ?? {},
    });
  }
  await store.dropTables();
  return rows;
}

/**
 * `--only round-trips`: 200 calls of each route (the smoke run: 10), then 100 (5) with a hop of
 * HOP_MS per round trip; nothing without MySQL.
 */
export async function benchRoundTrips(
  standIn: StandIn,
  options: { smoke: boolean; mysqlUrl: string | undefined },
): Promise<RoundTripSection> {
  if (!options.mysqlUrl) return { routes: [] };
  const calls = options.smoke ? 10 : 200;
  return { routes: await countRoundTrips(options.mysqlUrl, standIn, { calls, hopCalls: calls / 2 }) };
}

export function roundTripsMarkdown(section: RoundTripSection): string[] {
  if (section.routes.length === 0) return [];
  return [
    '\n### MySQL round trips per route (counted on the wire, through src/handler.ts)\n',
    [
      `| route | calls | MySQL round trips to the answer | target | after the answer (events) | median ms | p95 ms | median ms, ${HOP_MS} ms a round trip | posts | commands of one call |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...section.routes.map((r) => {
        const trips =
          r.minRoundTrips === r.mysqlRoundTrips ? `${r.mysqlRoundTrips}` : `${r.minRoundTrips}-${r.mysqlRoundTrips}`;
        const commands = Object.entries(r.commands)
          .map(([kind, n]) => (n > 1 ? `${kind} ×${n}` : kind))
          .join(', ');
        return `| ${r.what} | ${r.calls} | ${trips} | ${r.target} | ${r.eventRoundTrips} | ${r.medianMs} | ${r.p95Ms} | ${r.hopMedianMs} | ${r.posts} | ${commands} |`;
      }),
    ].join('\n'),
  ];
}
