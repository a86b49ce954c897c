/**
 * Lifecycle events and per-user presence under `npm start`, on both stores: three connections
 * of two users (alice twice, bob once) join and leave a room, and the events file
 * (.local/events-<WS_PORT>.jsonl) and the presence frames each client got show exactly the
 * expected sequence: a user is one member however many connections it has. One service start
 * per store; each step waits for its events before the next, so the file's order is the steps'.
 * Then the way in: `npm run publish -- --event` hands a `websockets.publish` event to the publish
 * function as the stage bus's rule does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import type { OfflineService } from '../support/harnesses/offline';
import { eventually, storeCases } from '../support/harnesses/store-cases';
import type { TestStore } from '../support/harnesses/store-cases';
import { runScript } from '../support/harnesses/scripts';
import { SECRET, sign } from '../support/harnesses/tokens';

jest.setTimeout(240_000);

const ROOM = 'events-room';
/** A room EVENTS_PUBLISHED_ROOMS names: its numbered messages are `message.published` too. */
const NEWS = 'published-news';
const cases = storeCases('events', {
  env: { AUTH_JWT_SECRET: SECRET, EVENTS_DEBOUNCE_MS: '300', EVENTS_PUBLISHED_ROOMS: 'published-*' },
});

interface Line {
  type: string;
  source: string;
  detail: {
    id: string;
    room?: string;
    connectionId: string | null;
    subject: string | null;
    user: string | null;
    reason?: string;
    seq?: number;
    messageId?: string;
    origin?: string;
    data?: unknown;
  };
}

