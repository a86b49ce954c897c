/**
 * Rights per room (src/auth/rooms.ts): the claim's two forms, the most specific pattern
 * deciding alone, the default for tokens without the claim, and the authorizer refusing a
 * malformed or oversized claim at `$connect` with a logged reason.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import {
  ALL_ROOMS,
  decodeRights,
  encodeRights,
  hasRight,
  NO_ROOMS,
  parseRights,
  parseRightsJson,
  rightsFromCli,
  rightsOn,
  RoomsClaimError,
} from '../../src/auth/rooms';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { authorizeConnect, MAX_TOKEN_LENGTH, mintToken, verifyToken } from '../../src/auth/token';
import { readAuthSettings } from '../../src/auth/settings';
import { ConfigError, TokenError } from '../../src/errors';
import { MAX_ROOM_LENGTH, ROOM_PATTERN } from '../../src/chat/protocol';

const SECRET = 'unit-test-secret-that-is-long-enough-0123';
const key = new TextEncoder().encode(SECRET);
const settings = readAuthSettings({ AUTH_JWT_SECRET: SECRET });

describe('parseRights', () => {
  it('takes an object of pattern -> rights and keeps the rights in a fixed order without repeats', () => {
    expect(parseRights({ lobby: ['presence', 'join', 'join'], 'team-7-*': ['join'] })).toEqual({
      lobby: ['join', 'presence'],
      'team-7-*': ['join'],
    });
  });

  it('reads an array of patterns as every right on each', () => {
    expect(parseRights(['lobby', 'team-*'])).toEqual({
      lobby: ['join', 'publish', 'presence'],
      'team-*': ['join', 'publish', 'presence'],
    });
  });

  it('accepts an empty object or array: no rights at all', () => {
    expect(parseRights({})).toEqual({});
    expect(parseRights([])).toEqual({});
  });

  it.each([
    ['a string', 'lobby'],
    ['a number', 7],
    ['null', null],
    ['an unknown right', { lobby: ['admin'] }],
    ['rights that are not an array', { lobby: 'join' }],
    ['a * inside a pattern', { 'te*m': ['join'] }],
    ['two stars', { '**': ['join'] }],
    ['a room character the protocol refuses', { 'a b': ['join'] }],
    ['an empty pattern', { '': ['join'] }],
    ['a pattern longer than a room name', { ['r'.repeat(MAX_ROOM_LENGTH + 1)]: ['join'] }],
    ['a list with a non-string', ['lobby', 3]],
    ['more than 200 patterns', Array.from({ length: 201 }, (_, i) => `room-${i}`)],
  ])('refuses %s', (_what, value) => {
    expect(() => parseRights(value)).toThrow(RoomsClaimError);
  });

  it('uses the same room characters and length as the protocol', () => {
    expect(() => parseRights({ ['r'.repeat(MAX_ROOM_LENGTH)]: [] })).not.toThrow();
    for (const room of ['a.b:c-d_e', 'Z9']) {
      expect(ROOM_PATTERN.test(room)).toBe(true);
      expect(() => parseRights([room])).not.toThrow();
    }
  });
});

describe('rightsOn: the most specific pattern decides alone', () => {
  const rights = parseRights({
    '*': ['join'],
    'team-*': ['join', 'publish'],
    'team-7-*': ['presence'],
    'team-7-ops': [],
    lobby: ['join', 'publish', 'presence'],
  });

  it.each([
    ['lobby', ['join', 'publish', 'presence']],
    ['anything', ['join']],
    ['team-1', ['join', 'publish']],
    ['team-7-dev', ['presence']],
    ['team-7-ops', []],
    ['team-7-ops2', ['presence']],
    ['team', ['join']],
  ])('%s -> %j', (room, expected) => {
    expect(rightsOn(rights, room)).toEqual(expected);
  });

  it('gives nothing outside every pattern', () => {
    expect(rightsOn(parseRights({ lobby: ['join'] }), 'secret-room')).toEqual([]);
    expect(hasRight(NO_ROOMS, 'lobby', 'join')).toBe(false);
  });

  it('gives every right everywhere with *', () => {
    expect(hasRight(ALL_ROOMS, 'secret-room', 'publish')).toBe(true);
  });

  it('closes rooms under a wider grant with an empty list', () => {
    const closed = parseRights({ '*': ['join', 'publish', 'presence'], 'secret-*': [] });
    expect(hasRight(closed, 'secret-room', 'join')).toBe(false);
    expect(hasRight(closed, 'lobby', 'join')).toBe(true);
  });
});

/** Rooms a plain object as a map would mistake for its own keys. */
const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty'];

