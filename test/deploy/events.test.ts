/**
 * The template's part of lifecycle events, read from what `sls package` writes (no AWS): the
 * stage's bus, `events:PutEvents` on that bus only and only for the functions that emit, the
 * rule that takes `websockets.publish` events to the publish function (and nothing else to
 * anything), and cfn-lint on all of it. test/deploy/roles.test.ts simulates the grant.
 */
import {
  environmentOf as environmentOfFunction,
  functionStatements,
  resourcesOfType,
} from '../support/package/package';
import type { Template } from '../support/package/package';
import { packageOnce } from '../support/package/cache';
import { cfnLintFindings } from '../support/package/cfn-lint';
import { PUBLISH_DETAIL_TYPE } from '../../src/events/inbound';

jest.setTimeout(300_000);

let template: Template;

beforeAll(async () => {
  ({ template } = await packageOnce({ envYml: 'STAGE: qa\n', timeoutMs: 280_000 }));
});

const putEventsOn = (functionId: string) =>
  functionStatements(template, functionId)
    .filter((s) => [s.Action].flat().some((action) => action.startsWith('events:')))
    .map((s) => ({ actions: [s.Action].flat(), resources: [s.Resource].flat() }));

const environmentOf = (functionId: string) => environmentOfFunction(template, functionId);

const EMITTERS = ['Connect', 'Disconnect', 'Default', 'Message', 'Publish', 'Sweep'].map((n) => `${n}LambdaFunction`);

describe('the event bus', () => {
  it("is the stage's own, named after it", () => {
    const buses = resourcesOfType(template, 'AWS::Events::EventBus');
    expect(buses.map(([id, bus]) => [id, bus.Properties?.Name])).toEqual([['EventBus', 'aws-node-websockets-qa']]);
  });

  it.each(EMITTERS)('%s may put events on that bus and nowhere else, and knows its name and stage', (id) => {
    expect(putEventsOn(id)).toEqual([
      { actions: ['events:PutEvents'], resources: [{ 'Fn::GetAtt': ['EventBus', 'Arn'] }] },
    ]);
    expect(environmentOf(id)).toMatchObject({
      EVENT_BUS_NAME: { Ref: 'EventBus' },
      EVENTS_STAGE: 'qa',
      EVENTS_DEBOUNCE_MS: '3000',
    });
  });

  it('deliver and the authorizer emit nothing, and may not', () => {
    expect(putEventsOn('DeliverLambdaFunction')).toEqual([]);
    expect(environmentOf('DeliverLambdaFunction').EVENT_BUS_NAME).toBeUndefined();
  });
});

describe('the publish rule', () => {
  it(`takes events of detail-type ${PUBLISH_DETAIL_TYPE} on the stage's bus to the publish function only`, () => {
    // The sweep's schedule is a rule too, on the default bus; only PublishRule is on the stage's.
    const rules = resourcesOfType(template, 'AWS::Events::Rule').filter(
      ([, rule]) => JSON.stringify(rule.Properties?.EventBusName) === JSON.stringify({ Ref: 'EventBus' }),
    );
    expect(rules.map(([id]) => id)).toEqual(['PublishRule']);
    const rule = rules[0]?.[1].Properties ?? {};
    expect(rule.EventBusName).toEqual({ Ref: 'EventBus' });
    expect(rule.EventPattern).toEqual({ 'detail-type': [PUBLISH_DETAIL_TYPE] });
    expect(rule.Targets).toEqual([
      expect.objectContaining({ Id: 'publish', Arn: { 'Fn::GetAtt': ['PublishLambdaFunction', 'Arn'] } }),
    ]);
  });

  it('lets EventBridge invoke publish for that rule only', () => {
    const permission = template.Resources.PublishRulePermission?.Properties;
    expect(permission).toEqual({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['PublishLambdaFunction', 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['PublishRule', 'Arn'] },
    });
  });
});

const lint = process.env.SKIP_CFN_LINT === '1' ? describe.skip : describe;

lint('cfn-lint on the event resources', () => {
  it('finds nothing in the bus, the rule, its permission and the emitters', async () => {
    expect(await cfnLintFindings(template, { only: /EventBus|PublishRule|FunctionsRole|FunctionRole/ })).toEqual([]);
  });
});
