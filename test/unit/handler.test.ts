import { StoreError } from '../../src/errors';
import { connect, defaultHandler, disconnect, message, sweep } from '../../src/handler';
import { MAX_CONNECTION_AGE_MS } from '../../src/chat/housekeeping/sweep';
import { MAX_ROOMS_PER_CONNECTION } from '../../src/chat/rooms';
import { connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';
import type { MemoryStore } from '../support/stand-ins/memory-store';

const harness = useHandlerHarness({ LIST_PAGE_SIZE: '2' });
const management = harness.management;
const posted = () => management.posted();
/** What was logged at error, less the read-back of a lost write's outcome (test/unit/settle.test.ts). */
const loggedErrors = () =>
  harness.loggedErrors().filter((entry) => !String(entry.message).startsWith('store write outcome'));
const SENDER = 'L0SM9cOFvHcCIhw=';

let store: MemoryStore;
beforeEach(() => {
  store = harness.store;
});

async function connected(...ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) await store.add({ connectionId: id, connectedAt: 1_000 + i, subject: null });
  store.add.mockClear();
}

describe('connect', () => {
  it('stores the connection with its connected-at time and answers 200', async () => {
    const result = await connect(connectEvent(), lambdaContext());
    expect(result).toEqual({ statusCode: 200 });
    expect(store.rows.get(SENDER)).toEqual({ connectionId: SENDER, connectedAt: 1795817000000, subject: null });
  });

  it('stores the authorizer subject with the connection', async () => {
    const event = connectEvent();
    event.requestContext.authorizer = { principalId: 'alice' };
    await connect(event, lambdaContext());
    expect(store.rows.get(SENDER)?.subject).toBe('alice');
  });

  it('posts nothing: the socket does not exist until $connect has returned', async () => {
    await connect(connectEvent(), lambdaContext());
    expect(management.requests()).toEqual([]);
  });

  it('answers 500 and logs a typed error with the connection id when the store is down', async () => {
    store.add.mockRejectedValueOnce(new StoreError('MySQL add failed: ECONNREFUSED', 'add'));
    const result = await connect(connectEvent(), lambdaContext());
    expect(result).toEqual({ statusCode: 500 });
    expect(store.rows.size).toBe(0);
    expect(loggedErrors()).toEqual([
      expect.objectContaining({
        level: 'error',
        route: '$connect',
        connectionId: SENDER,
        statusCode: 500,
        error: expect.objectContaining({ name: 'StoreError', operation: 'add' }),
      }),
    ]);
  });

  it('removes the row of a handshake it refuses when the insert happened but its answer was lost', async () => {
    store.add.mockImplementationOnce(async (row) => {
      store.rows.set(row.connectionId, row);
      throw new StoreError('MySQL add failed: STORE_TIMEOUT: no answer within 3000 ms', 'add');
    });
    expect(await connect(connectEvent(), lambdaContext(10_000))).toEqual({ statusCode: 500 });
    expect(store.rows.size).toBe(0);
    expect(store.remove).toHaveBeenCalledWith(SENDER);
    expect(loggedErrors()).toEqual([
      expect.objectContaining({
        route: '$connect',
        statusCode: 500,
        error: expect.objectContaining({ name: 'StoreError' }),
      }),
    ]);
  });

  it('answers 502 for an unexpected failure', async () => {
    store.add.mockRejectedValueOnce(new TypeError('boom'));
    expect(await connect(connectEvent(), lambdaContext())).toEqual({ statusCode: 502 });
  });
});

describe('disconnect', () => {
  it('removes the connection and its rooms and answers 200', async () => {
    await connected(SENDER, 'other');
    await store.join(SENDER, 'red', 50);
    expect(await disconnect(disconnectEvent(), lambdaContext())).toEqual({ statusCode: 200 });
    expect([...store.rows.keys()]).toEqual(['other']);
    expect(store.rooms.size).toBe(0);
  });

  it('answers 500 when the store is down, and posts nothing: there is no one to tell', async () => {
    store.remove.mockRejectedValueOnce(new StoreError('down', 'remove'));
    expect(await disconnect(disconnectEvent(), lambdaContext())).toEqual({ statusCode: 500 });
    expect(management.requests()).toEqual([]);
  });
});

