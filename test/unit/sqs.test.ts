/**
 * Our SendMessage (src/aws/sqs.ts) beside the SDK's SQS client, both against one loopback server:
 * the same method, path, protocol headers and JSON body, and a signature the SDK's own signer
 * reproduces from what reached the server. Then its answers: the MessageId, a refusal, a stall.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { SendMessageError, SqsClient } from '../../src/aws/sqs';

const credentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==',
};
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/aws-node-websockets-dev-departures';
const BODY = JSON.stringify({ departures: [{ room: 'lobby', user: 'alice', at: 1, connectionId: 'c', subject: 'ü' }] });

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let server: Server;
let seen: Seen[];
let answer: { status: number; body: string; stall?: boolean };

beforeEach(async () => {
  seen = [];
  answer = { status: 200, body: '{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"x"}' };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      if (answer.stall) return;
      res.statusCode = answer.status;
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

function dateOf(headers: IncomingHttpHeaders): Date {
  const d = String(headers['x-amz-date']);
  return new Date(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
  );
}

it('sends what the SDK sends: POST /, the JSON protocol, the same body; signed as the SDK signs', async () => {
  const ours = new SqsClient(url(), { region: 'eu-west-1', credentials });
  expect(await ours.sendMessage(QUEUE, BODY, 3, 2_000)).toBe('5fea7756-0ea4-451a-a703-a558b933e274');
  ours.destroy();
  const sdk = new SQSClient({ region: 'eu-west-1', endpoint: url(), credentials, maxAttempts: 1 });
  // The SDK checks the answer's MD5 of the body; ours does not need to, the request is what is compared.
  await sdk
    .send(new SendMessageCommand({ QueueUrl: QUEUE, MessageBody: BODY, DelaySeconds: 3 }))
    .catch(() => undefined);
  sdk.destroy();
  const [mine, theirs] = seen as [Seen, Seen];
  expect([mine.method, mine.url]).toEqual([theirs.method, theirs.url]);
  for (const header of ['content-type', 'x-amz-target', 'x-amz-security-token']) {
    expect([header, mine.headers[header]]).toEqual([header, theirs.headers[header]]);
  }
  expect(JSON.parse(mine.body.toString())).toEqual(JSON.parse(theirs.body.toString()));
  expect(mine.body.toString()).toBe(theirs.body.toString());

  const signed =
    String(mine.headers.authorization)
      .match(/SignedHeaders=([^,]+)/)?.[1]
      ?.split(';') ?? [];
  const resigned = await new SignatureV4({ credentials, region: 'eu-west-1', service: 'sqs', sha256: Sha256 }).sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: '/',
      query: {},
      headers: Object.fromEntries(
        signed
          .filter((n) => n !== 'x-amz-date' && n !== 'x-amz-content-sha256' && n !== 'x-amz-security-token')
          .map((n) => [n, String(mine.headers[n])]),
      ),
      body: mine.body,
    },
    { signingDate: dateOf(mine.headers) },
  );
  expect(mine.headers.authorization).toBe(resigned.headers.authorization);
  expect(String(mine.headers.authorization)).toContain('/eu-west-1/sqs/aws4_request');
});

it('rounds the delay up to whole seconds within SQS 0-900', async () => {
  const ours = new SqsClient(url(), { region: 'eu-west-1', credentials });
  for (const delay of [2.001, -4, 0, 5_000]) await ours.sendMessage(QUEUE, BODY, delay, 2_000);
  ours.destroy();
  expect(seen.map((s) => (JSON.parse(s.body.toString()) as { DelaySeconds: number }).DelaySeconds)).toEqual([
    3, 0, 0, 900,
  ]);
});

it('a refusal, an answer without MessageId and a stall are SendMessageErrors', async () => {
  const ours = new SqsClient(url(), { region: 'eu-west-1', credentials });
  answer = { status: 400, body: '{"__type":"com.amazonaws.sqs#QueueDoesNotExist"}' };
  await expect(ours.sendMessage(QUEUE, BODY, 1, 2_000)).rejects.toMatchObject({
    name: 'SendMessageError',
    statusCode: 400,
  });
  answer = { status: 200, body: '{}' };
  await expect(ours.sendMessage(QUEUE, BODY, 1, 2_000)).rejects.toMatchObject({ statusCode: 200 });
  answer = { status: 200, body: '', stall: true };
  const started = Date.now();
  await expect(ours.sendMessage(QUEUE, BODY, 1, 300)).rejects.toBeInstanceOf(SendMessageError);
  expect(Date.now() - started).toBeLessThan(2_000);
  ours.destroy();
});
