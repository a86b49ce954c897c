/**
 * Each route's duration through its Lambda entry point (src/handler.ts, the store's end()
 * included), one invocation after another as one warm container runs them: its median and
 * p95, its MySQL round trips (commands counted on the wire by the proxy of
 * test/support/stand-ins/tcp-proxy.ts) and the posts it makes (counted by the stand-in, which
 * answers at once on loopback). The room is one of 10 members, each seeing presence; the
 * broadcast's audience is the same 10. What AWS adds to these (a network hop per round trip,
 * a post's latency per round of posts) is infra/capacity.js's model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagementApi } from '../../src/aws/management-api';
import { useManagementApiFactory } from '../../src/communication';
import type { ConnectionStore } from '../../src/data';
import { connect, defaultHandler, disconnect, message, useStore } from '../../src/handler';
import type { HandlerResult, WebSocketEvent } from '../../src/handler';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../../test/support/harnesses/events';
import type { TcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import { withBenchEnvironment } from './environment';
import { withCountedMysql } from './queries';
import type { StandIn } from './stand-in';
import { median, percentile, round } from './stats';

/** The routes (and the kinds of publish) the model knows by these names: infra/capacity.js ROUTES. */
export const ROUTE_KEYS = [
  '$connect',
  '$disconnect',
  'ping',
  'list',
  'sendmessage',
  'publish',
  'publish-light',
  'publish-ephemeral',
  'join',
  'leave',
  'history',
  'members',
] as const;
export type RouteKey = (typeof ROUTE_KEYS)[number];

export interface RouteDurationRow {
  store: 'embedded' | 'mysql';
  key: RouteKey;
  /** What the invocation did, in words. */
  route: string;
  invocations: number;
  /** What a container is busy for on average, here (rate × mean is how many are busy at once). */
  meanMs: number;
  /**
   * This process's CPU per invocation (the handler, the drivers, the posts' client): the part a
   * Lambda container of less than one vCPU takes longer for (infra/capacity.js scales it).
   */
  cpuMs: number;
  medianMs: number;
  p95Ms: number;
  /** MySQL commands on the wire per invocation, end() included (null for SQLite). */
  roundTrips: number | null;
  /** Posts to the management API per invocation. */
  posts: number;
}

const ROOM = 'cap-routes';
const MEMBERS = 10;
const member = (i: number) => `cap-m-${i}`;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/** The events offline's origin check accepts (src/aws/origin.ts): the fixtures name a deployed API. */
function offline(event: WebSocketEvent): WebSocketEvent {
  Object.assign(event.requestContext, { apiId: 'private', domainName: 'localhost', stage: 'local' });
  return event;
}
const on = (body: unknown, routeKey: string, id = member(0)) => offline(messageEvent(body, id, routeKey));

type Invoke = (i: number) => Promise<HandlerResult>;

/** Each case: its key, what it does, and the invocation `i` of it. */
function cases(): [RouteKey, string, Invoke][] {
  const data = { text: 'x'.repeat(100) };
  const publish = (extra: Record<string, unknown> = {}) =>
    message(on({ action: 'publish', room: ROOM, data, ...extra }, 'publish'), lambdaContext());
  return [
    ['ping', 'ping', () => message(on({ action: 'ping' }, 'ping'), lambdaContext())],
    ['list', '$default {} (the connection list)', () => defaultHandler(on({}, '$default'), lambdaContext())],
    [
      'sendmessage',
      `sendmessage to everyone (${MEMBERS})`,
      () => message(on({ action: 'sendmessage', data }, 'sendmessage'), lambdaContext()),
    ],
    ['publish', `publish to a room of ${MEMBERS}`, () => publish()],
    ['publish-light', 'publish, echo and summary off', () => publish({ echo: false, summary: false })],
    ['publish-ephemeral', 'publish, ephemeral', () => publish({ ephemeral: true })],
    [
      'history',
      'history of that room (up to 100 messages)',
      () => message(on({ action: 'history', room: ROOM, after: 0 }, 'history'), lambdaContext()),
    ],
    [
      'members',
      'members of that room',
      () => message(on({ action: 'members', room: ROOM }, 'members'), lambdaContext()),
    ],
    [
      'join',
      `join that room (presence to ${MEMBERS})`,
      () => message(on({ action: 'join', room: ROOM }, 'join', 'cap-joiner'), lambdaContext()),
    ],
    [
      'leave',
      `leave it (presence to ${MEMBERS})`,
      () => message(on({ action: 'leave', room: ROOM }, 'leave', 'cap-joiner'), lambdaContext()),
    ],
    ['$connect', '$connect', (i) => connect(offline(connectEvent(`cap-new-${i}`)), lambdaContext())],
    [
      '$disconnect',
      '$disconnect (in no room)',
      (i) => disconnect(offline(disconnectEvent(`cap-new-${i}`)), lambdaContext()),
    ],
  ];
}

