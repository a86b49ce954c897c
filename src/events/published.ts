/**
 * `message.published`: each numbered message of a room EVENTS_PUBLISHED_ROOMS names goes to the
 * bus as well, for a backend that keeps, indexes or moderates messages elsewhere (docs/events.md).
 * Ephemeral messages (typing, cursors) are neither numbered nor kept, and are never published.
 * A client's message is published after its sender's answer; a failure is logged and counted
 * (./emitter.ts) and never fails the message, which was delivered already.
 */
import { randomUUID } from 'node:crypto';
import { rightsOn } from '../auth/rooms';
import { log } from '../log';
import { emit, entryOf, entrySize, MAX_PUT_BYTES } from './emitter';
import { eventSettings } from './settings';
import { PUBLISHED_TYPE } from './types';
import type { PublishedDetail, PublishedEvent } from './types';

/** A numbered room message, as its frame holds it (src/chat/frames.ts MessageFrame). */
export interface PublishedMessage {
  id: string;
  room: string;
  seq: number;
  sentAt: number;
  data: unknown;
  origin: 'client' | 'server';
  from: string | null;
  connectionId?: string | undefined;
}

/**
 * The event of one message: its `data` included while the entry stays within what one PutEvents
 * request takes (a frame is at most 128 KB, so today it always does); else `dataOmitted` with its
 * size, and the backend reads the message with `history` (room, seq).
 */
export function publishedEvent(message: PublishedMessage, stage: string, maxBytes = MAX_PUT_BYTES): PublishedEvent {
  const client = message.origin === 'client';
  const connectionId = client ? (message.connectionId ?? null) : null;
  const base: PublishedDetail = {
    id: randomUUID(),
    stage,
    room: message.room,
    seq: message.seq,
    messageId: message.id,
    origin: message.origin,
    connectionId,
    subject: client ? message.from : null,
    user: client ? (message.from ?? connectionId) : null,
    time: new Date(message.sentAt).toISOString(),
  };
  const whole: PublishedEvent = { type: PUBLISHED_TYPE, detail: { ...base, data: message.data } };
  if (entrySize(entryOf(whole, '')) <= maxBytes) return whole;
  const bytes = Buffer.byteLength(JSON.stringify(message.data) ?? 'null', 'utf8');
  return { type: PUBLISHED_TYPE, detail: { ...base, dataOmitted: { bytes } } };
}

/** Whether this room's messages are published (EVENTS_PUBLISHED_ROOMS). */
export function publishes(room: string): boolean {
  const rooms = eventSettings().publishedRooms;
  return rooms !== undefined && rightsOn(rooms, room).length > 0;
}

/** Emits the message's event when its room is named; never throws. */
export async function messagePublished(message: PublishedMessage, deadline?: number): Promise<void> {
  try {
    if (!publishes(message.room)) return;
    await emit([publishedEvent(message, eventSettings().stage)], deadline);
  } catch (error) {
    log.error('message.published not sent', { room: message.room, messageId: message.id, error });
  }
}
