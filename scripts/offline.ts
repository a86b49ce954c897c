/**
 * `npm start`: the whole service on this machine under serverless-offline 13, with no
 * AWS account and no database server. Each function runs in its own worker thread, as
 * in Lambda; the connections live in an embedded SQLite file (or in MySQL when
 * LOCAL_DB_URL is set, in the environment or in .env.yml).
 *
 * Environment: WS_PORT (default 3001), HTTP_PORT (3000) and LAMBDA_PORT (3002) for
 * offline's other servers, LOCAL_DB_URL, LOG_LEVEL, and AUTH_JWT_SECRET (with the optional
 * AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE) to require a token at `$connect`. When one of
 * the three ports is taken (a second `npm start`), it says so in one line and touches nothing.
 * The three ports answer only the local user (scripts/local-guard.js); LOCAL_ALLOWED_ORIGINS
 * names the web apps whose pages may open the WebSocket port.
 * So does a setting `npm run deploy -- --check` would refuse, a broken .env.yml, or a store
 * that does not answer: one line, exit code 1, before serverless starts.
 * The URL is printed, with "ready", once the WebSocket and HTTP ports accept connections.
 * The chat page (web/) is served at http://localhost:HTTP_PORT/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  allowedOrigins,
  checkPortsFree,
  describeStore,
  gatewayLimits,
  loadSettings,
  localSettingProblems,
  localStore,
  portSetting,
  probeStore,
  waitUntilListening,
} from './local';
import { buildPage } from './page/build';

/** A problem of the settings or the store: printed as its one line, without a stack. */
class StartError extends Error {
  override readonly name = 'StartError';
}

const say = (line: string) => console.log(`[aws-node-websockets] ${line}`);

/** Seconds: offline multiplies by 1,000 for setTimeout, whose longest wait is 2^31 - 1 ms. */
const OFFLINE_TIMER_OFF_SEC = 2_147_483;

