/**
 * One source of truth for what the service sends: the frames the real message handlers
 * produce (src/chat/actions.ts, src/chat/push.ts, src/chat/presence.ts, driven here with a store in
 * memory and an outbox that keeps what is posted) all pass the client's checks, which
 * are typed from src/chat/frames.ts (client/frames.ts). A field renamed on either side fails
 * here or in `tsc` (npm run lint).
 */
import { frameProblem, isServerMessage } from '../../client/frames';
import { announceDeparture, handleMessage, replyFailure } from '../../src/chat/actions';
import type { Session } from '../../src/chat/actions';
import { publishFromServer } from '../../src/chat/push';
import { StoreError } from '../../src/errors';
import type { ServerMessageType } from '../../src/chat/frames';
import { ALICE, aliceAndBob, BOB } from '../support/harnesses/session';

const world = aliceAndBob({ concurrency: 4, listPageSize: 10, presenceMaxMembers: 10 });
const session = world.session;

/** What alice and bob do, covering every frame type; returns what the service posted. */
async function conversation(): Promise<{ to: string; frame: unknown }[]> {
  const alice = session(ALICE, 'alice');
  const bob = session(BOB, 'bob');
  const say = (who: Session, body: unknown) =>
    handleMessage(who, typeof body === 'string' ? body : JSON.stringify(body));
  await say(alice, { action: 'list' });
  await say(alice, { action: 'join', room: 'lobby' });
  await say(bob, { action: 'join', room: 'lobby' }); // alice hears bob's presence
  await say(alice, { action: 'members', room: 'lobby' });
  await say(alice, { action: 'publish', room: 'lobby', data: { text: 'hi' } });
  await say(alice, { action: 'sendmessage', data: [1, 'two'] });
  await say(bob, { action: 'send', user: 'alice', data: 'psst' });
  await say(bob, { action: 'send', connectionId: ALICE, data: null });
  await say(alice, { action: 'ping' });
  await say(alice, { action: 'history', room: 'lobby' });
  await say(bob, { action: 'leave', room: 'lobby' });
  await say(alice, '{"action":'); // invalid_json
  await say(alice, { action: 'dance' }); // unknown_action, with details
  await publishFromServer(session(ALICE, 'alice'), { room: 'lobby', data: 'from a backend' });
  await replyFailure(world.outbox, ALICE, new StoreError('down', 'list'), 1_000);
  await say(bob, { action: 'join', room: 'lobby' });
  await announceDeparture(bob, [{ room: 'lobby' }]); // alice hears bob's disconnect
  return world.posted;
}

describe('the frames the service sends', () => {
  it('are every one a ServerMessage as the client reads it, and cover every type', async () => {
    const frames = await conversation();
    const problems = frames.map(({ frame }) => [frame, frameProblem(frame)]).filter(([, problem]) => problem);
    expect(problems).toEqual([]);
    const types = new Set(frames.map(({ frame }) => (frame as { type: ServerMessageType }).type));
    const every: Record<ServerMessageType, true> = {
      message: true,
      delivery: true,
      joined: true,
      left: true,
      connections: true,
      members: true,
      presence: true,
      pong: true,
      history: true,
      error: true,
    };
    expect([...types].sort()).toEqual(Object.keys(every).sort());
  });

  it('include the optional fields the types declare (target, reason, details), so their checks run', async () => {
    const frames = (await conversation()).map(({ frame }) => frame as Record<string, unknown>);
    expect(frames).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'message', room: 'lobby', origin: 'server', from: null }),
        expect.objectContaining({ type: 'message', user: 'alice', origin: 'client', connectionId: BOB }),
        expect.objectContaining({ type: 'message', to: ALICE }),
        expect.objectContaining({ type: 'delivery', room: 'lobby' }),
        expect.objectContaining({ type: 'presence', event: 'leave', reason: 'disconnect' }),
        expect.objectContaining({ type: 'error', code: 'unknown_action', details: expect.anything() }),
      ]),
    );
  });

  it('would be caught drifting: the same frames with a field renamed or retyped fail the check', async () => {
    const frames = (await conversation()).map(({ frame }) => frame as Record<string, unknown>);
    for (const frame of frames) {
      const field = Object.keys(frame).find((key) => key !== 'type' && frame[key] !== undefined);
      if (field === undefined) continue;
      const { [field]: value, ...rest } = frame;
      const renamed = { ...rest, [`${field}_renamed`]: value };
      const retyped = { ...frame, [field]: Symbol('not JSON') };
      // `data` and `details` take any value; a message's target fields and `seq` are optional.
      if (!['data', 'details', 'room', 'user', 'to', 'seq'].includes(field)) {
        expect({ frame: renamed, ok: isServerMessage(renamed) }).toEqual({ frame: renamed, ok: false });
      }
      if (field !== 'details') {
        expect({ frame: retyped, ok: isServerMessage(retyped) }).toEqual({ frame: retyped, ok: false });
      }
    }
  });
});
