/**
 * The deploy settings as serverless.yml will read them: the file's values with the
 * environment winning, each as the trimmed string the functions get.
 */
export type Settings = Record<string, unknown>;
export type Env = Record<string, string | undefined>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const keys = require('../../infra/setting-keys.js') as {
  keysIn(text: string): string[];
  knownKeys(exampleText: string): string[];
  unknownKeyProblems(values: Settings, file: string, known?: readonly string[]): string[];
};

/** Settings whose value is JSON (and may be written as a YAML mapping in .env.yml). */
const JSON_SETTINGS = ['AUTH_DEFAULT_ROOMS'];

/** A setting as the functions get it: a trimmed string, or undefined when absent or empty. */
export function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The settings as strings, the form they reach the functions' environment in. */
export function asEnv(settings: Settings): Env {
  const env: Env = {};
  for (const [key, value] of Object.entries(settings)) {
    if (typeof value !== 'object' || value === null) env[key] = text(value);
    // The rights map may be written as YAML in .env.yml; settings.js passes it on as JSON.
    else if (JSON_SETTINGS.includes(key)) env[key] = JSON.stringify(value);
  }
  return env;
}

/**
 * The settings file's values with the environment winning over the file for every setting
 * (the rule settings.js applies), for the keys the file has and those the example names.
 */
export function mergeSettings(fromFile: Settings, env: Env, knownKeys: readonly string[]): Settings {
  const merged: Settings = { ...fromFile };
  for (const key of new Set([...Object.keys(fromFile), ...knownKeys])) {
    const fromEnv = text(env[key]);
    if (fromEnv !== undefined) merged[key] = fromEnv;
  }
  return merged;
}

/** Setting names in .env.yml.example, commented out or not (`# AUTH_JWKS_URL: ...` counts). */
export function settingNames(exampleText: string): string[] {
  return keys.keysIn(exampleText);
}

/**
 * One line for each key of the settings file that is no setting, with the closest setting
 * (infra/setting-keys.js, as settings.js refuses it): a misspelled key is never ignored.
 */
export function unknownSettings(fromFile: Settings, file: string, exampleText: string): string[] {
  return keys.unknownKeyProblems(fromFile, file, keys.knownKeys(exampleText));
}
