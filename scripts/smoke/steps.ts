/**
 * The steps of `npm run smoke` once the two clients are connected (./setup.ts gets them there),
 * and the plan: every step in the order it runs, each naming the steps it needs. A step resolves
 * with what it saw (its `ok` line) or throws a SmokeCheckError saying what it expected and what
 * came; the runner (./run.ts) skips a step whose needs did not pass.
 *
 * alice and bob are in a room of their own (`smoke-<run>`, or --room) where nothing else happens
 * during the run: every `seq` is known in advance, and the run disturbs no one.
 */
import { isDeepStrictEqual } from 'node:util';
import type { DeliveryFrame, MessageFrame } from '../../src/chat/frames';
import { MESSAGE_ID_PATTERN } from '../../src/chat/history';
import { frameProblem } from '../../client/frames';
import { isLoopback, regionOfApiUrl, signedPublish, signerFor } from './publish';
import { connect, findStage, tokens } from './setup';
import { SmokeCheckError, brief } from './socket';
import type { SmokeSocket } from './socket';
import { allOf, check, endpoints, frameOf, left, peers } from './state';
import type { Peer, SmokeOptions, SmokeState, Step } from './state';

/** A message carrying `data` (which names the step that sent it), that `more` accepts. */
const messageWith = (data: unknown, more: (frame: MessageFrame) => boolean) =>
  frameOf('message', (frame) => isDeepStrictEqual(frame.data, data) && more(frame));

/**
 * The summary of a delivery: a small audience's at once; for one split into shards (a tiny
 * FANOUT_SHARD_SIZE) the `done` summary that follows the `queued` one.
 */
async function finalSummary(
  socket: SmokeSocket,
  match: (frame: DeliveryFrame) => boolean,
  deadline: number,
): Promise<DeliveryFrame> {
  const first = await socket.next('delivery summary', frameOf('delivery', match), left(deadline));
  if (first.state !== 'queued') return first;
  return socket.next(
    `"done" summary of delivery ${first.deliveryId}`,
    frameOf('delivery', (frame) => frame.state === 'done' && frame.deliveryId === first.deliveryId),
    left(deadline),
  );
}

function checkSummary(summary: DeliveryFrame, expected: { id: string; seq?: number; recipients: number }): void {
  const { id, seq, recipients } = expected;
  const whole = summary.sent === recipients && summary.stale + summary.failed + summary.unsent === 0;
  check(
    summary.id === id && summary.seq === seq && summary.recipients === recipients && whole,
    () =>
      `expected a summary of id ${id}${seq === undefined ? '' : `, seq ${seq}`}, ` +
      `${recipients} of ${recipients} sent; got ${brief(summary)}`,
  );
}

function checkId(id: string, what: string): void {
  check(MESSAGE_ID_PATTERN.test(id), () => `${what}'s id ${JSON.stringify(id)} is not 16 URL-safe characters`);
}

/** One room message as alice and bob got it: one id of the service's shape, one seq, the one expected. */
function checkOneMessage(
  toAlice: MessageFrame,
  toBob: MessageFrame,
  what: string,
  expected: { seq: number; exact: boolean; why: string },
): void {
  checkId(toAlice.id, what);
  check(toBob.id === toAlice.id, () => `alice and bob got one message with two ids: ${toAlice.id}, ${toBob.id}`);
  const { seq, exact, why } = expected;
  const fits = (got: number | undefined) => typeof got === 'number' && (exact ? got === seq : got >= seq);
  check(
    toAlice.seq === toBob.seq && fits(toAlice.seq),
    () => `expected seq ${exact ? seq : `${seq} or above`} (${why}), got ${toAlice.seq} (alice) and ${toBob.seq} (bob)`,
  );
}

async function joinOne(state: SmokeState, peer: Peer, deadline: number): Promise<number> {
  peer.socket.send({ action: 'join', room: state.room });
  const joined = await peer.socket.next(
    `"joined" for ${state.room}`,
    frameOf('joined', (frame) => frame.room === state.room),
    left(deadline),
  );
  const seq = joined.seq;
  check(Number.isInteger(seq) && (seq as number) >= 0, () => `"joined" without the room's seq: ${brief(joined)}`);
  peer.joinedSeq = seq;
  return seq as number;
}

