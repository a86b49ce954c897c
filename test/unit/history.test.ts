/**
 * Message identity, room numbers and the `history` action, through the real message
 * handlers with a store in memory (the adapters' numbering is the contract suite's).
 */
import { handleMessage } from '../../src/chat/actions';
import type { Outbox, Session } from '../../src/chat/actions';
import { historyFrame, MESSAGE_ID_PATTERN, ROOM_FRAME_RESERVE } from '../../src/chat/history';
import { publishFromServer } from '../../src/chat/push';
import { DEFAULT_HISTORY, historyWindow, readHistorySettings } from '../../src/config';
import { MAX_DATA_BYTES, MAX_MESSAGE_BYTES } from '../../src/chat/protocol';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { chatSession } from '../support/harnesses/session';
import { apiGatewayId } from '../support/harnesses/events';

const ALICE = apiGatewayId('alice');
const BOB = apiGatewayId('bob');
const CAROL = apiGatewayId('carol');

let store: MemoryStore;
let posted: { to: string; text: string }[];
const decoder = new TextDecoder();
const outbox: Outbox = { send: async (to, data) => void posted.push({ to, text: decoder.decode(data) }) };

function session(connectionId: string, history = DEFAULT_HISTORY, subject: string | null = null): Session {
  return chatSession({
    store,
    outbox,
    connectionId,
    subject,
    history,
    concurrency: 4,
    listPageSize: 10,
    presenceMaxMembers: 0,
  });
}

const say = (who: string, body: unknown, history = DEFAULT_HISTORY, subject: string | null = null) =>
  handleMessage(session(who, history, subject), JSON.stringify(body));
/** A subject JSON escapes to 6 bytes a character: envelope enough for the room bound to decide, not the data bound. */
const LONG_SUBJECT = '\u0001'.repeat(200);
/** The most `data` characters a room message from LONG_SUBJECT may have: measured on an empty one. */
function roomDataLimit(): number {
  const frame = JSON.stringify({
    type: 'message',
    id: 'x'.repeat(16),
    room: 'lobby',
    from: LONG_SUBJECT,
    connectionId: BOB,
    origin: 'client',
    sentAt: Date.now(),
    data: '',
  });
  return MAX_MESSAGE_BYTES - ROOM_FRAME_RESERVE - Buffer.byteLength(frame);
}
const framesTo = (who: string) => posted.filter((p) => p.to === who).map((p) => JSON.parse(p.text));
const lastTo = (who: string) => framesTo(who).at(-1);

beforeEach(async () => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  store = memoryStore();
  posted = [];
  for (const [i, id] of [ALICE, BOB, CAROL].entries())
    await store.add({ connectionId: id, connectedAt: i, subject: null });
  for (const id of [ALICE, BOB]) await store.join(id, 'lobby', 50);
});

afterEach(() => jest.restoreAllMocks());

describe('ids and room numbers', () => {
  it('numbers a room by 1 per message, and the summary names the id and number it reports on', async () => {
    for (let n = 0; n < 3; n++) await say(BOB, { action: 'publish', room: 'lobby', data: n });
    const got = framesTo(ALICE);
    expect(got.map((f) => [f.seq, f.data])).toEqual([
      [1, 0],
      [2, 1],
      [3, 2],
    ]);
    const summaries = framesTo(BOB).filter((f) => f.type === 'delivery');
    expect(summaries.map((s) => [s.id, s.seq])).toEqual(got.map((f) => [f.id, f.seq]));
    expect(new Set(got.map((f) => f.id)).size).toBe(3);
    // What `npm run smoke` holds a deployed service's ids to.
    for (const frame of got) expect(frame.id).toMatch(MESSAGE_ID_PATTERN);
  });

  it('posts one message with the same bytes to every member, so a repeat carries the same id', async () => {
    await store.join(CAROL, 'lobby', 50);
    await say(BOB, { action: 'publish', room: 'lobby', data: 'hi' });
    const texts = posted.filter((p) => p.text.includes('"type":"message"')).map((p) => p.text);
    expect(texts).toHaveLength(3);
    expect(new Set(texts).size).toBe(1);
  });

  it('gives server publishes to a room the next number, and direct messages and broadcasts an id but no number', async () => {
    await say(BOB, { action: 'publish', room: 'lobby', data: 1 });
    const summary = await publishFromServer(session(BOB), { room: 'lobby', data: 2 });
    expect(summary).toMatchObject({ seq: 2, id: expect.any(String) });
    await say(BOB, { action: 'sendmessage', data: 3 });
    await say(BOB, { action: 'send', connectionId: ALICE, data: 4 });
    const [, , broadcast, direct] = framesTo(ALICE);
    expect(broadcast).toMatchObject({ data: 3, id: expect.any(String) });
    expect(direct).toMatchObject({ data: 4, id: expect.any(String) });
    expect(broadcast.seq).toBeUndefined();
    expect(direct.seq).toBeUndefined();
    expect(store.history.get('lobby')).toHaveLength(2);
  });

  it('refuses a room message too large for a history answer, and it takes no number', async () => {
    const data = 'x'.repeat(roomDataLimit() + 1);
    expect(data.length).toBeLessThan(MAX_DATA_BYTES);
    expect(await say(BOB, { action: 'publish', room: 'lobby', data }, DEFAULT_HISTORY, LONG_SUBJECT)).toBe(413);
    expect(lastTo(BOB)).toMatchObject({ type: 'error', code: 'payload_too_large' });
    await say(BOB, { action: 'publish', room: 'lobby', data: 'small' });
    expect(lastTo(ALICE)).toMatchObject({ seq: 1, data: 'small' });
  });
});

