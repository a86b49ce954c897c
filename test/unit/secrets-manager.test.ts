import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { getSecretString, resetSecretsManager, SecretError, secretsManagerEndpoint } from '../../src/secrets-manager';

const credentials = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret-key', sessionToken: 'session-token' };
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234-AbCdEf';

interface Seen {
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A stand-in for Secrets Manager that answers each request with the next planned answer. */
async function standIn(
  answers: { status: number; body: unknown }[],
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ url: req.url, headers: req.headers, body });
      const answer = answers.shift() ?? { status: 500, body: {} };
      res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(() => resetSecretsManager());

describe('getSecretString', () => {
  it('posts GetSecretValue signed for secretsmanager as the SDK signer signs it, and returns SecretString', async () => {
    const { server, url, seen } = await standIn([{ status: 200, body: { ARN, SecretString: '{"password":"p@ss"}' } }]);
    try {
      const value = await getSecretString(ARN, { region: 'eu-west-1', credentials, endpoint: url, timeoutMs: 2_000 });
      expect(value).toBe('{"password":"p@ss"}');
      const [request] = seen as [Seen];
      expect(request.url).toBe('/');
      expect(request.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
      expect(request.headers['content-type']).toBe('application/x-amz-json-1.1');
      expect(JSON.parse(request.body)).toEqual({ SecretId: ARN });
      const amzDate = String(request.headers['x-amz-date']);
      const signingDate = new Date(
        `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
      );
      const host = new URL(url).host;
      const resigned = await new SignatureV4({
        credentials,
        region: 'eu-west-1',
        service: 'secretsmanager',
        sha256: Sha256,
      }).sign(
        {
          method: 'POST',
          protocol: 'http:',
          hostname: '127.0.0.1',
          path: '/',
          query: {},
          headers: {
            host,
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'secretsmanager.GetSecretValue',
            'content-length': String(Buffer.byteLength(request.body)),
          },
          body: request.body,
        },
        { signingDate },
      );
      expect(request.headers.authorization).toBe(resigned.headers.authorization);
      expect(request.headers['x-amz-security-token']).toBe('session-token');
    } finally {
      server.close();
    }
  });

  it('turns an error answer into a SecretError with the service’s error type', async () => {
    const { server, url } = await standIn([
      { status: 400, body: { __type: 'AccessDeniedException', message: 'not allowed' } },
      {
        status: 400,
        body: { __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException', Message: 'no such secret' },
      },
    ]);
    try {
      const options = { region: 'eu-west-1', credentials, endpoint: url, timeoutMs: 2_000 };
      await expect(getSecretString(ARN, options)).rejects.toMatchObject({
        name: 'SecretError',
        code: 'AccessDeniedException',
        secretId: ARN,
        message: expect.stringContaining('not allowed'),
      });
      await expect(getSecretString(ARN, options)).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
    } finally {
      server.close();
    }
  });

  it('gives up with a SecretError when the endpoint accepts the connection and never answers', async () => {
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const error = await getSecretString(ARN, {
        region: 'eu-west-1',
        credentials,
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        timeoutMs: 300,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SecretError);
      expect((error as SecretError).cause).toMatchObject({ name: 'RequestTimeoutError' });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('refuses to sign without credentials instead of looking for them elsewhere', async () => {
    const saved = { ...process.env };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      await expect(
        getSecretString(ARN, { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', timeoutMs: 100 }),
      ).rejects.toMatchObject({ name: 'SecretError', message: expect.stringContaining('no AWS credentials') });
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it('knows the public endpoints of the aws and aws-cn partitions', () => {
    expect(secretsManagerEndpoint('eu-west-1')).toBe('https://secretsmanager.eu-west-1.amazonaws.com');
    expect(secretsManagerEndpoint('cn-north-1')).toBe('https://secretsmanager.cn-north-1.amazonaws.com.cn');
  });
});
