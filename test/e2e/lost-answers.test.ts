/**
 * The service under serverless-offline on MySQL behind a proxy that passes a write on and
 * then loses the database's answers for a while (test/support/stand-ins/tcp-harness.proxy.ts, `hold`): the
 * write happened, the function cannot know it. Each route reads the truth back (or, for a
 * refused `$connect`, deletes its row) before it answers, so the store, the answers and the
 * presence events agree afterwards.
 */
import { TestClient } from '../support/harnesses/client';
import { SKIP_MYSQL } from '../support/harnesses/mysql';
import { useProxiedService } from '../support/harnesses/proxied-service';

jest.setTimeout(180_000);

/** Longer than the store's 3 s statement timeout, shorter than what is left of `$connect`'s 10 s. */
const HOLD_MS = 4_000;

(SKIP_MYSQL ? describe.skip : describe)('database answers lost after a write, under serverless-offline', () => {
  const harness = useProxiedService('lost');
  const { prefix } = harness;

  async function connect(): Promise<{ client: TestClient; id: string }> {
    const client = await harness.connect(20_000);
    const { you } = await client.request({ action: 'list' }, 'connections');
    return { client, id: String(you) };
  }

  /** Holds the answers from the statement that matches on, for HOLD_MS. */
  function holdAfter(pattern: RegExp): void {
    harness.proxy.holdAnswersAfter(pattern);
    const started = Date.now();
    const timer = setInterval(() => {
      if (harness.proxy.mode === 'hold' && Date.now() - started >= HOLD_MS) {
        clearInterval(timer);
        harness.proxy.setMode('pass');
      }
    }, 50);
    setTimeout(() => clearInterval(timer), 60_000).unref();
  }

  it('a $connect whose insert happened but whose answer was lost is refused and leaves no row', async () => {
    const { client: a } = await connect();
    const before = (await harness.store.list(10)).count;
    holdAfter(new RegExp(`^INSERT INTO \`${prefix}connections\``));
    const refused = await harness.connect(20_000).then(
      () => 'open',
      (error: { statusCode?: number }) => error.statusCode,
    );
    expect(refused).toBe(500);
    expect(harness.proxy.mode).toBe('pass');
    expect((await harness.store.list(10)).count).toBe(before);
    expect(harness.service.output()).toContain('store write outcome settled');
    await a.close();
  });

  it('a join whose commit happened is answered joined and announced; a leave that happened is answered and announced as such', async () => {
    const { client: a, id: aId } = await connect();
    const { client: b } = await connect();
    await b.request({ action: 'join', room: 'red' }, 'joined');

    holdAfter(/^COMMIT/);
    const heardJoin = b.ofType('presence', 30_000);
    a.send({ action: 'join', room: 'red' });
    expect(await a.next(() => true, 30_000)).toEqual({ type: 'joined', room: 'red', seq: expect.any(Number) });
    expect(await heardJoin).toMatchObject({ type: 'presence', event: 'join', room: 'red', connectionId: aId });
    expect(await harness.store.roomsOf(aId)).toEqual(['red']);

    holdAfter(new RegExp(`^DELETE FROM \`${prefix}room_members\` WHERE room`));
    const heardLeave = b.ofType('presence', 30_000);
    a.send({ action: 'leave', room: 'red' });
    expect(await a.next(() => true, 30_000)).toEqual({ type: 'left', room: 'red', wasMember: true });
    expect(await heardLeave).toMatchObject({ type: 'presence', event: 'leave', room: 'red', connectionId: aId });
    expect(await harness.store.roomsOf(aId)).toEqual([]);
    expect((await harness.store.members('red', 10)).count).toBe(1);
  });
});
