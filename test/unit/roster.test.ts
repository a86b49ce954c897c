/**
 * The chat page's member lists (web/roster.ts): a `members` answer read before a join or leave
 * may arrive after that join's or leave's presence event; the newer news must survive it.
 */
import { Roster } from '../../web/roster';

const alice = { connectionId: 'A', from: 'alice' };
const bob = { connectionId: 'B', from: 'bob' };
const carol = { connectionId: 'C', from: 'carol' };

function names(roster: Roster, room: string): (string | null)[] {
  const people = roster.list().find(([name]) => name === room)?.[1];
  return people ? [...people.values()] : [];
}

describe('Roster', () => {
  it('keeps someone whose join arrived before an answer read before they joined', () => {
    const roster = new Roster();
    roster.asked('lobby'); // alice joined and asks who is there; the server reads [alice]
    roster.changed('lobby', { event: 'join', ...bob }); // bob joins at once; his news comes first
    roster.answered('lobby', [alice]); // then the answer read before he joined
    expect(names(roster, 'lobby')).toEqual(['alice', 'bob']);
  });

  it('drops someone whose leave arrived before an answer that still listed them', () => {
    const roster = new Roster();
    roster.asked('lobby');
    roster.changed('lobby', { event: 'leave', ...bob });
    roster.answered('lobby', [alice, bob]);
    expect(names(roster, 'lobby')).toEqual(['alice']);
  });

  it('applies the changes in the order received (joined, then left: gone)', () => {
    const roster = new Roster();
    roster.asked('lobby');
    roster.changed('lobby', { event: 'join', ...bob });
    roster.changed('lobby', { event: 'leave', ...bob });
    roster.answered('lobby', [alice, bob]);
    expect(names(roster, 'lobby')).toEqual(['alice']);
  });

  it('takes a later answer as it is once the awaited one came (it is the newer news)', () => {
    const roster = new Roster();
    roster.asked('lobby');
    roster.changed('lobby', { event: 'join', ...bob });
    roster.answered('lobby', [alice, bob]);
    roster.asked('lobby'); // asked again (a rejoin after a reconnect): bob has gone meanwhile
    roster.answered('lobby', [alice]);
    expect(names(roster, 'lobby')).toEqual(['alice']);
  });

  it('keeps the changes until every answer awaited came, with two questions in flight', () => {
    const roster = new Roster();
    roster.asked('lobby');
    roster.asked('lobby');
    roster.changed('lobby', { event: 'join', ...carol });
    roster.answered('lobby', [alice]); // the first answer, read before carol joined
    expect(names(roster, 'lobby')).toEqual(['alice', 'carol']);
    roster.answered('lobby', [alice]); // the second, also read before
    expect(names(roster, 'lobby')).toEqual(['alice', 'carol']);
    roster.answered('lobby', [alice]); // not awaited: as it is
    expect(names(roster, 'lobby')).toEqual(['alice']);
  });

  it('ignores news of rooms the page is not in, and forgets a room it left', () => {
    const roster = new Roster();
    roster.changed('lobby', { event: 'join', ...bob });
    roster.answered('lobby', [alice]);
    expect(roster.size).toBe(0);
    roster.asked('lobby');
    expect(roster.left('lobby')).toBe(true);
    expect(roster.left('lobby')).toBe(false);
    roster.answered('lobby', [alice]); // an answer that arrives after leaving
    expect(roster.size).toBe(0);
  });

  it('lists rooms by name, and clear() leaves none', () => {
    const roster = new Roster();
    roster.asked('zoo');
    roster.asked('attic');
    expect(roster.list().map(([room]) => room)).toEqual(['attic', 'zoo']);
    roster.clear();
    expect(roster.list()).toEqual([]);
  });
});
