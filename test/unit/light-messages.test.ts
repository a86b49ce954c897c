/**
 * Paying only for what a client uses (src/chat/messages.ts), through the message handler with
 * the store in memory and the management API a loopback stand-in: `echo: false` and
 * `summary: false` send exactly what they promise, an ephemeral room message gets an id and no
 * number, reads the store once (its audience, which is its membership check) and writes
 * nothing, and is refused exactly as a publish is. Bad values get an error frame on the same
 * connection, and nothing is delivered.
 */
import { message } from '../../src/handler';
import type { WebSocketEvent } from '../../src/handler';
import { MESSAGE_ID_PATTERN } from '../../src/chat/history';
import { authorizedAs, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { parseRights } from '../../src/auth/rooms';
import { handleMessage } from '../../src/chat/actions';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import { memoryStore } from '../support/stand-ins/memory-store';
import { chatSession } from '../support/harnesses/session';

const harness = useHandlerHarness();
const management = harness.management;
const SENDER = 'L0SM9cOFvHcCIhw=';
const ALICE = 'AlIcEcOnNeCtIo1=';
const BOB = 'BoBbObCoNnEcTi2=';
const OUTSIDER = 'OuTsIdErCoNnEc3=';
const ROOM = 'lobby';

let store: MemoryStore;
beforeEach(async () => {
  store = harness.store;
  for (const [i, id] of [SENDER, ALICE, BOB, OUTSIDER].entries()) {
    await store.add({ connectionId: id, connectedAt: 1_000 + i, subject: null });
  }
  for (const id of [SENDER, ALICE, BOB]) await store.join(id, ROOM, 50);
  management.resetHistory();
  jest.clearAllMocks(); // the set-up's own store calls are not the message's
});

function from(connectionId: string, body: unknown, route: string, rights?: Record<string, string[]>): WebSocketEvent {
  const event = messageEvent(JSON.stringify(body), connectionId, route);
  if (rights) event.requestContext.authorizer = authorizedAs('sam', parseRights(rights));
  return event;
}

const send = async (event: WebSocketEvent) => (await message(event, lambdaContext())).statusCode;
/** Who got which frame type, in the order posted (a fan-out's posts run in parallel: sorted). */
const received = () =>
  management
    .posted()
    .map(({ to, message: frame }) => `${to} ${String(frame.type)}`)
    .sort();
const framesTo = (to: string) =>
  management
    .posted()
    .filter((post) => post.to === to)
    .map((post) => post.message);
/**
 * The store methods the message called, with how often; not `end`, which every invocation that
 * used the store calls (its cost on the wire is the bench's: BENCHMARKS.md).
 */
function storeCalls(): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [name, value] of Object.entries(store)) {
    if (name === 'end') continue;
    const count = (value as Partial<jest.Mock> | undefined)?.mock?.calls.length ?? 0;
    if (count > 0) calls[name] = count;
  }
  return calls;
}

