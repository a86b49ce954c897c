/**
 * Lifecycle events to EventBridge (src/events/emitter.ts) against a loopback stand-in for
 * PutEvents: entries it refuses are retried with the same ids, and what is still refused when
 * the budget ends is logged and counted, never thrown.
 */
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient } from '../../src/aws/event-bridge';
import { BusSink, emit, FileSink, PUT_ATTEMPTS, useSink } from '../../src/events/emitter';
import { lifecycleEvent } from '../../src/events/types';
import type { LifecycleEvent } from '../../src/events/types';
import { startEventBridge } from '../support/stand-ins/event-bridge';
import type { EventBridgeStandIn } from '../support/stand-ins/event-bridge';

let bridge: EventBridgeStandIn;
let client: EventBridgeClient;

beforeAll(async () => {
  bridge = await startEventBridge();
  client = new EventBridgeClient(bridge.endpoint, {
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

afterAll(async () => {
  client.destroy();
  await bridge.close();
});

beforeEach(() => {
  bridge.requests.length = 0;
  bridge.plan();
});

afterEach(() => {
  useSink(undefined);
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

const opened = (id: string) => lifecycleEvent('connection.opened', 'test', { connectionId: id, subject: null });

/** The metric is written to stdout (as EMF); test/setup-env.ts turns metrics off for the other tests. */
function captureStdout(): { lines: () => string[]; restore: () => void } {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return { lines: () => written.join('').split('\n').filter(Boolean), restore: () => spy.mockRestore() };
}

describe('BusSink', () => {
  it('sends the entries as PutEvents, signed, to the named bus, with the detail as JSON', async () => {
    const sink = new BusSink(client, 'chat-bus');
    const lost = await sink.put([opened('a')], Date.now() + 1_000);
    expect(lost).toEqual([]);
    expect(bridge.requests).toHaveLength(1);
    const [request] = bridge.requests;
    expect(request?.target).toBe('AWSEvents.PutEvents');
    expect(request?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/events\/aws4_request/);
    const entry = request?.entries[0];
    expect(entry).toMatchObject({
      Source: 'aws-node-websockets',
      DetailType: 'connection.opened',
      EventBusName: 'chat-bus',
    });
    expect(JSON.parse(entry?.Detail ?? '{}')).toMatchObject({
      connectionId: 'a',
      subject: null,
      user: 'a',
      stage: 'test',
    });
  });

  it('retries only the entries that FailedEntryCount refused, with the same ids', async () => {
    bridge.plan({ refuse: 1 });
    const events = [opened('a'), opened('b')];
    const lost = await new BusSink(client, 'bus').put(events, Date.now() + 1_000);
    expect(lost).toEqual([]);
    expect(bridge.requests.map((request) => request.entries.length)).toEqual([2, 1]);
    const retried = JSON.parse(bridge.requests[1]?.entries[0]?.Detail ?? '{}') as { id: string };
    expect(retried.id).toBe(events[0]?.detail.id);
  });

  it('retries a failed request, and gives back what is still refused after the last attempt', async () => {
    bridge.plan({ status: 500 }, { refuse: 1 }, { refuse: 1 }, { refuse: 1 });
    const lost = await new BusSink(client, 'bus').put([opened('a')], Date.now() + 1_000);
    expect(bridge.requests).toHaveLength(PUT_ATTEMPTS);
    expect(lost.map((event) => event.detail.connectionId)).toEqual(['a']);
  });

  it('ends by its deadline against an endpoint that accepts and never answers, and gives the events back', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket)); // holds every connection, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const mute = new EventBridgeClient(`http://127.0.0.1:${port}`, {
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const started = Date.now();
      const lost = await new BusSink(mute, 'bus').put([opened('a')], started + 300);
      expect(lost.map((event) => event.detail.connectionId)).toEqual(['a']);
      // Well before jest's 5 s: the request was aborted, not left to the socket's own timeout.
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      mute.destroy();
      held.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('starts no attempt after the deadline', async () => {
    const lost = await new BusSink(client, 'bus').put([opened('a')], Date.now() - 1);
    expect(bridge.requests).toHaveLength(0);
    expect(lost).toHaveLength(1);
  });

  it('sends more than 10 events in requests of 10', async () => {
    const events = Array.from({ length: 12 }, (_, index) => opened(`c${index}`));
    await new BusSink(client, 'bus').put(events, Date.now() + 1_000);
    expect(bridge.requests.map((request) => request.entries.length)).toEqual([10, 2]);
  });
});

describe('emit', () => {
  it('never throws: events still refused are logged with their ids and counted in the undelivered metric', async () => {
    bridge.plan({ refuse: 1 }, { refuse: 1 }, { refuse: 1 });
    useSink(new BusSink(client, 'bus'));
    const event = opened('lost');
    const out = captureStdout();
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(emit([event])).resolves.toBeUndefined();
    } finally {
      out.restore();
    }
    const metric = out
      .lines()
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => '_aws' in line);
    expect(metric).toMatchObject({ service: 'events', undelivered: 1 });
    const logged = errors.mock.calls.map((call) => String(call[0])).join('\n');
    errors.mockRestore();
    expect(logged).toContain(event.detail.id);
  });

  it('a sink that throws is logged and counted too', async () => {
    useSink({ put: () => Promise.reject(new Error('boom')) });
    const out = captureStdout();
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await emit([opened('x')]);
    } finally {
      out.restore();
      errors.mockRestore();
    }
    expect(out.lines().some((line) => line.includes('"undelivered":1'))).toBe(true);
  });
});

describe('FileSink', () => {
  it('writes one JSON line per event, its detail-type as `type` first, and prints a short line', async () => {
    const file = join(tmpdir(), `events-${process.pid}-${Date.now()}.jsonl`);
    const printed: string[] = [];
    const events: LifecycleEvent[] = [
      opened('a'),
      lifecycleEvent('member.joined', 'local', { connectionId: 'b', subject: 'alice' }, { room: 'r', seq: 0 }),
    ];
    try {
      await new FileSink(file, true, (text) => printed.push(text)).put(events);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines.map((line) => Object.keys(JSON.parse(line) as object)[0])).toEqual(['type', 'type']);
      expect(JSON.parse(lines[1] ?? '{}')).toMatchObject({
        type: 'member.joined',
        detail: { room: 'r', connectionId: 'b', subject: 'alice', user: 'alice', id: events[1]?.detail.id },
      });
      expect(printed).toEqual([
        '[events] connection.opened user=a\n',
        '[events] member.joined room=r user=alice connection=b\n',
      ]);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('prints nothing when quieted', async () => {
    const file = join(tmpdir(), `events-quiet-${process.pid}.jsonl`);
    const printed: string[] = [];
    try {
      await new FileSink(file, false, (text) => printed.push(text)).put([opened('a')]);
      expect(printed).toEqual([]);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
