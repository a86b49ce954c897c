/**
 * The template's part of queued departures, read from what `sls package` writes (no AWS): the
 * departures queue, the `departures` function and its SQS event source mapping, which functions
 * are told the queue (DEPARTURES_QUEUE_URL) and which roles may send to it or read it. cfn-lint
 * checks the new resources.
 */
import { allowedResources, environmentOf, resourcesOfType } from '../support/package/package';
import type { Template } from '../support/package/package';
import { packageVariant } from '../support/package/variants';
import { cfnLintFindings } from '../support/package/cfn-lint';

jest.setTimeout(300_000);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DEPARTURES_CONCURRENCY } = require('../../infra/concurrency.js') as { DEPARTURES_CONCURRENCY: number };

/** The default packaging (stage qa), and the private one with RESERVED_CONCURRENCY 20. */
let open: Template;
let bounded: Template;

beforeAll(async () => {
  [{ template: open }, { template: bounded }] = await Promise.all([packageVariant('open'), packageVariant('private')]);
});

const QUEUE_ARN = { 'Fn::GetAtt': ['DeparturesQueue', 'Arn'] };
const SENDERS = ['DisconnectLambdaFunction', 'MessageLambdaFunction'];

const functionsOf = (template: Template) => resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id);

describe.each([
  ['default', () => open],
  ['private, bounded', () => bounded],
])('the departures queue in the %s template', (_, of) => {
  it('is encrypted, keeps a message an hour, and hides a batch for 6x the function timeout', () => {
    const queue = of().Resources.DeparturesQueue;
    expect(queue?.Type).toBe('AWS::SQS::Queue');
    expect(queue?.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 3600 });
    const timeout = Number(of().Resources.DeparturesLambdaFunction?.Properties?.Timeout);
    expect(timeout).toBe(30);
    expect(Number(queue?.Properties?.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('is read by the departures function alone: batches of 10, at most 5 at once', () => {
    const mappings = resourcesOfType(of(), 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.[1].Properties).toMatchObject({
      EventSourceArn: QUEUE_ARN,
      FunctionName: { 'Fn::GetAtt': ['DeparturesLambdaFunction', 'Arn'] },
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: DEPARTURES_CONCURRENCY },
      Enabled: true,
    });
    expect(DEPARTURES_CONCURRENCY).toBe(5);
  });

  it('runs src/handler.departures with its own role and the events environment (no queue of its own)', () => {
    const departures = of().Resources.DeparturesLambdaFunction?.Properties;
    expect(departures).toMatchObject({
      Handler: 'src/handler.departures',
      Role: { 'Fn::GetAtt': ['DeparturesFunctionRole', 'Arn'] },
    });
    expect(environmentOf(of(), 'DeparturesLambdaFunction')).toMatchObject({
      EVENT_BUS_NAME: { Ref: 'EventBus' },
      EVENTS_DEBOUNCE_MS: '3000',
      DB_AUTH: 'iam',
    });
    // Like the sweep's: the store's and the events' settings, nothing more.
    const { DEPARTURES_QUEUE_URL, ...sweep } = environmentOf(of(), 'SweepLambdaFunction');
    expect(DEPARTURES_QUEUE_URL).toBeUndefined();
    expect(environmentOf(of(), 'DeparturesLambdaFunction')).toEqual(sweep);
  });

  it('is named to disconnect and message (the routes that mark departures), and to no other function', () => {
    for (const id of functionsOf(of())) {
      expect({ id, queue: environmentOf(of(), id).DEPARTURES_QUEUE_URL }).toEqual({
        id,
        queue: SENDERS.includes(id) ? { Ref: 'DeparturesQueue' } : undefined,
      });
    }
    // The rest of their environments is what they had: the events', and message's fan-out.
    const { DEPARTURES_QUEUE_URL: a, ...disconnect } = environmentOf(of(), 'DisconnectLambdaFunction');
    expect(disconnect).toEqual(environmentOf(of(), 'ConnectLambdaFunction'));
    const { DEPARTURES_QUEUE_URL: b, ...message } = environmentOf(of(), 'MessageLambdaFunction');
    expect(message).toEqual(environmentOf(of(), 'PublishLambdaFunction'));
    expect([a, b]).toEqual([{ Ref: 'DeparturesQueue' }, { Ref: 'DeparturesQueue' }]);
  });

  it('may be sent to by the roles of disconnect and message only, and read by the departures role only', () => {
    for (const id of functionsOf(of())) {
      const sends = ['Disconnect', 'Default', 'Message', 'Publish'].some((name) => id === `${name}LambdaFunction`);
      // The shard-failures queue is deliver's (Lambda sends its failed shards with its role).
      const send = allowedResources(of(), id, 'sqs:SendMessage').filter((arn) =>
        JSON.stringify(arn).includes('Departures'),
      );
      expect({ id, send }).toEqual({ id, send: sends ? [QUEUE_ARN] : [] });
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
        expect({ id, action, on: allowedResources(of(), id, action) }).toEqual({
          id,
          action,
          on: id === 'DeparturesLambdaFunction' ? [QUEUE_ARN] : [],
        });
      }
    }
  });

  it('depends on the schema step, as every store function does', () => {
    expect([of().Resources.DeparturesLambdaFunction?.DependsOn].flat()).toContain('DatabaseSchema');
  });
});

describe('the departures function’s concurrency', () => {
  it('reserves nothing by default, and as many as its event source may run with RESERVED_CONCURRENCY', () => {
    expect(open.Resources.DeparturesLambdaFunction?.Properties?.ReservedConcurrentExecutions).toBeUndefined();
    expect(bounded.Resources.DeparturesLambdaFunction?.Properties?.ReservedConcurrentExecutions).toBe(
      DEPARTURES_CONCURRENCY,
    );
  });

  it('runs in the private subnets in private mode, as the other store functions do', () => {
    expect(bounded.Resources.DeparturesLambdaFunction?.Properties?.VpcConfig).toEqual(
      bounded.Resources.SweepLambdaFunction?.Properties?.VpcConfig,
    );
    expect(bounded.Resources.DeparturesLambdaFunction?.Properties?.VpcConfig).toBeDefined();
    expect(open.Resources.DeparturesLambdaFunction?.Properties?.VpcConfig).toBeUndefined();
  });
});

const lint = process.env.SKIP_CFN_LINT === '1' ? describe.skip : describe;

lint('cfn-lint on the departures resources', () => {
  it.each([
    ['default', () => open],
    ['private, bounded', () => bounded],
  ])('finds nothing in the queue, the function, its role and its event source mapping (%s)', async (_, of) => {
    expect(await cfnLintFindings(of(), { only: /Departures/ })).toEqual([]);
  });
});
