/**
 * `$connect`'s part of the store: the connection's row, added so that a lost answer never
 * leaves a half-connection, and the per-user connection limit.
 */
import type { ConnectionStore } from '../data';
import { StoreError } from '../errors';
import { log } from '../log';
import { settle, STORE_OPERATION_MS } from '../store/settle';

/** Adds the connection's row; throws (the handshake is refused) when the insert's answer was lost. */
export async function addConnection(
  store: ConnectionStore,
  connection: { connectionId: string; connectedAt: number; subject: string | null },
  deadline: number,
): Promise<void> {
  const { connectionId } = connection;
  // A lost answer to the insert: the handshake is refused, so its row is deleted on the way out.
  const stored = await settle(
    { operation: 'add', connectionId, deadline, attemptMs: STORE_OPERATION_MS },
    async () => {
      await store.add(connection);
      return true;
    },
    async () => {
      await store.remove(connectionId);
      return false;
    },
  );
  if (!stored)
    throw new StoreError("the insert's answer was lost: its row is removed and the handshake refused", 'add');
}

/**
 * MAX_CONNECTIONS_PER_USER, counted after the row is added so that parallel handshakes of
 * one user each see the others: racing ones may all be refused, never all admitted. A
 * refused connection's row is removed at once (the handshake fails, so no `$disconnect`).
 */
export async function overUserLimit(
  store: ConnectionStore,
  connectionId: string,
  subject: string,
  max: number,
): Promise<boolean> {
  const count = (await store.connectionsOf(subject)).length;
  if (count <= max) return false;
  await store.remove(connectionId);
  log.warn('connection refused: too many connections of this user', {
    route: '$connect',
    connectionId,
    subject,
    reason: 'too_many_connections',
    limit: max,
  });
  return true;
}
