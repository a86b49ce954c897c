/**
 * The local runtime under a burst of handshakes with auth on: each of the authorizer's and
 * connect's calls gets one of at most LOCAL_MAX_CONCURRENCY instances or waits for one, so a
 * burst of 200 opens (nearly) all of them, what is refused gets 429 (as API Gateway throttles)
 * with a log line saying why, and single handshakes right after it succeed in time.
 */
import { mintToken } from '../../src/auth/token';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(240_000);

const SECRET = 'burst-secret-that-is-long-enough-for-hs256-0042';
const BURST = 200;
const PROBE_BOUND_MS = 15_000;

let service: OfflineService;
const clients: TestClient[] = [];

async function token(subject: string): Promise<string> {
  return mintToken(new TextEncoder().encode(SECRET), { subject, ttlSec: 600 });
}

/** 'open', or the handshake's HTTP status, or the error's message (a hang or a reset). */
async function handshake(tokenValue: string, timeoutMs: number): Promise<number | string> {
  try {
    clients.push(await TestClient.connect(`${service.url}?token=${encodeURIComponent(tokenValue)}`, timeoutMs));
    return 'open';
  } catch (error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    return typeof status === 'number' ? status : String((error as Error).message);
  }
}

beforeAll(async () => {
  // What is under test is the runtime's bound on instances, not API Gateway's: a burst of 200
  // handshakes is four times the stage's $connect burst, whose 429s would hide the runtime's.
  service = await startOffline({ env: { AUTH_JWT_SECRET: SECRET, LOG_LEVEL: 'warn', LOCAL_THROTTLE: 'off' } });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await service?.stop();
});

it('opens at least 190 of a burst of 200 handshakes, refuses the rest with 429 and a logged reason, and takes handshakes right after', async () => {
  const tokens = await Promise.all(Array.from({ length: BURST }, (_, i) => token(`user-${i}`)));
  const outcomes = await Promise.all(tokens.map((value) => handshake(value, 60_000)));
  const tally: Record<string, number> = {};
  for (const outcome of outcomes) tally[String(outcome)] = (tally[String(outcome)] ?? 0) + 1;
  const opened = tally.open ?? 0;
  console.log(`burst of ${BURST}: ${JSON.stringify(tally)}`);
  expect(opened).toBeGreaterThanOrEqual(190);
  // Whatever did not open was throttled, nothing else (no 500, 502, reset or hang).
  expect(Object.keys(tally).filter((key) => key !== 'open' && key !== '429')).toEqual([]);
  const refusals = service.output().match(/refused handshake \S+: \d+ .+/g) ?? [];
  expect(refusals.length).toBe(BURST - opened);
  for (const line of refusals) expect(line).toMatch(/refused handshake \S+: 429 throttled: .*busy/);

  await Promise.allSettled(clients.splice(0).map((client) => client.close()));
  // One handshake every 2 s, as a client retrying would: each opens, well within the bound.
  for (let i = 0; i < 4; i++) {
    const started = Date.now();
    expect(await handshake(await token(`probe-${i}`), PROBE_BOUND_MS)).toBe('open');
    expect(Date.now() - started).toBeLessThan(PROBE_BOUND_MS);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
});
