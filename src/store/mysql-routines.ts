/**
 * The stored procedures of the MySQL schema: the store's steps that need more than one
 * statement, each in one round trip (docs/architecture.md#round-trips-per-route). A procedure
 * takes its values as parameters, as every statement of the store does, so no SQL is ever built
 * from a client's text, and the connection needs no `multipleStatements` (which would let one
 * escaping mistake anywhere run a second statement). Made by the schema's migration 3
 * (./mysql-schema.ts); a later change to one is a new migration that makes it again.
 *
 * SQL SECURITY INVOKER: a procedure runs with the caller's rights on the tables, so the
 * application's database user needs EXECUTE on them and nothing more than it has already.
 * Text parameters name their character set: a parameter takes the database's default otherwise.
 */
/** The tables the procedures use (./mysql-schema.ts's SchemaTables has them). */
interface RoutineTables {
  connections: string;
  members: string;
  presence: string;
  sequences: string;
  history: string;
  departures: string;
}

export interface RoutineNames {
  /**
   * joinCounted(): the limit, the membership and its presence row, in one READ COMMITTED
   * transaction; then the tally after it and the returns it takes back.
   */
  join: string;
  /** leaveCounted(): the membership and its presence row, the tally after it and the departures it leaves. */
  leave: string;
  /** appendToRoom(): the membership check (when asked), the room's next number and the history row. */
  append: string;
  /** claimDepartures(): a leave's departures (the user's, the room's) claimed together. */
  claim: string;
  /**
   * remove() and removeCounted(): a connection's row, the tallies of its rooms after it and the
   * departures it leaves, then its memberships and their presence rows.
   */
  remove: string;
}

export function routineNames(prefix: string): RoutineNames {
  return {
    join: `${prefix}join_room`,
    leave: `${prefix}leave_room`,
    append: `${prefix}append_to_room`,
    remove: `${prefix}remove_connection`,
    claim: `${prefix}claim_departures`,
  };
}

/**
 * A procedure commits on the server whether or not its caller still waits for it: a caller that
 * gave up (its operation's budget spent, the connection closed) no longer rolls it back by
 * leaving, as it did a transaction it had not committed yet. So its row-lock waits end within
 * the caller's budget (`in_wait`, whole seconds, at least 1): one stuck behind another
 * transaction gives up on the server too and leaves nothing. The session's own setting is put
 * back at the end, and on an error, which also undoes the transaction and is handed on as it was.
 */
const BOUNDED_WAITS = `DECLARE v_wait INT DEFAULT @@SESSION.innodb_lock_wait_timeout;
         DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN
           ROLLBACK;
           SET SESSION innodb_lock_wait_timeout = v_wait;
           RESIGNAL;
         END;
         SET SESSION innodb_lock_wait_timeout = in_wait;`;

/**
 * A room's memberships whose connection row is there, and those of one user among them (by
 * subject; with none, by connection), as the store's tally() counts them. `room` is an
 * expression: a parameter, or the room of an outer row.
 */
function tallies(t: RoutineTables, room: string, subject: string, connection: string) {
  const from = `FROM \`${t.members}\` m2 JOIN \`${t.connections}\` c2 ON c2.connection_id = m2.connection_id
             WHERE m2.room = ${room}`;
  const mine = `IF(${subject} IS NULL, c2.connection_id = ${connection}, c2.subject = ${subject})`;
  return {
    room: `(SELECT COUNT(*) ${from})`,
    user: `(SELECT COUNT(*) ${from} AND ${mine})`,
  };
}

/**
 * Records a departure (as markDeparture() does): the user's key is the subject, or the
 * connection with auth off; the room's own is '' (ROOM_KEY). A later one replaces it.
 */
function departure(t: RoutineTables, select: string): string {
  return `INSERT INTO \`${t.departures}\` (room, who, departed_at, connection_id, subject) ${select}
           ON DUPLICATE KEY UPDATE departed_at = VALUES(departed_at), connection_id = VALUES(connection_id),
             subject = VALUES(subject)`;
}

/** Whole seconds of row-lock wait a procedure may spend of what is left until `deadline`. */
export function lockWaitSeconds(deadline: number, now = Date.now()): number {
  // Half a second kept for the answer's way back; never below MySQL's minimum of 1.
  return Math.max(1, Math.floor((deadline - now - 500) / 1000));
}

/**
 * Each procedure's CREATE statement, by name. The statements and their order are those the
 * store sent one round trip each before (./mysql.ts, ./mysql-history.ts say why each is so).
 */
