/**
 * Where lifecycle events go and how they are debounced, read once per container. In AWS they go
 * to the stage's bus (EVENT_BUS_NAME, set by the template); under `npm start` to a JSON-lines
 * file (EVENTS_LOCAL_FILE, set by scripts/offline.ts); with neither, nowhere (unit tests).
 */
import { parseRights, RoomsClaimError } from '../auth/rooms';
import type { RoomRights } from '../auth/rooms';
import { integer, usable } from '../config';
import { ConfigError } from '../errors';

type Env = Record<string, string | undefined>;

export interface EventSettings {
  /** The bus PutEvents writes to; undefined: no bus. */
  bus: string | undefined;
  /** The file `npm start` writes each event to, one JSON line each. */
  localFile: string | undefined;
  /** EVENTS_LOCAL_PRINT: also print one short line per event under `npm start` (on by default). */
  print: boolean;
  /** EVENTS_DEBOUNCE_MS: how long `member.left` and `room.vacated` wait for a reconnect (3 s by default). */
  debounceMs: number;
  /** EVENTS_PUBLISHED_ROOMS: the rooms whose numbered messages become `message.published`; none when unset. */
  publishedRooms: RoomRights | undefined;
  /** Whose events they are: the stage, in every event's detail. */
  stage: string;
  region: string;
  /** EVENTBRIDGE_ENDPOINT: another PutEvents endpoint (a test's stand-in); else the region's. */
  endpoint: string;
  /**
   * DEPARTURES_QUEUE_URL (set by the template): departures wait out their debounce in this SQS
   * queue (./departures-queue.ts); undefined (npm start, unit tests): in the route that made them.
   */
  departuresQueue: string | undefined;
  /** SQS_ENDPOINT: another SQS endpoint (a test's stand-in); else the region's. */
  sqsEndpoint: string;
}

/** Pusher's delay for `member_removed` and `channel_vacated`: a page reload fits in it. */
export const DEFAULT_DEBOUNCE_MS = 3_000;

export function readEventSettings(env: Env = process.env): EventSettings {
  const region = usable(env.AWS_REGION) ?? 'us-east-1';
  return {
    bus: usable(env.EVENT_BUS_NAME),
    localFile: usable(env.EVENTS_LOCAL_FILE),
    print: (usable(env.EVENTS_LOCAL_PRINT) ?? 'on').toLowerCase() !== 'off',
    debounceMs: integer(env, 'EVENTS_DEBOUNCE_MS', DEFAULT_DEBOUNCE_MS, 0, 10_000),
    publishedRooms: readPublishedRooms(usable(env.EVENTS_PUBLISHED_ROOMS)),
    stage: usable(env.EVENTS_STAGE) ?? 'local',
    region,
    endpoint: usable(env.EVENTBRIDGE_ENDPOINT) ?? `https://events.${region}.amazonaws.com`,
    departuresQueue: usable(env.DEPARTURES_QUEUE_URL),
    sqsEndpoint: usable(env.SQS_ENDPOINT) ?? `https://sqs.${region}.amazonaws.com`,
  };
}

/**
 * EVENTS_PUBLISHED_ROOMS: room patterns separated by commas, as a token's rooms claim writes them
 * (`lobby`, `news-*`, `*` for every room); the room rules of src/auth/rooms.ts decide a match.
 */
export function readPublishedRooms(text: string | undefined): RoomRights | undefined {
  if (text === undefined) return undefined;
  try {
    return parseRights(text.split(',').map((pattern) => pattern.trim()));
  } catch (error) {
    if (!(error instanceof RoomsClaimError)) throw error;
    throw new ConfigError(`EVENTS_PUBLISHED_ROOMS: ${error.message}`, { cause: error });
  }
}

/** Whether any room's messages are published: read without parsing, so that the rest loads only then. */
export function publishingOn(env: Env = process.env): boolean {
  return usable(env.EVENTS_PUBLISHED_ROOMS) !== undefined;
}

let cached: EventSettings | undefined;

export function eventSettings(): EventSettings {
  cached ??= readEventSettings();
  return cached;
}

/** Read the settings again at their next use (the bench sets its own debounce for one section). */
export function resetEventSettings(): void {
  cached = undefined;
}
