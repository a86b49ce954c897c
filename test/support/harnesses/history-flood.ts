/**
 * A flood of `history` requests for a room of large messages, against a running service, while
 * a bystander publishes in another room: the end-to-end test asserts on it, the benchmark
 * (`npm run bench -- --only history`) reports it with the service's memory.
 */
import type { ConnectionStore } from '../../../src/data';
import { TestClient } from './client';
import type { Received } from './client';

export interface FloodPlan {
  /** The room whose history is asked for, seeded with seedLargeHistory. */
  room: string;
  /** Connections asking, each a member of `room`. */
  flooders: number;
  /** `history` requests each connection sends at once (after 0, limit 1,000). */
  requestsEach: number;
  /** How long a reply may take before the flood counts as stuck. */
  replyTimeoutMs: number;
}

export interface FloodOutcome {
  /** One reply per request: `history` frames, or what came instead (error frames, offline's throttle frame). */
  replies: Received[];
  /** The largest reply, in bytes of JSON text. */
  largestReplyBytes: number;
  /** From the first request sent to the last reply. */
  floodMs: number;
  /** The bystander's publishes (to its delivery summary), one after another, before the flood. */
  atRestMs: number[];
  /** The same, one after another while the flood lasted (at least one). */
  duringMs: number[];
  /** The bystander's publishes answered otherwise than with their delivery summary (refused, failed). */
  bystanderRefused: Received[];
}

/** `count` kept messages of `dataBytes` of data each in `room`, written straight into the store. */
export async function seedLargeHistory(
  store: ConnectionStore,
  room: string,
  count: number,
  dataBytes: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const sentAt = Date.now();
    const frame = { type: 'message', id: `seed${i}`, room, from: null, origin: 'server', sentAt };
    await store.appendToRoom(room, {
      id: `seed${i}`,
      sentAt,
      body: JSON.stringify({ ...frame, data: 'x'.repeat(dataBytes) }),
    });
  }
}

async function joined(url: string, room: string): Promise<TestClient> {
  const client = await TestClient.connect(url, 30_000);
  await client.request({ action: 'join', room }, 'joined');
  return client;
}

/** A reply: the answer, an error frame, or offline's frame (no `type`) for a call it throttled. */
const replyTo = (type: string) => (m: Received) => m.type === type || m.type === 'error' || !('type' in m);

export async function historyFlood(url: string, plan: FloodPlan): Promise<FloodOutcome> {
  const clients: TestClient[] = [];
  try {
    const flooders = await Promise.all(Array.from({ length: plan.flooders }, () => joined(url, plan.room)));
    clients.push(...flooders);
    const bystander = await joined(url, `${plan.room}-elsewhere`);
    clients.push(bystander);
    const bystanderRefused: Received[] = [];
    /** Milliseconds from a publish to its reply, waited for as long as a flood reply. */
    const publish = async () => {
      const started = performance.now();
      const reply = bystander.next(replyTo('delivery'), plan.replyTimeoutMs);
      bystander.send({ action: 'publish', room: `${plan.room}-elsewhere`, data: 'still here' });
      if ((await reply).type !== 'delivery') bystanderRefused.push(await reply);
      return performance.now() - started;
    };
    const atRestMs: number[] = [];
    for (let i = 0; i < 5; i++) atRestMs.push(await publish());

    const started = performance.now();
    const replying = flooders.map(async (flooder) => {
      for (let i = 0; i < plan.requestsEach; i++) {
        flooder.send({ action: 'history', room: plan.room, after: 0, limit: 1000 });
      }
      const got: Received[] = [];
      for (let i = 0; i < plan.requestsEach; i++) got.push(await flooder.next(replyTo('history'), plan.replyTimeoutMs));
      return got;
    });
    let flooding = true;
    let floodMs = 0;
    const all = Promise.all(replying).finally(() => {
      flooding = false;
      floodMs = performance.now() - started;
    });
    const duringMs: number[] = [];
    while (flooding || duringMs.length === 0) duringMs.push(await publish());
    const replies = (await all).flat();
    const largestReplyBytes = Math.max(...replies.map((reply) => Buffer.byteLength(JSON.stringify(reply))));
    return { replies, largestReplyBytes, floodMs, atRestMs, duringMs, bystanderRefused };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
}
