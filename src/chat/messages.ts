/**
 * Client messages: a broadcast, a room's message or a direct message, delivered through the
 * one path (src/chat/fanout/envelope.ts), then summarized to the sender.
 *
 * What a sender pays for is its choice, per message (docs/protocol.md#what-a-message-costs):
 * `echo: false` leaves its own connection out of the audience, `summary: false` drops the
 * summary, and a room message with `ephemeral: true` (typing, cursors) gets an id but no
 * number and no history row, so that its only store round trip is the audience read, which
 * is its membership check too.
 */
import { BadMessageError } from '../errors';
import {
  audienceOrShards,
  deliverToAudience,
  deliverySummary,
  encodeForDelivery,
  encodeForTarget,
  messageEnvelope,
} from './fanout/envelope';
import type { Encoded } from './fanout/envelope';
import type { Plan } from './fanout/shards';
import { targetFields } from './fanout/envelope';
import { reply } from './session';
import type { Session, Target } from './session';
import { forbidden, requireMembership } from './access';
import { publishingOn } from '../events/settings';
import type { MessageFrame } from './frames';
import type { Courier } from './session';

// The events emitter is loaded by the first message of a room EVENTS_PUBLISHED_ROOMS may name,
// not by every message (the cold start of a service that publishes nothing).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const published = () => require('../events/published') as typeof import('../events/published');

/**
 * A numbered room message goes to the bus as well when its room is named (docs/events.md,
 * `message.published`); an ephemeral one, or one to a user or a connection, never does.
 */
export async function toBus(courier: Pick<Courier, 'deadline'>, frame: MessageFrame, message: Encoded): Promise<void> {
  if (frame.room === undefined || message.seq === undefined || !publishingOn()) return;
  const { origin, from, id, sentAt, data } = frame;
  const connectionId = frame.origin === 'client' ? frame.connectionId : undefined;
  await published().messagePublished(
    { id, room: frame.room, seq: message.seq, sentAt, data, origin, from, connectionId },
    courier.deadline,
  );
}

/** What the sender asked of one message; every field absent means the default. */
export interface RelayOptions {
  /** false: no copy of its own message to the sender's connection. */
  echo?: boolean | undefined;
  /** false: no `delivery` summary to the sender. */
  summary?: boolean | undefined;
  /** A room's message only: an id, no `seq`, no history. */
  ephemeral?: boolean | undefined;
  /** A connection the rights check has just found (`to`), so it is not looked up again. */
  checked?: boolean | undefined;
  /** The sender's own name for the request, echoed in its summaries (src/chat/protocol.ts). */
  ref?: string | undefined;
}

/** The whole of an audience, in the store's order: the first page of an ephemeral message's room. */
const WHOLE = { after: null, upTo: null };

/**
 * An ephemeral room message: one read of the room's audience (with sharding on, its first
 * page, one more than a shard), which is its membership check too. Only a member of a room
 * larger than a shard whose id is not on that page costs one more read, and such a room's
 * delivery goes to the shards like any other (their tallies are store writes).
 */
async function ephemeralPlan(session: Session, room: string, data: unknown, options: RelayOptions) {
  const { store, connectionId } = session;
  const size = session.sharding?.size;
  const audience = size === undefined ? await store.audience(room) : await store.audiencePage(room, WHOLE, size + 1);
  const whole = size === undefined || audience.length <= size;
  const member = audience.includes(connectionId) || (!whole && (await store.roomsOf(connectionId)).includes(room));
  requireMembership(member, room, 'publish');
  const message = encodeForDelivery(messageEnvelope({ room }, session, data, true));
  const plan: Plan = whole
    ? { kind: 'direct', audience }
    : await audienceOrShards(session, { room }, message, ...shardSender(session, options));
  return { message, plan };
}

/** Whom a sharded delivery's final summary goes to (with the request's ref), and whom its shards leave out. */
function shardSender(
  session: Session,
  options: RelayOptions,
): [{ connectionId?: string; ref?: string | undefined }, string | undefined] {
  return [
    options.summary === false ? {} : { connectionId: session.connectionId, ref: options.ref },
    options.echo === false ? session.connectionId : undefined,
  ];
}

/**
 * Any other message: a room's is refused unless the sender is a member, checked by the store in
 * the write that numbers it and keeps it in the room's history (one round trip; a refused
 * message takes no number and leaves no trace).
 */
async function numberedPlan(session: Session, target: Target, data: unknown, options: RelayOptions) {
  const member = target.room === undefined ? undefined : session.connectionId;
  const frame = messageEnvelope(target, session, data);
  const message = await encodeForTarget(session, frame, member);
  const plan: Plan =
    options.checked && target.to !== undefined
      ? { kind: 'direct', audience: [target.to] }
      : await audienceOrShards(session, target, message, ...shardSender(session, options));
  return { message, plan, frame };
}

/** A client's message: delivered, then the summary to the sender (unless it declined it, or turned out gone). */
export async function relay(session: Session, target: Target, data: unknown, options: RelayOptions = {}) {
  const { message, plan, frame }: { message: Encoded; plan: Plan; frame?: MessageFrame } =
    options.ephemeral === true && target.room !== undefined
      ? await ephemeralPlan(session, target.room, data, options)
      : await numberedPlan(session, target, data, options);
  const wantsSummary = options.summary !== false;
  if (plan.kind === 'queued') {
    // The shards send the final summary to the sender (src/chat/fanout/shards.ts).
    if (wantsSummary) await reply(session, plan.queued);
    const final = await plan.handOver();
    if (final && wantsSummary) await reply(session, final);
  } else {
    const sender = session.connectionId;
    const audience = options.echo === false ? plan.audience.filter((id) => id !== sender) : plan.audience;
    const fields = { connectionId: sender, ...targetFields(target) };
    const result = await deliverToAudience(session, audience, message, fields);
    const senderGone = result.stale.includes(sender);
    if (wantsSummary && !senderGone) await reply(session, deliverySummary(result, target, message, options.ref));
  }
  // After the sender's answer, which the backend's copy never delays.
  if (frame !== undefined) await toBus(session, frame, message);
}

/** A direct message: to every connection of a user (needs authorization), or to one connection. */
export async function send(
  session: Session,
  target: { user?: string; connectionId?: string },
  data: unknown,
  options: RelayOptions = {},
) {
  if (target.user !== undefined && session.subject === null) {
    // With AUTH_JWT_SECRET unset no connection has a user, so nobody could ever receive it.
    throw new BadMessageError(
      'auth_required',
      'sending to a user needs authorization (AUTH_JWT_SECRET); send to a "connectionId" instead',
    );
  }
  if (target.connectionId !== undefined && session.subject !== null) {
    // With auth on, a connection id reaches only the sender's own user or a room-mate: ids
    // learnt elsewhere reach no one. An unknown id is refused alike, so refusals say nothing
    // about which ids exist.
    const to = target.connectionId;
    if (!(await session.store.reachable(session.connectionId, session.subject, to))) {
      throw forbidden(`connection "${to}" is neither yours nor in a room with you`, {
        connectionId: to,
        missing: 'shared_room',
      });
    }
    await relay(session, { to }, data, { ...options, checked: true });
    return;
  }
  await relay(session, target.user !== undefined ? { user: target.user } : { to: target.connectionId }, data, options);
}
