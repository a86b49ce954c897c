/**
 * `sls deploy` and `sls package` straight from a clone (the way the original is used) run the
 * settings checks of `npm run deploy` (infra/checks-plugin.js) and stop before anything is
 * built or sent. The run has no AWS credentials, so nothing can be sent to AWS by accident.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/harnesses/offline';
import { copyService, serverlessCli, withoutSettings } from '../support/harnesses/service';

jest.setTimeout(120_000);

const BAD_SETTINGS = ['DB_INSTANCE_CLASS: huge', 'DB_MAX_CONNECTIONS: 100', 'DB_ALLOWED_CIDR: 1.2.3.4/8', ''].join(
  '\n',
);

function withoutCredentials(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const key of Object.keys(copy))
    if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|ROLE_ARN|WEB_IDENTITY|CONTAINER)/.test(key))
      delete copy[key];
  return copy;
}

function sls(command: string, envYml: string | undefined, args: string[] = [], timeoutMs = 100_000) {
  const dir = copyService('sls-checks');
  try {
    if (envYml !== undefined) writeFileSync(join(dir, '.env.yml'), envYml);
    const run = spawnSync(process.execPath, [serverlessCli, command, ...args], {
      cwd: dir,
      encoding: 'utf8',
      timeout: timeoutMs,
      env: {
        ...withoutCredentials(withoutSettings(process.env)),
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        AWS_EC2_METADATA_DISABLED: 'true',
        // No credentials anywhere: the framework asks STS for the account at start-up when it
        // has some (osls, before any hook), and a test must not reach an outside address.
        HOME: dir,
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
        AWS_CONFIG_FILE: join(dir, 'no-config'),
      },
    });
    return {
      status: run.status,
      output: `${run.stdout}${run.stderr}`,
      built: existsSync(join(dir, '.serverless')) || existsSync(join(dir, '.build')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(['package', 'deploy'])('sls %s with a wrong setting', (command) => {
  it('lists the problems, one line each, and builds and sends nothing', () => {
    const run = sls(command, BAD_SETTINGS);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain(`${command}: nothing was built or sent to AWS; fix these first:`);
    expect(run.output).toContain('  - DB_ALLOWED_CIDR "1.2.3.4/8" has host bits set: did you mean 1.0.0.0/8?');
    expect(run.output).toContain('  - DB_INSTANCE_CLASS "huge" is not an RDS instance class');
    expect(run.built).toBe(false);
  });
});

describe('sls deploy without a .env.yml', () => {
  it('is refused as npm run deploy refuses it', () => {
    const run = sls('deploy', undefined);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('no .env.yml: run `cp .env.yml.example .env.yml` and edit it first');
    expect(run.built).toBe(false);
  });
});

describe.each(['package', 'deploy', 'offline'])('sls %s with a key that is no setting', (command) => {
  it('stops at once with the line that names it and the closest setting, and builds and starts nothing', async () => {
    // Under offline, free ports of its own: should it start (it did, with auth off), it meets no one's service.
    const ports = ['--websocketPort', '--httpPort', '--lambdaPort'];
    const args =
      command === 'offline' ? (await Promise.all(ports.map(async (p) => [p, `${await freePort()}`]))).flat() : [];
    const run = sls(command, 'STAGE: qa\nAUTH_MOD: hs256\n', args, 30_000);
    expect(run.status).not.toBeNull(); // it ended by itself, before the deadline
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('.env.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE?');
    expect(run.output).not.toMatch(/\n\s+at /); // no stack trace
    expect(run.built).toBe(false);
  });
});
