/**
 * What the local scripts must agree on, in one place: the settings (settings.js, where the
 * environment wins over .env.yml), the ports, and which store the local service uses.
 * `npm start` (offline.ts) runs the service on that store; `npm run sweep` (sweep.ts) sweeps
 * the same one; `npm run token` (token.ts) signs with the same secret.
 */
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The settings serverless.yml gets, resolved by settings.js in the current folder (the service's). */
export function loadSettings(options: { stage?: string } = {}): Promise<Record<string, unknown>> {
  type Load = (input: { options: { stage?: string } }) => Promise<Record<string, unknown>>;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(resolve('settings.js')) as Load)({ options });
}

/** A port from the environment (WS_PORT, HTTP_PORT, LAMBDA_PORT), or its default. */
export function portSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw.trim() === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name} must be a port number, got "${raw}"`);
  }
  return value;
}

export type LocalStore = { kind: 'mysql'; url: string } | { kind: 'embedded'; file: string };

/**
 * MySQL when LOCAL_DB_URL is set (settings.js has already let the environment win over
 * .env.yml, trimmed it, and made an empty one unset), else the embedded SQLite file of the
 * service on that WebSocket port: one file per port, so two services never share one.
 */
export function localStore(settings: Record<string, unknown>, wsPort: number): LocalStore {
  const url = settings.LOCAL_DB_URL;
  if (typeof url === 'string' && url !== '') return { kind: 'mysql', url };
  return { kind: 'embedded', file: resolve('.local', `connections-${wsPort}.sqlite`) };
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable LOCAL_DB_URL)';
  }
}

/** How the scripts name the store they use, e.g. "MySQL mysql://root@127.0.0.1:3306/test". */
export function describeStore(store: LocalStore): string {
  return store.kind === 'mysql' ? `MySQL ${redact(store.url)}` : `embedded SQLite ${store.file}`;
}

/**
 * Fails, with a one-line message naming the port, when one of them cannot be listened on.
 * The probe binds the unspecified address (both IPv6 and IPv4 where possible), which
 * collides with a listener on any local address, whichever `localhost` resolved to.
 */
export async function checkPortsFree(ports: Record<string, number>): Promise<void> {
  const names = Object.keys(ports);
  if (new Set(Object.values(ports)).size !== names.length) {
    throw new Error(`${names.join(', ')} must be different ports; got ${JSON.stringify(ports)}`);
  }
  for (const [name, port] of Object.entries(ports)) {
    const problem = await new Promise<string | undefined>((done) => {
      const probe = createServer();
      probe.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      probe.listen(port, () => probe.close(() => done(undefined)));
    });
    if (problem === 'EADDRINUSE') {
      throw new Error(
        `${name} ${port} is already in use (another npm start?): stop it, or set ${name} to a free port. Nothing was changed.`,
      );
    }
    if (problem !== undefined)
      throw new Error(`${name} ${port} cannot be listened on (${problem}). Nothing was changed.`);
  }
}
