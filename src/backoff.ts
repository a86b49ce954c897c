/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): retry number `attempt` (0 for the first) waits a uniformly random time in
 * [0, min(capMs, baseMs * 2^attempt)). The randomness is the point: callers that failed
 * together (a throttled burst, a restart that dropped every socket) must not retry together.
 * Pure, with no Node or DOM dependency: the server, the store and the browser client share it.
 */
export function fullJitter(
  attempt: number,
  baseMs: number,
  capMs = Infinity,
  random: () => number = Math.random,
): number {
  // 2 ** attempt is Infinity past ~1,000 attempts; Math.min still gives the cap.
  return random() * Math.min(capMs, baseMs * 2 ** attempt);
}
