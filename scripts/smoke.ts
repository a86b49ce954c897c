/**
 * `npm run smoke`: checks a running stage end to end, the way its users reach it, and says in one
 * line per step what worked (docs/deploy.md#check-a-deployed-stage):
 *
 *   npm run smoke -- --stage dev [--region eu-west-1]
 *       the endpoints and the auth mode from the stack's outputs; HS256 tokens minted with the
 *       stage's key when your credentials may read it (else --token)
 *   npm run smoke -- --url ws://localhost:3001 [--publish-url http://localhost:3000/publish] [--token T]
 *       the endpoints given (wss/https in AWS, where --publish-url is required)
 *
 * Two clients connect, join a room of the run's own, publish, read history, send a direct
 * message, get a signed POST /publish, ping, leave and disconnect. Exit code 0 only if every step
 * passed; 1 if one failed or was skipped; 2 for a wrong command line.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_STEP_TIMEOUT_MS, runSteps, verdict } from './smoke/run';
import { isLoopback } from './smoke/publish';
import { SmokeState } from './smoke/state';
import type { SmokeOptions } from './smoke/state';
import { plan } from './smoke/steps';

const USAGE = `usage: npm run smoke -- --stage <stage> [--region <region>] [--token <token>]
       npm run smoke -- --url <ws(s)://…> [--publish-url <http(s)://…/publish>] [--token <token>]

  --stage        a deployed stage: its endpoints and auth mode come from the stack's outputs
  --region       the stage's region (default: REGION of .env.yml, else us-east-1); with --url,
                 the region POST /publish is signed for when its host does not name one
  --url          the WebSocket URL (ws://localhost:3001 under npm start)
  --publish-url  POST /publish's URL (default locally: http://localhost:$HTTP_PORT/publish, 3000;
                 required for an AWS URL: the stack's PublishUrl output)
  --token        a token for both clients (default: minted with the stage's HS256 key, or
                 the local AUTH_JWT_SECRET; none when there is neither)
  --room         the room to use (default: smoke-<random>); a token's rooms claim must allow it
  --timeout      seconds each step may take (default ${DEFAULT_STEP_TIMEOUT_MS / 1000}; the run stops at 50 s)

Exit code 0 only if every step passed.`;

/** The service's own rule for room names (src/chat/protocol.ts). */
const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function checkUrl(option: string, value: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${option} must be a URL, got "${value}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new UsageError(`${option} must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${value}"`);
  }
  return value;
}

function localPublishUrl(): string {
  const raw = process.env.HTTP_PORT?.trim();
  const port = raw === undefined || raw === '' ? 3000 : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`HTTP_PORT must be a port number, got "${raw}"`);
  }
  return `http://localhost:${port}/publish`;
}

function parse(argv: string[]): (SmokeOptions & { stepTimeoutMs: number }) | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stage: { type: 'string', short: 's' },
        region: { type: 'string', short: 'r' },
        url: { type: 'string' },
        'publish-url': { type: 'string' },
        token: { type: 'string' },
        room: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause), { cause });
  }
  if (values.help) return 'help';
  const text = (name: string): string | undefined => {
    const value = values[name];
    if (value === undefined) return undefined;
    const trimmed = String(value).trim();
    if (trimmed === '') throw new UsageError(`--${name} needs a value`);
    return trimmed;
  };
  const stage = text('stage');
  const url = text('url');
  if ((stage === undefined) === (url === undefined)) throw new UsageError('give either --stage or --url');
  if (stage !== undefined && values['publish-url'] !== undefined) {
    throw new UsageError("--publish-url goes with --url; with --stage it comes from the stack's outputs");
  }
  const room = text('room');
  if (room !== undefined && !ROOM_PATTERN.test(room)) {
    throw new UsageError(`--room must be 1 to 64 letters, digits or _ . : -, got "${room}"`);
  }
  const timeout = text('timeout');
  const timeoutSec = timeout === undefined ? DEFAULT_STEP_TIMEOUT_MS / 1000 : Number(timeout);
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0 || timeoutSec > 50) {
    throw new UsageError(`--timeout must be a number of seconds from 0 to 50, got "${timeout}"`);
  }
  let publishUrl = text('publish-url');
  if (url !== undefined) {
    checkUrl('--url', url, ['ws:', 'wss:']);
    if (publishUrl !== undefined) checkUrl('--publish-url', publishUrl, ['http:', 'https:']);
    else if (isLoopback(url)) publishUrl = localPublishUrl();
    else {
      throw new UsageError(
        "--publish-url is required with a deployed --url (the stack's PublishUrl output), or use --stage",
      );
    }
  }
  return {
    stage,
    url,
    publishUrl,
    region: text('region'),
    token: text('token'),
    room,
    stepTimeoutMs: Math.round(timeoutSec * 1000),
  };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`smoke: ${error.message}`);
    console.error(USAGE);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const started = Date.now();
  const state = new SmokeState(options);
  const results = await runSteps(plan(options), state, {
    stepTimeoutMs: options.stepTimeoutMs,
    write: (line) => console.log(line),
  });
  const target = state.endpoints?.websocketUrl ?? `stage ${options.stage}`;
  console.log(verdict(results, Date.now() - started, target));
  return results.every((result) => result.outcome === 'ok') ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Whatever a step left behind (an abandoned credential lookup) must not keep the verdict waiting.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (error: unknown) => {
    console.error(`smoke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
