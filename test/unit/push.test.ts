/**
 * At the handler level: direct messages, server-side publish (Lambda invoke and
 * POST /publish), presence and ping, with the store in memory and the management API
 * mocked. The real stores are proven by the contract suite, the real service by
 * test/e2e/push.test.ts.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { StoreError } from '../../src/errors';
import { disconnect, message, publish } from '../../src/handler';
import {
  disconnectEvent,
  lambdaContext,
  messageEvent,
  publishHttpEvent,
  authorizedAs,
  apiGatewayId,
} from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';

/** Connection ids of API Gateway's form: what a `send` or `publish` may name. */
const A1 = apiGatewayId('A1');
const A2 = apiGatewayId('A2');
const B1 = apiGatewayId('B1');
const C1 = apiGatewayId('C1');
const NOT_OURS = apiGatewayId('notours');

const harness = useHandlerHarness({ LIST_PAGE_SIZE: '2', PRESENCE_MAX_MEMBERS: '3' });
const management = harness.management;
const posted = () => management.posted();
const ofType = (type: string) => posted().filter((p) => p.message.type === type);
const recipientsOf = (type: string) => ofType(type).map((p) => p.to);

let store: MemoryStore;
beforeEach(() => {
  store = harness.store;
});

/** Connections as [id, subject] pairs, oldest first. */
async function connected(...connections: [string, string | null][]): Promise<void> {
  for (const [i, [connectionId, subject]] of connections.entries()) {
    await store.add({ connectionId, connectedAt: 1_000 + i, subject });
  }
}

function clearSpies(): void {
  for (const value of Object.values(store)) if (jest.isMockFunction(value)) value.mockClear();
}

/** A message from `connectionId`, authorized as `subject` (null: auth off). */
function from(connectionId: string, subject: string | null, body: unknown, route = 'message') {
  const event = messageEvent(body, connectionId, route);
  if (subject !== null) event.requestContext.authorizer = authorizedAs(subject);
  return message(event, lambdaContext());
}

describe('send to a user', () => {
  beforeEach(() => connected([A1, 'alice'], [A2, 'alice'], [B1, 'bob'], [C1, 'carol']));

  it('reaches every connection of the user and nobody else, and reports the delivery to the sender', async () => {
    expect(await from(B1, 'bob', { action: 'send', user: 'alice', data: { text: 'hi' } }, 'send')).toEqual({
      statusCode: 200,
    });
    expect(recipientsOf('message').sort()).toEqual([A1, A2]);
    expect(ofType('message')[0]?.message).toEqual({
      type: 'message',
      id: expect.any(String),
      user: 'alice',
      from: 'bob',
      connectionId: B1,
      origin: 'client',
      sentAt: expect.any(Number),
      data: { text: 'hi' },
    });
    expect(ofType('delivery')).toEqual([
      {
        to: B1,
        message: {
          type: 'delivery',
          id: expect.any(String),
          user: 'alice',
          recipients: 2,
          sent: 2,
          stale: 0,
          failed: 0,
          unsent: 0,
        },
      },
    ]);
  });

  it('finds the connections with one store query on the subject', async () => {
    clearSpies();
    await from(B1, 'bob', { action: 'send', user: 'alice', data: 1 }, 'send');
    expect(store.connectionsOf).toHaveBeenCalledWith('alice');
    expect(store.audience).not.toHaveBeenCalled();
    expect(store.list).not.toHaveBeenCalled();
  });

  it('reports no recipients for a user with no open connection', async () => {
    await from(B1, 'bob', { action: 'send', user: 'dave', data: 1 }, 'send');
    expect(posted()).toEqual([{ to: B1, message: expect.objectContaining({ type: 'delivery', recipients: 0 }) }]);
  });

  it("removes the user's connections that are gone (410)", async () => {
    management.answer(410, { to: A2 });
    await from(B1, 'bob', { action: 'send', user: 'alice', data: 1 }, 'send');
    expect(store.rows.has(A2)).toBe(false);
    expect(ofType('delivery')[0]?.message).toMatchObject({ recipients: 2, sent: 1, stale: 1 });
  });

  it('answers auth_required when authorization is off (no connection has a user), and sends nothing', async () => {
    clearSpies();
    expect(await from(B1, null, { action: 'send', user: 'alice', data: 1 }, 'send')).toEqual({ statusCode: 400 });
    expect(posted()).toEqual([{ to: B1, message: expect.objectContaining({ type: 'error', code: 'auth_required' }) }]);
    expect(store.connectionsOf).not.toHaveBeenCalled();
  });

  it.each([
    ['no target', { action: 'send', data: 1 }],
    ['both targets', { action: 'send', user: 'alice', connectionId: A1, data: 1 }],
    ['no data', { action: 'send', user: 'alice' }],
  ])('refuses %s with invalid_message and sends nothing else', async (_what, body) => {
    expect(await from(B1, 'bob', body, 'send')).toEqual({ statusCode: 400 });
    expect(posted()).toEqual([
      { to: B1, message: expect.objectContaining({ type: 'error', code: 'invalid_message' }) },
    ]);
  });

  it('answers 500 when the store is down', async () => {
    store.connectionsOf.mockRejectedValueOnce(new StoreError('down', 'connections of'));
    expect(await from(B1, 'bob', { action: 'send', user: 'alice', data: 1 }, 'send')).toEqual({ statusCode: 500 });
    expect(ofType('message')).toEqual([]);
  });
});

