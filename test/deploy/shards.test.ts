/**
 * The template's part of sharded fan-outs, read from what `sls package` writes (no AWS): the
 * `deliver` function, its asynchronous-invocation settings and on-failure queue, the alarm on
 * that queue, and who may invoke `deliver`. cfn-lint checks the new resources.
 */
import { allowedResources, environmentOf as environmentOfFunction, resourcesOfType } from '../support/package/package';
import type { Template } from '../support/package/package';
import { packageOnce } from '../support/package/cache';
import { ALARM_TOPIC as TOPIC, packageVariant } from '../support/package/variants';
import { cfnLintFindings } from '../support/package/cfn-lint';
import { DEFAULT_ABANDONED_AFTER_MS, DELIVER_LIMITS_S } from '../../src/config';
import { MAX_ATTEMPTS } from '../../src/chat/fanout/shard-runner';

jest.setTimeout(300_000);

let template: Template;
/** With an alarm topic and reservations for every function, deliver's included (the suite's `alarm` packaging). */
let notifying: Template;

beforeAll(async () => {
  [{ template }, { template: notifying }] = await Promise.all([
    packageOnce({ envYml: 'STAGE: qa\nFANOUT_SHARD_SIZE: 2000\n', timeoutMs: 280_000 }),
    packageVariant('alarm'),
  ]);
});

const allowed = (functionId: string, action: string) => allowedResources(template, functionId, action);

const environmentOf = (functionId: string) => environmentOfFunction(template, functionId);

const functions = () => resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id);

