/**
 * A private copy of the service (what `serverless` reads, with the project's
 * node_modules linked in), so that a test's or the benchmark's `serverless` run has a
 * `.build` and `.serverless` of its own and cannot collide with a developer's
 * `npm start` or with another run.
 */
import { cpSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(__dirname, '..', '..', '..');

/** The serverless CLI (osls) of this project. */
export const serverlessCli = join(root, 'node_modules', 'serverless', 'bin', 'serverless.js');

/** What `serverless` reads of the repository (the packaging cache hashes the same files). */
export const SERVICE_FILES = [
  // Not part of the service, but in every checkout: packaging must leave it out (test/deploy).
  'client',
  'serverless.yml',
  'settings.js',
  'infra',
  '.env.yml.example',
  'package.json',
  'tsconfig.json',
  'src',
  // the chat page's local-only function (settings.js adds it under `serverless offline`)
  'scripts/page/handler.ts',
  // the settings checks infra/checks-plugin.js runs before packaging
  'scripts/deploy',
];

export function copyService(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ws-${label}-`));
  for (const file of SERVICE_FILES) cpSync(join(root, file), join(dir, file), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** settings.js, as the tests read it (plain JavaScript: no types to import). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settingsJs = require(join(root, 'settings.js')) as { settingKeys(): string[]; AUTH_KEYS: readonly string[] };

/**
 * The settings that decide how `$connect` is guarded (settings.js lets the environment win
 * over .env.yml). A test turns auth on explicitly; a setting in the developer's shell must not.
 */
export const AUTH_ENV_KEYS: readonly string[] = settingsJs.AUTH_KEYS;

/** Every setting's name (settings.js: the keys of .env.yml.example), AUTH_JWT_* included. */
export const SETTING_KEYS = settingsJs.settingKeys();

/**
 * The environment wins over .env.yml for every setting (settings.js), so a STAGE, LOG_LEVEL or
 * AUTH_JWT_SECRET in the developer's shell would change what a test runs. Tests set what they
 * need explicitly, over a copy of the environment without any of them.
 */
export function withoutSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const key of SETTING_KEYS) delete copy[key];
  return copy;
}

/** Kept for callers that predate withoutSettings: it now strips every setting, not only AUTH_JWT_*. */
export const withoutAuth = withoutSettings;
