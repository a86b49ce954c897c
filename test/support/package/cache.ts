/**
 * `sls package` once per configuration and source tree: the deploy suite's files share the
 * templates they read (the template, shards, roles and docs tests package the same variants),
 * so a packaging is kept, keyed by a hash of everything it is made from: the files `serverless`
 * reads (SERVICE_FILES), the installed dependencies (npm's node_modules/.package-lock.json),
 * package-lock.json, the options and Node's version. A change to any of them is another key,
 * so a kept packaging is never stale. Kept in the system's temporary folder for a day;
 * WS_PACKAGE_CACHE=off packages every time.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { root, SERVICE_FILES } from '../harnesses/service';
import { packageService } from './package';
import type { PackageOptions, Packaged, Template } from './package';
import { extractZip, zipEntries } from './zip';

const CACHE = join(tmpdir(), 'aws-node-websockets-packages');
const KEEP_MS = 24 * 60 * 60 * 1000;

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => filesUnder(join(path, entry.name)));
}

/** The key of a packaging: what it is made of, hashed. */
export function packagingKey(options: PackageOptions): string {
  const hash = createHash('sha256');
  const { envYml, env, files } = options;
  hash.update(JSON.stringify({ envYml, env, files, node: process.version }));
  const inputs = [...SERVICE_FILES, 'package-lock.json', 'node_modules/.package-lock.json'];
  for (const file of inputs.flatMap((input) => filesUnder(join(root, input)))) {
    hash.update(`\0${relative(root, file)}\0`);
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 32);
}

function prune(): void {
  for (const name of existsSync(CACHE) ? readdirSync(CACHE) : []) {
    const dir = join(CACHE, name);
    if (Date.now() - statSync(dir).mtimeMs > KEEP_MS) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * packageService, or what it made before for the same key. `unzipTo` unzips the kept zip.
 * Two processes packaging the same key at once both package; the first to finish keeps its.
 */
export async function packageOnce(options: PackageOptions = {}): Promise<Packaged> {
  const key = packagingKey(options);
  const dir = join(CACHE, key);
  const zip = join(dir, 'package.zip');
  if (process.env.WS_PACKAGE_CACHE !== 'off' && existsSync(join(dir, 'packaged.json'))) {
    const now = new Date();
    utimesSync(dir, now, now);
    const kept = JSON.parse(readFileSync(join(dir, 'packaged.json'), 'utf8')) as Omit<Packaged, 'template'>;
    const template = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8')) as Template;
    if (options.unzipTo) extractZip(zip, options.unzipTo);
    return { ...kept, template, zipEntries: zipEntries(zip) };
  }
  mkdirSync(CACHE, { recursive: true });
  const building = join(CACHE, `${key}.${process.pid}.${Date.now()}`);
  mkdirSync(building);
  try {
    const packaged = await packageService({ ...options, copyZipTo: join(building, 'package.zip') });
    const { template, output, zipBytes, packageMs } = packaged;
    writeFileSync(join(building, 'template.json'), JSON.stringify(template));
    writeFileSync(join(building, 'packaged.json'), JSON.stringify({ output, zipBytes, packageMs }));
    prune();
    try {
      renameSync(building, dir);
    } catch {
      // Another process kept the same packaging first.
    }
    return packaged;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}
