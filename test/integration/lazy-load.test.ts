/**
 * The embedded store (and better-sqlite3, which is not in the Lambda zip) must never be
 * loaded in AWS. Checked in a fresh Node process, where the module cache tells the truth.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');

function loadedAfter(program: string): string[] {
  const out = execFileSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), '-e', program], {
    cwd: root,
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as string[];
}

const report = `console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /better-sqlite3|store\\/sqlite/.test(k))))`;

describe('store selection', () => {
  it('does not load the embedded store or better-sqlite3 when MySQL is configured, as in AWS', () => {
    const loaded = loadedAfter(`
      const { createStore } = require('./src/data');
      const { readConfig } = require('./src/config');
      require('./src/handler');
      createStore(readConfig({ DB_HOST: 'db.invalid', DB_NAME: 'n', DB_USER: 'u', DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf' }).store);
      ${report}`);
    expect(loaded).toEqual([]);
  });

  it('does not load the Secrets Manager client before the store first connects, nor for the handler', () => {
    const loaded = loadedAfter(`
      require('./src/handler');
      const { createStore } = require('./src/data');
      const { readConfig } = require('./src/config');
      createStore(readConfig({ DB_HOST: 'db.invalid', DB_NAME: 'n', DB_USER: 'u',
        DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf' }).store);
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /client-secrets-manager/.test(k))))`);
    expect(loaded).toEqual([]);
  });

  it('loads neither jose, mysql2, the Secrets Manager client nor zod on the message path', () => {
    const loaded = loadedAfter(`
      require('./src/handler');
      require('./src/chat/actions');
      require('./src/communication');
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) =>
        /node_modules\\/(jose|mysql2|zod|@aws-sdk\\/client-secrets-manager)\\//.test(k))))`);
    expect(loaded).toEqual([]);
  });

  it("loads valibot's CommonJS build, the one file of it the zip needs", () => {
    const loaded = loadedAfter(`
      require('./src/chat/protocol');
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules\\/valibot\\//.test(k))))`);
    expect(loaded.map((file) => file.replace(/.*node_modules\//, ''))).toEqual(['valibot/dist/index.cjs']);
  });

  it('loads them only when the embedded store is chosen', () => {
    const loaded = loadedAfter(`
      const { createStore } = require('./src/data');
      createStore({ kind: 'embedded', file: ':memory:', tablePrefix: '' }).list(1);
      ${report}`);
    expect(loaded.some((path) => path.includes('better-sqlite3'))).toBe(true);
  });
});
