/**
 * The connection store's interface, which both adapters implement (./mysql.ts for AWS,
 * ./sqlite.ts for `npm start`), and the small helpers they share.
 */
export interface Connection {
  connectionId: string;
  /** Milliseconds since the epoch, from API Gateway's `requestContext.connectedAt`. */
  connectedAt: number;
  /** Who connected (the authorizer's subject), or null on an open endpoint. */
  subject: string | null;
}

export interface ConnectionPage {
  /** All connections, exactly. */
  count: number;
  /** The oldest `limit` connections. */
  connections: Connection[];
}

/** What a `join` did. Only 'joined' added a membership. */
export type JoinResult = 'joined' | 'already_member' | 'limit_reached' | 'unknown_connection';

export interface ConnectionStore extends ShardStore {
  readonly kind: 'mysql' | 'embedded';
  /** Idempotent: a retried `$connect` for the same id updates the row instead of failing. */
  add(connection: Connection): Promise<void>;
  /** Removes the connection and all its room memberships. */
  remove(connectionId: string): Promise<void>;
  /** Removes many connections (and memberships) in one batched statement per chunk. */
  removeMany(connectionIds: readonly string[]): Promise<void>;
  get(connectionId: string): Promise<Connection | undefined>;
  list(limit: number): Promise<ConnectionPage>;
  /** Connection ids to deliver to: everyone, or one room's members. One indexed query. */
  audience(room?: string): Promise<string[]>;
  /**
   * Adds the connection to the room unless it is in `maxRooms` rooms already. Atomic: the
   * limit holds however many joins of one connection race (parallel Lambdas, several
   * handles). Idempotent: a room it is in answers 'already_member', at the limit too. A
   * connection the store does not know is not added ('unknown_connection').
   * `seesPresence` (the token's `presence` right on the room, false when absent) is kept
   * with the membership, in the same step: presencePage tells it apart by it.
   */
  join(connectionId: string, room: string, maxRooms: number, seesPresence?: boolean): Promise<JoinResult>;
  /** True when the connection was a member. An emptied room leaves no row behind. */
  leave(connectionId: string, room: string): Promise<boolean>;
  roomsOf(connectionId: string): Promise<string[]>;
  /**
   * Connections that connected before `cutoff` (ms epoch), oldest first, at most `limit`, from
   * after `after` in that order (connected-at, then id): the liveness sweep's pages.
   */
  connectedBefore(cutoff: number, limit: number, after?: Connection): Promise<Connection[]>;
  /** Removes connections that connected before `cutoff` (ms epoch); returns how many. */
  removeOlderThan(cutoff: number): Promise<number>;
  /** Call at the end of every invocation (serverless-mysql manages its connection there). */
  end(): Promise<void>;
  /** Closes the store for good (tests, scripts). */
  close(): Promise<void>;
  /**
   * Connection ids of one user (the authorizer's subject; a user may have several tabs or
   * devices). One query on the subject index. Case-sensitive, as subjects are.
   */
  connectionsOf(subject: string): Promise<string[]>;
  /** A room's members: the exact count and the oldest `limit` of them, with their subjects. */
  members(room: string, limit: number): Promise<ConnectionPage>;
  /**
   * A room's members as presence events need them: the exact count and the oldest `limit`,
   * in `members`' order, each with whether it joined with the right to see presence.
   */
  presencePage(room: string, limit: number): Promise<PresencePage>;
  /** One user's connections, as `list` pages them: what `list` answers with auth on. */
  listOf(subject: string, limit: number): Promise<ConnectionPage>;
  /**
   * Whether connection `to` exists and is one of user `subject`'s or shares a room with
   * connection `from`: who a direct `send` may reach with auth on. One query, in place of
   * the look-up of `to` that an unchecked send makes.
   */
  reachable(from: string, subject: string, to: string): Promise<boolean>;
  /**
   * Gives a room message the room's next sequence number and keeps it in the room's
   * history, in one transaction: racing publishers (other containers, other handles) never
   * get the same number or leave one out, and no number exists without its message.
   * With `member`: only when that connection is in the room, checked in the same step;
   * 0 (no number taken, nothing kept) when it is not.
   */
  appendToRoom(room: string, entry: HistoryEntry, member?: string): Promise<number>;
  /**
   * A room's messages after `after`, oldest first, at most `limit` and at most `maxBytes` of
   * kept text (HISTORY_READ_BYTES by default), within the history's bounds (`window`), with the
   * room's latest number. The store reads no body past that budget: one query
   * (historyWalkQuery), and one more per gap in the room's numbers. With `member`, the same
   * query says whether that connection is in the room: when not, the page is empty and
   * `member` false.
   */
  roomHistory(
    room: string,
    after: number,
    limit: number,
    window: HistoryWindow,
    maxBytes?: number,
    member?: string,
  ): Promise<HistoryPage>;
  /** Deletes what is outside the history's bounds, in every room; returns how many messages. */
  trimHistory(window: HistoryWindow): Promise<number>;
}

