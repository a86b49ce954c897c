/**
 * The chat page's status line (`role="status"`): one state at a time, in words and in
 * `data-state` (the colour): `waiting` for a token, `connecting`, `open`, `reconnecting`,
 * `offline` (the browser has no network), `refused` (the token, or the URL), `closed`.
 * Every state that is not open says what becomes of a message sent meanwhile: queued, up to
 * the client's queueLimit, and refused beyond it.
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

  /** Shows `detail` in `state`; `offline` replaces the states that wait for a connection while the browser has no network. */
  show(detail: string, state: PageState): void {
    this.detail = detail;
    this.state = state;
    this.render();
  }

  /** Shows the current state again (the network came or went, the queue changed). */
  render(): void {
    const waitsForConnection = this.state !== 'open' && this.state !== 'closed';
    let text = this.detail;
    let state = this.state;
    if (waitsForConnection && !navigator.onLine) {
      text = 'Offline: the browser has no network; connecting again once it is back.';
      state = 'offline';
    }
    if (waitsForConnection) {
      const waiting = this.queued === 0 ? '' : ` (${this.queued} waiting)`;
      text +=
        ` Messages you send now are queued${waiting}, at most ${this.queueLimit}, and go once connected;` +
        ' beyond that they are refused.';
    }
    this.element.textContent = text;
    this.element.dataset.state = state;
  }

  get current(): PageState {
    return this.state;
  }
}
