import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { ManagementApi } from '../../src/aws/management-api';
import { canonicalPath, sign } from '../../src/aws/sigv4';
import type { SignInput } from '../../src/aws/sigv4';

const credentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==',
};

/** Connection ids as API Gateway makes them (base64 with `=`), and worse. */
const ids = ['L0SM9cOFvHcCIhw=', 'abc', 'a+b/c==', "x y!*()'", 'ünïcödé-id', '..', '%41'];

interface Captured {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What the SDK client sends for one PostToConnection, captured before it leaves the process. */
async function sdkRequest(
  endpoint: string,
  connectionId: string,
  data: Uint8Array,
  withToken = true,
): Promise<Captured> {
  let captured: Captured | undefined;
  const client = new ApiGatewayManagementApiClient({
    endpoint,
    region: 'eu-west-1',
    credentials: withToken
      ? credentials
      : { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    requestHandler: {
      handle: async (request: { method: string; path: string; headers: Record<string, string>; body: Uint8Array }) => {
        captured = { method: request.method, path: request.path, headers: { ...request.headers }, body: request.body };
        const { Readable } = await import('node:stream');
        return { response: { statusCode: 200, headers: {}, body: Readable.from([]) } };
      },
    },
  });
  await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
  client.destroy();
  return captured as Captured;
}

/** The signing date the SDK used, from its x-amz-date header. */
function dateOf(headers: Record<string, string>): Date {
  const d = headers['x-amz-date'] as string;
  return new Date(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
  );
}

const ADDED_BY_SIGNER = ['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token', 'authorization'];

/**
 * The SDK's request minus what the signer adds, and minus user-agent, which the SDK sends
 * but does not sign (its signer is told so); our client sends no user-agent.
 */
function unsigned(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !ADDED_BY_SIGNER.includes(name) && name !== 'user-agent'),
  );
}

function withoutUserAgent(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'user-agent'));
}

describe('sign', () => {
  it.each(ids)('signs the SDK’s own PostToConnection request for %j exactly as the SDK does', async (id) => {
    const data = new TextEncoder().encode(JSON.stringify({ type: 'message', data: id }));
    const sdk = await sdkRequest('https://abc123.execute-api.eu-west-1.amazonaws.com/prod', id, data);
    const rest = unsigned(sdk.headers);
    const ours = sign({
      method: sdk.method,
      host: sdk.headers.host as string,
      path: sdk.path,
      headers: rest,
      body: sdk.body,
      region: 'eu-west-1',
      service: 'execute-api',
      credentials,
      date: dateOf(sdk.headers),
    });
    expect(ours).toEqual(withoutUserAgent(sdk.headers));
  });

  it('signs without a session token as the SDK does (long-term keys: no x-amz-security-token)', async () => {
    const data = new TextEncoder().encode('{}');
    const sdk = await sdkRequest('http://localhost:3001', 'L0SM9cOFvHcCIhw=', data, false);
    const rest = unsigned(sdk.headers);
    const ours = sign({
      method: 'POST',
      host: sdk.headers.host as string,
      path: sdk.path,
      headers: rest,
      body: data,
      region: 'eu-west-1',
      service: 'execute-api',
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
      date: dateOf(sdk.headers),
    });
    expect(ours).toEqual(withoutUserAgent(sdk.headers));
    expect(ours).not.toHaveProperty('x-amz-security-token');
  });

  /** The SDK's signer on the same input: what every signature must equal. */
  async function smithy(input: SignInput): Promise<Record<string, string>> {
    const signed = await new SignatureV4({
      credentials: input.credentials,
      region: input.region,
      service: input.service,
      sha256: Sha256,
      uriEscapePath: true,
    }).sign(
      {
        method: input.method,
        protocol: 'https:',
        hostname: input.host,
        path: input.path,
        query: {},
        headers: { ...input.headers, host: input.host },
        body: input.body,
      },
      { signingDate: input.date },
    );
    return signed.headers;
  }

  /** What ManagementApi signs for one post to abc.execute-api.example, unless `more` says otherwise. */
  function postInput(path: string, body: Uint8Array, more: Partial<SignInput> = {}): SignInput {
    return {
      method: 'POST',
      host: 'abc.execute-api.example',
      path,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) },
      body,
      region: 'eu-west-1',
      service: 'execute-api',
      credentials,
      date: new Date('2026-11-28T20:15:00Z'),
      ...more,
    };
  }

  it('agrees with @smithy/signature-v4 on the headers our client sends, across days and regions', async () => {
    for (const [region, date] of [
      ['us-east-1', new Date('2026-11-28T23:59:59Z')],
      ['us-east-1', new Date('2026-11-29T00:00:00Z')],
      ['ap-southeast-2', new Date('2027-02-28T12:00:00Z')],
    ] as const) {
      for (const id of ids) {
        const body = new TextEncoder().encode(`{"to":${JSON.stringify(id)}}`);
        const api = new ManagementApi('https://abc.execute-api.example/dev', {
          region,
          credentials,
          maxSockets: 1,
        });
        const path = api.pathFor(id);
        api.destroy();
        const input = postInput(path, body, { region, date });
        expect(sign(input)).toEqual(await smithy(input));
      }
    }
  });

  it('signs a fan-out (one body and header object, many paths, one second) as the SDK signs each post', async () => {
    const body = new TextEncoder().encode('{"type":"message","data":"to all"}');
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) };
    const date = new Date('2026-11-28T20:15:00.250Z');
    const api = new ManagementApi('https://abc.execute-api.example/prod', {
      region: 'eu-west-1',
      credentials,
      maxSockets: 1,
    });
    const paths = [...ids, ...Array.from({ length: 20 }, (_, i) => `id-${i}-Q0Nl=`), 'a.b', '-_~.'].map((id) =>
      api.pathFor(id),
    );
    api.destroy();
    const signatures = new Set<string>();
    for (const [i, path] of paths.entries()) {
      // Milliseconds change within the second; the signing date does not.
      const input = postInput(path, body, { headers, date: new Date(date.getTime() + i * 10) });
      const ours = sign(input);
      expect(ours).toEqual(await smithy(input));
      signatures.add(ours.authorization as string);
    }
    expect(signatures.size).toBe(paths.length);
  });

  it('signs afresh when anything but the path changes between two posts of the same body', async () => {
    const body = new TextEncoder().encode('{"type":"message","data":"same bytes"}');
    const base = postInput('/prod/@connections/L0SM9cOFvHcCIhw%3D', body);
    const variants = [
      { ...base, date: new Date('2026-11-28T20:15:01Z') }, // the next second
      { ...base, date: new Date('2026-11-29T00:00:00Z') }, // the next day: another signing key
      { ...base, credentials: { ...credentials, sessionToken: 'IQoJrotated==' } }, // Lambda's credentials rotated
      { ...base, credentials: { ...credentials, secretAccessKey: 'another-secret' } },
      { ...base, credentials: { ...credentials, accessKeyId: 'ASIAOTHER' } },
      { ...base, credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } },
      { ...base, region: 'us-east-1' },
      { ...base, service: 'execute-api-other' },
      { ...base, method: 'PUT' },
      { ...base, host: 'xyz.execute-api.example' },
      { ...base, headers: { ...base.headers, 'content-type': 'application/json' } }, // same names, a new value
      { ...base, headers: { 'content-length': String(body.byteLength) } }, // a header less
      { ...base, body: new TextEncoder().encode('{"type":"message","data":"else"}') },
    ];
    const expected = await smithy(base);
    for (const variant of variants) {
      // Each right after the base, as two posts of one Lambda would follow each other.
      expect(sign(base)).toEqual(expected);
      const ours = sign(variant);
      expect(ours).toEqual(await smithy(variant));
      expect(ours.authorization).not.toBe(expected.authorization);
    }
    // Equal bytes in another array sign alike.
    expect(sign({ ...base, body: new TextEncoder().encode('{"type":"message","data":"same bytes"}') })).toEqual(
      expected,
    );
  });

  it('canonicalizes paths with and without the fast path as the SDK does', async () => {
    const body = new TextEncoder().encode('{}');
    for (const path of ['/', '/a/', '//a//b', '/a/./b', '/a/../b', '/.hidden/x', '/a/b.', '/@x/%2541/y~z_-.', '/a b']) {
      const input = postInput(path, body, { host: 'h.example', headers: { 'content-length': '2' } });
      expect(sign(input)).toEqual(await smithy(input));
    }
  });

  it('encodes the canonical path twice, keeping slashes, as for every service but S3', () => {
    expect(canonicalPath('/dev/@connections/L0SM9cOFvHcCIhw%3D')).toBe('/dev/%40connections/L0SM9cOFvHcCIhw%253D');
    expect(canonicalPath('/a/./b/../c/')).toBe('/a/c/');
  });
});

