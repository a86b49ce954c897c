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

/** Why a connection closed: it left (client), we closed it (server), or the sweep found it gone. */
export type CloseReason = 'client' | 'server' | 'sweep';

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
