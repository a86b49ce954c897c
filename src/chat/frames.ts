/**
 * Every frame the service sends, discriminated on `type`: the one definition the server's
 * own encoders (src/chat/fanout/envelope.ts, src/chat/presence.ts, src/chat/push.ts) build and the client
 * (client/) reads. Types only, no runtime code: the client imports them with `import type`,
 * so nothing of src/ reaches a browser bundle.
 *
 * They are type aliases, not interfaces, on purpose: an alias of an object type is
 * assignable to `Record<string, unknown>` (what `encode` in src/communication.ts takes),
 * an interface is not.
 */

/** Whom a message (and its delivery summary) was for: at most one of these; none is everyone. */
export type TargetFields = {
  room?: string;
  user?: string;
  /** One connection (`{"action":"send","connectionId":…}`). */
  to?: string;
};

/** A delivered message: from a client connection, or pushed by a backend (src/chat/push.ts). */
export type MessageFrame = TargetFields & {
  type: 'message';
  /** The same in every repeat of one message (src/chat/history.ts): drop a repeat by it. */
  id: string;
  /** Only to a room: the room's number, 1 more than its previous frame's. Never on an ephemeral one. */
  seq?: number;
  /**
   * Only to a room, when the sender asked for it (`"ephemeral":true`: typing, cursors): no number,
   * not kept in history, so a client neither orders it nor asks history for it.
   */
  ephemeral?: true;
  /** Ms since the epoch, on the server. */
  sentAt: number;
  data: unknown;
} & (
    | { origin: 'client'; from: string | null; connectionId: string }
    | { origin: 'server'; from: null; connectionId?: never }
  );

/** The sender's summary of a fan-out: `recipients` = `sent` + `stale` + `failed` + `unsent`. */
export type DeliveryFrame = TargetFields & {
  type: 'delivery';
  /** The message it reports on (and its number, in a room). */
  id: string;
  seq?: number;
  recipients: number;
  sent: number;
  stale: number;
  failed: number;
  unsent: number;
  /**
   * Only for an audience split into shards (src/chat/fanout/shards.ts): `queued` at once, with every
   * recipient still `unsent`, then one `done` summary when its last shard has finished.
   */
  state?: 'queued' | 'done';
  deliveryId?: string;
  shards?: number;
  /** The request's own `ref`, when it gave one (src/chat/protocol.ts): which request this answers. */
  ref?: string;
};

/** `seq`: the room's last number once joined; the member hears the frames after it. */
export type JoinedFrame = { type: 'joined'; room: string; seq?: number };

export type LeftFrame = { type: 'left'; room: string; wasMember: boolean };

export type ConnectionEntry = { connectionId: string; connectedAt: number; from: string | null };

/** A page of the connection list: `count` is exact, `truncated` when not all of them are in it. */
export type ConnectionsFrame = {
  type: 'connections';
  /** The asking connection's own id. */
  you: string;
  count: number;
  connections: readonly ConnectionEntry[];
  truncated: boolean;
};

export type MemberEntry = { connectionId: string; from: string | null };

/** A room's member as a user: its subject (with auth off, its one connection) and its connections there. */
export type UserEntry = { user: string; from: string | null; connections: number };

export type MembersFrame = {
  type: 'members';
  room: string;
  count: number;
  members: readonly MemberEntry[];
  truncated: boolean;
  /** The room's users (not connections); `users` lists at most as many as `members` (docs/protocol.md). */
  userCount?: number;
  users?: readonly UserEntry[];
};

export type PresenceEvent = 'join' | 'leave';
/** Why a connection left: it asked to (`leave`), or its socket closed (`disconnect`). */
export type LeaveReason = 'leave' | 'disconnect';

/** Told to a room's other members when a connection joins or leaves it (src/chat/presence.ts). */
export type PresenceFrame = {
  type: 'presence';
  id: string;
  /** Presence events are room frames: numbered and kept like messages (always there when delivered). */
  seq?: number;
  room: string;
  event: PresenceEvent;
  connectionId: string;
  from: string | null;
  reason?: LeaveReason;
  /** The user the connection counts as, and how many of its connections are in the room now. */
  user?: string;
  connections?: number;
  /** The user's first connection arrived (it was not in the room before). */
  first?: true;
  /** The user's last connection left (it is no longer in the room). */
  last?: true;
};

export type PongFrame = { type: 'pong'; at: number };

/**
 * A room's frames after `after`, oldest first, exactly as first delivered; `more` when
 * later ones did not fit this answer, `gap` when some after `after` are no longer kept,
 * `latest` the room's last number.
 */
export type HistoryFrame = {
  type: 'history';
  room: string;
  latest: number;
  messages: readonly (MessageFrame | PresenceFrame)[];
  more: boolean;
  gap: boolean;
  /** The request's own `ref`, when it gave one. */
  ref?: string;
};

/** The codes docs/protocol.md#error-codes lists; `(string & {})` keeps the union open. */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_message'
  | 'unknown_action'
  | 'payload_too_large'
  | 'too_many_rooms'
  | 'auth_required'
  | 'unknown_connection'
  | 'not_member'
  | 'unavailable'
  | 'internal'
  | 'forbidden'
  | (string & {});

/**
 * The details of a `forbidden` refusal (src/chat/access.ts): the room, or the connection a
 * `send` named, and what the sender lacks there: a right of its token, membership of the
 * room, or a room shared with that connection.
 */
export type ForbiddenDetails = {
  room?: string;
  connectionId?: string;
  missing: 'join' | 'publish' | 'presence' | 'membership' | 'shared_room';
};

/**
 * `action` and `room`: the request refused, when it was valid enough to name them (a join the
 * client should forget); `ref`: its own reference, when it gave a valid one.
 */
export type ErrorFrame = {
  type: 'error';
  code: ErrorCode;
  message: string;
  details?: unknown;
  action?: string;
  room?: string;
  /** The refused or failed request's own `ref`, when it gave one. */
  ref?: string;
};

/** Everything the service sends over a socket. */
export type ServerMessage =
  | MessageFrame
  | DeliveryFrame
  | JoinedFrame
  | LeftFrame
  | ConnectionsFrame
  | MembersFrame
  | PresenceFrame
  | PongFrame
  | HistoryFrame
  | ErrorFrame;

export type ServerMessageType = ServerMessage['type'];

/** The frame of one type: `FrameOf<'members'>` is MembersFrame. */
export type FrameOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;
