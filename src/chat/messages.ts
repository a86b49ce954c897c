/**
 * Client messages: a broadcast, a room's message or a direct message, delivered through the
 * one path (src/chat/fanout/envelope.ts), then summarized to the sender.
 */
import { BadMessageError } from '../errors';
import {
  audienceOrShards,
  deliverToAudience,
  deliverySummary,
  encodeForTarget,
  messageEnvelope,
} from './fanout/envelope';
import { targetFields } from './fanout/envelope';
import { reply } from './session';
import type { Session, Target } from './session';
import { forbidden, requireMembership } from './access';

/**
 * A client's message: delivered, then the summary to the sender unless the sender turned out gone.
 * A room's message is refused unless the sender is a member, before it gets a number in the
 * room's history: a refused message leaves no trace.
 */
export async function relay(
  session: Session,
  target: Target,
  data: unknown,
  { checked = false, ref }: { checked?: boolean; ref?: string | undefined } = {},
): Promise<void> {
  if (target.room !== undefined) {
    const member = (await session.store.roomsOf(session.connectionId)).includes(target.room);
    requireMembership(member, target.room, 'publish');
  }
  const message = await encodeForTarget(session, messageEnvelope(target, session, data));
  // `checked`: a connection the rights check has just found, so it is not looked up again.
  const plan =
    checked && target.to !== undefined
      ? { kind: 'direct' as const, audience: [target.to] }
      : await audienceOrShards(session, target, message, { connectionId: session.connectionId, ref });
  if (plan.kind === 'queued') {
    // The shards send the final summary to the sender (src/chat/fanout/shards.ts).
    await reply(session, plan.queued);
    const final = await plan.handOver();
    if (final) await reply(session, final);
    return;
  }
  const { audience } = plan;
  const result = await deliverToAudience(session, audience, message, {
    connectionId: session.connectionId,
    ...targetFields(target),
  });
  const senderGone = result.stale.includes(session.connectionId);
  if (!senderGone) await reply(session, deliverySummary(result, target, message, ref));
}

/** A direct message: to every connection of a user (needs authorization), or to one connection. */
export async function send(
  session: Session,
  target: { user?: string; connectionId?: string },
  data: unknown,
  ref?: string,
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
    await relay(session, { to }, data, { checked: true, ref });
    return;
  }
  await relay(session, target.user !== undefined ? { user: target.user } : { to: target.connectionId }, data, { ref });
}
