/**
 * The first invocation of each function, as in AWS: a fresh Node process started in an unzipped
 * deployment package (nothing else to resolve from), the function's environment taken from the
 * packaged template, and everything its first invocation does through the code as shipped -
 * module load, the credential step before the first connect (whatever src does: a Secrets
 * Manager read against a loopback stand-in, or a token signed locally), the store driver and its
 * first connection over TLS to a MariaDB on loopback, and the handler's work (posts go to the
 * management stand-in). Timed with process.hrtime inside the child, from the first require to
 * the handler's answer. Nothing leaves the loopback: the child refuses any other address.
 * To see where a first invocation goes: BENCH_TRACE=1 prints each child's socket timeline,
 * BENCH_PROF=DIR writes a CPU profile per child into DIR.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findMariadbd } from '../../test/support/stand-ins/mariadb';
import { startSecretsStandIn } from '../../test/support/stand-ins/secrets-stand-in';
import { makeCertificates, scratchDir, startTlsMariadb } from '../../test/support/stand-ins/tls-mariadb';
import type { Template } from '../../test/support/package/package';
import { resourcesOfType } from '../../test/support/package/package';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { median, round } from './stats';

/** Targets on this machine for the first invocation (load + credential step + connect + work), ms. */
export const FIRST_INVOKE_TARGETS: Record<string, number> = {
  default: 60,
  message: 60,
  connect: 45,
  disconnect: 45,
};

export interface FunctionColdStart {
  /** The function's name in serverless.yml. */
  function: string;
  /** What its first invocation was (the event). */
  invocation: string;
  processes: number;
  /** Spawn of the first require to the first answer, ms (median): load + credentials + connect + work. */
  firstInvokeMs: number;
  /** Of it, require() of the handler's file, ms (median). */
  loadMs: number;
  /**
   * CPU time (user + system) of the process over firstInvokeMs, ms (median): what the first
   * invocation costs whatever else the machine runs, where the wall time also counts waiting.
   */
  firstInvokeCpuMs: number;
  /** CPU time of the load, ms (median). */
  loadCpuMs: number;
  /** A second invocation in the same process (warm), ms (median). */
  warmInvokeMs: number;
  /** Requests the first invocation made to the Secrets Manager stand-in, per process. */
  secretReads: number;
  /** The credential step (signing the RDS IAM token), ms (median, fresh processes): the same for every function. */
  credentialMs?: number;
  /** loadMs + credentialMs: what the target bounds. */
  loadAndCredentialMs?: number;
  /** Bounds loadAndCredentialMs: module load and the credential step, as the targets are set. */
  targetMs?: number;
}

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-bench-AbCdEf';
const API_ID = 'benchapi';
const STAGE = 'dev';
const DOMAIN = `${API_ID}.execute-api.us-east-1.amazonaws.com`;
/** The name on the loopback server's certificate, and so the DB_HOST the functions dial. */
const DB_HOST = 'localhost';

/**
 * The child. Before anything loads: a guard that refuses every connection but to the loopback,
 * and the test CA added to every TLS context (the loopback server's certificate stands for the
 * RDS one, which the shipped code checks against the RDS bundle it still loads). Then the
 * handler's file is required, its export invoked twice, and one `COLD {...}` line printed.
 */