describe('default', () => {
  it('replies to the sender with the connection count and a bounded page of connections', async () => {
    await connected(SENDER, 'B', 'C');
    const result = await defaultHandler(messageEvent({}), lambdaContext());
    expect(result).toEqual({ statusCode: 200 });
    expect(posted()).toEqual([
      {
        to: SENDER,
        message: {
          type: 'connections',
          you: SENDER,
          count: 3,
          connections: [
            { connectionId: SENDER, connectedAt: 1000, from: null },
            { connectionId: 'B', connectedAt: 1001, from: null },
          ],
          truncated: true,
        },
      },
    ]);
  });

  it('posts through the management API of the API and stage the event came from', async () => {
    await connected(SENDER);
    await defaultHandler(messageEvent({}), lambdaContext());
    expect(management.endpoints()).toEqual(['https://abc123.execute-api.us-east-1.amazonaws.com/dev']);
    expect(management.requests()[0]?.path).toBe(`/dev/@connections/${encodeURIComponent(SENDER)}`);
  });

  it('removes the sender when API Gateway says it is gone (410), and that is not a failure', async () => {
    await connected(SENDER, 'B');
    management.answer(410);
    expect(await defaultHandler(messageEvent({}), lambdaContext())).toEqual({ statusCode: 200 });
    expect([...store.rows.keys()]).toEqual(['B']);
  });

  it('answers 502 and keeps the connection when posting fails otherwise', async () => {
    await connected(SENDER);
    management.answer(403);
    expect(await defaultHandler(messageEvent({}), lambdaContext())).toEqual({ statusCode: 502 });
    expect(store.rows.has(SENDER)).toBe(true);
    expect(loggedErrors()[0]).toMatchObject({
      route: '$default',
      connectionId: SENDER,
      error: { name: 'DeliveryError', statusCode: 403, retryable: false },
    });
  });

  it('answers 500 at once, without posting, when the function has no AWS credentials to sign with', async () => {
    await connected(SENDER);
    const saved = process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_ACCESS_KEY_ID;
    try {
      expect(await defaultHandler(messageEvent({}), lambdaContext())).toEqual({ statusCode: 500 });
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved;
    }
    expect(management.requests()).toEqual([]);
    expect(loggedErrors()[0]).toMatchObject({ statusCode: 500, error: { name: 'CredentialsError' } });
  });

  it('retries a throttled (429) reply and then delivers it', async () => {
    await connected(SENDER);
    management.answer(429, { times: 1 });
    expect(await defaultHandler(messageEvent({}), lambdaContext())).toEqual({ statusCode: 200 });
    expect(management.requests()).toHaveLength(2);
  });

  it('answers 500 when the store is down, after telling the sender', async () => {
    store.list.mockRejectedValueOnce(new StoreError('down', 'list'));
    expect(await defaultHandler(messageEvent({}), lambdaContext())).toEqual({ statusCode: 500 });
    expect(posted()).toEqual([
      { to: SENDER, message: expect.objectContaining({ type: 'error', code: 'unavailable' }) },
    ]);
  });

  it.each([
    ['not JSON', 'hello', 'invalid_json'],
    ['an unknown action', { action: 'dance' }, 'unknown_action'],
    ['a JSON array', [1, 2], 'invalid_message'],
  ])('replies with an error to %s, answers 400 and changes nothing', async (_what, body, code) => {
    await connected(SENDER);
    const before = new Map(store.rows);
    expect(await defaultHandler(messageEvent(body), lambdaContext())).toEqual({ statusCode: 400 });
    expect(posted()).toEqual([{ to: SENDER, message: expect.objectContaining({ type: 'error', code }) }]);
    expect(store.rows).toEqual(before);
  });

  it('names the valid actions when the action is unknown', async () => {
    await connected(SENDER);
    await defaultHandler(messageEvent({ action: 'dance' }), lambdaContext());
    expect(posted()[0]?.message.message).toMatch(/sendmessage, join, leave, publish, list/);
  });
});