export function routineDefinitions(t: RoutineTables, r: RoutineNames): [string, string][] {
  const joinTally = tallies(t, 'in_room', 'in_subject', 'in_connection');
  const removeTally = tallies(t, 'm.room', 'v_subject', 'in_connection');
  return [
    [
      r.join,
      // FOR UPDATE on the connection's row queues the joins of one connection; under READ
      // COMMITTED the count that follows sees every membership committed before the lock.
      // With in_count, after COMMIT, as tally() and claimReturn() ran after it: the tally counts
      // what is committed, and a return takes back the departure its own arrival would not tell.
      `CREATE PROCEDURE \`${r.join}\`(IN in_connection VARBINARY(128), IN in_room VARBINARY(64),
         IN in_max INT, IN in_sees TINYINT, IN in_wait INT, IN in_subject VARBINARY(1020), IN in_count TINYINT)
       SQL SECURITY INVOKER
       BEGIN
         DECLARE v_known INT DEFAULT 0;
         DECLARE v_rooms INT DEFAULT 0;
         DECLARE v_here INT DEFAULT 0;
         DECLARE v_result VARCHAR(20) CHARACTER SET ascii DEFAULT 'joined';
         DECLARE v_room INT DEFAULT NULL;
         DECLARE v_user INT DEFAULT NULL;
         DECLARE v_room_back INT DEFAULT 0;
         DECLARE v_user_back INT DEFAULT 0;
         ${BOUNDED_WAITS}
         SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
         START TRANSACTION;
         SELECT COUNT(*) INTO v_known FROM \`${t.connections}\` WHERE connection_id = in_connection FOR UPDATE;
         IF v_known = 0 THEN
           SET v_result = 'unknown_connection';
         ELSE
           SELECT COUNT(*), COALESCE(SUM(room = in_room), 0) INTO v_rooms, v_here
             FROM \`${t.members}\` WHERE connection_id = in_connection;
           IF v_here > 0 THEN
             SET v_result = 'already_member';
           ELSEIF v_rooms >= in_max THEN
             SET v_result = 'limit_reached';
           ELSE
             INSERT INTO \`${t.members}\` (room, connection_id) VALUES (in_room, in_connection);
             IF in_sees <> 0 THEN
               INSERT IGNORE INTO \`${t.presence}\` (room, connection_id) VALUES (in_room, in_connection);
             END IF;
           END IF;
         END IF;
         COMMIT;
         IF v_result = 'joined' AND in_count <> 0 THEN
           SET v_room = ${joinTally.room};
           SET v_user = ${joinTally.user};
           IF v_room = 1 THEN
             DELETE FROM \`${t.departures}\` WHERE room = in_room AND who = '';
             SET v_room_back = ROW_COUNT() > 0;
           END IF;
           IF v_user = 1 THEN
             DELETE FROM \`${t.departures}\` WHERE room = in_room AND who = COALESCE(in_subject, in_connection);
             SET v_user_back = ROW_COUNT() > 0;
           END IF;
         END IF;
         SET SESSION innodb_lock_wait_timeout = v_wait;
         SELECT v_result AS result, v_room AS room_count, v_user AS user_count,
           v_room_back AS room_back, v_user_back AS user_back;
       END`,
    ],
    [
      r.leave,
      // One statement a step, as leave(), tally() and markDeparture() were: the membership and
      // its presence row go together (a multi-table DELETE), so a leave that is done is whole.
      `CREATE PROCEDURE \`${r.leave}\`(IN in_connection VARBINARY(128), IN in_room VARBINARY(64),
         IN in_subject VARBINARY(1020), IN in_at BIGINT)
       SQL SECURITY INVOKER
       BEGIN
         DECLARE v_was INT DEFAULT 0;
         DECLARE v_room INT DEFAULT NULL;
         DECLARE v_user INT DEFAULT NULL;
         DELETE m, p FROM \`${t.members}\` m
           LEFT JOIN \`${t.presence}\` p ON p.room = m.room AND p.connection_id = m.connection_id
           WHERE m.room = in_room AND m.connection_id = in_connection;
         SET v_was = ROW_COUNT() > 0;
         IF v_was THEN
           SET v_room = ${joinTally.room};
           SET v_user = ${joinTally.user};
           IF v_user = 0 THEN
             ${departure(t, 'SELECT in_room, COALESCE(in_subject, in_connection), in_at, in_connection, in_subject FROM DUAL')};
           END IF;
           IF v_room = 0 THEN
             ${departure(t, "SELECT in_room, '', in_at, in_connection, in_subject FROM DUAL")};
           END IF;
         END IF;
         SELECT v_was AS was_member, v_room AS room_count, v_user AS user_count;
       END`,
    ],
    [
      r.append,
      // The upsert takes the room row's lock until COMMIT: numbers follow each other without a
      // repeat, and a failed insert rolls its number back. 0: in_member is not in the room.
      `CREATE PROCEDURE \`${r.append}\`(IN in_room VARBINARY(64), IN in_id VARCHAR(64) CHARACTER SET utf8mb4,
         IN in_sent_at BIGINT, IN in_body MEDIUMTEXT CHARACTER SET utf8mb4, IN in_member VARBINARY(128),
         IN in_wait INT)
       SQL SECURITY INVOKER
       BEGIN
         DECLARE v_seq BIGINT DEFAULT 0;
         ${BOUNDED_WAITS}
         IF in_member IS NULL OR EXISTS (
           SELECT 1 FROM \`${t.members}\` WHERE room = in_room AND connection_id = in_member
         ) THEN
           SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
           START TRANSACTION;
           INSERT INTO \`${t.sequences}\` (room, seq) VALUES (in_room, 1)
             ON DUPLICATE KEY UPDATE seq = seq + 1;
           SELECT seq INTO v_seq FROM \`${t.sequences}\` WHERE room = in_room;
           INSERT INTO \`${t.history}\` (room, seq, id, sent_at, body)
             VALUES (in_room, v_seq, in_id, in_sent_at, in_body);
           COMMIT;
         END IF;
         SET SESSION innodb_lock_wait_timeout = v_wait;
         SELECT v_seq AS seq;
       END`,
    ],
    [
      r.remove,
      // Connections first: should a later statement fail, a leftover membership only makes
      // a later room delivery meet a 410, which removes it again. With the row gone, the
      // tallies of its rooms (memberships whose connection row is there) are those after it.
      // Two result sets: the connection (known, subject), then its rooms with their tallies.
      `CREATE PROCEDURE \`${r.remove}\`(IN in_connection VARBINARY(128), IN in_at BIGINT,
         IN in_subject VARBINARY(1020))
       SQL SECURITY INVOKER
       BEGIN
         DECLARE v_known INT DEFAULT 0;
         DECLARE v_subject VARBINARY(1020) DEFAULT NULL;
         SELECT COUNT(*), MAX(subject) INTO v_known, v_subject
           FROM \`${t.connections}\` WHERE connection_id = in_connection;
         SET v_subject = COALESCE(in_subject, v_subject);
         DELETE FROM \`${t.connections}\` WHERE connection_id = in_connection;
         SELECT v_known AS known, v_subject AS subject;
         SELECT m.room AS room, ${removeTally.room} AS room_count, ${removeTally.user} AS user_count
           FROM \`${t.members}\` m WHERE m.connection_id = in_connection ORDER BY m.room;
         IF in_at IS NOT NULL THEN
           ${departure(
             t,
             `SELECT m.room, COALESCE(v_subject, in_connection), in_at, in_connection, v_subject
              FROM \`${t.members}\` m WHERE m.connection_id = in_connection AND ${removeTally.user} = 0`,
           )};
           ${departure(
             t,
             `SELECT m.room, '', in_at, in_connection, v_subject
              FROM \`${t.members}\` m WHERE m.connection_id = in_connection AND ${removeTally.room} = 0`,
           )};
         END IF;
         DELETE m, p FROM \`${t.members}\` m
           LEFT JOIN \`${t.presence}\` p ON p.room = m.room AND p.connection_id = m.connection_id
           WHERE m.connection_id = in_connection;
       END`,
    ],
    [
      r.claim,
      // Each DELETE names its row's time: a departure replaced since (a later leave) stays.
      `CREATE PROCEDURE \`${r.claim}\`(IN in_room VARBINARY(64), IN in_at BIGINT, IN in_user VARBINARY(1020),
         IN in_vacated TINYINT)
       SQL SECURITY INVOKER
       BEGIN
         DECLARE v_user INT DEFAULT 0;
         DECLARE v_room INT DEFAULT 0;
         IF in_user IS NOT NULL THEN
           DELETE FROM \`${t.departures}\` WHERE room = in_room AND who = in_user AND departed_at = in_at;
           SET v_user = ROW_COUNT();
         END IF;
         IF in_vacated <> 0 THEN
           DELETE FROM \`${t.departures}\` WHERE room = in_room AND who = '' AND departed_at = in_at;
           SET v_room = ROW_COUNT();
         END IF;
         SELECT v_user AS user_claimed, v_room AS room_claimed;
       END`,
    ],
  ];
}
