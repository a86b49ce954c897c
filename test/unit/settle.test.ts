/**
 * Store writes whose answer was lost (src/store/settle.ts): the route reads the truth back
 * before it answers, so a `join` or `leave` that happened is answered, and announced, as
 * what it was; a write that did not happen is done then. (A refused `$connect` leaves no
 * row: test/unit/handler.test.ts.)
 */
import { DatabasePasswordError, StoreError } from '../../src/errors';
import { message, useStore } from '../../src/handler';
import { lambdaContext, messageEvent } from '../support/harnesses/events';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { FUNCTION_ENV } from '../support/harnesses/handler';

Object.assign(process.env, FUNCTION_ENV, {
  LOG_LEVEL: 'warn',
});

const management = useManagementStandIn();
const ME = 'me-connection';
const OTHER = 'other-connection';
const lost = (operation: string) => new StoreError(`MySQL ${operation} failed: STORE_TIMEOUT`, operation);

let store: MemoryStore;
let warnings: jest.SpyInstance;
beforeEach(async () => {
  store = memoryStore();
  useStore(store);
  for (const id of [ME, OTHER]) await store.add({ connectionId: id, connectedAt: 1, subject: null });
  await store.join(OTHER, 'red', 50, true);
  jest.clearAllMocks();
  // The log writes warnings and errors to stderr (src/log.ts).
  warnings = jest.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

const send = (action: 'join' | 'leave') => message(messageEvent({ action, room: 'red' }, ME, action), lambdaContext());
const to = (id: string) =>
  management
    .posted()
    .filter((post) => post.to === id)
    .map((post) => post.message);

describe('a write whose answer was lost', () => {
  it('join that happened: answered joined, and the room hears of it', async () => {
    const join = store.join.getMockImplementation() as NonNullable<ReturnType<typeof store.join.getMockImplementation>>;
    store.join.mockImplementationOnce(async (...args) => {
      await join(...args);
      throw lost('join');
    });
    expect(await send('join')).toEqual({ statusCode: 200 });
    expect(to(ME)).toEqual([{ type: 'joined', room: 'red', seq: 1 }]);
    expect(to(OTHER)).toEqual([expect.objectContaining({ type: 'presence', event: 'join', connectionId: ME })]);
    expect(await store.roomsOf(ME)).toEqual(['red']);
    expect(warnings.mock.calls.join('\n')).toContain('store write outcome settled');
  });

  it('join that did not happen: joined then, answered joined', async () => {
    store.join.mockRejectedValueOnce(lost('join'));
    expect(await send('join')).toEqual({ statusCode: 200 });
    expect(to(ME)).toEqual([{ type: 'joined', room: 'red', seq: 1 }]);
    expect(await store.roomsOf(ME)).toEqual(['red']);
  });

  it('leave that happened: answered wasMember true, and the room hears of it', async () => {
    await store.join(ME, 'red', 50, true);
    const leave = store.leave.getMockImplementation() as NonNullable<
      ReturnType<typeof store.leave.getMockImplementation>
    >;
    store.leave.mockImplementationOnce(async (...args) => {
      await leave(...args);
      throw lost('leave');
    });
    expect(await send('leave')).toEqual({ statusCode: 200 });
    expect(to(ME)).toEqual([{ type: 'left', room: 'red', wasMember: true }]);
    expect(to(OTHER)).toEqual([
      expect.objectContaining({ type: 'presence', event: 'leave', connectionId: ME, reason: 'leave' }),
    ]);
    expect(await store.roomsOf(ME)).toEqual([]);
  });

  it('is not read back when the database refused every password: nothing was written, the route fails at once', async () => {
    store.join.mockRejectedValueOnce(
      new DatabasePasswordError('MySQL join failed: the server refused the 2 password(s) the secret gave', 'join'),
    );
    expect(await send('join')).toEqual({ statusCode: 500 });
    expect(store.roomsOf).not.toHaveBeenCalled();
    expect(to(ME)).toEqual([{ type: 'error', code: 'unavailable', message: expect.any(String) }]);
  });

  it('reads back until the store answers again, within the budget', async () => {
    await store.join(ME, 'red', 50, true);
    store.leave.mockRejectedValueOnce(lost('leave'));
    store.roomsOf.mockRejectedValueOnce(lost('rooms')).mockRejectedValueOnce(lost('rooms'));
    expect(await send('leave')).toEqual({ statusCode: 200 });
    expect(to(ME)).toEqual([{ type: 'left', room: 'red', wasMember: true }]);
    expect(store.roomsOf).toHaveBeenCalledTimes(3);
  });
});
