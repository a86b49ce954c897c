/**
 * The chat page's wait for a token. The client asks its token function before every connect;
 * while the page has no token to give (auth on and none pasted yet, or the last one was refused
 * before any connection opened), that function waits here until Connect is pressed, so no
 * handshake is made that the service can only refuse.
 */
export class TokenGate {
  private release: (() => void) | undefined;
  private waiting: Promise<void> | undefined;

  get isWaiting(): boolean {
    return this.release !== undefined;
  }

  /** Resolves at the next open(); every caller meanwhile shares that one wait. */
  wait(): Promise<void> {
    this.waiting ??= new Promise<void>((resolve) => {
      this.release = resolve;
    });
    return this.waiting;
  }

  /** Lets the waiting connect go on; false when none waits. */
  open(): boolean {
    const release = this.release;
    this.release = undefined;
    this.waiting = undefined;
    release?.();
    return release !== undefined;
  }
}

/**
 * Whether a JWT's `exp` has passed (read, not verified: the service verifies). A token that is
 * not a readable JWT counts as not expired, and the service decides.
 */
export function tokenExpired(token: string, nowMs: number): boolean {
  const payload = token.split('.')[1];
  if (payload === undefined) return false;
  try {
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    const exp = typeof claims === 'object' && claims !== null ? (claims as { exp?: unknown }).exp : undefined;
    return typeof exp === 'number' && exp * 1000 <= nowMs;
  } catch {
    return false;
  }
}
