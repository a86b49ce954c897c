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

export const ACTIONS = ['sendmessage', 'join', 'leave', 'publish', 'list'] as const;
export type Action = (typeof ACTIONS)[number];

const room = z
  .string({ error: 'room must be a string' })
  .min(1, 'room must not be empty')
  .max(MAX_ROOM_LENGTH, `room must be at most ${MAX_ROOM_LENGTH} characters`)
  .regex(ROOM_PATTERN, 'room may only contain letters, digits and _ . : -');

const data = z.unknown().refine((value) => value !== undefined, { message: 'data is required' });

const schemas = {
  sendmessage: z.object({ action: z.literal('sendmessage'), data }),
  join: z.object({ action: z.literal('join'), room }),
  leave: z.object({ action: z.literal('leave'), room }),
  publish: z.object({ action: z.literal('publish'), room, data }),
  list: z.object({ action: z.literal('list') }),
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
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new BadMessageError(
      'invalid_message',
      `invalid ${action}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
      { issues },
    );
  }
  const command = result.data as Command;
  if ('data' in command) {
    const size = Buffer.byteLength(JSON.stringify(command.data) ?? '');
    if (size > MAX_DATA_BYTES) {
      throw new BadMessageError(
        'payload_too_large',
        `data is ${size} bytes; at most ${MAX_DATA_BYTES} fit in API Gateway's 128 KB message`,
        { size, limit: MAX_DATA_BYTES },
      );
    }
  }
  return command;
}
