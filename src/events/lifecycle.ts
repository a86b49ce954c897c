/**
 * When each lifecycle event is emitted (docs/events.md): a connection opens or closes, a user's
 * first connection joins a room or its last one leaves it, a room gets its first member or loses
 * its last. Departures are debounced: `member.left` and `room.vacated` wait EVENTS_DEBOUNCE_MS in
 * the store (./user-presence.ts), and a return within it takes the departure back, so a quick
 * reconnect emits neither the leave nor a second arrival. A departure whose waiter did not live
 * to claim it is emitted by the sweep (`emitStaleDepartures`).
 */
import type { ConnectionStore, CountedJoin, Departure } from '../data';
import { ROOM_KEY } from '../store/user-presence';
import { log } from '../log';
import { emit } from './emitter';
export { emit } from './emitter';
import { departuresOf, queueDepartures, queued } from './departures-queue';
import { eventSettings } from './settings';
import { lifecycleEvent, userOf } from './types';
import type { CloseReason, LifecycleEvent } from './types';

export interface Who {
  connectionId: string;
  subject: string | null;
}

/** What the events of one route need: the store, and when its work must end. */
export interface EventCourier {
  store: Pick<ConnectionStore, 'tally' | 'markDeparture' | 'claimDeparture' | 'claimDepartures' | 'claimReturn'>;
  deadline: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function opened(who: Who, at?: number): LifecycleEvent {
  return lifecycleEvent('connection.opened', eventSettings().stage, who, at === undefined ? {} : { at });
}

export function closed(who: Who, reason: CloseReason): LifecycleEvent {
  return lifecycleEvent('connection.closed', eventSettings().stage, who, { reason });
}

/**
 * After a join that added a membership: `room.occupied` for the room's first member and
 * `member.joined` for the user's first connection, unless each is a return within the debounce.
 * `counted`: the join's own tally and the returns it took back (the store's joinCounted), so
 * nothing more is read; without them (a join settled after a lost answer), they are read here.
 */
export async function arrivalEvents(
  courier: EventCourier,
  room: string,
  who: Who,
  seq?: number,
  counted?: Pick<CountedJoin, 'tally' | 'returned'>,
) {
  const { stage } = eventSettings();
  const tally = counted?.tally ?? (await courier.store.tally(room, who));
  const returned = async (key: string, taken: boolean | undefined) =>
    counted?.returned === undefined ? courier.store.claimReturn(room, key) : taken === true;
  const events: LifecycleEvent[] = [];
  const extra = seq === undefined ? { room } : { room, seq };
  if (tally.room === 1 && !(await returned(ROOM_KEY, counted?.returned?.room))) {
    events.push(lifecycleEvent('room.occupied', stage, who, extra));
  }
  if (tally.user === 1 && !(await returned(userOf(who), counted?.returned?.user))) {
    events.push(lifecycleEvent('member.joined', stage, who, extra));
  }
  return events;
}

/**
 * After a membership went (a leave, a close): records the user's departure when it was its
 * last connection there, and the room's when it was the last member. Returned for `settle`.
 */
export async function markDepartures(courier: EventCourier, room: string, who: Who): Promise<Departure[]> {
  const tally = await courier.store.tally(room, who);
  const at = Date.now();
  const departures: Departure[] = [];
  if (tally.user === 0) departures.push({ room, user: userOf(who), at, ...who });
  if (tally.room === 0) departures.push({ room, user: ROOM_KEY, at, ...who });
  for (const departure of departures) await courier.store.markDeparture(departure);
  return departures;
}

/** The event a departure stands for: `member.left`, or `room.vacated` for the room's own key. */
export function departureEvent(departure: Departure): LifecycleEvent {
  const type = departure.user === ROOM_KEY ? 'room.vacated' : 'member.left';
  const who = { connectionId: departure.connectionId, subject: departure.subject };
  return lifecycleEvent(type, eventSettings().stage, who, { room: departure.room, at: departure.at });
}

/**
 * Waits out the debounce (when the route's deadline allows it), then emits each departure that
 * no return took back. One the deadline leaves no time for stays in the store for the sweep.
 */
export async function settleDepartures(
  courier: EventCourier,
  departures: readonly Departure[],
  debounceMs = eventSettings().debounceMs,
): Promise<void> {
  if (departures.length === 0) return;
  const due = Math.max(...departures.map((departure) => departure.at)) + debounceMs;
  // In AWS the debounce is waited out in the departures queue, not here (./departures-queue.ts).
  if (queued()) {
    await queueDepartures(departures, due, courier.deadline);
    return;
  }
  if (due > courier.deadline) {
    log.info('departures left for the sweep: no time to wait out the debounce', { departures: departures.length });
    return;
  }
  if (due > Date.now()) await sleep(due - Date.now());
  await emitClaimed(courier.store, departures, courier.deadline);
}

/**
 * Claims the departures no return took back, and emits them; resolves with how many. Members
 * before rooms: the user left, then the room was empty. One claim a room (a leave's user and
 * room together): the events' only round trip after the route's answer.
 */
export async function emitClaimed(
  store: Pick<ConnectionStore, 'claimDepartures'>,
  departures: readonly Departure[],
  deadline: number,
): Promise<number> {
  const ordered = [...departures].sort((a, b) => Number(a.user === ROOM_KEY) - Number(b.user === ROOM_KEY));
  const claimed = await store.claimDepartures(ordered);
  await emit(claimed.map(departureEvent), deadline);
  return claimed.length;
}

/** What the `departures` function did with one batch of the queue's messages. */
export interface DeparturesResult {
  messages: number;
  claimed: number;
  /** Messages whose body was no departures, or whose claim failed (their departures wait for the sweep). */
  failed: number;
}

/**
 * The `departures` function: each message's departures claimed (those a return took back are
 * gone) and emitted. A failure is logged and the message dropped, not retried: its departures
 * stay in the store, and the sweep emits them.
 */
export async function emitQueued(
  store: Pick<ConnectionStore, 'claimDepartures'>,
  bodies: readonly { messageId: string; body: string }[],
  deadline: number,
): Promise<DeparturesResult> {
  const result: DeparturesResult = { messages: bodies.length, claimed: 0, failed: 0 };
  for (const { messageId, body } of bodies) {
    const departures = departuresOf(body);
    if (departures === undefined) {
      log.error('departures message is no departures; dropped', { messageId, body: body.slice(0, 200) });
      result.failed++;
      continue;
    }
    try {
      result.claimed += await emitClaimed(store, departures, deadline);
    } catch (error) {
      log.error('departures not claimed; left for the sweep', { messageId, error });
      result.failed++;
    }
  }
  return result;
}

/**
 * A connection closed: `connection.closed` at once, then its rooms' departures after their
 * debounce. `rooms` are the rooms it was in, read before its memberships went.
 */
export async function connectionClosed(
  courier: EventCourier,
  who: Who,
  rooms: readonly string[],
  reason: CloseReason,
  debounceMs?: number,
): Promise<void> {
  await emit([closed(who, reason)], courier.deadline);
  const departures: Departure[] = [];
  for (const room of rooms) departures.push(...(await markDepartures(courier, room, who)));
  await settleDepartures(courier, departures, debounceMs);
}

/**
 * The same, for a removal that marked its rooms' departures itself (the store's
 * removeCounted, `$disconnect`): `connection.closed` at once, the departures after the debounce.
 */
export async function closedWithDepartures(
  courier: EventCourier,
  who: Who,
  departures: readonly Departure[],
  reason: CloseReason,
): Promise<void> {
  await emit([closed(who, reason)], courier.deadline);
  await settleDepartures(courier, departures);
}

/** The sweep: departures older than the debounce and a margin have lost their waiter; they go now. */
export async function emitStaleDepartures(
  store: Pick<ConnectionStore, 'staleDepartures' | 'claimDeparture'>,
  now: number,
  deadline: number,
): Promise<number> {
  const marginMs = 30_000;
  const stale = await store.staleDepartures(now - eventSettings().debounceMs - marginMs, 100);
  const events: LifecycleEvent[] = [];
  for (const departure of stale) {
    if (await store.claimDeparture(departure)) events.push(departureEvent(departure));
  }
  await emit(events, deadline);
  return events.length;
}

/** How API Gateway reports a close: its own (idle, age, DeleteConnection) as 1001 "Going away"; the rest is the client's. */
export function closeReason(statusCode: unknown, reason: unknown): CloseReason {
  return statusCode === 1001 && reason === 'Going away' ? 'server' : 'client';
}

/**
 * Events never fail the route they ride on: a store error while working them out is logged
 * (their departures, if marked, are left for the sweep).
 */
export async function safely(what: string, fields: Record<string, unknown>, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    log.error('lifecycle events failed', { what, ...fields, error });
  }
}
