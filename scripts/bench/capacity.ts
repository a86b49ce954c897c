/**
 * `--only capacity`: what one store sustains, and what each route costs a container. The
 * figures infra/capacity.js's model rests on (docs/operations.md#what-one-stage-carries).
 *
 * Throughput: room publishes/s with 10, 25 and 50 store handles (the connections of as many
 * Lambda containers, each running one message at a time) over 1 and 100 rooms, on MariaDB and
 * on SQLite. Each handle runs the message handler (src/chat/actions.ts) in a closed loop, with
 * the outbox of src/communication.ts posting to the management API's stand-in on loopback
 * (answering at once, its posts counted), and the store's end() after every message as
 * src/handler.ts's route runs it. Every room has one member, its publisher, so each publish is
 * the store's work (membership, number, history row) and two posts (the echo, the summary); and
 * once more with both declined (`echo: false, summary: false`: no post), which leaves the store's
 * work alone with the handler's parse: in AWS the posts' CPU is the containers', while here it
 * shares this machine's 2 cores with MariaDB. The per-route durations are ./capacity-routes.ts's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { clientFor, post, resetClients } from '../../src/communication';
import { mysqlFromUrl } from '../../src/config';
import type { ConnectionStore } from '../../src/data';
import { handleMessage } from '../../src/chat/actions';
import type { Outbox } from '../../src/chat/actions';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { chatSession } from '../../test/support/harnesses/session';
import { benchRoutes, routesMarkdown } from './capacity-routes';
import type { RouteDurationRow } from './capacity-routes';
import type { StandIn } from './stand-in';
import { median, percentile, round } from './stats';

/** Each publish as a client sends it by default (echo and summary: two posts), or with both declined (none). */
export type PublishKind = 'echo and summary' | 'no posts';
export const PUBLISH_KINDS: readonly PublishKind[] = ['echo and summary', 'no posts'];

export interface CapacityRow {
  store: 'embedded' | 'mysql';
  publish: PublishKind;
  /** Store handles publishing at once: one connection each, as one Lambda container has. */
  handles: number;
  /** Rooms the publishes are spread over (one member each). */
  rooms: number;
  publishesPerSecond: number;
  publishes: number;
  seconds: number;
  /** One publish, from the handler's start to its store's end(). */
  medianMs: number;
  p95Ms: number;
  /** Posts the stand-in received per publish (2: the echo and the summary). */
  postsPerPublish: number;
  /** Publishes that did not answer 200 (must be 0). */
  errors: number;
  /** CPU per publish of this process (the handlers) and of the stand-in, µs; the rest of the machine's is MariaDB's. */
  handlerCpuUs: number;
  standInCpuUs: number;
}

export interface CapacitySection {
  rows: CapacityRow[];
  /** Each route's duration through src/handler.ts, its MySQL round trips and its posts. */
  routes: RouteDurationRow[];
}

export interface CapacityPlan {
  handles: number[];
  rooms: number[];
  /** Seconds each case is measured, after a warm-up of one publish per handle. */
  seconds: number;
  /** Invocations per route in ./capacity-routes.ts. */
  invocations: number;
  mysqlUrl: string | undefined;
  log?: (message: string) => void;
}

export const CAPACITY_PLAN = { handles: [10, 25, 50], rooms: [1, 100], seconds: 5, invocations: 200 };
export const CAPACITY_SMOKE_PLAN = { handles: [10], rooms: [1, 100], seconds: 1, invocations: 20 };

const PREFIX = 'bench_cap_';

/** The rooms' only members, and what each publishes (about 100 bytes of data, as a chat line). */
const memberOf = (room: number) => `cap-member-${room}`;
const roomName = (room: number) => `cap-room-${room}`;
const body = (room: number, kind: PublishKind) =>
  JSON.stringify({
    action: 'publish',
    room: roomName(room),
    data: { text: 'x'.repeat(100) },
    ...(kind === 'no posts' ? { echo: false, summary: false } : {}),
  });

/** One publish as a container runs it: the handler, then its store's end(). False when it did not answer 200. */
async function publishOnce(store: ConnectionStore, outbox: Outbox, room: number, kind: PublishKind): Promise<boolean> {
  let ok: boolean;
  try {
    const session = chatSession({
      store,
      outbox,
      connectionId: memberOf(room),
      deadline: Date.now() + 30_000,
      presenceMaxMembers: 0,
    });
    ok = (await handleMessage(session, body(room, kind))) === 200;
  } catch {
    ok = false;
  }
  await store.end();
  return ok;
}

/** One handle's container: one message at a time until `until`; returns its errors. */
async function closedLoop(
  store: ConnectionStore,
  outbox: Outbox,
  kind: PublishKind,
  { first, stride, rooms, until }: { first: number; stride: number; rooms: number; until: number },
  latencies: number[],
): Promise<number> {
  let errors = 0;
  for (let n = 0; performance.now() < until; n++) {
    const started = performance.now();
    if (!(await publishOnce(store, outbox, (first + n * stride) % rooms, kind))) errors++;
    latencies.push(performance.now() - started);
  }
  return errors;
}

