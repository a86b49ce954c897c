/**
 * The management API at its worst: it accepts the TCP connection and then says nothing
 * (or sends the status line and headers, then never the body). A real server on
 * 127.0.0.1 and the real client (src/aws/management-api.ts): every post must end by its own timeout, and a
 * fan-out must report by its deadline plus one post timeout. The liveness sweep's GetConnection
 * and the shards' asynchronous Invoke (the same request machinery) end by their timeouts too.
 */
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { clientFor, livenessProbeAt, post, resetClients } from '../../src/communication';
import { AsyncInvoker, InvokeError } from '../../src/aws/lambda-invoke';
import { OFFLINE_CREDENTIALS } from '../../src/aws/request';
import { readConfig } from '../../src/config';
import { encode } from '../../src/chat/outbox';
import { DeliveryError } from '../../src/errors';
import { fanOut } from '../../src/chat/fanout/delivery';

// Before the fix these waited forever; a test that hangs must fail, not stall the suite.
jest.setTimeout(20_000);

type Behaviour = 'silent' | 'headers only';

interface SilentServer {
  endpoint: string;
  /** Requests that reached the server (one per attempt: every attempt opens or reuses a socket). */
  requests(): number;
  close(): Promise<void>;
}

async function silentServer(behaviour: Behaviour): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      if (!chunk.toString('latin1').startsWith('POST ')) return;
      requests++;
      // A body is announced and never sent: the answer stalls after its headers.
      if (behaviour === 'headers only') {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    requests: () => requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const data = encode({ type: 'message', data: 'hello' });
const TIMEOUT_MS = 500;
let server: SilentServer | undefined;

afterEach(async () => {
  resetClients();
  await server?.close();
  server = undefined;
});

async function timed<T>(work: () => Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; ms: number }> {
  const started = Date.now();
  const [outcome] = await Promise.allSettled([work()]);
  return { outcome: outcome as PromiseSettledResult<T>, ms: Date.now() - started };
}

describe.each<Behaviour>(['silent', 'headers only'])('a management API that is %s', (behaviour) => {
  it('makes post() fail with a DeliveryError once its timeout has passed', async () => {
    server = await silentServer(behaviour);
    const client = clientFor(server.endpoint, { region: 'us-east-1', offline: true });

    const { outcome, ms } = await timed(() =>
      post(client, 'c1', data, { retries: 0, retryBaseMs: 1, timeoutMs: TIMEOUT_MS }),
    );

    expect(outcome.status).toBe('rejected');
    const error = (outcome as PromiseRejectedResult).reason as DeliveryError;
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ connectionId: 'c1', statusCode: undefined, retryable: true });
    expect(error.cause).toMatchObject({ name: 'PostTimeoutError' });
    expect(server.requests()).toBe(1);
    // Generous bounds: it waited for its timeout, and not much longer.
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + 3_000);
  });

  it("makes the liveness sweep's GetConnection answer 'unknown' (the row is kept) once its timeout has passed", async () => {
    server = await silentServer(behaviour);
    const probe = livenessProbeAt(
      server.endpoint,
      readConfig({ IS_OFFLINE: 'true', POST_TIMEOUT_MS: String(TIMEOUT_MS) }),
    );

    const { outcome, ms } = await timed(() => probe('c1', Date.now() + 10_000));

    expect(outcome).toEqual({ status: 'fulfilled', value: 'unknown' });
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + 3_000);
  });

  it("makes a shard's asynchronous Invoke fail with an InvokeError once its timeout has passed", async () => {
    server = await silentServer(behaviour);
    const invoker = new AsyncInvoker(server.endpoint, {
      region: 'us-east-1',
      credentials: OFFLINE_CREDENTIALS,
      timeoutMs: TIMEOUT_MS,
    });

    const { outcome, ms } = await timed(() => invoker.invoke('aws-node-websockets-dev-deliver', { shard: 0 }));
    invoker.destroy();

    expect(outcome.status).toBe('rejected');
    const error = (outcome as PromiseRejectedResult).reason as InvokeError;
    expect(error).toBeInstanceOf(InvokeError);
    expect(error.cause).toMatchObject({ name: 'RequestTimeoutError' });
    expect(server.requests()).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + 3_000);
  });

  it('lets a fan-out to 20 recipients report by its deadline plus one post timeout', async () => {
    server = await silentServer(behaviour);
    const client = clientFor(server.endpoint, { region: 'us-east-1', offline: true });
    const budgetMs = 1_200;
    const deadline = Date.now() + budgetMs;

    const { outcome, ms } = await timed(() =>
      fanOut(
        Array.from({ length: 20 }, (_, i) => `c${i}`),
        (id) => post(client, id, data, { retries: 2, retryBaseMs: 10, deadline, timeoutMs: TIMEOUT_MS }),
        { concurrency: 5, deadline },
      ),
    );

    expect(outcome.status).toBe('fulfilled');
    const result = (outcome as PromiseFulfilledResult<Awaited<ReturnType<typeof fanOut>>>).value;
    expect(result).toMatchObject({ recipients: 20, sent: 0, stale: [] });
    expect(result.failed + result.unsent).toBe(20);
    expect(result.failed).toBeGreaterThanOrEqual(5);
    expect(ms).toBeLessThan(budgetMs + TIMEOUT_MS + 3_000);
  });
});

describe('the client from clientFor', () => {
  // Not only post(): the client's own request ends at the timeout it is given, whatever
  // stage the exchange is in (one timer, src/aws/request.ts).
  it.each<Behaviour>(['silent', 'headers only'])(
    'gives up by itself at its request timeout when the endpoint is %s',
    async (behaviour) => {
      server = await silentServer(behaviour);
      const client = clientFor(server.endpoint, { region: 'us-east-1', offline: true });

      const { outcome, ms } = await timed(() => client.post('c1', data, TIMEOUT_MS));

      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ name: 'RequestTimeoutError' });
      expect(ms).toBeLessThan(TIMEOUT_MS + 3_000);
    },
  );
});
