/**
 * The client's publish (client/requests.ts through client/index.ts), with a fake WebSocket and
 * jest's fake clock: it resolves with the message's id and seq from the delivery summary that
 * names its ref; by default the next publish of the room waits for the previous one's number
 * (with a timeout and an opt-out); it waits for the room's join on the connection; what it
 * cannot know (a drop before the answer) and what it never sent (close) are typed failures.
 */
import {
  ClientAnswerLostError,
  ClientClosedError,
  ClientQueueFullError,
  ClientRefusedError,
  ClientTimeoutError,
  ClientUnsentError,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  JOIN_WAIT_MS,
} from '../../client';
import type { PublishResult, RealtimeClientOptions } from '../../client';
import type { fakeWebSocket, FakeSocket } from '../support/stand-ins/fake-websocket';
import { joinedAt as joinedOn, roomClient, useFakeSockets } from '../support/harnesses/room-client';

let fake: ReturnType<typeof fakeWebSocket>;
useFakeSockets((made) => (fake = made));

const joinedAt = (seq: number, options: Partial<RealtimeClientOptions> = {}) => joinedOn(fake, seq, options);

/** The publishes sent on a socket. */
const publishes = (socket: FakeSocket = fake.last()) =>
  socket.commands().filter((c) => c.action === 'publish') as { room: string; data: unknown; ref: string }[];

/** The service's answer to the publish sent with `ref`: the delivery summary naming its message. */
function summary(ref: string, seq: number, room = 'lobby', extra: Record<string, unknown> = {}) {
  return {
    type: 'delivery',
    room,
    id: `id-${seq}`,
    seq,
    recipients: 2,
    sent: 2,
    stale: 0,
    failed: 0,
    unsent: 0,
    ref,
    ...extra,
  };
}

/** Lets the promise callbacks run (the fake clock does not). */
const settled = () =>
  new Promise<void>((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));

/** Collects how each promise ended, in the order they ended. */
function outcomes<T>(promises: Promise<T>[]) {
  const ended: { index: number; value?: T; error?: unknown }[] = [];
  promises.forEach((p, index) =>
    p.then(
      (value) => ended.push({ index, value }),
      (error: unknown) => ended.push({ index, error }),
    ),
  );
  return ended;
}

