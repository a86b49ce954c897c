/**
 * A loopback HTTP proxy in front of serverless-offline's management API that, while
 * `doubling` is on, forwards every post to a connection twice, one after the other: the
 * repeat a retried PostToConnection delivers (the first answer is lost, the retry lands).
 * Point the service at it with MANAGEMENT_ENDPOINT.
 */
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';

export interface DoublingProxy {
  endpoint: string;
  forwardTo(port: number): void;
  /** Whether posts are sent twice from now on. */
  doubling: boolean;
  /** Posts sent twice so far. */
  doubled(): number;
  close(): Promise<void>;
}

const FORWARD_TIMEOUT_MS = 5_000;

function forward(
  port: number,
  method: string | undefined,
  path: string | undefined,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // The local ports answer only their own Host (scripts/local-guard.js), as a reverse proxy sets it.
    const forwarded = { ...headers, host: `127.0.0.1:${port}` };
    const sent = request(
      { host: '127.0.0.1', port, method, path, headers: forwarded, timeout: FORWARD_TIMEOUT_MS },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
        );
        answer.on('error', reject);
      },
    );
    sent.on('timeout', () => sent.destroy(new Error('upstream timed out')));
    sent.on('error', reject);
    sent.end(body);
  });
}

export async function startDoublingProxy(): Promise<DoublingProxy> {
  let upstream: number | undefined;
  let doubled = 0;
  const proxy: DoublingProxy = {
    endpoint: '',
    forwardTo: (port) => (upstream = port),
    doubling: false,
    doubled: () => doubled,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const port = upstream;
      if (port === undefined) {
        res.writeHead(503).end('proxy has no upstream yet');
        return;
      }
      const body = Buffer.concat(chunks);
      const twice = proxy.doubling && req.method === 'POST';
      void (async () => {
        try {
          const first = await forward(port, req.method, req.url, req.headers, body);
          if (twice && first.status >= 200 && first.status < 300) {
            await forward(port, req.method, req.url, req.headers, body);
            doubled += 1;
          }
          res.writeHead(first.status, first.headers).end(first.body);
        } catch {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the proxy has no address');
  proxy.endpoint = `http://127.0.0.1:${address.port}`;
  return proxy;
}
