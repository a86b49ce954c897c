/**
 * Departures wait out their debounce in SQS, not in a Lambda. The route that made them (a leave,
 * `$disconnect`) sends them in one message delayed by the debounce, and the `departures` function
 * (the queue's event source) claims and emits those no return took back once it is visible.
 * Waiting in the route held its container and its database connection for the whole debounce
 * (3 s a departure: at 500 departures a second, 1,500 containers); a send is one request.
 * Without a queue (npm start, whose offline runs no SQS, and unit tests) the route waits as before.
 * A message that is not sent, or not handled, leaves its departures in the store: the sweep emits
 * them (docs/events.md, "Debounce").
 */
import type { Departure } from '../data';
import { signingCredentials } from '../aws/request';
import { SqsClient } from '../aws/sqs';
import { log } from '../log';
import { eventSettings } from './settings';

/** One SendMessage attempt is aborted after this; a second still fits the emit budget (1 s). */
export const SEND_TIMEOUT_MS = 400;
const SEND_ATTEMPTS = 2;

/** The body of a queued message: the departures of one leave or one close. */
export interface DeparturesMessage {
  departures: readonly Departure[];
}

let client: SqsClient | undefined;

function sqs(): SqsClient {
  const settings = eventSettings();
  client ??= new SqsClient(settings.sqsEndpoint, {
    region: settings.region,
    credentials: signingCredentials({
      offline: process.env.IS_OFFLINE === 'true',
      purpose: 'queue departures in SQS',
    }),
  });
  return client;
}

/** For tests: the next send makes its client again (another endpoint). */
export function resetDeparturesClient(): void {
  client?.destroy();
  client = undefined;
}

/** Whether this function queues its departures (the template sets DEPARTURES_QUEUE_URL). */
export function queued(): boolean {
  return eventSettings().departuresQueue !== undefined;
}

/**
 * Sends the departures to the queue, visible at `due` (when the last one's debounce ends).
 * Resolves with whether it was sent; never throws (what is not sent is left for the sweep, and logged).
 */
export async function queueDepartures(
  departures: readonly Departure[],
  due: number,
  deadline: number,
): Promise<boolean> {
  const queue = eventSettings().departuresQueue;
  if (queue === undefined || departures.length === 0) return false;
  const body = JSON.stringify({ departures } satisfies DeparturesMessage);
  for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
    const timeoutMs = Math.min(SEND_TIMEOUT_MS, deadline - Date.now());
    if (timeoutMs <= 0) break;
    try {
      await sqs().sendMessage(queue, body, (due - Date.now()) / 1000, timeoutMs);
      return true;
    } catch (error) {
      log.warn('departures not queued', { attempt, departures: departures.length, error });
    }
  }
  log.error('departures left for the sweep: the queue did not take them', {
    departures: departures.map(({ room, user, at }) => ({ room, user, at })),
  });
  return false;
}

/** A message's departures, or undefined for a body that is not one (logged, and dropped). */
export function departuresOf(body: string): Departure[] | undefined {
  try {
    const parsed = JSON.parse(body) as { departures?: unknown } | null;
    const list = parsed?.departures;
    if (!Array.isArray(list) || !list.every(isDeparture)) return undefined;
    return list;
  } catch {
    return undefined;
  }
}

function isDeparture(value: unknown): value is Departure {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d.room === 'string' &&
    typeof d.user === 'string' &&
    typeof d.connectionId === 'string' &&
    (d.subject === null || typeof d.subject === 'string') &&
    typeof d.at === 'number' &&
    Number.isFinite(d.at)
  );
}
