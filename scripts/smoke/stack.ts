/**
 * A deployed stage's endpoints and auth mode, read from its CloudFormation stack's outputs with
 * the developer's own credentials (the SDK's default chain, as `sls deploy` uses). The SDK's
 * standard AWS_ENDPOINT_URL_CLOUDFORMATION points it at a loopback stand-in in the tests.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { withTimeout } from '../../src/timeout';
import { SmokeCheckError, seconds } from './socket';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SERVICE } = require('../../settings.js') as { SERVICE: string };

/**
 * The outputs read: the framework's WebSocket URL, and what serverless.yml and settings.js add
 * (test/deploy/template.test.ts checks that every packaging has them).
 */
export const STACK_OUTPUTS = {
  websocketUrl: 'ServiceEndpointWebsocket',
  publishUrl: 'PublishUrl',
  authMode: 'AuthMode',
  /** Only with HS256. */
  jwtSecretArn: 'AuthJwtSecretArn',
} as const;

export type AuthMode = 'off' | 'hs256' | 'jwks';

export interface StageEndpoints {
  stackName: string;
  status: string;
  region: string;
  websocketUrl: string;
  publishUrl: string;
  authMode: AuthMode;
  jwtSecretArn: string | undefined;
}

/** A stack that is gone or never finished has no working endpoints, whatever its outputs say. */
const BROKEN_STATUS = /^(CREATE_FAILED|ROLLBACK_|DELETE_)/;

export function stackNameOf(stage: string): string {
  return `${SERVICE}-${stage}`;
}

/** The SDK's error in one line, with what to do about the usual ones. */
function lookupFailure(error: unknown, stackName: string, region: string): string {
  const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
  if (name === 'ValidationError' && /does not exist/.test(message)) {
    return `no stack ${stackName} in ${region} (deployed to another region? give --region)`;
  }
  if (name === 'CredentialsProviderError') {
    return `no AWS credentials found (${message}): aws configure, AWS_PROFILE, or aws sso login`;
  }
  return `DescribeStacks ${stackName} in ${region} failed: ${name}: ${message}`;
}

export async function describeStage(stage: string, region: string, timeoutMs: number): Promise<StageEndpoints> {
  const stackName = stackNameOf(stage);
  const client = new CloudFormationClient({
    region,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(timeoutMs, 3_000),
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
    }),
  });
  const abort = new AbortController();
  try {
    const answer = await withTimeout(
      client.send(new DescribeStacksCommand({ StackName: stackName }), { abortSignal: abort.signal }),
      timeoutMs,
      () => {
        abort.abort();
        return new SmokeCheckError(
          `DescribeStacks ${stackName} in ${region} got no answer within ${seconds(timeoutMs)}`,
        );
      },
    );
    const stack = answer.Stacks?.[0];
    if (stack === undefined) throw new SmokeCheckError(`DescribeStacks ${stackName} in ${region} named no stack`);
    const status = stack.StackStatus ?? 'UNKNOWN';
    if (BROKEN_STATUS.test(status)) {
      throw new SmokeCheckError(`stack ${stackName} in ${region} is ${status}: deploy it again (npm run deploy)`);
    }
    const outputs = new Map((stack.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
    const required = (key: string): string => {
      const value = outputs.get(key);
      if (value === undefined || value === '') {
        throw new SmokeCheckError(
          `stack ${stackName} (${status}) has no output ${key}: deployed by an older version? npm run deploy`,
        );
      }
      return value;
    };
    const authMode = required(STACK_OUTPUTS.authMode);
    if (authMode !== 'off' && authMode !== 'hs256' && authMode !== 'jwks') {
      throw new SmokeCheckError(`stack ${stackName}'s output ${STACK_OUTPUTS.authMode} is "${authMode}"`);
    }
    return {
      stackName,
      status,
      region,
      websocketUrl: required(STACK_OUTPUTS.websocketUrl),
      publishUrl: required(STACK_OUTPUTS.publishUrl),
      authMode,
      jwtSecretArn: authMode === 'hs256' ? required(STACK_OUTPUTS.jwtSecretArn) : undefined,
    };
  } catch (error) {
    if (error instanceof SmokeCheckError) throw error;
    throw new SmokeCheckError(lookupFailure(error, stackName, region), { cause: error });
  } finally {
    client.destroy();
  }
}
