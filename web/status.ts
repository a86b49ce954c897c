/**
 * The chat page's status line (`role="status"`): one state at a time, in words and in
 * `data-state` (the colour): `waiting` for a token, `connecting`, `open`, `reconnecting`,
 * `offline` (the browser has no network), `refused` (the token, or the URL), `closed`.
 * Every state that is not open says what becomes of a message sent meanwhile: queued, up to
 * the client's queueLimit, and refused beyond it; refused while offline.
 */
export type PageState = 'waiting' | 'connecting' | 'open' | 'reconnecting' | 'offline' | 'refused' | 'closed';

export class StatusLine {
  private detail = 'Starting…';
  private state: PageState = 'connecting';
  /** Messages sent while not open that have not gone yet. */
  queued = 0;

  constructor(
    private readonly element: HTMLElement,
    private readonly queueLimit: number,
  ) {}

  /** Shows `detail` in `state`; `offline` replaces it while the browser has no network. */
  show(detail: string, state: PageState): void {
    this.detail = detail;
    this.state = state;
    this.render();
  }

  /** Shows the current state again (the network came or went, the queue changed). */
  render(): void {
    if (!navigator.onLine && this.state !== 'closed') {
      // A socket can look open for minutes after the network went (until the heartbeat finds it
      // dead), and what is written to it then is lost: so nothing is sent while offline.
      this.element.textContent =
        'Offline: the browser has no network. Messages you send now are refused (the text stays in the field);' +
        ' the page connects again once the network is back.';
      this.element.dataset.state = 'offline';
      return;
    }
    let text = this.detail;
    if (this.state !== 'open' && this.state !== 'closed') {
      const waiting = this.queued === 0 ? '' : ` (${this.queued} waiting)`;
      text +=
        ` Messages you send now are queued${waiting}, at most ${this.queueLimit}, and go once connected;` +
        ' beyond that they are refused.';
    }
    this.element.textContent = text;
    this.element.dataset.state = this.state;
  }

  get current(): PageState {
    return this.state;
  }
}
