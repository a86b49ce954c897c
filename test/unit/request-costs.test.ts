/**
 * What each kind of message costs in API Gateway requests (infra/request-costs.js, the table of
 * docs/protocol.md#what-a-message-costs and the capacity model's M + 2) is what the handlers
 * really do: the message (or the handshake, or the HTTP request) is one request, and every post
 * the management API's stand-in receives for it is one more. Counted for audiences of several
 * sizes, with each opt-out.
 */
import { apiRequests, KINDS } from '../../infra/request-costs';
import { connect, disconnect, message, publish } from '../../src/handler';
import type { WebSocketEvent } from '../../src/handler';
import {
  apiGatewayId,
  authorizedAs,
  connectEvent,
  disconnectEvent,
  lambdaContext,
  messageEvent,
  publishHttpEvent,
} from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';

const harness = useHandlerHarness({ PRESENCE_MAX_MEMBERS: '100' });
const management = harness.management;
const ROOM = 'lobby';
const SENDER = apiGatewayId('sender');
const id = (i: number) => apiGatewayId(`member${i}`);

/** The sender and `others` more connections, all in ROOM; `user` is the others' subject. */
async function seed(others: number, user: string | null = null) {
  const store = harness.store;
  await store.add({ connectionId: SENDER, connectedAt: 0, subject: 'sam' });
  await store.join(SENDER, ROOM, 50, true);
  for (let i = 0; i < others; i++) {
    await store.add({ connectionId: id(i), connectedAt: i + 1, subject: user });
    await store.join(id(i), ROOM, 50, true);
  }
  management.resetHistory();
}

/** A message from the sender, signed in as `sam` (so `send` to a user may be tried). */
function from(body: Record<string, unknown>, subject = 'sam'): WebSocketEvent {
  const event = messageEvent(JSON.stringify(body), SENDER, String(body.action ?? '$default'));
  event.requestContext.authorizer = authorizedAs(subject);
  return event;
}

/** Requests one message cost: itself, and every post made for it. */
async function requestsOf(run: () => Promise<unknown>, inbound = 1): Promise<number> {
  management.resetHistory();
  await run();
  return inbound + management.requests().length;
}

const opts = [{}, { echo: false }, { summary: false }, { echo: false, summary: false }];
const context = () => lambdaContext();

describe.each([1, 3, 7])('with %i others in the room', (others) => {
  const members = others + 1;

  it.each(opts)('sendmessage, publish and an ephemeral publish cost what the table says (%o)', async (options) => {
    await seed(others);
    const data = { text: 'x' };
    expect(await requestsOf(() => message(from({ action: 'sendmessage', data, ...options }), context()))).toBe(
      apiRequests('sendmessage', members, options),
    );
    expect(await requestsOf(() => message(from({ action: 'publish', room: ROOM, data, ...options }), context()))).toBe(
      apiRequests('publish', members, options),
    );
    const ephemeral = { action: 'publish', room: ROOM, data, ephemeral: true, ...options };
    expect(await requestsOf(() => message(from(ephemeral), context()))).toBe(
      apiRequests('publish-ephemeral', members, options),
    );
  });

  it.each(opts)('send to a user and to one connection cost what the table says (%o)', async (options) => {
    await seed(others, 'ula');
    const data = 1;
    expect(await requestsOf(() => message(from({ action: 'send', user: 'ula', data, ...options }), context()))).toBe(
      apiRequests('send-user', others, { ...options, own: false }),
    );
    // to one's own user: the sender's connection is one of them
    expect(await requestsOf(() => message(from({ action: 'send', user: 'sam', data, ...options }), context()))).toBe(
      apiRequests('send-user', 1, { ...options, own: true }),
    );
    const toOne = { action: 'send', connectionId: id(0), data, ...options };
    expect(await requestsOf(() => message(from(toOne, 'ula'), context()))).toBe(
      apiRequests('send-connection', 1, options),
    );
  });

  it('join, leave and a connection closing in the room cost what the table says', async () => {
    await seed(others);
    await harness.store.add({ connectionId: apiGatewayId('joiner'), connectedAt: 99, subject: null });
    const joiner = (body: Record<string, unknown>) =>
      messageEvent(JSON.stringify(body), apiGatewayId('joiner'), String(body.action));
    // the room has members + 1 once joined, and as many before the leave
    expect(await requestsOf(() => message(joiner({ action: 'join', room: ROOM }), context()))).toBe(
      apiRequests('join', members + 1),
    );
    expect(await requestsOf(() => message(joiner({ action: 'leave', room: ROOM }), context()))).toBe(
      apiRequests('leave', members + 1),
    );
    expect(await requestsOf(() => disconnect(disconnectEvent(SENDER), context()))).toBe(
      apiRequests('$disconnect', members),
    );
  });

  it('a backend’s POST /publish costs the HTTP request and its posts', async () => {
    await seed(others);
    const request = publishHttpEvent({ room: ROOM, data: 'from the backend' });
    expect(await requestsOf(() => publish(request, context()))).toBe(apiRequests('push-http', members));
  });
});

describe('the rest', () => {
  it.each([
    ['list', { action: 'list' }],
    ['members', { action: 'members', room: ROOM }],
    ['history', { action: 'history', room: ROOM }],
    ['ping', { action: 'ping' }],
    ['a refused message', { action: 'dance' }],
  ])('%s costs what the table says: the message and its answer', async (_what, body) => {
    await seed(3);
    expect(await requestsOf(() => message(from(body), context()))).toBe(apiRequests('answer', 4));
  });

  it('a handshake is one request: nothing is posted from $connect', async () => {
    expect(await requestsOf(() => connect(connectEvent(apiGatewayId('new')), context()))).toBe(
      apiRequests('$connect', 0),
    );
  });

  it('knows no kind it does not check here', () => {
    expect(Object.keys(KINDS).sort()).toEqual(
      [
        'sendmessage',
        'publish',
        'publish-ephemeral',
        'send-user',
        'send-connection',
        'join',
        'leave',
        'answer',
        '$connect',
        '$disconnect',
        'push-http',
      ].sort(),
    );
    expect(() => apiRequests('dance', 1)).toThrow('no message kind dance');
  });
});
