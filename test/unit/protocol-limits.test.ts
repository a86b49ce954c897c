/**
 * What parseCommand does with input built to break it:
 * nesting deep enough to overflow the stack, numbers JSON cannot carry, frames that are
 * not text. Whatever arrives, the only thing it may throw is a BadMessageError, and the
 * error it describes stays small enough to be sent back.
 */
import { BadMessageError } from '../../src/errors';
import { MAX_DEPTH, MAX_MESSAGE_BYTES, parseCommand } from '../../src/chat/protocol';
import type { Command } from '../../src/chat/protocol';

interface Refusal {
  code: string;
  message: string;
  details?: unknown;
}

function refusal(body: unknown, isBase64Encoded?: boolean): Refusal {
  try {
    parseCommand(body, isBase64Encoded);
  } catch (error) {
    if (error instanceof BadMessageError) return { code: error.code, message: error.message, details: error.details };
    throw error;
  }
  throw new Error(`accepted ${String(body).slice(0, 200)}`);
}

const send = (data: string) => `{"action":"sendmessage","data":${data}}`;
/** `levels` arrays inside one another: `[[[]]]` is 3. */
const arrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const objects = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
/** Arrays and objects in turn, `levels` deep (rounded up to even), 5 characters a level. */
const mixed = (levels: number) => {
  const pairs = Math.ceil(levels / 2);
  return '[1,{"k":'.repeat(pairs) + 'null' + '}]'.repeat(pairs);
};

describe('parseCommand and nesting depth', () => {
  it('accepts a message nested exactly MAX_DEPTH deep (the outer object counts)', () => {
    expect(parseCommand(send(arrays(MAX_DEPTH - 1)))).toMatchObject({ action: 'sendmessage' });
    expect(parseCommand(send(objects(MAX_DEPTH - 1)))).toMatchObject({ action: 'sendmessage' });
  });

  it('refuses one level more as invalid_message, naming the limit', () => {
    const refused = refusal(send(arrays(MAX_DEPTH)));
    expect(refused).toEqual({
      code: 'invalid_message',
      message: expect.stringContaining(`${MAX_DEPTH}`),
      details: { limit: MAX_DEPTH },
    });
    expect(refusal(send(objects(MAX_DEPTH))).code).toBe('invalid_message');
  });

  it('refuses 60,000 levels inside the frame limit without overflowing the stack', () => {
    for (const data of [arrays(60_000), objects(20_000), mixed(24_000)]) {
      const body = send(data);
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(refusal(body)).toMatchObject({ code: 'invalid_message', details: { limit: MAX_DEPTH } });
    }
  });

  it('does not count brackets inside strings, escaped quotes and backslashes included', () => {
    const deepText = '['.repeat(50_000) + '{'.repeat(10_000);
    for (const data of [deepText, `"${deepText}`, `\\"${deepText}`, `\\\\${deepText}`, `\\`, `"]}`.repeat(1_000)]) {
      expect(parseCommand(JSON.stringify({ action: 'sendmessage', data }))).toEqual({ action: 'sendmessage', data });
    }
    // a string that ends in a backslash must not swallow the brackets that follow it
    const afterBackslash = JSON.stringify({ action: 'sendmessage', data: ['\\', JSON.parse(arrays(MAX_DEPTH))] });
    expect(refusal(afterBackslash).code).toBe('invalid_message');
  });

  it('refuses depth hidden in any field, not only data', () => {
    expect(refusal(`{"action":${arrays(MAX_DEPTH)}}`).code).toBe('invalid_message');
    expect(refusal(`{"action":"join","room":${objects(MAX_DEPTH)}}`).code).toBe('invalid_message');
    expect(refusal(`{"action":"list","ignored":${arrays(MAX_DEPTH)}}`).code).toBe('invalid_message');
  });
});

