/**
 * A request's `ref` (src/chat/protocol.ts): a client's own name for a publish, sendmessage,
 * send or history request, echoed in its answer (the delivery summary, the history frame)
 * and in an error frame about it, refused or failed, so that a client with several requests
 * out tells the answers apart. Driven through the real message handlers, a store in memory.
 */
import { frameProblem } from '../../client/frames';
import { handleMessage, replyFailure } from '../../src/chat/actions';
import type { Session } from '../../src/chat/actions';
import { planDelivery } from '../../src/chat/fanout/shards';
import { MAX_ATTEMPTS, runShard } from '../../src/chat/fanout/shard-runner';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import { MAX_REF_LENGTH, requestRef } from '../../src/chat/protocol';
import { StoreError } from '../../src/errors';
import { ALICE, aliceAndBob, BOB } from '../support/harnesses/session';

const world = aliceAndBob();
const session = world.session;

/** Sends one request as `who` and returns what `who` was answered (frames parsed), in order. */
async function ask(who: Session, body: unknown): Promise<Record<string, unknown>[]> {
  const mark = world.posted.length;
  await handleMessage(who, typeof body === 'string' ? body : JSON.stringify(body));
  return world.posted
    .slice(mark)
    .filter((p) => p.to === who.connectionId)
    .map((p) => JSON.parse(p.text) as Record<string, unknown>);
}

const last = (frames: Record<string, unknown>[]) => frames.at(-1) as Record<string, unknown>;

