/**
 * The configurations the deploy suite packages, one definition each, shared by the test files
 * that read them (packageOnce packages each once per source tree):
 * - open: the public network and no auth, with the settings a user would put in .env.yml;
 * - secured: HS256 turned on by a local AUTH_JWT_SECRET, so the template generates the deployed
 *   key in Secrets Manager (the local one must not be deployed);
 * - private: DB_NETWORK=private, HS256 with an existing secret (AUTH_JWT_SECRET_ARN), and the
 *   flood bounds set (throttling, a reservation, an explicit connection budget);
 * - jwks: tokens of an identity provider, verified with its key set (no secret at all);
 * - alarm: ALARM_TOPIC_ARN set, and reservations for every function, deliver's included.
 */
import { packageOnce } from './cache';
import type { Packaged } from './package';

/** Values that must never appear in a template: a local key and a legacy password. */
export const LOCAL_SECRET = 'deploy-test-secret-that-is-long-enough-0123';
export const LEGACY_PASSWORD = 'legacy-password-from-an-old-env-yml';
export const EXISTING_SECRET_ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:ws/jwt-key-AbC123';
export const ALARM_TOPIC = 'arn:aws:sns:us-east-1:123456789012:chat-alarms';

const lines = (...settings: string[]) => [...settings, ''].join('\n');

export interface Variant {
  /** What the packaging is, in a test's title. */
  title: string;
  envYml: string;
  /** Files added to the service's copy (folders beside the service that must stay out of the zip). */
  files?: Record<string, string>;
  stage: string;
  region: string;
  network: 'public' | 'private';
  auth: 'off' | 'hs256' | 'jwks';
}

export const VARIANTS = {
  open: {
    title: 'the default (public network, no auth)',
    envYml: lines(
      'STAGE: qa',
      'REGION: eu-west-1',
      'DB_NAME: chat',
      'DB_USER: chatadmin',
      `DB_PASSWORD: ${LEGACY_PASSWORD}`,
      'DB_INSTANCE_CLASS: db.t4g.small',
      'DB_ALLOCATED_STORAGE: 30',
      'DB_ALLOWED_CIDR: 203.0.113.0/24',
    ),
    // The browser client and the web page live beside the service and must stay out of its zip.
    files: { 'client/index.html': '<!doctype html>', 'client/app.ts': 'export {};\n', 'web/index.html': '' },
    stage: 'qa',
    region: 'eu-west-1',
    network: 'public',
    auth: 'off',
  },
  secured: {
    title: 'HS256 with a generated key',
    envYml: lines(
      `AUTH_JWT_SECRET: ${LOCAL_SECRET}`,
      'AUTH_JWT_ISSUER: https://id.example',
      'AUTH_JWT_AUDIENCE: websockets',
    ),
    stage: 'dev',
    region: 'us-east-1',
    network: 'public',
    auth: 'hs256',
  },
  private: {
    title: 'the private network, HS256 with an existing key, flood bounds',
    envYml: lines(
      'STAGE: prod',
      'REGION: eu-central-1',
      'DB_NETWORK: private',
      'DB_ALLOWED_CIDR: 198.51.100.0/24',
      'AUTH_MODE: hs256',
      `AUTH_JWT_SECRET_ARN: ${EXISTING_SECRET_ARN}`,
      'DB_INSTANCE_CLASS: db.r6g.large',
      'DB_MAX_CONNECTIONS: 1000',
      'RESERVED_CONCURRENCY: 20',
      'WS_THROTTLE_BURST: 200',
      'WS_THROTTLE_RATE: 75.5',
    ),
    stage: 'prod',
    region: 'eu-central-1',
    network: 'private',
    auth: 'hs256',
  },
  jwks: {
    title: 'JWKS (an identity provider’s tokens)',
    envYml: lines(
      'STAGE: staging',
      'REGION: ap-southeast-2',
      'AUTH_MODE: jwks',
      'AUTH_JWKS_URL: https://id.example/.well-known/jwks.json',
      'AUTH_JWT_ISSUER: https://id.example/',
      'AUTH_JWT_AUDIENCE: websockets',
    ),
    stage: 'staging',
    region: 'ap-southeast-2',
    network: 'public',
    auth: 'jwks',
  },
  alarm: {
    title: 'an alarm topic and reservations',
    envYml: lines(
      'STAGE: qa',
      `ALARM_TOPIC_ARN: ${ALARM_TOPIC}`,
      'RESERVED_CONCURRENCY: 5',
      'DELIVER_RESERVED_CONCURRENCY: 20',
    ),
    stage: 'qa',
    region: 'us-east-1',
    network: 'public',
    auth: 'off',
  },
} satisfies Record<string, Variant>;

export type VariantName = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

/** One variant's packaging (made once per source tree), unzipped into `unzipTo` if given. */
export function packageVariant(name: VariantName, unzipTo?: string): Promise<Packaged> {
  const variant: Variant = VARIANTS[name];
  return packageOnce({
    envYml: variant.envYml,
    ...(variant.files === undefined ? {} : { files: variant.files }),
    timeoutMs: 400_000,
    ...(unzipTo === undefined ? {} : { unzipTo }),
  });
}

/** At most this many `sls package` at once: each compiles the TypeScript and zips (2 cores here). */
const AT_ONCE = 3;

/** Every variant (or those named), those not made yet packaged side by side. */
export async function packageVariants<Name extends VariantName>(
  names: readonly Name[] = VARIANT_NAMES as Name[],
): Promise<Record<Name, Packaged>> {
  const packaged = new Map<Name, Packaged>();
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift())
      packaged.set(name, await packageVariant(name));
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, names.length) }, worker));
  return Object.fromEntries(names.map((name) => [name, packaged.get(name)!])) as Record<Name, Packaged>;
}
