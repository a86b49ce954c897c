/**
 * The liveness sweep (src/chat/housekeeping/liveness.ts through the `sweep` handler) against the
 * management stand-in, which answers GetConnection 410 for some ids: those rows go with
 * their memberships and their rooms hear they left; rows it answers 200 for, or does not
 * answer, stay; young rows are not asked about; the oldest are asked first, in batches,
 * and no batch starts once the budget is spent.
 */
import { sweep, useStore } from '../../src/handler';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { FUNCTION_ENV } from '../support/harnesses/handler';

Object.assign(process.env, FUNCTION_ENV, {
  POST_TIMEOUT_MS: '300',
  SWEEP_BATCH_SIZE: '3',
});

const management = useManagementStandIn();
const MINUTE = 60_000;

let store: MemoryStore;
beforeEach(() => {
  store = memoryStore();
  useStore(store);
});

async function row(id: string, ageMs: number, subject: string | null = null): Promise<void> {
  await store.add({ connectionId: id, connectedAt: Date.now() - ageMs, subject });
}

it('removes what GetConnection says is gone (410), with its memberships and presence events; keeps the rest', async () => {
  await row('ghost-1', 60 * MINUTE, 'ann');
  await row('alive-1', 50 * MINUTE);
  await row('ghost-2', 40 * MINUTE);
  await row('silent', 30 * MINUTE);
  await row('alive-2', 20 * MINUTE);
  await row('young-ghost', 1 * MINUTE);
  await store.join('ghost-1', 'red', 50, true);
  await store.join('alive-1', 'red', 50, true);
  for (const id of ['ghost-1', 'ghost-2', 'young-ghost']) management.answer(410, { to: id });
  management.answer(500, { to: 'silent' });

  const result = await sweep(undefined, { getRemainingTimeInMillis: () => 60_000 });

  expect(result).toEqual({ removed: 2, expired: 0, gone: 2, checked: 5, trimmed: 0, abandoned: 0 });
  // Oldest first, in batches of SWEEP_BATCH_SIZE, and nothing younger than SWEEP_MIN_AGE_MS (5 min).
  expect(management.probed().slice(0, 3).sort()).toEqual(['alive-1', 'ghost-1', 'ghost-2']);
  expect(management.probed().slice(3).sort()).toEqual(['alive-2', 'silent']);
  expect([...store.rows.keys()].sort()).toEqual(['alive-1', 'alive-2', 'silent', 'young-ghost']);
  expect(await store.roomsOf('ghost-1')).toEqual([]);
  expect((await store.members('red', 10)).connections.map((c) => c.connectionId)).toEqual(['alive-1']);
  expect(management.posted()).toEqual([
    {
      to: 'alive-1',
      message: {
        type: 'presence',
        room: 'red',
        event: 'leave',
        connectionId: 'ghost-1',
        from: 'ann',
        reason: 'disconnect',
        user: 'ann',
        connections: 0,
        last: true,
        // a room frame: it has an id and the room's next number
        id: expect.any(String),
        seq: 1,
      },
    },
  ]);
});

it('starts no batch once the budget is spent, and reports the rows it asked about', async () => {
  for (let i = 0; i < 9; i++) await row(`ghost-${i}`, (60 - i) * MINUTE);
  management.answer(410);
  // 6 s + the fan-out tail: about one batch's worth of time after the margins (handler: AFTER_FANOUT_MS).
  const result = await sweep(undefined, { getRemainingTimeInMillis: () => 6_000 + 300 });
  expect(result.checked).toBe(0);
  expect(store.rows.size).toBe(9);
  const full = await sweep(undefined, { getRemainingTimeInMillis: () => 60_000 });
  expect(full).toMatchObject({ gone: 9, checked: 9 });
  expect(store.rows.size).toBe(0);
});
