/**
 * Connections a post found gone (410). Each is removed as `$disconnect` removes one: its row and
 * memberships in one step that answers its rooms (each with its tally after it) and marks its
 * departures, so that its events and its rooms' presence leave can follow after the route's
 * answer (src/chat/closings.ts). Removing the rows alone, as before, lost the rooms: the
 * `$disconnect` that came after found none, and no `member.left`, `room.vacated` or presence
 * leave was ever sent for them. A route closes at most CLOSE_BUDGET so: a mass disconnect must not
 * spend its budget there; the rest are removed alone, as before.
 */
import type { ConnectionStore, Departure } from '../../data';
import type { PresenceTally } from '../../store/user-presence';

export const CLOSE_BUDGET = 25;

/** A gone connection removed with its rooms, waiting for its events and presence leave. */
export interface GoneConnection {
  who: { connectionId: string; subject: string | null };
  rooms: { room: string; tally: PresenceTally }[];
  departures: Departure[];
}

/** One route's gone connections: how many it closed, and those whose events are still to come. */
export interface GoneLedger {
  closed: number;
  pending: GoneConnection[];
}

export function goneLedger(): GoneLedger {
  return { closed: 0, pending: [] };
}

/** Removes the connections a fan-out found gone: counted while the route's budget lasts, else alone. */
export async function removeGone(
  courier: { store: Pick<ConnectionStore, 'removeMany' | 'removeCounted'>; gone?: GoneLedger | undefined },
  stale: readonly string[],
): Promise<void> {
  const ledger = courier.gone;
  const counted = ledger === undefined ? [] : stale.slice(0, Math.max(0, CLOSE_BUDGET - ledger.closed));
  const rest = stale.slice(counted.length);
  if (rest.length > 0) await courier.store.removeMany(rest);
  if (ledger === undefined) return;
  const at = Date.now();
  for (const connectionId of counted) {
    ledger.closed++;
    const removal = await courier.store.removeCounted(connectionId, at, null);
    // A row already gone was closed by whoever removed it ($disconnect, the sweep, another post).
    if (!removal.known) continue;
    ledger.pending.push({
      who: { connectionId, subject: removal.subject },
      rooms: removal.rooms,
      departures: removal.departures,
    });
  }
}
