/**
 * `message.published` (src/events/published.ts): a numbered message of a room EVENTS_PUBLISHED_ROOMS
 * names goes to the bus after the sender's answer, a backend's push before `publish` returns; an
 * ephemeral message, another room's, a broadcast and a direct message do not. Its data rides along
 * while the entry fits one PutEvents request, and a request is split by EventBridge's size limit.
 * The setting is refused alike by settings.js (before a deploy) and by the functions.
 */
import { message, publish } from '../../src/handler';
import { batches, entryOf, entrySize, MAX_PUT_BYTES, useSink } from '../../src/events/emitter';
import { publishedEvent } from '../../src/events/published';
import { readPublishedRooms, resetEventSettings } from '../../src/events/settings';
import type { BusEvent, PublishedEvent } from '../../src/events/types';
import { lifecycleEvent } from '../../src/events/types';
import { ConfigError } from '../../src/errors';
import { lambdaContext, messageEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { publishedRoomsProblem } = require('../../settings.js') as {
  publishedRoomsProblem: (text: string) => string | undefined;
};

const harness = useHandlerHarness({ EVENTS_PUBLISHED_ROOMS: 'news-*, support', EVENTS_STAGE: 'unit' });

/** Two connections, with ids as API Gateway makes them. */
const A = 'AAAAAAAAAAAAAAA=';
const B = 'BBBBBBBBBBBBBBB=';

/** Each event with what the sockets had been posted when it was emitted. */
let emitted: { event: BusEvent; postsBefore: number }[];
beforeEach(async () => {
  resetEventSettings();
  emitted = [];
  useSink({
    put: async (batch) => {
      for (const event of batch) emitted.push({ event, postsBefore: harness.management.posted().length });
      return [];
    },
  });
  for (const id of [A, B]) {
    await harness.store.add({ connectionId: id, connectedAt: 1, subject: null });
    for (const room of ['news-eu', 'chat']) await harness.store.join(id, room, 50);
  }
});
afterEach(() => useSink(undefined));

const published = () =>
  emitted.map(({ event }) => event).filter((event): event is PublishedEvent => event.type === 'message.published');

async function act(id: string, body: unknown) {
  expect(await message(messageEvent(body, id, 'message'), lambdaContext())).toEqual({ statusCode: 200 });
}

describe('what is published', () => {
  it("a client's numbered message to a named room: after the sender's summary, with its seq, id and data", async () => {
    await act(A, { action: 'publish', room: 'news-eu', data: { text: 'hello' } });
    const [event] = published();
    expect(published()).toHaveLength(1);
    const frame = harness.management.posted().find((post) => post.to === B)?.message as Record<string, unknown>;
    expect(event?.detail).toMatchObject({
      stage: 'unit',
      room: 'news-eu',
      seq: frame.seq,
      messageId: frame.id,
      origin: 'client',
      connectionId: A,
      subject: null,
      user: A,
      data: { text: 'hello' },
      time: new Date(frame.sentAt as number).toISOString(),
    });
    expect(event?.detail.dataOmitted).toBeUndefined();
    // Both copies and the sender's `delivery` summary were posted before the event went.
    const posts = harness.management.posted();
    expect(posts.map((post) => (post.message as { type: string }).type)).toEqual(['message', 'message', 'delivery']);
    expect(emitted.find(({ event: e }) => e === event)?.postsBefore).toBe(3);
  });

  it('nothing for another room, an ephemeral message, a broadcast or a direct message', async () => {
    await act(A, { action: 'publish', room: 'chat', data: 1 });
    await act(A, { action: 'publish', room: 'news-eu', data: { typing: true }, ephemeral: true });
    await act(A, { action: 'sendmessage', data: 2 });
    await act(A, { action: 'send', connectionId: B, data: 3 });
    expect(published()).toEqual([]);
    expect(harness.management.posted().length).toBeGreaterThan(4);
  });

  it("a backend's push to a named room, before `publish` returns: origin server, no connection or user", async () => {
    const result = await publish({ room: 'support', data: 'from a backend' }, lambdaContext());
    expect(result).toMatchObject({ type: 'delivery', room: 'support', recipients: 0 });
    // No member heard it, but it is numbered and in the room's history: it is published.
    expect(published().map((event) => event.detail)).toEqual([
      expect.objectContaining({
        room: 'support',
        seq: 1,
        origin: 'server',
        connectionId: null,
        subject: null,
        user: null,
        data: 'from a backend',
      }),
    ]);
  });

  it('none at all while EVENTS_PUBLISHED_ROOMS is unset', async () => {
    const saved = process.env.EVENTS_PUBLISHED_ROOMS;
    delete process.env.EVENTS_PUBLISHED_ROOMS;
    resetEventSettings();
    try {
      await act(A, { action: 'publish', room: 'news-eu', data: 1 });
      await publish({ room: 'news-eu', data: 2 }, lambdaContext());
    } finally {
      process.env.EVENTS_PUBLISHED_ROOMS = saved;
    }
    expect(published()).toEqual([]);
  });

  it('a bus that fails does not fail the message: the sender has its summary, the failure is logged', async () => {
    useSink({ put: () => Promise.reject(new Error('bus down')) });
    await act(A, { action: 'publish', room: 'news-eu', data: 1 });
    expect(harness.management.posted().some((post) => post.to === A && post.message.type === 'delivery')).toBe(true);
    expect(harness.loggedErrors().map((line) => line.message)).toContain('events not sent');
  });
});

describe('its data and EventBridge size limit', () => {
  const message = {
    id: 'm1',
    room: 'news-eu',
    seq: 7,
    sentAt: Date.UTC(2026, 11, 7),
    data: { text: 'x'.repeat(2_000) },
    origin: 'client' as const,
    from: 'alice',
    connectionId: 'c1',
  };

  it('the data while the entry fits; past the limit its size instead, and the rest unchanged', () => {
    const whole = publishedEvent(message, 'unit');
    expect(whole.detail).toMatchObject({ data: message.data, user: 'alice', subject: 'alice', connectionId: 'c1' });
    const size = entrySize(entryOf(whole, 'bus'));
    const cut = publishedEvent(message, 'unit', size - 1);
    expect(cut.detail.data).toBeUndefined();
    expect(cut.detail.dataOmitted).toEqual({ bytes: JSON.stringify(message.data).length });
    expect({ ...cut.detail, id: '', dataOmitted: undefined }).toEqual({ ...whole.detail, id: '', data: undefined });
    expect(publishedEvent(message, 'unit', size).detail.data).toEqual(message.data);
  });

  it("counts an entry as EventBridge does: 14 bytes of Time, and Source, DetailType and Detail's UTF-8", () => {
    const entry = { Source: 'src', DetailType: 'tÿpe', Detail: '{"a":"é"}', EventBusName: 'any', Time: 'x' };
    expect(entrySize(entry)).toBe(14 + 3 + 5 + 10);
  });

  it('a request holds at most 10 entries and stays under 256 KB: two 150 KB messages go in two', () => {
    const small = Array.from({ length: 23 }, () =>
      lifecycleEvent('connection.opened', 'unit', { connectionId: 'c', subject: null }),
    );
    expect(batches(small, 'bus').map((batch) => batch.length)).toEqual([10, 10, 3]);
    const big = publishedEvent({ ...message, data: 'y'.repeat(150_000) }, 'unit');
    const mixed = batches([small[0] as BusEvent, big, big, small[1] as BusEvent], 'bus');
    expect(mixed.map((batch) => batch.length)).toEqual([2, 2]);
    for (const batch of mixed) {
      expect(batch.reduce((sum, event) => sum + entrySize(entryOf(event, 'bus')), 0)).toBeLessThanOrEqual(
        MAX_PUT_BYTES,
      );
    }
  });
});

describe('EVENTS_PUBLISHED_ROOMS', () => {
  const good = ['news-*', 'lobby', '*', 'a, b ,c*', 'x'.repeat(64), `${'x'.repeat(64)}*`];
  const bad = ['news-*-eu', 'a b', 'a,,b', 'a,', 'caf\u00e9', 'x'.repeat(65), '**', 'a*,b/c'];

  it.each(good)('takes %j, in the functions and in settings.js', (text) => {
    expect(() => readPublishedRooms(text)).not.toThrow();
    expect(publishedRoomsProblem(text)).toBeUndefined();
  });

  it.each(bad)('refuses %j, in the functions (a ConfigError naming it) and in settings.js', (text) => {
    expect(() => readPublishedRooms(text)).toThrow(ConfigError);
    expect(() => readPublishedRooms(text)).toThrow(/^EVENTS_PUBLISHED_ROOMS: /);
    expect(publishedRoomsProblem(text)).toMatch(/^EVENTS_PUBLISHED_ROOMS: /);
  });

  it('matches rooms as a rooms claim does: a name exactly, a prefix ending in *', () => {
    const rooms = readPublishedRooms('news-*, support') as Readonly<Record<string, unknown>>;
    expect(Object.keys(rooms).sort()).toEqual(['news-*', 'support']);
  });
});
