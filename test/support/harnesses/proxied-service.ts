/**
 * The service under serverless-offline on MySQL reached through a loopback TCP proxy the test
 * controls (test/support/stand-ins/tcp-proxy.ts: pass, silent, drop, hold), with a store straight
 * to the server for what is really stored. Started once per file; stops everything it opened,
 * the proxy set back to pass first so nothing waits on it, and drops its tables.
 */
import { MysqlConnectionStore } from '../../../src/store/mysql';
import { TestClient } from './client';
import { mysqlSettings, uniquePrefix } from './mysql';
import { startOffline } from './offline';
import type { OfflineService } from './offline';
import { startTcpProxy } from '../stand-ins/tcp-proxy';
import type { TcpProxy } from '../stand-ins/tcp-proxy';

export interface ProxiedService {
  /** The table prefix of this file's run. */
  readonly prefix: string;
  readonly proxy: TcpProxy;
  readonly service: OfflineService;
  /** Straight to the server, not through the proxy. */
  readonly store: MysqlConnectionStore;
  /** Opens a socket, closed with the rest in afterAll. */
  connect(timeoutMs?: number): Promise<TestClient>;
  /** Closes the sockets opened so far. */
  closeClients(): Promise<void>;
}

/** `settings` and `env` as startOffline takes them (the proxy's store and table prefix are added). */
export function useProxiedService(
  name: string,
  options: { settings?: Record<string, string | number>; env?: Record<string, string> } = {},
): ProxiedService {
  const prefix = uniquePrefix(name);
  const settings = mysqlSettings(prefix);
  let proxy: TcpProxy | undefined;
  let service: OfflineService | undefined;
  let store: MysqlConnectionStore | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: settings.host, port: settings.port });
    service = await startOffline({
      dbUrl: proxy.url(settings.database, settings.user),
      env: { ...options.env, DB_TABLE_PREFIX: prefix },
      ...(options.settings ? { settings: options.settings } : {}),
    });
    store = new MysqlConnectionStore(settings);
  });

  afterAll(async () => {
    proxy?.setMode('pass');
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
    await proxy?.close();
    await store?.dropTables();
    await store?.close();
  });

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the proxied service did not start');
    return value;
  };
  return {
    prefix,
    get proxy() {
      return started(proxy);
    },
    get service() {
      return started(service);
    },
    get store() {
      return started(store);
    },
    async connect(timeoutMs?: number) {
      const client = await TestClient.connect(started(service).url, timeoutMs);
      clients.push(client);
      return client;
    },
    async closeClients() {
      await Promise.allSettled(clients.splice(0).map((client) => client.close()));
    },
  };
}
