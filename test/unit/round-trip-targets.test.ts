/**
 * The round trips each route may take are stated once, in scripts/bench/round-trips.ts (what
 * the bench reports and test/integration/round-trips.test.ts holds each route to), and
 * docs/architecture.md's table says the same.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROUND_TRIP_TARGETS } from '../../scripts/bench/round-trips';

describe('round trips per route', () => {
  it('lists every route with its target in docs/architecture.md', () => {
    const docs = readFileSync(join(__dirname, '..', '..', 'docs', 'architecture.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## Round trips per route'));
    const rows = [...section.matchAll(/^\| `([$a-z]+)` +\| (\d+) +\|/gm)].map(([, route, most]) => [
      route,
      Number(most),
    ]);
    expect(Object.fromEntries(rows)).toEqual(ROUND_TRIP_TARGETS);
    expect(rows).toHaveLength(Object.keys(ROUND_TRIP_TARGETS).length);
  });
});
