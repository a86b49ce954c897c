/**
 * What the chat page sends and reads as a message (web/lines.ts: the chosen name within the
 * data, the time of a line) and how it waits for a token (web/token-gate.ts).
 */
import { MAX_NAME_LENGTH, messageData, readData, timeOf } from '../../web/lines';
import { TokenGate, tokenExpired } from '../../web/token-gate';

describe('a message as the page sends it', () => {
  it('is the bare text without a name, and {text, name} with one (trimmed, at most 40 characters)', () => {
    expect(messageData('hi', '')).toBe('hi');
    expect(messageData('hi', '   ')).toBe('hi');
    expect(messageData('hi', ' dave ')).toEqual({ text: 'hi', name: 'dave' });
    expect(messageData('hi', 'x'.repeat(50))).toEqual({ text: 'hi', name: 'x'.repeat(MAX_NAME_LENGTH) });
  });
});

describe('a message as the page reads it', () => {
  it('takes the text and the claimed name from {text, name}, and the text alone from a string', () => {
    expect(readData({ text: 'hi', name: 'carol' })).toEqual({ text: 'hi', name: 'carol' });
    expect(readData('hi')).toEqual({ text: 'hi' });
    expect(readData({ text: 'hi', name: '  ' })).toEqual({ text: 'hi' });
    expect(readData({ text: 'hi', name: 7 })).toEqual({ text: 'hi' });
  });

  it('shows any other data as its JSON, claiming no name', () => {
    expect(readData({ name: 'carol' })).toEqual({ text: '{"name":"carol"}' });
    expect(readData([1, 2])).toEqual({ text: '[1,2]' });
    expect(readData(null)).toEqual({ text: 'null' });
  });

  it('dates a line by its sentAt: the exact instant, and the date only when not from today', () => {
    const now = new Date(2026, 11, 7, 15, 0);
    const today = timeOf(new Date(2026, 11, 7, 9, 5).getTime(), now);
    expect(today.iso).toBe(new Date(2026, 11, 7, 9, 5).toISOString());
    expect(today.label).toMatch(/09:05/);
    expect(today.label).not.toMatch(/Dec/);
    expect(timeOf(new Date(2026, 11, 6, 9, 5).getTime(), now).label).toMatch(/Dec/);
  });
});

describe('the wait for a token', () => {
  it('holds every waiter until Connect, and Connect with nobody waiting says so', async () => {
    const gate = new TokenGate();
    expect(gate.open()).toBe(false);
    let released = 0;
    const waits = [gate.wait(), gate.wait()].map((wait) => wait.then(() => released++));
    expect(gate.isWaiting).toBe(true);
    await Promise.resolve();
    expect(released).toBe(0);
    expect(gate.open()).toBe(true);
    await Promise.all(waits);
    expect(released).toBe(2);
    expect(gate.isWaiting).toBe(false);
  });

  it("reads a JWT's exp (unverified) and takes anything unreadable as not expired", () => {
    const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature`;
    const nowMs = 1_800_000_000_000;
    expect(tokenExpired(jwt({ exp: nowMs / 1000 - 1 }), nowMs)).toBe(true);
    expect(tokenExpired(jwt({ exp: nowMs / 1000 + 60 }), nowMs)).toBe(false);
    expect(tokenExpired(jwt({ sub: 'alice' }), nowMs)).toBe(false);
    expect(tokenExpired('not-a-token', nowMs)).toBe(false);
    expect(tokenExpired('a.%%%.b', nowMs)).toBe(false);
  });
});
