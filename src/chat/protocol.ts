/**
 * The JSON protocol spoken over the socket. API Gateway routes on `action`
 * (`websocketsApiRouteSelectionExpression: $request.body.action`); each body is then
 * validated here against a valibot schema. Everything we send back has a `type`.
 *
 * Why valibot and not zod: both are declarative schemas with inferred types, but zod 4
 * loads all 64 of its locales with it (no public entry point leaves them out): 61 ms to
 * load here against valibot's 5.5, and the packaged message path went from 118 ms to 64
 * (`npm run bench -- --only cold-start`, BENCHMARKS.md).
 */
import * as v from 'valibot';
import { BadMessageError } from '../errors';
import { MAX_SUBJECT_LENGTH, subjectProblem } from '../auth/subject';

/**
 * API Gateway takes at most 128 KB per message, in either direction. `data` is checked
 * against a cheap bound first; what decides is the size of the encoded frame we post
 * (src/chat/fanout/envelope.ts), since the envelope around `data` (type, room, from, connectionId,
 * sentAt) is usually a few hundred bytes but ~1.7 KB when `from` is a 255-character
 * subject that JSON escapes to 6 bytes a character.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;
export const MAX_DATA_BYTES = MAX_MESSAGE_BYTES - 1024;
/**
 * How deep arrays and objects may nest in one message, the outer object included. JSON.parse
 * copes with any depth, but JSON.stringify and every recursive walk overflow the stack near
 * 10,000 levels, and 60,000 fit in one 128 KB frame. No honest message comes near 64.
 */
export const MAX_DEPTH = 64;
export const MAX_ROOM_LENGTH = 64;
export const ROOM_PATTERN = /^[A-Za-z0-9_.:-]+$/;

export const ACTIONS = [
  'sendmessage',
  'join',
  'leave',
  'publish',
  'list',
  'send',
  'members',
  'ping',
  'history',
] as const;
export type Action = (typeof ACTIONS)[number];

const room = v.pipe(
  v.string('room must be a string'),
  v.minLength(1, 'room must not be empty'),
  v.maxLength(MAX_ROOM_LENGTH, `room must be at most ${MAX_ROOM_LENGTH} characters`),
  v.regex(ROOM_PATTERN, 'room may only contain letters, digits and _ . : -'),
);

/**
 * Any JSON value, null included, but present (`{}` is anything but null or undefined). A
 * missing `data` key is the object's issue, which keyMessage words as this schema does.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
const data = v.custom<{} | null>((value) => value !== undefined, 'data is required');

/** A room's sequence number to read after: 0 (the default) reads from the oldest kept. */
const after = v.pipe(
  v.number('after must be a number'),
  v.integer('after must be a whole number'),
  v.minValue(0, 'after must be at least 0'),
  v.maxValue(Number.MAX_SAFE_INTEGER, 'after is too large'),
);

/** The most messages one `history` request may ask for: one query reads them all (src/chat/history.ts). */
export const MAX_HISTORY_LIMIT = 1_000;
const limit = v.pipe(
  v.number('limit must be a number'),
  v.integer('limit must be a whole number'),
  v.minValue(1, 'limit must be at least 1'),
  v.maxValue(MAX_HISTORY_LIMIT, `limit must be at most ${MAX_HISTORY_LIMIT}`),
);

/**
 * A client's own name for a request whose answer it waits for (publish, sendmessage, send,
 * history): echoed in that answer (the delivery summary, the history frame) and in an error
 * frame about the request, so that a client with several requests out can tell the answers
 * apart. Its bytes are the client's business: it is only checked for length and echoed.
 */
export const MAX_REF_LENGTH = 64;
const ref = v.pipe(
  v.string('ref must be a string'),
  v.minLength(1, 'ref must not be empty'),
  v.maxLength(MAX_REF_LENGTH, `ref must be at most ${MAX_REF_LENGTH} characters`),
);

/** A user is the authorizer's subject, with the rules a token's `sub` follows (src/auth/subject.ts). */
export const MAX_USER_LENGTH = MAX_SUBJECT_LENGTH;
/** The `connection_id` column holds 128 bytes; every id CONNECTION_ID_PATTERN allows is far shorter. */
export const MAX_CONNECTION_ID_LENGTH = 128;

