/**
 * Rooms with rules against the real service, on both stores: three signed-in users, alice
 * and bob in `secret-room`, eve outside it with rights on `lobby` only. Every attack a
 * signed-in outsider could try is refused with a `forbidden` frame on a socket that stays
 * open, and nothing reaches the room.
 */
import { mintToken } from '../../src/auth/token';
import type { RoomRights } from '../../src/auth/rooms';
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { MYSQL_URL } from '../support/harnesses/mysql';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(180_000);

const SECRET = 'e2e-rooms-secret-that-is-long-enough-0123456';
const key = new TextEncoder().encode(SECRET);
const ALL = ['join', 'publish', 'presence'] as const;
const INSIDERS: RoomRights = { 'secret-room': ALL, lobby: ALL };
const EVE: RoomRights = { lobby: ALL };
const QUIET_MS = 1_500;

describe.each([
  ['the embedded store', undefined],
  ['MySQL', MYSQL_URL],
])('rooms with rules, on %s', (_store, dbUrl) => {
  let service: OfflineService | undefined;
  const clients: TestClient[] = [];
  let alice: TestClient;
  let bob: TestClient;
  let eve: TestClient;
  let aliceId: string;

  const token = (subject: string, rooms?: RoomRights | string[]) => mintToken(key, { subject, ttlSec: 300, rooms });
  const url = (jwt: string) => `${service?.url}?token=${encodeURIComponent(jwt)}`;
  async function open(subject: string, rooms?: RoomRights | string[]): Promise<TestClient> {
    const client = await TestClient.connect(url(await token(subject, rooms)));
    clients.push(client);
    return client;
  }
  async function refusedWith(jwt: string): Promise<number> {
    try {
      clients.push(await TestClient.connect(url(jwt)));
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      if (typeof status === 'number') return status;
      throw error;
    }
    throw new Error('the handshake succeeded');
  }
  /** Nothing but what `match` leaves out arrives within QUIET_MS. */
  async function hearsNothing(client: TestClient, match: (m: Received) => boolean): Promise<void> {
    await expect(client.next(match, QUIET_MS)).rejects.toThrow(/no matching message/);
  }
  async function forbidden(client: TestClient, request: unknown): Promise<Received> {
    const reply = await client.request(request, 'error');
    expect(reply).toMatchObject({ code: 'forbidden' });
    // the socket stays open and usable
    expect(await client.request({ action: 'ping' }, 'pong')).toMatchObject({ type: 'pong' });
    return reply;
  }

  beforeAll(async () => {
    service = await startOffline({
      ...(dbUrl === undefined ? {} : { dbUrl }),
      env: {
        AUTH_JWT_SECRET: SECRET,
        MAX_CONNECTIONS_PER_USER: '3',
        ...(dbUrl === undefined ? {} : { DB_TABLE_PREFIX: `e2e_rooms_${process.pid}_` }),
      },
    });
    alice = await open('alice', INSIDERS);
    bob = await open('bob', INSIDERS);
    eve = await open('eve', EVE);
    for (const insider of [alice, bob]) {
      expect(await insider.request({ action: 'join', room: 'secret-room' }, 'joined')).toMatchObject({
        room: 'secret-room',
      });
    }
    aliceId = String((await alice.request({ action: 'list' }, 'connections')).you);
    alice.messages.length = 0;
    bob.messages.length = 0;
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
  });

  it("gives eve's list only her own connections, not everyone's subjects and ids", async () => {
    const list = await eve.request({ action: 'list' }, 'connections');
    expect(list.count).toBe(1);
    expect((list.connections as { from: string }[]).map((c) => c.from)).toEqual(['eve']);
    expect(JSON.stringify(list)).not.toContain(aliceId);
  });

  it('refuses eve the members of secret-room', async () => {
    const reply = await forbidden(eve, { action: 'members', room: 'secret-room' });
    expect(reply.details).toEqual({ room: 'secret-room', missing: 'presence' });
  });

  it('refuses eve joining secret-room, and delivers nothing she publishes to it', async () => {
    expect((await forbidden(eve, { action: 'join', room: 'secret-room' })).details).toEqual({
      room: 'secret-room',
      missing: 'join',
    });
    expect((await forbidden(eve, { action: 'publish', room: 'secret-room', data: 'psst' })).details).toEqual({
      room: 'secret-room',
      missing: 'publish',
    });
    await hearsNothing(alice, (m) => m.type === 'message');
    await hearsNothing(bob, (m) => m.type === 'message');
  });

  it('refuses a publish from outside the room even with every right (membership first)', async () => {
    const outsider = await open('mallory', ['*']);
    expect((await forbidden(outsider, { action: 'publish', room: 'secret-room', data: 'x' })).details).toEqual({
      room: 'secret-room',
      missing: 'membership',
    });
    expect((await forbidden(outsider, { action: 'members', room: 'secret-room' })).details).toEqual({
      room: 'secret-room',
      missing: 'membership',
    });
    await hearsNothing(alice, (m) => m.type === 'message');
    await outsider.close();
  });

  it("refuses eve's send to a connection id she learned elsewhere, and lets room-mates send", async () => {
    expect((await forbidden(eve, { action: 'send', connectionId: aliceId, data: 'hi' })).details).toEqual({
      connectionId: aliceId,
      missing: 'shared_room',
    });
    await hearsNothing(alice, (m) => m.type === 'message');
    const heard = alice.ofType('message');
    expect(await bob.request({ action: 'send', connectionId: aliceId, data: 'hi' }, 'delivery')).toMatchObject({
      sent: 1,
    });
    expect(await heard).toMatchObject({ from: 'bob', data: 'hi' });
  });

  it('delivers a member’s publish to the room', async () => {
    const heard = bob.ofType('message');
    expect(await alice.request({ action: 'publish', room: 'secret-room', data: 'inside' }, 'delivery')).toMatchObject({
      recipients: 2,
      sent: 2,
    });
    expect(await heard).toMatchObject({ room: 'secret-room', from: 'alice', data: 'inside' });
  });

  it('tells joins and leaves only to the members that joined with the presence right', async () => {
    const blind = await open('carl', { 'open-room': ['join', 'publish'] });
    const watcher = await open('dana', { 'open-room': ALL });
    const newcomer = await open('frank', { 'open-room': ALL });
    await blind.request({ action: 'join', room: 'open-room' }, 'joined');
    await watcher.request({ action: 'join', room: 'open-room' }, 'joined');
    const heardJoin = watcher.ofType('presence');
    await newcomer.request({ action: 'join', room: 'open-room' }, 'joined');
    expect(await heardJoin).toMatchObject({ room: 'open-room', event: 'join', from: 'frank' });
    const heardLeave = watcher.ofType('presence');
    await newcomer.request({ action: 'leave', room: 'open-room' }, 'left');
    expect(await heardLeave).toMatchObject({ room: 'open-room', event: 'leave', from: 'frank', reason: 'leave' });
    // Neither dana's join nor frank's arrival or departure reached carl, though he is a member.
    await hearsNothing(blind, (m) => m.type === 'presence');
    expect(await blind.request({ action: 'publish', room: 'open-room', data: 'hi' }, 'delivery')).toMatchObject({
      recipients: 2,
    });
    await Promise.all([blind, watcher, newcomer].map((client) => client.close()));
  });

  it('refuses the connection over MAX_CONNECTIONS_PER_USER with 429 and keeps no row of it', async () => {
    await open('eve', EVE);
    await open('eve', EVE);
    expect(await refusedWith(await token('eve', EVE))).toBe(429);
    expect((await eve.request({ action: 'list' }, 'connections')).count).toBe(3);
  });

  it('refuses subjects that only look like another user, and a malformed rooms claim, at the handshake', async () => {
    for (const subject of ['alice ', 'alice\u200b', 'Zoe\u0308']) {
      expect(await refusedWith(await token(subject))).toBe(403);
    }
    const malformed = await mintToken(key, { subject: 'alice', ttlSec: 300, rooms: { lobby: ['admin'] } as never });
    expect(await refusedWith(malformed)).toBe(403);
  });
});
