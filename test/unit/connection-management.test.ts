import { CONNECTION_MANAGEMENT, reclaimPlan } from '../../src/store/mysql-connections';

/**
 * What the MySQL store's end() does about the connection count it read (reclaiming idle
 * connections, the flood bounds). The statement and the KILLs themselves run against MariaDB in
 * test/integration/mysql-store.test.ts; which connections to kill is decided here.
 */
describe('reclaimPlan', () => {
  const idle = [
    { id: 7, idleS: 1_200 },
    { id: 3, idleS: 40 },
    { id: 9, idleS: 12 },
  ];

  it('kills nothing and keeps its connection while the server is under 80% of the budget', () => {
    expect(reclaimPlan({ used: 48, idle: idle.slice(1) }, { maxConnections: 60, reclaimIdle: true })).toEqual({
      crowded: false,
      kill: [],
    });
  });

  it('kills connections idle longer than 15 minutes even under the threshold', () => {
    expect(reclaimPlan({ used: 10, idle }, { maxConnections: 60, reclaimIdle: true })).toEqual({
      crowded: false,
      kill: [7],
    });
  });

  it('over the threshold, kills the idle connections it found, longest idle first, a bounded number', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ id: 100 + i, idleS: 600 - i }));
    const plan = reclaimPlan({ used: 49, idle: many }, { maxConnections: 60, reclaimIdle: true });
    expect(plan.crowded).toBe(true);
    expect(plan.kill).toEqual([100, 101, 102, 103, 104].slice(0, CONNECTION_MANAGEMENT.killsPerCheck));
  });

  it('never kills where it may not (a local, shared user), but still says the server is crowded', () => {
    expect(reclaimPlan({ used: 200, idle }, { maxConnections: 60, reclaimIdle: false })).toEqual({
      crowded: true,
      kill: [],
    });
  });
});
