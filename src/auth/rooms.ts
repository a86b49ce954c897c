/**
 * Rights per room, from the token: a claim (AUTH_ROOMS_CLAIM, default `rooms`) maps room
 * patterns to rights, e.g. `{"lobby":["join","publish","presence"],"team-7-*":["join"]}`.
 * A pattern is a room name or a prefix ending in `*` (`*` alone: every room). An array of
 * patterns is shorthand for all three rights on each. The most specific pattern that
 * matches a room decides alone (an exact name over any prefix, a longer prefix over a
 * shorter one), so `{"*":[...all],"secret-*":[]}` closes the secret rooms.
 *
 * The authorizer resolves the claim (or AUTH_DEFAULT_ROOMS) once at `$connect` and hands it
 * to every later event in its context (encodeRights); the message functions decode it from
 * there (decodeRights), so checking a right reads nothing from the store.
 *
 * No import of src/chat: the authorizer loads this module and must stay free of the
 * messaging path (valibot, the delivery client).
 */

export const RIGHTS = ['join', 'publish', 'presence'] as const;
export type Right = (typeof RIGHTS)[number];

/**
 * Normalized rights: pattern -> the rights it grants, in RIGHTS order, without repeats. Keyed
 * by the token's patterns, so it is read with Object.hasOwn only (rightsOn): a room named
 * `constructor` or `__proto__` is a room like any other, never a member of Object.prototype.
 */
export type RoomRights = Readonly<Record<string, readonly Right[]>>;

/** A rights map with no prototype, frozen: nothing inherited, whoever reads it. */
function rightsMap(entries: Iterable<readonly [string, readonly Right[]]>): RoomRights {
  const rights = Object.create(null) as Record<string, readonly Right[]>;
  for (const [pattern, granted] of entries) rights[pattern] = granted;
  return Object.freeze(rights);
}

/** Every right on every room: auth off, and the default of tokens without the claim. */
export const ALL_ROOMS: RoomRights = rightsMap([['*', RIGHTS]]);

/** The default claim name (AUTH_ROOMS_CLAIM). */
export const DEFAULT_ROOMS_CLAIM = 'rooms';

/** Mirrors ROOM_PATTERN / MAX_ROOM_LENGTH of src/chat/protocol.ts (a unit test keeps them equal). */
const ROOM_CHARS = /^[A-Za-z0-9_.:-]*$/;
const MAX_ROOM_LENGTH = 64;

/** At most this many patterns: the claim travels in the authorizer's context (ROOMS_CONTEXT_KEY). */
export const MAX_PATTERNS = 200;

/** The authorizer context key the resolved rights travel in (a JSON string: context values are scalars). */
export const ROOMS_CONTEXT_KEY = 'rooms';

/** A claim (or AUTH_DEFAULT_ROOMS) that is not a rights map. Its message says what is wrong. */
export class RoomsClaimError extends Error {
  override readonly name = 'RoomsClaimError';
}

function checkPattern(pattern: string): void {
  const name = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  if (pattern === '' || name.length > MAX_ROOM_LENGTH || !ROOM_CHARS.test(name)) {
    throw new RoomsClaimError(
      `room pattern ${JSON.stringify(pattern).slice(0, 80)} is not a room name (letters, digits, _ . : -, ` +
        `at most ${MAX_ROOM_LENGTH}) or such a prefix ending in *`,
    );
  }
}

function checkRights(pattern: string, rights: unknown): Right[] {
  if (!Array.isArray(rights)) {
    throw new RoomsClaimError(`the rights of ${JSON.stringify(pattern)} are not an array of ${RIGHTS.join(', ')}`);
  }
  for (const right of rights) {
    if (!(RIGHTS as readonly unknown[]).includes(right)) {
      throw new RoomsClaimError(
        `${JSON.stringify(pattern)} names the unknown right ${JSON.stringify(right)?.slice(0, 40)}; rights are ${RIGHTS.join(', ')}`,
      );
    }
  }
  return RIGHTS.filter((right) => rights.includes(right));
}

/**
 * The claim's value as normalized rights; throws RoomsClaimError for anything else (a
 * string, a number, a pattern with a `*` inside, an unknown right). An empty object or
 * array is valid: no rights at all.
 */
