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
import { authorizeConnect, MAX_AUTHORIZER_RESULT_BYTES, mintToken, verifyToken } from '../../src/auth/token';
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

describe('authorizeConnect and the rooms claim', () => {
  const methodArn = 'arn:aws:execute-api:us-east-1:123456789012:abcdef/dev/$connect';
  const event = (token: string) =>
    ({
      type: 'REQUEST',
      methodArn,
      queryStringParameters: { token },
      requestContext: { connectionId: 'conn-1', identity: { sourceIp: '127.0.0.1' } },
    }) as unknown as APIGatewayRequestAuthorizerEvent;

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
    // The shorthand is small in the token (well under its 8 KB) and grows threefold once resolved.
    const rooms = Array.from({ length: 200 }, (_, i) => `room-${String(i).padStart(3, '0')}-abc`);
    expect(encodeRights(parseRights(rooms)).length).toBeGreaterThan(MAX_AUTHORIZER_RESULT_BYTES);
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60, rooms });
    const result = await authorizeConnect(event(token), settings);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(logged()).toEqual([expect.objectContaining({ message: 'connection refused', reason: 'rooms_too_large' })]);
  });
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
