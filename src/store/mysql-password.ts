/**
 * The MySQL password of a store whose password is the RDS-managed secret, through a rotation
 * (docs/operations.md#password-rotation). RDS rotates the master password every 7 days; for a
 * short window a new connection may be refused (1045) with the password this container kept,
 * and a fresh read of AWSCURRENT may still give the old one, while the new one is the secret's
 * AWSPENDING version. So, on a 1045: read AWSCURRENT again and try it, then AWSPENDING, backing
 * off with full jitter between rounds, within the operation's budget; keep the password that
 * connected; and when the budget runs out, fail with a DatabasePasswordError.
 */
import { SECRET_TIMEOUT_MS } from '../aws/secrets';
import type { RotatedSecret } from '../aws/secrets';
import { fullJitter } from '../backoff';
import { DatabasePasswordError, errorText } from '../errors';
import { sleep } from '../timeout';

/** MySQL's answer to a wrong password (errno 1045). */
export function accessDenied(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  return code === 'ER_ACCESS_DENIED_ERROR' || errno === 1045;
}

export interface RetryPacing {
  baseMs: number;
  capMs: number;
  /** A connect is tried only with at least this long left after a pause. */
  minAttemptMs: number;
}

export class RotatingPassword {
  /** The password that last connected; until one has, the secret's current value. */
  private working: string | undefined;
  /** The password the last connect was given, to tell which one a 1045 refused. */
  private offered: string | undefined;

  constructor(private readonly secret: RotatedSecret) {}

  /** The password to connect with now, read within what is left before `deadline`. */
  async current(deadline: number): Promise<string> {
    this.offered = this.working ?? (await this.secret.value(readTimeout(deadline)));
    return this.offered;
  }

  /** The last connect succeeded: its password is the one to keep using. */
  connected(): void {
    this.working = this.offered;
  }

  /**
   * After MySQL refused the password last offered (`refusal`, a 1045): each round reads AWSCURRENT
   * again and then AWSPENDING, and connects (`connect`) with each value not refused yet during
   * this operation; between rounds, a full-jitter pause. Every read and connect ends by
   * `deadline`. Resolves once one connects (that one is kept); a SecretError from a read, or a
   * connect failing otherwise than with 1045, is thrown as it is; when the budget runs out first,
   * a DatabasePasswordError.
   */
  async recover(
    operation: string,
    refusal: unknown,
    connect: (password: string) => Promise<void>,
    deadline: number,
    pacing: RetryPacing,
  ): Promise<void> {
    const refused = new Set(this.offered === undefined ? [] : [this.offered]);
    this.working = undefined;
    let last = refusal;
    let reads = 0;
    for (let round = 0; ; round++) {
      for (const read of [
        () => this.secret.refresh(readTimeout(deadline)),
        () => this.secret.pending(readTimeout(deadline)),
      ]) {
        if (deadline - Date.now() < pacing.minAttemptMs) break;
        reads++;
        const candidate = await read();
        if (candidate === undefined || refused.has(candidate)) continue;
        this.offered = candidate;
        try {
          await connect(candidate);
          this.working = candidate;
          return;
        } catch (error) {
          if (!accessDenied(error)) throw error;
          refused.add(candidate);
          last = error;
        }
      }
      const pause = fullJitter(round, pacing.baseMs, pacing.capMs);
      if (Date.now() + pause + pacing.minAttemptMs >= deadline) {
        throw new DatabasePasswordError(
          `MySQL ${operation} failed: the server refused the ${refused.size} password(s) the secret gave ` +
            `(AWSCURRENT and AWSPENDING, ${reads} reads) until the operation's budget ran out: ${errorText(last)}`,
          operation,
          { cause: last },
        );
      }
      await sleep(pause);
    }
  }
}

/** A read's timeout: its own, or what is left of the operation's budget if that is less. */
function readTimeout(deadline: number): number {
  return Math.min(SECRET_TIMEOUT_MS, Math.max(0, deadline - Date.now()));
}
