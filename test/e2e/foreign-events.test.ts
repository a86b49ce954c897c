/**
 * The real service under serverless-offline, invoked through offline's Lambda API with
 * WebSocket events that another API sent (its own apiId and domainName, a subject of its
 * choosing): each is refused and logged, nothing is stored or delivered, while offline's own
 * events (apiId "private", domainName "localhost") are served as always.
 */
import { TestClient } from '../support/harnesses/client';
import { connectEvent, messageEvent } from '../support/harnesses/events';
import type { WebSocketEvent } from '../../src/handler';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

let service: OfflineService;
let client: TestClient;

beforeAll(async () => {
  service = await startOffline();
  client = await TestClient.connect(service.url);
});

afterAll(async () => {
  await client?.close();
  await service?.stop();
});

/** An event as API Gateway would pass it from `api` (offline's own is "private" on "localhost"). */
function from(event: WebSocketEvent, api: { apiId: string; domainName: string }): WebSocketEvent {
  Object.assign(event.requestContext, api, { stage: 'local', authorizer: { principalId: 'alice' } });
  return event;
}

const FOREIGN = { apiId: 'evil99', domainName: 'evil99.execute-api.us-east-1.amazonaws.com' };
const OFFLINE = { apiId: 'private', domainName: 'localhost' };

/** Invokes a function of the stage through offline's Lambda API, as another service could in AWS. */
async function invoke(name: string, event: WebSocketEvent): Promise<unknown> {
  const response = await fetch(
    `http://127.0.0.1:${service.ports.lambda}/2015-03-31/functions/aws-node-websockets-dev-${name}/invocations`,
    { method: 'POST', body: JSON.stringify(event), signal: AbortSignal.timeout(30_000) },
  );
  return response.json();
}

const count = async () => (await client.request({}, 'connections')).count;

describe('events of another API', () => {
  it('store no connection on $connect, under any subject: 403, logged', async () => {
    const event = from(connectEvent('foreign-connection'), FOREIGN);
    expect(await invoke('connect', event)).toEqual({ statusCode: 403 });
    expect(await count()).toBe(1);
    expect(service.output()).toContain('refused an event of another API');
    expect(service.output()).toContain('apiId evil99 is not ours');
  });

  it('deliver nothing as a message: 403, and no client hears of it', async () => {
    const sent = client.messages.length;
    const event = from(
      messageEvent({ action: 'sendmessage', data: 'forged' }, 'foreign-connection', 'sendmessage'),
      FOREIGN,
    );
    expect(await invoke('message', event)).toEqual({ statusCode: 403 });
    await client.request({ action: 'ping' }, 'pong');
    expect(client.messages.slice(sent).filter((m) => m.type !== 'pong')).toEqual([]);
  });

  it('are told from offline’s own, which are served as before', async () => {
    const event = from(connectEvent('offline-connection'), OFFLINE);
    expect(await invoke('connect', event)).toEqual({ statusCode: 200 });
    expect(await count()).toBe(2);
  });
});