const CHILD = `
const ms = (a, b) => Number(b - a) / 1e6;
let t0 = process.hrtime.bigint();
const net = require('node:net');
const tls = require('node:tls');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const options = typeof args[0] === 'object' && args[0] !== null ? (Array.isArray(args[0]) ? args[0][0] : args[0]) : { host: args[1] };
  const host = options && (options.host || options.hostname);
  if (options && options.path === undefined && host && !['localhost', '127.0.0.1', '::1'].includes(host)) {
    throw new Error('bench child: refused a connection to ' + host);
  }
  if (process.env.BENCH_TRACE) {
    const at = () => (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1);
    console.error(at(), 'connect', host || options.path);
    this.once('connect', () => console.error(at(), 'connected', host));
    this.once('close', () => console.error(at(), 'closed', host));
  }
  return connect.apply(this, args);
};
const secureContext = tls.createSecureContext;
tls.createSecureContext = (options = {}) => {
  if (options.ca) options = { ...options, ca: [].concat(options.ca, process.env.BENCH_EXTRA_CA) };
  return secureContext(options);
};
const [file, name] = [process.env.BENCH_FILE, process.env.BENCH_EXPORT];
const event = JSON.parse(process.env.BENCH_EVENT);
const again = JSON.parse(process.env.BENCH_EVENT_AGAIN || process.env.BENCH_EVENT);
const context = { getRemainingTimeInMillis: () => 29000, functionName: name };
(async () => {
  t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const handler = require(file)[name];
  const t1 = process.hrtime.bigint();
  const c1 = process.cpuUsage(c0);
  const a = await handler(event, context);
  const t2 = process.hrtime.bigint();
  const c2 = process.cpuUsage(c0);
  const b = await handler(again, context);
  const t3 = process.hrtime.bigint();
  console.log('COLD ' + JSON.stringify({ loadMs: ms(t0, t1), firstInvokeMs: ms(t0, t2), warmInvokeMs: ms(t2, t3),
    loadCpuMs: (c1.user + c1.system) / 1000, firstInvokeCpuMs: (c2.user + c2.system) / 1000, answers: [a, b] }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** CloudFormation values of the template's environment, as AWS would resolve them (for the stand-ins). */
function resolveValue(value: unknown, port: number): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::GetAtt'])) {
    const attribute = String(v['Fn::GetAtt'][1]);
    if (attribute === 'Endpoint.Address') return DB_HOST;
    if (attribute === 'Endpoint.Port') return String(port);
    if (attribute.endsWith('SecretArn')) return SECRET_ARN;
    if (attribute === 'Arn') return `arn:aws:bench:us-east-1:123456789012:${String(v['Fn::GetAtt'][0])}`;
  }
  if (v.Ref === 'WebsocketsApi') return API_ID;
  if (typeof v['Fn::Sub'] === 'string' && v['Fn::Sub'].includes('${WebsocketsApi}.execute-api')) {
    return `https://${DOMAIN}/${STAGE}`;
  }
  return `bench-${JSON.stringify(value)}`;
}

/** Each function's name, handler (`src/handler.connect`) and environment, from the packaged template. */
export function functionsOf(template: Template, port: number) {
  return (
    resourcesOfType(template, 'AWS::Lambda::Function')
      .filter(
        ([, fn]) => typeof fn.Properties?.Handler === 'string' && String(fn.Properties.Handler).startsWith('src/'),
      )
      // The schema step runs once per deploy, for CloudFormation, never on a client's path.
      .filter(([id]) => id !== 'SchemaLambdaFunction')
      .map(([id, fn]) => {
        const variables =
          ((fn.Properties?.Environment as { Variables?: Record<string, unknown> }) ?? {}).Variables ?? {};
        return {
          name: id.replace(/LambdaFunction$/, '').replace(/^./, (c) => c.toLowerCase()),
          handler: String(fn.Properties?.Handler),
          env: Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, resolveValue(value, port)])),
        };
      })
  );
}

const socketEvent = (eventType: string, routeKey: string, id: string, body?: string) => ({
  requestContext: {
    connectionId: id,
    connectedAt: Date.now(),
    routeKey,
    eventType,
    domainName: DOMAIN,
    stage: STAGE,
    requestId: `req-${id}`,
    apiId: API_ID,
  },
  ...(body === undefined ? {} : { body, isBase64Encoded: false }),
});

/** What each function's first invocation is: the event a new container most likely gets first. */
export function invocationOf(name: string, id: string): { what: string; event: unknown; again: unknown } {
  const join = JSON.stringify({ action: 'join', room: 'bench' });
  switch (name) {
    case 'connect':
      return {
        what: '$connect',
        event: socketEvent('CONNECT', '$connect', id),
        again: socketEvent('CONNECT', '$connect', `${id}-2`),
      };
    case 'disconnect':
      return {
        what: '$disconnect',
        event: socketEvent('DISCONNECT', '$disconnect', id),
        again: socketEvent('DISCONNECT', '$disconnect', `${id}-2`),
      };
    case 'default':
      return {
        what: '$default {}',
        event: socketEvent('MESSAGE', '$default', id, '{}'),
        again: socketEvent('MESSAGE', '$default', id, '{}'),
      };
    case 'message':
      return {
        what: 'join a room',
        event: socketEvent('MESSAGE', 'join', id, join),
        again: socketEvent('MESSAGE', 'join', `${id}-2`, join),
      };
    case 'publish':
      return { what: 'publish to a room', event: { room: 'bench', data: 'hi' }, again: { room: 'bench', data: 'hi' } };
    case 'deliver': {
      const shard = (deliveryId: string) => ({
        type: 'shard',
        deliveryId,
        shard: 1,
        shards: 2,
        message: '{}',
        range: { after: '', upTo: 'z' },
      });
      return { what: 'a shard of an unknown delivery', event: shard(`bench-${id}`), again: shard(`bench-${id}-2`) };
    }
    case 'sweep':
      return { what: 'scheduled sweep', event: {}, again: {} };
    case 'departures': {
      // One message of the departures queue, as its event source hands it over: the claim reads the store.
      const batch = (who: string) => ({
        Records: [
          {
            messageId: `bench-${who}`,
            body: JSON.stringify({
              departures: [{ room: 'bench', user: who, at: Date.now(), connectionId: who, subject: null }],
            }),
          },
        ],
      });
      return { what: 'a departure from the queue', event: batch(id), again: batch(`${id}-2`) };
    }
    default:
      return { what: 'empty event', event: {}, again: {} };
  }
}