describe('an ephemeral room message', () => {
  const typing = { action: 'publish', room: ROOM, data: { typing: true }, ephemeral: true };

  it('reaches every member with an id, marked ephemeral, without seq, and the sender gets a summary without seq', async () => {
    expect(await send(from(SENDER, typing, 'publish'))).toBe(200);
    expect(received()).toEqual([`${ALICE} message`, `${BOB} message`, `${SENDER} delivery`, `${SENDER} message`]);
    const [frame] = framesTo(ALICE);
    expect(frame).toEqual({
      type: 'message',
      id: expect.stringMatching(MESSAGE_ID_PATTERN),
      room: ROOM,
      ephemeral: true,
      from: null,
      connectionId: SENDER,
      origin: 'client',
      sentAt: expect.any(Number),
      data: { typing: true },
    });
    const summary = framesTo(SENDER).find((f) => f.type === 'delivery');
    expect(summary).toEqual({
      type: 'delivery',
      room: ROOM,
      id: frame?.id,
      recipients: 3,
      sent: 3,
      stale: 0,
      failed: 0,
      unsent: 0,
    });
  });

  it('reads the store once (the room’s audience, which is the membership check too) and writes nothing', async () => {
    await send(from(SENDER, typing, 'publish'));
    expect(storeCalls()).toEqual({ audience: 1 });
    expect(store.history.get(ROOM) ?? []).toEqual([]);
    expect(store.sequences.get(ROOM) ?? 0).toBe(0);
  });

  it('takes no number: the next numbered message of the room is still 1', async () => {
    await send(from(SENDER, typing, 'publish'));
    await send(from(SENDER, { action: 'publish', room: ROOM, data: 'hi' }, 'publish'));
    const numbered = framesTo(ALICE).filter((f) => f.ephemeral === undefined);
    expect(numbered.map((f) => f.seq)).toEqual([1]);
  });

  it('is refused to a non-member exactly as a publish is, after the one read, and reaches no one', async () => {
    const refusals: unknown[] = [];
    for (const ephemeral of [false, true]) {
      management.resetHistory();
      jest.clearAllMocks();
      expect(await send(from(OUTSIDER, { ...typing, ephemeral }, 'publish'))).toBe(400);
      expect(received()).toEqual([`${OUTSIDER} error`]);
      refusals.push(framesTo(OUTSIDER)[0]);
      if (ephemeral) expect(storeCalls()).toEqual({ audience: 1 });
    }
    expect(refusals[1]).toEqual(refusals[0]);
    expect(refusals[0]).toMatchObject({ code: 'forbidden', details: { room: ROOM, missing: 'membership' } });
  });

  it('is refused without the publish right exactly as a publish is, before the store is read', async () => {
    const rights = { [ROOM]: ['join', 'presence'] };
    const refusals: unknown[] = [];
    for (const ephemeral of [false, true]) {
      management.resetHistory();
      jest.clearAllMocks();
      expect(await send(from(SENDER, { ...typing, ephemeral }, 'publish', rights))).toBe(400);
      expect(received()).toEqual([`${SENDER} error`]);
      expect(storeCalls()).toEqual({});
      refusals.push(framesTo(SENDER)[0]);
    }
    expect(refusals[1]).toEqual(refusals[0]);
    expect(refusals[0]).toMatchObject({ code: 'forbidden', details: { room: ROOM, missing: 'publish' } });
  });
});

describe('echo and summary, per message', () => {
  const publish = (options: Record<string, unknown>) => ({ action: 'publish', room: ROOM, data: 'x', ...options });
  const members = [`${ALICE} message`, `${BOB} message`];

  it.each([
    ['both by default', {}, [...members, `${SENDER} delivery`, `${SENDER} message`]],
    ['the summary only with echo: false', { echo: false }, [...members, `${SENDER} delivery`]],
    ['the echo only with summary: false', { summary: false }, [...members, `${SENDER} message`]],
    ['nothing with both false', { echo: false, summary: false }, members],
    ['the same for an ephemeral message', { echo: false, summary: false, ephemeral: true }, members],
  ])('a room message: the sender gets %s', async (_what, options, expected) => {
    expect(await send(from(SENDER, publish(options), 'publish'))).toBe(200);
    expect(received()).toEqual(expected);
  });

  it('counts no sender that asked for no echo in its summary, and the echo it keeps carries the seq', async () => {
    await send(from(SENDER, publish({ echo: false }), 'publish'));
    expect(framesTo(SENDER)).toEqual([expect.objectContaining({ type: 'delivery', seq: 1, recipients: 2, sent: 2 })]);
    management.resetHistory();
    await send(from(SENDER, publish({ summary: false }), 'publish'));
    expect(framesTo(SENDER)).toEqual([expect.objectContaining({ type: 'message', seq: 2 })]);
  });

  it('applies to a broadcast and to a direct message too', async () => {
    await send(from(SENDER, { action: 'sendmessage', data: 1, echo: false, summary: false }, 'sendmessage'));
    expect(received()).toEqual([`${ALICE} message`, `${BOB} message`, `${OUTSIDER} message`]);
    management.resetHistory();
    await send(from(SENDER, { action: 'send', connectionId: ALICE, data: 2, summary: false }, 'send'));
    expect(received()).toEqual([`${ALICE} message`]);
    management.resetHistory();
    // To oneself with echo: false: nobody, and the summary says so.
    await send(from(SENDER, { action: 'send', connectionId: SENDER, data: 3, echo: false }, 'send'));
    expect(framesTo(SENDER)).toEqual([expect.objectContaining({ type: 'delivery', recipients: 0 })]);
  });

  it.each([
    ['echo', { echo: 'no' }, 'echo must be true or false'],
    ['summary', { summary: 0 }, 'summary must be true or false'],
    ['ephemeral', { ephemeral: 'yes' }, 'ephemeral must be true or false'],
  ])('refuses a %s that is not a boolean with invalid_message, and delivers nothing', async (field, options, text) => {
    expect(await send(from(SENDER, publish(options), 'publish'))).toBe(400);
    expect(received()).toEqual([`${SENDER} error`]);
    expect(framesTo(SENDER)[0]).toMatchObject({
      code: 'invalid_message',
      details: { issues: [{ path: field, message: text }] },
    });
    expect(storeCalls()).toEqual({});
  });
});

