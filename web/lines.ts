/**
 * How the chat page writes a message: its time, its sender's name, its text.
 *
 * Names without auth: the protocol's `from` is the token's subject, and null with auth off. The
 * page then sends a message's data as `{"text": "…", "name": "…"}` with the name its user chose
 * (docs/protocol.md, "Display names"), and shows that name for a message whose `from` is null.
 * It is the sender's claim, not checked by anyone: with auth on, `from` is shown and `name` ignored.
 */

/** The longest chosen name the page sends or shows (a longer one is cut). */
export const MAX_NAME_LENGTH = 40;

/** What the page sends: the bare text, or the text with the name chosen. */
export function messageData(text: string, name: string): string | { text: string; name: string } {
  const chosen = name.trim().slice(0, MAX_NAME_LENGTH);
  return chosen === '' ? text : { text, name: chosen };
}

/** The text of a message's data and the name it claims, whoever sent it (any JSON). */
export function readData(data: unknown): { text: string; name?: string } {
  if (typeof data === 'string') return { text: data };
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const { text, name } = data as { text?: unknown; name?: unknown };
    if (typeof text === 'string') {
      const claimed =
        typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, MAX_NAME_LENGTH) : undefined;
      return claimed === undefined ? { text } : { text, name: claimed };
    }
  }
  return { text: JSON.stringify(data) };
}

/** A message's time: hours and minutes, with the date when it is not from today. */
export function timeOf(sentAt: number, now = new Date()): { label: string; iso: string } {
  const at = new Date(sentAt);
  const today = at.toDateString() === now.toDateString();
  const label = today
    ? at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : at.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return { label, iso: at.toISOString() };
}