interface ChildResult {
  loadMs: number;
  loadCpuMs: number;
  firstInvokeCpuMs: number;
  firstInvokeMs: number;
  warmInvokeMs: number;
  answers: unknown[];
}

/** One package layout to time: an unzipped package's folder, and where each function's file is in it. */
export interface Layout {
  name: string;
  /** The folder the child starts in and the function's file, by function name. */
  fileOf(fn: { name: string; handler: string }): { cwd: string; file: string };
}

/**
 * Times the first invocation of every function of `template` in each layout, `processes` fresh
 * processes each, interleaved (function by function, layout by layout) so that a noisy moment
 * hits all alike. Starts (and stops) its own TLS MariaDB and Secrets Manager stand-in.
 */
export async function benchFunctions(
  template: Template,
  layouts: Layout[],
  options: { processes: number; managementUrl: string; log: (message: string) => void },
): Promise<Map<string, FunctionColdStart[]>> {
  const mariadbd = findMariadbd();
  if (mariadbd === undefined) throw new Error('the cold-start bench needs mariadbd (apt-get install mariadb-server)');
  const scratch = scratchDir();
  const certificates = makeCertificates(scratch.dir, [DB_HOST]);
  const server = await startTlsMariadb(mariadbd, scratch.dir, certificates.server(DB_HOST), 120_000, {
    systemTables: true,
  });
  const secrets = await startSecretsStandIn({ [SECRET_ARN]: '{"username":"websockets","password":"bench"}' });
  try {
    const functions = functionsOf(template, server.port);
    for (const fn of functions)
      mkdirSync(join(scratch.dir, 'data', fn.env.DB_NAME ?? 'websockets'), { recursive: true });
    // What other containers did before this one: the client connected (and, for $disconnect, joined a room).
    const store = new MysqlConnectionStore(
      {
        kind: 'mysql',
        host: DB_HOST,
        port: server.port,
        database: functions[0]?.env.DB_NAME ?? 'websockets',
        user: 'websockets',
        password: 'bench',
        tls: true,
        tablePrefix: '',
        maxConnections: 1000,
        reclaimIdle: false,
      },
      { tlsCa: certificates.ca },
    );
    // As the deploy's schema step does before any function runs (they never migrate: DB_MIGRATE=deploy).
    await store.migrateSchema();
    await store.end();
    const seed = async (name: string, ids: string[]) => {
      if (name !== 'message' && name !== 'disconnect') return;
      for (const connectionId of ids) {
        await store.add({ connectionId, connectedAt: Date.now(), subject: null });
        if (name === 'disconnect') await store.join(connectionId, 'bench', 100);
      }
      await store.end();
    };
    const run = async (layout: Layout, fn: (typeof functions)[number], id: string) => {
      const { cwd, file } = layout.fileOf(fn);
      const { what, event, again } = invocationOf(fn.name, id);
      // The schema was made above; what other containers did before this one is seeded here.
      if (!id.startsWith('warmup-')) await seed(fn.name, [id, `${id}-2`]);
      const before = secrets.requests.length;
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROF] : []), '-e', CHILD],
        {
          cwd,
          env: {
            PATH: process.env.PATH,
            ...fn.env,
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: 'AKIDCOLDSTARTBENCH',
            AWS_SECRET_ACCESS_KEY: 'cold-start-bench',
            AWS_SESSION_TOKEN: 'cold-start-bench',
            AWS_EC2_METADATA_DISABLED: 'true',
            // Lambda runs Node 24, on which the SDK warns of nothing; here it would on Node 20.
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
            MANAGEMENT_ENDPOINT: options.managementUrl,
            // Events and departures go to the stand-in too, as in AWS (a queue, not a wait in the route).
            EVENTBRIDGE_ENDPOINT: new URL(options.managementUrl).origin,
            SQS_ENDPOINT: new URL(options.managementUrl).origin,
            BENCH_EXTRA_CA: certificates.ca,
            BENCH_FILE: file,
            BENCH_EXPORT: fn.handler.slice(fn.handler.lastIndexOf('.') + 1),
            BENCH_EVENT: JSON.stringify(event),
            BENCH_EVENT_AGAIN: JSON.stringify(again),
            ...(process.env.BENCH_TRACE ? { BENCH_TRACE: '1' } : {}),
          },
          encoding: 'utf8',
          timeout: 60_000,
          maxBuffer: 16 * 1024 * 1024,
        },
      ).catch((error: { stderr?: string; stdout?: string }) => {
        throw new Error(
          `cold-start child (${layout.name}, ${fn.name}) failed: ${error.stderr ?? ''}${error.stdout ?? ''}`,
        );
      });
      if (process.env.BENCH_TRACE) options.log(`${fn.name}:\n${stderr}`);
      const line = stdout.split('\n').find((text) => text.startsWith('COLD '));
      if (line === undefined)
        throw new Error(`cold-start child (${layout.name}, ${fn.name}) printed no result:\n${stdout}`);
      const result = JSON.parse(line.slice(5)) as ChildResult;
      checkAnswers(fn.name, result.answers, `${layout.name}, ${what}`, stdout);
      return { ...result, what, secretReads: secrets.requests.length - before };
    };
    // One process per function and layout first, not counted (its files read once, as a warm disk would have them).
    // Ids are short (a delivery id is at most 64 bytes) and never repeat across layouts.
    for (const [index, layout] of layouts.entries()) {
      for (const fn of functions) {
        if (fn.name !== 'message' && fn.name !== 'disconnect') await run(layout, fn, `warmup-${index}-${fn.name}`);
      }
    }
    const samples = new Map<string, Awaited<ReturnType<typeof run>>[]>();
    try {
      for (let i = 0; i < options.processes; i++) {
        options.log(`cold start: round ${i + 1} of ${options.processes}`);
        for (const fn of functions) {
          for (const [index, layout] of layouts.entries()) {
            const key = `${layout.name}\0${fn.name}`;
            samples.set(key, [...(samples.get(key) ?? []), await run(layout, fn, `cold-${i}-${index}-${fn.name}`)]);
          }
        }
      }
      return new Map(
        layouts.map((layout) => [
          layout.name,
          functions.map((fn): FunctionColdStart => {
            const runs = samples.get(`${layout.name}\0${fn.name}`) ?? [];
            const target = FIRST_INVOKE_TARGETS[fn.name];
            return {
              function: fn.name,
              invocation: runs[0]?.what ?? '',
              processes: runs.length,
              firstInvokeMs: round(median(runs.map((r) => r.firstInvokeMs))),
              loadMs: round(median(runs.map((r) => r.loadMs))),
              firstInvokeCpuMs: round(median(runs.map((r) => r.firstInvokeCpuMs))),
              loadCpuMs: round(median(runs.map((r) => r.loadCpuMs))),
              warmInvokeMs: round(median(runs.map((r) => r.warmInvokeMs))),
              secretReads: Math.max(0, ...runs.map((r) => r.secretReads)),
              ...(target === undefined ? {} : { targetMs: target }),
            };
          }),
        ]),
      );
    } finally {
      await store.close();
    }
  } finally {
    await secrets.close();
    await server.stop();
    scratch.remove();
  }
}

/** A failed first invocation would time an error path: each answer must be the function's success. */
function checkAnswers(name: string, answers: unknown[], what: string, output: string): void {
  for (const answer of answers) {
    const status = (answer as { statusCode?: unknown } | null)?.statusCode;
    const outcome = (answer as { outcome?: unknown } | null)?.outcome;
    const failed =
      (status !== undefined && status !== 200) ||
      (name === 'deliver' && typeof outcome !== 'string') ||
      answer === undefined ||
      answer === null;
    if (failed) throw new Error(`cold-start ${what}: ${name} answered ${JSON.stringify(answer)}\n${output}`);
  }
}