async function main(): Promise<void> {
  const wsPort = portSetting('WS_PORT', 3001);
  const httpPort = portSetting('HTTP_PORT', 3000);
  const lambdaPort = portSetting('LAMBDA_PORT', 3002);
  // Before anything is touched: a second `npm start` used to empty the running one's store
  // (and rebuild its .build) before serverless-offline failed on the busy port.
  await checkPortsFree({ WS_PORT: wsPort, HTTP_PORT: httpPort, LAMBDA_PORT: lambdaPort });
  // settings.js throws a one-line Error for what it cannot read (a broken .env.yml, hs256 without a key).
  const settings = await loadSettings({ local: true }).catch((error: unknown) => {
    throw new StartError(error instanceof Error ? error.message : String(error));
  });
  const problems = localSettingProblems(settings);
  if (problems.length > 0) throw new StartError(problems.join('; '));
  const store = localStore(settings, wsPort);
  // Emptied at every start, as the store is: it tells what this run's backend would have received.
  const eventsFile = resolve('.local', `events-${wsPort}.jsonl`);
  mkdirSync(dirname(eventsFile), { recursive: true });
  writeFileSync(eventsFile, '');
  const allowed = allowedOrigins(settings);
  const limits = gatewayLimits(settings);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    // Nothing local may look for AWS credentials on the instance metadata address.
    AWS_EC2_METADATA_DISABLED: 'true',
    // Local Node is 20; Lambda runs 24. The SDK's notice about its future Node 22 floor is noise here.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // offline serves the management API on the WebSocket port; an explicit MANAGEMENT_ENDPOINT
    // wins (e.g. a test's proxy in front of it, test/e2e/silent-endpoint.test.ts).
    MANAGEMENT_ENDPOINT: process.env.MANAGEMENT_ENDPOINT || `http://localhost:${wsPort}`,
    // Shards of a large fan-out go to the deliver function through offline's Lambda Invoke API.
    LAMBDA_ENDPOINT: `http://localhost:${lambdaPort}`,
    // For the ports' guard (scripts/local-guard.js), which runs in the serverless process: the
    // settings as resolved here (.env.yml or the environment), not as the shell had them.
    LOCAL_ALLOWED_ORIGINS: allowed.origins.join(','),
    // API Gateway's limits (scripts/local-limits.js, also in the serverless process), as resolved here.
    ...limits.env,
    LOG_LEVEL: String(settings.LOG_LEVEL ?? 'info'),
    // Lifecycle events go to this file, one JSON line each, instead of EventBridge (docs/events.md).
    EVENTS_LOCAL_FILE: eventsFile,
    EVENTS_LOCAL_PRINT: String(settings.EVENTS_LOCAL_PRINT ?? 'on'),
  };
  if (store.kind === 'mysql') {
    env.LOCAL_DB_URL = store.url;
    // Migrated below (probeStore), before the functions start, as the deploy does in AWS.
    env.DB_MIGRATE = 'deploy';
    // Its tables (DB_TABLE_PREFIX) are this service's, as the SQLite file is its port's: the
    // rows an earlier run left are removed below, once the store answers.
  } else {
    // One file per port, emptied at every start: no socket survives a restart of the
    // WebSocket server, so no row of a previous run may either.
    for (const suffix of ['', '-wal', '-shm']) rmSync(store.file + suffix, { force: true });
    env.EMBEDDED_STORE_FILE = store.file;
    delete env.LOCAL_DB_URL;
  }
  let leftOver = 0;
  const storeProblem = await probeStore(store, settings, {
    clear: store.kind === 'mysql',
    removed: (count) => (leftOver = count),
    migrated: (versions) => say(`store: schema migrated (${versions.join(', ')})`),
  });
  if (storeProblem !== undefined) throw new StartError(storeProblem);
  if (leftOver > 0) say(`store: removed ${leftOver} connection(s) an earlier run left in its tables`);

  say(`store: ${describeStore(store)}`);
  say(`events: each one a line of ${eventsFile} (docs/events.md)`);
  // settings.js has already resolved AUTH_MODE (and the keys) from the environment or .env.yml
  // and, with auth on, put what verifies tokens in the authorize function's environment (which
  // wins over --localEnvironment). AUTH_MODE: off wins over a key that is set.
  let ready: string;
  if (settings.AUTH_MODE === 'jwks') {
    say(`auth: a JWT signed by a key of ${String(settings.AUTH_JWKS_URL)} is required at $connect`);
    ready = `ws://localhost:${wsPort}?token=<a token from your identity provider>`;
  } else if (settings.AUTH_MODE === 'hs256') {
    say('auth: a JWT is required at $connect (HS256 with AUTH_JWT_SECRET)');
    ready =
      `ws://localhost:${wsPort}?token=... ` +
      `(try: npx wscat -c "ws://localhost:${wsPort}?token=$(npm run -s token -- --user alice)")`;
  } else {
    say('auth: off, anyone who knows the URL can connect (see docs/auth.md)');
    ready = `ws://localhost:${wsPort} (try: npx wscat -c ws://localhost:${wsPort})`;
  }

  say(`API Gateway's limits: ${limits.description} (docs/operations.md#local-limits)`);
  if (allowed.origins.length > 0) {
    say(`local ports: pages of ${allowed.origins.join(', ')} may open the WebSocket port (LOCAL_ALLOWED_ORIGINS)`);
  }

  // The chat page (scripts/page/handler.ts serves it on the HTTP port), built for these settings.
  await buildPage(String(settings.PAGE_DIR), { wsPort, auth: String(settings.AUTH_MODE) });
  say('starting serverless offline (10-30 s; connect once it says "ready") ...');

  const cli = join('node_modules', 'serverless', 'bin', 'serverless.js');
  const child = spawn(
    process.execPath,
    [
      // Keeps one malformed frame from ending the whole server (why and how: the preload's header).
      '--require',
      join(__dirname, 'offline-preload.js'),
      cli,
      'offline',
      '--websocketPort',
      String(wsPort),
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      // The local gateway closes idle and old connections itself (LOCAL_IDLE_TIMEOUT,
      // LOCAL_MAX_CONNECTION_AGE, which may be off); offline's own timers are set to the
      // longest a Node timer waits (about 24.8 days), so that they never come first.
      '--webSocketIdleTimeout',
      String(OFFLINE_TIMER_OFF_SEC),
      '--webSocketHardTimeout',
      String(OFFLINE_TIMER_OFF_SEC),
      // Hand the variables above to the functions' worker threads (offline otherwise passes only AWS_*).
      '--localEnvironment',
      ...process.argv.slice(2),
    ],
    // Colours as in a terminal, though offline's output now passes through a pipe.
    { env: process.stdout.isTTY ? { ...env, FORCE_COLOR: '1' } : env, stdio: ['inherit', 'pipe', 'inherit'] },
  );
  // offline's route box repeats the page function's invoke route under each of its five
  // GET routes: each line of that box is printed once.
  const printed = new Set<string>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.includes('/2015-03-31/functions/')) {
      if (printed.has(line)) return;
      printed.add(line);
    }
    console.log(line);
  });
  let exited = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  // 'close' comes after the last of its output, which 'exit' may precede.
  child.on('close', (code, signal) => {
    exited = true;
    process.exit(code ?? (signal ? 1 : 0));
  });
  if (await waitUntilListening([wsPort, httpPort], () => exited)) {
    say(`ready: ${ready}`);
    say(`chat page: http://localhost:${httpPort}/`);
  }
}

main().catch((error: unknown) => {
  // Settings and store problems are a line of their own; anything else is still one line.
  const message = error instanceof Error ? error.message : String(error);
  console.error(error instanceof StartError ? `[aws-node-websockets] ${message}` : message);
  process.exit(1);
});
