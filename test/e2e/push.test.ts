/**
 * Backends and direct messages against the real service (`npm start`'s launcher under
 * serverless-offline, embedded store) with authorization on: direct messages, server-side
 * publish through `npm run publish` and `POST /publish`, presence, members and ping.
 *
 * "Nobody else" is proven with a marker: deliveries to one connection arrive in order, and
 * each fan-out is complete before its summary is returned, so once a client has the marker
 * sent after a delivery, anything that delivery sent it has arrived too.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { mintToken } from '../../src/auth/token';
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { root } from '../support/harnesses/service';

jest.setTimeout(120_000);

const SECRET = 'e2e-push-secret-that-is-long-enough-for-hs256';
/** Small, so that a room above it is cheap to build. */
const PRESENCE_MAX_MEMBERS = 3;

let service: OfflineService;
const open: TestClient[] = [];

interface Client {
  socket: TestClient;
  id: string;
  user: string;
}

async function connect(user: string): Promise<Client> {
  const token = await mintToken(new TextEncoder().encode(SECRET), { subject: user, ttlSec: 600 });
  const socket = await TestClient.connect(`${service.url}?token=${encodeURIComponent(token)}`);
  open.push(socket);
  const list = await socket.request({ action: 'list' }, 'connections');
  return { socket, id: list.you as string, user };
}

