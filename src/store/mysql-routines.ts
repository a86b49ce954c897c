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
}

export interface RoutineNames {
  /** join(): the limit, the membership and its presence row, in one READ COMMITTED transaction. */
  join: string;
  /** appendToRoom(): the membership check (when asked), the room's next number and the history row. */
  append: string;
  /** remove(): a connection's row, then its memberships and their presence rows. */
  remove: string;
}

export function routineNames(prefix: string): RoutineNames {
  return { join: `${prefix}join_room`, append: `${prefix}append_to_room`, remove: `${prefix}remove_connection` };
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
  return [
    [
      r.join,
      // FOR UPDATE on the connection's row queues the joins of one connection; under READ
      // COMMITTED the count that follows sees every membership committed before the lock.
      `CREATE PROCEDURE \`${r.join}\`(IN in_connection VARBINARY(128), IN in_room VARBINARY(64),
         IN in_max INT, IN in_sees TINYINT, IN in_wait INT)
       SQL SECURITY INVOKER
       BEGIN
         DECLARE v_known INT DEFAULT 0;
         DECLARE v_rooms INT DEFAULT 0;
         DECLARE v_here INT DEFAULT 0;
         DECLARE v_result VARCHAR(20) CHARACTER SET ascii DEFAULT 'joined';
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
         SET SESSION innodb_lock_wait_timeout = v_wait;
         SELECT v_result AS result;
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
      // Connections first: should the second statement fail, a leftover membership only makes
      // a later room delivery meet a 410, which removes it again.
      `CREATE PROCEDURE \`${r.remove}\`(IN in_connection VARBINARY(128))
       SQL SECURITY INVOKER
       BEGIN
         DELETE FROM \`${t.connections}\` WHERE connection_id = in_connection;
         DELETE m, p FROM \`${t.members}\` m
           LEFT JOIN \`${t.presence}\` p ON p.room = m.room AND p.connection_id = m.connection_id
           WHERE m.connection_id = in_connection;
       END`,
    ],
  ];
}
