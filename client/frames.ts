/**
 * Reading the service's frames: JSON text whose `type` is one of src/chat/frames.ts's and whose
 * fields have that type's shape. The checks below are typed from those definitions: a field
 * added to (or removed from) a frame type without its check here fails `tsc` (npm run lint),
 * and test/unit/client-frames.test.ts runs them over frames the real handlers produce, so the
 * types, the server and the client cannot drift apart unnoticed.
 */
import type {
  ConnectionEntry,
  FrameOf,
  MemberEntry,
  ServerMessage,
  ServerMessageType,
  UserEntry,
} from '../src/chat/frames';
import { ClientFrameError, ClientGatewayError } from './errors';

type Check = (value: unknown) => boolean;

/** One check for every field of T, optional ones included (their check accepts undefined). */
type Shape<T> = { [K in Exclude<keyof T, 'type'>]-?: Check };

const string: Check = (value) => typeof value === 'string';
const number: Check = (value) => typeof value === 'number' && Number.isFinite(value);
const boolean: Check = (value) => typeof value === 'boolean';
const stringOrNull: Check = (value) => value === null || typeof value === 'string';
/** `data` and `details` are any JSON value; a present field is all there is to check. */
const present: Check = (value) => value !== undefined;
const anything: Check = () => true;
const optional =
  (check: Check): Check =>
  (value) =>
    value === undefined || check(value);
const oneOf =
  (...values: readonly unknown[]): Check =>
  (value) =>
    values.includes(value);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function conforms(value: Record<string, unknown>, shape: Record<string, Check>): string | undefined {
  for (const [field, check] of Object.entries(shape)) {
    if (!check(value[field])) return field;
  }
  return undefined;
}

const listOf =
  (shape: Record<string, Check>): Check =>
  (value) =>
    Array.isArray(value) && value.every((item) => isObject(item) && conforms(item, shape) === undefined);

const target = { room: optional(string), user: optional(string), to: optional(string) };
const identity = { id: string, seq: optional(number) };
const connectionEntry: Shape<ConnectionEntry & { type: never }> = {
  connectionId: string,
  connectedAt: number,
  from: stringOrNull,
};
const memberEntry: Shape<MemberEntry & { type: never }> = { connectionId: string, from: stringOrNull };
const userEntry: Shape<UserEntry & { type: never }> = { user: string, from: stringOrNull, connections: number };

const SHAPES: { [T in ServerMessageType]: Shape<FrameOf<T>> } = {
  message: {
    ...target,
    ...identity,
    ephemeral: optional(oneOf(true)),
    sentAt: number,
    data: present,
    origin: oneOf('client', 'server'),
    from: stringOrNull,
    connectionId: optional(string),
  },
  delivery: {
    ...target,
    ...identity,
    recipients: number,
    sent: number,
    stale: number,
    failed: number,
    unsent: number,
    state: optional(oneOf('queued', 'done')),
    deliveryId: optional(string),
    shards: optional(number),
    ref: optional(string),
  },
  joined: { room: string, seq: optional(number) },
  left: { room: string, wasMember: boolean },
  connections: { you: string, count: number, connections: listOf(connectionEntry), truncated: boolean },
  members: {
    room: string,
    count: number,
    members: listOf(memberEntry),
    truncated: boolean,
    // Optional: a server from before users were counted sends neither.
    userCount: optional(number),
    users: optional(listOf(userEntry)),
  },
  presence: {
    ...identity,
    room: string,
    event: oneOf('join', 'leave'),
    connectionId: string,
    from: stringOrNull,
    reason: optional(oneOf('leave', 'disconnect')),
    user: optional(string),
    connections: optional(number),
    first: optional(oneOf(true)),
    last: optional(oneOf(true)),
  },
  pong: { at: number },
  history: { room: string, latest: number, messages: anything, more: boolean, gap: boolean, ref: optional(string) },
  error: {
    code: string,
    message: string,
    details: anything,
    action: optional(string),
    room: optional(string),
    ref: optional(string),
  },
};

function isFrameType(value: unknown): value is ServerMessageType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SHAPES, value);
}

/** Why `value` is not a ServerMessage, or undefined when it is one. */
export function frameProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'the frame is not a JSON object';
  if (!isFrameType(value.type)) return `unknown frame type ${JSON.stringify(value.type) ?? 'undefined'}`;
  const field = conforms(value, SHAPES[value.type]);
  if (field !== undefined) return `a "${value.type}" frame with a missing or wrongly typed "${field}"`;
  if (value.type === 'message' && value.origin === 'client' && typeof value.connectionId !== 'string') {
    return 'a client\'s "message" frame without its sender\'s "connectionId"';
  }
  if (value.type === 'history') {
    // Each kept frame is a message or presence event of that room, with its number.
    const messages = value.messages;
    if (!Array.isArray(messages)) return 'a "history" frame with a missing or wrongly typed "messages"';
    for (const item of messages) {
      const problem = frameProblem(item);
      if (problem !== undefined) return `a "history" frame holding ${problem}`;
      const kept = item as Record<string, unknown>;
      if ((kept.type !== 'message' && kept.type !== 'presence') || typeof kept.seq !== 'number') {
        return 'a "history" frame holding a frame that is not a numbered room frame';
      }
    }
  }
  return undefined;
}

export function isServerMessage(value: unknown): value is ServerMessage {
  return frameProblem(value) === undefined;
}

/**
 * Parses one received frame; throws ClientGatewayError for a frame API Gateway sent itself,
 * ClientFrameError for anything else that is not a ServerMessage.
 */
export function parseFrame(data: unknown): ServerMessage {
  if (typeof data !== 'string') {
    throw new ClientFrameError('the service sent a binary frame; it only sends JSON text', '(binary frame)');
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    throw new ClientFrameError('the service sent a frame that is not JSON', data, { cause: error });
  }
  // API Gateway's own answer to a message ("Too Many Requests", "Internal server error"): no `type`, a `message`.
  if (isObject(value) && value.type === undefined && typeof value.message === 'string') {
    throw new ClientGatewayError(
      value.message,
      typeof value.requestId === 'string' ? value.requestId : undefined,
      data,
    );
  }
  const problem = frameProblem(value);
  if (problem !== undefined) throw new ClientFrameError(`the service sent ${problem}`, data);
  return value as ServerMessage;
}
