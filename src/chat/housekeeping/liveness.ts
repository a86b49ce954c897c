/**
 * The liveness sweep. `$disconnect` is best effort (API Gateway may never call it, a function
 * may time out after a close storm, a process may be killed), so rows can outlive their
 * sockets; until now they stayed until a post met a 410 or the 2-hour sweep. This asks API
 * Gateway about each row older than `minAgeMs` with GetConnection, oldest first, in bounded
 * batches, until the budget is spent: a 410 removes the row with its memberships, and the
 * rooms it was in hear it left (presence). A row the API does not answer for is kept (the
 * next sweep asks again); only a 410 removes.
 */
import type { Connection } from '../../data';
import { fanOut } from '../fanout/delivery';
import { announce } from '../announce';
import type { Courier } from '../session';
import { log } from '../../log';
import { connectionClosed, safely } from '../../events/lifecycle';

/** 'alive' (200), 'gone' (410), or 'unknown' (anything else, a timeout): only 'gone' removes. */
export type Liveness = 'alive' | 'gone' | 'unknown';

export interface LivenessOptions {
  /** Rows younger than this are not asked about: their `$connect` may still be finishing. */
  minAgeMs: number;
  /** Rows per batch: one page read, that many GetConnection calls, one batched delete. */
  batchSize: number;
  presenceMaxMembers: number;
  now?: number;
}

export interface LivenessResult {
  checked: number;
  removed: number;
  /** Rows the API did not answer 200 or 410 for. */
  unknown: number;
  /** True when the budget ran out before the last page. */
  incomplete: boolean;
}

/**
 * One sweep. `probe` asks about one connection; `courier.deadline` bounds the whole sweep (no
 * batch starts after it, and a batch's probes are not started after it either).
 */
export async function sweepLiveness(
  courier: Courier,
  probe: (connectionId: string, deadline: number) => Promise<Liveness>,
  options: LivenessOptions,
): Promise<LivenessResult> {
  const cutoff = (options.now ?? Date.now()) - options.minAgeMs;
  const result: LivenessResult = { checked: 0, removed: 0, unknown: 0, incomplete: false };
  let after: Connection | undefined;
  for (;;) {
    if (Date.now() >= courier.deadline) {
      result.incomplete = true;
      break;
    }
    const page = await courier.store.connectedBefore(cutoff, options.batchSize, after);
    if (page.length === 0) break;
    after = page[page.length - 1];
    const answers = new Map<string, Liveness>();
    await fanOut(
      page.map((row) => row.connectionId),
      async (id) => void answers.set(id, await probe(id, courier.deadline)),
      { concurrency: courier.concurrency, deadline: courier.deadline },
    );
    const gone = [...answers].filter(([, answer]) => answer === 'gone').map(([id]) => id);
    result.checked += answers.size;
    result.unknown += [...answers.values()].filter((answer) => answer === 'unknown').length;
    if (gone.length > 0) await removeGone(courier, page, gone, options.presenceMaxMembers);
    result.removed += gone.length;
    if (answers.size < page.length) {
      result.incomplete = true; // the deadline stopped the batch
      break;
    }
    if (page.length < options.batchSize) break;
  }
  log.info('liveness sweep done', { route: 'sweep', ...result });
  return result;
}

/** Reads the rooms of the gone connections, removes them in one batch, then tells each room. */
async function removeGone(
  courier: Courier,
  page: readonly Connection[],
  gone: readonly string[],
  presenceMaxMembers: number,
): Promise<void> {
  const roomsOf = new Map<string, string[]>();
  for (const id of gone) roomsOf.set(id, await courier.store.roomsOf(id));
  await courier.store.removeMany(gone);
  log.info('removed connections that API Gateway no longer knows', { route: 'sweep', removed: gone.length });
  const subjects = new Map(page.map((row) => [row.connectionId, row.subject]));
  await closeAll(courier, roomsOf, subjects);
  if (presenceMaxMembers <= 0) return;
  for (const [connectionId, rooms] of roomsOf) {
    for (const room of rooms) {
      if (Date.now() >= courier.deadline) return;
      const who = { connectionId, subject: subjects.get(connectionId) ?? null };
      await announce({ ...courier, presenceMaxMembers }, room, 'leave', who, 'disconnect');
    }
  }
}

/**
 * The `connection.closed` (reason `sweep`) of each removed connection, and its rooms'
 * departures: no debounce, a connection the sweep finds gone has been gone for minutes.
 */
export async function closeAll(
  courier: Pick<Courier, 'store' | 'deadline'>,
  roomsOf: ReadonlyMap<string, readonly string[]>,
  subjects: ReadonlyMap<string, string | null>,
): Promise<void> {
  for (const [connectionId, rooms] of roomsOf) {
    const who = { connectionId, subject: subjects.get(connectionId) ?? null };
    await safely('connection.closed', { route: 'sweep', connectionId }, () =>
      connectionClosed(courier, who, rooms, 'sweep', 0),
    );
  }
}