const join: Step = {
  id: 'join',
  title: 'join a room',
  needs: ['connect'],
  async run(state, deadline) {
    const [alice, bob] = peers(state);
    const first = await joinOne(state, alice, deadline);
    check(!state.freshRoom || first === 0, () => `a new room's "joined" should say seq 0; alice's said ${first}`);
    const second = await joinOne(state, bob, deadline);
    check(second >= first, () => `bob joined at seq ${second}, before alice's ${first}`);
    return `${state.room}: alice at seq ${first}, bob at seq ${second}`;
  },
};

const publish: Step = {
  id: 'publish',
  title: 'publish to the room',
  needs: ['join'],
  async run(state, deadline) {
    const [alice, bob] = peers(state);
    const data = { smoke: state.run, step: 'publish' };
    const mine = messageWith(data, (frame) => frame.room === state.room);
    alice.socket.send({ action: 'publish', room: state.room, data });
    const [toAlice, toBob, summary] = await allOf([
      alice.socket.next('its room message', mine, left(deadline)),
      bob.socket.next("alice's room message", mine, left(deadline)),
      finalSummary(alice.socket, (frame) => frame.room === state.room, deadline),
    ]);
    // Nothing else happens in the room: the message is the next number after bob's join.
    const seq = (bob.joinedSeq as number) + 1;
    checkOneMessage(toAlice, toBob, 'the room message', { seq, exact: true, why: `1 after bob's "joined"` });
    check(
      toBob.origin === 'client' && toBob.connectionId === alice.id,
      () => `expected a client message from alice's connection ${alice.id}, got ${brief(toBob)}`,
    );
    checkSummary(summary, { id: toAlice.id, seq, recipients: 2 });
    state.roomMessage = toBob;
    return `id ${toAlice.id} at seq ${seq} to both; summary: 2 of 2 sent`;
  },
};

const history: Step = {
  id: 'history',
  title: 'read history',
  needs: ['publish'],
  async run(state, deadline) {
    const [, bob] = peers(state);
    const kept = state.roomMessage as MessageFrame;
    bob.socket.send({ action: 'history', room: state.room, after: bob.joinedSeq as number });
    const answer = await bob.socket.next(
      '"history" answer',
      frameOf('history', (frame) => frame.room === state.room),
      left(deadline),
    );
    check(
      answer.messages.length === 1 && isDeepStrictEqual(answer.messages[0], kept),
      () => `expected the message of seq ${kept.seq} as delivered, got ${brief(answer.messages)}`,
    );
    check(
      answer.latest === kept.seq && !answer.more && !answer.gap,
      () => `expected latest ${kept.seq}, no more and no gap; got ${brief({ ...answer, messages: '…' })}`,
    );
    return `seq ${kept.seq} as delivered, latest ${answer.latest}`;
  },
};

const direct: Step = {
  id: 'direct',
  title: 'send a direct message',
  // With auth on, only to a connection of one's own user or of a room-mate: the room is shared.
  needs: ['join'],
  async run(state, deadline) {
    const [alice, bob] = peers(state);
    const data = { smoke: state.run, step: 'direct' };
    alice.socket.send({ action: 'send', connectionId: bob.id, data });
    const [got, summary] = await allOf([
      bob.socket.next(
        'the direct message',
        messageWith(data, (frame) => frame.to === bob.id),
        left(deadline),
      ),
      finalSummary(alice.socket, (frame) => frame.to === bob.id, deadline),
    ]);
    checkId(got.id, 'the direct message');
    check(got.seq === undefined, () => `a direct message has no seq; got ${got.seq}`);
    check(
      got.origin === 'client' && got.connectionId === alice.id,
      () => `expected a client message from alice's connection ${alice.id}, got ${brief(got)}`,
    );
    checkSummary(summary, { id: got.id, recipients: 1 });
    return `bob got id ${got.id}; summary: 1 of 1 sent`;
  },
};

