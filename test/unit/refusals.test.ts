/**
 * The typed client's reading of an error frame (client/refusals.ts): a `forbidden` refusal
 * as built by the service (src/chat/access.ts) becomes one readable line; anything else
 * keeps its code and message.
 */
import { describeError, forbiddenDetails } from '../../client';
import type { ErrorFrame } from '../../client';
import { forbidden, requireMembership, requireRight } from '../../src/chat/access';
import { BadMessageError } from '../../src/errors';

/** The frame the service sends for a refusal thrown by `work`. */
function frameOf(work: () => void): ErrorFrame {
  try {
    work();
  } catch (error) {
    const refusal = error as BadMessageError;
    return { type: 'error', code: refusal.code, message: refusal.message, details: refusal.details };
  }
  throw new Error('nothing was refused');
}

describe('describeError', () => {
  it.each([
    [() => requireRight({}, 'secret-room', 'join'), 'Refused: your token does not let you join secret-room'],
    [() => requireRight({}, 'secret-room', 'publish'), 'Refused: your token does not let you send to secret-room'],
    [
      () => requireRight({}, 'secret-room', 'presence'),
      'Refused: your token does not let you see who is in secret-room',
    ],
    [
      () => requireMembership(false, 'red', 'publish'),
      'Refused: join red first (only members send to a room or see who is in it)',
    ],
    [
      () => {
        throw forbidden('no', { connectionId: 'abc=', missing: 'shared_room' });
      },
      'Refused: connection abc= is neither yours nor in a room with you',
    ],
  ])('reads a refusal of the service as a sentence (%#)', (work, line) => {
    const frame = frameOf(work);
    expect(forbiddenDetails(frame)).toBeDefined();
    expect(describeError(frame)).toBe(line);
  });

  it('keeps the code and message of any other error, and of a forbidden frame without its details', () => {
    expect(describeError({ type: 'error', code: 'too_many_rooms', message: 'at most 50' })).toBe(
      'Error too_many_rooms: at most 50',
    );
    expect(describeError({ type: 'error', code: 'forbidden', message: 'no', details: { missing: 'x' } })).toBe(
      'Error forbidden: no',
    );
  });
});
