/**
 * What the docs say about the settings is what the code reads: .env.yml.example names every
 * setting (it is their list, infra/setting-keys.js) and, in comments that are no settings, every
 * variable `npm start` reads from the environment only, with the defaults the code uses; README
 * says where those are; and every `NAME: value` the docs tell people to write names a setting.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { markdownPages, proseLines, ROOT } from '../support/docs/markdown';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const keys = require('../../infra/setting-keys.js') as {
  ENVIRONMENT_ONLY_KEYS: readonly string[];
  settingKeys(): string[];
  unknownKeyProblems(values: Record<string, unknown>, file: string): string[];
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtime = require('../../scripts/offline-runtime.js') as { maxConcurrency(env: NodeJS.ProcessEnv): number };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const asyncInvoke = require('../../scripts/offline-async.js') as { DEFAULT_RETRY_DELAYS_MS: number[] };

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const example = read('.env.yml.example');

/** The defaults of the environment-only variables, as the code has them. */
function codeDefaults(): Record<string, string> {
  const offline = read('scripts/offline.ts');
  const port = (name: string) => new RegExp(`portSetting\\('${name}', (\\d+)\\)`).exec(offline)?.[1] ?? 'none';
  return {
    WS_PORT: port('WS_PORT'),
    HTTP_PORT: port('HTTP_PORT'),
    LAMBDA_PORT: port('LAMBDA_PORT'),
    LOCAL_MAX_CONCURRENCY: String(runtime.maxConcurrency({})),
    LOCAL_ASYNC_RETRY_DELAYS_MS: asyncInvoke.DEFAULT_RETRY_DELAYS_MS.join(','),
  };
}

describe('.env.yml.example', () => {
  it('says to deploy with npm run deploy (which checks first), never with sls deploy directly', () => {
    expect(example.split('\n')[0]).toContain('`npm run deploy`');
    expect(example).not.toMatch(/`(npx )?sls deploy`/);
  });

  it('names every variable read from the environment only, with the default the code uses', () => {
    const defaults = codeDefaults();
    expect(Object.keys(defaults).sort()).toEqual([...keys.ENVIRONMENT_ONLY_KEYS].sort());
    const written = Object.fromEntries(
      [...example.matchAll(/^#.*$/gm)].flatMap((line) =>
        [...line[0].matchAll(/\b([A-Z][A-Z0-9_]+)=(\S+)/g)].map((match) => [match[1]!, match[2]!]),
      ),
    );
    for (const key of keys.ENVIRONMENT_ONLY_KEYS)
      expect({ key, value: written[key] }).toEqual({ key, value: defaults[key] });
  });

  it('keeps them out of the settings: in a .env.yml they are refused with where they go', () => {
    const settings = keys.settingKeys();
    expect(keys.ENVIRONMENT_ONLY_KEYS.filter((key) => settings.includes(key))).toEqual([]);
    expect(keys.unknownKeyProblems({ LOCAL_MAX_CONCURRENCY: 8 }, '.env.yml')).toEqual([
      expect.stringContaining('read from the environment only'),
    ]);
  });
});

describe('the docs', () => {
  it("README's claim that every setting is in .env.yml.example says where the environment-only ones are", () => {
    const claim = /Every setting and its default is in[\s\S]*?;/.exec(read('README.md'))?.[0] ?? '';
    expect(claim).toContain('.env.yml.example');
    expect(claim).toMatch(/environment only/);
    expect(claim).toContain('`LOCAL_MAX_CONCURRENCY`');
  });

  it('tells people to write only settings: every `NAME: value` of the docs names one (bar the misspelling shown)', () => {
    const settings = new Set(keys.settingKeys());
    const written = markdownPages().flatMap((page) =>
      proseLines(read(page)).flatMap(({ line, n }) =>
        [...line.matchAll(/`([A-Z][A-Z0-9_]*): [^`]*`/g)].map((match) => ({ at: `${page}:${n}`, name: match[1]! })),
      ),
    );
    expect(written.length).toBeGreaterThan(10);
    const misspelt = written.filter(({ name }) => name === 'AUTH_MOD');
    expect(keys.unknownKeyProblems({ AUTH_MOD: 'hs256' }, '.env.yml')).toEqual([
      '.env.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE?',
    ]);
    expect(written.filter(({ name }) => !settings.has(name) && name !== 'AUTH_MOD')).toEqual([]);
    expect(misspelt.length).toBeLessThanOrEqual(1);
  });
});

describe("docs/operations.md's reserved concurrency", () => {
  it('names the functions RESERVED_CONCURRENCY bounds as serverless.yml does, and counts them', () => {
    const yml = load(read('serverless.yml')) as { functions: Record<string, { reservedConcurrency?: unknown }> };
    const bounded = Object.entries(yml.functions)
      .filter(([, fn]) => String(fn.reservedConcurrency).includes('settings.RESERVED_CONCURRENCY,'))
      .map(([name]) => name);
    const sentence = /With\s+N, ((?:`[a-z]+`,? (?:and )?)+)may each run at most N[\s\S]*?so at most (\d+)N \+ 1/.exec(
      read('docs/operations.md'),
    );
    expect(sentence).not.toBeNull();
    const named = [...sentence![1]!.matchAll(/`([a-z]+)`/g)].map((match) => match[1]!);
    expect(named.sort()).toEqual([...bounded].sort());
    expect(Number(sentence![2])).toBe(bounded.length);
  });
});
