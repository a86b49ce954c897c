/**
 * What every HTTP stand-in of an AWS API shares (Secrets Manager's, CloudFormation's): a server on
 * 127.0.0.1 that reads each request whole, records it, notes when the client gives it up before
 * the answer (an abort), and answers it, or never does while `hang()` says so.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  /** The client closed the request before it was answered (an abort). */
  abandoned: boolean;
}

export interface LoopbackHttp {
  /** http://127.0.0.1:port, to give as the client's endpoint. */
  url: string;
  close(): Promise<void>;
}

export async function serveLoopback<R extends Recorded>(handlers: {
  /** What to keep of a request (its `abandoned` false); the stand-in's own list holds it. */
  record(request: IncomingMessage, body: Buffer): R;
  answer(recorded: R, response: ServerResponse): void;
  hang(): boolean;
}): Promise<LoopbackHttp> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const recorded = handlers.record(req, Buffer.concat(parts));
      res.on('close', () => {
        if (!res.writableFinished) recorded.abandoned = true;
      });
      if (!handlers.hang()) handlers.answer(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
