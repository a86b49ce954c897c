/**
 * `npm run deploy -- --help` (and -h, and the same for remove) prints the usage and exits 0
 * without running a check: here in a folder with no serverless.yml, a .env.yml that is not YAML
 * and no AWS credentials, any of which makes the checks fail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/docs/markdown';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ws-deploy-help-'));
  writeFileSync(join(dir, '.env.yml'), 'STAGE: [not yaml\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'scripts', 'deploy.ts'), ...args],
    { cwd: dir, env: { ...env, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' }, encoding: 'utf8', timeout: 60_000 },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run deploy -- --help', () => {
  it('prints the usage, every option of ours with it, and exits 0 without a check', () => {
    const { code, stdout, stderr } = run('deploy', '--help');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^usage: npm run deploy \[-- options\]/);
    for (const option of ['--check', '--skip-credential-check', '--print-policy', '--help']) {
      expect(stdout).toContain(option);
    }
    expect(stdout).not.toMatch(/nothing was built|settings look right|not valid YAML/);
  });

  it('answers -h the same, among other options too', () => {
    expect(run('deploy', '--stage', 'prod', '-h')).toEqual(run('deploy', '--help'));
  });

  it('gives npm run remove a usage of its own', () => {
    const { code, stdout } = run('remove', '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm run remove/);
    expect(stdout).not.toContain('--print-policy');
  });

  it('is named in the README beside --check', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toMatch(
      /`npm run deploy -- --check`[^.]*`-- --help` lists the options/,
    );
  });

  it('still runs the checks without it (they fail here)', () => {
    const { code, stderr } = run('deploy', '--check');
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/^deploy: /);
  });
});
