/**
 * An `error` frame as one readable line, for a page or a log: a `forbidden` refusal says
 * what was refused where and why (src/chat/access.ts sends it), any other error its code and
 * message. Works on any frame: details that are not a refusal's fall back to the message.
 */
import type { ErrorFrame, ForbiddenDetails } from '../src/chat/frames';

const MISSING = ['join', 'publish', 'presence', 'membership', 'shared_room'];

/** The frame's details when they are a `forbidden` refusal's. */
export function forbiddenDetails(frame: ErrorFrame): ForbiddenDetails | undefined {
  if (frame.code !== 'forbidden') return undefined;
  const details = frame.details as Partial<Record<string, unknown>> | undefined;
  if (typeof details !== 'object' || details === null || !MISSING.includes(details.missing as string)) {
    return undefined;
  }
  return details as ForbiddenDetails;
}

export function describeError(frame: ErrorFrame): string {
  const refusal = forbiddenDetails(frame);
  if (refusal === undefined) return `Error ${frame.code}: ${frame.message}`;
  const room = refusal.room ?? '?';
  switch (refusal.missing) {
    case 'join':
      return `Refused: your token does not let you join ${room}`;
    case 'publish':
      return `Refused: your token does not let you send to ${room}`;
    case 'presence':
      return `Refused: your token does not let you see who is in ${room}`;
    case 'membership':
      return `Refused: join ${room} first (only members send to a room or see who is in it)`;
    case 'shared_room':
      return `Refused: connection ${refusal.connectionId ?? '?'} is neither yours nor in a room with you`;
  }
}
