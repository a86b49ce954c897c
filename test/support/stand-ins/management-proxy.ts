/**
 * A loopback HTTP proxy in front of serverless-offline's management API that forwards
 * every request, except the posts to connections it was told to hold: those it accepts
 * and never answers, like a management endpoint that has gone silent. Point the service
 * at it with MANAGEMENT_ENDPOINT (scripts/offline.ts lets that win).
 */
import { createServer, request } from 'node:http';
import type { ServerResponse } from 'node:http';

export interface ManagementProxy {
  /** http://127.0.0.1:{port}, for MANAGEMENT_ENDPOINT. */
  endpoint: string;
  /** Where to forward: offline's WebSocket port, known once the service is up. */
  forwardTo(port: number): void;
  /** From now on, posts to this connection are accepted and never answered. */
  hold(connectionId: string): void;
  /** Posts held so far, by connection id. */
  held(connectionId: string): number;
  close(): Promise<void>;
}

export async function startManagementProxy(): Promise<ManagementProxy> {
  let upstream: number | undefined;
  const holding = new Set<string>();
  const heldCounts = new Map<string, number>();
  const heldResponses = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    const match = /\/@connections\/([^/?]+)/.exec(req.url ?? '');
    const connectionId = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    if (connectionId !== undefined && holding.has(connectionId)) {
      heldCounts.set(connectionId, (heldCounts.get(connectionId) ?? 0) + 1);
      heldResponses.add(res);
      res.on('close', () => heldResponses.delete(res));
      req.resume(); // read the body, answer nothing
      return;
    }
    if (upstream === undefined) {
      res.writeHead(503).end('proxy has no upstream yet');
      return;
    }
    const forwarded = request(
      {
        host: '127.0.0.1',
        port: upstream,
        method: req.method,
        path: req.url,
        // The local ports answer only their own Host (scripts/local-guard.js), as a reverse proxy sets it.
        headers: { ...req.headers, host: `127.0.0.1:${upstream}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the proxy has no address');

  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    forwardTo: (port) => (upstream = port),
    hold: (connectionId) => void holding.add(connectionId),
    held: (connectionId) => heldCounts.get(connectionId) ?? 0,
    close: async () => {
      for (const res of heldResponses) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