describe('publish', () => {
  it("resolves with the message's id and seq from the summary that names its ref, and sends the ref", async () => {
    const { c, messages } = joinedAt(4);
    const published = c.publish('lobby', { text: 'hi' });
    expect(publishes()).toEqual([{ action: 'publish', room: 'lobby', data: { text: 'hi' }, ref: 'r1' }]);
    fake.last().receive(summary('r1', 5));
    await expect(published).resolves.toEqual({ id: 'id-5', seq: 5, delivery: summary('r1', 5) });
    // The summary still reaches the app as a frame, as every summary does.
    expect(messages.filter((m) => m.type === 'delivery')).toHaveLength(1);
  });

  it('sends an ephemeral publish at once, even behind an unanswered one, and resolves with its id and no seq', async () => {
    const { c } = joinedAt(4);
    const first = c.publish('lobby', 'numbered');
    const typing = c.publish('lobby', { typing: true }, { ephemeral: true, echo: false });
    expect(publishes().map((p) => p.data)).toEqual(['numbered', { typing: true }]);
    expect(publishes()[1]).toEqual({
      action: 'publish',
      room: 'lobby',
      data: { typing: true },
      echo: false,
      ephemeral: true,
      ref: 'r2',
    });
    const answer = { ...summary('r2', 0), id: 'typing-1' } as Record<string, unknown>;
    delete answer.seq;
    fake.last().receive(answer);
    await expect(typing).resolves.toEqual({ id: 'typing-1', delivery: answer });
    fake.last().receive(summary('r1', 5));
    await expect(first).resolves.toMatchObject({ seq: 5 });
  });

  it('refuses summary: false on a numbered publish (its summary is how it learns its number), and sends nothing', () => {
    const { c } = joinedAt(4);
    const options = { summary: false } as unknown as { ordered?: boolean };
    expect(() => c.publish('lobby', 'x', options)).toThrow(RangeError);
    expect(publishes()).toEqual([]);
  });

  it('sends a burst of 20 to one room one at a time, each once the previous has its number, in the order called', async () => {
    const { c } = joinedAt(0);
    const results = Array.from({ length: 20 }, (_, i) => c.publish('lobby', i));
    const ended = outcomes(results);
    for (let n = 1; n <= 20; n++) {
      expect(publishes().map((p) => p.data)).toEqual(Array.from({ length: n }, (_, i) => i));
      fake.last().receive(summary(publishes().at(-1)?.ref as string, n));
      await settled();
    }
    expect(ended.map((e) => (e.value as PublishResult).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('keeps the order per room: a publish to another room does not wait', () => {
    const { c } = joinedAt(0);
    c.join('other');
    fake.last().receive({ type: 'joined', room: 'other', seq: 0 });
    void c.publish('lobby', 1);
    void c.publish('lobby', 2);
    void c.publish('other', 3);
    expect(publishes().map((p) => p.data)).toEqual([1, 3]);
  });

  it('with ordered: false, sends at once, and each still resolves with its own number whatever the order of answers', async () => {
    const { c } = joinedAt(0);
    const a = c.publish('lobby', 'a', { ordered: false });
    const b = c.publish('lobby', 'b', { ordered: false });
    expect(publishes().map((p) => p.data)).toEqual(['a', 'b']);
    fake.last().receive(summary('r2', 1));
    fake.last().receive(summary('r1', 2));
    await expect(a).resolves.toMatchObject({ seq: 2 });
    await expect(b).resolves.toMatchObject({ seq: 1 });
  });

  it('fails a publish unanswered for publishTimeoutMs with ClientTimeoutError, then sends the next; a late answer is not taken for it', async () => {
    const { c } = joinedAt(0, { publishTimeoutMs: 5_000 });
    const first = c.publish('lobby', 1);
    const second = c.publish('lobby', 2);
    jest.advanceTimersByTime(4_999);
    expect(publishes()).toHaveLength(1);
    jest.advanceTimersByTime(1);
    await expect(first).rejects.toEqual(new ClientTimeoutError('publish', 5_000));
    expect(publishes().map((p) => p.data)).toEqual([1, 2]);
    fake.last().receive(summary('r1', 1)); // the first one's answer, late
    const ended = outcomes([second]);
    await settled();
    expect(ended).toEqual([]);
    fake.last().receive(summary('r2', 2));
    await expect(second).resolves.toMatchObject({ seq: 2 });
  });

  it('times each publish from when it is sent, not from when it was called', async () => {
    const { c } = joinedAt(0, { publishTimeoutMs: 1_000 });
    void c.publish('lobby', 1);
    const second = c.publish('lobby', 2, { timeoutMs: 300 });
    jest.advanceTimersByTime(900);
    fake.last().receive(summary('r1', 1));
    await settled();
    jest.advanceTimersByTime(299);
    fake.last().receive(summary('r2', 2));
    await expect(second).resolves.toMatchObject({ seq: 2 });
    expect(DEFAULT_PUBLISH_TIMEOUT_MS).toBe(30_000);
  });

  it('fails a refused publish with ClientRefusedError (its error frame, code) and sends the next', async () => {
    const { c } = joinedAt(0);
    const first = c.publish('lobby', 'x'.repeat(10));
    const second = c.publish('lobby', 2);
    const refusal = { type: 'error', code: 'payload_too_large', message: 'too large', ref: 'r1' };
    fake.last().receive(refusal);
    await expect(first).rejects.toBeInstanceOf(ClientRefusedError);
    await expect(first).rejects.toMatchObject({ code: 'payload_too_large', frame: refusal });
    expect(publishes().map((p) => p.data)).toEqual(['x'.repeat(10), 2]);
    fake.last().receive(summary('r2', 1));
    await expect(second).resolves.toMatchObject({ seq: 1 });
  });

  it("waits for the room's join to be answered on the connection before sending (else it could overtake the join)", () => {
    const { c } = roomClient(fake);
    c.join('lobby');
    void c.publish('lobby', 1);
    c.connect();
    fake.last().open();
    expect(fake.last().commands()).toEqual([{ action: 'join', room: 'lobby' }]);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 0 });
    expect(publishes().map((p) => p.data)).toEqual([1]);
  });

  it('sends anyway once JOIN_WAIT_MS has passed without an answer to the join', () => {
    const { c } = roomClient(fake);
    c.join('lobby');
    c.connect();
    fake.last().open();
    void c.publish('lobby', 1);
    jest.advanceTimersByTime(JOIN_WAIT_MS - 1);
    expect(publishes()).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(publishes().map((p) => p.data)).toEqual([1]);
  });

  it('sends at once to a room the client is not in (the service answers: forbidden)', () => {
    const { c } = joinedAt(0);
    void c.publish('elsewhere', 1);
    expect(publishes().map((p) => p.room)).toEqual(['elsewhere']);
  });

  it('fails a publish whose connection dropped before its answer with ClientAnswerLostError; the next goes after the rejoin', async () => {
    const { c } = joinedAt(0);
    const first = c.publish('lobby', 1);
    const second = c.publish('lobby', 2);
    const old = fake.last();
    old.drop();
    await expect(first).rejects.toEqual(new ClientAnswerLostError('lobby'));
    jest.runOnlyPendingTimers();
    fake.last().open();
    expect(publishes()).toEqual([]);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 1 });
    expect(publishes().map((p) => p.data)).toEqual([2]);
    fake.last().receive(summary(publishes()[0]?.ref as string, 2));
    await expect(second).resolves.toMatchObject({ seq: 2 });
    expect(publishes(old).map((p) => p.data)).toEqual([1]);
  });

  it('holds at most queueLimit publishes: beyond, the call throws ClientQueueFullError', () => {
    const { c } = joinedAt(0, { queueLimit: 3 });
    void c.publish('lobby', 1); // sent: not held
    for (const n of [2, 3, 4]) void c.publish('lobby', n);
    expect(() => c.publish('lobby', 5)).toThrow(ClientQueueFullError);
    expect(() => c.publish('lobby', 6, { ordered: false })).not.toThrow(); // sent at once: held by nobody
  });

  it('on close: what was never sent fails with ClientClosedError and is reported unsent; what was sent fails with ClientAnswerLostError', async () => {
    const { c } = joinedAt(0);
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const sent = c.publish('lobby', 1);
    const held = c.publish('lobby', 2);
    c.close();
    await expect(sent).rejects.toBeInstanceOf(ClientAnswerLostError);
    await expect(held).rejects.toBeInstanceOf(ClientClosedError);
    expect(errors).toEqual([expect.any(ClientUnsentError)]);
    expect((errors[0] as ClientUnsentError).unsent.map((t) => JSON.parse(t))).toEqual([
      { action: 'publish', room: 'lobby', data: 2, ref: 'r2' },
    ]);
    expect(() => c.publish('lobby', 3)).toThrow(ClientClosedError);
  });

  it('is resolved by the queued summary of a delivery in shards; the final one with the same ref changes nothing', async () => {
    const { c, messages } = joinedAt(0);
    const published = c.publish('lobby', 1);
    const next = c.publish('lobby', 2);
    fake
      .last()
      .receive(summary('r1', 1, 'lobby', { state: 'queued', deliveryId: 'd1', shards: 3, sent: 0, unsent: 2 }));
    await expect(published).resolves.toMatchObject({ id: 'id-1', seq: 1, delivery: { state: 'queued' } });
    fake.last().receive(summary('r1', 1, 'lobby', { id: 'id-1b', state: 'done', deliveryId: 'd1', shards: 3 }));
    expect(publishes().map((p) => p.data)).toEqual([1, 2]);
    const ended = outcomes([next]);
    await settled();
    expect(ended).toEqual([]);
    expect(messages.filter((m) => m.type === 'delivery')).toHaveLength(2);
  });

  it('never fails as an unhandled rejection when the app does not wait for it', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const { c } = joinedAt(0, { publishTimeoutMs: 10 });
      void c.publish('lobby', 1);
      jest.advanceTimersByTime(10);
      fake.last().receive({ type: 'error', code: 'forbidden', message: 'no', ref: 'r2' });
      c.publish('lobby', 2); // refused above, not waited for
      await settled();
      await settled();
    } finally {
      process.off('unhandledRejection', listener);
    }
    expect(unhandled).toEqual([]);
  });
});
