/**
 * `npm run sweep`: runs the scheduled orphan sweep by hand against the store `npm start`
 * uses (scripts/local.ts decides, for both: MySQL when LOCAL_DB_URL is set in the
 * environment or .env.yml, else the embedded file of WS_PORT, default 3001), names it, and
 * exits. In AWS the same handler runs every 15 minutes (serverless.yml, function `sweep`).
 * Rows older than SWEEP_MIN_AGE_MS (5 minutes) are asked about at the `npm start` of WS_PORT;
 * when nothing listens there, none is removed for that reason (only a 410 removes).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readConfig } from '../src/config';
import { createStore } from '../src/data';
import { sweep, useStore } from '../src/handler';
import { describeStore, loadSettings, localStore, portSetting } from './local';

async function main(): Promise<void> {
  const wsPort = portSetting('WS_PORT', 3001);
  const local = localStore(await loadSettings(), wsPort);
  console.log(`[aws-node-websockets] store: ${describeStore(local)}`);
  if (local.kind === 'embedded' && !existsSync(local.file)) {
    console.log(`no such file: npm start has not run on WS_PORT ${wsPort} here, so there is nothing to sweep`);
    return;
  }
  // The settings the functions get from `npm start` (DB_TABLE_PREFIX included), with this store.
  const env: NodeJS.ProcessEnv = { ...process.env, IS_OFFLINE: 'true' };
  delete env.LOCAL_DB_URL;
  if (local.kind === 'mysql') env.LOCAL_DB_URL = local.url;
  else env.EMBEDDED_STORE_FILE = local.file;
  const store = createStore(readConfig(env).store);
  useStore(store);
  // The handler reads the rest of its settings from process.env, as a function under offline
  // does. The liveness sweep asks the WebSocket server of `npm start` on WS_PORT (offline's
  // management API, which the local runtime gives GetConnection) which connections it still has.
  Object.assign(process.env, env);
  if (env.LOCAL_DB_URL === undefined) delete process.env.LOCAL_DB_URL;
  process.env.MANAGEMENT_ENDPOINT ??= `http://localhost:${wsPort}`;
  // What it closes is told where `npm start` tells it: its events file (docs/events.md), when
  // `npm start` made one here; none is made for a sweep of its own.
  const eventsFile = resolve('.local', `events-${wsPort}.jsonl`);
  if (existsSync(eventsFile)) process.env.EVENTS_LOCAL_FILE ??= eventsFile;
  try {
    const { expired, gone, checked, trimmed, abandoned } = await sweep();
    console.log(
      `removed ${expired} connection(s) older than 2 hours, and ${gone} of ${checked} asked about ` +
        'that the WebSocket server no longer has',
    );
    console.log(`trimmed ${trimmed} room message(s) outside the history's bounds (ROOM_HISTORY_TTL, ROOM_HISTORY_MAX)`);
    console.log(
      `ended ${abandoned} sharded delivery(ies) still unfinished after SWEEP_DELIVERY_AGE_MS, whose shards were gone`,
    );
  } finally {
    // The handler only end()s the store, which keeps a MySQL connection for the next
    // invocation (serverless-mysql) and so the process alive; a script must close it.
    await store.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
