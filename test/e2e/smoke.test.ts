/**
 * `npm run smoke` against the real service under serverless-offline with auth off (the code
 * path of a deployed stage, with local URLs): every step passes and nothing of the run is left;
 * and in front of it a WebSocket stand-in that answers wrongly (a wrong seq, a message without
 * its id, no summary) and a POST /publish that never answers, each failing the step that meets
 * it in one line, with exit code 1. Started once for the file.
 */
import { plan } from '../../scripts/smoke/steps';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { documentedSamples, normalized, runSmoke, stepLine } from '../support/harnesses/smoke';
import type { SmokeRun } from '../support/harnesses/smoke';
import { startTamperingWebSocket } from '../support/stand-ins/tampering-websocket';
import type { Frame, TamperingWebSocket } from '../support/stand-ins/tampering-websocket';
import { startTcpProxy } from '../support/stand-ins/tcp-proxy';
import type { TcpProxy } from '../support/stand-ins/tcp-proxy';

jest.setTimeout(120_000);

/** The titles of the steps of a run with --url, in order. */
const TITLES = plan({ url: 'ws://localhost' }).map((step) => step.title);

let service: OfflineService;
let tampering: TamperingWebSocket;
let silentHttp: TcpProxy;

beforeAll(async () => {
  service = await startOffline();
  tampering = await startTamperingWebSocket(service.url);
  silentHttp = await startTcpProxy({ host: '127.0.0.1', port: service.httpPort });
  silentHttp.setMode('silent');
});

afterAll(async () => {
  await silentHttp?.close();
  await tampering?.close();
  await service?.stop();
});

beforeEach(() => {
  tampering.rewrite = undefined;
});

function smoke(options: { url?: string; publishUrl?: string; args?: string[] } = {}): Promise<SmokeRun> {
  const publishUrl = options.publishUrl ?? `http://localhost:${service.httpPort}/publish`;
  return runSmoke(['--url', options.url ?? service.url, '--publish-url', publishUrl, ...(options.args ?? [])], {
    cwd: service.serviceDir,
  });
}

/** The frames of one step of the run (its data names the step), rewritten by `change`. */
function onStep(step: string, type: string, change: (frame: Frame) => Frame | undefined) {
  return (frame: Frame): Frame | undefined => {
    const data = frame.data as { step?: unknown } | undefined;
    return frame.type === type && (data?.step === step || type === 'delivery') ? change(frame) : frame;
  };
}

function expectOnlyFailure(run: SmokeRun, failed: string[], skipped: string[]): void {
  for (const title of TITLES) {
    const outcome = failed.includes(title) ? 'FAIL' : skipped.includes(title) ? 'skip' : 'ok  ';
    expect(stepLine(run, title)?.slice(0, 4)).toBe(outcome);
  }
  expect(run.lines.at(-1)).toMatch(
    new RegExp(
      `^smoke: FAILED, ${failed.length} failed, ${skipped.length} skipped, ${TITLES.length - failed.length - skipped.length} of ${TITLES.length} passed`,
    ),
  );
  expect(run.code).toBe(1);
}

