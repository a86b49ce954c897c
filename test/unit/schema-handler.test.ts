import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { schema } from '../../src/deploy/handler';
import { responseBody } from '../../src/deploy/cfn-response';
import { responseStandIn } from '../support/stand-ins/cfn-response';
import type { ResponseStandIn } from '../support/stand-ins/cfn-response';

describe('the schema function (src/deploy/handler.ts)', () => {
  let stand: ResponseStandIn;
  const saved = { ...process.env };

  beforeAll(async () => {
    stand = await responseStandIn();
  });

  afterAll(async () => {
    process.env = saved;
    await stand.close();
  });

  const event = (): CloudFormationCustomResourceEvent => ({
    RequestType: 'Create',
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:ws-dev-schema',
    ResponseURL: stand.url,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/ws-dev/1',
    RequestId: 'r1',
    LogicalResourceId: 'DatabaseSchema',
    ResourceType: 'Custom::DatabaseSchema',
    ResourceProperties: { ServiceToken: 'x', SchemaVersion: '2', AppUser: 'websockets_app', TablePrefix: '' },
  });
  const context = { getRemainingTimeInMillis: () => 60_000 } as Context;

  it('answers FAILED, naming the setting, when its environment lacks one: never a stack left waiting', async () => {
    process.env = { ...saved, DB_HOST: undefined, DB_NAME: 'websockets', DB_MASTER_USER: 'websockets' };
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await schema(event(), context);
    } finally {
      logged.mockRestore();
    }
    expect(stand.received).toHaveLength(1);
    expect(stand.received[0]?.body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('DB_HOST') });
  });
});

describe('the response document', () => {
  it('stays within CloudFormation’s 4,096 bytes, shortening the reason', () => {
    const event = {
      StackId: 's',
      RequestId: 'r',
      LogicalResourceId: 'l',
    } as unknown as CloudFormationCustomResourceEvent;
    const body = responseBody(event, { status: 'FAILED', reason: 'x'.repeat(10_000), physicalResourceId: 'p' });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(4_096);
    expect(JSON.parse(body)).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: 'p',
      Reason: expect.stringMatching(/^x+…$/),
    });
  });
});