describe('message', () => {
  it('broadcasts sendmessage to every connection and reports the delivery to the sender', async () => {
    await connected(SENDER, 'B', 'C');
    const result = await message(
      messageEvent({ action: 'sendmessage', data: { hi: 1 } }, SENDER, 'sendmessage'),
      lambdaContext(),
    );
    expect(result).toEqual({ statusCode: 200 });
    const deliveries = posted();
    expect(
      deliveries
        .filter((d) => d.message.type === 'message')
        .map((d) => d.to)
        .sort(),
    ).toEqual(['B', 'C', SENDER].sort());
    expect(deliveries.find((d) => d.to === 'B')?.message).toMatchObject({
      type: 'message',
      from: null,
      connectionId: SENDER,
      data: { hi: 1 },
    });
    expect(deliveries.at(-1)).toEqual({
      to: SENDER,
      message: { type: 'delivery', id: expect.any(String), recipients: 3, sent: 3, stale: 0, failed: 0, unsent: 0 },
    });
  });

  it('removes the connections that are gone, each with its rooms as $disconnect would (src/chat/fanout/gone.ts)', async () => {
    await connected(SENDER, 'B', 'C', 'D');
    management.answer(410, { to: 'B' });
    management.answer(410, { to: 'D' });
    await message(messageEvent({ action: 'sendmessage', data: 'x' }, SENDER, 'sendmessage'), lambdaContext());
    expect(store.removeMany).not.toHaveBeenCalled();
    expect(store.removeCounted.mock.calls.map((call) => call[0]).sort()).toEqual(['B', 'D']);
    expect([...store.rows.keys()].sort()).toEqual(['C', SENDER].sort());
    expect(posted().at(-1)?.message).toMatchObject({ type: 'delivery', sent: 2, stale: 2 });
  });

  it('publishes to the members of a room only', async () => {
    await connected(SENDER, 'B', 'C');
    await store.join('B', 'red', 50);
    await store.join(SENDER, 'red', 50);
    await message(messageEvent({ action: 'publish', room: 'red', data: 1 }, SENDER, 'publish'), lambdaContext());
    const recipients = posted()
      .filter((d) => d.message.type === 'message')
      .map((d) => d.to);
    expect(recipients.sort()).toEqual(['B', SENDER].sort());
    expect(posted().find((d) => d.to === 'B')?.message).toMatchObject({ room: 'red' });
  });

  it('joins and leaves rooms with a reply each', async () => {
    await connected(SENDER);
    await message(messageEvent({ action: 'join', room: 'red' }, SENDER, 'join'), lambdaContext());
    expect(store.rooms.get('red')).toEqual(new Set([SENDER]));
    await message(messageEvent({ action: 'leave', room: 'red' }, SENDER, 'leave'), lambdaContext());
    expect(store.rooms.has('red')).toBe(false);
    expect(posted().map((d) => d.message)).toEqual([
      { type: 'joined', room: 'red', seq: 0 },
      { type: 'left', room: 'red', wasMember: true },
    ]);
  });

  it('asks the store to join with the rooms limit and answers too_many_rooms when it is reached', async () => {
    await connected(SENDER);
    for (let i = 0; i < MAX_ROOMS_PER_CONNECTION; i++) await store.join(SENDER, `r${i}`, MAX_ROOMS_PER_CONNECTION);
    expect(await message(messageEvent({ action: 'join', room: 'one-more' }, SENDER, 'join'), lambdaContext())).toEqual({
      statusCode: 400,
    });
    expect(store.join).toHaveBeenLastCalledWith(SENDER, 'one-more', MAX_ROOMS_PER_CONNECTION, true); // true: auth off, the presence right
    // a room it is in already is still a success at the limit
    expect(await message(messageEvent({ action: 'join', room: 'r0' }, SENDER, 'join'), lambdaContext())).toEqual({
      statusCode: 200,
    });
    expect(posted().map((d) => d.message)).toEqual([
      expect.objectContaining({ type: 'error', code: 'too_many_rooms' }),
      { type: 'joined', room: 'r0', seq: 0 },
    ]);
    expect(store.rooms.has('one-more')).toBe(false);
  });

  it('does not claim a join for a connection the store does not know', async () => {
    await message(messageEvent({ action: 'join', room: 'red' }, SENDER, 'join'), lambdaContext());
    expect(posted().map((d) => d.message)).toEqual([
      expect.objectContaining({ type: 'error', code: 'unknown_connection' }),
    ]);
    expect(store.rooms.size).toBe(0);
  });

  it('refuses data too large for one API Gateway message before any fan-out', async () => {
    await connected(SENDER, 'B');
    const big = 'x'.repeat(128 * 1024);
    expect(
      await message(messageEvent({ action: 'sendmessage', data: big }, SENDER, 'sendmessage'), lambdaContext()),
    ).toEqual({ statusCode: 413 });
    expect(store.audience).not.toHaveBeenCalled();
    expect(posted()).toEqual([
      { to: SENDER, message: expect.objectContaining({ type: 'error', code: 'payload_too_large' }) },
    ]);
  });

  it('refuses an injection-shaped room name and stores nothing', async () => {
    await connected(SENDER);
    await message(
      messageEvent({ action: 'join', room: "x'; DROP TABLE connections; --" }, SENDER, 'join'),
      lambdaContext(),
    );
    expect(store.join).not.toHaveBeenCalled();
    expect(posted()[0]?.message).toMatchObject({ type: 'error', code: 'invalid_message' });
  });
});