async function measure(
  kind: CapacityRow['store'],
  publish: PublishKind,
  open: () => ConnectionStore,
  { standIn, outbox }: { standIn: StandIn; outbox: Outbox },
  { handles, rooms, seconds }: { handles: number; rooms: number; seconds: number },
): Promise<CapacityRow> {
  const stores = Array.from({ length: handles }, open);
  try {
    const [seed] = stores as [ConnectionStore];
    for (let room = 0; room < rooms; room++) {
      await seed.add({ connectionId: memberOf(room), connectedAt: room, subject: null });
      await seed.join(memberOf(room), roomName(room), 50);
    }
    // Warm: every handle connected, its statements prepared, its container's first end() done.
    await Promise.all(stores.map((store, i) => publishOnce(store, outbox, i % rooms, publish)));
    await standIn.reset();
    const latencies: number[] = [];
    const cpu = process.cpuUsage();
    const started = performance.now();
    const until = started + seconds * 1000;
    const errors = await Promise.all(
      stores.map((store, i) =>
        closedLoop(store, outbox, publish, { first: i, stride: handles, rooms, until }, latencies),
      ),
    );
    const elapsed = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const stats = await standIn.stats();
    const publishes = latencies.length;
    return {
      store: kind,
      publish,
      handles,
      rooms,
      publishesPerSecond: Math.round(publishes / elapsed),
      publishes,
      seconds: round(elapsed, 2),
      medianMs: round(median(latencies), 2),
      p95Ms: round(percentile(latencies, 95), 2),
      postsPerPublish: round(stats.posts / Math.max(1, publishes), 2),
      errors: errors.reduce((a, b) => a + b, 0),
      handlerCpuUs: Math.round(((used.user + used.system) / Math.max(1, publishes)) * 10) / 10,
      standInCpuUs: Math.round(((stats.cpuMs * 1000) / Math.max(1, publishes)) * 10) / 10,
    };
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

/** MariaDB's own max_connections: the handles' connection checks (end()) budget against it, not AWS's 60. */
async function serverMaxConnections(url: string): Promise<number> {
  const settings = mysqlFromUrl(url, PREFIX);
  const connection = await createConnection({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database,
  });
  try {
    const [rows] = await connection.query('SELECT @@max_connections AS n');
    return Number((rows as { n: number }[])[0]?.n ?? 151);
  } finally {
    await connection.end();
  }
}

export async function benchCapacity(standIn: StandIn, plan: CapacityPlan): Promise<CapacitySection> {
  const log = plan.log ?? (() => {});
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  resetClients();
  const client = clientFor(standIn.url, { region: 'us-east-1', offline: true, maxSockets: 50 });
  const outbox: Outbox = {
    send: (id, data, deadline) => post(client, id, data, { retries: 2, retryBaseMs: 50, deadline }),
  };
  const rows: CapacityRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-capacity-'));
  const cases = plan.handles.flatMap((handles) =>
    plan.rooms.flatMap((rooms) => PUBLISH_KINDS.map((publish) => ({ handles, rooms, publish }))),
  );
  const io = { standIn, outbox };
  try {
    for (const { handles, rooms, publish } of cases) {
      const file = join(dir, `cap-${handles}-${rooms}-${rows.length}.sqlite`);
      const open = () => new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: PREFIX });
      log(`capacity: SQLite, ${handles} handles, ${rooms} room(s), ${publish}`);
      rows.push(await measure('embedded', publish, open, io, { handles, rooms, seconds: plan.seconds }));
    }
    if (plan.mysqlUrl) {
      const url = plan.mysqlUrl;
      const settings = { ...mysqlFromUrl(url, PREFIX), maxConnections: await serverMaxConnections(url) };
      const cleaner = new MysqlConnectionStore(settings);
      try {
        for (const { handles, rooms, publish } of cases) {
          await cleaner.dropTables();
          log(`capacity: MariaDB, ${handles} handles, ${rooms} room(s), ${publish}`);
          const open = () => new MysqlConnectionStore(settings);
          rows.push(await measure('mysql', publish, open, io, { handles, rooms, seconds: plan.seconds }));
        }
      } finally {
        await cleaner.dropTables().catch(() => undefined);
        await cleaner.close();
      }
    }
  } finally {
    resetClients();
    rmSync(dir, { recursive: true, force: true });
  }
  log('capacity: each route through the handler');
  const routes = await benchRoutes(standIn, { invocations: plan.invocations, mysqlUrl: plan.mysqlUrl });
  return { rows, routes };
}

const fmt = (value: number) => value.toLocaleString('en-US');

/** The section's tables, as BENCHMARKS.md shows them. */
export function capacityMarkdown(section: CapacitySection): string[] {
  if (section.rows.length === 0 && section.routes.length === 0) return [];
  const out: string[] = [];
  if (section.rows.length > 0) {
    out.push('\n### Capacity: room publishes/s by store handles and rooms\n');
    out.push(
      [
        '| store | publish | handles | rooms | publishes/s | publishes | median ms | p95 ms | posts / publish | errors | handler CPU µs / publish | stand-in CPU µs / publish |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        ...section.rows.map(
          (r) =>
            `| ${r.store} | ${r.publish} | ${r.handles} | ${r.rooms} | ${fmt(r.publishesPerSecond)} | ${fmt(r.publishes)} | ` +
            `${r.medianMs} | ${r.p95Ms} | ${r.postsPerPublish} | ${r.errors} | ${fmt(r.handlerCpuUs)} | ${fmt(r.standInCpuUs)} |`,
        ),
      ].join('\n'),
    );
  }
  out.push(...routesMarkdown(section.routes));
  return out;
}
