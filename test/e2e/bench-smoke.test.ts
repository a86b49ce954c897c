/**
 * `npm run bench` in its smoke size, so the benchmark keeps working. Timings are not
 * asserted (this machine is shared and noisy); structure and the sanity of each figure are.
 */
import { mysqlReachable, renderMarkdown, runBench } from '../../scripts/bench/run';
import type { BenchResults } from '../../scripts/bench/run';
import { MYSQL_URL } from '../support/harnesses/mysql';

// The MySQL suites' server (TEST_MYSQL_URL: the one `npm test` started, when it did) unless LOCAL_DB_URL names another.
const MYSQL = process.env.LOCAL_DB_URL || MYSQL_URL;
const finite = (value: number) => Number.isFinite(value) && value >= 0;

describe('npm run bench -- --smoke', () => {
  let results: BenchResults;

  beforeAll(async () => {
    const mysqlUrl = (await mysqlReachable(MYSQL)) ? MYSQL : undefined;
    results = await runBench({ smoke: true, mysqlUrl });
  }, 240_000);

  it('measures our fan-out and both references against the same stand-in', () => {
    const names = results.fanOut.map((row) => row.strategy);
    expect(names.some((name) => name.startsWith('ours'))).toBe(true);
    expect(names.some((name) => name.includes('sequential'))).toBe(true);
    expect(names.some((name) => name.includes('Promise.all'))).toBe(true);
    for (const row of results.fanOut) {
      expect(finite(row.ms) && row.ms > 0).toBe(true);
      expect(row.postsPerSecond).toBeGreaterThan(0);
      // every strategy sees the same ids gone, and nothing else fails
      expect(row.sent + row.stale).toBe(row.measured);
      expect(row.failed).toBe(0);
      expect(row.stale).toBeGreaterThan(0);
      if (row.concurrency !== null) expect(row.maxInFlight).toBeLessThanOrEqual(row.concurrency);
      expect(row.ratioToIdeal).toBeGreaterThan(0);
    }
    const stale = new Set(results.fanOut.filter((row) => !row.extrapolated).map((row) => row.stale));
    expect(stale.size).toBe(1);
  });

  it('measures the delivery path src/communication.ts uses as delivery.chosen, beside the floor and the SDK client', () => {
    const names = results.delivery.rows.map((row) => row.candidate);
    expect(results.delivery.chosen).toMatch(/src\/communication\.ts/);
    expect(names).toEqual(expect.arrayContaining([results.delivery.chosen, expect.stringMatching(/^SDK client/)]));
    for (const row of results.delivery.rows) {
      expect(row.errors).toBe(0);
      expect(row.cpuPerPostUs).toBeGreaterThan(0);
      expect(finite(row.ratioToFloor)).toBe(true);
    }
  });

  it('puts the fan-out over the SDK client it replaced beside ours, with the sender’s CPU per post and CPU/wall', () => {
    const ours = results.fanOut.find((row) => row.strategy.startsWith('ours'));
    const before = results.fanOut.find((row) => row.strategy.startsWith('before'));
    expect(before?.recipients).toBe(ours?.recipients);
    for (const row of [ours, before]) {
      expect(row?.cpuPerPostUs).toBeGreaterThan(0);
      expect(row?.senderCpuPerWall).toBeGreaterThan(0);
    }
  });

  it('reads the audience once and deletes the stale ids in one batch', () => {
    expect(results.queries.length).toBeGreaterThanOrEqual(1);
    for (const row of results.queries) {
      expect(row.calls).toEqual({
        audience: expect.objectContaining({ count: 1 }),
        removeMany: expect.objectContaining({ count: 1 }),
      });
      expect(row.asDesigned).toBe(true);
      expect(row.rowsLeft).toBe(row.rowsExpected);
      expect(row.stale).toBeGreaterThan(0);
    }
  });

  it('counts the MySQL statements of a fan-out and of each route on the wire, the library’s own included', () => {
    if (results.mysql !== 'reachable') {
      expect(results.invocations).toEqual([]);
      return;
    }
    const mysql = results.queries.find((row) => row.store === 'mysql');
    // one audience read and one removeMany of two DELETEs; end() sends nothing between its checks
    expect(mysql?.wire?.total).toBe(3);
    const total = (prefix: string) => results.invocations.find((row) => row.invocation.startsWith(prefix))?.wire.total;
    expect(results.invocations.every((row) => row.statusCode === 200)).toBe(true);
    expect({
      // the schema's version (one SELECT: the schema is current, src/store/mysql-schema.ts), the
      // INSERT, the connection check
      connectFirst: total('$connect, first'),
      connectWarm: total('$connect, warm'),
      // one procedure that deletes it and its memberships (and tells what presence and the events
      // need), the connection check
      disconnectWarm: total('$disconnect, warm, when'),
      libraryDefaults: total('for comparison: serverless-mysql defaults, one statement + end(), second'),
    }).toEqual({ connectFirst: 3, connectWarm: 1, disconnectWarm: 2, libraryDefaults: 2 });
  });

  it('times the handler cold start and a first invocation, and the store driver and secret reader alone', () => {
    const first = results.coldStart.cases.find((row) => row.case.includes('embedded'));
    expect(first).toBeDefined();
    expect(first?.loadMs).toBeGreaterThan(0);
    expect(first?.firstInvokeMs).toBeGreaterThan(0);
    expect(finite(first?.warmInvokeMs ?? Number.NaN)).toBe(true);
    expect(results.coldStart.cases.map((row) => row.case)).toEqual(
      expect.arrayContaining(["require('mysql2') alone", "require('@aws-sdk/client-secrets-manager') alone"]),
    );
    // The per-function rows come from `sls package`, which a smoke run does not make.
    expect(results.coldStart.functions).toEqual([]);
    expect(renderMarkdown(results)).toContain('Modules alone');
  });

  it('times what reading a secret adds to a cold start, for each way of reading it', () => {
    expect(results.secrets.map((row) => row.case)).toEqual([
      expect.stringMatching(/^SDK client/),
      expect.stringMatching(/^SDK client, in a process/),
      expect.stringMatching(/^lean/),
      expect.stringMatching(/^RDS IAM/),
    ]);
    for (const row of results.secrets) {
      expect(row.processes).toBeGreaterThanOrEqual(1);
      expect(row.coldMs).toBeGreaterThan(0);
      expect(finite(row.warmReadMs)).toBe(true);
    }
    expect(renderMarkdown(results)).toContain('### Secrets');
  });

  it('delivers one broadcast to every client under serverless-offline and empties the store', () => {
    const [row] = results.load;
    expect(row).toBeDefined();
    expect(row?.received).toBe(row?.clients);
    expect(row?.lost).toBe(0);
    expect(row?.delivery.sent).toBe(row?.clients);
    expect(row?.connectsPerSecond).toBeGreaterThan(0);
    expect(row?.storeEmpty).toBe(true);
  });

  it('measures room publishes/s by store handles and rooms, with and without posts, on each store', () => {
    const stores = results.mysql === 'reachable' ? ['embedded', 'mysql'] : ['embedded'];
    const cases = results.capacity.rows.map((row) => `${row.store} ${row.handles} ${row.rooms} ${row.publish}`);
    expect(cases.sort()).toEqual(
      stores
        .flatMap((store) =>
          [1, 100].flatMap((rooms) => ['echo and summary', 'no posts'].map((p) => `${store} 10 ${rooms} ${p}`)),
        )
        .sort(),
    );
    for (const row of results.capacity.rows) {
      expect(row.publishesPerSecond).toBeGreaterThan(0);
      expect(row.errors).toBe(0);
      // every room's one member is its publisher: the echo and the summary, or nothing
      expect(row.postsPerPublish).toBe(row.publish === 'no posts' ? 0 : 2);
    }
    expect(renderMarkdown(results)).toContain('### Capacity: room publishes/s');
  });

  it('times each route through the handler, and counts an ephemeral publish’s one round trip on the wire', () => {
    const routes = results.capacity.routes;
    const row = (store: string, key: string) => routes.find((r) => r.store === store && r.key === key);
    for (const r of routes) {
      expect(r.meanMs).toBeGreaterThan(0);
      expect(r.cpuMs).toBeGreaterThan(0);
    }
    // a room of 10: the members and the summary; without echo and summary the 9 others; ephemeral as a publish
    expect(row('embedded', 'publish')?.posts).toBe(11);
    expect(row('embedded', 'publish-light')?.posts).toBe(9);
    expect(row('embedded', 'publish-ephemeral')?.posts).toBe(11);
    expect(row('embedded', '$connect')?.posts).toBe(0);
    if (results.mysql !== 'reachable') return;
    // the audience read is its only statement (the membership check is that read); a numbered publish needs more
    expect(row('mysql', 'publish-ephemeral')?.roundTrips).toBe(1);
    expect(row('mysql', 'publish')?.roundTrips).toBeGreaterThan(1);
    expect(row('mysql', 'ping')?.roundTrips).toBe(0);
    expect(renderMarkdown(results)).toContain('### Capacity: each route through src/handler.ts');
  });

  it("counts each route's MySQL round trips on the wire, within its target, and times it", () => {
    const routes = results.roundTrips.routes;
    if (results.mysql !== 'reachable') {
      expect(routes).toEqual([]);
      return;
    }
    expect(routes.map((r) => r.route)).toEqual(['$connect', '$disconnect', 'join', 'leave', 'publish', 'history']);
    for (const r of routes) {
      expect(r.mysqlRoundTrips).toBeGreaterThan(0);
      expect(r.mysqlRoundTrips).toBeLessThanOrEqual(r.target);
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.hopMedianMs).toBeGreaterThan(0);
    }
    expect(renderMarkdown(results)).toContain('### MySQL round trips per route');
  });

  it('runs only the sections --only names', async () => {
    const fanOutOnly = await runBench({ smoke: true, only: ['fanout'], mysqlUrl: undefined });
    expect(fanOutOnly.delivery.rows).toEqual([]);
    expect(fanOutOnly.fanOut.map((row) => row.strategy)).toEqual([
      expect.stringMatching(/^ours/),
      expect.stringMatching(/^before/),
    ]);
    expect(fanOutOnly.queries).toEqual([]);
    const markdown = renderMarkdown(fanOutOnly);
    expect(markdown).toContain('### Fan-out');
    expect(markdown).not.toContain('### Delivery');
    expect(markdown).not.toContain('### Store calls');
  }, 120_000);

  it('renders the tables', () => {
    const markdown = renderMarkdown(results);
    for (const heading of ['### Fan-out', '### Store calls', '### Cold start', '### Load']) {
      expect(markdown).toContain(heading);
    }
  });
});