describe("a request's ref", () => {
  it("is echoed in a publish's delivery summary, beside the message's id and seq", async () => {
    const alice = session(ALICE);
    await ask(alice, { action: 'join', room: 'lobby' });
    const answer = await ask(alice, { action: 'publish', room: 'lobby', data: 'one', ref: 'p-1' });
    const echo = answer.find((f) => f.type === 'message') as Record<string, unknown>;
    expect(last(answer)).toMatchObject({ type: 'delivery', room: 'lobby', ref: 'p-1', id: echo.id, seq: 1 });
    // Only the sender's answer names it: the message the room hears does not.
    expect(echo).not.toHaveProperty('ref');
    expect(frameProblem(last(answer))).toBeUndefined();
  });

  it('is echoed in the summaries of sendmessage and of both kinds of send', async () => {
    const bob = session(BOB, 'bob');
    expect(last(await ask(bob, { action: 'sendmessage', data: 1, ref: 's-1' }))).toMatchObject({
      type: 'delivery',
      ref: 's-1',
    });
    expect(last(await ask(bob, { action: 'send', connectionId: BOB, data: 2, ref: 's-2' }))).toMatchObject({
      type: 'delivery',
      to: BOB,
      ref: 's-2',
    });
    expect(last(await ask(bob, { action: 'send', user: 'alice', data: 3, ref: 's-3' }))).toMatchObject({
      type: 'delivery',
      user: 'alice',
      ref: 's-3',
    });
  });

  it('leads the history answer, which the client reads as a history frame', async () => {
    const alice = session(ALICE);
    await ask(alice, { action: 'join', room: 'lobby' });
    await ask(alice, { action: 'publish', room: 'lobby', data: 'one' });
    const [answer] = await ask(alice, { action: 'history', room: 'lobby', after: 0, ref: 'h"1\\' });
    expect(answer).toMatchObject({ type: 'history', ref: 'h"1\\', latest: 1, more: false, gap: false });
    expect(frameProblem(answer)).toBeUndefined();
    expect(world.posted.at(-1)?.text.startsWith('{"ref":"h\\"1\\\\","type":"history"')).toBe(true);
  });

  it('is absent from an answer to a request that gave none', async () => {
    const alice = session(ALICE);
    await ask(alice, { action: 'join', room: 'lobby' });
    expect(last(await ask(alice, { action: 'publish', room: 'lobby', data: 'x' }))).not.toHaveProperty('ref');
    expect(last(await ask(alice, { action: 'history', room: 'lobby' }))).not.toHaveProperty('ref');
  });

  it('is named by the error frame of a request refused after it parsed (not a member)', async () => {
    const answer = await ask(session(ALICE), { action: 'publish', room: 'lobby', data: 'x', ref: 'p-2' });
    expect(answer).toEqual([
      expect.objectContaining({ type: 'error', code: 'forbidden', action: 'publish', room: 'lobby', ref: 'p-2' }),
    ]);
    const history = await ask(session(ALICE), { action: 'history', room: 'lobby', ref: 'h-2' });
    expect(history).toEqual([expect.objectContaining({ type: 'error', code: 'not_member', ref: 'h-2' })]);
  });

  it('is named by the error frame of a request refused before it parsed (data too large, a bad field)', async () => {
    const big = await ask(session(ALICE), { action: 'publish', room: 'lobby', data: 'x'.repeat(130_100), ref: 'p-3' });
    expect(big).toEqual([expect.objectContaining({ type: 'error', code: 'payload_too_large', ref: 'p-3' })]);
    const bad = await ask(session(ALICE), { action: 'history', room: 'lobby', limit: 0, ref: 'h-3' });
    expect(bad).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_message', ref: 'h-3' })]);
  });

  it('is ignored by the actions that take none (join, members, list, ping), whatever it is', async () => {
    const alice = session(ALICE);
    expect(await ask(alice, { action: 'join', room: 'lobby', ref: 5 })).toEqual([
      { type: 'joined', room: 'lobby', seq: 0 },
    ]);
    expect(last(await ask(alice, { action: 'ping', ref: 'x' }))).toEqual({ type: 'pong', at: expect.any(Number) });
  });

  it('must be a string of 1 to 64 characters: anything else is refused, and not echoed', async () => {
    for (const ref of [7, '', 'r'.repeat(MAX_REF_LENGTH + 1), null]) {
      const [answer] = await ask(session(ALICE), { action: 'sendmessage', data: 1, ref });
      expect(answer).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(answer?.message).toContain('ref');
      expect(answer).not.toHaveProperty('ref');
    }
    expect(last(await ask(session(ALICE), { action: 'sendmessage', data: 1, ref: 'r'.repeat(64) }))).toMatchObject({
      ref: 'r'.repeat(64),
    });
  });

  it("is named by the failure reply when the service fails (the store down), read from the message's body", async () => {
    const body = JSON.stringify({ action: 'publish', room: 'lobby', data: 'x', ref: 'p-4' });
    await replyFailure(world.outbox, ALICE, new StoreError('down', 'roomsOf'), 1_000, body);
    expect(world.posted[0]?.frame).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.any(String),
      ref: 'p-4',
    });
  });

  it('is read from a body only when it is a JSON object within the limits with a valid ref', () => {
    expect(requestRef('{"action":"publish","ref":"a"}')).toBe('a');
    expect(requestRef('{"ref":5}')).toBeUndefined();
    expect(requestRef('{"ref":"a"')).toBeUndefined();
    expect(requestRef('"a"')).toBeUndefined();
    expect(requestRef(new Uint8Array([123, 125]))).toBeUndefined();
    expect(requestRef(`{"ref":"a","deep":${'['.repeat(100)}${']'.repeat(100)}}`)).toBeUndefined();
    expect(requestRef(`{"ref":"a","data":"${'x'.repeat(132_000)}"}`)).toBeUndefined();
  });

  it('is echoed by both summaries of a delivery in shards, the queued one and the final one', async () => {
    for (let i = 0; i < 7; i++) {
      const id = `c${i}`;
      world.store.rows.set(id, { connectionId: id, connectedAt: i, subject: null });
      world.store.rooms.set('big', (world.store.rooms.get('big') ?? new Set()).add(id));
    }
    const events: ShardEvent[] = [];
    const bytes = new TextEncoder().encode('{"type":"message","data":"hi"}');
    const plan = await planDelivery(world.store, { size: 3, invoke: async (e) => void events.push(e) }, 'big', bytes, {
      connectionId: 'sender',
      id: 'm1',
      seq: 9,
      ref: 'p-5',
    });
    if (plan.kind !== 'queued') throw new Error('expected shards');
    await plan.handOver();
    expect(plan.queued).toMatchObject({ state: 'queued', id: 'm1', seq: 9, ref: 'p-5' });
    const summaries: unknown[] = [];
    const run = {
      store: world.store,
      send: async (to: string, data: Uint8Array) =>
        void (to === 'sender' && summaries.push(JSON.parse(new TextDecoder().decode(data)))),
      concurrency: 4,
      deadline: Date.now() + 60_000,
      maxRate: 1_000_000,
      retried: (attempts: number) => attempts < MAX_ATTEMPTS,
      pageSize: 3,
    };
    for (const event of events) await runShard(run, event);
    expect(summaries).toEqual([expect.objectContaining({ state: 'done', id: 'm1', seq: 9, ref: 'p-5' })]);
  });
});
