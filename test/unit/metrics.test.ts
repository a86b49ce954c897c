import { writeDeliveryMetrics } from '../../src/chat/fanout/emf';
import type { DeliveryFrame } from '../../src/chat/frames';
import { publishDeliveryMetrics } from '../../src/chat/fanout/metrics';

const sharded: DeliveryFrame = {
  type: 'delivery',
  id: 'm-1',
  state: 'done',
  deliveryId: 'd-1',
  shards: 3,
  recipients: 10,
  sent: 7,
  stale: 1,
  failed: 1,
  unsent: 1,
};
const direct: DeliveryFrame = { type: 'delivery', id: 'm-2', recipients: 4, sent: 4, stale: 0, failed: 0, unsent: 0 };

function written(work: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    work();
  } finally {
    spy.mockRestore();
  }
  return lines.flatMap((line) => line.split('\n').filter((l) => l.trim() !== '')).map((l) => JSON.parse(l));
}

// test/setup-env.ts turns metrics off for every other test; read at the first write.
beforeAll(() => {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});

describe('delivery metrics (embedded metric format)', () => {
  it('writes with Powertools, for a sharded delivery, every count, the shards and the seconds', () => {
    const [record] = written(() => publishDeliveryMetrics(sharded, 2.5));
    expect(record).toMatchObject({
      service: 'fan-out',
      path: 'sharded',
      deliveryId: 'd-1',
      recipients: 10,
      sent: 7,
      stale: 1,
      failed: 1,
      unsent: 1,
      shards: 3,
      seconds: 2.5,
    });
  });

  it('writes the same record without Powertools, for the message path', () => {
    for (const summary of [sharded, direct]) {
      const [theirs] = written(() => publishDeliveryMetrics(summary, 1.25));
      const [ours] = written(() => writeDeliveryMetrics(summary, 1.25));
      expect({ ...(ours as object), _aws: undefined }).toEqual({ ...(theirs as object), _aws: undefined });
      expect((ours as { _aws: object })._aws).toEqual({
        ...(theirs as { _aws: object })._aws,
        Timestamp: (ours as { _aws: { Timestamp: number } })._aws.Timestamp,
      });
    }
  });

  it('writes nothing when POWERTOOLS_METRICS_DISABLED is true', () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    try {
      expect(written(() => writeDeliveryMetrics(direct, 1))).toEqual([]);
    } finally {
      delete process.env.POWERTOOLS_METRICS_DISABLED;
    }
  });
});
