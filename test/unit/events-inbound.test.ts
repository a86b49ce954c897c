/**
 * Publishing from EventBridge (src/events/inbound.ts through the `publish` handler): an event of
 * detail-type `websockets.publish` pushes its detail as `POST /publish` would; its outcome is
 * logged with the event's id and counted; a detail that cannot be published is refused (returned,
 * so EventBridge does not retry it); a failure is thrown, so EventBridge retries it.
 */
import { StoreError } from '../../src/errors';
import { publish } from '../../src/handler';
import { bridgeEvent, isBridgeEvent } from '../../src/events/inbound';
import { lambdaContext } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';

const harness = useHandlerHarness({ LOG_LEVEL: 'warn' });

/** The EMF lines written (metrics on for this test only; test/setup-env.ts turns them off). */
function capturingMetrics(): { records: () => Record<string, unknown>[]; restore: () => void } {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return {
    records: () =>
      written
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((record) => '_aws' in record),
    restore: () => {
      spy.mockRestore();
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    },
  };
}

beforeEach(async () => {
  await harness.store.add({ connectionId: 'a', connectedAt: 1, subject: null });
  await harness.store.join('a', 'lobby', 50);
});

it('tells an EventBridge envelope from a direct payload and an HTTP event', () => {
  expect(isBridgeEvent(bridgeEvent({ room: 'lobby', data: 1 }))).toBe(true);
  expect(isBridgeEvent({ room: 'lobby', data: 1 })).toBe(false);
  expect(isBridgeEvent(null)).toBe(false);
});

it("pushes the event's detail to the room, returns the summary, and counts it as pushed", async () => {
  const metrics = capturingMetrics();
  let result: unknown;
  try {
    result = await publish(bridgeEvent({ room: 'lobby', data: { text: 'from a step function' } }), lambdaContext());
  } finally {
    metrics.restore();
  }
  expect(result).toMatchObject({ type: 'delivery', room: 'lobby', recipients: 1, sent: 1 });
  expect(harness.management.posted().map((post) => [post.to, post.message.data])).toEqual([
    ['a', { text: 'from a step function' }],
  ]);
  expect(metrics.records()).toContainEqual(
    expect.objectContaining({ service: 'events', outcome: 'pushed', inbound: 1 }),
  );
});

it('refuses a detail that is no publish request: returned, logged with the event id, counted, nothing sent', async () => {
  const event = bridgeEvent({ room: 'lobby' }); // no data
  const metrics = capturingMetrics();
  let result: unknown;
  try {
    result = await publish(event, lambdaContext());
  } finally {
    metrics.restore();
  }
  expect(result).toMatchObject({ type: 'error' });
  expect(harness.management.posted()).toEqual([]);
  expect(metrics.records()).toContainEqual(expect.objectContaining({ outcome: 'refused', inbound: 1 }));
  expect(harness.loggedErrors()).toContainEqual(
    expect.objectContaining({ message: 'event not published', eventId: event.id, outcome: 'refused' }),
  );
});

it('throws when the store fails, so EventBridge retries the event, and logs it as failed', async () => {
  harness.store.audience.mockRejectedValue(new StoreError('down', 'audience'));
  harness.store.audiencePage.mockRejectedValue(new StoreError('down', 'audience'));
  harness.store.audienceCount.mockRejectedValue(new StoreError('down', 'audience'));
  const event = bridgeEvent({ room: 'lobby', data: 1 });
  await expect(publish(event, lambdaContext())).rejects.toBeInstanceOf(StoreError);
  expect(harness.loggedErrors()).toContainEqual(expect.objectContaining({ eventId: event.id, outcome: 'failed' }));
});
