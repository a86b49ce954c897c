/**
 * A stand-in for API Gateway's management API, for the benchmark: it accepts
 * `POST …/@connections/{id}`, answers after a settable latency, and answers 410 for a
 * settable share of ids. It also takes EventBridge's PutEvents and SQS's SendMessage. Which ids are "gone" depends only on the id (a hash), so every
 * strategy measured against it sees the same recipients gone.
 *
 * It runs in a child process of its own (`startStandIn`): on a 2-core machine a server
 * in the benchmark's own event loop would compete with the code being measured.
 * Control endpoints: GET /__stats, POST /__reset, POST /__config {latencyMs, goneShare}.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';

export interface StandInStats {
  /** POSTs to @connections since the last reset. */
  posts: number;
  /** Of those, answered 410. */
  gone: number;
  /** Most posts being answered at one time since the last reset. */
  maxInFlight: number;
  /** TCP connections accepted since the last reset (keep-alive reuse shows as few). */
  sockets: number;
  /** CPU the stand-in process used since the last reset (user + system), to see whether it was the bottleneck. */
  cpuMs: number;
  /** Distinct connection ids posted to since the last reset (a repeat shows as posts > distinct). */
  distinct: number;
}

export interface StandInSettings {
  latencyMs: number;
  /** 0..1: the share of ids answered 410. */
  goneShare: number;
}

/** FNV-1a (32 bit): cheap, stable across processes, spreads similar ids well. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Whether the stand-in answers 410 for this id: the same answer in every process and run. */
export function isGone(connectionId: string, goneShare: number): boolean {
  return fnv1a(connectionId) % 10_000 < Math.round(goneShare * 10_000);
}

/** The server itself; `main` below runs it in the child process. */
export function serve(initial: StandInSettings): Promise<{ port: number; close: () => Promise<void> }> {
  let settings = { ...initial };
  const fresh = (): StandInStats => ({ posts: 0, gone: 0, maxInFlight: 0, sockets: 0, cpuMs: 0, distinct: 0 });
  let stats = fresh();
  let seen = new Set<string>();
  let cpuAtReset = process.cpuUsage();
  let inFlight = 0;

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/__stats') {
      const cpu = process.cpuUsage(cpuAtReset);
      return json(res, 200, { ...stats, cpuMs: Math.round((cpu.user + cpu.system) / 1000), distinct: seen.size });
    }
    if (req.method === 'POST' && url === '/__reset') {
      stats = fresh();
      seen = new Set();
      cpuAtReset = process.cpuUsage();
      return json(res, 200, stats);
    }
    if (req.method === 'POST' && url === '/__config') {
      settings = { ...settings, ...(JSON.parse(body) as Partial<StandInSettings>) };
      return json(res, 200, settings);
    }
    // The other AWS calls a function's first invocation may make (its lifecycle events, its
    // departures), answered as taken: the bench never reaches past loopback.
    const target = req.headers['x-amz-target'];
    if (req.method === 'POST' && target === 'AWSEvents.PutEvents') {
      const entries = ((JSON.parse(body) as { Entries?: unknown[] }).Entries ?? []).map((_, i) => ({
        EventId: `e${i}`,
      }));
      return json(res, 200, { FailedEntryCount: 0, Entries: entries });
    }
    if (req.method === 'POST' && target === 'AmazonSQS.SendMessage') return json(res, 200, { MessageId: 'bench' });
    const match = /\/@connections\/([^/?]+)$/.exec(url);
    if (req.method !== 'POST' || !match) return json(res, 404, { message: 'Not Found' });
    const connectionId = decodeURIComponent(match[1] as string);
    stats.posts++;
    seen.add(connectionId);
    inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
    const answer = () => {
      inFlight--;
      if (isGone(connectionId, settings.goneShare)) {
        stats.gone++;
        // What API Gateway sends for a connection that no longer exists.
        json(res, 410, { message: 'Gone' }, { 'x-amzn-errortype': 'GoneException' });
      } else {
        res.writeHead(200, { 'content-length': '0' });
        res.end();
      }
    };
    if (settings.latencyMs > 0) setTimeout(answer, settings.latencyMs);
    else answer();
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(parts).toString()));
  });
  server.on('connection', () => stats.sockets++);
  // Longer than any client keeps an idle socket, so the server never closes one under a client.
  server.keepAliveTimeout = 60_000;
  return new Promise((resolvePort) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolvePort({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export interface StandIn {
  url: string;
  configure(settings: Partial<StandInSettings>): Promise<void>;
  reset(): Promise<void>;
  stats(): Promise<StandInStats>;
  close(): Promise<void>;
}

const root = resolve(__dirname, '..', '..');

/** Starts the stand-in in a child process and returns its control handle. */
export async function startStandIn(initial: StandInSettings): Promise<StandIn> {
  const child = spawn(
    process.execPath,
    [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), __filename, JSON.stringify(initial)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolvePort, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`stand-in did not start: ${out}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stand-in exited with ${code}: ${out}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(url + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return res.json();
  };
  return {
    url,
    configure: async (settings) => void (await control('POST', '/__config', settings)),
    reset: async () => void (await control('POST', '/__reset')),
    stats: async () => (await control('GET', '/__stats')) as StandInStats,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (require.main === module) {
  const initial = JSON.parse(process.argv[2] ?? '{"latencyMs":20,"goneShare":0.1}') as StandInSettings;
  void serve(initial).then(({ port, close }) => {
    console.log(`listening ${port}`);
    process.on('SIGTERM', () => void close().then(() => process.exit(0)));
  });
}
