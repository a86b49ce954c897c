import { BadMessageError } from '../../src/errors';
import { MAX_DATA_BYTES, parseCommand } from '../../src/protocol';

function refusal(body: string | undefined): { code: string; message: string } {
  try {
    parseCommand(body);
  } catch (error) {
    if (error instanceof BadMessageError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`accepted ${body}`);
}

describe('parseCommand', () => {
  it.each([
    ['{"action":"sendmessage","data":{"text":"hi"}}', { action: 'sendmessage', data: { text: 'hi' } }],
    ['{"action":"sendmessage","data":null}', { action: 'sendmessage', data: null }],
    ['{"action":"join","room":"lobby-1"}', { action: 'join', room: 'lobby-1' }],
    ['{"action":"leave","room":"a.b:c_d"}', { action: 'leave', room: 'a.b:c_d' }],
    ['{"action":"publish","room":"r","data":[1,2]}', { action: 'publish', room: 'r', data: [1, 2] }],
    ['{"action":"list"}', { action: 'list' }],
    ['{}', { action: 'list' }],
  ])('accepts %s', (body, command) => {
    expect(parseCommand(body)).toEqual(command);
  });

  it('drops unknown fields', () => {
    expect(parseCommand('{"action":"join","room":"r","admin":true}')).toEqual({ action: 'join', room: 'r' });
  });

  it.each([
    ['not JSON', 'hello', 'invalid_json'],
    ['an empty body', '', 'invalid_message'],
    ['a JSON string', '"join"', 'invalid_message'],
    ['null', 'null', 'invalid_message'],
    ['an unknown action', '{"action":"explode"}', 'unknown_action'],
    ['a numeric action', '{"action":5}', 'unknown_action'],
    ['sendmessage without data', '{"action":"sendmessage"}', 'invalid_message'],
    ['join without room', '{"action":"join"}', 'invalid_message'],
    ['a numeric room', '{"action":"join","room":7}', 'invalid_message'],
    ['an empty room', '{"action":"join","room":""}', 'invalid_message'],
    ['a room with spaces', '{"action":"join","room":"a b"}', 'invalid_message'],
    [
      'an injection-shaped room',
      `{"action":"publish","room":"x'; DROP TABLE connections; --","data":1}`,
      'invalid_message',
    ],
    ['a 65-character room', JSON.stringify({ action: 'join', room: 'r'.repeat(65) }), 'invalid_message'],
  ])('refuses %s', (_what, body, code) => {
    expect(refusal(body).code).toBe(code);
  });

  it('says which actions are valid', () => {
    expect(refusal('{"action":"explode"}').message).toBe(
      'unknown action "explode"; valid actions: sendmessage, join, leave, publish, list',
    );
  });

  it('accepts data up to the limit and refuses one byte more', () => {
    const fits = 'x'.repeat(MAX_DATA_BYTES - 2); // the JSON string adds two quotes
    expect(parseCommand(JSON.stringify({ action: 'sendmessage', data: fits }))).toMatchObject({
      action: 'sendmessage',
    });
    expect(refusal(JSON.stringify({ action: 'sendmessage', data: fits + 'x' })).code).toBe('payload_too_large');
  });

  it('counts bytes, not characters', () => {
    const emoji = '💥'.repeat(Math.ceil(MAX_DATA_BYTES / 4) + 1);
    expect(refusal(JSON.stringify({ action: 'publish', room: 'r', data: emoji })).code).toBe('payload_too_large');
  });
});