describe('send to a connection', () => {
  beforeEach(() => connected([A1, null], [B1, null], [C1, null]));

  it('reaches that one connection, named in the message and the summary as `to`', async () => {
    await from(B1, null, { action: 'send', connectionId: A1, data: 'psst' }, 'send');
    expect(ofType('message')).toEqual([
      {
        to: A1,
        message: {
          type: 'message',
          id: expect.any(String),
          to: A1,
          from: null,
          connectionId: B1,
          origin: 'client',
          sentAt: expect.any(Number),
          data: 'psst',
        },
      },
    ]);
    expect(ofType('delivery')[0]?.message).toEqual({
      type: 'delivery',
      id: expect.any(String),
      to: A1,
      recipients: 1,
      sent: 1,
      stale: 0,
      failed: 0,
      unsent: 0,
    });
  });

  it('posts nothing to a connection the store does not know', async () => {
    await from(B1, null, { action: 'send', connectionId: NOT_OURS, data: 1 }, 'send');
    expect(posted()).toEqual([{ to: B1, message: expect.objectContaining({ type: 'delivery', recipients: 0 }) }]);
  });

  it('removes the connection when it is gone (410)', async () => {
    management.answer(410, { to: A1 });
    await from(B1, null, { action: 'send', connectionId: A1, data: 1 }, 'send');
    expect(store.rows.has(A1)).toBe(false);
    expect(ofType('delivery')[0]?.message).toMatchObject({ recipients: 1, sent: 0, stale: 1 });
  });
});

describe('members', () => {
  it('answers a bounded page of the room with each member’s user and the exact count', async () => {
    await connected([A1, 'alice'], [B1, 'bob'], [C1, 'carol'], ['D1', 'dave']);
    for (const id of [A1, B1, C1, 'D1']) await store.join(id, 'lobby', 50, true);
    await from('D1', 'dave', { action: 'members', room: 'lobby' }, 'members');
    expect(posted()).toEqual([
      {
        to: 'D1',
        message: {
          type: 'members',
          room: 'lobby',
          count: 4,
          members: [
            { connectionId: A1, from: 'alice' },
            { connectionId: B1, from: 'bob' },
          ],
          truncated: true,
          userCount: 4,
          users: [
            { user: 'alice', from: 'alice', connections: 1 },
            { user: 'bob', from: 'bob', connections: 1 },
          ],
        },
      },
    ]);
  });

  it('answers a member alone in its room with count 1', async () => {
    await connected([A1, null]);
    await store.join(A1, 'just-me', 50, true);
    await from(A1, null, { action: 'members', room: 'just-me' }, 'members');
    expect(posted()[0]?.message).toEqual({
      type: 'members',
      room: 'just-me',
      count: 1,
      members: [{ connectionId: A1, from: null }],
      truncated: false,
      userCount: 1,
      users: [{ user: A1, from: null, connections: 1 }],
    });
  });

  it('refuses a connection outside the room with forbidden, auth off too, and answers nothing else', async () => {
    await connected([A1, null], [B1, null]);
    await store.join(B1, 'lobby', 50, true);
    expect(await from(A1, null, { action: 'members', room: 'lobby' }, 'members')).toEqual({ statusCode: 400 });
    expect(posted()).toEqual([
      {
        to: A1,
        message: {
          type: 'error',
          code: 'forbidden',
          message: expect.any(String),
          details: { room: 'lobby', missing: 'membership' },
          action: 'members',
          room: 'lobby',
        },
      },
    ]);
  });

  it('refuses a bad room and answers 500 when the store is down', async () => {
    await connected([A1, null]);
    expect(await from(A1, null, { action: 'members', room: 'a b' }, 'members')).toEqual({ statusCode: 400 });
    store.members.mockRejectedValueOnce(new StoreError('down', 'members'));
    await store.join(A1, 'lobby', 50, true);
    expect(await from(A1, null, { action: 'members', room: 'lobby' }, 'members')).toEqual({ statusCode: 500 });
  });
});

