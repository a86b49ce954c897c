/**
 * Identifiers at the protocol's edge: a connection id a client (`send`) or a backend (`publish`)
 * names must be one API Gateway or serverless-offline can make, and a user must be a name a
 * token's `sub` can be. Anything else is refused with an error frame before the store is asked,
 * so no spelling of another's id (`"<id> "`) can find, post to or remove that connection, even
 * on a store that pads as MySQL's utf8mb4_bin did. The stores' own byte-exactness is the
 * contract suite's (test/integration/identifier-contract.ts).
 */
import { randomUUID } from 'node:crypto';
import { BadMessageError } from '../../src/errors';
import { audienceOf } from '../../src/chat/fanout/envelope';
import { CONNECTION_ID_PATTERN, parseCommand, parsePublishRequest } from '../../src/chat/protocol';
import { message, publish } from '../../src/handler';
import { authorizedAs, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';
import type { MemoryStore } from '../support/stand-ins/memory-store';

/** AWS's documented example id, and ids of the same form. */
const API_GATEWAY_IDS = ['L0SM9cOFvHcCIhw=', 'XfGLwFTktjMFsLg=', 'aXhhPc2NoAMCIKA=', 'a+b/c9cOFvHcCIh='];
const OFFLINE_ID = randomUUID();

const NOT_IDS: [string, string][] = [
  ['a trailing space', 'L0SM9cOFvHcCIhw= '],
  ['a leading space', ' L0SM9cOFvHcCIhw='],
  ['a trailing tab', 'L0SM9cOFvHcCIhw=\t'],
  ['a trailing newline', 'L0SM9cOFvHcCIhw=\n'],
  ['a trailing NUL', 'L0SM9cOFvHcCIhw=\u0000'],
  ['a zero-width space', 'L0SM9cOFvHcCIhw=\u200b'],
  ['a full-width equals sign', 'L0SM9cOFvHcCIhw＝'],
  ['no padding', 'L0SM9cOFvHcCIhw'],
  ['two padding characters', 'L0SM9cOFvHcCIhw=='],
  ['17 characters', 'L0SM9cOFvHcCIhwA='],
  ['an offline id with a trailing space', `${OFFLINE_ID} `],
  ['an offline id in capitals', OFFLINE_ID.toUpperCase()],
  ['an offline id without dashes', OFFLINE_ID.replace(/-/g, '')],
  ['a short name', 'A1'],
  ['an injection', "x'; DROP TABLE connections; --"],
];

function refused(parse: () => unknown): BadMessageError {
  try {
    parse();
  } catch (error) {
    if (error instanceof BadMessageError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('connection ids a client or a backend may name', () => {
  it.each([...API_GATEWAY_IDS, OFFLINE_ID])('accepts %j in a send and a publish', (id) => {
    expect(parseCommand(JSON.stringify({ action: 'send', connectionId: id, data: 1 }))).toEqual({
      action: 'send',
      connectionId: id,
      data: 1,
    });
    expect(parsePublishRequest({ connectionId: id, data: 1 })).toEqual({ connectionId: id, data: 1 });
  });

  it('matches what serverless-offline 13 makes: crypto.randomUUID()', () => {
    for (let i = 0; i < 100; i++) expect(randomUUID()).toMatch(CONNECTION_ID_PATTERN);
  });

  it.each(NOT_IDS)('refuses an id with %s, saying what an id looks like', (_what, id) => {
    for (const error of [
      refused(() => parseCommand(JSON.stringify({ action: 'send', connectionId: id, data: 1 }))),
      refused(() => parsePublishRequest({ connectionId: id, data: 1 })),
    ]) {
      expect(error.code).toBe('invalid_message');
      expect(error.message).toMatch(/connectionId is not a connection id: API Gateway's are 16 characters/);
    }
  });
});

describe('users a send or a publish may name', () => {
  it.each([
    ['a trailing space', 'alice '],
    ['a leading space', ' alice'],
    ['a zero-width space', 'alice\u200b'],
    ['a lone surrogate', 'ali\ud800ce'],
    ['a decomposed accent', 'Zoe\u0308'],
    ['only white space', '   '],
  ])('refuses a user with %s: no token subject can be that name', (_what, user) => {
    for (const error of [
      refused(() => parseCommand(JSON.stringify({ action: 'send', user, data: 1 }))),
      refused(() => parsePublishRequest({ user, data: 1 })),
    ]) {
      expect(error.code).toBe('invalid_message');
      expect(error.message).toMatch(/user .*: no token's subject can be such a name/);
    }
  });

  it.each(['alice', 'alice smith', 'Zoë', 'al😀ice', 'alice@example.com'])('accepts %j', (user) => {
    expect(parsePublishRequest({ user, data: 1 })).toEqual({ user, data: 1 });
  });
});

describe('a padded spelling of a room-mate’s id (the attack)', () => {
  const harness = useHandlerHarness();
  const ATTACKER = 'AttackerAAAAAAA=';
  const VICTIM = 'L0SM9cOFvHcCIhw=';
  let store: MemoryStore;

  beforeEach(async () => {
    store = harness.store;
    // A store that pads, as MySQL's utf8mb4_bin did: 'id ' finds and removes 'id'.
    const rows = store.rows;
    const removeMany = store.removeMany.getMockImplementation();
    store.get.mockImplementation(async (id) => rows.get(id.trimEnd()));
    store.removeMany.mockImplementation(async (ids) => removeMany?.(ids.map((id) => id.trimEnd())));
    for (const [i, id] of [ATTACKER, VICTIM].entries()) {
      await store.add({ connectionId: id, connectedAt: i, subject: `user${i}` });
      await store.join(id, 'lobby', 50);
    }
    // API Gateway knows no connection "<id> ": a post to it is answered 410.
    harness.management.answer(410, { to: `${VICTIM} ` });
    store.get.mockClear();
    store.removeMany.mockClear();
  });

  it.each([
    ['auth off', null],
    ['auth on', 'user0'],
  ])(
    'is refused with %s: an error frame to the sender, nothing looked up, posted or removed',
    async (_mode, subject) => {
      const event = messageEvent({ action: 'send', connectionId: `${VICTIM} `, data: 1 }, ATTACKER, 'send');
      if (subject !== null) event.requestContext.authorizer = authorizedAs(subject);
      expect(await message(event, lambdaContext())).toEqual({ statusCode: 400 });
      expect(harness.management.posted()).toEqual([
        { to: ATTACKER, message: expect.objectContaining({ type: 'error', code: 'invalid_message' }) },
      ]);
      expect(store.get).not.toHaveBeenCalled();
      expect(store.reachable).not.toHaveBeenCalled();
      expect(store.removeMany).not.toHaveBeenCalled();
      expect(store.rows.has(VICTIM)).toBe(true);
      expect(store.rooms.get('lobby')).toEqual(new Set([ATTACKER, VICTIM]));
    },
  );

  it('is refused from a backend too (publish), with the same code', async () => {
    const result = await publish({ connectionId: `${VICTIM} `, data: 1 }, lambdaContext());
    expect(result).toMatchObject({ type: 'error', code: 'invalid_message' });
    expect(harness.management.requests()).toEqual([]);
    expect(store.removeMany).not.toHaveBeenCalled();
    expect(store.rows.has(VICTIM)).toBe(true);
  });

  it('posts to the id the store holds, never the spelling asked for, so a 410 can only remove that row', async () => {
    expect(await audienceOf(store, { to: `${VICTIM} ` })).toEqual([VICTIM]);
  });
});
