/**
 * The whole tree type-checks, as `npm run lint` checks it: jest compiles each file on its own
 * without types (tsconfig.jest.json), so this is where a type error fails `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

describe('the types', () => {
  it.each(['tsconfig.check.json', 'client/tsconfig.json', 'web/tsconfig.json'])(
    'of %s check without an error',
    (project) => {
      const run = spawnSync(process.execPath, [tsc, '-p', join(root, project), '--noEmit'], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(`${run.stdout}${run.stderr}`).toBe('');
      expect(run.status).toBe(0);
    },
    180_000,
  );
});