/**
 * Every connection id there can be: API Gateway's, 16 characters of base64 (11 bytes and one
 * `=`, as `L0SM9cOFvHcCIhw=` in AWS's documentation), or a local run's, serverless-offline 13's
 * `crypto.randomUUID()` (a lowercase version-4 UUID). A target that is neither names no
 * connection, so it is refused before the store is asked: a spelling such as `"<id> "` never
 * reaches a lookup or a post.
 */
export const CONNECTION_ID_PATTERN =
  /^(?:[A-Za-z0-9+/]{15}=|[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$/;

const user = v.pipe(
  v.string('user must be a string'),
  v.minLength(1, 'user must not be empty'),
  v.maxLength(MAX_USER_LENGTH, `user must be at most ${MAX_USER_LENGTH} characters`),
  v.check(
    (name) => subjectProblem(name) === undefined,
    (issue) => `user ${subjectProblem(String(issue.input)) ?? ''}: no token's subject can be such a name`,
  ),
);

const connectionId = v.pipe(
  v.string('connectionId must be a string'),
  v.minLength(1, 'connectionId must not be empty'),
  v.maxLength(MAX_CONNECTION_ID_LENGTH, `connectionId must be at most ${MAX_CONNECTION_ID_LENGTH} characters`),
  v.regex(
    CONNECTION_ID_PATTERN,
    'connectionId is not a connection id: API Gateway\'s are 16 characters such as "L0SM9cOFvHcCIhw=", a local run\'s are UUIDs',
  ),
);

/**
 * How many targets a send or publish names. The rules over it are partial checks: they run
 * whenever the targets themselves have the right type, whatever else is wrong (a missing
 * `data`, an unknown key), so the client hears of every mistake at once (a plain check runs
 * only on an object with no type error anywhere).
 */
const targets = (value: { room?: unknown; user?: unknown; connectionId?: unknown }) =>
  [value.room, value.user, value.connectionId].filter((target) => target !== undefined).length;

/**
 * What an object schema says about a key: a missing one as `room is required` (a present
 * one of the wrong type still says `room must be a string`), one that is not allowed (a
 * publish request is strict) as `Unrecognized key(s): "rooms"`, every such key named at once.
 */
function keyMessage(entries: v.ObjectEntries) {
  return (issue: v.ObjectIssue | v.StrictObjectIssue): string => {
    const key = issue.path?.at(-1)?.key;
    const entry = typeof key === 'string' && Object.hasOwn(entries, key) ? entries[key] : undefined;
    const holder = issue.path?.at(-1)?.input;
    if (entry) {
      const present = holder !== null && typeof holder === 'object' && Object.hasOwn(holder, key as string);
      return present
        ? (v.safeParse(entry, undefined).issues?.[0].message ?? issue.message)
        : `${String(key)} is required`;
    }
    const extra =
      holder && typeof holder === 'object' ? Object.keys(holder).filter((k) => !Object.hasOwn(entries, k)) : [];
    return `Unrecognized key${extra.length > 1 ? 's' : ''}: ${extra.map((k) => JSON.stringify(k)).join(', ')}`;
  };
}

/** An object schema whose missing keys are reported by keyMessage; unknown keys are dropped. */
function command<const E extends v.ObjectEntries>(entries: E) {
  return v.object(entries, keyMessage(entries));
}

/**
 * What a sender pays for (src/chat/messages.ts), per message: `echo: false` leaves the sender's
 * own connection out of the audience (no copy of its own message), `summary: false` sends it no
 * `delivery` summary. Both default to true. Per message rather than per connection: a field costs
 * no store change and no read, where a setting kept with the connection would cost a column and
 * a read of the sender's row on every message (docs/protocol.md#what-a-message-costs).
 */
const flag = (name: string) => v.optional(v.boolean(`${name} must be true or false`));
const delivery = { echo: flag('echo'), summary: flag('summary'), ref: v.optional(ref) };

const schemas = {
  sendmessage: command({ action: v.literal('sendmessage'), data, ...delivery }),
  join: command({ action: v.literal('join'), room }),
  leave: command({ action: v.literal('leave'), room }),
  /** `ephemeral`: an id, no `seq`, no history; typing and cursors (src/chat/messages.ts). */
  publish: command({ action: v.literal('publish'), room, data, ...delivery, ephemeral: flag('ephemeral') }),
  list: command({ action: v.literal('list') }),
  send: v.pipe(
    command({
      action: v.literal('send'),
      user: v.optional(user),
      connectionId: v.optional(connectionId),
      data,
      ...delivery,
    }),
    v.partialCheck(
      [['user'], ['connectionId']],
      (value) => targets(value) === 1,
      'send needs exactly one of "user" or "connectionId"',
    ),
  ),
  members: command({ action: v.literal('members'), room }),
  ping: command({ action: v.literal('ping') }),
  history: command({
    action: v.literal('history'),
    room,
    after: v.optional(after),
    limit: v.optional(limit),
    ref: v.optional(ref),
  }),
} satisfies Record<Action, v.GenericSchema>;

export type Command = { [A in Action]: v.InferOutput<(typeof schemas)[A]> }[Action];

function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

const valid = ACTIONS.join(', ');

/** Character codes the depth scan looks for. */
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }

/**
 * Whether JSON text nests arrays and objects deeper than `limit`, found in one pass with
 * no recursion, so that nothing recursive ever sees a deeper value. Brackets inside
 * strings do not count. On invalid JSON the answer is only an estimate, and JSON.parse
 * refuses such text anyway.
 */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // An escaped character (a quote, a backslash) is content: skip it.
      if (c === BACKSLASH) {
        i++;
      } else if (c === QUOTE) {
        inString = false;
      }
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

type Path = (string | number)[];

/**
 * The path to the first number JSON cannot carry (`1e400` parses to Infinity, which
 * JSON.stringify would deliver as null). Recursive, which is safe once the depth is bounded.
 */
function nonFinitePath(value: unknown, path: Path): Path | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nonFinitePath(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = nonFinitePath(item, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** What an error message may quote of a client's input: enough to recognise it, never a whole frame. */
function shorten(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function quote(value: unknown): string {
  return shorten(JSON.stringify(value) ?? String(value));
}

/**
 * Parses and validates one message body. Throws BadMessageError with a code the client
 * can act on, and nothing else for any input. `body` is whatever the runtime passed:
 * API Gateway refuses binary frames itself (it closes the connection with 1003) and hands
 * a converted binary payload over base64-encoded, while serverless-offline passes a binary
 * frame through as a Buffer (a Uint8Array once it has crossed into a worker thread).
 */
export function parseCommand(body: unknown, isBase64Encoded = false): Command {
  if (isBase64Encoded || (body !== undefined && typeof body !== 'string')) {
    throw new BadMessageError('invalid_message', `send JSON text frames; binary frames are not accepted`);
  }
  if (body === undefined || body.trim() === '') {
    throw new BadMessageError('invalid_message', `send a JSON object with an "action": one of ${valid}`);
  }
  // API Gateway never passes more; locally a bigger frame reaches us, and is refused unread.
  const bodyBytes = Buffer.byteLength(body);
  if (bodyBytes > MAX_MESSAGE_BYTES) {
    throw new BadMessageError(
      'payload_too_large',
      `the message is ${bodyBytes} bytes; API Gateway takes at most ${MAX_MESSAGE_BYTES}`,
      { size: bodyBytes, limit: MAX_MESSAGE_BYTES },
    );
  }
  if (nestsDeeperThan(body, MAX_DEPTH)) {
    throw new BadMessageError(
      'invalid_message',
      `the message nests arrays and objects more than ${MAX_DEPTH} levels deep (the outer object counts)`,
      { limit: MAX_DEPTH },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BadMessageError(
      'invalid_json',
      `the message is not valid JSON; send an object with an "action": one of ${valid}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadMessageError('invalid_message', `send a JSON object with an "action": one of ${valid}`);
  }
  // The original project answered any message with the connection list; an object
  // without an action still gets that answer.
  const action = (parsed as { action?: unknown }).action ?? 'list';
  if (!isAction(action)) {
    throw new BadMessageError('unknown_action', `unknown action ${quote(action)}; valid actions: ${valid}`, {
      validActions: ACTIONS,
    });
  }
  const result = v.safeParse(schemas[action], { ...parsed, action });
  if (!result.success) throw invalid(action, result.issues);
  const command: Command = result.output;
  if ('data' in command) checkData(action, command.data);
  return command;
}

/**
 * A validation failure as the error the client gets: each issue with its path. A key that
 * is not allowed is reported at the object that holds it (keyMessage names it).
 */
function invalid(what: string, failures: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): BadMessageError {
  const issues = failures.map((issue) => {
    const path = (issue.path ?? []).map((item) => String(item.key));
    if (issue.expected === 'never') path.pop();
    return { path: path.join('.'), message: issue.message };
  });
  return new BadMessageError(
    'invalid_message',
    `invalid ${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    { issues },
  );
}

/**
 * The `ref` of a request refused before it was a Command (a field out of bounds, `data` too
 * large): its error frame still names it. Undefined for a body that is not a JSON object
 * within the limits, or whose `ref` is not a valid one. Parses again, but only on that path.
 */
export function requestRef(body: unknown): string | undefined {
  if (typeof body !== 'string' || body.length > MAX_MESSAGE_BYTES || nestsDeeperThan(body, MAX_DEPTH)) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const value = typeof parsed === 'object' && parsed !== null ? (parsed as { ref?: unknown }).ref : undefined;
  return v.is(ref, value) ? value : undefined;
}

/**
 * Refuses `data` with a number JSON cannot carry, or too large for one API Gateway
 * message, before any fan-out. Its depth is already bounded (the text scan, or
 * valueNestsDeeperThan for a backend's request), so the recursive walk is safe.
 */
function checkData(what: string, value: unknown): void {
  const path = nonFinitePath(value, ['data']);
  if (path) {
    const issue = {
      path: shorten(path.join('.'), 128),
      message: 'numbers must be finite (this one is too large for JSON)',
    };
    throw new BadMessageError('invalid_message', `invalid ${what}: ${issue.path}: ${issue.message}`, {
      issues: [issue],
    });
  }
  const size = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (size > MAX_DATA_BYTES) {
    throw new BadMessageError(
      'payload_too_large',
      `data is ${size} bytes; at most ${MAX_DATA_BYTES} fit in API Gateway's 128 KB message`,
      { size, limit: MAX_DATA_BYTES },
    );
  }
}

/**
 * Whether an already parsed value nests arrays and objects deeper than `limit` (the outer
 * one counts), without recursion: a backend's request arrives parsed (a Lambda invocation)
 * or is parsed whole (POST /publish), and may be nested far deeper than any stack.
 */
function valueNestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: { item: unknown; depth: number }[] = [{ item: value, depth: 1 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { item, depth } = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push({ item: child, depth: depth + 1 });
  }
  return false;
}

/**
 * What a backend sends the `publish` function (Lambda invoke or `POST /publish`): at most
 * one target, none meaning everyone. Strict, unlike the socket's actions: a misspelt
 * target (`"rooms"`) must be refused, not taken for "no target" and sent to everyone.
 */
const publishEntries = {
  room: v.optional(room),
  user: v.optional(user),
  connectionId: v.optional(connectionId),
  data,
  /** For an audience split into shards: answer with the final summary (within the function's time), not the queued one. */
  wait: v.optional(v.boolean()),
};
const publishRequest = v.pipe(
  v.strictObject(publishEntries, keyMessage(publishEntries)),
  v.partialCheck(
    [['room'], ['user'], ['connectionId']],
    (value) => targets(value) <= 1,
    'give at most one of "room", "user" or "connectionId" (none sends to everyone)',
  ),
);

export type PublishRequest = v.InferOutput<typeof publishRequest>;

/** Validates a publish request with the same rules (and error codes) as the socket's actions. */
export function parsePublishRequest(input: unknown): PublishRequest {
  const expected = 'send a JSON object {"room"?|"user"?|"connectionId"?, "data"}';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadMessageError('invalid_message', expected);
  }
  if (valueNestsDeeperThan(input, MAX_DEPTH)) {
    throw new BadMessageError(
      'invalid_message',
      `the request nests arrays and objects more than ${MAX_DEPTH} levels deep (the outer object counts)`,
      { limit: MAX_DEPTH },
    );
  }
  const result = v.safeParse(publishRequest, input);
  if (!result.success) throw invalid('publish', result.issues);
  checkData('publish', result.output.data);
  return result.output;
}

/** The body of `POST /publish`: JSON text, then the same rules as a Lambda invocation. */
export function parsePublishBody(body: string | undefined): PublishRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    throw new BadMessageError(
      'invalid_json',
      'the body is not valid JSON; send {"room"?|"user"?|"connectionId"?, "data"}',
    );
  }
  return parsePublishRequest(parsed);
}
