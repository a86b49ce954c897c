/**
 * The generated blocks that come from the capacity model (infra/capacity.js) and the cost of each
 * message kind (infra/request-costs.js), not from the packaged templates: what one stage carries
 * (docs/operations.md), what a message costs (docs/protocol.md) and the throttle's defaults
 * (README.md). scripts/docs.ts writes them with the others; test/unit/capacity-docs.test.ts checks
 * that the committed blocks are what these make, without packaging anything.
 */

import * as model from '../../infra/capacity';
import * as costs from '../../infra/request-costs';

const number = (value: number) => model.number(value);
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const table = (header: string[], rows: (string | number)[][]) =>
  [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');

/** What binds, in a table cell's few words. */
function short(boundBy: string): string {
  if (boundBy.startsWith('the stage throttle')) return 'throttle';
  if (boundBy.startsWith("API Gateway's 10,000")) return 'API quota';
  if (boundBy.startsWith("API Gateway's 500")) return 'new-connection quota';
  if (boundBy.startsWith('the connection budget')) return 'connections';
  if (boundBy.startsWith('the store')) return 'store';
  return boundBy;
}

/** The instance classes of one connection budget, the default first: one row each. */
function classGroups(): { classes: string[]; maxConnections: number }[] {
  const groups = new Map<number, string[]>();
  for (const [instanceClass, max] of Object.entries(model.RDS_MYSQL_MAX_CONNECTIONS)) {
    groups.set(max, [...(groups.get(max) ?? []), instanceClass]);
  }
  return [...groups].map(([maxConnections, classes]) => ({
    maxConnections,
    classes: [...classes].sort((a, b) =>
      a === model.DEFAULT_INSTANCE_CLASS ? -1 : b === model.DEFAULT_INSTANCE_CLASS ? 1 : a.localeCompare(b),
    ),
  }));
}

/** docs/operations.md's "what one stage carries": per instance class, then by room size. */
export function capacityBlock(): string {
  const stages = classGroups().map((group) => ({
    classes: group.classes.map((c) => `\`${c}\``).join(', '),
    capacity: model.stageCapacity({ instanceClass: group.classes[0] as string, maxConnections: group.maxConnections }),
  }));
  const first = stages[0]?.capacity;
  const perClass = table(
    [
      '`DB_INSTANCE_CLASS`',
      '`max_connections`',
      'containers a flood may hold',
      'throttle per route (derived)',
      'new connections/s',
      'connections open at most',
    ],
    stages.map(({ classes, capacity }) => [
      classes,
      capacity.maxConnections,
      `${capacity.budget.containers} (${capacity.budget.boundBy})`,
      `burst ${capacity.throttle.burst}, ${number(capacity.throttle.rate)}/s`,
      `${number(capacity.newConnections.value)} (${short(capacity.newConnections.boundBy)})`,
      number(capacity.openConnections),
    ]),
  );
  const byRoom = table(
    ['`DB_INSTANCE_CLASS`', ...model.ROOM_SIZES.map((size) => `room of ${number(size)}`)],
    stages.map(({ classes, capacity }) => [
      classes,
      ...capacity.rooms.map(
        (room) =>
          `${number(room.messagesIn.value)} in, ${number(room.postsOut)} out (${short(room.messagesIn.boundBy)})`,
      ),
    ]),
  );
  const routes = table(
    ['route', 'CPU ms here', 'MySQL round trips', 'rounds of posts', 'memory MB', 'ms in AWS (model)'],
    Object.entries(model.ROUTES).map(([route, cost]) => [
      `\`${route}\``,
      cost.cpuMs,
      cost.roundTrips,
      cost.replies + (cost.fanOut ? 1 : 0),
      cost.memoryMb,
      Math.round(model.routeMs(route) * 10) / 10,
    ]),
  );
  return [
    perClass,
    `Room messages a second, in (\`publish\`, echo and summary on) and posts out, and what binds first:`,
    byRoom,
    `The inputs: each route as ${model.MEASURED_RUN} measured it in a room of ${model.ROUTE_ROOM} ` +
      `([BENCHMARKS.md](../BENCHMARKS.md#capacity)), and what the model makes of it in AWS (CPU × ` +
      `${number(model.ONE_VCPU_MB)} MB / its memory, + ${model.DB_ROUND_TRIP_MS} ms per round trip, + ` +
      `${model.POST_MS} ms per round of posts). The flood route is \`${first?.floodRoute}\` ` +
      `(${first?.floodRouteMs} ms); the store took ${number(model.STORE_PUBLISHES_PER_SECOND.oneRoom)} publishes/s ` +
      `on one room and ${number(model.STORE_PUBLISHES_PER_SECOND.manyRooms)} over 100 rooms.`,
    routes,
  ].join('\n\n');
}

/** docs/protocol.md's table: API Gateway requests per message kind, by default and with each opt-out. */
export function requestCostsBlock(): string {
  return table(
    ['message', 'API Gateway requests', '`echo: false`', '`summary: false`', 'both', 'note'],
    costs.costRows().map((cost) => [cost.what, cost.requests, cost.echo, cost.summary, cost.both, cost.note ?? '']),
  );
}

/** README.md's words for the default throttle (inline). */
export function throttleDefaultsBlock(): string {
  const capacity = model.stageCapacity({
    instanceClass: model.DEFAULT_INSTANCE_CLASS,
    maxConnections: model.RDS_MYSQL_MAX_CONNECTIONS[model.DEFAULT_INSTANCE_CLASS] as number,
  });
  return `a burst of ${capacity.throttle.burst} and ${number(capacity.throttle.rate)} requests/s per route on \`${model.DEFAULT_INSTANCE_CLASS}\``;
}

/** Every block of the model, by file and name. */
export function modelDocs(): Record<string, Record<string, string>> {
  return {
    'docs/operations.md': { capacity: capacityBlock() },
    'docs/protocol.md': { 'request-costs': requestCostsBlock() },
    'README.md': { 'throttle-defaults': throttleDefaultsBlock() },
  };
}
