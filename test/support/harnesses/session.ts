/**
 * A Session (what src/handler.ts hands the chat code for one message) for tests and the
 * bench, built as the handler builds it: every right with auth off, `list` scoped to one's own
 * user, the default history bounds. A caller gives what its case is about and keeps the rest.
 */
import { ALL_ROOMS } from '../../../src/auth/rooms';
import type { Outbox, Session } from '../../../src/chat/actions';
import { DEFAULT_HISTORY } from '../../../src/config';
import { memoryStore } from '../stand-ins/memory-store';
import { apiGatewayId } from './events';

export function chatSession(parts: Pick<Session, 'store' | 'outbox' | 'connectionId'> & Partial<Session>): Session {
  return {
    subject: null,
    rooms: ALL_ROOMS,
    listScope: 'own',
    concurrency: 50,
    deadline: Date.now() + 60_000,
    listPageSize: 100,
    presenceMaxMembers: 100,
    history: DEFAULT_HISTORY,
    ...parts,
  };
}

export const ALICE = apiGatewayId('alice');
export const BOB = apiGatewayId('bob');

/**
 * For each test of the file: a store in memory holding alice's and bob's connections (with
 * their subjects), an outbox that keeps what is posted, and the service's logs silenced. The
 * fields are replaced before each test: read them through the returned object.
 */
export function aliceAndBob(defaults: Partial<Session> = {}) {
  const decoder = new TextDecoder();
  const world = {
    store: memoryStore(),
    /** Each post: to whom, its text, and the frame parsed. */
    posted: [] as { to: string; text: string; frame: unknown }[],
    outbox: {
      send: async (to: string, data: Uint8Array) => {
        const text = decoder.decode(data);
        world.posted.push({ to, text, frame: JSON.parse(text) });
      },
    } satisfies Outbox,
    session: (connectionId: string, subject: string | null = null): Session =>
      chatSession({ store: world.store, outbox: world.outbox, connectionId, subject, ...defaults }),
  };
  beforeEach(async () => {
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    world.store = memoryStore();
    world.posted = [];
    await world.store.add({ connectionId: ALICE, connectedAt: 1_000, subject: 'alice' });
    await world.store.add({ connectionId: BOB, connectedAt: 2_000, subject: 'bob' });
  });
  afterEach(() => jest.restoreAllMocks());
  return world;
}
