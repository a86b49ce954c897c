/**
 * Rights and membership at the handler, per action, with the store in memory and the
 * management API mocked: three users, alice and bob in `secret-room`, eve outside it.
 * Every refusal is a `forbidden` frame naming the room and what is missing; nothing is
 * delivered or stored. The real service and stores: test/e2e/rooms.test.ts.
 */
import type { RoomRights } from '../../src/auth/rooms';
import { connect, message, useStore } from '../../src/handler';
import { apiGatewayId, authorizedAs, connectEvent, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';

/** Connection ids of API Gateway's form: what a `send` or `publish` may name. */
const A1 = apiGatewayId('A1');
const A2 = apiGatewayId('A2');
const B1 = apiGatewayId('B1');
const E1 = apiGatewayId('E1');
const NOBODY = apiGatewayId('nobody');

Object.assign(process.env, {
  DB_HOST: 'db.invalid',
  DB_NAME: 'websockets',
  DB_USER: 'websockets',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-unit-AbCdEf',
  FANOUT_RETRY_BASE_MS: '1',
  MAX_CONNECTIONS_PER_USER: '3',
  WEBSOCKET_API_ENDPOINT: 'https://abc123.execute-api.us-east-1.amazonaws.com/dev',
});

const management = useManagementStandIn();
const posted = () => management.posted();
const ALL = ['join', 'publish', 'presence'] as const;
const MEMBERS: RoomRights = { 'secret-room': ALL, lobby: ALL };
const EVE: RoomRights = { lobby: ALL };

let store: MemoryStore;
let errors: jest.SpyInstance;
beforeEach(async () => {
  store = memoryStore();
  useStore(store);
  errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  const rows: [string, string][] = [
    [A1, 'alice'],
    [A2, 'alice'],
    [B1, 'bob'],
    [E1, 'eve'],
  ];
  for (const [i, [connectionId, subject]] of rows.entries()) {
    await store.add({ connectionId, connectedAt: 1_000 + i, subject });
  }
  await store.join(A1, 'secret-room', 50);
  await store.join(B1, 'secret-room', 50);
  for (const value of Object.values(store)) if (jest.isMockFunction(value)) value.mockClear();
});
afterEach(() => errors.mockRestore());

function from(connectionId: string, subject: string | null, rooms: RoomRights | undefined, body: unknown) {
  const event = messageEvent(body, connectionId, 'message');
  if (subject !== null) {
    event.requestContext.authorizer = rooms === undefined ? { principalId: subject } : authorizedAs(subject, rooms);
  }
  return message(event, lambdaContext());
}
const eve = (body: unknown, rooms: RoomRights = EVE) => from(E1, 'eve', rooms, body);

/** The frame eve gets; a refused request that named a room is named in it too (`action`, `room`). */
function refusal(details: Record<string, unknown>, action?: string) {
  const request = action === undefined ? {} : { action, room: details.room };
  return [{ to: E1, message: { type: 'error', code: 'forbidden', message: expect.any(String), details, ...request } }];
}

describe('join', () => {
  it('needs the join right: eve is refused secret-room and stays out of it', async () => {
    expect(await eve({ action: 'join', room: 'secret-room' })).toEqual({ statusCode: 400 });
    expect(posted()).toEqual(refusal({ room: 'secret-room', missing: 'join' }, 'join'));
    expect(store.join).not.toHaveBeenCalled();
    expect(store.rooms.get('secret-room')).toEqual(new Set([A1, B1]));
  });

  it('is allowed where a pattern grants it', async () => {
    expect(await eve({ action: 'join', room: 'team-7-dev' }, { 'team-7-*': ['join'] })).toEqual({ statusCode: 200 });
    expect(posted()).toEqual([{ to: E1, message: { type: 'joined', room: 'team-7-dev', seq: 0 } }]);
  });

  it('fails closed for a connection whose authorizer context carries no rights', async () => {
    expect(await from(E1, 'eve', undefined, { action: 'join', room: 'lobby' })).toEqual({ statusCode: 400 });
    expect(posted()).toEqual(refusal({ room: 'lobby', missing: 'join' }, 'join'));
  });
});

describe('presence events', () => {
  const NO_PRESENCE: RoomRights = { lobby: ['join', 'publish'], 'secret-room': ['join', 'publish'] };
  const presenceTo = () =>
    posted()
      .filter((post) => (post.message as { type?: unknown }).type === 'presence')
      .map((post) => post.to)
      .sort();

  it('reach only the members that joined with the presence right: bob, without it, hears no join or leave', async () => {
    await from(A1, 'alice', MEMBERS, { action: 'join', room: 'lobby' });
    await from(B1, 'bob', NO_PRESENCE, { action: 'join', room: 'lobby' });
    management.resetHistory();
    expect(await eve({ action: 'join', room: 'lobby' })).toEqual({ statusCode: 200 });
    expect(presenceTo()).toEqual([A1]);
    management.resetHistory();
    expect(await eve({ action: 'leave', room: 'lobby' })).toEqual({ statusCode: 200 });
    expect(presenceTo()).toEqual([A1]);
  });

  it('follow the right the member joined with, not the one of the newcomer', async () => {
    // bob is in lobby with every right; eve joins without the presence right and still announces herself.
    await from(B1, 'bob', MEMBERS, { action: 'join', room: 'lobby' });
    management.resetHistory();
    expect(await eve({ action: 'join', room: 'lobby' }, NO_PRESENCE)).toEqual({ statusCode: 200 });
    expect(presenceTo()).toEqual([B1]);
    management.resetHistory();
    expect(await from(B1, 'bob', MEMBERS, { action: 'leave', room: 'lobby' })).toEqual({ statusCode: 200 });
    expect(presenceTo()).toEqual([]);
  });
});

describe('publish', () => {
  it('needs the publish right: nothing reaches alice or bob', async () => {
    expect(await eve({ action: 'publish', room: 'secret-room', data: 'psst' })).toEqual({ statusCode: 400 });
    expect(posted()).toEqual(refusal({ room: 'secret-room', missing: 'publish' }, 'publish'));
    expect(store.audience).not.toHaveBeenCalled();
  });

  it('needs membership even with every right: nothing is delivered', async () => {
    expect(await eve({ action: 'publish', room: 'secret-room', data: 'psst' }, { '*': ALL })).toEqual({
      statusCode: 400,
    });
    expect(posted()).toEqual(refusal({ room: 'secret-room', missing: 'membership' }, 'publish'));
    // Refused in the write itself: the room's count did not move, nothing was kept.
    expect(store.audience).not.toHaveBeenCalled();
    expect(await store.roomHistory('secret-room', 0, 10, { maxPerRoom: 10, notBefore: 0 })).toEqual({
      latest: 0,
      messages: [],
    });
  });

  it('needs membership with auth off too', async () => {
    expect(await from(E1, null, undefined, { action: 'publish', room: 'secret-room', data: 1 })).toEqual({
      statusCode: 400,
    });
    expect(posted()).toEqual(refusal({ room: 'secret-room', missing: 'membership' }, 'publish'));
  });

  it('reaches the room for a member, checked in the write that numbers the message, then the audience once', async () => {
    expect(await from(A1, 'alice', MEMBERS, { action: 'publish', room: 'secret-room', data: 'hi' })).toEqual({
      statusCode: 200,
    });
    expect(
      posted()
        .filter((p) => p.message.type === 'message')
        .map((p) => p.to)
        .sort(),
    ).toEqual([A1, B1]);
    const reads = Object.entries(store)
      .filter(([, value]) => jest.isMockFunction(value) && (value as jest.Mock).mock.calls.length > 0)
      .map(([name]) => name)
      .filter((name) => name !== 'end');
    expect(reads.sort()).toEqual(['appendToRoom', 'audience']);
    // The store numbers the message only if the sender is in the room (one round trip).
    expect((store.appendToRoom as jest.Mock).mock.calls[0]?.[2]).toBe(A1);
  });
});

describe('members', () => {
  it('needs the presence right', async () => {
    await store.join(E1, 'secret-room', 50);
    expect(await eve({ action: 'members', room: 'secret-room' }, { 'secret-room': ['join'] })).toEqual({
      statusCode: 400,
    });
    expect(posted()).toEqual(refusal({ room: 'secret-room', missing: 'presence' }, 'members'));
  });

  it('needs membership: eve does not see who is in secret-room', async () => {
    expect(await eve({ action: 'members', room: 'secret-room' }, { '*': ALL })).toEqual({ statusCode: 400 });
    expect(posted()).toEqual(refusal({ room: 'secret-room', missing: 'membership' }, 'members'));
  });

  it('answers a member', async () => {
    expect(await from(B1, 'bob', MEMBERS, { action: 'members', room: 'secret-room' })).toEqual({ statusCode: 200 });
    expect(posted()[0]?.message).toMatchObject({ type: 'members', count: 2 });
  });
});

describe('list', () => {
  it('shows eve only her own connections with auth on', async () => {
    await eve({ action: 'list' });
    expect(posted()[0]?.message).toEqual({
      type: 'connections',
      you: E1,
      count: 1,
      connections: [{ connectionId: E1, connectedAt: 1_003, from: 'eve' }],
      truncated: false,
    });
    expect(store.list).not.toHaveBeenCalled();
  });

  it('shows every connection with auth off, as the original did', async () => {
    await from(E1, null, undefined, { action: 'list' });
    expect(posted()[0]?.message).toMatchObject({ type: 'connections', count: 4 });
  });
});

describe('send to a connection id', () => {
  it('does not reach a connection of another user who shares no room', async () => {
    expect(await eve({ action: 'send', connectionId: A1, data: 'hi' })).toEqual({ statusCode: 400 });
    expect(posted()).toEqual(refusal({ connectionId: A1, missing: 'shared_room' }));
  });

  it('is refused alike for an id that does not exist, so ids cannot be probed', async () => {
    expect(await eve({ action: 'send', connectionId: NOBODY, data: 'hi' })).toEqual({ statusCode: 400 });
    expect(posted()).toEqual(refusal({ connectionId: NOBODY, missing: 'shared_room' }));
  });

  it('reaches a room-mate and the sender’s own other connections, with one store read', async () => {
    expect(await from(B1, 'bob', MEMBERS, { action: 'send', connectionId: A1, data: 1 })).toEqual({
      statusCode: 200,
    });
    expect(await from(A2, 'alice', MEMBERS, { action: 'send', connectionId: A1, data: 2 })).toEqual({
      statusCode: 200,
    });
    expect(
      posted()
        .filter((p) => p.message.type === 'message')
        .map((p) => p.to),
    ).toEqual([A1, A1]);
    expect(store.reachable).toHaveBeenCalledTimes(2);
    expect(store.get).not.toHaveBeenCalled();
  });

  it('is unchanged to a user', async () => {
    expect(await eve({ action: 'send', user: 'alice', data: 'hi' })).toEqual({ statusCode: 200 });
    expect(
      posted()
        .filter((p) => p.message.type === 'message')
        .map((p) => p.to)
        .sort(),
    ).toEqual([A1, A2]);
  });
});

describe('MAX_CONNECTIONS_PER_USER (3 here)', () => {
  const connectAs = (connectionId: string, subject: string) => {
    const event = connectEvent(connectionId);
    event.requestContext.authorizer = authorizedAs(subject);
    return connect(event, lambdaContext());
  };

  it('refuses the next $connect with 429 and leaves no row', async () => {
    expect(await connectAs('A3', 'alice')).toEqual({ statusCode: 200 });
    expect(await connectAs('A4', 'alice')).toEqual({ statusCode: 429 });
    expect(store.rows.has('A4')).toBe(false);
    expect(await store.connectionsOf('alice')).toEqual([A1, A2, 'A3']);
    // another user is not affected
    expect(await connectAs('B2', 'bob')).toEqual({ statusCode: 200 });
  });

  it('admits none over the limit when handshakes of one user race', async () => {
    const results = await Promise.all(['X1', 'X2', 'X3', 'X4', 'X5'].map((id) => connectAs(id, 'mallory')));
    expect(results.filter((r) => r.statusCode === 200).length).toBeLessThanOrEqual(3);
    expect((await store.connectionsOf('mallory')).length).toBeLessThanOrEqual(3);
  });
});
