/**
 * A stand-in for EventBridge's PutEvents on loopback: it records every request (target header,
 * signature, entries) and answers as told, one planned answer per request: take every entry,
 * refuse some (a 200 with `FailedEntryCount`, as EventBridge does when throttled), or fail the
 * request with a status.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PutEventsEntry } from '../../../src/aws/event-bridge';

/** `ok`: take all; `{ refuse: n }`: the first n entries get an error code; `{ status }`: no answer but it. */
export type PlannedAnswer = 'ok' | { refuse: number } | { status: number };

export interface PutEventsRequest {
  target: string | undefined;
  authorization: string | undefined;
  entries: PutEventsEntry[];
}

export interface EventBridgeStandIn {
  endpoint: string;
  requests: PutEventsRequest[];
  /** Answers for the next requests, in order; once used up, every request is taken. */
  plan(...answers: PlannedAnswer[]): void;
  close(): Promise<void>;
}

export async function startEventBridge(): Promise<EventBridgeStandIn> {
  const requests: PutEventsRequest[] = [];
  let planned: PlannedAnswer[] = [];
  let next = 0;
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const { Entries: entries } = JSON.parse(Buffer.concat(parts).toString('utf8')) as { Entries: PutEventsEntry[] };
      requests.push({
        target: req.headers['x-amz-target'] as string | undefined,
        authorization: req.headers.authorization,
        entries,
      });
      const answer = planned.shift() ?? 'ok';
      if (typeof answer === 'object' && 'status' in answer) {
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end('{"__type":"InternalException"}');
        return;
      }
      const refuse = answer === 'ok' ? 0 : Math.min(answer.refuse, entries.length);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify({
          FailedEntryCount: refuse,
          Entries: entries.map((_, index) =>
            index < refuse
              ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
              : { EventId: `event-${++next}` },
          ),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    plan: (...answers) => void (planned = answers),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