describe('ping', () => {
  it('answers pong with the time, and touches the store not at all (not even its end())', async () => {
    await connected([A1, null]);
    clearSpies();
    const before = Date.now();
    expect(await from(A1, null, { action: 'ping' }, 'ping')).toEqual({ statusCode: 200 });
    expect(posted()).toEqual([{ to: A1, message: { type: 'pong', at: expect.any(Number) } }]);
    expect(posted()[0]?.message.at).toBeGreaterThanOrEqual(before);
    const calls = Object.entries(store)
      .filter(([, value]) => jest.isMockFunction(value))
      .map(([name, value]) => [name, (value as jest.Mock).mock.calls.length])
      .filter(([, count]) => count !== 0);
    expect(calls).toEqual([]);
  });

  it('does not end a store that an earlier invocation of the same container used', async () => {
    await connected([A1, null]);
    await from(A1, null, { action: 'list' }, '$default');
    expect(store.end).toHaveBeenCalledTimes(1);
    await from(A1, null, { action: 'ping' }, 'ping');
    expect(store.end).toHaveBeenCalledTimes(1);
  });
});

describe('presence (PRESENCE_MAX_MEMBERS=3 here)', () => {
  it('tells the other members of a room that a connection joined, with who it is', async () => {
    await connected([A1, 'alice'], [B1, 'bob'], [C1, 'carol']);
    await store.join(A1, 'lobby', 50, true);
    await store.join(B1, 'lobby', 50, true);
    await from(C1, 'carol', { action: 'join', room: 'lobby' }, 'join');
    expect(ofType('joined')).toEqual([{ to: C1, message: { type: 'joined', room: 'lobby', seq: 1 } }]);
    expect(recipientsOf('presence').sort()).toEqual([A1, B1]);
    expect(ofType('presence')[0]?.message).toEqual({
      type: 'presence',
      id: expect.any(String),
      seq: 1,
      room: 'lobby',
      event: 'join',
      connectionId: C1,
      from: 'carol',
      user: 'carol',
      connections: 1,
      first: true,
    });
  });

  it('tells the others when a member leaves, and nobody when a non-member "leaves"', async () => {
    await connected([A1, 'alice'], [B1, 'bob'], [C1, 'carol']);
    for (const id of [A1, B1]) await store.join(id, 'lobby', 50, true);
    await from(B1, 'bob', { action: 'leave', room: 'lobby' }, 'leave');
    expect(ofType('presence')).toEqual([
      {
        to: A1,
        message: {
          type: 'presence',
          id: expect.any(String),
          seq: 1,
          room: 'lobby',
          event: 'leave',
          connectionId: B1,
          from: 'bob',
          reason: 'leave',
          user: 'bob',
          connections: 0,
          last: true,
        },
      },
    ]);
    management.resetHistory();
    await from(C1, 'carol', { action: 'leave', room: 'lobby' }, 'leave');
    expect(ofType('presence')).toEqual([]);
  });

  it('tells every room a disconnecting connection was in, after removing it', async () => {
    await connected([A1, 'alice'], [B1, 'bob'], [C1, 'carol']);
    for (const id of [A1, B1]) await store.join(id, 'red', 50, true);
    for (const id of [A1, C1]) await store.join(id, 'blue', 50, true);
    const event = disconnectEvent(A1);
    event.requestContext.authorizer = authorizedAs('alice');
    expect(await disconnect(event, lambdaContext())).toEqual({ statusCode: 200 });
    expect(store.rows.has(A1)).toBe(false);
    expect(ofType('presence').sort((a, b) => a.to.localeCompare(b.to))).toEqual([
      {
        to: B1,
        message: {
          type: 'presence',
          id: expect.any(String),
          seq: 1,
          room: 'red',
          event: 'leave',
          connectionId: A1,
          from: 'alice',
          reason: 'disconnect',
          user: 'alice',
          connections: 0,
          last: true,
        },
      },
      {
        to: C1,
        message: {
          type: 'presence',
          id: expect.any(String),
          seq: 1,
          room: 'blue',
          event: 'leave',
          connectionId: A1,
          from: 'alice',
          reason: 'disconnect',
          user: 'alice',
          connections: 0,
          last: true,
        },
      },
    ]);
  });

  it('posts nothing when a connection in no room disconnects', async () => {
    await connected([A1, null], [B1, null]);
    expect(await disconnect(disconnectEvent(A1), lambdaContext())).toEqual({ statusCode: 200 });
    expect(management.requests()).toEqual([]);
  });

  it('sends no presence events in a room above the threshold', async () => {
    await connected([A1, null], [B1, null], [C1, null], ['D1', null], ['E1', null]);
    for (const id of [A1, B1, C1]) await store.join(id, 'big', 50, true);
    await from('D1', null, { action: 'join', room: 'big' }, 'join'); // 4 members now
    await from(A1, null, { action: 'leave', room: 'big' }, 'leave'); // was 4 with A1
    expect(ofType('presence')).toEqual([]);
    await from(B1, null, { action: 'leave', room: 'big' }, 'leave'); // was 3 with B1: C1, D1 hear it
    expect(recipientsOf('presence').sort()).toEqual([C1, 'D1']);
    management.resetHistory();
    for (const id of [A1, B1, 'E1']) await store.join(id, 'big', 50, true);
    await disconnect(disconnectEvent('E1'), lambdaContext()); // was 5 with E1
    expect(ofType('presence')).toEqual([]);
  });

  it('removes a member that is gone (410) while telling the room', async () => {
    await connected([A1, null], [B1, null], [C1, null]);
    for (const id of [A1, B1]) await store.join(id, 'lobby', 50, true);
    management.answer(410, { to: B1 });
    await from(C1, null, { action: 'join', room: 'lobby' }, 'join');
    expect(store.rows.has(B1)).toBe(false);
    expect(store.rooms.get('lobby')).toEqual(new Set([A1, C1]));
  });
});