/** The body of POST /publish's answer as a delivery summary, or a check that fails saying what came. */
function summaryOf(text: string): DeliveryFrame {
  let summary: unknown;
  try {
    summary = JSON.parse(text);
  } catch {
    summary = undefined;
  }
  const delivery = summary as DeliveryFrame;
  check(
    frameProblem(summary) === undefined && delivery.type === 'delivery',
    () => `expected a delivery summary, got ${brief(text)}`,
  );
  return delivery;
}

const postPublish: Step = {
  id: 'post',
  title: 'POST /publish, IAM-signed',
  needs: ['join'],
  async run(state, deadline) {
    const [alice, bob] = peers(state);
    const { publishUrl, region } = endpoints(state);
    const signer = await signerFor(publishUrl, left(deadline));
    const data = { smoke: state.run, step: 'POST /publish' };
    const mine = messageWith(data, (frame) => frame.room === state.room);
    const toAlice = alice.socket.next('the pushed room message', mine, left(deadline));
    const toBob = bob.socket.next('the pushed room message', mine, left(deadline));
    const answer = await signedPublish(
      publishUrl,
      { room: state.room, data },
      { signer, region: regionOfApiUrl(publishUrl) ?? region ?? 'us-east-1', timeoutMs: left(deadline) },
    );
    if (answer.status !== 200) {
      const iam = answer.status === 403 && !isLoopback(publishUrl);
      throw new SmokeCheckError(
        `POST ${publishUrl} answered ${answer.status}: ${brief(answer.text, 160) || '(no body)'}` +
          (iam ? '; IAM refused: your credentials need execute-api:Invoke on …/POST/publish' : ''),
      );
    }
    const summary = summaryOf(answer.text);
    const [a, b] = await allOf([toAlice, toBob]);
    // After the publish step, the next number; without it, at least the next after bob's join.
    const published = state.roomMessage?.seq;
    checkOneMessage(a, b, 'the pushed message', {
      seq: (published ?? (bob.joinedSeq as number)) + 1,
      exact: published !== undefined,
      why: published === undefined ? `after bob's "joined"` : "1 after the publish step's",
    });
    check(a.origin === 'server' && a.from === null, () => `expected a message from the server, got ${brief(a)}`);
    checkSummary(summary, { id: a.id, seq: a.seq as number, recipients: 2 });
    return `${signer.label}; id ${a.id} at seq ${a.seq} to both; summary: 2 of 2 sent`;
  },
};

const ping: Step = {
  id: 'ping',
  title: 'ping',
  needs: ['connect'],
  async run(state, deadline) {
    const [alice, bob] = peers(state);
    alice.socket.send({ action: 'ping' });
    bob.socket.send({ action: 'ping' });
    await allOf([
      alice.socket.next('pong', frameOf('pong'), left(deadline)),
      bob.socket.next('pong', frameOf('pong'), left(deadline)),
    ]);
    return 'both answered pong';
  },
};

const disconnect: Step = {
  id: 'disconnect',
  title: 'leave and disconnect',
  needs: ['connect'],
  async run(state, deadline) {
    const members = peers(state).filter((peer) => peer.joinedSeq !== undefined);
    for (const peer of members) peer.socket.send({ action: 'leave', room: state.room });
    const answers = await allOf(
      members.map((peer) =>
        peer.socket.next(
          `"left" for ${state.room}`,
          frameOf('left', (frame) => frame.room === state.room),
          left(deadline),
        ),
      ),
    );
    answers.forEach((answer, i) =>
      check(answer.wasMember, () => `${members[i]?.socket.name} left a room it was not in: ${brief(answer)}`),
    );
    await allOf(peers(state).map((peer) => peer.socket.close(left(deadline))));
    return `${members.length === 2 ? 'both left the room, then ' : ''}both closed normally (1000)`;
  },
};

/** The steps of a run, in order: with --stage, finding it first. */
export function plan(options: SmokeOptions): Step[] {
  const steps = [tokens, connect, join, publish, history, direct, postPublish, ping, disconnect];
  return options.stage === undefined ? steps : [findStage, ...steps];
}
