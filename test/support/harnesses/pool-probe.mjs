// Run by test/integration/offline-pool.test.ts as `node [--require scripts/offline-preload.js]
// pool-probe.mjs DIR` from the repository's root: serverless-offline's real LambdaFunctionPool
// (replaced by the local runtime's when the preload is given) runs a worker-thread handler in
// DIR whose first call never answers, so offline's timeout fires; then the same function is
// called again. Prints one JSON line: what each call did and how long it took.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2];
writeFileSync(
  join(dir, 'handler.js'),
  "exports.run = async (event) => (event.hang ? new Promise(() => {}) : { statusCode: 200, answered: 'yes' });\n",
);
const offline = join(process.cwd(), 'node_modules', 'serverless-offline', 'src', 'lambda', 'LambdaFunctionPool.js');
const { default: Pool } = await import(pathToFileURL(offline).href);
const serverless = {
  service: { service: 'probe', provider: { runtime: 'nodejs20.x', region: 'us-east-1', timeout: 1 }, package: {} },
  config: { serverlessPath: dir, servicePath: dir },
};
const pool = new Pool(serverless, { terminateIdleLambdaTime: 60, localEnvironment: false });
const definition = { handler: 'handler.run', name: 'probe-fn', timeout: 1 };

async function call(event) {
  const started = Date.now();
  const fn = pool.get('probe', definition);
  fn.setEvent(event);
  try {
    const result = await fn.runHandler();
    return { outcome: result.answered === 'yes' ? 'answered' : 'other', ms: Date.now() - started };
  } catch (error) {
    return {
      outcome: /timeout/i.test(String(error && error.message)) ? 'timed out' : String(error),
      ms: Date.now() - started,
    };
  }
}

const first = await call({ hang: true });
const second = await call({});
const third = await call({});
process.stdout.write(`${JSON.stringify({ first, second, third })}\n`);
await pool.cleanup();
process.exit(0);
