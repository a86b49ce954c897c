/**
 * settings.js (what `${file(./settings.js)}` gives serverless.yml): one rule for every
 * setting, the environment wins over the file. Run against a private
 * copy of the service so that a .env.yml can be written beside it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyService } from '../support/harnesses/service';

type Settings = Record<string, unknown>;
type SettingsModule = (() => Promise<Settings>) & { settingKeys(): string[] };

let dir: string;
let settingsJs: SettingsModule;
const saved = { ...process.env };

function resolveWith(env: Record<string, string>, envYml?: string): Promise<Settings> {
  for (const key of settingsJs.settingKeys()) delete process.env[key];
  Object.assign(process.env, env);
  rmSync(join(dir, '.env.yml'), { force: true });
  if (envYml !== undefined) writeFileSync(join(dir, '.env.yml'), envYml);
  return settingsJs();
}

beforeAll(() => {
  dir = copyService('settings');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  settingsJs = require(join(dir, 'settings.js')) as SettingsModule;
});

afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('settings.js reading its file', () => {
  const argv = process.argv;
  afterEach(() => {
    process.argv = argv;
  });

  it('names .env.yml, in one line, when it is not YAML', async () => {
    await expect(resolveWith({}, 'STAGE: dev\n  REGION: [x\n')).rejects.toThrow(
      /^\.env\.yml is not valid YAML: bad indentation of a mapping entry \(2:9\)$/,
    );
    await expect(resolveWith({}, '- a list\n')).rejects.toThrow('.env.yml must hold "NAME: value" lines');
  });

  it('reads .env.yml.example without a .env.yml, except for `sls deploy`, as `npm run deploy` checks', async () => {
    process.argv = [argv[0] as string, 'serverless.js', 'package'];
    expect(await resolveWith({})).toMatchObject({ STAGE: 'dev' });
    process.argv = [argv[0] as string, 'serverless.js', 'deploy', '--stage', 'prod'];
    await expect(resolveWith({})).rejects.toThrow(/^no \.env\.yml: run `cp \.env\.yml\.example \.env\.yml`/);
    expect(await resolveWith({}, 'STAGE: prod\n')).toMatchObject({ STAGE: 'prod' });
  });
});

describe('settings.js', () => {
  it('knows every setting .env.yml.example names, the commented-out ones included', () => {
    expect(settingsJs.settingKeys()).toEqual(
      expect.arrayContaining([
        'STAGE',
        'REGION',
        'DB_NETWORK',
        'FANOUT_CONCURRENCY',
        'LIST_PAGE_SIZE',
        'LOG_LEVEL',
        'AUTH_JWT_SECRET',
        'AUTH_JWT_ISSUER',
        'AUTH_JWT_AUDIENCE',
        'LOCAL_DB_URL',
      ]),
    );
    for (const key of settingsJs.settingKeys()) expect(key).toMatch(/^[A-Z][A-Z0-9_]+$/);
  });

  it('lets LOG_LEVEL from the environment win over the file', async () => {
    expect((await resolveWith({}, 'LOG_LEVEL: info\n')).LOG_LEVEL).toBe('info');
    expect((await resolveWith({ LOG_LEVEL: 'warn' }, 'LOG_LEVEL: info\n')).LOG_LEVEL).toBe('warn');
    // the same without a .env.yml, when .env.yml.example is read
    expect((await resolveWith({ LOG_LEVEL: 'error' })).LOG_LEVEL).toBe('error');
  });

  it('applies the same rule to every setting, including ones the file only mentions in a comment', async () => {
    const env = {
      STAGE: 'qa',
      FANOUT_CONCURRENCY: '7',
      LIST_PAGE_SIZE: '20',
      LOCAL_DB_URL: 'mysql://root@127.0.0.1:3306/test',
      AUTH_JWT_AUDIENCE: 'chat',
    };
    const settings = await resolveWith(
      env,
      'STAGE: dev\nFANOUT_CONCURRENCY: 50\nLOCAL_DB_URL: mysql://x@127.0.0.1/y\n',
    );
    expect(settings).toMatchObject(env);
  });

  it('trims values, and treats an empty or blank value (in either place) as unset', async () => {
    const settings = await resolveWith(
      { LOG_LEVEL: '  warn  ', STAGE: '', REGION: '   ', FANOUT_RETRIES: ' ' },
      "STAGE: qa\nREGION: ' eu-west-1 '\nFANOUT_RETRIES: ''\nLIST_PAGE_SIZE:\n",
    );
    expect(settings.LOG_LEVEL).toBe('warn');
    expect(settings.STAGE).toBe('qa');
    expect(settings.REGION).toBe('eu-west-1');
    // unset, so serverless.yml's `${…, default}` applies
    expect(settings).not.toHaveProperty('FANOUT_RETRIES');
    expect(settings).not.toHaveProperty('LIST_PAGE_SIZE');
  });

  it('takes nothing from the environment that is not a setting', async () => {
    const settings = await resolveWith(
      { HOME_DIR_X: '/nowhere', DB_TABLE_PREFIX: 't_', AUTHORIZE_FUNCTION: 'evil', CONNECT_ROUTE: 'evil' },
      'STAGE: dev\n',
    );
    expect(settings).not.toHaveProperty('HOME_DIR_X');
    expect(settings).not.toHaveProperty('DB_TABLE_PREFIX');
    expect(settings).not.toHaveProperty('PATH');
    // computed by settings.js itself, never taken from outside
    expect(settings.AUTHORIZE_FUNCTION).toBeNull();
    expect(settings.CONNECT_ROUTE).toEqual({ route: '$connect' });
  });

  it('still switches the authorizer on from the environment, as before', async () => {
    const settings = await resolveWith({ AUTH_JWT_SECRET: ` ${'s'.repeat(40)} ` }, 'STAGE: dev\n');
    expect(settings.AUTH_JWT_SECRET).toBe('s'.repeat(40));
    expect(settings.CONNECT_ROUTE).toMatchObject({ authorizer: { name: 'authorize' } });
  });
});
