/**
 * `npm run smoke` against the real service under serverless-offline with HS256 auth on: it
 * passes with tokens minted from AUTH_JWT_SECRET (with rights on the run's room: the service gives
 * tokens without a rooms claim none), with a token given by --token, and with
 * `--stage`, where the endpoints come from a CloudFormation stand-in's stack outputs and the key
 * from a Secrets Manager stand-in (the path of a deployed stage, with local URLs); a token the
 * authorizer refuses, or none, fails the connect step in one line. Started once for the file.
 */
import { mintToken } from '../../src/auth/token';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { runSmoke, stepLine } from '../support/harnesses/smoke';
import type { SmokeRun } from '../support/harnesses/smoke';
import { startCloudFormationStandIn } from '../support/stand-ins/cloudformation-stand-in';
import type { CloudFormationStandIn } from '../support/stand-ins/cloudformation-stand-in';
import { startSecretsStandIn } from '../support/stand-ins/secrets-stand-in';
import type { SecretsStandIn } from '../support/stand-ins/secrets-stand-in';

jest.setTimeout(120_000);

const SECRET = 'e2e-smoke-secret-that-is-long-enough-0123456789';
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aws-node-websockets-e2e/auth-jwt-secret-AbC123';
const key = new TextEncoder().encode(SECRET);

let service: OfflineService;
let cloudFormation: CloudFormationStandIn;
let secrets: SecretsStandIn;

beforeAll(async () => {
  // A token without a rooms claim may do nothing: what the smoke mints must name its room.
  service = await startOffline({ env: { AUTH_JWT_SECRET: SECRET, AUTH_DEFAULT_ROOMS: '{}' } });
  cloudFormation = await startCloudFormationStandIn({
    'aws-node-websockets-e2e': {
      status: 'UPDATE_COMPLETE',
      outputs: {
        ServiceEndpointWebsocket: service.url,
        PublishUrl: `http://localhost:${service.httpPort}/publish`,
        AuthMode: 'hs256',
        AuthJwtSecretArn: SECRET_ARN,
      },
    },
  });
  secrets = await startSecretsStandIn({ [SECRET_ARN]: SECRET });
});

afterAll(async () => {
  await cloudFormation?.close();
  await secrets?.close();
  await service?.stop();
});

function smoke(args: string[], env: Record<string, string> = {}): Promise<SmokeRun> {
  return runSmoke(args, {
    cwd: service.serviceDir,
    env: { AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url, AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url, ...env },
  });
}

const local = () => ['--url', service.url, '--publish-url', `http://localhost:${service.httpPort}/publish`];

function expectPassed(run: SmokeRun, steps: number): void {
  expect(run.stderr).toBe('');
  expect(run.lines.slice(0, -1).filter((line) => !line.startsWith('ok   '))).toEqual([]);
  expect(run.lines.at(-1)).toMatch(new RegExp(`^smoke: passed, ${steps} of ${steps} steps in [\\d.]+ s \\(`));
  expect(run.code).toBe(0);
}

describe('npm run smoke against npm start with HS256', () => {
  it('passes with tokens it mints from AUTH_JWT_SECRET, one per client, with rights on its room', async () => {
    const run = await smoke(local(), { AUTH_JWT_SECRET: SECRET });
    expectPassed(run, 9);
    expect(stepLine(run, 'tokens for alice and bob')).toMatch(
      /: minted for smoke-[0-9a-f]{8}-alice, smoke-[0-9a-f]{8}-bob with the local AUTH_JWT_SECRET$/,
    );
    expect(stepLine(run, 'connect two clients')).toMatch(/\(tokens minted with the local AUTH_JWT_SECRET\)$/);
  });

  it('passes with a token given by --token, for both clients, in the room given by --room', async () => {
    const token = await mintToken(key, {
      subject: 'ops',
      ttlSec: 300,
      rooms: { 'smoke-*': ['join', 'publish', 'presence'] },
    });
    const room = `smoke-ops-${Date.now()}`;
    const run = await smoke([...local(), '--token', token, '--room', room]);
    expectPassed(run, 9);
    expect(stepLine(run, 'tokens for alice and bob')).toMatch(/: the one given with --token, for both clients$/);
    expect(stepLine(run, 'join a room')).toMatch(new RegExp(`: ${room}: alice at seq 0, bob at seq 1$`));
  });

  it('fails the join step in one line when the token has no right on the room', async () => {
    const token = await mintToken(key, { subject: 'ops', ttlSec: 300 }); // no rooms claim: no rights here
    const run = await smoke([...local(), '--token', token]);
    expect(stepLine(run, 'join a room')).toMatch(
      /^FAIL join a room \d+ ms: alice got an error instead of "joined" for smoke-[0-9a-f]{8}: Refused: your token does not let you join smoke-[0-9a-f]{8}$/,
    );
    expect(run.code).toBe(1);
  });

  it('fails the connect step in one line when the authorizer refuses the token, and skips the rest', async () => {
    const forged = await mintToken(new TextEncoder().encode('another-secret-that-is-long-enough-0123456789'), {
      subject: 'mallory',
      ttlSec: 300,
    });
    const run = await smoke([...local(), '--token', forged]);
    expect(stepLine(run, 'connect two clients')).toMatch(
      /^FAIL connect two clients \(alice, bob\) \d+ ms: (alice|bob)'s handshake was refused with HTTP 403.*; with the --token$/,
    );
    expect(run.lines.filter((line) => line.startsWith('skip '))).toHaveLength(7);
    expect(run.code).toBe(1);
  });

  it('says the service wants a token when it has none to give', async () => {
    const run = await smoke(local());
    expect(stepLine(run, 'tokens for alice and bob')).toMatch(
      /^ok {3}.*: none: no --token, and no AUTH_JWT_SECRET here/,
    );
    expect(stepLine(run, 'connect two clients')).toMatch(
      /handshake was refused with HTTP 40[13].*; the service wants a token: give --token/,
    );
    expect(run.code).toBe(1);
  });

  it('with --stage finds the endpoints in the stack outputs, mints with the key in Secrets Manager, and passes', async () => {
    cloudFormation.requests.length = 0;
    secrets.requests.length = 0;
    const run = await smoke(['--stage', 'e2e', '--region', 'eu-west-1']);
    expectPassed(run, 10);
    expect(run.lines[0]).toMatch(
      new RegExp(
        `^ok   find the stage \\d+ ms: stack aws-node-websockets-e2e \\(UPDATE_COMPLETE\\) in eu-west-1: ${service.url}, POST http://localhost:${service.httpPort}/publish, auth hs256$`,
      ),
    );
    expect(stepLine(run, 'tokens for alice and bob')).toMatch(
      /with the stage's HS256 key \(arn:aws:secretsmanager:.*\)$/,
    );
    expect(cloudFormation.requests).toHaveLength(1);
    expect(cloudFormation.requests[0]?.headers.authorization).toMatch(
      /Credential=developer\/\d{8}\/eu-west-1\/cloudformation\//,
    );
    expect(secrets.requests.map((request) => request.body)).toEqual([{ SecretId: SECRET_ARN }]);
  });
});