const DELIVER_ARNS = ['', ':*'].map((qualifier) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:aws-node-websockets-qa-deliver${qualifier}`,
}));
const QUEUE_ARN = { 'Fn::GetAtt': ['ShardFailuresQueue', 'Arn'] };

describe('the deliver function in the template', () => {
  it('runs src/handler.deliver under its known name, with the store and delivery settings and 900 s', () => {
    const deliver = template.Resources.DeliverLambdaFunction?.Properties;
    expect(deliver).toMatchObject({
      Handler: 'src/handler.deliver',
      FunctionName: 'aws-node-websockets-qa-deliver',
      Timeout: 900,
      Role: { 'Fn::GetAtt': ['DeliverFunctionRole', 'Arn'] },
    });
    expect(environmentOf('DeliverLambdaFunction')).toMatchObject({
      FANOUT_SHARD_SIZE: '2000',
      FANOUT_MAX_RATE: '5000',
      WEBSOCKET_API_ID: { Ref: 'WebsocketsApi' },
      DB_AUTH: 'iam',
    });
  });

  it('tells the functions that start a fan-out, and only those, which function delivers shards', () => {
    for (const id of functions()) {
      const variables = environmentOf(id) ?? {};
      const starts = id === 'MessageLambdaFunction' || id === 'PublishLambdaFunction';
      expect({ id, deliver: variables.DELIVER_FUNCTION }).toEqual({
        id,
        deliver: starts ? 'aws-node-websockets-qa-deliver' : undefined,
      });
    }
  });

  it('has no event source and no resource-based permission: only roles of ours invoke it', () => {
    const permissions = resourcesOfType(template, 'AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties?.FunctionName).includes('DeliverLambdaFunction'),
    );
    expect(permissions).toEqual([]);
    // The template's one mapping is the departures function's (test/deploy/departures.test.ts).
    const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(([, m]) =>
      JSON.stringify(m.Properties?.FunctionName).includes('DeliverLambdaFunction'),
    );
    expect(mappings).toEqual([]);
  });

  it('retries a failed shard twice, then keeps its event in the shard-failures queue', () => {
    const configs = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig');
    expect(configs).toHaveLength(1);
    expect(configs[0]?.[1].Properties).toMatchObject({
      FunctionName: { Ref: 'DeliverLambdaFunction' },
      MaximumRetryAttempts: MAX_ATTEMPTS - 1,
      MaximumEventAgeInSeconds: DELIVER_LIMITS_S.maximumEventAge,
      DestinationConfig: { OnFailure: { Destination: QUEUE_ARN } },
    });
    expect(template.Resources.ShardFailuresQueue).toMatchObject({
      Type: 'AWS::SQS::Queue',
      Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
    });
  });

  it('gives the sweep a bound after which no attempt of a shard can still run: event age, timeout and a margin', () => {
    const deliver = template.Resources.DeliverLambdaFunction?.Properties;
    expect(deliver?.Timeout).toBe(DELIVER_LIMITS_S.timeout);
    const bound = Number(environmentOf('SweepLambdaFunction').SWEEP_DELIVERY_AGE_MS);
    expect(bound).toBe(DEFAULT_ABANDONED_AFTER_MS);
    const [, config] = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig')[0] ?? [];
    const lastRun = (Number(config?.Properties?.MaximumEventAgeInSeconds) + Number(deliver?.Timeout)) * 1000;
    expect(bound).toBeGreaterThanOrEqual(lastRun + 60_000);
  });

  it('alarms on the first shard in the queue', () => {
    expect(template.Resources.ShardFailuresAlarm).toMatchObject({
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['ShardFailuresQueue', 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      },
    });
  });

  it('notifies no one without ALARM_TOPIC_ARN, and that topic on going off and on clearing with it', () => {
    expect(template.Resources.ShardFailuresAlarm?.Properties).toMatchObject({ AlarmActions: [], OKActions: [] });
    expect(notifying.Resources.ShardFailuresAlarm?.Properties).toMatchObject({
      AlarmActions: [TOPIC],
      OKActions: [TOPIC],
    });
    // The topic is the operator's: the stack creates no SNS resource for it.
    expect(Object.values(notifying.Resources).filter((r) => r.Type.startsWith('AWS::SNS::'))).toEqual([]);
  });

  it('reserves DELIVER_RESERVED_CONCURRENCY for deliver when set, and nothing when not', () => {
    expect(template.Resources.DeliverLambdaFunction?.Properties?.ReservedConcurrentExecutions).toBeUndefined();
    expect(notifying.Resources.DeliverLambdaFunction?.Properties?.ReservedConcurrentExecutions).toBe(20);
    expect(notifying.Resources.MessageLambdaFunction?.Properties?.ReservedConcurrentExecutions).toBe(5);
  });
});

describe('least privilege around deliver', () => {
  it('lets message and publish invoke deliver and nothing else; no other function may invoke anything', () => {
    for (const id of functions()) {
      const starts = id === 'MessageLambdaFunction' || id === 'PublishLambdaFunction';
      expect({ id, invoke: allowed(id, 'lambda:InvokeFunction') }).toEqual({ id, invoke: starts ? DELIVER_ARNS : [] });
    }
  });

  it('lets deliver post to this stage’s connections, connect as the application user and send only to its queue', () => {
    expect(allowed('DeliverLambdaFunction', 'sqs:SendMessage')).toEqual([QUEUE_ARN]);
    expect(allowed('DeliverLambdaFunction', 'execute-api:ManageConnections')).toEqual([
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/qa/POST/@connections/*',
      },
    ]);
    expect(allowed('DeliverLambdaFunction', 'secretsmanager:GetSecretValue')).toEqual([]);
    expect(allowed('DeliverLambdaFunction', 'rds-db:connect')).toEqual([
      {
        'Fn::Sub':
          'arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ConnectionsDatabase.DbiResourceId}/websockets_app',
      },
    ]);
    // disconnect and message send departures to their own queue (test/deploy/departures.test.ts).
    for (const id of functions().filter((f) => f !== 'DeliverLambdaFunction')) {
      const send = allowed(id, 'sqs:SendMessage').filter((arn) => JSON.stringify(arn) === JSON.stringify(QUEUE_ARN));
      expect({ id, send }).toEqual({ id, send: [] });
    }
  });
});

const lint = process.env.SKIP_CFN_LINT === '1' ? describe.skip : describe;

lint('cfn-lint on the shard resources', () => {
  it.each([
    ['without', () => template],
    ['with', () => notifying],
  ])(
    'finds nothing in the deliver function, its invoke config, its role, the queue and the alarm (%s an alarm topic)',
    async (_, templateOf) => {
      // What the whole template's cfn-lint check accepts for every function applies here too.
      expect(
        await cfnLintFindings(templateOf(), { only: /Deliver|ShardFailures|FanOutFunctions|EventInvokeConfig/ }),
      ).toEqual([]);
    },
  );
});
