/**
 * `npm run publish -- --room lobby --data '{"text":"deploy finished"}'`: pushes a message
 * from "the backend" to the service `npm start` runs, through the same `publish` function
 * a deployed backend reaches with a SigV4-signed `POST /publish`, and prints the delivery
 * summary. Targets: `--room`, `--user`, `--connection`, or none for everyone.
 *
 * It posts to http://localhost:$HTTP_PORT/publish (3000 by default), unsigned: the local
 * runtime does not enforce IAM. A deployed API needs a signed request (docs/protocol.md#backend-push).
 */
import { parseArgs } from 'node:util';

const USAGE = "usage: npm run publish -- [--room <room> | --user <user> | --connection <connectionId>] --data '<JSON>'";

/** The function may take up to 29 s (its timeout); a little more, and we stop waiting. */
const TIMEOUT_MS = 35_000;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function port(): number {
  const raw = process.env.HTTP_PORT;
  const value = raw === undefined || raw === '' ? 3000 : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`HTTP_PORT must be a port number, got "${raw}"`);
  }
  return value;
}

function request(): Record<string, unknown> {
  let values: { room?: string; user?: string; connection?: string; data?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        room: { type: 'string' },
        user: { type: 'string' },
        connection: { type: 'string' },
        data: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
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

async function main(): Promise<void> {
  const body = JSON.stringify(request());
  const url = `http://localhost:${port()}/publish`;
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
