/**
 * The client's history() (client/history.ts, client/requests.ts) with a fake WebSocket and
 * jest's fake clock: an async iterator over pages, forward from `after` or backward from
 * `before`, each page in seq order; its requests carry a ref and its answers never mix with
 * the room's own catch-up; 128 KB answers are completed; refusals, timeouts, aborts and
 * breaking out are what they say.
 */
import {
  ClientClosedError,
  ClientFrameError,
  ClientRefusedError,
  ClientTimeoutError,
  HISTORY_TIMEOUT_MS,
} from '../../client';
import type { HistoryOptions, HistoryPage, RealtimeClient, RealtimeClientOptions } from '../../client';
import type { fakeWebSocket, FakeSocket } from '../support/stand-ins/fake-websocket';
import {
  history,
  historyAsks,
  joinedAt as joinedOn,
  msg,
  roomClient,
  useFakeSockets,
} from '../support/harnesses/room-client';

let fake: ReturnType<typeof fakeWebSocket>;
useFakeSockets((made) => (fake = made));

const joinedAt = (seq: number, options: Partial<RealtimeClientOptions> = {}) => joinedOn(fake, seq, options);

/** Lets promise callbacks run (the fake clock does not). */
const settled = () =>
  new Promise<void>((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));

/** The history requests sent by history() (with a ref), without the room's own catch-up requests. */
const asks = (socket: FakeSocket = fake.last()) => historyAsks(socket).filter((a) => a.ref !== undefined);
const lastAsk = () => asks().at(-1) as { room: string; after: number; limit: number; ref: string };

/** The answer to the last request, naming its ref: frames numbered `seqs`. */
function answer(latest: number, seqs: number[], extra: { more?: boolean; gap?: boolean } = {}) {
  const frame = {
    ...history(
      'lobby',
      latest,
      seqs.map((n) => msg(n)),
      extra,
    ),
    ref: lastAsk().ref,
  };
  fake.last().receive(frame);
}

/**
 * Reads pages one `next()` at a time; `serve` answers each request as it is sent.
 * Returns the pages' numbers and how each page said more/gap.
 */
async function read(c: RealtimeClient, options: HistoryOptions, serve: (ask: ReturnType<typeof lastAsk>) => void) {
  const pages: HistoryPage[] = [];
  const iterator = c.history('lobby', options);
  for (;;) {
    const next = iterator.next();
    for (let i = 0; i < 20; i++) {
      await settled();
      const ask = asks().at(-1);
      if (ask !== undefined && !served.has(ask.ref as string)) {
        served.add(ask.ref as string);
        serve(ask as ReturnType<typeof lastAsk>);
      }
    }
    const result = await next;
    if (result.done) break;
    pages.push(result.value);
  }
  return pages.map((p) => ({ seqs: p.messages.map((m) => m.seq), more: p.more, gap: p.gap, latest: p.latest }));
}
const served = new Set<string>();
beforeEach(() => served.clear());

/** A room whose kept frames are `first`..`latest`, answering like the service (at most `fit` frames an answer). */
function room(first: number, latest: number, fit = Infinity) {
  return (ask: { after: number; limit: number }) => {
    const from = Math.max(ask.after + 1, first);
    const upTo = Math.min(latest, ask.after + ask.limit, from - 1 + fit);
    const seqs = from <= upTo ? Array.from({ length: upTo - from + 1 }, (_, i) => from + i) : [];
    answer(latest, seqs, {
      more: seqs.length > 0 ? upTo < latest : false,
      gap: from > ask.after + 1 && latest > ask.after,
    });
  };
}

