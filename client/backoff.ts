/**
 * Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog,
 * "Exponential Backoff And Jitter"): the n-th retry waits a uniformly random time in
 * [0, min(maxDelayMs, initialDelayMs * 2^(n-1))). Random spreading matters here: a deploy
 * or an API Gateway restart drops every socket at once, and clients that all waited the
 * same delay would all come back at the same instant.
 */
import { fullJitter } from '../src/backoff';

export interface ReconnectOptions {
  /** The cap of the first retry's delay. Default 500 ms. */
  initialDelayMs?: number;
  /** No delay's cap grows beyond this. Default 30 s. */
  maxDelayMs?: number;
  /** Retries after a drop or a failed attempt before the client gives up and closes; 0: never retry. Default Infinity. */
  maxAttempts?: number;
  /**
   * How long a connection must stay open before the delays start again from the first.
   * Not every open: a service that accepts and then drops every connection would otherwise
   * be called again at the first delay forever. Default 10 s.
   */
  stableAfterMs?: number;
}

export type Backoff = Required<ReconnectOptions>;

export const DEFAULT_BACKOFF: Backoff = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxAttempts: Infinity,
  stableAfterMs: 10_000,
};

export function backoffSettings(options: ReconnectOptions = {}): Backoff {
  const settings = { ...DEFAULT_BACKOFF, ...options };
  for (const [name, value] of Object.entries(settings)) {
    if (!(value >= 0)) throw new RangeError(`reconnect.${name} must be a number >= 0, got ${String(value)}`);
  }
  if (settings.maxDelayMs < settings.initialDelayMs) {
    throw new RangeError('reconnect.maxDelayMs must be at least reconnect.initialDelayMs');
  }
  return settings;
}

/** The delay before retry number `attempt` (1 for the first); `random` returns [0, 1) like Math.random. */
export function backoffDelay(attempt: number, settings: Backoff, random: () => number = Math.random): number {
  return Math.floor(fullJitter(attempt - 1, settings.initialDelayMs, settings.maxDelayMs, random));
}
