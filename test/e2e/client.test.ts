/**
 * The typed client (client/index.ts) against the real service (`npm start`'s launcher under
 * serverless-offline, embedded store, authorization on), on Node's `ws`: two users join a
 * room, see each other's presence, list the members, publish, send to a user and ping; a
 * connection the service drops comes back by itself with a fresh token, rejoins its room and
 * sends what was queued meanwhile; a client without a valid token is refused and gives up.
 */
import WebSocket from 'ws';
import { RealtimeClient } from '../../client';
import type { ClientCloseEvent, FrameOf, ServerMessage, ServerMessageType } from '../../client';
import { mintToken } from '../../src/auth/token';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

const SECRET = 'e2e-client-secret-that-is-long-enough-for-hs256';
const WAIT_MS = 20_000;

let service: OfflineService;
const clients: RealtimeClient[] = [];

/** A client with everything it heard, and a way to wait for what it has not heard yet. */
function realtime(
  user: string | undefined,
  options: { token?: () => Promise<string> | string; maxAttempts?: number } = {},
) {
  const tokens: string[] = [];
  const token =
    options.token ??
    (async () => {
      // A lifetime of its own per call, so that tokens minted in the same second differ.
      const ttlSec = 600 + tokens.length;
      const minted = await mintToken(new TextEncoder().encode(SECRET), { subject: user ?? 'nobody', ttlSec });
      tokens.push(minted);
      return minted;
    });
  const client = new RealtimeClient({
    url: service.url,
    WebSocket,
    token,
    reconnect: { initialDelayMs: 200, maxDelayMs: 1_000, maxAttempts: options.maxAttempts ?? 5 },
  });
  clients.push(client);
  const heard: ServerMessage[] = [];
  const closes: ClientCloseEvent[] = [];
  const errors: Error[] = [];
  let opens = 0;
  client.on('message', (message) => heard.push(message));
  client.on('close', (event) => closes.push(event));
  client.on('error', (error) => errors.push(error));
  client.on('open', () => (opens += 1));

  /** Resolves once `check` holds; fails after WAIT_MS with what was heard. */
  const until = async (check: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + WAIT_MS;
    while (!check()) {
      if (Date.now() > deadline) {
        throw new Error(`${user}: no ${what} in ${WAIT_MS} ms; heard ${JSON.stringify(heard).slice(0, 1_500)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  /** The first frame of `type` heard since index `from` that matches. */
  async function next<T extends ServerMessageType>(
    type: T,
    match: (frame: FrameOf<T>) => boolean = () => true,
    from = 0,
  ): Promise<FrameOf<T>> {
    const find = () =>
      heard.slice(from).find((m): m is FrameOf<T> => m.type === type && match(m as FrameOf<T>)) as
        FrameOf<T> | undefined;
    await until(() => find() !== undefined, `"${type}" frame`);
    return find() as FrameOf<T>;
  }

  return { client, heard, closes, errors, tokens, next, until, opens: () => opens };
}

const sentBy = (data: unknown) => (m: FrameOf<'message'>) => JSON.stringify(m.data) === JSON.stringify(data);

beforeAll(async () => {
  service = await startOffline({ env: { AUTH_JWT_SECRET: SECRET, PRESENCE_MAX_MEMBERS: '10' } });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await service?.stop();
});

describe('the client against the service', () => {
  it('joins, hears presence, lists members, publishes, sends to a user and pings', async () => {
    const alice = realtime('alice');
    const bob = realtime('bob');
    alice.client.join('lobby'); // remembered, and sent once open
    alice.client.connect();
    await alice.next('joined', (m) => m.room === 'lobby');
    bob.client.connect();
    bob.client.join('lobby'); // queued nothing: joined on open
    await bob.next('joined', (m) => m.room === 'lobby');
    await alice.next('presence', (m) => m.event === 'join' && m.from === 'bob' && m.room === 'lobby');

    bob.client.members('lobby');
    const members = await bob.next('members');
    expect(members.count).toBe(2);
    expect(members.members.map((m) => m.from).sort()).toEqual(['alice', 'bob']);

    bob.client.publish('lobby', { text: 'hello lobby' });
    const message = await alice.next('message', sentBy({ text: 'hello lobby' }));
    expect(message).toMatchObject({ room: 'lobby', from: 'bob', origin: 'client' });
    expect(await bob.next('delivery', (m) => m.room === 'lobby')).toMatchObject({ recipients: 2, sent: 2 });

    bob.client.send({ user: 'alice' }, 'psst');
    expect(await alice.next('message', sentBy('psst'))).toMatchObject({ user: 'alice', from: 'bob' });

    alice.client.ping();
    expect((await alice.next('pong')).at).toBeGreaterThan(0);
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('comes back by itself when the service drops it: fresh token, room rejoined, queued message sent', async () => {
    const alice = realtime('alice');
    const bob = realtime('bob');
    alice.client.join('garden');
    bob.client.join('garden');
    alice.client.connect();
    bob.client.connect();
    await alice.next('joined', (m) => m.room === 'garden');
    await bob.next('joined', (m) => m.room === 'garden');
    alice.client.list();
    const you = (await alice.next('connections')).you;

    // What the application sends while the client is away is queued, not lost.
    alice.client.on('close', (event) => {
      if (event.willReconnect) alice.client.publish('garden', 'sent while away');
    });
    const mark = alice.heard.length;
    // The service closes the connection (the management API's DeleteConnection, as after 2 hours in AWS).
    const response = await fetch(`http://localhost:${service.port}/@connections/${encodeURIComponent(you)}`, {
      method: 'DELETE',
    });
    expect(response.status).toBe(204);

    await alice.until(() => alice.opens() === 2, 'second open');
    expect(alice.closes[0]).toMatchObject({ wasOpen: true, willReconnect: true });
    expect(alice.tokens).toHaveLength(2);
    expect(alice.tokens[1]).not.toBe(alice.tokens[0]);
    await alice.next('joined', (m) => m.room === 'garden', mark);
    await bob.next('message', sentBy('sent while away'));
    // The room hears alice's new connection join. (Whether it hears the old one leave depends on a
    // race: when the rejoin's fan-out finds the old connection gone (410) first, the store forgets it
    // before its `$disconnect` reads its rooms, and nobody is told; docs/protocol.md#presence.)
    await bob.next('presence', (m) => m.event === 'join' && m.from === 'alice' && m.connectionId !== you);

    bob.client.publish('garden', 'welcome back');
    expect(await alice.next('message', sentBy('welcome back'), mark)).toMatchObject({ room: 'garden', from: 'bob' });
    expect(alice.client.state).toBe('open');
  });

  it('is refused without a valid token, says so, and gives up after maxAttempts', async () => {
    const stranger = realtime(undefined, { token: () => 'not-a-token', maxAttempts: 1 });
    stranger.client.connect();
    await stranger.until(() => stranger.client.state === 'closed', 'give-up');
    expect(stranger.closes.map((e) => [e.wasOpen, e.willReconnect])).toEqual([
      [false, true],
      [false, false],
    ]);
    expect(stranger.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/40[13]/),
      expect.stringMatching(/40[13]/),
    ]);
    expect(stranger.opens()).toBe(0);
  });
});
