/**
 * The lifecycle events the service tells its backend about (docs/events.md has every shape).
 * Each is one PutEvents entry: its name is the entry's `detail-type`, the rest its `detail`.
 */
import { randomUUID } from 'node:crypto';

/** Every entry's `source`: a rule matches on it (docs/events.md). */
export const EVENT_SOURCE = 'aws-node-websockets';

export const EVENT_TYPES = [
  'connection.opened',
  'connection.closed',
  'room.occupied',
  'room.vacated',
  'member.joined',
  'member.left',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Why a connection closed: it left (client), API Gateway closed it (server), the sweep found it
 * gone (sweep), or a post to it found it gone before its `$disconnect` ran (gone).
 */
export type CloseReason = 'client' | 'server' | 'sweep' | 'gone';

export interface EventDetail {
  /** Unique per event and the same on every retry of it: the backend's key to drop duplicates. */
  id: string;
  stage: string;
  connectionId: string;
  /** The token's subject; null with auth off. */
  subject: string | null;
  /** Who counts as one member: the subject, or with auth off the connection itself. */
  user: string;
  room?: string;
  /** The room's latest message `seq` when the event happened. */
  seq?: number;
  reason?: CloseReason;
  /** ISO 8601, when it happened (not when it was sent). */
  time: string;
}

export interface LifecycleEvent {
  type: EventType;
  detail: EventDetail;
}

/** The member a connection counts as: its subject, or itself when there is none (auth off). */
export function userOf(who: { connectionId: string; subject: string | null }): string {
  return who.subject ?? who.connectionId;
}

/** `message.published`: a numbered message of a room EVENTS_PUBLISHED_ROOMS names (./published.ts). */
export const PUBLISHED_TYPE = 'message.published';

export interface PublishedDetail {
  /** Unique per event; `messageId` is the message's own (the one its frames and history carry). */
  id: string;
  stage: string;
  room: string;
  seq: number;
  messageId: string;
  origin: 'client' | 'server';
  /** The sender's connection, subject and member; all null for a backend's push (`origin: server`). */
  connectionId: string | null;
  subject: string | null;
  user: string | null;
  /** The message's `data`, unless the entry would pass EventBridge's size limit: then `dataOmitted`. */
  data?: unknown;
  /** Set instead of `data` when it did not fit: read the message with `history` (room, `seq`). */
  dataOmitted?: { bytes: number };
  /** ISO 8601: when the service took the message (its frame's `sentAt`). */
  time: string;
}

export interface PublishedEvent {
  type: typeof PUBLISHED_TYPE;
  detail: PublishedDetail;
}

/** Whatever goes on the bus: a lifecycle event or a published message. */
export type BusEvent = LifecycleEvent | PublishedEvent;

export function lifecycleEvent(
  type: EventType,
  stage: string,
  who: { connectionId: string; subject: string | null },
  extra: { room?: string; seq?: number; reason?: CloseReason; at?: number } = {},
): LifecycleEvent {
  const { at, ...rest } = extra;
  return {
    type,
    detail: {
      id: randomUUID(),
      stage,
      connectionId: who.connectionId,
      subject: who.subject,
      user: userOf(who),
      ...rest,
      time: new Date(at ?? Date.now()).toISOString(),
    },
  };
}
