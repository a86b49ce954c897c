/**
 * The process state a bench sets up to run the real handlers in this process: the handlers read
 * their settings once per process (config(), ownOrigin(), the event settings), so a bench sets
 * the environment they read for its run and gives it back afterwards, with the store, the
 * management API factory and the clients the handlers made, so that nothing of one bench is
 * left to the next.
 */
import { resetClients, useManagementApiFactory } from '../../src/communication';
import { resetEventSettings } from '../../src/events/settings';
import { useStore } from '../../src/handler';

/** Runs `fn` with `env` in process.env (and event settings read anew), then restores both and the handlers' store and clients. */
export async function withBenchEnvironment<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  resetEventSettings();
  try {
    return await fn();
  } finally {
    useStore(undefined);
    useManagementApiFactory(undefined);
    resetClients();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetEventSettings();
  }
}