describe('parseCommand and non-finite numbers', () => {
  it.each([
    ['1e400', ''],
    ['-1e400', ''],
    ['[1,2,1e999]', '.2'],
    ['{"a":[0,{"b":-2e308}]}', '.a.1.b'],
  ])('refuses %s in data, with its path', (data, path) => {
    expect(refusal(send(data))).toEqual({
      code: 'invalid_message',
      message: expect.stringContaining(`data${path}`),
      details: { issues: [{ path: `data${path}`, message: expect.stringContaining('finite') }] },
    });
  });

  it('refuses them in publish too', () => {
    expect(refusal('{"action":"publish","room":"r","data":{"x":1e400}}').code).toBe('invalid_message');
  });

  it('accepts large finite numbers, tiny ones and negative zero', () => {
    expect(parseCommand(send('[1.7976931348623157e308,1e-400,-0,5e-324]'))).toMatchObject({ action: 'sendmessage' });
  });
});

describe('parseCommand and frames that are not text', () => {
  it.each([
    ['a Buffer (serverless-offline, in process)', Buffer.from('{"action":"list"}')],
    ['a Uint8Array (serverless-offline, through a worker thread)', new Uint8Array(Buffer.from('{"action":"list"}'))],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['a number', 42],
    ['an object', { action: 'list' }],
    ['null', null],
  ])('refuses %s as invalid_message asking for text frames', (_what, body) => {
    expect(refusal(body)).toEqual({ code: 'invalid_message', message: expect.stringContaining('text frames') });
  });

  it('refuses a base64-encoded body (what API Gateway passes for a converted binary payload)', () => {
    const base64 = Buffer.from('{"action":"list"}').toString('base64');
    expect(refusal(base64, true)).toEqual({ code: 'invalid_message', message: expect.stringContaining('text frames') });
    expect(refusal('{"action":"list"}', true).code).toBe('invalid_message');
  });

  it('accepts a text body flagged as not base64-encoded', () => {
    expect(parseCommand('{"action":"list"}', false)).toEqual({ action: 'list' });
  });
});