describe('history()', () => {
  it('pages forward from `after`, each request after the last frame given, until `more` is false', async () => {
    const { c } = joinedAt(25);
    const pages = await read(c, { after: 3, limit: 10 }, room(1, 25));
    expect(pages).toEqual([
      { seqs: [4, 5, 6, 7, 8, 9, 10, 11, 12, 13], more: true, gap: false, latest: 25 },
      { seqs: [14, 15, 16, 17, 18, 19, 20, 21, 22, 23], more: true, gap: false, latest: 25 },
      { seqs: [24, 25], more: false, gap: false, latest: 25 },
    ]);
    expect(asks().map(({ after, limit }) => ({ after, limit }))).toEqual([
      { after: 3, limit: 10 },
      { after: 13, limit: 10 },
      { after: 23, limit: 10 },
    ]);
    expect(asks().every((a) => typeof a.ref === 'string')).toBe(true);
  });

  it('goes on after an answer cut at 128 KB (fewer than the limit, and `more`)', async () => {
    const { c } = joinedAt(9);
    const pages = await read(c, { limit: 100 }, room(1, 9, 4));
    expect(pages.map((p) => p.seqs)).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  });

  it('says `gap` on the first page when the oldest frames asked for are no longer kept', async () => {
    const { c } = joinedAt(30);
    const pages = await read(c, { after: 0, limit: 50 }, room(21, 30));
    expect(pages).toEqual([{ seqs: [21, 22, 23, 24, 25, 26, 27, 28, 29, 30], more: false, gap: true, latest: 30 }]);
  });

  it('pages backward from `before`, the newest page first, each in seq order, down to `after`', async () => {
    const { c } = joinedAt(50);
    const pages = await read(c, { before: 31, after: 5, limit: 10 }, room(1, 50));
    expect(pages.map((p) => [p.seqs, p.more])).toEqual([
      [[21, 22, 23, 24, 25, 26, 27, 28, 29, 30], true],
      [[11, 12, 13, 14, 15, 16, 17, 18, 19, 20], true],
      [[6, 7, 8, 9, 10], false],
    ]);
    expect(asks().map(({ after, limit }) => ({ after, limit }))).toEqual([
      { after: 20, limit: 10 },
      { after: 10, limit: 10 },
      { after: 5, limit: 5 },
    ]);
  });

  it('reads back from the last frame with before: Infinity (one request for the room`s last number first)', async () => {
    const { c } = joinedAt(12);
    const pages = await read(c, { before: Infinity, limit: 5 }, room(1, 12));
    expect(pages.map((p) => p.seqs)).toEqual([
      [8, 9, 10, 11, 12],
      [3, 4, 5, 6, 7],
      [1, 2],
    ]);
    expect(asks()[0]).toMatchObject({ after: Number.MAX_SAFE_INTEGER, limit: 1 });
  });

  it('stops backward at the oldest frame kept, with `gap` on that last page', async () => {
    const { c } = joinedAt(40);
    const pages = await read(c, { before: 41, limit: 10 }, room(26, 40));
    expect(pages).toEqual([
      { seqs: [31, 32, 33, 34, 35, 36, 37, 38, 39, 40], more: true, gap: false, latest: 40 },
      { seqs: [26, 27, 28, 29, 30], more: false, gap: true, latest: 40 },
    ]);
  });

  it('completes a backward page cut at 128 KB with the next answers: a page is the whole range it names', async () => {
    const { c } = joinedAt(20);
    const pages = await read(c, { before: 21, limit: 10 }, room(1, 20, 3));
    expect(pages.map((p) => p.seqs)).toEqual([
      [11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ]);
    expect(asks().map((a) => a.after)).toEqual([10, 13, 16, 19, 0, 3, 6, 9]);
  });

  it('starts from the room`s last frame when `before` is beyond it', async () => {
    const { c } = joinedAt(7);
    const pages = await read(c, { before: 1_000, limit: 5 }, room(1, 7));
    expect(pages.map((p) => p.seqs)).toEqual([
      [3, 4, 5, 6, 7],
      [1, 2],
    ]);
  });

  it('fails with ClientRefusedError when the service refuses (not a member), naming its code', async () => {
    const { c } = joinedAt(0);
    const next = c.history('elsewhere').next();
    await settled();
    const ask = asks().at(-1) as { ref: string; room: string };
    expect(ask.room).toBe('elsewhere');
    fake.last().receive({
      type: 'error',
      code: 'not_member',
      message: 'join first',
      action: 'history',
      room: 'elsewhere',
      ref: ask.ref,
    });
    await expect(next).rejects.toBeInstanceOf(ClientRefusedError);
    await expect(next).rejects.toMatchObject({ code: 'not_member' });
  });

  it('fails with ClientTimeoutError when a page is not answered within timeoutMs of being asked', async () => {
    const { c } = joinedAt(0);
    const next = c.history('lobby', { timeoutMs: 2_000 }).next();
    await settled();
    jest.advanceTimersByTime(2_000);
    await expect(next).rejects.toEqual(new ClientTimeoutError('history', 2_000));
    expect(HISTORY_TIMEOUT_MS).toBe(10_000);
  });

  it('asks nothing more once the loop is left (break)', async () => {
    const { c } = joinedAt(30);
    const seen: number[] = [];
    const serve = room(1, 30);
    const loop = (async () => {
      for await (const page of c.history('lobby', { limit: 10 })) {
        seen.push(...page.messages.map((m) => m.seq));
        break;
      }
    })();
    await settled();
    serve(lastAsk());
    await loop;
    await settled();
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(asks()).toHaveLength(1);
  });

  it('fails the page being read with the signal`s reason when aborted', async () => {
    const { c } = joinedAt(0);
    const controller = new AbortController();
    const next = c.history('lobby', { signal: controller.signal }).next();
    await settled();
    controller.abort(new Error('no longer needed'));
    await expect(next).rejects.toThrow('no longer needed');
    // A late answer to it is nobody's, and is not taken for the room's own frames.
    fake.last().receive({ ...history('lobby', 3, [msg(1), msg(2), msg(3)]), ref: asks()[0]?.ref });
    await expect(c.history('lobby', { signal: controller.signal }).next()).rejects.toThrow('no longer needed');
  });

  it("keeps its answers apart from the room's own catch-up: neither is taken for the other", async () => {
    const { c, room: delivered } = joinedAt(10, { reorderWaitMs: 100 });
    const next = c.history('lobby', { after: 0, limit: 3 }).next();
    await settled();
    fake.last().receive(msg(12)); // 11 is missing: the room asks history after 10, without a ref
    jest.advanceTimersByTime(100);
    const catchUp = historyAsks(fake.last()).find((a) => a.ref === undefined);
    expect(catchUp).toMatchObject({ after: 10 });
    fake.last().receive(history('lobby', 12, [msg(11), msg(12)])); // the room's answer
    answer(12, [1, 2, 3], { more: true }); // history()'s answer
    const page = await next;
    expect(page.value?.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(delivered()).toEqual([11, 12]);
  });

  it('waits for the open connection and the room`s join; asks again on the next connection when its own dropped', async () => {
    const { c } = roomClient(fake);
    c.join('lobby');
    const next = c.history('lobby', { limit: 5, timeoutMs: 60_000 }).next();
    c.connect();
    fake.last().open();
    await settled();
    expect(asks()).toEqual([]);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 4 });
    expect(asks()).toHaveLength(1);
    fake.last().drop();
    jest.advanceTimersByTime(500); // the first retry's delay (at most 500 ms)
    fake.last().open();
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 4 });
    expect(asks()).toEqual([expect.objectContaining({ after: 0, limit: 5 })]);
    answer(4, [1, 2, 3, 4]);
    expect((await next).value?.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it('fails a page still unanswered at close() with ClientClosedError, and refuses a new one', async () => {
    const { c } = joinedAt(0);
    const next = c.history('lobby').next();
    await settled();
    c.close();
    await expect(next).rejects.toBeInstanceOf(ClientClosedError);
    expect(() => c.history('lobby')).toThrow(ClientClosedError);
  });

  it('fails the next page of a loop begun before close() with ClientClosedError, asking nothing', async () => {
    const { c } = joinedAt(10);
    const pages = c.history('lobby', { limit: 5 });
    const first = pages.next();
    await settled();
    answer(10, [1, 2, 3, 4, 5], { more: true });
    expect((await first).value?.messages).toHaveLength(5);
    c.close();
    await expect(pages.next()).rejects.toBeInstanceOf(ClientClosedError);
    expect(asks()).toHaveLength(1);
  });

  it('throws RangeError at once for options out of range', () => {
    const { c } = joinedAt(0);
    for (const options of [
      { limit: 0 },
      { limit: 1_001 },
      { after: -1 },
      { after: 1.5 },
      { before: 0 },
      { before: NaN },
      { timeoutMs: -1 },
    ]) {
      expect(() => c.history('lobby', options)).toThrow(RangeError);
    }
    expect(asks()).toEqual([]);
  });

  it('fails with ClientFrameError on an answer that says `more` and gives no frame (asking again would loop)', async () => {
    const { c } = joinedAt(5);
    const next = c.history('lobby').next();
    await settled();
    answer(5, [], { more: true });
    await expect(next).rejects.toBeInstanceOf(ClientFrameError);
  });
});
