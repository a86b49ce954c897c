/**
 * src/aws/request.ts's signedPost against a loopback HTTP server: the delivery path drains the
 * answer unread; `readBody` (npm run smoke's POST /publish) keeps it, up to its cap.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { endpoint, MAX_READ_BODY_BYTES, signedPost } from '../../src/aws/request';
import type { SignedPost } from '../../src/aws/request';

let server: Server;
let answer = '';
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (extra: Partial<SignedPost> = {}) => {
  const target = endpoint(url, 1);
  return signedPost(target, {
    path: '/publish',
    headers: { 'content-type': 'application/json' },
    body: new TextEncoder().encode('{}'),
    region: 'us-east-1',
    service: 'execute-api',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    timeoutMs: 5_000,
    ...extra,
  }).finally(() => target.agent.destroy());
};

describe('signedPost', () => {
  it('drains the answer unread by default', async () => {
    answer = '{"type":"delivery"}';
    expect(await post()).toEqual({ status: 200 });
  });

  it('keeps the answer with readBody', async () => {
    answer = '{"type":"delivery","sent":2}';
    expect(await post({ readBody: true })).toEqual({ status: 200, body: answer });
  });

  it('keeps at most MAX_READ_BODY_BYTES of a larger answer, and still reads it to its end', async () => {
    answer = 'x'.repeat(MAX_READ_BODY_BYTES * 3);
    const result = await post({ readBody: true });
    expect(result.status).toBe(200);
    expect(result.body).toBe('x'.repeat(MAX_READ_BODY_BYTES));
  });
});
