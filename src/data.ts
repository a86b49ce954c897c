/**
 * The connection store. API Gateway keeps the sockets; every Lambda container is
 * separate, so who is connected (and to which rooms) lives in a database that all
 * of them share. One interface (src/store/types.ts), two adapters: MySQL (AWS, or a
 * local server) and an embedded SQLite file for `npm start`.
 */
import type { StoreSettings } from './config';
import { MysqlConnectionStore } from './store/mysql';
import type { ConnectionStore as BaseStore } from './store/types';
import type { UserPresenceStore } from './store/user-presence';

export type * from './store/types';
export type * from './store/user-presence';
/** The interface of src/store/types.ts, with per-user presence and departures (src/store/user-presence.ts). */
export type ConnectionStore = BaseStore & UserPresenceStore;
/** The MySQL budgets, which the handler's own budgets are built around. */
export { MYSQL_TIMEOUTS } from './store/mysql-connections';

/**
 * Builds the store the settings name. The embedded adapter (and better-sqlite3 with
 * it) is required only when chosen, so AWS never loads it and the zip never needs it.
 */
export function createStore(settings: StoreSettings): ConnectionStore {
  if (settings.kind === 'mysql') return new MysqlConnectionStore(settings);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { EmbeddedConnectionStore } = require('./store/sqlite') as typeof import('./store/sqlite');
  return new EmbeddedConnectionStore(settings);
}
