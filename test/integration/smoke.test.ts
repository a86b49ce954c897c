/**
 * `npm run smoke` against what is not a working service: nothing listening, a peer that accepts
 * and never answers (at the TCP handshake, or once the socket is open), and a stage it cannot
 * use (no stack, a stack without the outputs, a silent CloudFormation, a key it may not read).
 * Each ends with one line that says what failed, the steps after it skipped, exit code 1, within
 * its timeouts; and a call that times out is aborted, not only abandoned. The runs against the real
 * service are in test/e2e/smoke*.test.ts.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { SmokeSocket } from '../../scripts/smoke/socket';
import { plan } from '../../scripts/smoke/steps';
import { describeStage } from '../../scripts/smoke/stack';
import { copyService } from '../support/harnesses/service';
import { freePort } from '../support/harnesses/offline';
import { documentedSamples, normalized, runSmoke, stepLine } from '../support/harnesses/smoke';
import type { SmokeRun } from '../support/harnesses/smoke';
import { startCloudFormationStandIn } from '../support/stand-ins/cloudformation-stand-in';
import type { CloudFormationStandIn } from '../support/stand-ins/cloudformation-stand-in';
import { startSecretsStandIn } from '../support/stand-ins/secrets-stand-in';
import type { SecretsStandIn } from '../support/stand-ins/secrets-stand-in';
import { startTamperingWebSocket } from '../support/stand-ins/tampering-websocket';
import { startTcpProxy } from '../support/stand-ins/tcp-proxy';

jest.setTimeout(60_000);

/** The titles of the steps after connecting, in order. */
const STEPS_AFTER_CONNECT = plan({ url: 'ws://localhost' })
  .map((step) => step.title)
  .slice(2);
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aws-node-websockets-qa/auth-jwt-secret-AbC123';

let dir: string;
let cloudFormation: CloudFormationStandIn;
let secrets: SecretsStandIn;

beforeAll(async () => {
  dir = copyService('smoke');
  cloudFormation = await startCloudFormationStandIn();
  secrets = await startSecretsStandIn();
});

afterAll(async () => {
  await cloudFormation.close();
  await secrets.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  cloudFormation.requests.length = 0;
  cloudFormation.hang = false;
  cloudFormation.stacks.clear();
  secrets.requests.length = 0;
});

const smoke = (args: string[]) =>
  runSmoke(args, {
    cwd: dir,
    env: { AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url, AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url },
  });

/** Resolves once `condition` holds; fails after `ms`. */
async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not so within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every step after `failed` says it was skipped for it (directly or through another skipped step). */
function expectSkippedAfter(run: SmokeRun, titles: readonly string[]): void {
  for (const title of titles) expect(stepLine(run, title)).toMatch(/^skip /);
  expect(run.lines.at(-1)).toMatch(/^smoke: FAILED, 1 failed, \d+ skipped, \d+ of \d+ passed in [\d.]+ s/);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe('');
}