describe('an ephemeral room message where audiences are sharded (as in AWS: a `deliver` function)', () => {
  const ids = ['c1', 'c2', 'c3', 'c4', 'c5'];
  let shardStore: MemoryStore;
  let events: ShardEvent[];
  let replies: Record<string, unknown>[];

  beforeEach(async () => {
    shardStore = memoryStore();
    for (const [i, id] of ids.entries()) {
      await shardStore.add({ connectionId: id, connectedAt: i, subject: null });
      await shardStore.join(id, ROOM, 50);
    }
    await shardStore.add({ connectionId: 'c9', connectedAt: 9, subject: null });
    events = [];
    replies = [];
    jest.clearAllMocks();
  });

  /** A publish from `sender` with FANOUT_SHARD_SIZE `size`; posts to the sender are kept. */
  function publishAs(sender: string, size: number, options: Record<string, unknown> = {}) {
    const session = chatSession({
      store: shardStore,
      connectionId: sender,
      outbox: {
        send: async (to, data) => {
          if (to === sender) replies.push(JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>);
        },
      },
      sharding: { size, invoke: async (event) => void events.push(event) },
    });
    const body = { action: 'publish', room: ROOM, data: 'typing', ephemeral: true, ...options };
    return handleMessage(session, JSON.stringify(body));
  }
  const calls = (method: keyof MemoryStore) => (shardStore[method] as jest.Mock).mock.calls.length;

  it('within a shard: one page of the audience, read once, is the membership check and the audience', async () => {
    expect(await publishAs('c3', 10)).toBe(200);
    expect(calls('audiencePage')).toBe(1);
    expect(calls('roomsOf')).toBe(0);
    expect(calls('openDelivery')).toBe(0);
    expect(replies.map((r) => r.type).sort()).toEqual(['delivery', 'message']);
    expect(replies.find((r) => r.type === 'delivery')).toMatchObject({ recipients: 5, sent: 5 });
  });

  it('beyond a shard: the sender on the first page needs no other read, and the shards leave it out on request', async () => {
    expect(await publishAs('c1', 2, { echo: false })).toBe(200);
    expect(calls('roomsOf')).toBe(0);
    expect(replies).toEqual([expect.objectContaining({ state: 'queued', recipients: 4 })]);
    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.except === 'c1' && e.room === ROOM)).toBe(true);
  });

  it('beyond a shard: a member past the first page costs one read of its rooms; a non-member opens nothing', async () => {
    expect(await publishAs('c5', 2)).toBe(200);
    expect(calls('roomsOf')).toBe(1);
    expect(events.length).toBeGreaterThan(1);
    jest.clearAllMocks();
    events = [];
    replies = [];
    expect(await publishAs('c9', 2)).toBe(400);
    expect(replies).toEqual([
      expect.objectContaining({ code: 'forbidden', details: { room: ROOM, missing: 'membership' } }),
    ]);
    expect(calls('openDelivery')).toBe(0);
    expect(events).toEqual([]);
  });
});
