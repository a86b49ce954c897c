/**
 * A WebSocket server on 127.0.0.1 that plays a service answering wrongly: in front of the real
 * service, it passes every frame on both ways, but the service's frames go through `rewrite`
 * first (change a `seq`, remove an `id`, drop a summary: return undefined). `silent` plays a
 * service that accepts the socket and never answers; with no `target` it is always silent.
 */
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';

export type Frame = Record<string, unknown>;

export interface TamperingWebSocket {
  /** ws://127.0.0.1:port */
  url: string;
  /** What the service's frames become on the way to the client; undefined: passed on as they are. */
  rewrite: ((frame: Frame) => Frame | undefined) | undefined;
  /** Accepts sockets and never answers (what arrives is read and dropped). */
  silent: boolean;
  close(): Promise<void>;
}

export async function startTamperingWebSocket(target?: string): Promise<TamperingWebSocket> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const upstreams = new Set<WebSocket>();
  const standIn: TamperingWebSocket = {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rewrite: undefined,
    silent: target === undefined,
    close: async () => {
      for (const socket of upstreams) socket.terminate();
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (client, request) => {
    client.on('error', () => undefined);
    if (standIn.silent || target === undefined) return;
    // The query (a token) goes on with the socket, as API Gateway hands it to the authorizer.
    const upstream = new WebSocket(`${target}${request.url ?? ''}`);
    upstreams.add(upstream);
    const early: string[] = [];
    upstream.on('open', () => early.splice(0).forEach((text) => upstream.send(text)));
    upstream.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame;
      const rewritten = standIn.rewrite ? standIn.rewrite(frame) : frame;
      if (rewritten !== undefined) client.send(JSON.stringify(rewritten));
    });
    upstream.on('close', () => client.close());
    upstream.on('error', () => client.terminate());
    client.on('message', (raw) => {
      const text = raw.toString();
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else early.push(text);
    });
    client.on('close', () => {
      upstreams.delete(upstream);
      upstream.close();
    });
  });
  return standIn;
}