describe('publish (the function backends invoke)', () => {
  beforeEach(() => connected([A1, 'alice'], [A2, 'alice'], [B1, 'bob'], [C1, null]));

  const serverMessage = (extra: Record<string, unknown>, data: unknown) => ({
    type: 'message',
    id: expect.any(String),
    ...extra,
    from: null,
    origin: 'server',
    sentAt: expect.any(Number),
    data,
  });

  it('sends to a room and returns the delivery summary', async () => {
    await store.join(A1, 'lobby', 50, true);
    await store.join(B1, 'lobby', 50, true);
    const summary = await publish({ room: 'lobby', data: { text: 'deploy finished' } }, lambdaContext());
    expect(summary).toEqual({
      type: 'delivery',
      id: expect.any(String),
      seq: 1,
      room: 'lobby',
      recipients: 2,
      sent: 2,
      stale: 0,
      failed: 0,
      unsent: 0,
    });
    expect(recipientsOf('message').sort()).toEqual([A1, B1]);
    expect(ofType('message')[0]?.message).toEqual(
      serverMessage({ room: 'lobby', seq: 1 }, { text: 'deploy finished' }),
    );
  });

  it('sends to every connection of a user', async () => {
    expect(await publish({ user: 'alice', data: 1 }, lambdaContext())).toMatchObject({ user: 'alice', recipients: 2 });
    expect(recipientsOf('message').sort()).toEqual([A1, A2]);
    expect(ofType('message')[0]?.message).toEqual(serverMessage({ user: 'alice' }, 1));
  });

  it('sends to one connection', async () => {
    expect(await publish({ connectionId: C1, data: 2 }, lambdaContext())).toMatchObject({ to: C1, sent: 1 });
    expect(ofType('message')).toEqual([{ to: C1, message: serverMessage({ to: C1 }, 2) }]);
  });

  it('sends to everyone without a target', async () => {
    expect(await publish({ data: 3 }, lambdaContext())).toEqual({
      type: 'delivery',
      id: expect.any(String),
      recipients: 4,
      sent: 4,
      stale: 0,
      failed: 0,
      unsent: 0,
    });
    expect(ofType('message')[0]?.message).toEqual(serverMessage({}, 3));
  });

  it('posts through the WebSocket API named by WEBSOCKET_API_ENDPOINT', async () => {
    await publish({ data: 1 }, lambdaContext());
    expect(management.endpoints()).toEqual(['https://abc123.execute-api.us-east-1.amazonaws.com/dev']);
    expect(management.requests()[0]?.path).toMatch(/^\/dev\/@connections\//);
  });

  it('removes connections that are gone and counts them', async () => {
    management.answer(410, { to: B1 });
    expect(await publish({ data: 1 }, lambdaContext())).toMatchObject({ recipients: 4, sent: 3, stale: 1 });
    expect(store.rows.has(B1)).toBe(false);
  });

  it.each([
    ['two targets', { room: 'lobby', user: 'alice', data: 1 }, 'invalid_message'],
    ['a misspelt target', { rooms: 'lobby', data: 1 }, 'invalid_message'],
    ['no data', { room: 'lobby' }, 'invalid_message'],
    ['too much data', { data: 'x'.repeat(131_000) }, 'payload_too_large'],
  ])('answers %s with the error code, as the socket would, and sends nothing', async (_what, payload, code) => {
    expect(await publish(payload, lambdaContext())).toEqual({
      type: 'error',
      code,
      message: expect.any(String),
      details: expect.anything(),
    });
    expect(management.requests()).toEqual([]);
  });

  it('ends the store after a delivery, and does not touch it for a refused request', async () => {
    await publish({ data: 1 }, lambdaContext());
    expect(store.end).toHaveBeenCalledTimes(1);
    await publish({ room: 'a b', data: 1 }, lambdaContext());
    expect(store.end).toHaveBeenCalledTimes(1);
  });

  it('fails the invocation with the typed error when the store is down', async () => {
    store.audience.mockRejectedValueOnce(new StoreError('down', 'audience'));
    await expect(publish({ data: 1 }, lambdaContext())).rejects.toBeInstanceOf(StoreError);
    expect(management.requests()).toEqual([]);
  });
});

describe('POST /publish (the HTTP API)', () => {
  beforeEach(() => connected([A1, 'alice'], [B1, 'bob']));

  async function post(event: Parameters<typeof publish>[0]) {
    const result = (await publish(event, lambdaContext())) as APIGatewayProxyStructuredResultV2;
    return { status: result.statusCode, type: result.headers?.['content-type'], body: JSON.parse(String(result.body)) };
  }

  it('answers 200 with the delivery summary', async () => {
    await store.join(B1, 'lobby', 50, true);
    expect(await post(publishHttpEvent({ room: 'lobby', data: 'hi' }))).toEqual({
      status: 200,
      type: 'application/json',
      body: {
        type: 'delivery',
        id: expect.any(String),
        seq: 1,
        room: 'lobby',
        recipients: 1,
        sent: 1,
        stale: 0,
        failed: 0,
        unsent: 0,
      },
    });
    expect(ofType('message')).toEqual([
      { to: B1, message: expect.objectContaining({ room: 'lobby', from: null, origin: 'server', data: 'hi' }) },
    ]);
  });

  it('reads a base64-encoded body', async () => {
    expect(await post(publishHttpEvent({ user: 'alice', data: 1 }, { base64: true }))).toMatchObject({
      status: 200,
      body: { user: 'alice', recipients: 1 },
    });
  });

  it.each([
    ['a body that is not JSON', 'room=lobby', 400, 'invalid_json'],
    ['two targets', { room: 'lobby', connectionId: A1, data: 1 }, 400, 'invalid_message'],
    ['too much data', { data: 'x'.repeat(131_000) }, 413, 'payload_too_large'],
  ])('answers %s with its status and error code, and sends nothing', async (_what, body, status, code) => {
    const answer = await post(publishHttpEvent(body));
    expect(answer).toMatchObject({ status, body: { type: 'error', code, message: expect.any(String) } });
    expect(management.requests()).toEqual([]);
  });

  it('answers 500 "unavailable" when the store is down, logging the cause but not sending it', async () => {
    store.audience.mockRejectedValueOnce(new StoreError('MySQL audience failed: ECONNREFUSED', 'audience'));
    const answer = await post(publishHttpEvent({ data: 1 }));
    expect(answer).toEqual({
      status: 500,
      type: 'application/json',
      body: { type: 'error', code: 'unavailable', message: expect.any(String) },
    });
    expect(JSON.stringify(answer.body)).not.toContain('ECONNREFUSED');
    const logged = harness.loggedErrors();
    expect(logged).toContainEqual(
      expect.objectContaining({
        route: 'POST /publish',
        statusCode: 500,
        error: expect.objectContaining({ name: 'StoreError' }),
      }),
    );
  });
});

describe('publish without a WebSocket API endpoint', () => {
  it('fails with a ConfigError that names the setting', async () => {
    const saved = { ...process.env };
    delete process.env.WEBSOCKET_API_ENDPOINT;
    try {
      await jest.isolateModulesAsync(async () => {
        const fresh = await import('../../src/handler');
        fresh.useStore(memoryStore());
        await expect(fresh.publish({ data: 1 }, lambdaContext())).rejects.toThrow(/WEBSOCKET_API_ENDPOINT is not set/);
      });
    } finally {
      process.env = saved;
    }
  });
});