describe('npm run smoke against npm start, auth off', () => {
  it('passes, one ok line per step, then the verdict, and exits 0', async () => {
    const run = await smoke();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.lines).toHaveLength(TITLES.length + 1);
    TITLES.forEach((title, i) =>
      expect(run.lines[i]).toMatch(new RegExp(`^ok   ${title.replace(/[()/]/g, '\\$&')} \\d+ ms: `)),
    );
    expect(stepLine(run, 'tokens')).toMatch(/none: no --token, and no AUTH_JWT_SECRET here/);
    expect(stepLine(run, 'join a room')).toMatch(/: smoke-[0-9a-f]{8}: alice at seq 0, bob at seq 1$/);
    expect(stepLine(run, 'publish to the room')).toMatch(/: id [\w-]{16} at seq 2 to both; summary: 2 of 2 sent$/);
    expect(stepLine(run, 'read history')).toMatch(/: seq 2 as delivered, latest 2$/);
    expect(stepLine(run, 'send a direct message')).toMatch(/: bob got id [\w-]{16}; summary: 1 of 1 sent$/);
    expect(stepLine(run, 'POST /publish')).toMatch(
      /: signed with placeholder credentials, not verified locally; id [\w-]{16} at seq 3 to both; summary: 2 of 2 sent$/,
    );
    expect(run.lines.at(-1)).toMatch(new RegExp(`^smoke: passed, 9 of 9 steps in [\\d.]+ s \\(${service.url}\\)$`));
  });

  it('prints what the sample in docs/deploy.md shows, but for ids, times and ports', async () => {
    const [passing] = documentedSamples();
    const run = await runSmoke(['--url', service.url], {
      cwd: service.serviceDir,
      env: { HTTP_PORT: String(service.httpPort) },
    });
    expect(run.code).toBe(0);
    expect(normalized(run.lines)).toEqual(normalized(passing ?? []));
  });

  it('leaves no connection behind', async () => {
    await smoke();
    const probe = await TestClient.connect(service.url);
    try {
      // $disconnect runs after the close; the rows are gone once it has.
      let count = Infinity;
      for (let tries = 0; tries < 50 && count !== 1; tries++) {
        count = (await probe.request({ action: 'list' }, 'connections')).count as number;
        if (count !== 1) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(count).toBe(1);
    } finally {
      await probe.close();
    }
  });

  it('passes through the stand-in when it changes nothing (the failures below are its changes)', async () => {
    const run = await smoke({ url: tampering.url });
    expect(run.code).toBe(0);
  });
});

describe('npm run smoke against a service that answers wrongly', () => {
  it('fails the publish step on a wrong seq, says what it expected, and skips history', async () => {
    tampering.rewrite = onStep('publish', 'message', (frame) => ({ ...frame, seq: (frame.seq as number) + 5 }));
    const run = await smoke({ url: tampering.url });
    expect(stepLine(run, 'publish to the room')).toMatch(
      /^FAIL publish to the room \d+ ms: expected seq 2 \(1 after bob's "joined"\), got 7 \(alice\) and 7 \(bob\)$/,
    );
    expect(stepLine(run, 'read history')).toBe('skip read history: needs "publish to the room", which did not pass');
    expectOnlyFailure(run, ['publish to the room'], ['read history']);
  });

  it('fails the publish step on a message without its id', async () => {
    tampering.rewrite = onStep('publish', 'message', ({ id: _id, ...rest }) => rest);
    const run = await smoke({ url: tampering.url });
    expect(stepLine(run, 'publish to the room')).toMatch(
      /^FAIL publish to the room \d+ ms: (alice|bob) got a "message" frame with a missing or wrongly typed "id": \{"seq":2,"type":"message",/,
    );
    expectOnlyFailure(run, ['publish to the room'], ['read history']);
  });

  it('fails each step whose summary never comes, by its timeout', async () => {
    tampering.rewrite = onStep('', 'delivery', () => undefined);
    const run = await smoke({ url: tampering.url, args: ['--timeout', '2'] });
    expect(stepLine(run, 'publish to the room')).toMatch(
      /^FAIL publish to the room \d+ ms: alice got no delivery summary within [\d.]+ s \(got: nothing\)$/,
    );
    expect(stepLine(run, 'send a direct message')).toMatch(
      /: alice got no delivery summary within [\d.]+ s \(got: nothing\)$/,
    );
    expectOnlyFailure(run, ['publish to the room', 'send a direct message'], ['read history']);
  });

  it('fails POST /publish by its timeout when the HTTP API accepts and never answers', async () => {
    const run = await smoke({ publishUrl: `http://localhost:${silentHttp.port}/publish`, args: ['--timeout', '2'] });
    expect(stepLine(run, 'POST /publish')).toMatch(
      new RegExp(
        `^FAIL POST /publish, IAM-signed \\d+ ms: POST http://localhost:${silentHttp.port}/publish failed: no answer from localhost:${silentHttp.port} within \\d+ ms$`,
      ),
    );
    expectOnlyFailure(run, ['POST /publish, IAM-signed'], []);
  });
});