/** One room message as kept: its frame as JSON text without `seq`, which the reader adds back. */
export interface HistoryEntry {
  id: string;
  /** Ms epoch, the frame's `sentAt`: what the age bound is measured on. */
  sentAt: number;
  body: string;
}

export interface StoredMessage extends HistoryEntry {
  seq: number;
}

/** What history keeps: the last `maxPerRoom` messages of a room, none sent before `notBefore`. */
export interface HistoryWindow {
  maxPerRoom: number;
  /** Ms epoch. */
  notBefore: number;
}

export interface HistoryPage {
  /** The room's latest sequence number; 0 for a room that never had a message. */
  latest: number;
  messages: StoredMessage[];
  /**
   * The number of the message in range that comes after `messages` but was not read: its
   * text would have taken the page past its byte budget. Absent when there is none (the
   * page ends at the room's last message in range, or at the limit).
   */
  next?: number;
  /** Asked with a `member`: false when that connection is not in the room (nothing else is said then). */
  member?: boolean;
}

/**
 * What one history read may load of kept text: API Gateway's 128 KB frame, the most one
 * `history` answer holds (src/chat/history.ts cuts it exactly). A message past it cannot be
 * in the answer, so it is not read.
 */
export const HISTORY_READ_BYTES = 128 * 1024;

/**
 * A keyset range of connection ids, in the store's id order: after `after` (exclusive; null
 * from the first id) up to `upTo` (inclusive; null to the last). A shard of a fan-out carries
 * its range, not its ids, and reads it in pages.
 */
export interface IdRange {
  after: string | null;
  upTo: string | null;
}

/** What part of a fan-out's audience has heard it, as its shards count it. */
export interface DeliveryCounts {
  sent: number;
  stale: number;
  failed: number;
  unsent: number;
}

/** A sharded delivery, as the store keeps it until its summary is claimed. */
export interface DeliveryRecord {
  deliveryId: string;
  shards: number;
  recipients: number;
  /** Opaque to the store: whom the final summary goes to and what it names (src/chat/fanout/shards.ts). */
  summaryTo: string;
}

/** One shard's progress: where its next page starts, and what it has counted so far. */
export interface ShardProgress extends DeliveryCounts {
  cursor: string | null;
  /** Invocations that started this shard, this one included (retries of Lambda count). */
  attempts: number;
  done: boolean;
}

export interface DeliveryState extends DeliveryCounts {
  deliveryId: string;
  shards: number;
  /** Shards finished (delivered or given up). */
  done: number;
  recipients: number;
  summaryTo: string;
  summarized: boolean;
}

/**
 * Paged audiences and the tallies of sharded deliveries, which both adapters implement
 * (src/chat/fanout/shards.ts uses them). Kept apart from ConnectionStore's older methods so the two
 * can be read on their own.
 */
