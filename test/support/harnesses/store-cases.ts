/**
 * The end-to-end suites run the real service once per store: the embedded SQLite file and
 * MySQL (own table prefix per run). One definition of how each is started and read behind
 * the service's back, and one poll for what the service does asynchronously.
 */
import type { ConnectionStore } from '../../../src/data';
import { MysqlConnectionStore } from '../../../src/store/mysql';
import { EmbeddedConnectionStore } from '../../../src/store/sqlite';
import { MYSQL_URL, mysqlSettings, SKIP_MYSQL, uniquePrefix } from './mysql';
import { startOffline } from './offline';
import type { OfflineService, StartOptions } from './offline';

export type TestStore = ConnectionStore & { dropTables?(): Promise<void> };

export interface StoreCase {
  name: string;
  skip: boolean;
  /** The service and a store on the same data; for MySQL, the tables' prefix too (to reach them directly). */
  start(): Promise<{ service: OfflineService; store: TestStore; tablePrefix?: string }>;
}

/** Both stores, the service started with `options` (its `env` merged with the store's own). */
export function storeCases(label: string, options: Omit<StartOptions, 'dbUrl'> = {}): StoreCase[] {
  return [
    {
      name: 'embedded store',
      skip: false,
      async start() {
        const service = await startOffline(options);
        const file = service.storeFile as string;
        return { service, store: new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' }) };
      },
    },
    {
      name: 'MySQL store',
      skip: SKIP_MYSQL,
      async start() {
        const prefix = uniquePrefix(label);
        const env = { ...options.env, DB_TABLE_PREFIX: prefix };
        const service = await startOffline({ ...options, dbUrl: MYSQL_URL, env });
        return { service, store: new MysqlConnectionStore(mysqlSettings(prefix)), tablePrefix: prefix };
      },
    },
  ];
}

/**
 * A suite's service on one store case, each test starting from an empty service: started before
 * all and handed to `use`; after each test the suite's `clients` closed and the store read until
 * no connection is left; after all, the service stopped and the store's tables dropped.
 */
export function emptyServicePerTest(
  storeCase: StoreCase,
  clients: { close(): Promise<void> }[],
  use: (started: { service: OfflineService; store: TestStore }) => void,
): void {
  let service: OfflineService | undefined;
  let store: TestStore | undefined;

  beforeAll(async () => {
    ({ service, store } = await storeCase.start());
    use({ service, store });
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
    await store?.dropTables?.();
    await store?.close();
  });

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((client) => client.close()));
    const started = store;
    if (started === undefined) return;
    await eventually(
      () => started.list(1),
      (page) => page.count === 0,
    );
  });
}

/** Polls until `check` passes (the service handles `$disconnect` asynchronously), then returns its value. */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
