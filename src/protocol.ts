/**
 * The JSON protocol spoken over the socket. API Gateway routes on `action`
 * (`websocketsApiRouteSelectionExpression: $request.body.action`); each body is then
 * validated here with zod. Everything we send back has a `type`.
 */
import { z } from 'zod';
import { BadMessageError } from './errors';

/**
 * API Gateway refuses to post more than 128 KB to a connection. The largest envelope
 * we wrap around `data` (type, room, from, connectionId, sentAt) stays under 1 KiB.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;
export const MAX_DATA_BYTES = MAX_MESSAGE_BYTES - 1024;
export const MAX_ROOM_LENGTH = 64;
export const ROOM_PATTERN = /^[A-Za-z0-9_.:-]+$/;

export const ACTIONS = ['sendmessage', 'join', 'leave', 'publish', 'list', 'send', 'members', 'ping'] as const;
export type Action = (typeof ACTIONS)[number];

const room = z
  .string({ error: 'room must be a string' })
  .min(1, 'room must not be empty')
  .max(MAX_ROOM_LENGTH, `room must be at most ${MAX_ROOM_LENGTH} characters`)
  .regex(ROOM_PATTERN, 'room may only contain letters, digits and _ . : -');

const data = z.unknown().refine((value) => value !== undefined, { message: 'data is required' });

/** A user is the authorizer's subject: the `subject` column is VARCHAR(255) (src/auth.ts refuses longer ones). */
export const MAX_USER_LENGTH = 255;
/** The `connection_id` column is VARCHAR(128); API Gateway's ids are 16 characters. */
export const MAX_CONNECTION_ID_LENGTH = 128;

const user = z
  .string({ error: 'user must be a string' })
  .min(1, 'user must not be empty')
  .max(MAX_USER_LENGTH, `user must be at most ${MAX_USER_LENGTH} characters`);

const connectionId = z
  .string({ error: 'connectionId must be a string' })
  .min(1, 'connectionId must not be empty')
  .max(MAX_CONNECTION_ID_LENGTH, `connectionId must be at most ${MAX_CONNECTION_ID_LENGTH} characters`);

const targets = (value: { room?: unknown; user?: unknown; connectionId?: unknown }) =>
  [value.room, value.user, value.connectionId].filter((target) => target !== undefined).length;

const schemas = {
  sendmessage: z.object({ action: z.literal('sendmessage'), data }),
  join: z.object({ action: z.literal('join'), room }),
  leave: z.object({ action: z.literal('leave'), room }),
  publish: z.object({ action: z.literal('publish'), room, data }),
  list: z.object({ action: z.literal('list') }),
  send: z
    .object({ action: z.literal('send'), user: user.optional(), connectionId: connectionId.optional(), data })
    .refine((value) => targets(value) === 1, { message: 'send needs exactly one of "user" or "connectionId"' }),
  members: z.object({ action: z.literal('members'), room }),
  ping: z.object({ action: z.literal('ping') }),
} satisfies Record<Action, z.ZodType>;

export type Command = { [A in Action]: z.infer<(typeof schemas)[A]> }[Action];

function isAction(value: unknown): value is Action {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

const valid = ACTIONS.join(', ');

/** Parses and validates one message body. Throws BadMessageError with a code the client can act on. */
export function parseCommand(body: string | undefined): Command {
  if (body === undefined || body.trim() === '') {
    throw new BadMessageError('invalid_message', `send a JSON object with an "action": one of ${valid}`);
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
    throw new BadMessageError('unknown_action', `unknown action ${JSON.stringify(action)}; valid actions: ${valid}`, {
      validActions: ACTIONS,
    });
  }
  const result = schemas[action].safeParse({ ...parsed, action });
  if (!result.success) throw invalid(action, result.error);
  const command = result.data as Command;
  if ('data' in command) checkDataSize(command.data);
  return command;
}

/** A zod failure as the error the client gets: each issue with its path. */
function invalid(what: string, error: z.ZodError): BadMessageError {
  const issues = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  return new BadMessageError(
    'invalid_message',
    `invalid ${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    { issues },
  );
}

/** Refuses `data` that cannot fit in one API Gateway message, before any fan-out. */
function checkDataSize(value: unknown): void {
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
 * What a backend sends the `publish` function (Lambda invoke or `POST /publish`): at most
 * one target, none meaning everyone. Strict, unlike the socket's actions: a misspelt
 * target (`"rooms"`) must be refused, not taken for "no target" and sent to everyone.
 */
const publishRequest = z
  .strictObject({ room: room.optional(), user: user.optional(), connectionId: connectionId.optional(), data })
  .refine((value) => targets(value) <= 1, {
    message: 'give at most one of "room", "user" or "connectionId" (none sends to everyone)',
  });

export type PublishRequest = z.infer<typeof publishRequest>;

/** Validates a publish request with the same rules (and error codes) as the socket's actions. */
export function parsePublishRequest(input: unknown): PublishRequest {
  const expected = 'send a JSON object {"room"?|"user"?|"connectionId"?, "data"}';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadMessageError('invalid_message', expected);
  }
  const result = publishRequest.safeParse(input);
  if (!result.success) throw invalid('publish', result.error);
  checkDataSize(result.data.data);
  return result.data;
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