for (const storeCase of cases) {
  (storeCase.skip ? describe.skip : describe)(`lifecycle events under npm start, ${storeCase.name}`, () => {
    let service: OfflineService;
    let store: TestStore;
    const clients: TestClient[] = [];

    beforeAll(async () => {
      ({ service, store } = await storeCase.start());
    });

    afterAll(async () => {
      await Promise.all(clients.map((client) => client.close()));
      await service?.stop();
      await store?.dropTables?.();
      await store?.close();
    });

    const file = () => join(service.serviceDir, '.local', `events-${service.port}.jsonl`);
    const lines = (): Line[] =>
      existsSync(file())
        ? readFileSync(file(), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as Line)
        : [];
    /** Waits until the file holds `count` lines, and returns them. */
    const linesUntil = (count: number) =>
      eventually(
        async () => lines(),
        (found) => found.length >= count,
      );

    async function open(user: string): Promise<{ client: TestClient; id: string }> {
      const exp = Math.floor(Date.now() / 1000) + 600;
      const token = await sign({
        sub: user,
        exp,
        rooms: { [ROOM]: ['join', 'publish', 'presence'], [NEWS]: ['join', 'publish'] },
      });
      const client = await TestClient.connect(`${service.url}?token=${token}`);
      clients.push(client);
      const id = (await client.request({}, 'connections')).you as string;
      return { client, id };
    }

    const presence = (client: TestClient) =>
      client.messages
        .filter((m: Received) => m.type === 'presence')
        .map((m) => [m.event, m.user, m.connections, m.first ?? false, m.last ?? false].join(' '));

    it('three connections of two users join and leave a room: the events and presence frames of users, exactly', async () => {
      const a1 = await open('alice');
      const a2 = await open('alice');
      const b1 = await open('bob');
      expect((await linesUntil(3)).map((l) => `${l.type} ${l.detail.user}`)).toEqual([
        'connection.opened alice',
        'connection.opened alice',
        'connection.opened bob',
      ]);
      expect(lines().map((l) => l.detail.connectionId)).toEqual([a1.id, a2.id, b1.id]);

      await a1.client.request({ action: 'join', room: ROOM }, 'joined');
      await linesUntil(5);
      await b1.client.request({ action: 'join', room: ROOM }, 'joined');
      await linesUntil(6);
      // alice's second connection: no event, and the others hear a join that is not a first
      await a2.client.request({ action: 'join', room: ROOM }, 'joined');
      // alice still has a2 in the room: no member.left
      await a1.client.request({ action: 'leave', room: ROOM }, 'left');
      await b1.client.close();
      await linesUntil(8);
      await a2.client.request({ action: 'leave', room: ROOM }, 'left');
      await linesUntil(10);
      await a1.client.close();
      await a2.client.close();
      const all = await linesUntil(12);

      expect(all.map((l) => [l.type, l.detail.user, l.detail.room ?? '-'].join(' '))).toEqual([
        'connection.opened alice -',
        'connection.opened alice -',
        'connection.opened bob -',
        `room.occupied alice ${ROOM}`,
        `member.joined alice ${ROOM}`,
        `member.joined bob ${ROOM}`,
        'connection.closed bob -',
        `member.left bob ${ROOM}`,
        `member.left alice ${ROOM}`,
        `room.vacated alice ${ROOM}`,
        'connection.closed alice -',
        'connection.closed alice -',
      ]);
      expect(all.every((l) => l.source === 'aws-node-websockets' && Object.keys(l)[0] === 'type')).toBe(true);
      expect(new Set(all.map((l) => l.detail.id)).size).toBe(all.length);
      expect(all[6]?.detail).toMatchObject({ connectionId: b1.id, subject: 'bob', reason: 'client' });

      // The frames: a1 heard bob arrive and alice's second tab; b1 heard alice's second tab and a1
      // leave (alice still there); a2 heard a1 leave, then bob's last connection go.
      expect(presence(a1.client)).toEqual(['join bob 1 true false', 'join alice 2 false false']);
      expect(presence(b1.client)).toEqual(['join alice 2 false false', 'leave alice 1 false false']);
      expect(presence(a2.client)).toEqual(['leave alice 1 false false', 'leave bob 0 false true']);
    });

    /** `npm run publish -- --event`: the publish function invoked as PublishRule would; its summary. */
    async function pushFromBus(room: string, data: string): Promise<unknown> {
      const run = await runScript('publish.ts', {
        cwd: service.serviceDir,
        env: { ...process.env, LAMBDA_PORT: String(service.ports.lambda) },
        args: ['--event', '--room', room, '--data', data],
        timeoutMs: 60_000,
      });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      return JSON.parse(run.stdout) as unknown;
    }

    it('npm run publish -- --event pushes to the room through the publish function, as PublishRule would', async () => {
      const { client } = await open('carol');
      await client.request({ action: 'join', room: ROOM }, 'joined');
      const heard = client.ofType('message');
      expect(await pushFromBus(ROOM, '{"text":"from the bus"}')).toMatchObject({
        type: 'delivery',
        room: ROOM,
        recipients: 1,
        sent: 1,
      });
      expect(await heard).toMatchObject({
        type: 'message',
        room: ROOM,
        origin: 'server',
        data: { text: 'from the bus' },
      });
      // events-room is not named in EVENTS_PUBLISHED_ROOMS: its messages stay off the bus.
      expect(lines().filter((l) => l.type === 'message.published')).toEqual([]);
    });

    it("message.published: a member's publish and a backend's push to a named room, with seq and data", async () => {
      const { client, id } = await open('dave');
      await client.request({ action: 'join', room: NEWS }, 'joined');
      const published = () => lines().filter((l) => l.type === 'message.published');
      const sent = await client.request({ action: 'publish', room: NEWS, data: { text: 'kept' } }, 'delivery');
      await eventually(
        async () => published(),
        (found) => found.length >= 1,
      );
      // Typing is not published; the push that follows is.
      client.send({ action: 'publish', room: NEWS, data: { typing: true }, ephemeral: true });
      const pushed = (await pushFromBus(NEWS, '"from the bus"')) as { seq: number; id: string };
      const found = await eventually(
        async () => published(),
        (lines) => lines.length >= 2,
      );
      expect(found.map((l) => l.detail)).toEqual([
        expect.objectContaining({
          room: NEWS,
          seq: sent.seq,
          messageId: sent.id,
          origin: 'client',
          connectionId: id,
          subject: 'dave',
          user: 'dave',
          data: { text: 'kept' },
        }),
        expect.objectContaining({
          room: NEWS,
          seq: pushed.seq,
          messageId: pushed.id,
          origin: 'server',
          connectionId: null,
          user: null,
          data: 'from the bus',
        }),
      ]);
      expect(pushed.seq).toBe((sent.seq as number) + 1);
    });
  });
}
