/**
 * After a route's answer: the connections its posts found gone (src/chat/fanout/gone.ts) get what
 * their `$disconnect` would have given them, which now finds their rows gone and sends nothing:
 * `connection.closed` (reason `gone`), their departures (debounced as any) and their rooms'
 * presence leave. The presence posts may find more connections gone; they are closed in turn,
 * within the route's CLOSE_BUDGET. Never throws: it runs after the answer, whatever it meets.
 */
import { log } from '../log';
import { announceDeparture } from './announce';
import type { Courier } from './session';

// The events module is loaded when a connection was found gone, not by every route.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lifecycle = () => require('../events/lifecycle') as typeof import('../events/lifecycle');

export async function closeGone(courier: Courier & { presenceMaxMembers: number }): Promise<void> {
  const ledger = courier.gone;
  if (ledger === undefined) return;
  for (let gone = ledger.pending.shift(); gone !== undefined; gone = ledger.pending.shift()) {
    const { who, rooms, departures } = gone;
    try {
      const events = lifecycle();
      await events.safely('connection.closed', { connectionId: who.connectionId }, () =>
        events.closedWithDepartures(courier, who, departures, 'gone'),
      );
      if (rooms.length > 0 && courier.presenceMaxMembers > 0) {
        await announceDeparture({ ...courier, ...who }, rooms);
      }
    } catch (error) {
      log.error('closing a gone connection failed', { connectionId: who.connectionId, error });
    }
  }
}
