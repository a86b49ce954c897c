/**
 * The handlers as a unit test runs them: the store in memory (test/support/stand-ins/memory-store.ts,
 * fresh for every test), the management API a loopback stand-in, console.error captured so a
 * test can read the JSON lines the handlers logged. Call it at the top of a test file: the
 * settings it sets are read once by config(), at the first invocation, as at a cold start.
 */
import { useStore } from '../../../src/handler';
import { useManagementStandIn } from '../stand-ins/management-stand-in';
import type { ManagementStandIn } from '../stand-ins/management-stand-in';
import { memoryStore } from '../stand-ins/memory-store';
import type { MemoryStore } from '../stand-ins/memory-store';

export interface HandlerHarness {
  management: ManagementStandIn;
  /** This test's store. */
  readonly store: MemoryStore;
  /** The error lines logged so far in this test, parsed. */
  loggedErrors(): Record<string, unknown>[];
}

/** The store's settings of a deployed function; nothing here connects to a database. */
export const FUNCTION_ENV = {
  DB_HOST: 'db.invalid',
  DB_NAME: 'websockets',
  DB_USER: 'websockets',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-unit-AbCdEf',
  FANOUT_RETRY_BASE_MS: '1',
};

export function useHandlerHarness(env: Record<string, string> = {}): HandlerHarness {
  Object.assign(process.env, FUNCTION_ENV, env);
  const management = useManagementStandIn();
  let store: MemoryStore | undefined;
  let errors: jest.SpyInstance | undefined;
  beforeEach(() => {
    store = memoryStore();
    useStore(store);
    errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => errors?.mockRestore());
  return {
    management,
    get store() {
      if (!store) throw new Error('the harness store exists only inside a test');
      return store;
    },
    loggedErrors: () =>
      (errors?.mock.calls ?? []).map((args: unknown[]) => JSON.parse(String(args[0])) as Record<string, unknown>),
  };
}
