/**
 * `npm run bench [-- --smoke] [-- --no-mysql] [-- --only delivery,fanout,cold-start,load,rights,history,shards,capacity,round-trips] [-- --baseline DIR]`: fan-out
 * speed, store calls, cold start (DIR: an unzipped package whose message path is timed beside ours),
 * package size and load, measured side by side on this machine. Prints Markdown tables
 * and writes bench-results/latest.json and latest.md (git-ignored); BENCHMARKS.md holds
 * a copy of a full run. MySQL: LOCAL_DB_URL, or mysql://root@127.0.0.1:3306/test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderMarkdown, runBench, SECTIONS } from './bench/run';
import type { Section } from './bench/run';

// Nothing here may look for AWS credentials or reach AWS.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
process.env.SLS_TELEMETRY_DISABLED = '1';
process.env.SLS_NOTIFICATIONS_MODE = 'off';
// Our own log lines (one per failed post, per fan-out) would drown the tables, as would the
// delivery metrics (one EMF line per fan-out on stdout, src/chat/fanout/emf.ts).
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'error';
process.env.POWERTOOLS_METRICS_DISABLED = process.env.POWERTOOLS_METRICS_DISABLED ?? 'true';

const isSection = (name: string): name is Section => (SECTIONS as readonly string[]).includes(name);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const smoke = args.includes('--smoke');
  const onlyAt = args.indexOf('--only');
  const requested = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : undefined;
  if (requested && !requested.every(isSection)) {
    throw new Error(`--only takes ${SECTIONS.join(', ')} (comma-separated), got "${requested.join(',')}"`);
  }
  const only = requested?.filter(isSection);
  const baselineAt = args.indexOf('--baseline');
  const baselineDir = baselineAt >= 0 ? resolve(args[baselineAt + 1] ?? '') : undefined;
  const mysqlUrl = args.includes('--no-mysql')
    ? undefined
    : process.env.LOCAL_DB_URL || 'mysql://root@127.0.0.1:3306/test';
  const results = await runBench({
    smoke,
    only,
    baselineDir,
    mysqlUrl,
    log: (m) => process.stderr.write(`[bench] ${m}\n`),
  });
  const markdown = renderMarkdown(results);
  const dir = resolve('bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(dir, 'latest.md'), markdown);
  console.log(markdown);
  console.log(`(written to ${join(dir, 'latest.json')} and latest.md)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
