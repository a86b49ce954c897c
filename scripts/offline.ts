/**
 * `npm start`: the whole service on this machine under serverless-offline 13, with no
 * AWS account and no database server. Each function runs in its own worker thread, as
 * in Lambda; the connections live in an embedded SQLite file (or in MySQL when
 * LOCAL_DB_URL is set, in the environment or in .env.yml).
 *
 * Environment: WS_PORT (default 3001), HTTP_PORT (3000) and LAMBDA_PORT (3002) for
 * offline's other servers, LOCAL_DB_URL, LOG_LEVEL, and AUTH_JWT_SECRET (with the optional
 * AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE) to require a token at `$connect`.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadSettings = require(resolve('settings.js')) as () => Promise<Record<string, unknown>>;

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`${name} must be a port number, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

/** The URL without its password, for the start-up log. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable LOCAL_DB_URL)';
  }
}

async function main(): Promise<void> {
  const wsPort = port('WS_PORT', 3001);
  const httpPort = port('HTTP_PORT', 3000);
  const lambdaPort = port('LAMBDA_PORT', 3002);
  const settings = await loadSettings();
  const dbUrl = process.env.LOCAL_DB_URL || (typeof settings.LOCAL_DB_URL === 'string' ? settings.LOCAL_DB_URL : '');

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    // Nothing local may look for AWS credentials on the instance metadata address.
    AWS_EC2_METADATA_DISABLED: 'true',
    // Local Node is 20; Lambda runs 24. The SDK's notice about its future Node 22 floor is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    MANAGEMENT_ENDPOINT: `http://localhost:${wsPort}`,
  };
  let store: string;
  if (dbUrl) {
    env.LOCAL_DB_URL = dbUrl;
    store = `MySQL ${redact(dbUrl)}`;
  } else {
    // One file per port, emptied at every start: no socket survives a restart of the
    // WebSocket server, so no row of a previous run may either.
    const file = resolve('.local', `connections-${wsPort}.sqlite`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    env.EMBEDDED_STORE_FILE = file;
    delete env.LOCAL_DB_URL;
    store = `embedded SQLite ${file}`;
  }

  console.log(`[aws-node-websockets] store: ${store}`);
  // settings.js has already taken AUTH_MODE and AUTH_JWT_SECRET from the environment or
  // .env.yml and, with auth on, put the key in the authorize function's environment (which
  // wins over --localEnvironment). AUTH_MODE: off wins over a key that is set.
  if (settings.AUTH_MODE === 'hs256') {
    console.log('[aws-node-websockets] auth: a JWT is required at $connect (HS256 with AUTH_JWT_SECRET)');
    console.log(
      `[aws-node-websockets] url: ws://localhost:${wsPort}?token=... ` +
        `(try: npx wscat -c "ws://localhost:${wsPort}?token=$(npm run -s token -- --user alice)")`,
    );
  } else {
    console.log('[aws-node-websockets] auth: off, anyone who knows the URL can connect (see README.md, Authorization)');
    console.log(`[aws-node-websockets] url: ws://localhost:${wsPort} (try: npx wscat -c ws://localhost:${wsPort})`);
  }

  const cli = join('node_modules', 'serverless', 'bin', 'serverless.js');
  const child = spawn(
    process.execPath,
    [
      cli,
      'offline',
      '--websocketPort',
      String(wsPort),
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      // Hand the variables above to the functions' worker threads (offline otherwise passes only AWS_*).
      '--localEnvironment',
      ...process.argv.slice(2),
    ],
    { env, stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