export interface ShardStore {
  /** Connection ids of everyone (no room) or one room's members in `range`, in id order, at most `limit`. */
  audiencePage(room: string | undefined, range: IdRange, limit: number): Promise<string[]>;
  /** The `skip`-th id after `after` (1: the next one), or undefined when there are fewer. One index walk. */
  audienceMark(room: string | undefined, after: string | null, skip: number): Promise<string | undefined>;
  /** How many connections (or members of the room) there are. */
  audienceCount(room?: string): Promise<number>;
  /** Records a delivery and one unstarted row per shard. Idempotent on the delivery id. */
  openDelivery(delivery: DeliveryRecord, now: number): Promise<void>;
  /**
   * A shard's progress, the attempt that started at `now` counted (the row is made if missing).
   * `again`: this attempt's first call failed, so its count may already be written (an answer
   * lost after the commit): it is counted only when the row does not show it (`updated_at` is
   * not `now`), so a lost answer never counts one attempt twice.
   */
  startShard(deliveryId: string, shard: number, now: number, again?: boolean): Promise<ShardProgress>;
  /** Saves a shard's cursor and running counts after a page, so a retry resumes there. */
  saveShard(
    deliveryId: string,
    shard: number,
    cursor: string | null,
    counts: DeliveryCounts,
    now: number,
  ): Promise<void>;
  /**
   * Marks the shard done with its final counts and adds them to the delivery, once however
   * often it is called. Returns the delivery's totals to the one caller that finished its last
   * shard and so claimed its summary (exactly one caller gets them), undefined to every other.
   */
  finishShard(deliveryId: string, shard: number, counts: DeliveryCounts): Promise<DeliveryState | undefined>;
  /** The delivery's tally, or undefined if the store does not know it. */
  deliveryState(deliveryId: string): Promise<DeliveryState | undefined>;
  /**
   * Shards of any delivery started, not done, and seen working since `since` (ms epoch): they share
   * the stage's rate. A shard waiting for Lambda to run it takes no share.
   */
  activeShards(since: number): Promise<number>;
  /** Forgets deliveries (and their shards) opened before `cutoff` (ms epoch); returns how many. */
  removeDeliveriesBefore(cutoff: number): Promise<number>;
  /** Deliveries opened before `openedBefore` (ms epoch) whose summary nobody claimed, oldest first, at most `limit`. */
  abandonedDeliveries(openedBefore: number, limit: number): Promise<string[]>;
  /**
   * Ends a delivery whose shards are gone, in one transaction: every shard not done is marked
   * done with the counts it saved, what no shard counted is added to `failed`
   * (`endedTotals`), and the summary is claimed. A shard finishing at the same moment either
   * finishes first (its counts are in) or finds its row done. Returns the totals and how many
   * shards it ended, or undefined when the summary was claimed already (by a shard, or another
   * sweep).
   */
  endDelivery(deliveryId: string): Promise<EndedDelivery | undefined>;
}

/** What `endDelivery` claimed: the delivery's totals, and the shards it found not done. */
export interface EndedDelivery {
  state: DeliveryState;
  unfinished: number;
}

/**
 * A delivery's totals when the sweep ends it: what its finished shards counted, what its
 * unfinished ones saved, and every recipient neither counted as `failed`, as a shard given up
 * on its last attempt counts what it did not reach.
 */
export function endedTotals(delivery: DeliveryState, unfinished: readonly DeliveryCounts[]): DeliveryCounts {
  const totals = { sent: delivery.sent, stale: delivery.stale, failed: delivery.failed, unsent: delivery.unsent };
  for (const shard of unfinished) {
    totals.sent += shard.sent;
    totals.stale += shard.stale;
    totals.failed += shard.failed;
    totals.unsent += shard.unsent;
  }
  const counted = totals.sent + totals.stale + totals.failed + totals.unsent;
  totals.failed += Math.max(0, delivery.recipients - counted);
  return totals;
}

/** The tables of sharded deliveries, beside the connections' (same validated prefix). */
export function shardTableNames(prefix: string): { deliveries: string; shards: string } {
  return { deliveries: `${prefix}deliveries`, shards: `${prefix}delivery_shards` };
}