export function parseRights(value: unknown): RoomRights {
  if (Array.isArray(value)) {
    if (value.length > MAX_PATTERNS) throw new RoomsClaimError(`more than ${MAX_PATTERNS} room patterns`);
    const patterns: string[] = [];
    for (const pattern of value) {
      if (typeof pattern !== 'string') throw new RoomsClaimError('a room pattern in the list is not a string');
      checkPattern(pattern);
      patterns.push(pattern);
    }
    return rightsMap(patterns.map((pattern) => [pattern, RIGHTS]));
  }
  if (typeof value !== 'object' || value === null) {
    throw new RoomsClaimError('the rooms claim is neither an object of pattern -> rights nor an array of patterns');
  }
  // Own keys only (JSON.parse makes `"__proto__"` an own key, as any other).
  const entries = Object.entries(value);
  if (entries.length > MAX_PATTERNS) throw new RoomsClaimError(`more than ${MAX_PATTERNS} room patterns`);
  return rightsMap(
    entries.map(([pattern, granted]): [string, readonly Right[]] => {
      checkPattern(pattern);
      return [pattern, checkRights(pattern, granted)];
    }),
  );
}

/** AUTH_DEFAULT_ROOMS: the same JSON as the claim. */
export function parseRightsJson(text: string, name: string): RoomRights {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new RoomsClaimError(`${name} is not JSON`, { cause });
  }
  try {
    return parseRights(value);
  } catch (error) {
    throw new RoomsClaimError(`${name}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The rights on one room: those of the most specific matching pattern, or none. An exact
 * name beats every prefix; among prefixes the longest wins (`*` is the empty prefix).
 */
export function rightsOn(rights: RoomRights, room: string): readonly Right[] {
  const exact = Object.hasOwn(rights, room) ? rights[room] : undefined;
  if (exact !== undefined && !room.endsWith('*')) return exact;
  for (const [prefix, granted] of prefixesOf(rights)) if (room.startsWith(prefix)) return granted;
  return [];
}

/** Each rights map's prefixes, longest first (so the first match is the most specific), built once. */
const prefixes = new WeakMap<RoomRights, [string, readonly Right[]][]>();

function prefixesOf(rights: RoomRights): [string, readonly Right[]][] {
  let list = prefixes.get(rights);
  if (list === undefined) {
    list = Object.entries(rights)
      .filter(([pattern]) => pattern.endsWith('*'))
      .map(([pattern, granted]): [string, readonly Right[]] => [pattern.slice(0, -1), granted])
      .sort(([a], [b]) => b.length - a.length);
    prefixes.set(rights, list);
  }
  return list;
}

export function hasRight(rights: RoomRights, room: string, right: Right): boolean {
  return rightsOn(rights, room).includes(right);
}

/** The rights as the authorizer's context carries them: compact JSON. */
export function encodeRights(rights: RoomRights): string {
  return JSON.stringify(rights);
}

/**
 * The last contexts decoded, by their text: a warm container serves the same few
 * connections over and over, and this keeps the check at a map look-up for them.
 */
const decoded = new Map<string, RoomRights>();
const DECODED_CACHE_SIZE = 256;

/**
 * The rights the authorizer put in the context. Only the authorizer writes it, but a
 * value that does not decode (a connection authorized by an older version, a hand-built
 * event) fails closed: no rights.
 */
export function decodeRights(text: unknown): RoomRights {
  if (typeof text !== 'string') return NO_ROOMS;
  const known = decoded.get(text);
  if (known !== undefined) return known;
  let rights: RoomRights;
  try {
    rights = parseRights(JSON.parse(text));
  } catch {
    rights = NO_ROOMS;
  }
  if (decoded.size >= DECODED_CACHE_SIZE) decoded.clear();
  decoded.set(text, rights);
  return rights;
}

export const NO_ROOMS: RoomRights = rightsMap([]);

/**
 * The shorthand of the token CLI: `lobby,team-*` (every right on each), or the JSON of
 * a claim (`{"lobby":["join","publish"]}`).
 */
export function rightsFromCli(text: string): RoomRights {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseRightsJson(trimmed, '--rooms');
  const patterns = trimmed === '' ? [] : trimmed.split(',').map((pattern) => pattern.trim());
  return parseRights(patterns);
}
