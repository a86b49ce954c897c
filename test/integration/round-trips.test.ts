/**
 * Each route's MySQL round trips, counted on the wire as `npm run bench -- --only round-trips`
 * counts them (the same function, scripts/bench/round-trips.ts): every route through its Lambda
 * entry point against MariaDB behind the counting proxy. A route that sends one statement more
 * than its target (docs/architecture.md#round-trips-per-route) fails here. Counting commands
 * does not depend on timing: each call of a route sends the same ones.
 */
import {
  countRoundTrips,
  EVENT_ROUND_TRIPS,
  ROUND_TRIP_ROUTES,
  ROUND_TRIP_TARGETS,
} from '../../scripts/bench/round-trips';
import type { RoundTripRow } from '../../scripts/bench/round-trips';
import { startStandIn } from '../../scripts/bench/stand-in';
import type { StandIn } from '../../scripts/bench/stand-in';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { MYSQL_URL, mysqlSettings, MysqlUnreachableError, SKIP_MYSQL, uniquePrefix } from '../support/harnesses/mysql';

const suite = SKIP_MYSQL ? describe.skip : describe;

suite('MySQL round trips per route, on the wire', () => {
  let standIn: StandIn | undefined;
  let rows: RoundTripRow[] = [];

  beforeAll(async () => {
    const probe = new MysqlConnectionStore(mysqlSettings(uniquePrefix('rtprobe')), { connectTimeoutMs: 2_000 });
    try {
      await probe.list(1);
      await probe.dropTables();
    } catch (error) {
      throw new MysqlUnreachableError(error);
    } finally {
      await probe.close();
    }
    standIn = await startStandIn({ latencyMs: 0, goneShare: 0 });
    // Three calls each: the first of a route and two more, to see that they do not vary.
    rows = await countRoundTrips(MYSQL_URL, standIn, { calls: 3, prefix: uniquePrefix('rt') });
  }, 60_000);

  afterAll(async () => {
    await standIn?.close();
  });

  it('measures every route of the targets', () => {
    expect(rows.map((row) => row.route)).toEqual([...ROUND_TRIP_ROUTES]);
    for (const row of rows) expect(row.calls).toBe(3);
    // What the targets count was done: join and leave told the room's 10 other members and
    // answered the joiner; a publish went to the room's 10 and its summary to the sender.
    const posts = Object.fromEntries(rows.map((row) => [row.route, row.posts]));
    expect(posts).toMatchObject({ join: 11, leave: 11, publish: 11, history: 1 });
  });

  it.each(ROUND_TRIP_ROUTES.map((route) => [route, ROUND_TRIP_TARGETS[route]] as const))(
    '%s takes at most %i round trips, the same on every call',
    (route) => {
      const row = rows.find((found) => found.route === route) as RoundTripRow;
      expect(row.mysqlRoundTrips).toBeLessThanOrEqual(ROUND_TRIP_TARGETS[route]);
      expect(row.minRoundTrips).toBe(row.mysqlRoundTrips);
      // After the answer, only the lifecycle events' own work (a leave's claim after the debounce).
      expect(row.eventRoundTrips).toBe(EVENT_ROUND_TRIPS[route]);
    },
  );

  it('splits the routes with presence and lifecycle events exactly: route work, then event work', () => {
    const split = Object.fromEntries(
      rows.map((row) => [row.route, { route: row.mysqlRoundTrips, events: row.eventRoundTrips }]),
    );
    // $disconnect: one procedure (rooms, subject, tallies, departures, removal); join: the
    // procedure (with the tally and returns), the presence page, the event's number; leave: the
    // same three, then the departure's claim after the debounce.
    expect(split).toMatchObject({
      $disconnect: { route: 1, events: 0 },
      join: { route: 3, events: 0 },
      leave: { route: 3, events: 1 },
    });
  });
});
