/**
 * Paying only for what a client uses, against the real service on both stores: an ephemeral
 * room message reaches the members with an id and no `seq`, takes no number and appears in no
 * history; `echo: false` and `summary: false` send the sender exactly what they promise, frames
 * counted; a bad value or a non-member is refused on a socket that stays open.
 */
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { storeCases } from '../support/harnesses/store-cases';
import type { OfflineService } from '../support/harnesses/offline';
import type { TestStore } from '../support/harnesses/store-cases';

jest.setTimeout(180_000);

/** How long nothing more may arrive for "nothing else came". */
const QUIET_MS = 1_500;
const ROOM = 'light';

describe.each(storeCases('light'))('light messages, $name', ({ skip, start }) => {
  const run = skip ? it.skip : it;
  let service: OfflineService | undefined;
  let store: TestStore | undefined;
  const clients: TestClient[] = [];
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;

  beforeAll(async () => {
    if (skip) return;
    ({ service, store } = await start());
    for (let i = 0; i < 3; i++) clients.push(await TestClient.connect(service.url));
    [alice, bob, carol] = clients as [TestClient, TestClient, TestClient];
    await alice.request({ action: 'join', room: ROOM }, 'joined');
    await bob.request({ action: 'join', room: ROOM }, 'joined');
    await alice.ofType('presence'); // bob's join
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await service?.stop();
    await store?.dropTables?.();
    await store?.close();
  });

  /** Everything `client` was sent about message `id` (or holding it) until QUIET_MS pass with nothing new. */
  async function framesAbout(client: TestClient, id: string): Promise<Received[]> {
    const about = (m: Received) => m.id === id;
    const got: Received[] = [];
    for (;;) {
      try {
        got.push(await client.next(about, QUIET_MS));
      } catch {
        return got;
      }
    }
  }
  const latest = async (client: TestClient) =>
    Number((await client.request({ action: 'history', room: ROOM }, 'history')).latest);

  run(
    'delivers an ephemeral message to the members with an id and no seq, numbered by nothing, kept nowhere',
    async () => {
      const before = await latest(alice);
      alice.send({ action: 'publish', room: ROOM, data: { typing: true }, ephemeral: true });
      const heard = await bob.next((m) => m.type === 'message' && m.ephemeral === true);
      expect(heard).toMatchObject({ type: 'message', room: ROOM, ephemeral: true, data: { typing: true } });
      expect(heard.seq).toBeUndefined();
      const id = String(heard.id);
      const toSender = await framesAbout(alice, id);
      expect(toSender.map((m) => m.type).sort()).toEqual(['delivery', 'message']);
      expect(toSender.find((m) => m.type === 'delivery')).toMatchObject({ room: ROOM, recipients: 2, sent: 2 });
      expect(toSender.every((m) => m.seq === undefined)).toBe(true);
      expect(await framesAbout(carol, id)).toEqual([]);

      // The next numbered message takes the number after the room's last: the ephemeral one took none.
      alice.send({ action: 'publish', room: ROOM, data: 'numbered' });
      const numbered = await bob.next((m) => m.type === 'message' && m.data === 'numbered');
      expect(numbered.seq).toBe(before + 1);
      const history = await alice.request({ action: 'history', room: ROOM }, 'history');
      expect(history.latest).toBe(before + 1);
      expect((history.messages as Received[]).map((m) => m.id)).not.toContain(id);
    },
  );

  run.each<[string, Record<string, boolean>, string[]]>([
    ['echo: false: the summary only', { echo: false }, ['delivery']],
    ['summary: false: the echo only', { summary: false }, ['message']],
    ['both false: nothing', { echo: false, summary: false }, []],
  ])('sends the sender of a room message, with %s', async (_what, options, expected) => {
    const marker = `m-${JSON.stringify(options)}`;
    alice.send({ action: 'publish', room: ROOM, data: marker, ...options });
    const heard = await bob.next((m) => m.type === 'message' && m.data === marker);
    const toSender = await framesAbout(alice, String(heard.id));
    expect(toSender.map((m) => m.type)).toEqual(expected);
    if (expected.includes('delivery')) expect(toSender[0]).toMatchObject({ recipients: 1, sent: 1, seq: heard.seq });
    if (expected.includes('message')) expect(toSender[0]?.seq).toBe(heard.seq);
    expect(await framesAbout(bob, String(heard.id))).toEqual([]); // bob heard it once
  });

  run('leaves the sender out of its own broadcast with echo: false, and reaches everyone else', async () => {
    alice.send({ action: 'sendmessage', data: 'to all but me', echo: false });
    const [atBob, atCarol] = await Promise.all(
      [bob, carol].map((client) => client.next((m) => m.type === 'message' && m.data === 'to all but me')),
    );
    expect(atCarol?.id).toBe(atBob?.id);
    const toSender = await framesAbout(alice, String(atBob?.id));
    expect(toSender).toEqual([expect.objectContaining({ type: 'delivery', recipients: 2, sent: 2 })]);
  });

  run('refuses a bad value, and an ephemeral message from a non-member, on a socket that stays open', async () => {
    const bad = await carol.request({ action: 'publish', room: ROOM, data: 1, ephemeral: 'yes' }, 'error');
    expect(bad).toMatchObject({ code: 'invalid_message', details: { issues: [{ path: 'ephemeral' }] } });
    const outsider = await carol.request({ action: 'publish', room: ROOM, data: 2, ephemeral: true }, 'error');
    expect(outsider).toMatchObject({ code: 'forbidden', details: { room: ROOM, missing: 'membership' } });
    expect(await carol.request({ action: 'ping' }, 'pong')).toMatchObject({ type: 'pong' });
    await expect(bob.next((m) => m.type === 'message' && (m.data === 1 || m.data === 2), QUIET_MS)).rejects.toThrow(
      /no matching message/,
    );
  });
});
