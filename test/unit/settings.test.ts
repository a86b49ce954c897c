/**
 * settings.js (what `${file(./settings.js)}` gives serverless.yml): one rule for every
 * setting, the environment wins over the file. Run against a private
 * copy of the service so that a .env.yml can be written beside it.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyService, root } from '../support/harnesses/service';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const keys = require('../../infra/setting-keys.js') as { ENVIRONMENT_ONLY_KEYS: readonly string[] };

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

describe('settings.js and a key that is no setting', () => {
  it('refuses a misspelled key in one line that names it and the closest setting', async () => {
    // Ignored, `AUTH_MOD: hs256` used to start the service with auth off, without a word.
    await expect(resolveWith({}, 'AUTH_MOD: hs256\n')).rejects.toThrow(
      /^\.env\.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE\?$/,
    );
    await expect(resolveWith({}, 'STAGE: dev\nDB_ALLOWED_CIDRS: 10.0.0.0/8\n')).rejects.toThrow(
      /^\.env\.yml: DB_ALLOWED_CIDRS is not a setting; did you mean DB_ALLOWED_CIDR\?$/,
    );
    // a lower-case key, a swap of two letters
    await expect(resolveWith({}, 'stage: prod\n')).rejects.toThrow(/did you mean STAGE\?$/);
    await expect(resolveWith({}, 'LOG_LEVLE: warn\n')).rejects.toThrow(/did you mean LOG_LEVEL\?$/);
  });

  it('suggests nothing when no setting is close, and names every unknown key on the one line', async () => {
    const refusal = resolveWith({}, 'MY_FEATURE_FLAG: on\nAUTH_MOD: hs256\n');
    await expect(refusal).rejects.toThrow(
      '.env.yml: MY_FEATURE_FLAG is not a setting (every setting is in .env.yml.example); ' +
        '.env.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE?',
    );
    await expect(refusal).rejects.not.toThrow(/\n/);
  });

  it('has no stack to print: the framework prints the error of a settings file by its stack', async () => {
    const error = await resolveWith({}, 'AUTH_MOD: hs256\n').catch((e: unknown) => e as Error);
    expect(error.stack).toBe('.env.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE?');
  });

  it('refuses it whatever the environment says, and still takes only settings from the environment', async () => {
    await expect(resolveWith({ AUTH_MODE: 'hs256', AUTH_JWT_SECRET: 's'.repeat(40) }, 'AUTH_MOD: x\n')).rejects.toThrow(
      /AUTH_MOD is not a setting/,
    );
    // An unknown variable in the environment cannot be told from any other one: ignored, as before.
    const settings = await resolveWith({ AUTH_MOD: 'hs256' }, 'STAGE: dev\n');
    expect(settings).not.toHaveProperty('AUTH_MOD');
    expect(settings.AUTH_MODE).toBe('off');
  });

  it('accepts every key of .env.yml.example, the commented-out ones, and DB_PASSWORD of an older .env.yml', async () => {
    // Values do not matter to this check: each key, empty (so unset), is accepted.
    const envYml = [...settingsJs.settingKeys(), 'DB_PASSWORD'].map((key) => `${key}:`).join('\n');
    await expect(resolveWith({}, `${envYml}\n`)).resolves.toMatchObject({ AUTH_MODE: 'off' });
  });

  it('refuses a key read from the environment only, saying where it goes', async () => {
    await expect(resolveWith({}, 'WS_PORT: 3401\n')).rejects.toThrow(
      /^\.env\.yml: WS_PORT is read from the environment only, not from \.env\.yml \(`WS_PORT=… npm start`\)$/,
    );
  });

  it('knows a setting as soon as .env.yml.example names it', async () => {
    const example = join(dir, '.env.yml.example');
    const original = readFileSync(example, 'utf8');
    try {
      writeFileSync(example, `${original}\n# LOCAL_NEW_THING: 1   # a setting added by someone else\n`);
      await expect(resolveWith({}, 'LOCAL_NEW_THING: 2\n')).resolves.toMatchObject({ LOCAL_NEW_THING: 2 });
    } finally {
      writeFileSync(example, original);
    }
  });
});

describe("docs/operations.md's configuration table", () => {
  const doc = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
  const rows = doc
    .slice(doc.indexOf('## Configuration'))
    .split('\n')
    .filter((line) => line.startsWith('| `'));
  const namesIn = (lines: string[]) =>
    lines.flatMap((line) => [...(line.split('|')[1] as string).matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]));

  it('names every setting, and besides them only what is read from the environment only', () => {
    const named = namesIn(rows);
    expect(named).toEqual(expect.arrayContaining(settingsJs.settingKeys()));
    const others = named.filter((name) => !settingsJs.settingKeys().includes(name as string));
    expect(others.sort()).toEqual([...keys.ENVIRONMENT_ONLY_KEYS].sort());
    expect(namesIn(rows.filter((row) => row.includes('environment only'))).sort()).toEqual(others.sort());
  });
});
