/**
 * The capacity model (infra/capacity.js): the containers a flood may hold, the stage throttle's
 * defaults (the highest rate whose containers fit the budget), what binds a stage first, and
 * the one line `npm run deploy -- --check` prints; and that .env.yml.example states the
 * defaults the model derives, not numbers typed beside it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import * as model from '../../infra/capacity';
import { apiRequests } from '../../infra/request-costs';

const root = resolve(__dirname, '..', '..');
const micro = { instanceClass: 'db.t4g.micro', maxConnections: 66 };

describe('the containers one flood may hold', () => {
  it('is 80% of max_connections, one connection a container', () => {
    expect(model.containerBudget({ maxConnections: 66 })).toEqual({
      containers: 52,
      boundBy: '80% of max_connections',
    });
    expect(model.containerBudget({ maxConnections: 648 }).containers).toBe(518);
  });

  it('is bounded lower by a reservation per function, or by the account’s concurrency', () => {
    expect(model.containerBudget({ maxConnections: 66, reserved: 10 })).toEqual({
      containers: 10,
      boundBy: 'RESERVED_CONCURRENCY',
    });
    expect(model.containerBudget({ maxConnections: 2000, accountConcurrency: 1000 })).toEqual({
      containers: 1000,
      boundBy: 'ACCOUNT_CONCURRENCY',
    });
  });
});

describe('a route’s duration in AWS', () => {
  it('is its CPU scaled to its function’s share of a vCPU, + a hop per round trip, + a post’s answer per round', () => {
    const { cpuMs, roundTrips, memoryMb } = model.ROUTES.publish!;
    // a room of 10: one round of posts to the members, then the summary
    expect(model.routeMs('publish', 10)).toBeCloseTo(
      cpuMs * (model.ONE_VCPU_MB / memoryMb) + roundTrips * model.DB_ROUND_TRIP_MS + 2 * model.POST_MS,
    );
    // 1,000 members: 20 rounds of 50, and the CPU of 990 more posts
    expect(model.routeMs('publish', 1_000) - model.routeMs('publish', 10)).toBeCloseTo(
      19 * model.POST_MS + 990 * model.POST_CPU_MS * (model.ONE_VCPU_MB / memoryMb),
    );
  });

  it('takes the slowest message route as the one a flood is sized by', () => {
    const messageRoutes = Object.keys(model.ROUTES).filter((route) => !route.startsWith('$'));
    const slowest = Math.max(...messageRoutes.map((route) => model.routeMs(route)));
    expect(model.routeMs(model.floodRoute())).toBe(slowest);
    expect(() => model.routeMs('dance')).toThrow('no route dance');
  });
});

describe('the throttle’s defaults', () => {
  it.each(Object.entries(model.RDS_MYSQL_MAX_CONNECTIONS))(
    '%s: the highest rate whose containers (rate x duration + burst) fit the budget',
    (_instanceClass, maxConnections) => {
      const budget = model.containerBudget({ maxConnections });
      const { burst, rate, durationMs } = model.throttleDefaults(budget);
      const containers = (r: number) => burst + (r * durationMs) / 1000;
      expect(containers(rate)).toBeLessThanOrEqual(budget.containers);
      expect(containers(rate + 1)).toBeGreaterThan(budget.containers);
      // half the budget for a burst, and never more new containers at once than RDS IAM takes in a second
      expect(burst).toBe(Math.min(Math.floor(budget.containers / 2), model.IAM_NEW_CONNECTIONS_PER_SECOND));
    },
  );

  it('grows with the instance, and stays at least 1 for a reservation of 1', () => {
    const rates = [66, 150, 312, 648].map(
      (maxConnections) => model.throttleDefaults(model.containerBudget({ maxConnections })).rate,
    );
    expect([...rates].sort((a, b) => a - b)).toEqual(rates);
    expect(model.throttleDefaults({ containers: 1 })).toMatchObject({ burst: 1, rate: 1 });
  });
});

describe('what one stage carries', () => {
  it('binds a room of M by API Gateway’s 10,000 requests/s, M + 2 each, once M is large', () => {
    const capacity = model.stageCapacity(micro);
    const room = (members: number) => capacity.rooms.find((r) => r.members === members)!;
    expect(room(100).messagesIn).toEqual({
      value: Math.floor(10_000 / 102),
      boundBy: "API Gateway's 10,000 requests/s",
    });
    expect(room(100).postsOut).toBe(room(100).messagesIn.value * 101);
    expect(apiRequests('publish', 100)).toBe(102);
    expect(room(10_000).messagesIn.value).toBe(0.9);
  });

  it('takes the least of every limit, and names it', () => {
    for (const [instanceClass, maxConnections] of Object.entries(model.RDS_MYSQL_MAX_CONNECTIONS)) {
      const capacity = model.stageCapacity({ instanceClass, maxConnections });
      for (const { members, messagesIn } of capacity.rooms) {
        const limits = [
          capacity.throttle.rate,
          10_000 / apiRequests('publish', members),
          (capacity.budget.containers * 1000) / model.routeMs('publish', members),
          model.STORE_PUBLISHES_PER_SECOND.oneRoom,
        ];
        expect(messagesIn.value).toBeLessThanOrEqual(Math.min(...limits));
        expect(messagesIn.value).toBeGreaterThan(Math.min(...limits) * 0.9 - 0.1);
      }
      expect(capacity.newConnections.value).toBeLessThanOrEqual(500);
      expect(capacity.openConnections).toBe(capacity.newConnections.value * 7_200);
      expect(capacity.overBudget).toBe(false);
    }
  });

  it('keeps a throttle that was set, and warns when its containers would not fit', () => {
    const set = model.stageCapacity({ ...micro, burst: 50, rate: 2_000 });
    expect(set.throttle).toEqual({ burst: 50, rate: 2_000 });
    expect(set.derived).toEqual({ burst: false, rate: false });
    expect(set.overBudget).toBe(true);
    expect(model.throttleWarning(set)).toMatch(
      /^WS_THROTTLE_BURST 50 and WS_THROTTLE_RATE 2000 may keep \d+ containers/,
    );
    expect(model.throttleWarning(model.stageCapacity(micro))).toBeUndefined();
    expect(model.stageCapacity({ ...micro, rate: 2_000 }).newConnections.boundBy).toBe(
      "API Gateway's 500 new connections/s",
    );
  });

  it('says it in one line: the budget, the throttle, new connections, rooms of 10 and 100', () => {
    const line = model.describeCapacity(model.stageCapacity(micro));
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(
      /^capacity: db\.t4g\.micro: 52 of 66 connections for functions; throttle per route burst 26, /,
    );
    expect(line).toContain('(derived)');
    expect(line).toContain('a room of 100: 98 messages/s in, 9,898 posts/s out');
  });
});

describe('.env.yml.example', () => {
  const example = readFileSync(join(root, '.env.yml.example'), 'utf8');
  const { throttle } = model.stageCapacity({
    instanceClass: model.DEFAULT_INSTANCE_CLASS,
    maxConnections: model.RDS_MYSQL_MAX_CONNECTIONS[model.DEFAULT_INSTANCE_CLASS]!,
  });

  it('leaves the throttle unset (so it is derived), and states the derived defaults', () => {
    expect(example).not.toMatch(/^WS_THROTTLE_(BURST|RATE):/m);
    expect(example).toContain(`# WS_THROTTLE_BURST: ${throttle.burst}\n`);
    expect(example).toContain(`# WS_THROTTLE_RATE: ${throttle.rate}\n`);
    expect(example).toContain(`on ${model.DEFAULT_INSTANCE_CLASS} a burst of ${throttle.burst} and ${throttle.rate}/s`);
  });
});
