/**
 * A Session (what src/handler.ts hands the chat code for one message) for tests and the
 * bench, built as the handler builds it: every right with auth off, `list` scoped to one's own
 * user, the default history bounds. A caller gives what its case is about and keeps the rest.
 */
import { ALL_ROOMS } from '../../../src/auth/rooms';
import type { Session } from '../../../src/chat/actions';
import { DEFAULT_HISTORY } from '../../../src/config';

export function chatSession(parts: Pick<Session, 'store' | 'outbox' | 'connectionId'> & Partial<Session>): Session {
  return {
    subject: null,
    rooms: ALL_ROOMS,
    listScope: 'own',
    concurrency: 50,
    deadline: Date.now() + 60_000,
    listPageSize: 100,
    presenceMaxMembers: 100,
    history: DEFAULT_HISTORY,
    ...parts,
  };
}
