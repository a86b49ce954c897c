/**
 * CPU per PostToConnection: the ways to make the management API's one request, each
 * driven through our own fanOut against the stand-in at 0 ms latency, so that the
 * sender's CPU, not the network, is what is measured. Candidates are interleaved
 * repetition by repetition after a discarded warm-up round, and compared with the floor:
 * the same POST unsigned, made with node:http alone.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { Sha256 } from '@smithy/core/checksum';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { clientFor, post, resetClients } from '../../src/communication';
import { fanOut } from '../../src/chat/fanout/delivery';
import { ManagementApi } from '../../src/aws/management-api';
import { signedHeaderList } from '../../src/aws/sigv4';
import type { SignInput } from '../../src/aws/sigv4';
import aws4 from 'aws4';
import { signedHeaderList as templateHeaderList } from './signers/template';
import type { StandIn } from './stand-in';
import { median, round } from './stats';

export interface DeliveryRow {
  candidate: string;
  /** Median CPU (user + system) of the sender per post, µs. */
  cpuPerPostUs: number;
  /**
   * CPU per post over the floor's: the median of the ratios of each repetition (the
   * candidate's fan-out over the floor's, run one after the other), so that a machine that
   * slows down or speeds up between repetitions moves both sides of a ratio alike.
   */
  ratioToFloor: number;
  /** Median wall time of one fan-out of `posts`, ms. */
  wallMs: number;
  /** Sender CPU over wall time: near 1 means the sender, not the peer, set the pace. */
  cpuPerWall: number;
  posts: number;
  repetitions: number;
  /** Posts that did not get a 200 (must be 0: every candidate makes the same request). */
  errors: number;
}

export interface DeliveryResults {
  rows: DeliveryRow[];
  /** The candidate src/communication.ts uses. */
  chosen: string;
}

const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret', sessionToken: 'bench-token' };
const region = 'us-east-1';

interface Sender {
  post(connectionId: string, data: Uint8Array): Promise<void>;
  close(): void;
}

interface Candidate {
  name: string;
  open(url: string, concurrency: number): Promise<Sender>;
}

/**
 * The path src/communication.ts uses, measured through its own post() (retries, timeout,
 * status mapping included). Against the loopback stand-in it signs with the offline
 * credentials, which have no session token: LEAN is the same client with one, as in Lambda.
 */
export const CHOSEN = 'ours: post() of src/communication.ts (ManagementApi: SigV4 on node:crypto, node:https)';
const LEAN = 'ours: ManagementApi.post alone, session token signed too';
/** What src/communication.ts used before: the SDK client, configured as it was. */
export const SDK_CLIENT = 'SDK client (ApiGatewayManagementApiClient, NodeHttpHandler), used before';

function expectOk(status: number | undefined): void {
  if (status !== 200) throw new Error(`status ${status}`);
}

/** The SDK client as src/communication.ts configured it before it switched, less the named middleware. */
export function sdkManagementClient(
  url: string,
  concurrency: number,
  withoutMiddleware: readonly string[] = [],
): ApiGatewayManagementApiClient {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const client = new ApiGatewayManagementApiClient({
    endpoint: url,
    region,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, requestTimeout: 5_000, throwOnRequestTimeout: true }),
  });
  for (const middleware of withoutMiddleware) client.middlewareStack.remove(middleware);
  return client;
}

function sdkClient(name: string, withoutMiddleware: readonly string[]): Candidate {
  return {
    name,
    async open(url, concurrency) {
      const client = sdkManagementClient(url, concurrency, withoutMiddleware);
      return {
        post: async (id, data) => {
          await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
        },
        close: () => client.destroy(),
      };
    },
  };
}

/**
 * A signer alone, over the same node:http POST as the floor: what each way of computing the
 * signature adds per post. The signers are given the inputs the management API client gives.
 */
