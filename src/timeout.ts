/**
 * The one way a wait gets an end. `withTimeout` settles as `work` does, or rejects with the
 * error `onTimeout` returns once `ms` have passed. `onTimeout` runs first, so it can abort
 * what is still running (destroy a socket, abort a request): a race alone only stops waiting.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  // An abandoned `work` may still reject later; that rejection is expected, not unhandled.
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
