/**
 * The test suites' cache of the service's TypeScript compile (scripts/compile-cache.js): one
 * entry per set of sources, whatever folder the suite's copy of the service is in.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { cacheKey } = require('../../scripts/compile-cache') as {
  cacheKey(dir: string, rootFileNames: string[], options: object, typescriptVersion: string): string;
};

const root = join(__dirname, '..', '..');
const dirs: string[] = [];

function copy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'compile-cache-'));
  dirs.push(dir);
  cpSync(join(root, 'src'), join(dir, 'src'), { recursive: true });
  cpSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  return dir;
}

afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('the compile cache key', () => {
  const key = (dir: string, version = '5.0.0') =>
    cacheKey(dir, ['src/handler.ts'], { outDir: '.build', configFilePath: join(dir, 'tsconfig.json') }, version);

  it('is the same for two copies of the same sources in different folders', () => {
    expect(key(copy())).toBe(key(copy()));
  });

  it('changes with any source, the compiler or its options', () => {
    const dir = copy();
    const before = key(dir);
    expect(key(dir, '5.0.1')).not.toBe(before);
    expect(cacheKey(dir, ['src/handler.ts'], { outDir: '.other' }, '5.0.0')).not.toBe(before);
    writeFileSync(join(dir, 'src', 'log.ts'), '// changed\n', { flag: 'a' });
    expect(key(dir)).not.toBe(before);
  });
});
