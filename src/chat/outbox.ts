/**
 * What the chat domain needs of the transport: a way to hand bytes to one connection, and the
 * wire encoding of a frame. The transport (src/communication.ts) implements the Outbox; the
 * chat code never sees a client, an endpoint or a retry setting.
 */

export interface Outbox {
  /**
   * Delivers `data` to one connection, or throws StaleConnectionError (the connection is gone)
   * or DeliveryError. No retry starts that could end after `deadline` (ms epoch).
   */
  send(connectionId: string, data: Uint8Array, deadline?: number): Promise<void>;
}

const encoder = new TextEncoder();

/** Every frame we send is JSON with a `type`; encode it once, reuse the bytes for every recipient. */
export function encode(message: { type: string } & Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}
