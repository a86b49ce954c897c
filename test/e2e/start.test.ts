/**
 * What `npm start` tells a newcomer, taken at its word: the moment it prints the URL and
 * the `npx wscat` line, a WebSocket connects; before that it says only that it is starting;
 * and offline's route box names each route once.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort } from '../support/harnesses/offline';
import { copyService, root, withoutSettings } from '../support/harnesses/service';

jest.setTimeout(120_000);

/** Opens a socket and says how that went: 'open', or the error's code. */
function tryConnect(url: string): Promise<string> {
  return new Promise((done) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.close();
      done('open');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

describe('npm start', () => {
  const dir = copyService('start');
  let output = '';
  let stdout = '';
  /** What a connection attempted right when the `try:` line appeared gave. */
  let firstTry: Promise<string> | undefined;
  let stop: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'offline.ts')],
      {
        cwd: dir,
        env: {
          ...withoutSettings(process.env),
          WS_PORT: `${port}`,
          HTTP_PORT: `${await freePort()}`,
          LAMBDA_PORT: `${await freePort()}`,
        },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise((done) => child.once('exit', done));
    stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(-(child.pid as number), 'SIGTERM');
        await exited;
      }
    };
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        output += chunk.toString();
        // A newcomer follows the advice at once: so does this test, on the same tick.
        if (firstTry === undefined && stdout.includes('try: npx wscat')) {
          firstTry = tryConnect(`ws://localhost:${port}`);
          resolve();
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
      setTimeout(() => reject(new Error(`npm start printed no URL in 90 s:\n${output}`)), 90_000).unref();
    });
    await ready;
  });

  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the URL to try only when a WebSocket can connect to it', async () => {
    expect(await firstTry).toBe('open');
  });

  it('says "starting" first and "ready" with the URL', () => {
    const ours = stdout.split('\n').filter((line) => line.startsWith('[aws-node-websockets]'));
    const starting = ours.findIndex((line) => line.includes('starting serverless offline'));
    const ready = ours.findIndex((line) => /\bready: ws:\/\/localhost:\d+ \(try: npx wscat/.test(line));
    expect(starting).toBeGreaterThanOrEqual(0);
    expect(ready).toBeGreaterThan(starting);
    // No URL before "ready": only the store's path and the auth mode.
    expect(ours.slice(0, ready).join('\n')).not.toMatch(/ws:\/\/|http:\/\//);
  });

  it("lists each route of offline's box once", () => {
    const routes = stdout.split('\n').filter((line) => /\b(GET|POST)\s+\|/.test(line));
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((line) => line.includes('/2015-03-31/functions/page/invocations'))).toHaveLength(1);
    expect(new Set(routes).size).toBe(routes.length);
  });
});
