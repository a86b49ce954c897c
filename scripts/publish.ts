/**
 * `npm run publish -- --room lobby --data '{"text":"deploy finished"}'`: pushes a message
 * from "the backend" to the service `npm start` runs, through the same `publish` function
 * a deployed backend reaches with a SigV4-signed `POST /publish`, and prints the delivery
 * summary. Targets: `--room`, `--user`, `--connection`, or none for everyone.
 *
 * It posts to http://localhost:$HTTP_PORT/publish (3000 by default), unsigned: the local
 * runtime does not enforce IAM. A deployed API needs a signed request (docs/protocol.md#backend-push).
 * With `--event` it plays the stage bus's PublishRule instead: the request goes as the detail of a
 * `websockets.publish` event, invoked on the publish function through the local Lambda API
 * (LAMBDA_PORT, 3002 by default), exactly as EventBridge hands it over (docs/events.md).
 */
import { parseArgs } from 'node:util';
import { bridgeEvent } from '../src/events/inbound';
import { loadSettings } from './local';

const USAGE =
  "usage: npm run publish -- [--event] [--room <room> | --user <user> | --connection <connectionId>] --data '<JSON>'";

/** The function may take up to 29 s (its timeout); a little more, and we stop waiting. */
const TIMEOUT_MS = 35_000;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function port(name = 'HTTP_PORT', fallback = 3000): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`${name} must be a port number, got "${raw}"`);
  }
  return value;
}

let asEvent = false;

function request(): Record<string, unknown> {
  let values: { room?: string; user?: string; connection?: string; data?: string; help?: boolean; event?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        room: { type: 'string' },
        user: { type: 'string' },
        connection: { type: 'string' },
        data: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        event: { type: 'boolean' },
      },
    }));
    asEvent = values.event === true;
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause), { cause });
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.data === undefined) throw new UsageError('--data is required');
  let data: unknown;
  try {
    data = JSON.parse(values.data);
  } catch {
    throw new UsageError(`--data must be JSON, e.g. '{"text":"hi"}' or '"plain text"'; got ${values.data}`);
  }
  // At most one target: the function refuses more, with the same message as for any caller.
  return { room: values.room, user: values.user, connectionId: values.connection, data };
}

/** Where the request goes: POST /publish, or (--event) the publish function as PublishRule invokes it. */
async function destination(payload: Record<string, unknown>): Promise<{ url: string; body: string }> {
  if (!asEvent) return { url: `http://localhost:${port()}/publish`, body: JSON.stringify(payload) };
  const settings = await loadSettings({ local: true });
  const name = `aws-node-websockets-${String(settings.STAGE ?? 'dev')}-publish`;
  return {
    url: `http://localhost:${port('LAMBDA_PORT', 3002)}/2015-03-31/functions/${name}/invocations`,
    body: JSON.stringify(bridgeEvent(payload)),
  };
}

async function main(): Promise<void> {
  const { url, body } = await destination(request());
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (cause) {
    const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).name;
    throw new Error(`nothing answered at ${url} (${reason}): is \`npm start\` running, on this HTTP_PORT?`, {
      cause,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    let detail = text;
    try {
      const error = JSON.parse(text) as { code?: string; message?: string };
      if (error.code) detail = `${error.code}: ${error.message}`;
    } catch {
      /* not JSON: show it as it came */
    }
    throw new Error(`the service answered ${response.status}: ${detail}`);
  }
  process.stdout.write(`${text}\n`);
}

main().catch((error: unknown) => {
  console.error(`publish: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof UsageError) console.error(USAGE);
  process.exit(error instanceof UsageError ? 2 : 1);
});