describe('parseCommand under adversarial input', () => {
  /** Deterministic, so a failure can be replayed. */
  function random(seed: number): () => number {
    let state = seed >>> 0 || 1;
    return () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
  }

  const LEAVES = ['1e400', '-1e999', '0', '-0', '1.5e308', '5e-324', 'null', 'true', '""'];
  const STRING_PARTS = [...'[]{}",:\\ x💥', '\ud800', '\u0000', '__proto__'];

  /**
   * Random JSON text, valid unless mutated: chains of arrays and objects up to 3 times
   * MAX_DEPTH deep, strings full of brackets, quotes and backslashes, numbers JSON cannot
   * carry. Most of it gets past JSON.parse, so the checks after it are exercised too.
   */
  function fuzz(count: number, seed: number): string[] {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const text = (): string => {
      let value = '';
      const length = Math.floor(next() ** 2 * 40);
      for (let i = 0; i < length; i++) value += pick(STRING_PARTS);
      return JSON.stringify(value);
    };
    const value = (depthLeft: number): string => {
      const r = next();
      if (depthLeft > 0 && r < 0.45) {
        const items = [value(depthLeft - 1), ...(next() < 0.2 ? [pick(LEAVES), text()] : [])];
        return `[${items.join(',')}]`;
      }
      if (depthLeft > 0 && r < 0.9) {
        const entries = [`${text()}:${value(depthLeft - 1)}`, ...(next() < 0.2 ? [`${text()}:${pick(LEAVES)}`] : [])];
        return `{${entries.join(',')}}`;
      }
      return next() < 0.5 ? pick(LEAVES) : text();
    };
    const bodies: string[] = [];
    for (let n = 0; n < count; n++) {
      const action = pick(['"sendmessage"', '"publish"', '"join"', '"list"', '"leave"', value(3)]);
      let body = `{"action":${action},"room":${next() < 0.8 ? '"r"' : value(3)},"data":${value(
        Math.floor(next() * 3 * MAX_DEPTH),
      )}}`;
      if (next() < 0.2) {
        // a mutation: one character dropped or one inserted
        const at = Math.floor(next() * body.length);
        body = body.slice(0, at) + (next() < 0.5 ? pick(STRING_PARTS) : '') + body.slice(at + 1);
      }
      bodies.push(body);
    }
    return bodies;
  }

  /** Measured independently of the implementation (recursively: it only sees what was accepted). */
  function depthOf(value: unknown): number {
    if (typeof value !== 'object' || value === null) return 0;
    return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  }
  function hasNonFinite(value: unknown): boolean {
    if (typeof value === 'number') return !Number.isFinite(value);
    return typeof value === 'object' && value !== null && Object.values(value).some(hasNonFinite);
  }

  const huge = MAX_MESSAGE_BYTES - 64;
  const crafted: [string, string][] = [
    ['unclosed arrays', '['.repeat(huge)],
    ['unclosed objects', '{"a":'.repeat(huge / 5)],
    ['closers only', ']}'.repeat(huge / 2)],
    ['deep arrays as the whole message', arrays(huge / 2)],
    ['deep arrays in data', send(arrays((huge - 40) / 2))],
    ['deep objects in data', send(objects((huge - 40) / 6))],
    ['deep mixed in data', send(mixed((huge - 40) / 5))],
    ['deep inside the action', `{"action":${arrays((huge - 20) / 2)}}`],
    ['deep inside the room', `{"action":"join","room":${objects((huge - 30) / 6)}}`],
    ['deep after a long string', send(`["${'['.repeat(huge / 4)}",${arrays(huge / 4)}]`)],
    ['a long action', JSON.stringify({ action: 'x'.repeat(huge) })],
    ['a long action of escapes', JSON.stringify({ action: '\u0001'.repeat(huge / 6) })],
    ['a long key', `{"${'k'.repeat(huge)}":1}`],
    ['many keys', `{${Array.from({ length: huge / 12 }, (_, i) => `"k${i}":1`).join(',')}}`],
    ['a long room', JSON.stringify({ action: 'join', room: 'r'.repeat(huge) })],
    ['a non-finite number under a long key', send(`{"${'k'.repeat(huge - 50)}":1e400}`)],
    ['many non-finite numbers', send(`[${'1e400,'.repeat(huge / 6 - 10)}1]`)],
    ['a long number', send('1' + '0'.repeat(huge - 40))],
    ['a long exponent', send(`1e${'9'.repeat(huge - 40)}`)],
    ['whitespace only', ' \n\t\r'.repeat(huge / 4)],
    ['lone surrogates', send(JSON.stringify('\ud800'.repeat(huge / 8)))],
    ['a prototype key', '{"__proto__":{"action":"join"},"action":"list","constructor":{"prototype":1}}'],
    ['one byte over the frame limit', send(JSON.stringify('x'.repeat(MAX_MESSAGE_BYTES)))],
  ];

  it.each(crafted)('answers %s with a result or a small BadMessageError', (_what, body) => {
    expectOnlyBadMessage(body);
  });

  it('answers 2,000 random messages with a BadMessageError or a command that is shallow and finite', () => {
    const outcomes: Record<string, number> = {};
    for (const body of fuzz(2_000, 9)) {
      const command = expectOnlyBadMessage(body);
      const outcome = command === undefined ? 'refused' : 'accepted';
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (command !== undefined) {
        expect(depthOf(command)).toBeLessThanOrEqual(MAX_DEPTH);
        expect(hasNonFinite(command)).toBe(false);
      }
    }
    // both sides of every check were reached
    expect(outcomes.accepted).toBeGreaterThan(200);
    expect(outcomes.refused).toBeGreaterThan(200);
  });

  /** The command, or undefined after checking that the refusal is a small BadMessageError. */
  function expectOnlyBadMessage(body: string): Command | undefined {
    let thrown: unknown;
    try {
      return parseCommand(body);
    } catch (error) {
      thrown = error;
    }
    if (!(thrown instanceof BadMessageError)) {
      throw new Error(`${String(thrown)} for a body starting ${JSON.stringify(body.slice(0, 80))}`);
    }
    // The refusal goes back on the same connection: it must fit in a reply easily.
    const reply = JSON.stringify({ code: thrown.code, message: thrown.message, details: thrown.details });
    expect(Buffer.byteLength(reply)).toBeLessThan(2_048);
    return undefined;
  }
});