function signerCandidate(name: string, headersFor: (input: SignInput) => string[] | Record<string, string>): Candidate {
  return {
    name,
    async open(url, concurrency) {
      const target = new URL(url);
      const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
      const headers = { 'content-type': 'application/octet-stream' };
      return {
        post: (id, data) =>
          new Promise<void>((resolve, reject) => {
            const path = `/@connections/${encodeURIComponent(id)}`;
            const signed = headersFor({
              method: 'POST',
              host: target.host,
              path,
              headers: { ...headers, 'content-length': String(data.byteLength) },
              body: data,
              region,
              service: 'execute-api',
              credentials,
              date: new Date(),
            });
            const request = httpRequest(
              { hostname: target.hostname, port: target.port, method: 'POST', path, agent, headers: signed },
              (response) => {
                response.resume();
                response.once('end', () => (response.statusCode === 200 ? resolve() : reject(new Error('status'))));
              },
            );
            request.once('error', reject);
            request.end(data);
          }),
        close: () => agent.destroy(),
      };
    },
  };
}

/** The signer src/aws/sigv4.ts has: plain node:crypto, only the day's derived key kept. */
export const PLAIN_SIGNER = 'signer: plain SigV4 on node:crypto, day key and body hash kept (src/aws/sigv4.ts)';
/** The signer it replaced: per-second templates and HMAC from precomputed pads. */
export const TEMPLATE_SIGNER = 'signer: per-second template + one-shot hashes (before; scripts/bench/signers)';
export const AWS4_SIGNER = 'signer: aws4 package';

const allCandidates: Candidate[] = [
  {
    name: 'floor: unsigned POST, node:http',
    async open(url, concurrency) {
      const target = new URL(url);
      const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
      return {
        post: (id, data) =>
          new Promise<void>((resolve, reject) => {
            const request = httpRequest(
              {
                hostname: target.hostname,
                port: target.port,
                method: 'POST',
                path: `/@connections/${encodeURIComponent(id)}`,
                agent,
                headers: { 'content-type': 'application/octet-stream', 'content-length': data.byteLength },
              },
              (response) => {
                response.resume();
                response.once('end', () => {
                  try {
                    expectOk(response.statusCode);
                    resolve();
                  } catch (error) {
                    reject(error);
                  }
                });
              },
            );
            request.once('error', reject);
            request.end(data);
          }),
        close: () => agent.destroy(),
      };
    },
  },
  {
    name: CHOSEN,
    async open(url, concurrency) {
      resetClients();
      const client = clientFor(url, { region, offline: true, maxSockets: concurrency });
      return {
        post: (id, data) => post(client, id, data, { retries: 0, retryBaseMs: 50, timeoutMs: 5_000 }),
        close: () => resetClients(),
      };
    },
  },
  {
    name: LEAN,
    async open(url, concurrency) {
      const api = new ManagementApi(url, { region, credentials, maxSockets: concurrency });
      return {
        post: async (id, data) => expectOk(await api.post(id, data, 5_000)),
        close: () => api.destroy(),
      };
    },
  },
  signerCandidate(PLAIN_SIGNER, signedHeaderList),
  signerCandidate(TEMPLATE_SIGNER, templateHeaderList),
  signerCandidate(AWS4_SIGNER, (input) => {
    const options = {
      host: input.host,
      path: input.path,
      method: input.method,
      service: input.service,
      region: input.region,
      headers: { ...input.headers },
      body: Buffer.from(input.body),
    };
    aws4.sign(options, input.credentials);
    return options.headers as Record<string, string>;
  }),
  {
    name: 'SDK signer (@smithy/signature-v4) + node:http',
    async open(url, concurrency) {
      const target = new URL(url);
      const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
      const signer = new SignatureV4({ credentials, region, service: 'execute-api', sha256: Sha256 });
      return {
        post: async (id, data) => {
          const path = `/@connections/${encodeURIComponent(id)}`;
          const signed = await signer.sign({
            method: 'POST',
            protocol: 'http:',
            hostname: target.hostname,
            port: Number(target.port),
            path,
            query: {},
            headers: {
              host: target.host,
              'content-type': 'application/octet-stream',
              'content-length': String(data.byteLength),
            },
            body: data,
          });
          await new Promise<void>((resolve, reject) => {
            const request = httpRequest(
              { hostname: target.hostname, port: target.port, method: 'POST', path, agent, headers: signed.headers },
              (response) => {
                response.resume();
                response.once('end', () => (response.statusCode === 200 ? resolve() : reject(new Error('status'))));
              },
            );
            request.once('error', reject);
            request.end(data);
          });
        },
        close: () => agent.destroy(),
      };
    },
  },
  sdkClient(SDK_CLIENT, []),
  // What a PostToConnection can do without: user agent, recursion detection, logging. (The
  // retry middleware cannot go: the signing middleware is anchored to it. maxAttempts 1 makes
  // it a pass-through.)
  sdkClient('SDK client, trimmed middleware stack', [
    'getUserAgentMiddleware',
    'recursionDetectionMiddleware',
    'loggerMiddleware',
  ]),
  {
    name: '@aws-lite/client + @aws-lite/apigatewaymanagementapi',
    async open(url) {
      type Lite = (config: Record<string, unknown>) => Promise<{
        ApiGatewayManagementApi: { PostToConnection(params: Record<string, unknown>): Promise<unknown> };
      }>;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const awsLite = require('@aws-lite/client') as Lite;
      // An ES module without types; the bench runs under tsx, which keeps import() an import.
      const pluginName = '@aws-lite/apigatewaymanagementapi';
      const plugin = (await import(pluginName)) as { default: unknown };
      const target = new URL(url);
      const lite = await awsLite({
        region,
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        autoloadPlugins: false,
        plugins: [plugin.default],
        retries: 0,
        protocol: 'http',
        host: target.hostname,
        port: Number(target.port),
        keepAlive: true,
      });
      return {
        post: async (id, data) => {
          await lite.ApiGatewayManagementApi.PostToConnection({
            ApiUrl: `http://${target.host}/bench`,
            ConnectionId: id,
            Data: Buffer.from(data).toString(),
          });
        },
        close: () => undefined,
      };
    },
  },
];