describe('npm run smoke, its command line', () => {
  it('prints its usage with --help and exits 0', async () => {
    const run = await smoke(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run smoke -- --stage <stage>/);
    expect(run.stdout).toContain('--publish-url');
  });

  it.each([
    [[], /give either --stage or --url/],
    [['--stage', 'dev', '--url', 'ws://localhost:3001'], /give either --stage or --url/],
    [['--url', 'wss://abc.execute-api.eu-west-1.amazonaws.com/dev'], /--publish-url is required with a deployed --url/],
    [['--url', 'http://localhost:3001'], /--url must start with ws:\/\/ or wss:\/\//],
    [['--stage', 'dev', '--publish-url', 'https://x/publish'], /--publish-url goes with --url/],
    [['--url', 'ws://localhost:3001', '--room', 'bad room!'], /--room must be/],
    [['--url', 'ws://localhost:3001', '--timeout', '0'], /--timeout must be/],
  ])('refuses %j with exit code 2 and says why', async (args, reason) => {
    const run = await smoke(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(reason);
    expect(run.stderr).toContain('usage: npm run smoke');
  });
});

describe('npm run smoke against a service that is not there', () => {
  it('says nothing accepts connections when nothing listens, and skips the rest', async () => {
    const port = await freePort();
    const run = await smoke(['--url', `ws://localhost:${port}`, '--publish-url', `http://localhost:${port}/publish`]);
    expect(stepLine(run, 'connect two clients (alice, bob)')).toMatch(
      new RegExp(
        `^FAIL connect two clients \\(alice, bob\\) \\d+ ms: nothing accepts connections at localhost:${port} \\(ECONNREFUSED\\)`,
      ),
    );
    for (const title of STEPS_AFTER_CONNECT) {
      expect(stepLine(run, title)).toMatch(
        /: needs "(connect two clients \(alice, bob\)|join a room|publish to the room)", which did not pass$/,
      );
    }
    expectSkippedAfter(run, STEPS_AFTER_CONNECT);
  });

  it('prints what the sample of a stopped service in docs/deploy.md shows, but for times and ports', async () => {
    const [, down] = documentedSamples();
    const port = await freePort();
    const run = await runSmoke(['--url', `ws://localhost:${port}`], { cwd: dir, env: { HTTP_PORT: String(port) } });
    expect(normalized(run.lines)).toEqual(normalized(down ?? []));
  });

  it('ends by its timeout against a peer that accepts TCP and never answers the handshake', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: await freePort() });
    proxy.setMode('silent');
    try {
      const run = await smoke(['--url', `ws://localhost:${proxy.port}`, '--timeout', '2']);
      expect(stepLine(run, 'connect two clients')).toMatch(
        /^FAIL .*: no answer to (alice|bob)'s handshake within [\d.]+ s$/,
      );
      expectSkippedAfter(run, STEPS_AFTER_CONNECT);
      // One step's timeout, and tsx's start: nothing waited on the silent peer beyond its deadline.
      expect(run.ms).toBeLessThan(15_000);
    } finally {
      await proxy.close();
    }
  });

  it('ends by its timeout against a WebSocket server that accepts and never answers', async () => {
    const silent = await startTamperingWebSocket();
    try {
      const run = await smoke(['--url', silent.url, '--timeout', '2']);
      expect(stepLine(run, 'connect two clients')).toMatch(
        /^FAIL .*: (alice|bob) got no "connections" answer to list within [\d.]+ s \(got: nothing\)$/,
      );
      expectSkippedAfter(run, STEPS_AFTER_CONNECT);
      expect(run.ms).toBeLessThan(15_000);
    } finally {
      await silent.close();
    }
  });
});

