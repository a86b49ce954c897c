import { BadMessageError } from '../../src/errors';
import { MAX_DATA_BYTES, parseCommand, parsePublishBody, parsePublishRequest } from '../../src/chat/protocol';

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
      'unknown action "explode"; valid actions: sendmessage, join, leave, publish, list, send, members, ping, history',
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

describe('parseCommand: direct messages, members, ping', () => {
  it.each([
    ['{"action":"send","user":"alice","data":"hi"}', { action: 'send', user: 'alice', data: 'hi' }],
    [
      '{"action":"send","connectionId":"L0SM9cOFvHcCIhw=","data":{"a":1}}',
      { action: 'send', connectionId: 'L0SM9cOFvHcCIhw=', data: { a: 1 } },
    ],
    ['{"action":"members","room":"lobby"}', { action: 'members', room: 'lobby' }],
    ['{"action":"ping"}', { action: 'ping' }],
    ['{"action":"ping","id":7}', { action: 'ping' }],
  ])('accepts %s', (body, command) => {
    expect(parseCommand(body)).toEqual(command);
  });

  it.each([
    ['send without a target', '{"action":"send","data":1}', 'invalid_message'],
    [
      'send to a user and a connection at once',
      '{"action":"send","user":"a","connectionId":"b","data":1}',
      'invalid_message',
    ],
    ['send without data', '{"action":"send","user":"alice"}', 'invalid_message'],
    ['send to an empty user', '{"action":"send","user":"","data":1}', 'invalid_message'],
    ['send to a numeric user', '{"action":"send","user":7,"data":1}', 'invalid_message'],
    [
      'send to a 256-character user',
      JSON.stringify({ action: 'send', user: 'u'.repeat(256), data: 1 }),
      'invalid_message',
    ],
    [
      'send to a 129-character connection',
      JSON.stringify({ action: 'send', connectionId: 'c'.repeat(129), data: 1 }),
      'invalid_message',
    ],
    [
      'send with oversized data',
      JSON.stringify({ action: 'send', user: 'a', data: 'x'.repeat(MAX_DATA_BYTES) }),
      'payload_too_large',
    ],
    ['members without a room', '{"action":"members"}', 'invalid_message'],
    ['members of a bad room', '{"action":"members","room":"a b"}', 'invalid_message'],
  ])('refuses %s', (_what, body, code) => {
    expect(refusal(body).code).toBe(code);
  });

  it('says what a send needs', () => {
    expect(refusal('{"action":"send","data":1}').message).toBe(
      'invalid send: send needs exactly one of "user" or "connectionId"',
    );
  });
});

describe('parsePublishRequest (the publish function)', () => {
  it.each([
    [{ room: 'lobby', data: { text: 'deploy finished' } }],
    [{ user: 'alice', data: 1 }],
    [{ connectionId: 'L0SM9cOFvHcCIhw=', data: null }],
    [{ data: 'everyone' }],
  ])('accepts %j', (request) => {
    expect(parsePublishRequest(request)).toEqual(request);
  });

  function publishRefusal(input: unknown): string {
    try {
      parsePublishRequest(input);
    } catch (error) {
      if (error instanceof BadMessageError) return error.code;
      throw error;
    }
    throw new Error(`accepted ${JSON.stringify(input)}`);
  }

  it.each([
    ['two targets', { room: 'a', user: 'b', data: 1 }, 'invalid_message'],
    ['three targets', { room: 'a', user: 'b', connectionId: 'c', data: 1 }, 'invalid_message'],
    ['no data', { room: 'a' }, 'invalid_message'],
    ['a misspelt target, which must not mean everyone', { rooms: 'lobby', data: 1 }, 'invalid_message'],
    ['a bad room', { room: "x'; DROP TABLE connections; --", data: 1 }, 'invalid_message'],
    ['an array', [1], 'invalid_message'],
    ['null', null, 'invalid_message'],
    ['a string', 'lobby', 'invalid_message'],
    ['oversized data', { data: 'x'.repeat(MAX_DATA_BYTES) }, 'payload_too_large'],
  ])('refuses %s', (_what, input, code) => {
    expect(publishRefusal(input)).toBe(code);
  });

  it('reads the same request from an HTTP body, and refuses a body that is not JSON', () => {
    expect(parsePublishBody('{"room":"lobby","data":"x"}')).toEqual({ room: 'lobby', data: 'x' });
    expect(() => parsePublishBody('room=lobby')).toThrow(expect.objectContaining({ code: 'invalid_json' }));
    expect(() => parsePublishBody(undefined)).toThrow(expect.objectContaining({ code: 'invalid_json' }));
  });
});

describe('validation errors name each field and every mistake at once', () => {
  function details(run: () => unknown): { message: string; details: unknown } {
    try {
      run();
    } catch (error) {
      if (error instanceof BadMessageError) return { message: error.message, details: error.details };
      throw error;
    }
    throw new Error('accepted');
  }

  it('reports a missing field as required, at its path', () => {
    expect(details(() => parseCommand('{"action":"join"}'))).toEqual({
      message: 'invalid join: room: room is required',
      details: { issues: [{ path: 'room', message: 'room is required' }] },
    });
  });

  it('reports a field of the wrong type as its own schema would, at its path', () => {
    for (const given of ['null', '7', '["lobby"]']) {
      expect(details(() => parseCommand(`{"action":"join","room":${given}}`))).toEqual({
        message: 'invalid join: room: room must be a string',
        details: { issues: [{ path: 'room', message: 'room must be a string' }] },
      });
    }
    expect(details(() => parseCommand('{"action":"members"}')).message).toBe('invalid members: room: room is required');
    expect(details(() => parsePublishRequest({ room: 7, data: 1 })).message).toBe(
      'invalid publish: room: room must be a string',
    );
  });

  it('reports every failed rule of one field', () => {
    expect(details(() => parseCommand('{"action":"join","room":""}')).details).toEqual({
      issues: [
        { path: 'room', message: 'room must not be empty' },
        { path: 'room', message: 'room may only contain letters, digits and _ . : -' },
      ],
    });
  });

  it('checks the targets of a send even when its data is missing', () => {
    expect(details(() => parseCommand('{"action":"send"}')).message).toBe(
      'invalid send: data: data is required; send needs exactly one of "user" or "connectionId"',
    );
  });

  it('does not check the targets when a target has the wrong type', () => {
    expect(
      details(() => parseCommand('{"action":"send","user":7,"connectionId":"L0SM9cOFvHcCIhw=","data":1}')).message,
    ).toBe('invalid send: user: user must be a string');
  });

  it('names every unknown key of a publish request at the request itself', () => {
    expect(details(() => parsePublishRequest({ rooms: 'lobby', users: 'x', data: 1 }))).toEqual({
      message: 'invalid publish: Unrecognized keys: "rooms", "users"',
      details: { issues: [{ path: '', message: 'Unrecognized keys: "rooms", "users"' }] },
    });
  });

  it('checks the targets of a publish request that also has an unknown key', () => {
    expect(details(() => parsePublishRequest({ room: 'a', user: 'b', rooms: 'x', data: 1 })).message).toBe(
      'invalid publish: Unrecognized key: "rooms"; give at most one of "room", "user" or "connectionId" (none sends to everyone)',
    );
  });
});
