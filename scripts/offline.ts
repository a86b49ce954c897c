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
 * The chat page (web/) is served at http://localhost:HTTP_PORT/.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkPortsFree, describeStore, loadSettings, localStore, portSetting } from './local';
import { buildPage } from './page/build';

async function main(): Promise<void> {
  const wsPort = portSetting('WS_PORT', 3001);
  const httpPort = portSetting('HTTP_PORT', 3000);
  const lambdaPort = portSetting('LAMBDA_PORT', 3002);
  // Before anything is touched: a second `npm start` used to empty the running one's store
  // (and rebuild its .build) before serverless-offline failed on the busy port.
  await checkPortsFree({ WS_PORT: wsPort, HTTP_PORT: httpPort, LAMBDA_PORT: lambdaPort });
  const settings = await loadSettings();
  const store = localStore(settings, wsPort);

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
  };
  if (store.kind === 'mysql') {
    env.LOCAL_DB_URL = store.url;
  } else {
    // One file per port, emptied at every start: no socket survives a restart of the
    // WebSocket server, so no row of a previous run may either.
    for (const suffix of ['', '-wal', '-shm']) rmSync(store.file + suffix, { force: true });
    env.EMBEDDED_STORE_FILE = store.file;
    delete env.LOCAL_DB_URL;
  }

  console.log(`[aws-node-websockets] store: ${describeStore(store)}`);
  // settings.js has already resolved AUTH_MODE (and the keys) from the environment or .env.yml
  // and, with auth on, put what verifies tokens in the authorize function's environment (which
  // wins over --localEnvironment). AUTH_MODE: off wins over a key that is set.
  if (settings.AUTH_MODE === 'jwks') {
    console.log(
      `[aws-node-websockets] auth: a JWT signed by a key of ${String(settings.AUTH_JWKS_URL)} is required at $connect`,
    );
    console.log(`[aws-node-websockets] url: ws://localhost:${wsPort}?token=<a token from your identity provider>`);
  } else if (settings.AUTH_MODE === 'hs256') {
    console.log('[aws-node-websockets] auth: a JWT is required at $connect (HS256 with AUTH_JWT_SECRET)');
    console.log(
      `[aws-node-websockets] url: ws://localhost:${wsPort}?token=... ` +
        `(try: npx wscat -c "ws://localhost:${wsPort}?token=$(npm run -s token -- --user alice)")`,
    );
  } else {
    console.log('[aws-node-websockets] auth: off, anyone who knows the URL can connect (see README.md, Authorization)');
    console.log(`[aws-node-websockets] url: ws://localhost:${wsPort} (try: npx wscat -c ws://localhost:${wsPort})`);
  }

  // The chat page (scripts/page/handler.ts serves it on the HTTP port), built for these settings.
  await buildPage(String(settings.PAGE_DIR), { wsPort, auth: String(settings.AUTH_MODE) });
  console.log(`[aws-node-websockets] chat page: http://localhost:${httpPort}/`);

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
