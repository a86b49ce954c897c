/**
 * `npm run sweep`: runs the scheduled orphan sweep by hand against the local store
 * (the embedded file of `npm start` on WS_PORT, default 3001, or LOCAL_DB_URL).
 * In AWS the same handler runs every 15 minutes (serverless.yml, function `sweep`).
 */
import { resolve } from 'node:path';

async function main(): Promise<void> {
  const port = process.env.WS_PORT || '3001';
  process.env.IS_OFFLINE = 'true';
  process.env.EMBEDDED_STORE_FILE ??= resolve('.local', `connections-${port}.sqlite`);
  // Imported after the environment is set: config is read once, on first use.
  const { sweep } = await import('../src/handler');
  const { removed } = await sweep();
  console.log(`removed ${removed} connection(s) older than 2 hours`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