export interface DeliveryRow {
  delivery_id: string;
  shards: number | string;
  done: number | string;
  recipients: number | string;
  sent: number | string;
  stale: number | string;
  failed: number | string;
  unsent: number | string;
  summary_to: string;
  summarized: number | string;
}

export function toDeliveryState(row: DeliveryRow): DeliveryState {
  return {
    deliveryId: row.delivery_id,
    shards: Number(row.shards),
    done: Number(row.done),
    recipients: Number(row.recipients),
    sent: Number(row.sent),
    stale: Number(row.stale),
    failed: Number(row.failed),
    unsent: Number(row.unsent),
    summaryTo: row.summary_to,
    summarized: Number(row.summarized) === 1,
  };
}

/** The index that finds a user's connections (direct messages); added to older tables at cold start. */
export const SUBJECT_INDEX = 'idx_subject';

/** Ids per DELETE statement: well under MySQL's 65,535 and SQLite's 32,766 placeholders. */
export const DELETE_CHUNK = 5000;

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The history's tables: each room's last number, and its kept messages. */
export function historyTables(prefix: string): { sequences: string; history: string } {
  return { sequences: `${prefix}room_sequences`, history: `${prefix}room_history` };
}

/** Table names are fixed identifiers plus a validated prefix, never user input. */
/** A room's members for presence events: who is there (counted) and who may hear of arrivals and departures. */
export interface PresencePage {
  count: number;
  members: { connectionId: string; seesPresence: boolean }[];
}

/**
 * The memberships whose joiner may see the room's presence, one row each, kept in step
 * with the members table. A table of its own, not a column: CREATE TABLE IF NOT EXISTS
 * works on an existing MySQL 8 schema, where ADD COLUMN IF NOT EXISTS does not exist.
 */
export function presenceTable(prefix: string): string {
  return `${prefix}room_presence`;
}

export function tableNames(prefix: string): { connections: string; members: string } {
  return { connections: `${prefix}connections`, members: `${prefix}room_members` };
}

export interface ConnectionRow {
  connection_id: string;
  connected_at: number | string;
  subject: string | null;
}

export function toConnection(row: ConnectionRow): Connection {
  return { connectionId: row.connection_id, connectedAt: Number(row.connected_at), subject: row.subject };
}

export type HistoryRow = {
  latest: number | string;
  seq: number | string | null;
  id: string | null;
  sent_at: number | string | null;
  body: string | null;
  /** historyWalkQuery with `members`: 1 when the connection is in the room. */
  member?: number | string;
};

/**
 * One step of a history read, the same SQL for both adapters (each quotes its own table names):
 * a walk along the room's numbers from the first message in range, one primary-key read a step,
 * adding up the bytes of the text (OCTET_LENGTH: bytes in MySQL, MariaDB and SQLite alike), that
 * stops at the first message that takes the sum past the budget, or at the limit. Then the text
 * of the messages within the budget only, and the number (no text) of the one that went past.
 * Reading every message up to `limit` and cutting in JavaScript pulled 1,000 × 120 KB through
 * the connection for one 128 KB answer; summing the lengths of all of them in SQL still read
 * every text on the server (BENCHMARKS.md#room-history). The walk is one recursive step per
 * message, at most `limit` (1,000) of them: within MySQL's cte_max_recursion_depth and MariaDB's
 * max_recursive_iterations (both 1,000 by default). It follows consecutive numbers: a number
 * missing (or out of the window) in the middle ends it, and readHistoryPage walks on from there.
 * readHistoryPage gives its values.
 */