describe('ManagementApi', () => {
  let server: Server;
  let seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: Buffer }[];
  let status = 200;

  beforeEach(async () => {
    seen = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res.statusCode = status;
        res.end(status === 200 ? '' : '{"message":"Gone"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });

  afterEach(async () => {
    await new Promise((r) => server.close(r));
  });

  const endpoint = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev`;

  it('posts the bytes to the path the SDK uses, with a signature the SDK’s signer reproduces', async () => {
    const api = new ManagementApi(endpoint(), { region: 'us-east-1', credentials, maxSockets: 2 });
    const data = new TextEncoder().encode('{"type":"message","data":"hi"}');
    expect(await api.post('L0SM9cOFvHcCIhw=', data, 2_000)).toBe(200);
    api.destroy();
    const sdk = await sdkRequest(endpoint(), 'L0SM9cOFvHcCIhw=', data);
    const [request] = seen;
    expect(request?.url).toBe(sdk.path);
    expect(request?.method).toBe('POST');
    expect(request?.body.toString()).toBe('{"type":"message","data":"hi"}');
    const headers = request?.headers as IncomingHttpHeaders;
    const signed =
      String(headers.authorization)
        .match(/SignedHeaders=([^,]+)/)?.[1]
        ?.split(';') ?? [];
    const resigned = await new SignatureV4({
      credentials,
      region: 'us-east-1',
      service: 'execute-api',
      sha256: Sha256,
    }).sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: request?.url as string,
        query: {},
        headers: Object.fromEntries(
          signed
            .filter((n) => n !== 'x-amz-date' && n !== 'x-amz-content-sha256' && n !== 'x-amz-security-token')
            .map((n) => [n, String(headers[n])]),
        ),
        body: request?.body,
      },
      { signingDate: dateOf(headers as Record<string, string>) },
    );
    expect(headers.authorization).toBe(resigned.headers.authorization);
  });

  it('resolves with the status of an error answer instead of throwing', async () => {
    status = 410;
    const api = new ManagementApi(endpoint(), { region: 'us-east-1', credentials, maxSockets: 1 });
    expect(await api.post('gone', new Uint8Array([1]), 2_000)).toBe(410);
    api.destroy();
    status = 200;
  });
});