describe('a message that fails (every message gets an answer)', () => {
  const join = () => messageEvent({ action: 'join', room: 'red' }, SENDER, 'join');

  // Warnings (the reply's own failure) are part of what these tests read.
  const level = process.env.LOG_LEVEL;
  beforeEach(() => {
    process.env.LOG_LEVEL = 'warn';
  });
  afterEach(() => {
    if (level === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = level;
  });

  it('tells the sender "unavailable" when the store fails, answers 500 and logs the StoreError', async () => {
    await connected(SENDER);
    // Down throughout: what the join did cannot be read back either.
    store.join.mockRejectedValue(new StoreError('MySQL join failed: STORE_TIMEOUT: no answer within 3000 ms', 'join'));
    store.roomsOf.mockRejectedValue(new StoreError('MySQL rooms failed: STORE_TIMEOUT', 'rooms'));
    expect(await message(join(), lambdaContext(13_000))).toEqual({ statusCode: 500 });
    expect(posted()).toEqual([
      {
        to: SENDER,
        message: { type: 'error', code: 'unavailable', message: expect.stringMatching(/try again/) },
      },
    ]);
    expect(loggedErrors()).toEqual([
      expect.objectContaining({
        level: 'error',
        route: 'message',
        connectionId: SENDER,
        statusCode: 500,
        error: expect.objectContaining({ name: 'StoreError', operation: 'join' }),
      }),
    ]);
  });

  it('tells the sender "internal" for anything unexpected, answers 502, and never sends the error itself', async () => {
    await connected(SENDER, 'B');
    store.audience.mockRejectedValueOnce(new TypeError('secret detail: cannot read x of undefined'));
    const result = await message(
      messageEvent({ action: 'sendmessage', data: 1 }, SENDER, 'sendmessage'),
      lambdaContext(),
    );
    expect(result).toEqual({ statusCode: 502 });
    expect(posted()).toEqual([{ to: SENDER, message: expect.objectContaining({ type: 'error', code: 'internal' }) }]);
    expect(JSON.stringify(posted())).not.toContain('secret detail');
    expect(loggedErrors()[0]).toMatchObject({ level: 'error', error: { name: 'TypeError' } });
  });

  it('keeps the original status and error when the reply fails too, and logs the reply failure as a warning', async () => {
    await connected(SENDER);
    store.join.mockRejectedValue(new StoreError('down', 'join'));
    store.roomsOf.mockRejectedValue(new StoreError('down', 'rooms'));
    management.answer(403);
    expect(await message(join(), lambdaContext(13_000))).toEqual({ statusCode: 500 });
    expect(loggedErrors()).toEqual([
      expect.objectContaining({
        level: 'error',
        statusCode: 500,
        error: expect.objectContaining({ name: 'StoreError' }),
      }),
      expect.objectContaining({
        level: 'warn',
        message: 'error reply failed',
        route: 'message',
        connectionId: SENDER,
        error: expect.objectContaining({ name: 'DeliveryError', statusCode: 403 }),
      }),
    ]);
  });

  it('does not wait for a reply that never comes: the handler still returns its 500', async () => {
    await connected(SENDER);
    store.list.mockRejectedValueOnce(new StoreError('down', 'list'));
    management.answer('silent'); // a silent endpoint
    const started = Date.now();
    expect(await defaultHandler(messageEvent({}), lambdaContext())).toEqual({ statusCode: 500 });
    expect(Date.now() - started).toBeLessThan(10_000); // bounded (2 s); it used to be forever
    expect(loggedErrors()[1]).toMatchObject({ level: 'warn', message: 'error reply failed' });
  }, 20_000);

  it('keeps the time a store failure after the fan-out needs: the fan-out stops that much earlier', async () => {
    await connected(SENDER, 'B', 'C');
    // 1 s margin + AFTER_FANOUT_MS (stale delete 3 s, error reply 2 s, end 1 s) = 7 s: with
    // 6.5 s left no delivery may start, or a database stalling at the delete would outlive the function.
    const result = await message(
      messageEvent({ action: 'sendmessage', data: 1 }, SENDER, 'sendmessage'),
      lambdaContext(6_500),
    );
    expect(result).toEqual({ statusCode: 200 });
    expect(posted()).toEqual([
      {
        to: SENDER,
        message: { type: 'delivery', id: expect.any(String), recipients: 3, sent: 0, stale: 0, failed: 0, unsent: 3 },
      },
    ]);
  });

  it('tells the sender when its reply itself could not be posted', async () => {
    await connected(SENDER);
    management.answer(400, { times: 1 });
    await message(join(), lambdaContext());
    expect(posted().map((d) => d.message)).toEqual([
      { type: 'joined', room: 'red', seq: 0 },
      expect.objectContaining({ type: 'error', code: 'unavailable' }),
    ]);
  });
});

describe('sweep', () => {
  it('removes connections older than API Gateway’s two-hour maximum', async () => {
    await store.add({
      connectionId: 'orphan',
      connectedAt: Date.now() - MAX_CONNECTION_AGE_MS - 60_000,
      subject: null,
    });
    await store.add({ connectionId: 'fresh', connectedAt: Date.now(), subject: null });
    expect(await sweep()).toMatchObject({ removed: 1, expired: 1, trimmed: 0 });
    expect([...store.rows.keys()]).toEqual(['fresh']);
  });

  it('fails loudly when the store is down, so Lambda records the failure', async () => {
    store.connectedBefore.mockRejectedValueOnce(new StoreError('down', 'sweep'));
    await expect(sweep()).rejects.toBeInstanceOf(StoreError);
  });
});

describe('connect and disconnect, given an event that is not theirs', () => {
  // serverless-offline routes {"action":"$connect"} and {"action":"$disconnect"} to these
  // functions as MESSAGE events (routeKey "$connect"/"$disconnect") on an open socket.
  it.each([
    ['disconnect', '$disconnect', disconnect],
    ['connect', '$connect', connect],
  ] as const)(
    '%s answers a message whose action is %s as any unknown action, with 400, and changes nothing',
    async (_name, routeKey, handler) => {
      await connected(SENDER, 'B');
      await store.join(SENDER, 'red', 50);
      const rows = structuredClone(store.rows);
      const rooms = structuredClone(store.rooms);

      const result = await handler(messageEvent({ action: routeKey }, SENDER, routeKey), lambdaContext());

      expect(result).toEqual({ statusCode: 400 });
      expect(store.add).not.toHaveBeenCalled();
      expect(store.remove).not.toHaveBeenCalled();
      expect(store.rows).toEqual(rows);
      expect(store.rooms).toEqual(rooms);
      const reply = posted();
      expect(reply).toEqual([
        { to: SENDER, message: expect.objectContaining({ type: 'error', code: 'unknown_action' }) },
      ]);

      // Word for word what the message routes answer to the same action.
      management.resetHistory();
      await defaultHandler(messageEvent({ action: routeKey }), lambdaContext());
      expect(posted()).toEqual(reply);
    },
  );

  it('does its work only for its own event type, and posts nothing to a socket that may not exist', async () => {
    await connected(SENDER);

    expect(await connect(disconnectEvent(), lambdaContext())).toEqual({ statusCode: 400 });
    expect(await disconnect(connectEvent(), lambdaContext())).toEqual({ statusCode: 400 });

    expect(store.add).not.toHaveBeenCalled();
    expect(store.remove).not.toHaveBeenCalled();
    expect(store.rows.has(SENDER)).toBe(true);
    expect(management.requests()).toEqual([]);
  });
});