export function historyWalkQuery(tables: { sequences: string; history: string; members?: string }): string {
  const { sequences, history, members } = tables;
  const walk = `WITH RECURSIVE walk (seq, total, n) AS (
      SELECT h.seq, OCTET_LENGTH(h.body), 1
      FROM ${sequences} s JOIN ${history} h ON h.room = s.room
      WHERE s.room = ? AND h.seq = (
        SELECT MIN(f.seq) FROM ${history} f
        WHERE f.room = s.room AND f.seq > ? AND f.seq > s.seq - ? AND f.sent_at >= ?)
      UNION ALL
      SELECT h.seq, w.total + OCTET_LENGTH(h.body), w.n + 1
      FROM walk w JOIN ${history} h ON h.room = ? AND h.seq = w.seq + 1 AND h.sent_at >= ?
      WHERE w.total <= ? AND w.n < ?
    )`;
  const page = `SELECT s.seq AS latest, w.seq, h.id, h.sent_at, h.body
    FROM ${sequences} s
      LEFT JOIN walk w ON 1 = 1
      LEFT JOIN ${history} h ON h.room = s.room AND h.seq = w.seq AND w.total <= ?
    WHERE s.room = ?`;
  if (members === undefined) return `${walk} ${page} ORDER BY w.seq`;
  // With whether a connection is in the room (two values more: the room, the connection), on
  // one row at least, also for a room without messages: the read is its membership check too.
  return `${walk} SELECT q.*, mm.connection_id IS NOT NULL AS member
    FROM (SELECT 1 AS one) one LEFT JOIN (${page}) q ON 1 = 1
      LEFT JOIN ${members} mm ON mm.room = ? AND mm.connection_id = ?
    ORDER BY q.seq`;
}

/** What one history read asks for (ConnectionStore.roomHistory's arguments). */
export interface HistoryRequest {
  room: string;
  after: number;
  limit: number;
  window: HistoryWindow;
  /** HISTORY_READ_BYTES when absent. */
  maxBytes?: number | undefined;
}

/**
 * A history page from walks (`walk` runs historyWalkQuery with the values given): usually one.
 * A walk that ended before the room's last number without reaching the budget or the limit met
 * a number missing in the middle (a message the trim took out of order, or one outside the
 * window): the next walk starts after it, with what is left of the budget and the limit.
 */
export async function readHistoryPage(
  walk: (values: unknown[]) => Promise<HistoryRow[]>,
  { room, after, limit, window, maxBytes = HISTORY_READ_BYTES }: HistoryRequest,
): Promise<HistoryPage> {
  const { maxPerRoom, notBefore } = window;
  const messages: StoredMessage[] = [];
  let latest = 0;
  let bytes = 0;
  let cursor = after;
  for (;;) {
    const left = { count: limit - messages.length, bytes: Math.max(0, maxBytes - bytes) };
    const rows = await walk([
      room,
      cursor,
      maxPerRoom,
      notBefore,
      room,
      notBefore,
      left.bytes,
      left.count,
      left.bytes,
      room,
    ]);
    latest = Number(rows[0]?.latest ?? latest);
    let walked = false;
    for (const row of rows) {
      if (row.seq === null) continue;
      walked = true;
      if (row.id === null || row.body === null) return { latest, messages, next: Number(row.seq) };
      messages.push({ seq: Number(row.seq), id: row.id, sentAt: Number(row.sent_at), body: row.body });
      bytes += Buffer.byteLength(row.body);
    }
    const last = messages.at(-1)?.seq ?? cursor;
    if (!walked || messages.length >= limit || last >= latest) return { latest, messages };
    cursor = last;
  }
}

/** Who an audience is, as a query's FROM and WHERE: the whole table, or one room's members. */
export interface AudienceScope {
  from: string;
  where: string[];
  values: unknown[];
}

/**
 * The keyset page of an audience, the same SQL for both adapters (each quotes its own table
 * names in `scope.from`): one index range read on the primary key, however deep the page.
 */
export function audiencePageQuery(
  scope: AudienceScope,
  range: IdRange,
  limit: number,
): { sql: string; values: unknown[] } {
  const where = [...scope.where];
  const values = [...scope.values];
  if (range.after !== null) {
    where.push('connection_id > ?');
    values.push(range.after);
  }
  if (range.upTo !== null) {
    where.push('connection_id <= ?');
    values.push(range.upTo);
  }
  const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  return {
    sql: `SELECT connection_id FROM ${scope.from} ${condition} ORDER BY connection_id LIMIT ?`,
    values: [...values, limit],
  };
}