/** Polls until `check` passes or the time is up. */
async function eventually(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${service.output().slice(-3_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const publishUrl = () => `http://localhost:${service.httpPort}/publish`;

async function postPublish(body: unknown): Promise<{ status: number; body: Received }> {
  const response = await fetch(publishUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: (await response.json()) as Received };
}

/** `npm run publish -- …` as a child process against this service's HTTP port. */
function runPublishScript(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'publish.ts'), ...args],
      { cwd: root, env: { ...process.env, HTTP_PORT: String(service.httpPort) }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let markers = 0;

/**
 * Sends a marker to everyone from the server and waits until every client has it: after
 * that, `messages` holds everything the earlier deliveries sent each client.
 */
async function settle(clients: Client[]): Promise<void> {
  const marker = `marker-${++markers}`;
  const { status } = await postPublish({ data: { marker } });
  expect(status).toBe(200);
  await Promise.all(clients.map((c) => c.socket.next((m) => (m.data as { marker?: string })?.marker === marker)));
}

/** Which clients hold an unclaimed message matching `match`. */
function holders(clients: Client[], match: (m: Received) => boolean): string[] {
  return clients.filter((c) => c.socket.messages.some(match)).map((c) => c.id);
}

const tagged = (tag: string) => (m: Received) => m.type === 'message' && (m.data as { tag?: string })?.tag === tag;

beforeAll(async () => {
  service = await startOffline({
    env: { AUTH_JWT_SECRET: SECRET, PRESENCE_MAX_MEMBERS: String(PRESENCE_MAX_MEMBERS) },
  });
  // offline starts its HTTP server (POST /publish) beside the WebSocket one; wait for both.
  await eventually(
    () => service.output().includes(`Server ready: http://localhost:${service.httpPort}`),
    'the HTTP server',
  );
});

afterAll(async () => {
  await Promise.allSettled(open.map((client) => client.close()));
  await service?.stop();
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((client) => client.close()));
});

describe('direct messages', () => {
  it("bob's send to alice reaches both of alice's connections and nobody else", async () => {
    const alice1 = await connect('alice');
    const alice2 = await connect('alice');
    const bob = await connect('bob');
    const carol = await connect('carol');
    const everyone = [alice1, alice2, bob, carol];

    const delivery = await bob.socket.request(
      { action: 'send', user: 'alice', data: { tag: 'for-alice', text: 'hi alice' } },
      'delivery',
    );
    expect(delivery).toEqual({
      type: 'delivery',
      id: expect.any(String),
      user: 'alice',
      recipients: 2,
      sent: 2,
      stale: 0,
      failed: 0,
      unsent: 0,
    });
    await settle(everyone);
    expect(holders(everyone, tagged('for-alice')).sort()).toEqual([alice1.id, alice2.id].sort());
    expect(alice2.socket.messages.find(tagged('for-alice'))).toMatchObject({
      type: 'message',
      user: 'alice',
      from: 'bob',
      connectionId: bob.id,
      origin: 'client',
      data: { text: 'hi alice' },
    });
  });

  it('a send to a connection reaches that connection only', async () => {
    const alice1 = await connect('alice');
    const alice2 = await connect('alice');
    const bob = await connect('bob');
    const everyone = [alice1, alice2, bob];
    // With auth on, a connection id reaches only the sender's own user or a room-mate.
    await alice2.socket.request({ action: 'join', room: 'tabs' }, 'joined');
    await bob.socket.request({ action: 'join', room: 'tabs' }, 'joined');
    await alice2.socket.ofType('presence');

    const delivery = await bob.socket.request(
      { action: 'send', connectionId: alice2.id, data: { tag: 'one-tab' } },
      'delivery',
    );
    expect(delivery).toMatchObject({ to: alice2.id, recipients: 1, sent: 1 });
    await settle(everyone);
    expect(holders(everyone, tagged('one-tab'))).toEqual([alice2.id]);
    expect(alice2.socket.messages.find(tagged('one-tab'))).toMatchObject({ to: alice2.id, from: 'bob' });
  });
});

describe('server-side publish', () => {
  /** Alice (two tabs) and bob in the lobby, carol outside it. */
  async function audience() {
    const alice1 = await connect('alice');
    const alice2 = await connect('alice');
    const bob = await connect('bob');
    const carol = await connect('carol');
    for (const member of [alice1, bob]) await member.socket.request({ action: 'join', room: 'lobby' }, 'joined');
    // presence events of those joins are not what this test is about
    await settle([alice1, alice2, bob, carol]);
    for (const c of [alice1, alice2, bob, carol]) c.socket.messages.splice(0);
    return { alice1, alice2, bob, carol, everyone: [alice1, alice2, bob, carol] };
  }

  type Transport = (target: Record<string, string>, data: unknown) => Promise<Received>;

  const viaScript: Transport = async (target, data) => {
    const flags = Object.entries(target).flatMap(([key, value]) => [
      `--${key === 'connectionId' ? 'connection' : key}`,
      value,
    ]);
    const result = await runPublishScript([...flags, '--data', JSON.stringify(data)]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as Received;
  };

  const viaHttp: Transport = async (target, data) => {
    const answer = await postPublish({ ...target, data });
    expect(answer.status).toBe(200);
    return answer.body;
  };

  describe.each([
    ['npm run publish', viaScript],
    ['POST /publish', viaHttp],
  ])('through %s', (_name, publish) => {
    it('reaches exactly a room, a user, a connection and everyone, from the server', async () => {
      const { alice1, alice2, bob, carol, everyone } = await audience();
      const cases: [string, Record<string, string>, Client[]][] = [
        ['room', { room: 'lobby' }, [alice1, bob]],
        ['user', { user: 'alice' }, [alice1, alice2]],
        ['connection', { connectionId: carol.id }, [carol]],
        ['everyone', {}, everyone],
      ];
      for (const [what, target, expected] of cases) {
        const tag = `${_name}-${what}`;
        const summary = await publish(target, { tag });
        expect({ what, summary }).toEqual({
          what,
          summary: {
            type: 'delivery',
            id: expect.any(String),
            ...(target.room ? { room: target.room, seq: expect.any(Number) } : {}),
            ...(target.user ? { user: target.user } : {}),
            ...(target.connectionId ? { to: target.connectionId } : {}),
            recipients: expected.length,
            sent: expected.length,
            stale: 0,
            failed: 0,
            unsent: 0,
          },
        });
        await settle(everyone);
        expect({ what, heardBy: holders(everyone, tagged(tag)).sort() }).toEqual({
          what,
          heardBy: expected.map((c) => c.id).sort(),
        });
        const heard = expected[0]!.socket.messages.find(tagged(tag));
        expect(heard).toMatchObject({ type: 'message', from: null, origin: 'server', data: { tag } });
        expect(heard).not.toHaveProperty('connectionId');
      }
    });
  });

  it('refuses a bad request with the error code and sends nothing', async () => {
    const { everyone } = await audience();
    const twoTargets = await postPublish({ room: 'lobby', user: 'alice', data: { tag: 'bad' } });
    expect(twoTargets).toMatchObject({ status: 400, body: { type: 'error', code: 'invalid_message' } });
    const script = await runPublishScript(['--rooms', 'lobby', '--data', '1']);
    expect(script.code).toBe(2);
    expect(script.stderr).toMatch(/usage: npm run publish/);
    const badData = await runPublishScript(['--room', 'lobby', '--data', 'not json']);
    expect(badData.code).toBe(2);
    await settle(everyone);
    expect(holders(everyone, tagged('bad'))).toEqual([]);
  });
});

describe('presence', () => {
  const presence = (m: Received) => m.type === 'presence';

  it('the other members hear a join, a leave and a disconnect; members lists who is in', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    const carol = await connect('carol');
    const dave = await connect('dave'); // never in the room: hears nothing of it

    await alice.socket.request({ action: 'join', room: 'small' }, 'joined');
    await bob.socket.request({ action: 'join', room: 'small' }, 'joined');
    expect(await alice.socket.ofType('presence')).toEqual({
      type: 'presence',
      id: expect.any(String),
      seq: expect.any(Number),
      room: 'small',
      event: 'join',
      connectionId: bob.id,
      from: 'bob',
      user: 'bob',
      connections: 1,
      first: true,
    });
    await carol.socket.request({ action: 'join', room: 'small' }, 'joined');
    for (const member of [alice, bob]) {
      expect(await member.socket.ofType('presence')).toMatchObject({ event: 'join', connectionId: carol.id });
    }

    // Only a member sees who is in: dave, outside, is refused.
    expect(await dave.socket.request({ action: 'members', room: 'small' }, 'error')).toMatchObject({
      code: 'forbidden',
      details: { room: 'small', missing: 'membership' },
    });
    const members = await alice.socket.request({ action: 'members', room: 'small' }, 'members');
    expect(members).toMatchObject({ type: 'members', room: 'small', count: 3, truncated: false });
    expect((members.members as { from: string }[]).map((m) => m.from).sort()).toEqual(['alice', 'bob', 'carol']);

    await bob.socket.request({ action: 'leave', room: 'small' }, 'left');
    for (const member of [alice, carol]) {
      expect(await member.socket.ofType('presence')).toEqual({
        type: 'presence',
        id: expect.any(String),
        seq: expect.any(Number),
        room: 'small',
        event: 'leave',
        connectionId: bob.id,
        from: 'bob',
        reason: 'leave',
        user: 'bob',
        connections: 0,
        last: true,
      });
    }

    await carol.socket.close();
    expect(await alice.socket.ofType('presence', 20_000)).toEqual({
      type: 'presence',
      id: expect.any(String),
      seq: expect.any(Number),
      room: 'small',
      event: 'leave',
      connectionId: carol.id,
      from: 'carol',
      reason: 'disconnect',
      user: 'carol',
      connections: 0,
      last: true,
    });

    const everyone = [alice, bob, dave];
    await settle(everyone);
    // nobody heard about themselves, bob nothing after he left, dave nothing at all
    expect(holders(everyone, presence)).toEqual([]);
  });

  it(`sends no presence events in a room above PRESENCE_MAX_MEMBERS (${PRESENCE_MAX_MEMBERS})`, async () => {
    const clients = [await connect('u1'), await connect('u2'), await connect('u3'), await connect('u4')];
    const [u1, u2, u3, u4] = clients as [Client, Client, Client, Client];
    for (const c of [u1, u2, u3]) await c.socket.request({ action: 'join', room: 'big' }, 'joined');
    await settle(clients);
    for (const c of clients) c.socket.messages.splice(0); // the joins into a room of up to 3

    await u4.socket.request({ action: 'join', room: 'big' }, 'joined'); // a room of 4
    await u1.socket.request({ action: 'leave', room: 'big' }, 'left'); // leaving a room of 4
    await settle(clients);
    expect(holders(clients, presence)).toEqual([]);

    await u2.socket.request({ action: 'leave', room: 'big' }, 'left'); // leaving a room of 3
    await settle(clients);
    expect(holders(clients, presence).sort()).toEqual([u3.id, u4.id].sort());
  });
});

describe('ping', () => {
  it('answers pong with the server time', async () => {
    const alice = await connect('alice');
    const before = Date.now();
    const pong = await alice.socket.request({ action: 'ping' }, 'pong');
    expect(pong).toEqual({ type: 'pong', at: expect.any(Number) });
    expect(pong.at as number).toBeGreaterThanOrEqual(before - 1_000);
  });
});