describe('rooms named after members of Object.prototype', () => {
  it.each(PROTOTYPE_NAMES)('%s is an ordinary room under every rights map', (room) => {
    expect(rightsOn(ALL_ROOMS, room)).toEqual(['join', 'publish', 'presence']);
    expect(rightsOn(NO_ROOMS, room)).toEqual([]);
    expect(rightsOn(parseRights({ lobby: ['join'] }), room)).toEqual([]);
    expect(rightsOn(parseRights({ 'team-*': ['join'], '*': ['publish'] }), room)).toEqual(['publish']);
    expect(rightsOn(decodeRights('{}'), room)).toEqual([]);
    expect(rightsOn(decodeRights(undefined), room)).toEqual([]);
    // A plain object literal too, whoever builds one.
    expect(rightsOn({ lobby: ['join'] }, room)).toEqual([]);
  });

  it.each(PROTOTYPE_NAMES)('a claim may grant %s exactly, in either form, and it travels in the context', (room) => {
    const rights = parseRights(JSON.parse(`{${JSON.stringify(room)}:["join"]}`));
    expect(rightsOn(rights, room)).toEqual(['join']);
    expect(rightsOn(rights, 'lobby')).toEqual([]);
    expect(rightsOn(decodeRights(encodeRights(rights)), room)).toEqual(['join']);
    expect(rightsOn(parseRights([room]), room)).toEqual(['join', 'publish', 'presence']);
  });

  it('reads the rooms claim only when the token has it, whatever AUTH_ROOMS_CLAIM is named', async () => {
    for (const claim of PROTOTYPE_NAMES) {
      const named = readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_ROOMS_CLAIM: claim });
      const token = await mintToken(key, { subject: 'alice', ttlSec: 60 });
      expect((await verifyToken(token, named)).rooms).toEqual(ALL_ROOMS);
    }
  });
});

describe('the rights in the authorizer context', () => {
  it('travel as compact JSON and decode to the same rights', () => {
    const rights = parseRights({ lobby: ['join'], 'team-*': ['join', 'publish'] });
    expect(decodeRights(encodeRights(rights))).toEqual(rights);
  });

  it('fail closed when the context has none or something else', () => {
    expect(decodeRights(undefined)).toEqual({});
    expect(decodeRights('not json')).toEqual({});
    expect(decodeRights('{"lobby":["admin"]}')).toEqual({});
  });
});

describe('AUTH_DEFAULT_ROOMS and AUTH_ROOMS_CLAIM', () => {
  it('default to every right on every room under the claim "rooms"', () => {
    expect(settings.defaultRooms).toEqual(ALL_ROOMS);
    expect(settings.roomsClaim).toBe('rooms');
  });

  it('read the default as the claim JSON, and refuse a malformed one with the setting named', () => {
    expect(
      readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_DEFAULT_ROOMS: '{"lobby":["join"]}' }).defaultRooms,
    ).toEqual({ lobby: ['join'] });
    expect(readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_DEFAULT_ROOMS: '{}' }).defaultRooms).toEqual({});
    expect(() => readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_DEFAULT_ROOMS: '{"lobby":' })).toThrow(ConfigError);
    expect(() => readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_DEFAULT_ROOMS: '{"lobby":["x"]}' })).toThrow(
      /AUTH_DEFAULT_ROOMS/,
    );
  });
});

describe('verifyToken and the rooms claim', () => {
  const mint = (claims: unknown, claimName = 'rooms') =>
    mintToken(key, { subject: 'alice', ttlSec: 60, rooms: claims as never, roomsClaim: claimName });

  it('gives a token without the claim AUTH_DEFAULT_ROOMS', async () => {
    const closed = readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_DEFAULT_ROOMS: '{"lobby":["join"]}' });
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60 });
    expect((await verifyToken(token, closed)).rooms).toEqual({ lobby: ['join'] });
  });

  it('reads the claim (object or shorthand), or the claim as a JSON string, under the configured name', async () => {
    expect((await verifyToken(await mint({ lobby: ['join'] }), settings)).rooms).toEqual({ lobby: ['join'] });
    expect((await verifyToken(await mint(['lobby']), settings)).rooms).toEqual({
      lobby: ['join', 'publish', 'presence'],
    });
    const named = readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_ROOMS_CLAIM: 'custom:rooms' });
    const asString = await mint('{"team-*":["join"]}' as never, 'custom:rooms');
    expect((await verifyToken(asString, named)).rooms).toEqual({ 'team-*': ['join'] });
  });

  it('refuses a malformed claim as bad_rooms', async () => {
    for (const claim of [{ lobby: ['admin'] }, 'lobby,team', 42]) {
      const error = await verifyToken(await mint(claim as never), settings).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenError);
      expect((error as TokenError).reason).toBe('bad_rooms');
    }
  });
});

