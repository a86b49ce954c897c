/**
 * Departures waiting out their debounce in SQS (src/events/departures-queue.ts), as in AWS where
 * the template sets DEPARTURES_QUEUE_URL: a leave or a close sends one delayed message and answers
 * at once; an SQS stand-in on loopback keeps it for its DelaySeconds, then hands it to the
 * `departures` handler as the event source mapping would, which claims and emits what no return
 * took back. A queue that refuses leaves the departures for the sweep; a message the handler cannot
 * use is logged and dropped, never thrown (Lambda would retry it for the message's whole life).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, departures, disconnect, message, sweep } from '../../src/handler';
import type { WebSocketEvent } from '../../src/handler';
import { useSink } from '../../src/events/emitter';
import { resetDeparturesClient } from '../../src/events/departures-queue';
import { resetEventSettings } from '../../src/events/settings';
import { StoreError } from '../../src/errors';
import type { LifecycleEvent } from '../../src/events/types';
import { authorizedAs, connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';

const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/departures';
const DEBOUNCE_MS = 1_500;
const harness = useHandlerHarness({
  EVENTS_DEBOUNCE_MS: String(DEBOUNCE_MS),
  EVENTS_STAGE: 'unit',
  DEPARTURES_QUEUE_URL: QUEUE,
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
});

interface Sent {
  queue: string;
  body: string;
  delaySeconds: number;
  at: number;
}

/** SQS as far as SendMessage goes: keeps each message, or answers `status`; `deliver` plays the event source. */
let server: Server;
let sent: Sent[];
/** Every SendMessage request, answered or refused. */
let requests: number;
let status: number;
let events: LifecycleEvent[];

beforeEach(async () => {
  sent = [];
  requests = 0;
  status = 200;
  events = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
      requests++;
      if (req.headers['x-amz-target'] === 'AmazonSQS.SendMessage' && status === 200) {
        sent.push({
          queue: String(request.QueueUrl),
          body: String(request.MessageBody),
          delaySeconds: Number(request.DelaySeconds),
          at: Date.now(),
        });
      }
      res.statusCode = status;
      res.end(status === 200 ? `{"MessageId":"m-${sent.length}"}` : '{"__type":"InternalError"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.SQS_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  resetEventSettings();
  resetDeparturesClient();
  useSink({
    put: async (batch) => {
      events.push(...(batch as LifecycleEvent[]));
      return [];
    },
  });
});

afterEach(async () => {
  useSink(undefined);
  resetDeparturesClient();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** What the event source mapping does once a message is visible: one batch to `departures`. */
async function deliverWhenVisible(messages: readonly Sent[]) {
  const visible = Math.max(...messages.map((m) => m.at + m.delaySeconds * 1000));
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, visible - Date.now())));
  return departures(
    { Records: messages.map((m, i) => ({ messageId: `m-${i}`, body: m.body })) },
    lambdaContext(30_000),
  );
}

function as<T extends WebSocketEvent>(event: T, subject: string): T {
  event.requestContext.authorizer = authorizedAs(subject);
  return event;
}
const open = async (id: string, subject: string) =>
  expect(await connect(as(connectEvent(id), subject), lambdaContext())).toEqual({ statusCode: 200 });
const act = async (id: string, body: unknown, subject: string) =>
  expect(await message(as(messageEvent(body, id, 'message'), subject), lambdaContext())).toEqual({ statusCode: 200 });
const seen = () => events.map((e) => [e.type, e.detail.user, e.detail.room].filter(Boolean).join(' '));

it('a leave answers at once and queues its departures, delayed by the debounce; the handler emits them', async () => {
  await open('a1', 'alice');
  await act('a1', { action: 'join', room: 'r' }, 'alice');
  events.length = 0;
  const started = Date.now();
  await act('a1', { action: 'leave', room: 'r' }, 'alice');
  // No wait in the route: the debounce is the queue's.
  expect(Date.now() - started).toBeLessThan(DEBOUNCE_MS / 2);
  expect(sent).toHaveLength(1);
  expect(sent[0]).toMatchObject({ queue: QUEUE, delaySeconds: Math.ceil(DEBOUNCE_MS / 1000) });
  expect(JSON.parse(sent[0]?.body ?? '')).toEqual({
    departures: [
      expect.objectContaining({ room: 'r', user: 'alice', connectionId: 'a1', subject: 'alice' }),
      expect.objectContaining({ room: 'r', user: '', connectionId: 'a1' }),
    ],
  });
  expect(seen()).toEqual([]);
  expect(await deliverWhenVisible(sent)).toEqual({ messages: 1, claimed: 2, failed: 0 });
  expect(seen()).toEqual(['member.left alice r', 'room.vacated alice r']);
  expect(harness.store.departures.size).toBe(0);
});

it('a close, then a return before the message is visible: the handler claims nothing, no event', async () => {
  await open('a1', 'alice');
  await act('a1', { action: 'join', room: 'r' }, 'alice');
  expect(await disconnect(as(disconnectEvent('a1'), 'alice'), lambdaContext())).toEqual({ statusCode: 200 });
  await open('a2', 'alice');
  await act('a2', { action: 'join', room: 'r' }, 'alice');
  events.length = 0;
  expect(await deliverWhenVisible(sent)).toEqual({ messages: 1, claimed: 0, failed: 0 });
  expect(seen()).toEqual([]);
});

it('a queue that refuses: the route still answers, the departures stay in the store and the sweep emits them', async () => {
  await open('a1', 'alice');
  await act('a1', { action: 'join', room: 'r' }, 'alice');
  status = 500;
  events.length = 0;
  await act('a1', { action: 'leave', room: 'r' }, 'alice');
  expect(sent).toEqual([]);
  expect(requests).toBe(2); // SEND_ATTEMPTS, within the emit budget
  expect(harness.loggedErrors().map((line) => line.message)).toContain(
    'departures left for the sweep: the queue did not take them',
  );
  expect(harness.store.departures.size).toBe(2);
  for (const kept of harness.store.departures.values()) kept.at -= 60_000; // past the debounce and the margin
  status = 200;
  await sweep(undefined, { getRemainingTimeInMillis: () => 30_000 });
  // (The sweep may also close a1, which the management stand-in does not know: not what is tested here.)
  expect(seen().filter((line) => !line.startsWith('connection.'))).toEqual([
    'member.left alice r',
    'room.vacated alice r',
  ]);
});

it('a message that is no departures is dropped, a failed claim is counted; neither throws, the rest of the batch goes', async () => {
  await open('a1', 'alice');
  await act('a1', { action: 'join', room: 'r' }, 'alice');
  await act('a1', { action: 'leave', room: 'r' }, 'alice');
  const good = sent[0] as Sent;
  events.length = 0;
  const records = [
    { messageId: 'bad-json', body: '{' },
    { messageId: 'bad-shape', body: '{"departures":[{"room":1}]}' },
    { messageId: 'store-down', body: good.body },
    { messageId: 'good', body: good.body },
  ];
  harness.store.claimDepartures.mockRejectedValueOnce(new StoreError('MySQL claim failed: ETIMEDOUT', 'claim'));
  expect(await departures({ Records: records }, lambdaContext(30_000))).toEqual({
    messages: 4,
    claimed: 2,
    failed: 3,
  });
  expect(seen()).toEqual(['member.left alice r', 'room.vacated alice r']);
  expect(harness.loggedErrors().map((line) => line.message)).toEqual(
    expect.arrayContaining([
      'departures message is no departures; dropped',
      'departures not claimed; left for the sweep',
    ]),
  );
});
