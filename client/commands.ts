/**
 * What the client sends: the protocol's actions (docs/protocol.md#actions-and-frames), written
 * out here because the service's own `Command` type is inferred from its valibot schemas
 * (src/chat/protocol.ts), which a package without dependencies cannot carry.
 * test/unit/client-package.test.ts checks, at compile time, that every command here is one the
 * service's schemas accept and that every action and field the service takes is here.
 */

/** What a message may carry: any JSON value, null included (the protocol's `data`). */
export type MessageData = NonNullable<unknown> | null;

/**
 * What a sender gets back of its own message (docs/protocol.md#what-a-message-costs): `echo:
 * false`, no copy of it on its own connection; `summary: false`, no `delivery` summary. Both
 * default to true; each one declined saves one API Gateway request per message.
 */
export interface DeliveryOptions {
  echo?: boolean;
  summary?: boolean;
}

/** Every command the client may send, discriminated on `action`. */
export type ClientCommand =
  | { action: 'list' }
  | ({ action: 'sendmessage'; data: MessageData; ref?: string } & DeliveryOptions)
  | { action: 'join'; room: string }
  | { action: 'leave'; room: string }
  | ({ action: 'publish'; room: string; data: MessageData; ref?: string; ephemeral?: boolean } & DeliveryOptions)
  | ({ action: 'send'; user: string; data: MessageData; ref?: string } & DeliveryOptions)
  | ({ action: 'send'; connectionId: string; data: MessageData; ref?: string } & DeliveryOptions)
  | { action: 'members'; room: string }
  | { action: 'ping' }
  | { action: 'history'; room: string; after?: number; limit?: number; ref?: string };