/** A `$connect` authorizer event with `token` in its query string. */
function event(token: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abcdef/dev/$connect',
    queryStringParameters: { token },
    requestContext: { connectionId: 'L0SM9cOFvHcCIhw=', identity: { sourceIp: '127.0.0.1' } },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

describe('authorizeConnect and the rooms claim', () => {
  let stderr: jest.SpyInstance;
  let previous: string | undefined;
  beforeEach(() => {
    previous = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'warn';
    stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    stderr.mockRestore();
    process.env.LOG_LEVEL = previous;
  });
  const logged = () => stderr.mock.calls.map((call) => JSON.parse(String(call[0])) as Record<string, unknown>);

  it('carries the resolved rights in the context', async () => {
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60, rooms: { lobby: ['join'] } });
    const result = await authorizeConnect(event(token), settings);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow' });
    expect(result.context).toEqual({ rooms: '{"lobby":["join"]}' });
  });

  it('denies a malformed claim and logs the reason', async () => {
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60, rooms: { lobby: ['own'] } as never });
    const result = await authorizeConnect(event(token), settings);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(result.context).toBeUndefined();
    expect(logged()).toEqual([expect.objectContaining({ message: 'connection refused', reason: 'bad_rooms' })]);
  });

  it('denies rights that would not fit in API Gateway’s 8 KB authorizer answer, with a clear log line', async () => {
    // The shorthand is small in the token (within its length) and grows threefold once resolved.
    const rooms = Array.from({ length: 180 }, (_, i) => `room-${String(i).padStart(3, '0')}-abc`);
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60, rooms });
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    const result = await authorizeConnect(event(token), settings);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(logged()).toEqual([expect.objectContaining({ message: 'connection refused', reason: 'rooms_too_large' })]);
  });

  it('denies a token made too long by its rooms claim as rooms_too_large, and one made too long by anything else as malformed', async () => {
    const names = Array.from({ length: 90 }, (_, i) => `team-${String(i).padStart(3, '0')}-abcdef`);
    const byRooms = await mintToken(key, {
      subject: 'alice',
      ttlSec: 60,
      rooms: Object.fromEntries(names.map((name) => [name, ['join', 'publish', 'presence']])),
    });
    const byOther = await new SignJWT({ groups: [...names, ...names, ...names].join(','), rooms: ['lobby'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(key);
    for (const token of [byRooms, byOther]) expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    await authorizeConnect(event(byRooms), settings);
    await authorizeConnect(event(byOther), settings);
    expect(logged()).toEqual([
      expect.objectContaining({
        reason: 'rooms_too_large',
        error: expect.objectContaining({ message: expect.stringMatching(/rooms claim makes the token/) }),
      }),
      expect.objectContaining({
        reason: 'malformed',
        error: expect.objectContaining({ message: 'token is too long' }),
      }),
    ]);
  });
});

describe('how many patterns fit, in each form (the figures in docs/auth.md)', () => {
  /** 15-character names, as docs/auth.md says. */
  const names = (n: number) => Array.from({ length: n }, (_, i) => `team-${String(i).padStart(3, '0')}-abcdef`);
  const forms = {
    array: (n: number) => names(n),
    object: (n: number) => Object.fromEntries(names(n).map((name) => [name, ['join', 'publish', 'presence']])),
  };

  /** The most patterns an HS256 token of `sub` alice lets in, and the reason the next one is refused. */
  async function largest(form: keyof typeof forms): Promise<{ fits: number; reason: unknown }> {
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const previous = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'warn';
    try {
      for (let n = 1; ; n++) {
        const token = await mintToken(key, { subject: 'alice', ttlSec: 3600, rooms: forms[form](n) as never });
        const result = await authorizeConnect(event(token), settings);
        if (result.policyDocument.Statement[0]?.Effect === 'Deny') {
          const line = JSON.parse(String(stderr.mock.calls.at(-1)?.[0])) as { reason?: unknown };
          return { fits: n - 1, reason: line.reason };
        }
      }
    } finally {
      stderr.mockRestore();
      process.env.LOG_LEVEL = previous;
    }
  }

  /** The figure docs/auth.md gives for a form, from its table row (`| array … | 140 | … |`). */
  function documented(form: string): number {
    const docs = readFileSync(join(__dirname, '..', '..', 'docs', 'auth.md'), 'utf8');
    const row = new RegExp(`^\\| ${form} .*?\\| (\\d+) +\\|`, 'm').exec(docs);
    if (!row) throw new Error(`docs/auth.md has no row for the ${form} form`);
    return Number(row[1]);
  }

  it.each(Object.keys(forms) as (keyof typeof forms)[])(
    '%s form: as many as docs/auth.md says, and one more is rooms_too_large',
    async (form) => {
      const { fits, reason } = await largest(form);
      expect(reason).toBe('rooms_too_large');
      expect(documented(form)).toBe(fits);
    },
  );
});

describe('rightsFromCli (npm run token -- --rooms)', () => {
  it('takes a comma-separated shorthand or the claim JSON', () => {
    expect(rightsFromCli('lobby,team-*')).toEqual({
      lobby: ['join', 'publish', 'presence'],
      'team-*': ['join', 'publish', 'presence'],
    });
    expect(rightsFromCli('{"lobby":["join","publish"]}')).toEqual({ lobby: ['join', 'publish'] });
  });

  it('refuses what the authorizer would refuse', () => {
    expect(() => rightsFromCli('lo bby')).toThrow(RoomsClaimError);
    expect(() => parseRightsJson('{"lobby":["own"]}', '--rooms')).toThrow(/--rooms/);
  });
});
