/**
 * A stand-in for CloudFormation's response URL (a presigned S3 URL) on loopback: it keeps every
 * PUT it gets, and answers each with the next status of `statuses` (200 once they run out).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedResponse {
  method: string;
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

export interface ResponseStandIn {
  url: string;
  received: ReceivedResponse[];
  /** Statuses the next PUTs get, in order. */
  statuses: number[];
  close(): Promise<void>;
}

export async function responseStandIn(): Promise<ResponseStandIn> {
  const received: ReceivedResponse[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.statusCode = statuses.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cfn-response?X-Amz-Signature=abc`,
    received,
    statuses,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
