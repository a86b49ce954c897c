/**
 * `npm start` itself: a setting from the environment reaches the functions over
 * .env.yml, and a second `npm start` on a busy port leaves the running one, and
 * its store, alone.
 */
import { existsSync } from 'node:fs';
import { mintToken } from '../../src/auth/token';
import { TestClient } from '../support/harnesses/client';
import { freePort, startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { runScript } from '../support/harnesses/scripts';
import { withoutSettings } from '../support/harnesses/service';

jest.setTimeout(120_000);

const SECRET = 'local-runtime-secret-long-enough-for-hs256-42';
let service: OfflineService;
const clients: TestClient[] = [];

async function connect(subject: string): Promise<TestClient> {
  const token = await mintToken(new TextEncoder().encode(SECRET), { subject, ttlSec: 300 });
  const client = await TestClient.connect(`${service.url}?token=${encodeURIComponent(token)}`);
  clients.push(client);
  return client;
}

/** The functions' JSON log lines printed so far. */
function logLines(): { level: string; message: string }[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{"level":'))
    .map((line) => JSON.parse(line) as { level: string; message: string });
}

beforeAll(async () => {
  // .env.yml.example says LOG_LEVEL: info; the environment must win.
  service = await startOffline({ env: { LOG_LEVEL: 'warn', AUTH_JWT_SECRET: SECRET } });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await service?.stop();
});

describe('npm start', () => {
  it('logs at the LOG_LEVEL of the environment, not the one of the settings file', async () => {
    const alice = await connect('alice');
    await alice.request({ action: 'sendmessage', data: 'hi' }, 'delivery');
    // A refused handshake is logged at warn: logging works, and at that level.
    await expect(TestClient.connect(service.url)).rejects.toMatchObject({ statusCode: 403 });
    const deadline = Date.now() + 10_000;
    while (!logLines().some((line) => line.message === 'connection refused') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const levels = new Set(logLines().map((line) => line.level));
    expect(levels).toContain('warn');
    // 'connection authorized', 'connected' and 'fan-out done' are info: none may show.
    expect(logLines().filter((line) => line.level === 'info')).toEqual([]);
  });

  it('refuses to start a second time on a busy port with one line, leaving the running one and its store alone', async () => {
    const bob = await connect('bob');
    const you = (await bob.request({ action: 'list' }, 'connections')).you as string;
    const storeFile = service.storeFile as string;
    expect(existsSync(storeFile)).toBe(true);

    // What a developer does in a second terminal: the same folder, the same WS_PORT.
    const second = await runScript('offline.ts', {
      cwd: service.serviceDir,
      env: {
        ...withoutSettings(process.env),
        WS_PORT: String(service.port),
        HTTP_PORT: String(await freePort()),
        LAMBDA_PORT: String(await freePort()),
      },
      timeoutMs: 60_000,
    });
    expect(second.timedOut).toBe(false);
    expect(second.code).not.toBe(0);
    expect(second.stdout).toBe('');
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`WS_PORT ${service.port}`);
    expect(lines[0]).toMatch(/in use/);

    // Nothing of the first was touched: its store file, its row, its service.
    expect(existsSync(storeFile)).toBe(true);
    const ids = ((await bob.request({ action: 'list' }, 'connections')).connections as { connectionId: string }[]).map(
      (c) => c.connectionId,
    );
    expect(ids).toContain(you);
    const carol = await connect('carol');
    // with auth on, each user lists its own connections
    expect((await carol.request({ action: 'list' }, 'connections')).count).toBe(1);
  });
});
