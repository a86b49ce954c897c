/**
 * The service under serverless-offline with auth on, as the end-to-end auth tests use it:
 * started once per file (beforeAll), stopped with every client it opened (afterAll), and two
 * ways to try a handshake: `connect` (expects the socket) and `refusedWith` (expects the
 * refusal, and gives its HTTP status).
 */
import { TestClient } from './client';
import type { OfflineService } from './offline';

export interface AuthServiceHarness {
  /** Opens a socket with `token` in the query string (none: no parameter at all). */
  connect(token?: string): Promise<TestClient>;
  /** The handshake's HTTP status; fails the test when the socket opened after all. */
  refusedWith(token?: string): Promise<number>;
  /** The service's URL, with `token` in the query string when given. */
  url(token?: string): string;
}

/** `start` runs in beforeAll; `stop`, if given, after the service has stopped (a key set server, say). */
export function useAuthService(start: () => Promise<OfflineService>, stop?: () => Promise<void>): AuthServiceHarness {
  let service: OfflineService | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    service = await start();
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
    await stop?.();
  });

  const url = (token?: string): string => {
    if (!service) throw new Error('the service did not start');
    return token === undefined ? service.url : `${service.url}?token=${encodeURIComponent(token)}`;
  };

  const connect = async (token?: string): Promise<TestClient> => {
    const client = await TestClient.connect(url(token));
    clients.push(client);
    return client;
  };

  const refusedWith = async (token?: string): Promise<number> => {
    try {
      await connect(token);
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      if (typeof status === 'number') return status;
      throw error;
    }
    throw new Error('the handshake succeeded');
  };

  return { connect, refusedWith, url };
}
