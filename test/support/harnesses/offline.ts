/**
 * Starts the real service (`npm start`'s launcher, scripts/offline.ts) under
 * serverless-offline on free ports, from a private copy of the service so that its
 * `.build` folder cannot collide with a developer's own `npm start`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { copyService, root, withoutSettings } from './service';

/** Ports this process has handed out: the kernel may give a just-released port again. */
const handedOut = new Set<number>();

async function bindOne(): Promise<import('node:net').Server> {
  return new Promise((resolveServer, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

/**
 * `count` different ports that were free a moment ago. They are held open together while
 * chosen, so one call never returns the same port twice, and none this process gave before.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: import('node:net').Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = await bindOne();
      held.push(server);
      const address = server.address();
      if (typeof address !== 'object' || !address) throw new Error('no port');
      if (handedOut.has(address.port)) continue;
      ports.push(address.port);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise<void>((done) => server.close(() => done()))));
  }
  for (const port of ports) handedOut.add(port);
  return ports;
}

async function threePorts(): Promise<{ ws: number; http: number; lambda: number }> {
  const [ws, http, lambda] = await freePorts(3);
  if (ws === undefined || http === undefined || lambda === undefined) throw new Error('no port');
  return { ws, http, lambda };
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no port');
  return port;
}

/**
 * A fresh worker's first post on a loaded 2-core machine can take longer than the default 1.5 s.
 * Not more than 5 s: a route keeps two post timeouts and the store's tail (6 s) out of its 29 s,
 * and at 10 s its store work had 3 s in all, no time to read back a write whose answer was lost.
 */
export const SLOW_FIRST_POST: Readonly<Record<string, string>> = { POST_TIMEOUT_MS: '5000' };

/**
 * API Gateway's throttling off (the stage's per route, and the new connections a second), for
 * a run that measures the runtime under more than API Gateway would let through (the bench).
 */
export const UNTHROTTLED: Readonly<Record<string, string>> = {
  LOCAL_THROTTLE: 'off',
  LOCAL_NEW_CONNECTIONS_PER_SECOND: 'off',
};

export interface OfflineService {
  url: string;
  port: number;
  /** offline's HTTP server (HTTP_PORT): the HTTP API's routes, e.g. POST /publish, and the chat page. */
  httpPort: number;
  /** All three ports, to start the service again on the same ones (a restart). */
  ports: ServicePorts;
  /** Everything the service printed so far (for failure messages). */
  output(): string;
  /** The embedded store's file, when that store is in use. */
  storeFile: string | undefined;
  serviceDir: string;
  stop(): Promise<void>;
  /** The launcher's pid, which is also its process group's id (serverless and its workers are in it). */
  pid: number;
  /** kill -9 of the whole process group (a crash): nothing runs `$disconnect`. */
  kill(): Promise<void>;
}

export interface ServicePorts {
  ws: number;
  http: number;
  lambda: number;
}

export interface StartOptions {
  /** These ports instead of free ones: a restart on the ports of a service that was stopped. */
  ports?: ServicePorts;
  /** mysql://… to use MySQL, undefined for the embedded store. */
  dbUrl?: string;
  /** Extra environment for the launcher, e.g. AUTH_JWT_SECRET to require tokens at `$connect`. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Extra `serverless offline` options (the launcher passes its arguments on), e.g. --noTimeout. */
  args?: string[];
  /**
   * Settings of this run (e.g. a small FANOUT_BUDGET_MS), written to the copy's .env.yml
   * over .env.yml.example's: serverless.yml gives the functions these from the settings
   * file, and offline lets a function's environment win over --localEnvironment.
   */
  settings?: Record<string, string | number>;
}

export async function startOffline(options: StartOptions = {}): Promise<OfflineService> {
  const serviceDir = copyService('offline');
  if (options.settings) {
    const example = load(readFileSync(join(serviceDir, '.env.yml.example'), 'utf8')) as Record<string, unknown>;
    // JSON is YAML: no quoting rules to get wrong.
    writeFileSync(join(serviceDir, '.env.yml'), JSON.stringify({ ...example, ...options.settings }, null, 2));
  }

  const ports = options.ports ?? (await threePorts());
  const { ws: port, http: httpPort, lambda: lambdaPort } = ports;
  // Settings (auth included) come from the test (options.env), never from the developer's shell:
  // a secret there would otherwise make every other end-to-end test's token-less handshake fail.
  const env: NodeJS.ProcessEnv = {
    ...withoutSettings(process.env),
    WS_PORT: String(port),
    HTTP_PORT: String(httpPort),
    LAMBDA_PORT: String(lambdaPort),
    LOG_LEVEL: 'info',
    ...options.env,
  };
  if (options.dbUrl) env.LOCAL_DB_URL = options.dbUrl;
  else delete env.LOCAL_DB_URL;

  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      join(root, 'scripts', 'offline.ts'),
      ...(options.args ?? []),
    ],
    {
      cwd: serviceDir,
      env,
      detached: true, // its own process group, so stop() ends serverless and its workers together
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(serviceDir, { recursive: true, force: true });
  };

  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited;
    }
    rmSync(serviceDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  // offline prints "[websocket] listening" before its HTTP server (which carries the sockets)
  // has bound the port; only "[http for websocket] listening" comes after the bind. Waiting for
  // the first alone let a client that connected at once meet ECONNREFUSED now and then.
  // The launcher's own "ready" line comes once the ports accept connections (test/e2e/start.test.ts).
  const ready = () =>
    output.includes(`Offline [websocket] listening on ws://localhost:${port}`) &&
    output.includes(`Offline [http for websocket] listening on http://localhost:${port}`) &&
    output.includes(`[aws-node-websockets] ready: ws://localhost:${port}`);
  while (!ready()) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`serverless offline exited with ${child.exitCode}:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`serverless offline did not listen on ${port} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `ws://localhost:${port}`,
    port,
    httpPort,
    ports,
    output: () => output,
    storeFile: options.dbUrl ? undefined : join(serviceDir, '.local', `connections-${port}.sqlite`),
    serviceDir,
    pid: child.pid as number,
    stop,
    kill,
  };
}
