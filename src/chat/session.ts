/**
 * What every chat action is given: the connection's session (its store, outbox, rights and
 * budgets), and the one way to answer the sender.
 */
import type { ConnectionStore } from '../data';
import { StaleConnectionError } from '../errors';
import type { HistorySettings } from './history';
import { log } from '../log';
import type { Sharding } from './fanout/shards';
import { removeGone } from './fanout/gone';
import type { GoneLedger } from './fanout/gone';
import type { ServerMessage } from './frames';
import { encode } from './outbox';
import type { Outbox } from './outbox';
import type { RoomRights } from '../auth/rooms';

export type { Outbox };

export interface Session {
  store: ConnectionStore;
  outbox: Outbox;
  connectionId: string;
  /** The authorizer's subject, or null on an open endpoint. */
  subject: string | null;
  concurrency: number;
  /** Ms epoch: no delivery starts after it. */
  deadline: number;
  listPageSize: number;
  /** Presence events only for rooms of at most this many members; 0: none (src/chat/presence.ts). */
  presenceMaxMembers: number;
  /** The token's rights per room (src/auth/rooms.ts); every right on every room with auth off. */
  rooms: RoomRights;
  /** With auth on, `list` shows only the caller's own user's connections unless this is `all`. */
  listScope: 'own' | 'all';
  /** How long and how many room messages history keeps (src/chat/history.ts). */
  history: HistorySettings;
  /** Audiences above its size go to the `deliver` function in shards (src/chat/fanout/shards.ts); none: never. */
  sharding?: Sharding | undefined;
  /** The connections its posts found gone, closed after the answer (src/chat/fanout/gone.ts); none: removed alone. */
  gone?: GoneLedger | undefined;
}

/** What a delivery needs, with or without a sender connection (src/chat/push.ts has none). */
export type Courier = Pick<Session, 'store' | 'outbox' | 'concurrency' | 'deadline' | 'sharding' | 'gone'>;

/** Whom a message is for: at most one of these; none is everyone. `to` is one connection. */
export interface Target {
  room?: string;
  user?: string;
  to?: string;
}

/**
 * Replies to the sender. A sender that is already gone (410) is removed from the store as any
 * connection a post finds gone (src/chat/fanout/gone.ts), and that is not a failure of the request.
 */
export async function reply(session: Session, message: ServerMessage | Uint8Array): Promise<void> {
  const bytes = message instanceof Uint8Array ? message : encode(message);
  try {
    await session.outbox.send(session.connectionId, bytes, session.deadline);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    log.warn('sender is gone; removing it', { connectionId: session.connectionId });
    await removeGone(session, [session.connectionId]);
  }
}
