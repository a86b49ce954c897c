/**
 * What the MySQL store does after "Access denied" (src/store/mysql-password.ts), with a secret
 * and a server in memory: which passwords it tries and in what order, that it pauses between
 * rounds and stops before the deadline with a DatabasePasswordError, and that anything but a
 * 1045 ends it at once. The same against MariaDB and the Secrets Manager stand-in:
 * test/integration/mysql-rotation.test.ts.
 */
import type { RotatedSecret } from '../../src/aws/secrets';
import { DatabasePasswordError, SecretError } from '../../src/errors';
import { RotatingPassword } from '../../src/store/mysql-password';

const PACING = { baseMs: 10, capMs: 40, minAttemptMs: 20 };
const denied = () =>
  Object.assign(new Error('Access denied for user'), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });

/** A secret whose stages a test sets, counting the reads of each. */
function secret(current: string, pending?: string) {
  const state = { current, pending, reads: [] as string[] };
  const rotated: RotatedSecret = {
    value: async () => state.current,
    refresh: async () => (state.reads.push('AWSCURRENT'), state.current),
    pending: async () => (state.reads.push('AWSPENDING'), state.pending),
  };
  return { state, rotated };
}

/** A server that accepts one password, recording every connect. */
function server(accepts: string) {
  const tried: string[] = [];
  return {
    tried,
    connect: async (password: string) => {
      tried.push(password);
      if (password !== accepts) throw denied();
    },
  };
}

describe('the password after "Access denied"', () => {
  it('tries AWSCURRENT read again, then AWSPENDING, and keeps the one that connects', async () => {
    const { state, rotated } = secret('old', 'new');
    const password = new RotatingPassword(rotated);
    expect(await password.current(Date.now() + 1_000)).toBe('old');
    const db = server('new');
    await password.recover('add', denied(), db.connect, Date.now() + 1_000, PACING);
    expect(db.tried).toEqual(['new']); // the old one, just refused, is not tried again
    expect(state.reads).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(await password.current(Date.now() + 1_000)).toBe('new');
  });

  it('reads again after a pause until AWSCURRENT changes, when there is no AWSPENDING', async () => {
    const { state, rotated } = secret('old');
    const password = new RotatingPassword(rotated);
    await password.current(Date.now() + 1_000);
    const db = server('new');
    setTimeout(() => (state.current = 'new'), 60);
    const started = Date.now();
    await password.recover('add', denied(), db.connect, Date.now() + 2_000, PACING);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(db.tried).toEqual(['new']);
    expect(state.reads.filter((stage) => stage === 'AWSCURRENT').length).toBeGreaterThan(1);
  });

  it('fails with a DatabasePasswordError before the deadline when nothing connects, naming no password', async () => {
    const { rotated } = secret('old', 'wrong-too');
    const password = new RotatingPassword(rotated);
    await password.current(Date.now() + 1_000);
    const db = server('new');
    const deadline = Date.now() + 300;
    const error = await password.recover('join', denied(), db.connect, deadline, PACING).catch((e: unknown) => e);
    expect(Date.now()).toBeLessThanOrEqual(deadline);
    expect(error).toBeInstanceOf(DatabasePasswordError);
    expect(error).toMatchObject({ operation: 'join', cause: { code: 'ER_ACCESS_DENIED_ERROR' } });
    expect((error as Error).message).toMatch(/refused the 2 password\(s\)/);
    expect((error as Error).message).not.toMatch(/old|wrong-too/);
    expect(db.tried).toEqual(['wrong-too']); // each refused one once
  });

  it('ends at once on a connect failing otherwise, and on a secret that cannot be read', async () => {
    const { rotated } = secret('old', 'new');
    const password = new RotatingPassword(rotated);
    await password.current(Date.now() + 1_000);
    const timeout = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    await expect(
      password.recover('add', denied(), () => Promise.reject(timeout), Date.now() + 1_000, PACING),
    ).rejects.toBe(timeout);
    const unreadable = new SecretError('reading secret s failed: AccessDeniedException', 's');
    const failing = new RotatingPassword({ ...rotated, refresh: () => Promise.reject(unreadable) });
    await expect(failing.recover('add', denied(), server('x').connect, Date.now() + 1_000, PACING)).rejects.toBe(
      unreadable,
    );
  });
});