describe("a client's socket", () => {
  it('is closed when its handshake is not answered in time, not left open to the peer', async () => {
    // Accepts, reads the handshake, answers nothing; sees the client's end of the connection.
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await expect(SmokeSocket.open('alice', `ws://127.0.0.1:${port}`, 500)).rejects.toThrow(
        "no answer to alice's handshake within 0.5 s",
      );
      expect(sockets).toHaveLength(1);
      await until(() => sockets.every((socket) => socket.destroyed), 2_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('npm run smoke -- --stage, when the stage cannot be used', () => {
  const ALL_BUT_STAGE = plan({ stage: 'any' })
    .map((step) => step.title)
    .slice(1);

  /** A deployed stage's outputs, as the template makes them (test/deploy/template.test.ts). */
  const deployed = (stage: string, authMode: string, extra: Record<string, string> = {}) => ({
    ServiceEndpointWebsocket: `wss://abc.execute-api.eu-west-1.amazonaws.com/${stage}`,
    PublishUrl: 'https://xyz.execute-api.eu-west-1.amazonaws.com/publish',
    AuthMode: authMode,
    ...extra,
  });

  it("asks CloudFormation for the stage's stack, signed with the developer's credentials, and says when there is none", async () => {
    const run = await smoke(['--stage', 'gone', '--region', 'eu-west-1']);
    expect(run.lines[0]).toMatch(
      /^FAIL find the stage \d+ ms: no stack aws-node-websockets-gone in eu-west-1 \(deployed to another region\? give --region\)$/,
    );
    expectSkippedAfter(run, ALL_BUT_STAGE);
    expect(cloudFormation.requests[0]?.params).toMatchObject({
      Action: 'DescribeStacks',
      StackName: 'aws-node-websockets-gone',
    });
    expect(cloudFormation.requests[0]?.headers.authorization).toMatch(
      /Credential=developer\/\d{8}\/eu-west-1\/cloudformation\/aws4_request/,
    );
  });

  it('says which output is missing from a stack deployed before the outputs existed', async () => {
    cloudFormation.stacks.set('aws-node-websockets-old', {
      status: 'UPDATE_COMPLETE',
      outputs: { ServiceEndpointWebsocket: 'wss://abc.execute-api.us-east-1.amazonaws.com/old' },
    });
    const run = await smoke(['--stage', 'old']);
    expect(run.lines[0]).toMatch(
      /^FAIL find the stage .*: stack aws-node-websockets-old \(UPDATE_COMPLETE\) has no output AuthMode: deployed by an older version\? npm run deploy$/,
    );
    expectSkippedAfter(run, ALL_BUT_STAGE);
  });

  it('refuses a stack whose creation failed, whatever its outputs', async () => {
    cloudFormation.stacks.set('aws-node-websockets-bad', { status: 'ROLLBACK_COMPLETE', outputs: {} });
    const run = await smoke(['--stage', 'bad']);
    expect(run.lines[0]).toMatch(
      /^FAIL find the stage .*: stack aws-node-websockets-bad in us-east-1 is ROLLBACK_COMPLETE/,
    );
    expectSkippedAfter(run, ALL_BUT_STAGE);
  });

  it('ends by its timeout when CloudFormation never answers', async () => {
    cloudFormation.hang = true;
    const run = await smoke(['--stage', 'slow', '--timeout', '2']);
    expect(run.lines[0]).toMatch(/^FAIL find the stage \d+ ms: .*(within [\d.]+ s|timed? ?out)/i);
    expectSkippedAfter(run, ALL_BUT_STAGE);
    expect(run.ms).toBeLessThan(15_000);
  });

  it('aborts the DescribeStacks request itself at its deadline, not only the wait for it', async () => {
    cloudFormation.hang = true;
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url,
      AWS_ACCESS_KEY_ID: 'developer',
      AWS_SECRET_ACCESS_KEY: 'developer-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      await expect(describeStage('slow', 'us-east-1', 500)).rejects.toThrow(
        /^DescribeStacks aws-node-websockets-slow in us-east-1 got no answer within 0.5 s$/,
      );
      await until(() => cloudFormation.requests[0]?.abandoned === true, 2_000);
    } finally {
      process.env = saved;
    }
  });

  it('asks for --token when it may not read the HS256 key of the stage', async () => {
    cloudFormation.stacks.set('aws-node-websockets-qa', {
      status: 'CREATE_COMPLETE',
      outputs: deployed('qa', 'hs256', { AuthJwtSecretArn: SECRET_ARN }),
    });
    const run = await smoke(['--stage', 'qa']);
    expect(run.lines[0]).toMatch(
      /^ok {3}find the stage .*: stack aws-node-websockets-qa \(CREATE_COMPLETE\) in us-east-1: wss:\/\/abc.*, auth hs256$/,
    );
    expect(stepLine(run, 'tokens for alice and bob')).toMatch(
      /^FAIL tokens for alice and bob .*: cannot read the stage's HS256 key: reading secret .* failed: ResourceNotFoundException.*; give a token with --token/,
    );
    expectSkippedAfter(run, ALL_BUT_STAGE.slice(1));
    // The key's own region, from its ARN.
    expect(secrets.requests[0]?.body).toEqual({ SecretId: SECRET_ARN });
    expect(secrets.requests[0]?.headers.authorization).toMatch(/\/eu-west-1\/secretsmanager\//);
  });

  it('asks for --token for a stage whose tokens come from an identity provider', async () => {
    cloudFormation.stacks.set('aws-node-websockets-sso', {
      status: 'UPDATE_COMPLETE',
      outputs: deployed('sso', 'jwks'),
    });
    const run = await smoke(['--stage', 'sso']);
    expect(stepLine(run, 'tokens for alice and bob')).toMatch(/^FAIL .*\(JWKS\): give one with --token$/);
    expect(secrets.requests).toEqual([]);
  });
});
