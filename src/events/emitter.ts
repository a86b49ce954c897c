/**
 * Sends events (lifecycle, published messages) where they go: the stage's EventBridge bus in AWS (PutEvents, our own
 * signed request), a JSON-lines file under `npm start`. Emitting never fails a route: entries
 * PutEvents did not take are retried within EMIT_BUDGET_MS, then logged and counted in the
 * `undelivered` metric (one EMF line, as the fan-out's metrics are written).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventBridgeClient, MAX_ENTRIES_PER_PUT } from '../aws/event-bridge';
import type { PutEventsEntry } from '../aws/event-bridge';
import { signingCredentials } from '../aws/request';
import { fullJitter } from '../backoff';
import { emfRecord, writeEmf } from '../chat/fanout/emf';
import { log } from '../log';
import { eventSettings } from './settings';
import type { EventSettings } from './settings';
import { EVENT_SOURCE, PUBLISHED_TYPE } from './types';
import type { BusEvent } from './types';

/**
 * The longest emitting may take, all retries included: what `$connect` adds to the handshake at
 * worst, and what a route spends after its reply at worst (docs/events.md, "Guarantees").
 */
export const EMIT_BUDGET_MS = 1_000;
/** One PutEvents request is aborted after this long; a second attempt still fits the budget. */
export const PUT_TIMEOUT_MS = 400;
/** At most this many requests per batch of entries: the first and two retries. */
export const PUT_ATTEMPTS = 3;
const RETRY_BASE_MS = 25;

export const EVENTS_METRICS_SERVICE = 'events';

/** Where events go: the bus, the local file, or nowhere. */
export interface EventSink {
  /** Resolves with the events not delivered by `deadline` (none when all were taken). */
  put(events: readonly BusEvent[], deadline: number): Promise<BusEvent[]>;
}

/** The PutEvents entry of an event; its detail's id rides along unchanged on every retry. */
export function entryOf(event: BusEvent, bus: string): PutEventsEntry {
  return {
    Source: EVENT_SOURCE,
    DetailType: event.type,
    Detail: JSON.stringify(event.detail),
    EventBusName: bus,
    Time: event.detail.time,
  };
}

/**
 * What EventBridge counts of an entry against its limit ("Calculating PutEvents event entry
 * size"): 14 bytes for Time, and the UTF-8 bytes of Source, DetailType and Detail.
 */
export function entrySize(entry: PutEventsEntry): number {
  const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
  return (entry.Time === undefined ? 0 : 14) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
}

/** A request's entries together must stay under 256 KB (a published message alone may be 128 KB). */
export const MAX_PUT_BYTES = 256 * 1024 - 1;

