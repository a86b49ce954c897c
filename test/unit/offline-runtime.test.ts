/**
 * The local runtime's pool and handshake guard (scripts/offline-runtime.js), over a stand-in
 * for serverless-offline's LambdaFunction: instances are bounded, a call beyond the bound
 * waits and is then throttled, a timed-out instance is never handed out again, and a
 * throttled handshake is refused with 429 and a logged reason.
 */
import { resolve } from 'node:path';

interface Lease {
  setEvent(event: unknown): void;
  runHandler(): Promise<unknown>;
}
interface Pool {
  start(): void;
  cleanup(): Promise<void>;
  get(key: string, definition: Record<string, unknown>): Lease;
  size(key: string): { busy: number; idle: number; waiting: number } | undefined;
}
interface Runtime {
  boundedPool(deps: {
    LambdaFunction: new (...args: unknown[]) => unknown;
    LambdaTimeoutError: new (message: string) => Error;
    env?: Record<string, string>;
  }): new (serverless: unknown, options: unknown) => Pool;
  guardHandshakes(clients: { prototype: { verifyClient: unknown } }): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtime = require(resolve('scripts/offline-runtime.js')) as Runtime;

class LambdaTimeoutError extends Error {}

/** Like offline's: after its timeout its worker is terminated and it would never answer again. */
class FakeFunction {
  static created: FakeFunction[] = [];
  event: { requestContext: { connectionId: string }; behave?: 'hang' | 'ok' } | undefined;
  dead = false;
  cleaned = false;
  constructor() {
    FakeFunction.created.push(this);
  }
  setEvent(event: FakeFunction['event']): void {
    this.event = event;
  }
  setClientContext(): void {}
  async runHandler(): Promise<unknown> {
    if (this.dead || this.event?.behave === 'hang') {
      await new Promise((resolve) => setTimeout(resolve, 80));
      this.dead = true;
      throw new LambdaTimeoutError('[504] - Lambda timeout.');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { statusCode: 200, id: this.event?.requestContext.connectionId };
  }
  async cleanup(): Promise<void> {
    this.cleaned = true;
  }
}

const serverless = { service: { provider: { timeout: 10 } } };
const definition = { name: 'connect', timeout: 0.05 };
const event = (id: string, behave?: 'hang' | 'ok') => ({ requestContext: { connectionId: id }, behave });

function pool(max: string): Pool {
  const Pool = runtime.boundedPool({
    LambdaFunction: FakeFunction as unknown as new (...args: unknown[]) => unknown,
    LambdaTimeoutError,
    env: { LOCAL_MAX_CONCURRENCY: max },
  });
  return new Pool(serverless, { terminateIdleLambdaTime: 60 });
}

function run(p: Pool, id: string, behave?: 'hang' | 'ok'): Promise<unknown> {
  const lease = p.get('connect', { ...definition, timeout: 1 });
  lease.setEvent(event(id, behave));
  return lease.runHandler();
}

let stderr: jest.SpyInstance;
beforeEach(() => {
  FakeFunction.created = [];
  stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => stderr.mockRestore());

describe('the bounded pool', () => {
  it('runs at most LOCAL_MAX_CONCURRENCY instances; the other calls wait and all are answered', async () => {
    const p = pool('3');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => run(p, `c${i}`)));
    expect(answers).toHaveLength(12);
    expect(FakeFunction.created).toHaveLength(3);
    expect(p.size('connect')).toEqual({ busy: 0, idle: 3, waiting: 0 });
  });

  it('throttles a call that found no free instance within the function timeout', async () => {
    const p = pool('1');
    const lease = p.get('connect', definition);
    lease.setEvent(event('slow', 'hang'));
    const slow = lease.runHandler();
    const waiting = p.get('connect', definition);
    waiting.setEvent(event('waits'));
    await expect(waiting.runHandler()).rejects.toMatchObject({ name: 'ThrottledError' });
    await expect(slow).rejects.toBeInstanceOf(LambdaTimeoutError);
  });

  it('discards an instance whose call timed out: the next call gets a new one and is answered', async () => {
    const p = pool('1');
    await expect(run(p, 'first', 'hang')).rejects.toBeInstanceOf(LambdaTimeoutError);
    const [dead] = FakeFunction.created;
    expect(dead?.cleaned).toBe(true);
    // Before, offline handed the dead instance out again and every call timed out.
    await expect(run(p, 'second')).resolves.toEqual({ statusCode: 200, id: 'second' });
    expect(FakeFunction.created).toHaveLength(2);
    expect(String(stderr.mock.calls.flat().join(''))).toMatch(
      /connect timed out after 1000 ms: that instance is discarded/,
    );
  });
});

describe('the handshake guard', () => {
  it('refuses a throttled handshake with 429 and logs every refusal with its reason', async () => {
    const p = pool('1');
    class Clients {
      async verifyClient(connectionId: string): Promise<{ statusCode: number; verified: boolean }> {
        const lease = p.get('connect', definition);
        lease.setEvent(event(connectionId, connectionId === 'slow' ? 'hang' : 'ok'));
        try {
          await lease.runHandler();
          return { statusCode: connectionId === 'bad' ? 401 : 200, verified: connectionId !== 'bad' };
        } catch {
          return { statusCode: 502, verified: false };
        }
      }
    }
    runtime.guardHandshakes(Clients);
    const clients = new Clients();
    const slow = clients.verifyClient('slow');
    const throttled = await clients.verifyClient('throttled');
    expect(throttled).toMatchObject({ statusCode: 429, verified: false });
    expect(await slow).toMatchObject({ statusCode: 502, verified: false });
    expect(await clients.verifyClient('bad')).toMatchObject({ statusCode: 401 });
    expect(await clients.verifyClient('good')).toMatchObject({ statusCode: 200, verified: true });
    const log = stderr.mock.calls.flat().join('');
    expect(log).toMatch(/refused handshake throttled: 429 throttled: connect: all 1 instances .* busy for 50 ms/);
    expect(log).toMatch(/refused handshake slow: 502 connect timed out after 50 ms/);
    expect(log).toMatch(/refused handshake bad: 401 the authorizer answered Unauthorized/);
    expect(log).not.toMatch(/refused handshake good/);
  });
});
