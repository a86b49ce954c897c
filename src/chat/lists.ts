/**
 * List replies (`connections`, `members`): a page of entries in one frame.
 */
import type { Connection } from '../data';
import { MAX_MESSAGE_BYTES } from './protocol';
import type { ServerMessage } from './frames';
import { encode } from './outbox';
import { reply } from './session';
import type { Session } from './session';

function describeConnection(connection: Connection) {
  return { connectionId: connection.connectionId, connectedAt: connection.connectedAt, from: connection.subject };
}

/**
 * Replies with a page of a list (`connections`, `members`) in one frame. A page is ~100
 * bytes an entry, but an entry's `from` can take 1.5 KB (255 characters JSON escapes to 6
 * bytes each), and LIST_PAGE_SIZE goes up to 1,000: send the first entries that fit in one
 * frame (found by bisection), marked truncated like any page.
 */
export async function replyWithPage<T>(
  session: Session,
  entries: readonly T[],
  count: number,
  pageOf: (shown: readonly T[], truncated: boolean) => ServerMessage,
): Promise<void> {
  const listOf = (shown: number) => pageOf(entries.slice(0, shown), count > shown);
  const fits = (shown: number) => encode(listOf(shown)).byteLength <= MAX_MESSAGE_BYTES;
  let shown = entries.length;
  if (!fits(shown)) {
    let [low, high] = [0, shown]; // fits(low), !fits(high)
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (fits(middle)) low = middle;
      else high = middle;
    }
    shown = low;
  }
  await reply(session, listOf(shown));
}

/** With auth on, no directory of users: a user sees its own connections (LIST_SCOPE: all restores everyone's). */
export async function listConnections(session: Session): Promise<void> {
  const page =
    session.subject !== null && session.listScope === 'own'
      ? await session.store.listOf(session.subject, session.listPageSize)
      : await session.store.list(session.listPageSize);
  await replyWithPage(session, page.connections.map(describeConnection), page.count, (connections, truncated) => ({
    type: 'connections',
    you: session.connectionId,
    count: page.count,
    connections,
    truncated,
  }));
}
