/**
 * The one delivery path, whoever asks for it (a client, a backend through src/chat/push.ts, a
 * presence event): the envelope, its encoding, the audience (or its shards), one bounded and
 * budgeted fan-out, and the summary.
 */
import { removeGone } from './gone';
import type { ConnectionStore } from '../../data';
import { BadMessageError } from '../../errors';
import { fanOut } from './delivery';
import { writeDeliveryMetrics } from './emf';
import type { FanOutResult } from './delivery';
import { newMessageId, sequenceRoomFrame } from '../history';
import { log } from '../../log';
import type { LogFields } from '../../log';
import { MAX_MESSAGE_BYTES } from '../protocol';
import { planDelivery } from './shards';
import type { Plan } from './shards';
import type { DeliveryFrame, MessageFrame, PresenceFrame } from '../frames';
import { encode } from '../outbox';
import type { Courier, Target } from '../session';

/** Only the target's own field, so the envelope and the summary name it and nothing else. */
export function targetFields(target: Target): Target {
  if (target.room !== undefined) return { room: target.room };
  if (target.user !== undefined) return { user: target.user };
  if (target.to !== undefined) return { to: target.to };
  return {};
}

/** A message encoded once for every recipient of a fan-out, with its id (and number, in a room). */
export interface Encoded {
  type: string;
  bytes: Uint8Array;
  id?: string;
  seq?: number;
}

/**
 * Encodes a message for delivery. The bytes we would post decide, not an estimate: a
 * `from` of characters JSON escapes (6 bytes each) grows the envelope well past its usual
 * ~150 bytes. API Gateway would refuse an oversize post to every recipient, so it is
 * refused once, here, before the audience is read.
 */
export function encodeForDelivery(message: MessageFrame | PresenceFrame): Encoded {
  const bytes = encode(message);
  if (bytes.byteLength > MAX_MESSAGE_BYTES) {
    throw new BadMessageError(
      'payload_too_large',
      `the message would be ${bytes.byteLength} bytes with its envelope; API Gateway takes at most ${MAX_MESSAGE_BYTES}`,
      { size: bytes.byteLength, limit: MAX_MESSAGE_BYTES },
    );
  }
  return { type: message.type, bytes, id: message.id };
}

/**
 * A room's frame is numbered and kept in its history (one store write, src/chat/history.ts);
 * any other is only encoded: direct messages and broadcasts have an id but no order or history.
 * `member`: a room's frame is numbered only if that connection is in the room (the same write).
 */
export function encodeForTarget(
  courier: Courier,
  message: MessageFrame | PresenceFrame,
  member?: string,
): Promise<Encoded> {
  if (message.room === undefined) return Promise.resolve(encodeForDelivery(message));
  const sentAt = message.type === 'message' ? message.sentAt : Date.now();
  return sequenceRoomFrame(courier.store, { ...message, room: message.room }, sentAt, member);
}

/**
 * The connection ids a target stands for, with one indexed query: everyone, a room's
 * members, a user's connections (the subject index), or one connection if the store
 * knows it (we never post to ids that are not ours).
 */
export async function audienceOf(store: ConnectionStore, target: Target): Promise<string[]> {
  if (target.room !== undefined) return store.audience(target.room);
  if (target.user !== undefined) return store.connectionsOf(target.user);
  if (target.to !== undefined) {
    // The row's own id, as the store gave it: only that id is posted to, so only its row can
    // be removed after a 410.
    const row = await store.get(target.to);
    return row === undefined ? [] : [row.connectionId];
  }
  return store.audience();
}

/**
 * The one delivery path: one encoding, one bounded and budgeted fan-out, one batched
 * delete of the connections that are gone (410). The caller decides who hears the result.
 */
export async function deliverToAudience(
  courier: Courier,
  audience: readonly string[],
  message: Encoded,
  logFields: LogFields = {},
): Promise<FanOutResult> {
  const { bytes } = message;
  const started = Date.now();
  const result = await fanOut(audience, (id) => courier.outbox.send(id, bytes, courier.deadline), {
    concurrency: courier.concurrency,
    deadline: courier.deadline,
  });
  if (result.stale.length > 0) await removeGone(courier, result.stale);
  writeDeliveryMetrics(deliverySummary(result, {}, message), (Date.now() - started) / 1000);
  log.info('fan-out done', {
    ...logFields,
    type: message.type,
    recipients: result.recipients,
    sent: result.sent,
    stale: result.stale.length,
    failed: result.failed,
    unsent: result.unsent,
  });
  return result;
}

export type DeliverySummary = DeliveryFrame;

/** `ref`: the sender's own name for its request, echoed (src/chat/protocol.ts). */
export function deliverySummary(result: FanOutResult, target: Target, message: Encoded, ref?: string): DeliverySummary {
  return {
    type: 'delivery',
    ...targetFields(target),
    id: message.id ?? '',
    ...(message.seq === undefined ? {} : { seq: message.seq }),
    recipients: result.recipients,
    sent: result.sent,
    stale: result.stale.length,
    failed: result.failed,
    unsent: result.unsent,
    ...(ref === undefined ? {} : { ref }),
  };
}

/**
 * The message a target gets: from a client connection, or from a backend (`from: null`, no
 * connection). `ephemeral`: a room message that is neither numbered nor kept (src/chat/messages.ts).
 */
export function messageEnvelope(
  target: Target,
  sender: { subject: string | null; connectionId: string } | 'server',
  data: unknown,
  ephemeral = false,
): MessageFrame {
  const origin =
    sender === 'server'
      ? ({ from: null, origin: 'server' } as const)
      : ({ from: sender.subject, connectionId: sender.connectionId, origin: 'client' } as const);
  return {
    type: 'message',
    id: newMessageId(),
    ...targetFields(target),
    ...(ephemeral ? { ephemeral: true as const } : {}),
    ...origin,
    sentAt: Date.now(),
    data,
  };
}

/**
 * Everyone and rooms can be large: with sharding on, their audience is read as one page, and
 * one larger than a shard goes to `deliver` (src/chat/fanout/shards.ts). A user's connections and one
 * connection are few, and read as before. `summaryTo`: the connection the shards' final summary
 * goes to (none: no one's); `except`: a connection of the audience the shards do not post to
 * (a sender that asked for no echo). A direct audience is returned whole: the caller leaves it out.
 */
export async function audienceOrShards(
  courier: Courier,
  target: Target,
  message: Encoded,
  sender: { connectionId?: string; ref?: string | undefined } = {},
  except?: string,
): Promise<Plan> {
  if (courier.sharding === undefined || target.user !== undefined || target.to !== undefined) {
    return { kind: 'direct' as const, audience: await audienceOf(courier.store, target) };
  }
  const named = {
    ...(message.id === undefined ? {} : { id: message.id }),
    ...(message.seq === undefined ? {} : { seq: message.seq }),
  };
  return planDelivery(
    courier.store,
    courier.sharding,
    target.room,
    message.bytes,
    {
      ...(sender.connectionId ? { connectionId: sender.connectionId } : {}),
      ...(sender.ref === undefined ? {} : { ref: sender.ref }),
      ...named,
    },
    Date.now,
    except,
  );
}
