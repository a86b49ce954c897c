/**
 * The embedded store's handle on its SQLite file (better-sqlite3): opened once per worker,
 * with the schema of every layer (./sqlite-history.ts, ./sqlite-deliveries.ts, ./sqlite.ts)
 * created at that moment. WAL lets readers and a writer work at once and the busy timeout
 * makes a writer wait for another instead of failing.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { EmbeddedSettings } from '../config';
import { errorText, StoreError } from '../errors';

export abstract class EmbeddedSession {
  private db: BetterSqlite3.Database | undefined;

  constructor(protected readonly settings: EmbeddedSettings) {}

  /** The tables made at open, each layer adding its own to its parent's. */
  protected schema(): string {
    return '';
  }

  /** Opens the file and creates the schema once per worker (its "cold start"). */
  private open(): BetterSqlite3.Database {
    if (this.db) return this.db;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const Database = require('better-sqlite3') as typeof BetterSqlite3;
      if (this.settings.file !== ':memory:') mkdirSync(dirname(this.settings.file), { recursive: true });
      const db = new Database(this.settings.file, { timeout: 5_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(this.schema());
      this.db = db;
      return db;
    } catch (cause) {
      throw new StoreError(`embedded store could not open ${this.settings.file}: ${errorText(cause)}`, 'open', {
        cause,
      });
    }
  }

  protected run<T>(operation: string, work: (db: BetterSqlite3.Database) => T): Promise<T> {
    try {
      return Promise.resolve(work(this.open()));
    } catch (cause) {
      if (cause instanceof StoreError) return Promise.reject(cause);
      return Promise.reject(new StoreError(`embedded ${operation} failed: ${errorText(cause)}`, operation, { cause }));
    }
  }

  async end(): Promise<void> {
    // Nothing per invocation: the handle stays open for the worker's lifetime.
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}
