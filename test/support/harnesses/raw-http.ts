/**
 * Requests to a local port exactly as written, for the tests of the ports' guard
 * (scripts/local-guard.js): the path is sent unnormalised (fetch would resolve `/./publish`
 * and percent-encoding), and Host and Origin are whatever the test says, as a rebinding page
 * or a page of another origin would send them.
 */
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request to 127.0.0.1:`port`, with the path and headers as given; fails after `timeoutMs`. */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
  timeoutMs = 15_000,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sent = request({ host: '127.0.0.1', port, method, path, headers, timeout: timeoutMs }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    sent.on('timeout', () =>
      sent.destroy(new Error(`${method} ${path} on port ${port}: no answer in ${timeoutMs} ms`)),
    );
    sent.on('error', reject);
    sent.end(body);
  });
}

/** The names of the answer's CORS headers (`access-control-*`). */
export function corsHeaders(answer: RawAnswer): string[] {
  return Object.keys(answer.headers).filter((name) => name.startsWith('access-control-'));
}

/**
 * A WebSocket handshake to ws://127.0.0.1:`port`/ with these headers: 'open' (the socket is
 * closed at once), or the refusal's status and body, e.g. '403 this local …'.
 */
export function handshake(port: number, headers: Record<string, string>, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { headers, handshakeTimeout: timeoutMs });
    socket.on('open', () => {
      socket.close();
      resolve('open');
    });
    socket.on('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve(`${response.statusCode} ${text}`.trim());
        socket.terminate();
      });
    });
    // after a refusal, terminate() reports the aborted handshake too: the answer is already in
    socket.on('error', reject);
  });
}
