/**
 * `npm run client:pack`: builds the client package (./build.ts) and packs it with `npm pack`
 * into .local/client/, as `npm publish` would publish it. The last line of output is the
 * tarball's absolute path, for `npm install <path>` in another project (docs/client.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildClient, CLIENT_DIR } from './build';

export const PACK_DIR = resolve(__dirname, '..', '..', '.local', 'client');

/** Builds and packs; returns the tarball's absolute path. */
export async function packClient(): Promise<string> {
  const files = await buildClient();
  console.log(`built client/dist: ${files.length} files`);
  mkdirSync(PACK_DIR, { recursive: true });
  // --json: the tarball's name and files, whatever npm prints besides; no scripts run.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', PACK_DIR], {
    cwd: CLIENT_DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [packed] = JSON.parse(out) as { filename: string; files: { path: string }[]; size: number }[];
  if (packed === undefined) throw new Error(`npm pack said nothing of its tarball: ${out}`);
  console.log(`packed ${packed.files.length} files, ${packed.size} bytes`);
  return join(PACK_DIR, packed.filename);
}

if (require.main === module) {
  packClient().then(
    (tarball) => console.log(tarball),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
