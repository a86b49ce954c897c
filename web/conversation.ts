/** The conversation's lines (`role="log"`), as the page writes them. */
import { timeOf } from './lines';

export type LineKind = 'message' | 'info' | 'delivery' | 'error' | 'queued';

/** A line of the conversation; a message's starts with its time (a `<time>` with the exact instant). */
export function line(text: string, kind: LineKind, sentAt?: number): HTMLParagraphElement {
  const paragraph = document.createElement('p');
  paragraph.className = kind;
  if (sentAt !== undefined) {
    const { label, iso } = timeOf(sentAt);
    const time = document.createElement('time');
    time.dateTime = iso;
    time.textContent = label;
    paragraph.append(time, ' ');
  }
  paragraph.append(text);
  return paragraph;
}