/** The requests `events` take: at most 10 entries each, and under MAX_PUT_BYTES together. */
export function batches(events: readonly BusEvent[], bus: string, maxBytes = MAX_PUT_BYTES): BusEvent[][] {
  const result: BusEvent[][] = [];
  let current: BusEvent[] = [];
  let size = 0;
  for (const event of events) {
    const bytes = entrySize(entryOf(event, bus));
    if (current.length > 0 && (current.length === MAX_ENTRIES_PER_PUT || size + bytes > maxBytes)) {
      result.push(current);
      current = [];
      size = 0;
    }
    current.push(event);
    size += bytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** PutEvents, retrying the entries it did not take (and whole failed requests) until the deadline. */
export class BusSink implements EventSink {
  constructor(
    private readonly client: Pick<EventBridgeClient, 'putEvents'>,
    private readonly bus: string,
  ) {}

  async put(events: readonly BusEvent[], deadline: number): Promise<BusEvent[]> {
    const lost: BusEvent[] = [];
    for (const batch of batches(events, this.bus)) lost.push(...(await this.putBatch(batch, deadline)));
    return lost;
  }

  private async putBatch(batch: BusEvent[], deadline: number): Promise<BusEvent[]> {
    // Each entry made once (its Detail is JSON of up to a published message's 128 KB), whatever the retries.
    let pending = batch.map((event) => ({ event, entry: entryOf(event, this.bus) }));
    for (let attempt = 0; attempt < PUT_ATTEMPTS && pending.length > 0; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (attempt > 0) {
        const wait = Math.min(fullJitter(attempt - 1, RETRY_BASE_MS), left - 1);
        if (wait > 0) await sleep(wait);
      }
      const timeoutMs = Math.min(PUT_TIMEOUT_MS, deadline - Date.now());
      if (timeoutMs <= 0) break;
      try {
        const answer = await this.client.putEvents(
          pending.map(({ entry }) => entry),
          timeoutMs,
        );
        if (answer.FailedEntryCount === 0) return [];
        // Entries answer in request order; only those with an error code go again.
        pending = pending.filter((_, index) => answer.Entries[index]?.EventId === undefined);
        log.warn('PutEvents did not take every entry', { failed: pending.length, attempt, errors: errorsOf(answer) });
      } catch (error) {
        log.warn('PutEvents failed', { attempt, entries: pending.length, error });
      }
    }
    return pending.map(({ event }) => event);
  }
}

function errorsOf(answer: { Entries: { ErrorCode?: string }[] }): string[] {
  return [...new Set(answer.Entries.flatMap((entry) => (entry.ErrorCode === undefined ? [] : [entry.ErrorCode])))];
}

/** `npm start`: one JSON line per event (the entry as PutEvents would get it), and a short printed line. */
export class FileSink implements EventSink {
  private made = false;

  constructor(
    private readonly file: string,
    private readonly print: boolean,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
  ) {}

  put(events: readonly BusEvent[]): Promise<BusEvent[]> {
    if (!this.made) {
      mkdirSync(dirname(this.file), { recursive: true });
      this.made = true;
    }
    // One append per event: lines of concurrent workers never interleave (O_APPEND, small writes).
    for (const event of events) {
      appendFileSync(this.file, JSON.stringify(localLine(event)) + '\n');
      if (this.print) this.write(`[events] ${shortLine(event)}\n`);
    }
    return Promise.resolve([]);
  }
}

/** The local file's line: the entry's `detail-type` as `type` first, then the entry, its detail as JSON. */
export function localLine(event: BusEvent) {
  return { type: event.type, source: EVENT_SOURCE, time: event.detail.time, detail: event.detail };
}

export function shortLine(event: BusEvent): string {
  const { room, user, connectionId } = event.detail;
  const reason = event.type === PUBLISHED_TYPE ? undefined : event.detail.reason;
  return [
    event.type,
    room === undefined ? undefined : `room=${room}`,
    event.type === PUBLISHED_TYPE ? `seq=${event.detail.seq}` : undefined,
    user === null ? 'from=server' : `user=${user}`,
    user === connectionId || connectionId === null ? undefined : `connection=${connectionId}`,
    reason === undefined ? undefined : `reason=${reason}`,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
}

/** The EMF line of events that could not be delivered (a CloudWatch metric without PutMetricData). */
export function undeliveredRecord(lost: readonly BusEvent[], timestamp = Date.now()) {
  return emfRecord(
    ['service'],
    [{ Name: 'undelivered', Unit: 'Count' }],
    { service: EVENTS_METRICS_SERVICE, undelivered: lost.length },
    timestamp,
  );
}

/** The sink of this container's settings: the bus in AWS, the file under `npm start`, else none. */
export function sinkFor(settings: EventSettings, offline: boolean): EventSink | undefined {
  if (settings.localFile !== undefined) return new FileSink(settings.localFile, settings.print);
  if (settings.bus === undefined) return undefined;
  const client = new EventBridgeClient(settings.endpoint, {
    region: settings.region,
    credentials: signingCredentials({ offline, purpose: 'send events to EventBridge' }),
  });
  return new BusSink(client, settings.bus);
}

let sink: EventSink | null | undefined;

/** For tests: emit into this sink (undefined: back to the settings' one). */
export function useSink(replacement: EventSink | undefined): void {
  sink = replacement;
}

/**
 * Sends the events, never throwing: what could not be delivered within EMIT_BUDGET_MS (or by
 * `deadline`, when sooner) is logged with its ids and counted.
 */
export async function emit(events: readonly BusEvent[], deadline = Date.now() + EMIT_BUDGET_MS): Promise<void> {
  if (events.length === 0) return;
  try {
    sink ??= sinkFor(eventSettings(), process.env.IS_OFFLINE === 'true') ?? null;
    if (sink === null) return;
    const lost = await sink.put(events, Math.min(deadline, Date.now() + EMIT_BUDGET_MS));
    if (lost.length > 0) reportLost(lost);
  } catch (error) {
    log.error('events not sent', { error, ids: events.map((event) => event.detail.id) });
    reportLost(events);
  }
}

function reportLost(lost: readonly BusEvent[]): void {
  log.error('events not delivered', {
    events: lost.map((event) => ({ type: event.type, id: event.detail.id, connectionId: event.detail.connectionId })),
  });
  writeEmf(undeliveredRecord(lost));
}
