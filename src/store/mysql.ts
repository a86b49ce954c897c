/**
 * The MySQL adapter of the connection store (AWS, or a local server through LOCAL_DB_URL):
 * the connections' and memberships' queries. Every table and its migrations are
 * ./mysql-schema.ts's; the connection itself is ./mysql-connections.ts's; room history is
 * ./mysql-history.ts's and sharded deliveries ./mysql-deliveries.ts's, layers this class extends.
 */
import type { MysqlSettings } from '../config';
import { errorText, StoreError } from '../errors';
import { log } from '../log';
import type { MysqlStoreOptions } from './mysql-connections';
import { MysqlUserPresence } from './mysql-user-presence';
import { dropSchema, ensureSchema, migrate } from './mysql-schema';
import type { MigrationReport } from './mysql-schema';
import { lockWaitSeconds, routineNames } from './mysql-routines';
import type { RoutineNames } from './mysql-routines';
import { chunks, DELETE_CHUNK, presenceTable, toConnection } from './types';
import type { Connection, ConnectionPage, ConnectionRow, ConnectionStore, JoinResult, PresencePage } from './types';

export { HISTORY_TRIM_MS } from './mysql-history';

export class MysqlConnectionStore extends MysqlUserPresence implements ConnectionStore {
  readonly kind = 'mysql' as const;
  private ready: Promise<void> | undefined;
  /** The memberships that may see the room's presence (presenceTable says why a table). */
  private readonly watchers: string;
  private readonly prefix: string;
  /** Whether the schema is the deploy's business (MysqlSettings.migrate): then never checked here. */
  private readonly migratedAtDeploy: boolean;
  /** The schema's stored procedures (./mysql-routines.ts). */
  private readonly routines: RoutineNames;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.watchers = presenceTable(settings.tablePrefix);
    this.prefix = settings.tablePrefix;
    this.migratedAtDeploy = settings.migrate === 'deploy';
    this.routines = routineNames(settings.tablePrefix);
  }

  /**
   * Brings the schema to this code's version now (./mysql-schema.ts `migrate`), within the
   * sweep's budget: what `npm start` runs before the functions start, as the deploy's custom
   * resource does in AWS.
   */
  async migrateSchema(): Promise<MigrationReport> {
    const deadline = this.budget(this.timeouts.sweepMs);
    const report = await migrate(this.executor('migrate', deadline), this.prefix, {
      lockWaitSeconds: Math.floor(this.timeouts.sweepMs / 1000),
    });
    this.ready = Promise.resolve();
    return report;
  }

  /**
   * With DB_MIGRATE=first-use, the schema, checked once per container (one SELECT of its
   * version) and migrated when it is older than this code (./mysql-schema.ts), within the first
   * operation's budget. With `deploy` (AWS), nothing: the deploy migrated it.
   */
  protected override prepare(deadline: number): Promise<void> {
    if (this.migratedAtDeploy) return Promise.resolve();
    this.ready ??= ensureSchema(
      (sql, values = []) => this.run('create schema', sql, values, deadline),
      this.prefix,
      // Whole seconds left, for another container's migration and for the tables' locks.
      { lockWaitSeconds: Math.floor((deadline - Date.now()) / 1000) },
    ).then(
      (report) => {
        if (report.applied.length > 0) log.info('schema migrated', { ...report, tablePrefix: this.prefix });
      },
      (error: unknown) => {
        this.ready = undefined; // let the next invocation try again
        if (error instanceof StoreError) throw error;
        // Another container's migration held the lock past this operation's budget.
        throw new StoreError(`MySQL create schema failed: ${errorText(error)}`, 'create schema', { cause: error });
      },
    );
    return this.ready;
  }

  async add({ connectionId, connectedAt, subject }: Connection): Promise<void> {
    await this.query(
      'add',
      `INSERT INTO \`${this.t.connections}\` (connection_id, connected_at, subject) VALUES (?, ?, ?)
       ON DUPLICATE KEY UPDATE connected_at = VALUES(connected_at), subject = VALUES(subject)`,
      [connectionId, connectedAt, subject],
      this.budget(),
    );
  }

  /** One round trip (a procedure): the connection's row, then its memberships with their presence rows. */
  async remove(connectionId: string): Promise<void> {
    // No time: no departures marked (removeCounted() marks them).
    await this.query('remove', `CALL \`${this.routines.remove}\`(?, NULL, NULL)`, [connectionId], this.budget());
  }

  async removeMany(connectionIds: readonly string[]): Promise<void> {
    await this.deleteMany(connectionIds, this.budget());
  }

  private async deleteMany(connectionIds: readonly string[], deadline: number): Promise<void> {
    const { connections } = this.t;
    for (const chunk of chunks(connectionIds, DELETE_CHUNK)) {
      // Connections first: should the second statement fail, a leftover membership only
      // makes a later room delivery meet a 410, which removes it again.
      await this.query('remove', `DELETE FROM \`${connections}\` WHERE connection_id IN (?)`, [chunk], deadline);
      await this.query('remove', this.dropMemberships('m.connection_id IN (?)'), [chunk], deadline);
    }
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const rows = await this.query<ConnectionRow[]>(
      'get',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\` WHERE connection_id = ?`,
      [connectionId],
      this.budget(),
    );
    return rows[0] ? toConnection(rows[0]) : undefined;
  }

  async list(limit: number): Promise<ConnectionPage> {
    const deadline = this.budget();
    const [counted] = await this.query<{ n: number | string }[]>(
      'list',
      `SELECT COUNT(*) AS n FROM \`${this.t.connections}\``,
      [],
      deadline,
    );
    const rows = await this.query<ConnectionRow[]>(
      'list',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\`
       ORDER BY connected_at, connection_id LIMIT ?`,
      [limit],
      deadline,
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  async connectedBefore(cutoff: number, limit: number, after?: Connection): Promise<Connection[]> {
    // Keyset paging on idx_connected_at: each page costs the same however deep it is.
    const rows = await this.query<ConnectionRow[]>(
      'connected-before',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\`
       WHERE connected_at < ? AND (connected_at > ? OR (connected_at = ? AND connection_id > ?))
       ORDER BY connected_at, connection_id LIMIT ?`,
      [cutoff, after?.connectedAt ?? -1, after?.connectedAt ?? -1, after?.connectionId ?? '', limit],
      this.budget(),
    );
    return rows.map(toConnection);
  }

  async audience(room?: string): Promise<string[]> {
    const rows =
      room === undefined
        ? await this.query<{ connection_id: string }[]>(
            'audience',
            `SELECT connection_id FROM \`${this.t.connections}\``,
            [],
            this.budget(),
          )
        : await this.query<{ connection_id: string }[]>(
            'audience',
            `SELECT connection_id FROM \`${this.t.members}\` WHERE room = ?`,
            [room],
            this.budget(),
          );
    return rows.map((row) => row.connection_id);
  }

  /**
   * One round trip: a procedure (./mysql-routines.ts) runs the join as one READ COMMITTED
   * transaction, so that the limit holds however many joins of one connection run at once in
   * other containers:
   * - `FOR UPDATE` on the connection's row queues every join of that connection behind
   *   the one in progress, and each holder commits before the next gets the lock;
   * - under READ COMMITTED the count is a fresh snapshot taken when its statement starts,
   *   which is after the lock was granted, so it sees every membership committed before;
   * - only `join` adds memberships (leave and remove only lower the count).
   * READ COMMITTED also takes no gap locks, so joins of different connections (which share
   * index ranges of the members table) cannot deadlock on each other's gaps. It needs row
   * or mixed binary logging (RDS MySQL 8's default; a STATEMENT binlog would refuse the insert).
   * The presence row goes in the membership's transaction, so a join that is there (settle's
   * check) has its row too; INSERT IGNORE: a row that outlived its membership says the same.
   */
  async join(connectionId: string, room: string, maxRooms: number, seesPresence = false): Promise<JoinResult> {
    const deadline = this.budget();
    const [rows] = await this.once<[{ result: JoinResult }[], unknown]>(
      'join',
      `CALL \`${this.routines.join}\`(?, ?, ?, ?, ?, NULL, 0)`,
      [connectionId, room, maxRooms, seesPresence ? 1 : 0, lockWaitSeconds(deadline)],
      deadline,
    );
    const result = rows[0]?.result;
    if (result === undefined) throw new StoreError('MySQL join failed: the procedure gave no result', 'join');
    return result;
  }

  async leave(connectionId: string, room: string): Promise<boolean> {
    const result = await this.query<{ affectedRows: number }>(
      'leave',
      this.dropMemberships('m.room = ? AND m.connection_id = ?'),
      [room, connectionId],
      this.budget(),
    );
    // Counts the presence row too: more than 0 only when the membership was there.
    return result.affectedRows > 0;
  }

  /**
   * Memberships and their presence rows in one statement (a multi-table DELETE), so that
   * neither outlives the other and a leave or removal costs no more statements than before.
   */
  private dropMemberships(where: string): string {
    return `DELETE m, p FROM \`${this.t.members}\` m
      LEFT JOIN \`${this.watchers}\` p ON p.room = m.room AND p.connection_id = m.connection_id
      WHERE ${where}`;
  }

  async roomsOf(connectionId: string): Promise<string[]> {
    const rows = await this.query<{ room: string }[]>(
      'rooms',
      `SELECT room FROM \`${this.t.members}\` WHERE connection_id = ? ORDER BY room`,
      [connectionId],
      this.budget(),
    );
    return rows.map((row) => row.room);
  }

  async removeOlderThan(cutoff: number): Promise<number> {
    const deadline = this.budget(this.timeouts.sweepMs);
    const rows = await this.query<{ connection_id: string }[]>(
      'sweep',
      `SELECT connection_id FROM \`${this.t.connections}\` WHERE connected_at < ?`,
      [cutoff],
      deadline,
    );
    const ids = rows.map((row) => row.connection_id);
    await this.deleteMany(ids, deadline);
    return ids.length;
  }

  async connectionsOf(subject: string): Promise<string[]> {
    const rows = await this.query<{ connection_id: string }[]>(
      'connections of',
      // Bytes, so 'alice ' is not 'alice' (./mysql-schema.ts); one range of the subject index.
      `SELECT connection_id FROM \`${this.t.connections}\` WHERE subject = ?`,
      [subject],
      this.budget(),
    );
    return rows.map((row) => row.connection_id);
  }

  /**
   * A room's members, joined with the connections, so a membership left behind by a failed
   * removal is neither counted nor listed (members() and presencePage() count alike).
   */
  private async memberCount(operation: string, room: string, deadline: number): Promise<number> {
    const { connections, members } = this.t;
    const [counted] = await this.query<{ n: number | string }[]>(
      operation,
      `SELECT COUNT(*) AS n FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ?`,
      [room],
      deadline,
    );
    return Number(counted?.n ?? 0);
  }

  async members(room: string, limit: number): Promise<ConnectionPage> {
    const { connections, members } = this.t;
    const deadline = this.budget();
    const count = await this.memberCount('members', room, deadline);
    const rows = await this.query<ConnectionRow[]>(
      'members',
      `SELECT c.connection_id, c.connected_at, c.subject
       FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ? ORDER BY c.connected_at, c.connection_id LIMIT ?`,
      [room, limit],
      deadline,
    );
    return { count, connections: rows.map(toConnection) };
  }

  async presencePage(room: string, limit: number): Promise<PresencePage> {
    const { connections, members } = this.t;
    const deadline = this.budget();
    // Counted and ordered as in members(); the presence row only marks who may hear the events.
    // One round trip: the count is a window over the same rows, taken before the LIMIT (a page
    // with no rows is a room of none).
    const rows = await this.query<{ connection_id: string; sees: number | string; n: number | string }[]>(
      'presence',
      `SELECT c.connection_id, p.connection_id IS NOT NULL AS sees, COUNT(*) OVER () AS n
       FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       LEFT JOIN \`${this.watchers}\` p ON p.room = m.room AND p.connection_id = m.connection_id
       WHERE m.room = ? ORDER BY c.connected_at, c.connection_id LIMIT ?`,
      [room, limit],
      deadline,
    );
    return {
      count: Number(rows[0]?.n ?? 0),
      members: rows.map((row) => ({ connectionId: row.connection_id, seesPresence: Number(row.sees) === 1 })),
    };
  }

  async listOf(subject: string, limit: number): Promise<ConnectionPage> {
    const { connections } = this.t;
    const deadline = this.budget();
    const [counted] = await this.query<{ n: number | string }[]>(
      'list of',
      `SELECT COUNT(*) AS n FROM \`${connections}\` WHERE subject = ?`,
      [subject],
      deadline,
    );
    const rows = await this.query<ConnectionRow[]>(
      'list of',
      `SELECT connection_id, connected_at, subject FROM \`${connections}\` WHERE subject = ?
       ORDER BY connected_at, connection_id LIMIT ?`,
      [subject, limit],
      deadline,
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  async reachable(from: string, subject: string, to: string): Promise<boolean> {
    const { connections, members } = this.t;
    const rows = await this.query<unknown[]>(
      'reachable',
      `SELECT 1 FROM \`${connections}\` c WHERE c.connection_id = ?
         AND (c.subject = ? OR EXISTS (
           SELECT 1 FROM \`${members}\` a JOIN \`${members}\` b ON b.room = a.room
           WHERE a.connection_id = ? AND b.connection_id = c.connection_id))`,
      [to, subject, from],
      this.budget(),
    );
    return rows.length > 0;
  }

  /** Test helper for the contract suite: drop every table of the schema. */
  async dropTables(): Promise<void> {
    await dropSchema(
      (sql, values = []) => this.run('drop', sql, values, this.budget(this.timeouts.sweepMs)),
      this.prefix,
    );
    this.ready = undefined;
  }
}
