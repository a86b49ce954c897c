/**
 * The liveness sweep against serverless-offline: offline answers no GetConnection of its
 * own (every GET gets 426), so the local runtime adds it (scripts/offline-runtime.js), and
 * `npm run sweep` asks the running service about every row: the ghosts (rows whose socket
 * offline does not have) go, with their memberships, and their room hears they left; the
 * live connections stay.
 */
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { runScript } from '../support/harnesses/scripts';
import { withoutSettings } from '../support/harnesses/service';

jest.setTimeout(120_000);

let service: OfflineService;
const clients: TestClient[] = [];

beforeAll(async () => {
  service = await startOffline();
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await service?.stop();
});

it('removes the rows offline has no socket for, tells their rooms, and keeps the live ones', async () => {
  const a = await TestClient.connect(service.url);
  const b = await TestClient.connect(service.url);
  clients.push(a, b);
  const { you: aId } = await a.request({ action: 'list' }, 'connections');
  await a.request({ action: 'join', room: 'red' }, 'joined');
  await b.request({ action: 'join', room: 'red' }, 'joined');
  await a.ofType('presence');

  // Ghosts: rows (and a membership) whose sockets are gone, as a close storm or a crash leaves them.
  const store = new EmbeddedConnectionStore({ kind: 'embedded', file: String(service.storeFile), tablePrefix: '' });
  const old = Date.now() - 10 * 60_000;
  for (const id of ['ghost-1', 'ghost-2']) await store.add({ connectionId: id, connectedAt: old, subject: null });
  expect(await store.join('ghost-1', 'red', 50)).toBe('joined');

  const run = await runScript('sweep.ts', {
    cwd: service.serviceDir,
    env: { ...withoutSettings(process.env), WS_PORT: String(service.port), SWEEP_MIN_AGE_MS: '0' },
  });
  expect({ code: run.code, timedOut: run.timedOut, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
    code: 0,
    timedOut: false,
    stderr: '',
  });
  expect(run.stdout).toContain('and 2 of 4 asked about that the WebSocket server no longer has');

  const kept = (await store.list(10)).connections.map((c) => c.connectionId);
  expect(kept).toHaveLength(2);
  expect(kept).toContain(aId);
  expect(await store.get('ghost-1')).toBeUndefined();
  expect(await store.roomsOf('ghost-1')).toEqual([]);
  expect(await a.ofType('presence')).toMatchObject({ room: 'red', event: 'leave', connectionId: 'ghost-1' });
  await store.close();
});