describe('history', () => {
  it('answers the frames after a number, in order, exactly as first delivered', async () => {
    for (let n = 1; n <= 5; n++) await say(BOB, { action: 'publish', room: 'lobby', data: n });
    const delivered = posted.filter((p) => p.to === ALICE).map((p) => p.text);
    posted = [];
    expect(await say(ALICE, { action: 'history', room: 'lobby', after: 2 })).toBe(200);
    const answer = lastTo(ALICE);
    expect(answer).toEqual({
      type: 'history',
      room: 'lobby',
      latest: 5,
      messages: delivered.slice(2).map((text) => JSON.parse(text)),
      more: false,
      gap: false,
    });
    // the very text: same id, same fields
    expect(posted[0]?.text).toContain(delivered[2] as string);
  });

  it('reads from the oldest kept without `after`, and answers an empty page for a room with none', async () => {
    await say(BOB, { action: 'publish', room: 'lobby', data: 1 });
    await say(ALICE, { action: 'history', room: 'lobby' });
    expect(lastTo(ALICE)).toMatchObject({ latest: 1, messages: [{ seq: 1 }], more: false, gap: false });
    await store.join(ALICE, 'quiet', 50);
    await say(ALICE, { action: 'history', room: 'quiet', after: 0 });
    expect(lastTo(ALICE)).toEqual({ type: 'history', room: 'quiet', latest: 0, messages: [], more: false, gap: false });
  });

  it('needs membership of the room', async () => {
    await say(BOB, { action: 'publish', room: 'lobby', data: 'secret' });
    expect(await say(CAROL, { action: 'history', room: 'lobby' })).toBe(400);
    expect(lastTo(CAROL)).toMatchObject({ type: 'error', code: 'not_member' });
    expect(JSON.stringify(framesTo(CAROL))).not.toContain('secret');
  });

  it('stops at `limit` and says there is more; the next request goes on from there', async () => {
    for (let n = 1; n <= 5; n++) await say(BOB, { action: 'publish', room: 'lobby', data: n });
    await say(ALICE, { action: 'history', room: 'lobby', after: 0, limit: 2 });
    expect(lastTo(ALICE)).toMatchObject({ messages: [{ seq: 1 }, { seq: 2 }], more: true, gap: false });
    await say(ALICE, { action: 'history', room: 'lobby', after: 2, limit: 10 });
    expect(lastTo(ALICE)).toMatchObject({ messages: [{ seq: 3 }, { seq: 4 }, { seq: 5 }], more: false });
  });

  it('answers at most 128 KB, with `more` when messages did not fit', async () => {
    const data = 'y'.repeat(40_000);
    for (let n = 0; n < 5; n++) await say(BOB, { action: 'publish', room: 'lobby', data });
    posted = [];
    await say(ALICE, { action: 'history', room: 'lobby', limit: 100 });
    const text = posted[0]?.text as string;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(JSON.parse(text)).toMatchObject({ more: true, gap: false });
    expect(JSON.parse(text).messages).toHaveLength(3);
  });

  it('fits the largest room message accepted into one answer', async () => {
    const data = 'z'.repeat(roomDataLimit());
    expect(await say(BOB, { action: 'publish', room: 'lobby', data }, DEFAULT_HISTORY, LONG_SUBJECT)).toBe(200);
    posted = [];
    await say(ALICE, { action: 'history', room: 'lobby' });
    expect(Buffer.byteLength(posted[0]?.text as string)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(JSON.parse(posted[0]?.text as string)).toMatchObject({ messages: [{ seq: 1 }], more: false });
  });

  it('marks a gap when messages after `after` are no longer kept (count bound, then the trim)', async () => {
    const small = { ...DEFAULT_HISTORY, maxPerRoom: 3 };
    for (let n = 1; n <= 6; n++) await say(BOB, { action: 'publish', room: 'lobby', data: n }, small);
    await say(ALICE, { action: 'history', room: 'lobby', after: 1 }, small);
    expect(lastTo(ALICE)).toMatchObject({ latest: 6, messages: [{ seq: 4 }, { seq: 5 }, { seq: 6 }], gap: true });
    await say(ALICE, { action: 'history', room: 'lobby', after: 3 }, small);
    expect(lastTo(ALICE)).toMatchObject({ gap: false });
    expect(await store.trimHistory(historyWindow(small))).toBe(3);
    await say(ALICE, { action: 'history', room: 'lobby', after: 6 }, small);
    expect(lastTo(ALICE)).toMatchObject({ latest: 6, messages: [], gap: false, more: false });
  });

  it('marks a gap when every message after `after` aged out', async () => {
    await say(BOB, { action: 'publish', room: 'lobby', data: 1 });
    const expired = { ...DEFAULT_HISTORY, ttlMs: -1_000 }; // everything is older than the bound
    await say(ALICE, { action: 'history', room: 'lobby', after: 0 }, expired);
    expect(lastTo(ALICE)).toMatchObject({ latest: 1, messages: [], gap: true, more: false });
  });

  it.each([
    [{ after: -1 }, 'after must be at least 0'],
    [{ after: 1.5 }, 'after must be a whole number'],
    [{ after: '3' }, 'after must be a number'],
    [{ limit: 0 }, 'limit must be at least 1'],
    [{ limit: 1001 }, 'limit must be at most 1000'],
  ])('refuses %j with invalid_message on the same connection', async (extra, text) => {
    expect(await say(ALICE, { action: 'history', room: 'lobby', ...extra })).toBe(400);
    expect(lastTo(ALICE)).toMatchObject({ type: 'error', code: 'invalid_message' });
    expect(lastTo(ALICE).message).toContain(text);
  });

  it('builds the frame from kept text without parsing it', () => {
    const page = { latest: 2, messages: [{ seq: 2, id: 'b', sentAt: 1, body: '{"type":"message","id":"b"}' }] };
    expect(JSON.parse(historyFrame('r', 0, page).text)).toEqual({
      type: 'history',
      room: 'r',
      latest: 2,
      messages: [{ seq: 2, type: 'message', id: 'b' }],
      more: false,
      gap: true,
    });
  });
});

describe('history settings', () => {
  it('defaults to a day and 1,000 messages a room', () => {
    expect(readHistorySettings({})).toEqual({ ttlMs: 86_400_000, maxPerRoom: 1_000 });
  });

  it('reads ROOM_HISTORY_TTL as a duration and ROOM_HISTORY_MAX as a count', () => {
    expect(readHistorySettings({ ROOM_HISTORY_TTL: '2h', ROOM_HISTORY_MAX: '50' })).toEqual({
      ttlMs: 7_200_000,
      maxPerRoom: 50,
    });
  });

  it.each([
    [{ ROOM_HISTORY_TTL: 'soon' }, /ROOM_HISTORY_TTL/],
    [{ ROOM_HISTORY_TTL: '10s' }, /between 1m and 30d/],
    [{ ROOM_HISTORY_TTL: '31d' }, /between 1m and 30d/],
    [{ ROOM_HISTORY_MAX: '0' }, /ROOM_HISTORY_MAX/],
    [{ ROOM_HISTORY_MAX: 'many' }, /ROOM_HISTORY_MAX/],
  ])('refuses %j', (env, message) => {
    expect(() => readHistorySettings(env)).toThrow(message);
  });
});
