/**
 * Identifiers against the real service under serverless-offline, on both stores, with auth off
 * and on:
 * - a padded spelling of a room-mate's connection id (`"<id> "`) is refused with an error frame
 *   on a socket that stays open, and neither deafens the room-mate nor removes any row (on
 *   MySQL's old padding collation it found the room-mate's row, the post to the padded id was
 *   answered 410, and the stale-connection cleanup removed the room-mate);
 * - rooms named after members of Object.prototype are ordinary rooms: join, publish, members,
 *   history, leave.
 */
import { ALL_ROOMS, RIGHTS } from '../../src/auth/rooms';
import type { RoomRights } from '../../src/auth/rooms';
import { mintToken } from '../../src/auth/token';
import { TestClient } from '../support/harnesses/client';
import type { OfflineService } from '../support/harnesses/offline';
import { emptyServicePerTest, storeCases } from '../support/harnesses/store-cases';
import type { TestStore } from '../support/harnesses/store-cases';

jest.setTimeout(240_000);

const SECRET = 'e2e-identifiers-secret-that-is-long-enough-01';
const key = new TextEncoder().encode(SECRET);
/** Rooms a plain object as a map would mistake for its own keys. */
const PROTOTYPE_ROOMS = ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty'];
/** Exactly those rooms, every right, as an object claim: built from entries, so `__proto__` is a key like any other. */
const PROTOTYPE_RIGHTS = Object.fromEntries(PROTOTYPE_ROOMS.map((room) => [room, RIGHTS])) as RoomRights;

const modes = [
  { auth: 'off', env: {} as Record<string, string> },
  { auth: 'on', env: { AUTH_JWT_SECRET: SECRET } },
];

for (const mode of modes) {
  for (const storeCase of storeCases(`ids_${mode.auth}`, { env: mode.env })) {
    (storeCase.skip ? describe.skip : describe)(`identifiers, auth ${mode.auth}, ${storeCase.name}`, () => {
      let service: OfflineService;
      let store: TestStore;
      const clients: TestClient[] = [];

      /** auth on: alice's token grants exactly the prototype-named rooms (object form), bob's lists them (array form). */
      async function open(subject: string, rooms: RoomRights | string[]): Promise<{ client: TestClient; id: string }> {
        const token = await mintToken(key, { subject, ttlSec: 300, rooms });
        const url = mode.auth === 'on' ? `${service.url}?token=${encodeURIComponent(token)}` : service.url;
        const client = await TestClient.connect(url);
        clients.push(client);
        return { client, id: (await client.request({ action: 'list' }, 'connections')).you as string };
      }

      async function stillOpen(client: TestClient): Promise<void> {
        expect(await client.request({ action: 'ping' }, 'pong')).toMatchObject({ type: 'pong' });
      }

      emptyServicePerTest(storeCase, clients, (started) => ({ service, store } = started));

      it('refuses a padded spelling of a room-mate’s id: the room-mate keeps its row, its room and its messages', async () => {
        const mallory = await open('mallory', ALL_ROOMS);
        const victim = await open('victim', ALL_ROOMS);
        for (const { client } of [mallory, victim]) await client.request({ action: 'join', room: 'lobby' }, 'joined');

        for (const spelling of [`${victim.id} `, ` ${victim.id}`, `${victim.id}\t`, victim.id.toUpperCase()]) {
          const reply = await mallory.client.request({ action: 'send', connectionId: spelling, data: 1 }, 'error');
          expect(reply).toMatchObject({
            code: 'invalid_message',
            message: expect.stringMatching(/not a connection id/),
          });
          await stillOpen(mallory.client);
        }

        // Nothing removed: both rows and both memberships are there.
        expect((await store.list(10)).count).toBe(2);
        expect(await store.get(victim.id)).toMatchObject({
          connectionId: victim.id,
          subject: mode.auth === 'on' ? 'victim' : null,
        });
        expect(await store.roomsOf(victim.id)).toEqual(['lobby']);
        // And the victim still hears the room, direct messages, and can join.
        const heard = victim.client.next((m) => m.type === 'message' && m.room === 'lobby');
        await mallory.client.request({ action: 'publish', room: 'lobby', data: 'still there?' }, 'delivery');
        expect(await heard).toMatchObject({ data: 'still there?' });
        const direct = victim.client.next((m) => m.type === 'message' && m.to === victim.id);
        expect(
          await mallory.client.request({ action: 'send', connectionId: victim.id, data: 'yes' }, 'delivery'),
        ).toMatchObject({
          recipients: 1,
          sent: 1,
          stale: 0,
        });
        expect(await direct).toMatchObject({ data: 'yes' });
        expect(await victim.client.request({ action: 'join', room: 'other' }, 'joined')).toMatchObject({
          room: 'other',
        });
      });

      it.each(PROTOTYPE_ROOMS)('makes %s an ordinary room: join, publish, members, history, leave', async (room) => {
        const alice = await open('alice', PROTOTYPE_RIGHTS);
        const bob = await open('bob', PROTOTYPE_ROOMS);
        for (const { client } of [alice, bob]) {
          expect(await client.request({ action: 'join', room }, 'joined')).toMatchObject({ type: 'joined', room });
        }
        const heard = bob.client.next((m) => m.type === 'message' && m.room === room);
        expect(await alice.client.request({ action: 'publish', room, data: { n: 1 } }, 'delivery')).toMatchObject({
          room,
          recipients: 2,
          sent: 2,
          seq: 2,
        });
        expect(await heard).toMatchObject({ room, data: { n: 1 }, connectionId: alice.id });

        const members = await alice.client.request({ action: 'members', room }, 'members');
        expect(members).toMatchObject({ room, count: 2 });
        expect((members.members as { connectionId: string }[]).map((m) => m.connectionId).sort()).toEqual(
          [alice.id, bob.id].sort(),
        );

        const history = await bob.client.request({ action: 'history', room }, 'history');
        expect(history).toMatchObject({ room, latest: 2 });
        expect(history.messages).toEqual([
          expect.objectContaining({ type: 'presence', event: 'join', connectionId: bob.id, seq: 1 }),
          expect.objectContaining({ type: 'message', data: { n: 1 }, seq: 2 }),
        ]);

        const departed = bob.client.next((m) => m.type === 'presence' && m.event === 'leave' && m.room === room);
        expect(await alice.client.request({ action: 'leave', room }, 'left')).toMatchObject({ room, wasMember: true });
        expect(await departed).toMatchObject({ connectionId: alice.id });
        expect(await store.roomsOf(alice.id)).toEqual([]);
        expect(await store.roomsOf(bob.id)).toEqual([room]);
        await stillOpen(alice.client);
      });
    });
  }
}