export interface DeliveryBenchOptions {
  posts: number;
  concurrency: number;
  repetitions: number;
  /**
   * The floor, the chosen path and the SDK client it replaced only (the smoke run: jest
   * cannot load @aws-lite's ES module, and the references are what the full run is for).
   */
  coreOnly?: boolean;
}

const CORE = new Set(['floor: unsigned POST, node:http', CHOSEN, SDK_CLIENT]);

export async function benchDelivery(standIn: StandIn, options: DeliveryBenchOptions): Promise<DeliveryResults> {
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  const data = new TextEncoder().encode(
    JSON.stringify({ type: 'message', from: null, connectionId: 'bench-sender', sentAt: Date.now(), data: 'x' }),
  );
  const ids = Array.from({ length: options.posts }, (_, i) => `bench-${i}-Q0Nl=`);
  const candidates = allCandidates.filter((candidate) => !options.coreOnly || CORE.has(candidate.name));
  const samples = new Map<string, { cpuUs: number[]; wallMs: number[]; errors: number }>();
  for (let round = 0; round <= options.repetitions; round++) {
    // Round 0 warms up (JIT, sockets, lazy loading) on a fifth of the posts and is discarded.
    const batch = round === 0 ? ids.slice(0, Math.ceil(ids.length / 5)) : ids;
    for (const candidate of candidates) {
      const sender = await candidate.open(standIn.url, options.concurrency);
      const cpu = process.cpuUsage();
      const started = performance.now();
      const result = await fanOut(batch, (id) => sender.post(id, data), {
        concurrency: options.concurrency,
        deadline: Date.now() + 10 * 60_000,
      });
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      sender.close();
      if (round === 0) continue;
      const entry = samples.get(candidate.name) ?? { cpuUs: [], wallMs: [], errors: 0 };
      entry.cpuUs.push((used.user + used.system) / options.posts);
      entry.wallMs.push(wallMs);
      entry.errors += result.failed;
      samples.set(candidate.name, entry);
    }
  }
  const floor = samples.get(candidates[0]?.name as string)?.cpuUs ?? [];
  const rows = candidates.map((candidate): DeliveryRow => {
    const entry = samples.get(candidate.name) ?? { cpuUs: [], wallMs: [], errors: 0 };
    const cpuPerPostUs = median(entry.cpuUs);
    const wallMs = median(entry.wallMs);
    return {
      candidate: candidate.name,
      cpuPerPostUs: round(cpuPerPostUs),
      ratioToFloor: round(median(entry.cpuUs.map((cpuUs, i) => cpuUs / (floor[i] as number))), 2),
      wallMs: round(wallMs),
      cpuPerWall: round((cpuPerPostUs * options.posts) / 1000 / wallMs, 2),
      posts: options.posts,
      repetitions: options.repetitions,
      errors: entry.errors,
    };
  });
  return { rows, chosen: CHOSEN };
}
