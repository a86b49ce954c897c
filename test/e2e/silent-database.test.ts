/**
 * The service under serverless-offline with MySQL behind a loopback proxy that the test
 * switches to "accepts TCP and never answers" (and to dropping every connection), then back.
 * It specifies that every message gets an answer and that the timeouts are aligned with
 * the function timeouts (`$connect` 10 s, messages 29 s, serverless.yml).
 *
 * Bounds are generous (half of the function timeout): what they tell apart is an answer
 * within the route's budget (about 3 s here) from the function timing out (10 s, 29 s).
 */
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { SKIP_MYSQL } from '../support/harnesses/mysql';
import { useProxiedService } from '../support/harnesses/proxied-service';

jest.setTimeout(180_000);

const CONNECT_FUNCTION_TIMEOUT_MS = 10_000;
const MESSAGE_FUNCTION_TIMEOUT_MS = 29_000;

(SKIP_MYSQL ? describe.skip : describe)('a database that stalls, under serverless-offline', () => {
  const harness = useProxiedService('stall');
  beforeEach(() => harness.proxy.setMode('pass'));

  const connect = (): Promise<TestClient> => harness.connect();

  /** Sends and waits for the first answer of any kind (offline's own error frame has no `type`). */
  async function answerTo(client: TestClient, message: unknown): Promise<{ ms: number; answer: Received }> {
    const started = Date.now();
    const answer = client.next(() => true, MESSAGE_FUNCTION_TIMEOUT_MS + 5_000);
    client.send(message);
    return { answer: await answer, ms: Date.now() - started };
  }

  /** A handshake's outcome and how long it took. */
  async function handshake(): Promise<{ ms: number; statusCode: number | 'open' | undefined }> {
    const started = Date.now();
    const statusCode = await harness.connect(CONNECT_FUNCTION_TIMEOUT_MS + 10_000).then(
      () => 'open' as const,
      (error: unknown) => (error as { statusCode?: number }).statusCode,
    );
    return { statusCode, ms: Date.now() - started };
  }

  /** Polls until a list request on `client` is answered with the connection list again. */
  async function recovered(client: TestClient): Promise<Received> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { answer } = await answerTo(client, { action: 'list' });
      if (answer.type === 'connections' || Date.now() > deadline) return answer;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  for (const [mode, what] of [
    ['silent', 'accepts TCP and never answers'],
    ['drop', 'drops every connection'],
  ] as const) {
    it(`answers messages "unavailable" in time and refuses new connections in time while the database ${what}; all works again after`, async () => {
      const a = await connect();
      expect((await answerTo(a, {})).answer).toMatchObject({ type: 'connections' });

      harness.proxy.setMode(mode);

      const failed = await answerTo(a, { action: 'list' });
      expect(failed.answer).toEqual({ type: 'error', code: 'unavailable', message: expect.any(String) });
      expect(failed.ms).toBeLessThan(MESSAGE_FUNCTION_TIMEOUT_MS / 2);
      const joined = await answerTo(a, { action: 'join', room: 'lobby' });
      expect(joined.answer).toMatchObject({ type: 'error', code: 'unavailable' });
      expect(a.closed).toBe(false);

      // $connect: refused by our 500 (a StoreError in time), not by offline's 502 at the timeout.
      const refused = await handshake();
      expect(refused.statusCode).toBe(500);
      expect(refused.ms).toBeLessThan(CONNECT_FUNCTION_TIMEOUT_MS - 2_000);

      harness.proxy.setMode('pass');

      const listed = await recovered(a);
      expect(listed).toMatchObject({ type: 'connections', you: expect.any(String) });
      expect((await answerTo(a, { action: 'join', room: 'lobby' })).answer).toMatchObject({
        type: 'joined',
        room: 'lobby',
      });
      expect((await handshake()).statusCode).toBe('open');
      await harness.closeClients();
    });
  }
});