async function measure(
  kind: RouteDurationRow['store'],
  store: ConnectionStore,
  standIn: StandIn,
  invocations: number,
  proxy?: TcpProxy,
): Promise<RouteDurationRow[]> {
  for (let i = 0; i < MEMBERS; i++) {
    await store.add({ connectionId: member(i), connectedAt: i, subject: null });
    await store.join(member(i), ROOM, 50, true);
  }
  await store.add({ connectionId: 'cap-joiner', connectedAt: MEMBERS, subject: null });
  useStore(store);
  const rows: RouteDurationRow[] = [];
  const all = cases();
  // join and leave alternate (each needs the other's state), so they are timed together.
  const paired = new Set<RouteKey>(['join', 'leave']);
  const run = async (chosen: [RouteKey, string, Invoke][]) => {
    const ms = new Map<RouteKey, number[]>(chosen.map(([key]) => [key, []]));
    const cpu = new Map<RouteKey, number>(chosen.map(([key]) => [key, 0]));
    await settle();
    proxy?.resetCommands();
    await standIn.reset();
    for (let i = 0; i < invocations; i++) {
      for (const [key, , invoke] of chosen) {
        const started = performance.now();
        const cpuAtStart = process.cpuUsage();
        const { statusCode } = await invoke(i);
        const used = process.cpuUsage(cpuAtStart);
        ms.get(key)?.push(performance.now() - started);
        cpu.set(key, (cpu.get(key) ?? 0) + (used.user + used.system) / 1000);
        if (statusCode !== 200) throw new Error(`${key} answered ${statusCode}`);
      }
    }
    await settle();
    const { posts } = await standIn.stats();
    const commands = proxy?.commands.length;
    for (const [key, route] of chosen) {
      const times = ms.get(key) ?? [];
      rows.push({
        store: kind,
        key,
        route,
        invocations,
        meanMs: round(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length), 2),
        cpuMs: round((cpu.get(key) ?? 0) / invocations, 2),
        medianMs: round(median(times), 2),
        p95Ms: round(percentile(times, 95), 2),
        // A pair's commands and posts are shared: each gets its half (join and leave cost alike here).
        roundTrips: commands === undefined ? null : round(commands / invocations / chosen.length, 1),
        posts: round(posts / invocations / chosen.length, 1),
      });
    }
  };
  // The first store use of a container (the schema's check, the connection check) is no route's cost.
  await defaultHandler(on({}, '$default'), lambdaContext());
  for (const item of all) if (!paired.has(item[0])) await run([item]);
  await run(all.filter(([key]) => paired.has(key)));
  return rows;
}

/** Runs each route `invocations` times on SQLite and, when reachable, on MariaDB through the counting proxy. */
export async function benchRoutes(
  standIn: StandIn,
  options: { invocations: number; mysqlUrl: string | undefined },
): Promise<RouteDurationRow[]> {
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  // The handlers read their settings once per process (config(), ownOrigin()): offline, as
  // ./queries.ts's invocations are; every client they make posts to the stand-in.
  // A route's duration without the departure's debounce, which a leave and a $disconnect wait
  // out after their answer (docs/events.md): the model counts the work, not that wait.
  return withBenchEnvironment({ IS_OFFLINE: 'true', EVENTS_DEBOUNCE_MS: '0' }, async () => {
    useManagementApiFactory((_endpoint, clientOptions) => new ManagementApi(standIn.url, clientOptions));
    const dir = mkdtempSync(join(tmpdir(), 'bench-routes-'));
    const rows: RouteDurationRow[] = [];
    try {
      const embedded = new EmbeddedConnectionStore({
        kind: 'embedded',
        file: join(dir, 'routes.sqlite'),
        tablePrefix: 'bench_routes_',
      });
      try {
        rows.push(...(await measure('embedded', embedded, standIn, options.invocations)));
      } finally {
        await embedded.close();
      }
      if (options.mysqlUrl) {
        rows.push(
          ...(await withCountedMysql(options.mysqlUrl, 'bench_routes_', (mysql, proxy) =>
            measure('mysql', mysql, standIn, options.invocations, proxy),
          )),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  });
}

export function routesMarkdown(rows: readonly RouteDurationRow[]): string[] {
  if (rows.length === 0) return [];
  return [
    '\n### Capacity: each route through src/handler.ts (one warm container, the stand-in answering at once)\n',
    [
      '| store | route | invocations | mean ms | median ms | p95 ms | CPU ms | MySQL round trips | posts |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (r) =>
          `| ${r.store} | ${r.route} | ${r.invocations} | ${r.meanMs} | ${r.medianMs} | ${r.p95Ms} | ${r.cpuMs} | ` +
          `${r.roundTrips ?? '–'} | ${r.posts} |`,
      ),
    ].join('\n'),
  ];
}
