/**
 * What the rights check costs the message path (`npm run bench -- --only rights`): a member's
 * `publish` to a room of 10, through the real `handleMessage` and the embedded store (in
 * memory), posting to an outbox that does nothing, so that the time is the path's own CPU.
 * Rows: auth off (every right, membership checked), auth on with a small claim and with the
 * largest one that fits the authorizer's 8 KB, the rights decoded from the context as the
 * handler does, and the check alone. Store reads per message are counted on the store.
 *
 * `timeMessagePath` takes the `handleMessage` to time, so that the same loop can time a
 * checkout without rights (the "before" figure in BENCHMARKS.md).
 */
import { performance } from 'node:perf_hooks';
import { ALL_ROOMS, decodeRights, encodeRights, hasRight, parseRights } from '../../src/auth/rooms';
import type { RoomRights } from '../../src/auth/rooms';
import type { ConnectionStore } from '../../src/data';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { median, round } from './stats';
import { chatSession } from '../../test/support/harnesses/session';

export interface RightsRow {
  case: string;
  messages: number;
  /** Median of the repetitions' per-message means. */
  usPerMessage: number;
  /** Store calls per message (end() excluded). */
  storeCalls: string;
  status: number;
}

type Handle = (session: never, body: unknown) => Promise<number>;

const ROOM = 'team-7-ops';
const SENDER = 'sender-0';

/** A store in memory with one room of 10 members (the sender one of them), its calls counted. */
export async function roomStore(): Promise<{ store: ConnectionStore; calls: Map<string, number> }> {
  const inner = new EmbeddedConnectionStore({ kind: 'embedded', file: ':memory:', tablePrefix: 'bench_' });
  for (let i = 0; i < 10; i++) {
    await inner.add({ connectionId: `sender-${i}`, connectedAt: 1_000 + i, subject: `user-${i}` });
    await inner.join(`sender-${i}`, ROOM, 50);
  }
  await inner.add({ connectionId: 'outsider', connectedAt: 2_000, subject: 'eve' });
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function' || key === 'end') return value;
      return (...args: unknown[]) => {
        calls.set(String(key), (calls.get(String(key)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as ConnectionStore;
  return { store, calls };
}

/** Per-message µs (median over repetitions of the mean), after a warm-up of the same size. */
export async function timeMessagePath(
  handle: Handle,
  session: (index: number) => object,
  body: string,
  messages: number,
  repetitions: number,
): Promise<{ usPerMessage: number; status: number }> {
  let status = 0;
  const run = async () => {
    const started = performance.now();
    for (let i = 0; i < messages; i++) status = await handle(session(i) as never, body);
    return ((performance.now() - started) * 1000) / messages;
  };
  await run();
  const means: number[] = [];
  for (let r = 0; r < repetitions; r++) means.push(await run());
  return { usPerMessage: round(median(means), 1), status };
}

/** The largest claim of 15-character prefixes that fits the authorizer's answer (about 140). */
function largeRights(): RoomRights {
  const entries: [string, string[]][] = [];
  for (let i = 0; i < 139; i++) entries.push([`team-${String(i).padStart(3, '0')}-room*`, ['join', 'publish']]);
  entries.push(['team-7-*', ['join', 'publish', 'presence']]);
  return parseRights(Object.fromEntries(entries));
}

export async function benchRights(options: { smoke: boolean }): Promise<RightsRow[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { handleMessage } = require('../../src/chat/actions') as typeof import('../../src/chat/actions');
  const messages = options.smoke ? 200 : 5_000;
  const repetitions = options.smoke ? 1 : 5;
  const body = JSON.stringify({ action: 'publish', room: ROOM, data: { text: 'bench' } });
  const rows: RightsRow[] = [];
  const cases: [string, string | null, string | undefined, string][] = [
    ['auth off: every right, membership checked', null, undefined, SENDER],
    ['auth on: claim {"team-7-*":[…],"lobby":[…]}', 'user-0', encodeRights(parseRights(['team-7-*', 'lobby'])), SENDER],
    ['auth on: the largest claim that fits (140 patterns)', 'user-0', encodeRights(largeRights()), SENDER],
    ['auth on: a non-member, refused (forbidden)', 'eve', encodeRights(ALL_ROOMS), 'outsider'],
  ];
  for (const [name, subject, context, connectionId] of cases) {
    const { store, calls } = await roomStore();
    const outbox = { send: async () => undefined };
    const session = () =>
      chatSession({
        store,
        outbox,
        connectionId,
        subject,
        // as src/handler.ts builds it: decoded from the authorizer context on every message
        rooms: subject === null ? ALL_ROOMS : decodeRights(context),
      });
    const { usPerMessage, status } = await timeMessagePath(
      handleMessage as Handle,
      session,
      body,
      messages,
      repetitions,
    );
    const total = messages * (repetitions + 1);
    const perMessage = [...calls].map(([call, count]) => `${call} ×${round(count / total, 2)}`).join(', ');
    rows.push({ case: name, messages, usPerMessage, storeCalls: perMessage, status });
    await store.close();
  }
  // The check alone: decode (a cache hit, as for a warm connection) and match, on the large claim.
  const context = encodeRights(largeRights());
  const loops = options.smoke ? 10_000 : 200_000;
  const started = performance.now();
  let granted = 0;
  for (let i = 0; i < loops; i++) if (hasRight(decodeRights(context), ROOM, 'publish')) granted++;
  rows.push({
    case: 'the check alone (decode + most specific of 140 patterns)',
    messages: loops,
    usPerMessage: round(((performance.now() - started) * 1000) / loops, 2),
    storeCalls: '–',
    status: granted === loops ? 200 : 403,
  });
  return rows;
}
