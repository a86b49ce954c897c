/**
 * The MySQL adapter of the connection store (AWS, or a local server through LOCAL_DB_URL):
 * the schema and the queries. The connection itself is ./mysql-connections.ts's.
 */
import type { MysqlSettings } from '../config';
import { MysqlSession } from './mysql-connections';
import type { MysqlStoreOptions } from './mysql-connections';
import {
  chunks,
  DELETE_CHUNK,
  historyTables,
  shardTableNames,
  SUBJECT_INDEX,
  tableNames,
  toConnection,
  toDeliveryState,
  toHistoryPage,
} from './types';
import type { DeliveryCounts, DeliveryRecord, DeliveryRow, DeliveryState, IdRange, ShardProgress } from './types';
import type {
  Connection,
  ConnectionPage,
  ConnectionRow,
  ConnectionStore,
  HistoryEntry,
  HistoryPage,
  HistoryRow,
  HistoryWindow,
  JoinResult,
} from './types';

/**
 * The sweep's second operation, after the connections' 45 s (sweepMs): 45 + 10 + end()'s 1 s
 * stay inside the sweep function's 60 s timeout (docs/operations.md#time-budgets).
 */
export const HISTORY_TRIM_MS = 10_000;

export class MysqlConnectionStore extends MysqlSession implements ConnectionStore {
  readonly kind = 'mysql' as const;
  private readonly t: { connections: string; members: string };
  private readonly h: { sequences: string; history: string };
  private readonly tallyTables: { deliveries: string; shards: string };
  private ready: Promise<void> | undefined;
  private historyReady: Promise<void> | undefined;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.t = tableNames(settings.tablePrefix);
    this.h = historyTables(settings.tablePrefix);
    this.tallyTables = shardTableNames(settings.tablePrefix);
  }

  /** Creates the tables once per container (cold start), not on every call. */
  protected override prepare(deadline: number): Promise<void> {
    this.ready ??= (async () => {
      const { connections, members } = this.t;
      // utf8mb4_bin: API Gateway connection ids are case-sensitive.
      await this.run(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${connections}\` (
           connection_id VARCHAR(128) NOT NULL,
           connected_at BIGINT NOT NULL,
           subject VARCHAR(255) NULL,
           PRIMARY KEY (connection_id),
           KEY idx_connected_at (connected_at),
           KEY ${SUBJECT_INDEX} (subject)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        [],
        deadline,
      );
      await this.addSubjectIndex(deadline);
      await this.run(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${members}\` (
           room VARCHAR(64) NOT NULL,
           connection_id VARCHAR(128) NOT NULL,
           PRIMARY KEY (room, connection_id),
           KEY idx_member_connection (connection_id)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        [],
        deadline,
      );
    })().catch((error: unknown) => {
      this.ready = undefined; // let the next invocation try again
      throw error;
    });
    return this.ready;
  }

  /**
   * Tables created before direct messages have no subject index, and CREATE TABLE IF NOT
   * EXISTS leaves an existing table as it is. MySQL 8 has no ADD INDEX IF NOT EXISTS (only
   * MariaDB does), so look the index up first; two cold starts racing to add it are told
   * ER_DUP_KEYNAME, and the loser has nothing left to do.
   */
  private async addSubjectIndex(deadline: number): Promise<void> {
    const { connections } = this.t;
    const found = await this.run<unknown[]>(
      'migrate schema',
      `SELECT 1 FROM information_schema.statistics
       WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1`,
      [connections, SUBJECT_INDEX],
      deadline,
    );
    if (found.length > 0) return;
    try {
      await this.run(
        'migrate schema',
        `ALTER TABLE \`${connections}\` ADD INDEX ${SUBJECT_INDEX} (subject)`,
        [],
        deadline,
      );
    } catch (error) {
      if ((error as { cause?: { code?: unknown } }).cause?.code !== 'ER_DUP_KEYNAME') throw error;
    }
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

  async remove(connectionId: string): Promise<void> {
    await this.removeMany([connectionId]);
  }

  async removeMany(connectionIds: readonly string[]): Promise<void> {
    await this.deleteMany(connectionIds, this.budget());
  }

  private async deleteMany(connectionIds: readonly string[], deadline: number): Promise<void> {
    const { connections, members } = this.t;
    for (const chunk of chunks(connectionIds, DELETE_CHUNK)) {
      // Connections first: should the second statement fail, a leftover membership only
      // makes a later room delivery meet a 410, which removes it again.
      await this.query('remove', `DELETE FROM \`${connections}\` WHERE connection_id IN (?)`, [chunk], deadline);
      await this.query('remove', `DELETE FROM \`${members}\` WHERE connection_id IN (?)`, [chunk], deadline);
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

  /** The audience's table and its condition: the members' primary key (room, connection_id) or the connections'. */
  private scopeOf(room: string | undefined): { from: string; where: string[]; values: unknown[] } {
    return room === undefined
      ? { from: `\`${this.t.connections}\``, where: [], values: [] }
      : { from: `\`${this.t.members}\``, where: ['room = ?'], values: [room] };
  }

  /** Keyset pages on the primary key: each page is one index range read, however deep into the audience. */
  async audiencePage(room: string | undefined, range: IdRange, limit: number): Promise<string[]> {
    const { from, where, values } = this.scopeOf(room);
    if (range.after !== null) {
      where.push('connection_id > ?');
      values.push(range.after);
    }
    if (range.upTo !== null) {
      where.push('connection_id <= ?');
      values.push(range.upTo);
    }
    const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await this.query<{ connection_id: string }[]>(
      'audience page',
      `SELECT connection_id FROM ${from} ${condition} ORDER BY connection_id LIMIT ?`,
      [...values, limit],
      this.budget(),
    );
    return rows.map((row) => row.connection_id);
  }

  async audienceMark(room: string | undefined, after: string | null, skip: number): Promise<string | undefined> {
    const { from, where, values } = this.scopeOf(room);
    if (after !== null) {
      where.push('connection_id > ?');
      values.push(after);
    }
    const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await this.query<{ connection_id: string }[]>(
      'audience mark',
      `SELECT connection_id FROM ${from} ${condition} ORDER BY connection_id LIMIT 1 OFFSET ?`,
      [...values, skip - 1],
      this.budget(),
    );
    return rows[0]?.connection_id;
  }

  async audienceCount(room?: string): Promise<number> {
    const { from, where, values } = this.scopeOf(room);
    const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const [row] = await this.query<{ n: number | string }[]>(
      'audience count',
      `SELECT COUNT(*) AS n FROM ${from} ${condition}`,
      values,
      this.budget(),
    );
    return Number(row?.n ?? 0);
  }

  private talliesReady: Promise<{ deliveries: string; shards: string }> | undefined;

  /** The tallies' tables, made on first use (only sharded deliveries need them). */
  private tallies(): Promise<{ deliveries: string; shards: string }> {
    this.talliesReady ??= (async () => {
      const t = this.tallyTables;
      await this.query(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${t.deliveries}\` (
           delivery_id VARCHAR(64) NOT NULL, shards INT NOT NULL, done INT NOT NULL DEFAULT 0,
           recipients INT NOT NULL, sent INT NOT NULL DEFAULT 0, stale INT NOT NULL DEFAULT 0,
           failed INT NOT NULL DEFAULT 0, unsent INT NOT NULL DEFAULT 0, summary_to TEXT NOT NULL,
           summarized TINYINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,
           PRIMARY KEY (delivery_id)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        [],
        this.budget(),
      );
      await this.query(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${t.shards}\` (
           delivery_id VARCHAR(64) NOT NULL, shard INT NOT NULL, cursor_id VARCHAR(128) NULL,
           sent INT NOT NULL DEFAULT 0, stale INT NOT NULL DEFAULT 0, failed INT NOT NULL DEFAULT 0,
           unsent INT NOT NULL DEFAULT 0, attempts INT NOT NULL DEFAULT 0, done TINYINT NOT NULL DEFAULT 0,
           updated_at BIGINT NOT NULL,
           PRIMARY KEY (delivery_id, shard),
           KEY idx_active (done, updated_at)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        [],
        this.budget(),
      );
      return t;
    })().catch((error: unknown) => {
      this.talliesReady = undefined;
      throw error;
    });
    return this.talliesReady;
  }

  async openDelivery(delivery: DeliveryRecord, now: number): Promise<void> {
    const t = await this.tallies();
    await this.query(
      'open delivery',
      `INSERT IGNORE INTO \`${t.deliveries}\` (delivery_id, shards, recipients, summary_to, created_at) VALUES (?, ?, ?, ?, ?)`,
      [delivery.deliveryId, delivery.shards, delivery.recipients, delivery.summaryTo, now],
      this.budget(),
    );
    const rows = Array.from({ length: delivery.shards }, (_, shard) => [delivery.deliveryId, shard, now]);
    for (const chunk of chunks(rows, DELETE_CHUNK)) {
      await this.query(
        'open delivery',
        `INSERT IGNORE INTO \`${t.shards}\` (delivery_id, shard, updated_at) VALUES ?`,
        [chunk],
        this.budget(),
      );
    }
  }

  async startShard(deliveryId: string, shard: number, now: number): Promise<ShardProgress> {
    const t = await this.tallies();
    await this.query(
      'start shard',
      `INSERT INTO \`${t.shards}\` (delivery_id, shard, attempts, updated_at) VALUES (?, ?, 1, ?)
       ON DUPLICATE KEY UPDATE attempts = attempts + 1, updated_at = VALUES(updated_at)`,
      [deliveryId, shard, now],
      this.budget(),
    );
    const [row] = await this.query<Record<string, number | string | null>[]>(
      'start shard',
      `SELECT cursor_id, sent, stale, failed, unsent, attempts, done FROM \`${t.shards}\` WHERE delivery_id = ? AND shard = ?`,
      [deliveryId, shard],
      this.budget(),
    );
    return {
      cursor: (row?.cursor_id as string | null | undefined) ?? null,
      sent: Number(row?.sent ?? 0),
      stale: Number(row?.stale ?? 0),
      failed: Number(row?.failed ?? 0),
      unsent: Number(row?.unsent ?? 0),
      attempts: Number(row?.attempts ?? 1),
      done: Number(row?.done ?? 0) === 1,
    };
  }

  async saveShard(deliveryId: string, shard: number, cursor: string | null, counts: DeliveryCounts, now: number) {
    const t = await this.tallies();
    await this.query(
      'save shard',
      `UPDATE \`${t.shards}\` SET cursor_id = ?, sent = ?, stale = ?, failed = ?, unsent = ?, updated_at = ?
       WHERE delivery_id = ? AND shard = ? AND done = 0`,
      [cursor, counts.sent, counts.stale, counts.failed, counts.unsent, now, deliveryId, shard],
      this.budget(),
    );
  }

  /**
   * One transaction: the shard's `done = 0 -> 1` admits one finish per shard, and the
   * delivery's `summarized = 0 -> 1` (under its row lock) one claim of the summary, however
   * many shards finish at once in other containers.
   */
  async finishShard(deliveryId: string, shard: number, counts: DeliveryCounts): Promise<DeliveryState | undefined> {
    const t = await this.tallies();
    return this.transaction('finish shard', async (statement) => {
      const marked = await statement<{ affectedRows: number }>(
        `UPDATE \`${t.shards}\` SET done = 1, sent = ?, stale = ?, failed = ?, unsent = ?
         WHERE delivery_id = ? AND shard = ? AND done = 0`,
        [counts.sent, counts.stale, counts.failed, counts.unsent, deliveryId, shard],
      );
      if (marked.affectedRows !== 1) return undefined;
      await statement(
        `UPDATE \`${t.deliveries}\` SET done = done + 1, sent = sent + ?, stale = stale + ?, failed = failed + ?,
         unsent = unsent + ? WHERE delivery_id = ?`,
        [counts.sent, counts.stale, counts.failed, counts.unsent, deliveryId],
      );
      const claimed = await statement<{ affectedRows: number }>(
        `UPDATE \`${t.deliveries}\` SET summarized = 1 WHERE delivery_id = ? AND done >= shards AND summarized = 0`,
        [deliveryId],
      );
      if (claimed.affectedRows !== 1) return undefined;
      const [row] = await statement<DeliveryRow[]>(`SELECT * FROM \`${t.deliveries}\` WHERE delivery_id = ?`, [
        deliveryId,
      ]);
      return row === undefined ? undefined : toDeliveryState(row);
    });
  }

  async deliveryState(deliveryId: string): Promise<DeliveryState | undefined> {
    const t = await this.tallies();
    const [row] = await this.query<DeliveryRow[]>(
      'delivery state',
      `SELECT * FROM \`${t.deliveries}\` WHERE delivery_id = ?`,
      [deliveryId],
      this.budget(),
    );
    return row === undefined ? undefined : toDeliveryState(row);
  }

  async activeShards(since: number): Promise<number> {
    const t = await this.tallies();
    const [row] = await this.query<{ n: number | string }[]>(
      'active shards',
      `SELECT COUNT(*) AS n FROM \`${t.shards}\` WHERE done = 0 AND attempts > 0 AND updated_at >= ?`,
      [since],
      this.budget(),
    );
    return Number(row?.n ?? 0);
  }

  async removeDeliveriesBefore(cutoff: number): Promise<number> {
    const t = await this.tallies();
    const deadline = this.budget(this.timeouts.sweepMs);
    await this.query(
      'remove deliveries',
      `DELETE s FROM \`${t.shards}\` s JOIN \`${t.deliveries}\` d ON d.delivery_id = s.delivery_id WHERE d.created_at < ?`,
      [cutoff],
      deadline,
    );
    const result = await this.query<{ affectedRows: number }>(
      'remove deliveries',
      `DELETE FROM \`${t.deliveries}\` WHERE created_at < ?`,
      [cutoff],
      deadline,
    );
    return result.affectedRows;
  }

  /**
   * One transaction per join, so that the limit holds however many joins of one
   * connection run at once in other containers:
   * - `FOR UPDATE` on the connection's row queues every join of that connection behind
   *   the one in progress, and each holder commits before the next gets the lock;
   * - under READ COMMITTED the count is a fresh snapshot taken when its statement starts,
   *   which is after the lock was granted, so it sees every membership committed before;
   * - only `join` adds memberships (leave and remove only lower the count).
   * READ COMMITTED also takes no gap locks, so joins of different connections (which share
   * index ranges of the members table) cannot deadlock on each other's gaps. It needs row
   * or mixed binary logging (RDS MySQL 8's default; a STATEMENT binlog would refuse the insert).
   */
  async join(connectionId: string, room: string, maxRooms: number): Promise<JoinResult> {
    const { connections, members } = this.t;
    return this.transaction('join', async (statement) => {
      const known = await statement<unknown[]>(
        `SELECT connection_id FROM \`${connections}\` WHERE connection_id = ? FOR UPDATE`,
        [connectionId],
      );
      if (known.length === 0) return 'unknown_connection';
      const [counted] = await statement<{ n: number | string; here: number | string | null }[]>(
        `SELECT COUNT(*) AS n, COALESCE(SUM(room = ?), 0) AS here FROM \`${members}\` WHERE connection_id = ?`,
        [room, connectionId],
      );
      if (Number(counted?.here ?? 0) > 0) return 'already_member';
      if (Number(counted?.n ?? 0) >= maxRooms) return 'limit_reached';
      await statement(`INSERT INTO \`${members}\` (room, connection_id) VALUES (?, ?)`, [room, connectionId]);
      return 'joined';
    });
  }

  async leave(connectionId: string, room: string): Promise<boolean> {
    const result = await this.query<{ affectedRows: number }>(
      'leave',
      `DELETE FROM \`${this.t.members}\` WHERE room = ? AND connection_id = ?`,
      [room, connectionId],
      this.budget(),
    );
    return result.affectedRows > 0;
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
      // utf8mb4_bin is a PAD SPACE collation ('alice ' = 'alice'): the index finds the
      // candidates, the byte comparison keeps only the exact subject.
      `SELECT connection_id FROM \`${this.t.connections}\`
       WHERE subject = ? AND CAST(subject AS BINARY) = CAST(? AS BINARY)`,
      [subject, subject],
      this.budget(),
    );
    return rows.map((row) => row.connection_id);
  }

  async members(room: string, limit: number): Promise<ConnectionPage> {
    const { connections, members } = this.t;
    const deadline = this.budget();
    // Joined with the connections, so a membership left behind by a failed removal is
    // neither counted nor listed.
    const [counted] = await this.query<{ n: number | string }[]>(
      'members',
      `SELECT COUNT(*) AS n FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ?`,
      [room],
      deadline,
    );
    const rows = await this.query<ConnectionRow[]>(
      'members',
      `SELECT c.connection_id, c.connected_at, c.subject
       FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ? ORDER BY c.connected_at, c.connection_id LIMIT ?`,
      [room, limit],
      deadline,
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  async listOf(subject: string, limit: number): Promise<ConnectionPage> {
    const { connections } = this.t;
    const deadline = this.budget();
    // The byte comparison as in connectionsOf: utf8mb4_bin pads ('alice ' = 'alice').
    const where = 'WHERE subject = ? AND CAST(subject AS BINARY) = CAST(? AS BINARY)';
    const [counted] = await this.query<{ n: number | string }[]>(
      'list of',
      `SELECT COUNT(*) AS n FROM \`${connections}\` ${where}`,
      [subject, subject],
      deadline,
    );
    const rows = await this.query<ConnectionRow[]>(
      'list of',
      `SELECT connection_id, connected_at, subject FROM \`${connections}\` ${where}
       ORDER BY connected_at, connection_id LIMIT ?`,
      [subject, subject, limit],
      deadline,
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  async reachable(from: string, subject: string, to: string): Promise<boolean> {
    const { connections, members } = this.t;
    const rows = await this.query<unknown[]>(
      'reachable',
      `SELECT 1 FROM \`${connections}\` c WHERE c.connection_id = ?
         AND ((c.subject = ? AND CAST(c.subject AS BINARY) = CAST(? AS BINARY)) OR EXISTS (
           SELECT 1 FROM \`${members}\` a JOIN \`${members}\` b ON b.room = a.room
           WHERE a.connection_id = ? AND b.connection_id = c.connection_id))`,
      [to, subject, subject, from],
      this.budget(),
    );
    return rows.length > 0;
  }

  /**
   * A room's counter outlives its messages: a room whose history was trimmed to nothing goes
   * on from its last number, so a client's last seq is never reused for another message.
   * MEDIUMTEXT: a frame is at most 128 KB, more than TEXT's 64 KB. Created on the first room
   * frame or history read of a container, not at its cold start: `$connect` never needs them.
   */
  private ensureHistory(deadline = this.budget()): Promise<void> {
    this.historyReady ??= this.serially(async () => {
      await this.prepare(deadline);
      await this.createHistory(deadline);
    }).catch((error: unknown) => {
      this.historyReady = undefined; // let the next call try again
      throw error;
    });
    return this.historyReady;
  }

  private async createHistory(deadline: number): Promise<void> {
    const { sequences, history } = this.h;
    await this.run(
      'create schema',
      `CREATE TABLE IF NOT EXISTS \`${sequences}\` (
         room VARCHAR(64) NOT NULL,
         seq BIGINT NOT NULL,
         PRIMARY KEY (room)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      [],
      deadline,
    );
    await this.run(
      'create schema',
      `CREATE TABLE IF NOT EXISTS \`${history}\` (
         room VARCHAR(64) NOT NULL,
         seq BIGINT NOT NULL,
         id VARCHAR(64) NOT NULL,
         sent_at BIGINT NOT NULL,
         body MEDIUMTEXT NOT NULL,
         PRIMARY KEY (room, seq),
         KEY idx_history_sent_at (sent_at)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      [],
      deadline,
    );
  }

  /**
   * One transaction: the counter's upsert takes the room row's lock, which the next
   * publisher of the room waits for until this one commits, so numbers follow each other
   * without a repeat, and a failed insert rolls the number back with it. LAST_INSERT_ID(expr)
   * hands the new number back in the upsert's own answer (insertId), so it costs no SELECT.
   */
  async appendToRoom(room: string, entry: HistoryEntry): Promise<number> {
    const { sequences, history } = this.h;
    await this.ensureHistory();
    return this.transaction('append', async (statement) => {
      const counted = await statement<{ insertId: number | string }>(
        `INSERT INTO \`${sequences}\` (room, seq) VALUES (?, LAST_INSERT_ID(1))
         ON DUPLICATE KEY UPDATE seq = LAST_INSERT_ID(seq + 1)`,
        [room],
      );
      const seq = Number(counted.insertId);
      await statement(`INSERT INTO \`${history}\` (room, seq, id, sent_at, body) VALUES (?, ?, ?, ?, ?)`, [
        room,
        seq,
        entry.id,
        entry.sentAt,
        entry.body,
      ]);
      return seq;
    });
  }

  async roomHistory(room: string, after: number, limit: number, window: HistoryWindow): Promise<HistoryPage> {
    const { sequences, history } = this.h;
    await this.ensureHistory();
    // The room's row joined with its messages in range: the latest number comes along even when none are.
    const rows = await this.query<HistoryRow[]>(
      'history',
      `SELECT s.seq AS latest, h.seq, h.id, h.sent_at, h.body
       FROM \`${sequences}\` s LEFT JOIN \`${history}\` h
         ON h.room = s.room AND h.seq > ? AND h.seq > s.seq - ? AND h.sent_at >= ?
       WHERE s.room = ? ORDER BY h.seq LIMIT ?`,
      [after, window.maxPerRoom, window.notBefore, room, limit],
      this.budget(),
    );
    return toHistoryPage(rows);
  }

  async trimHistory(window: HistoryWindow): Promise<number> {
    const { sequences, history } = this.h;
    const deadline = this.budget(HISTORY_TRIM_MS);
    await this.ensureHistory(deadline);
    const old = await this.query<{ affectedRows: number }>(
      'trim history',
      `DELETE FROM \`${history}\` WHERE sent_at < ?`,
      [window.notBefore],
      deadline,
    );
    const over = await this.query<{ affectedRows: number }>(
      'trim history',
      `DELETE h FROM \`${history}\` h JOIN \`${sequences}\` s ON s.room = h.room WHERE h.seq <= s.seq - ?`,
      [window.maxPerRoom],
      deadline,
    );
    return old.affectedRows + over.affectedRows;
  }

  /** Test helper for the contract suite: drop this store's tables. */
  async dropTables(): Promise<void> {
    await this.run(
      'drop',
      `DROP TABLE IF EXISTS \`${this.t.connections}\`, \`${this.t.members}\`, \`${this.h.sequences}\`, \`${this.h.history}\`, \`${this.tallyTables.deliveries}\`, \`${this.tallyTables.shards}\``,
      [],
      this.budget(this.timeouts.sweepMs),
    );
    this.ready = undefined;
    this.historyReady = undefined;
    this.talliesReady = undefined;
  }
}
