/**
 * How a message invocation hands its shards to the `deliver` function (src/chat/fanout/shards.ts):
 * through Lambda's asynchronous Invoke, one client kept per container.
 */
import { config } from '../../config';
import type { AsyncInvoker } from '../../aws/lambda-invoke';
import type { Sharding } from './shards';

// The Invoke client (and its credentials) is loaded only when an audience is sharded.
/* eslint-disable @typescript-eslint/no-require-imports */
const lambdaInvoke = () => require('../../aws/lambda-invoke') as typeof import('../../aws/lambda-invoke');
const request = () => require('../../aws/request') as typeof import('../../aws/request');
/* eslint-enable @typescript-eslint/no-require-imports */

let invoker: AsyncInvoker | undefined;

/** The longest one Invoke request may take: a publisher hands over up to 8 at once (src/chat/fanout/shards.ts). */
export const INVOKE_TIMEOUT_MS = 2_000;

/**
 * How this invocation hands shards to `deliver`, or undefined when no `deliver` function is
 * configured (DELIVER_FUNCTION unset: every audience is posted by the invocation that has it).
 * No hand-over waits past the fan-out's deadline.
 */
export function sharding(deadline: number): Sharding | undefined {
  const { shards: settings, region, offline } = config();
  const functionName = settings.deliverFunction;
  if (functionName === undefined) return undefined;
  return {
    size: settings.size,
    invoke: (event) => {
      if (invoker === undefined) {
        const { AsyncInvoker } = lambdaInvoke();
        const credentials = request().signingCredentials({
          offline,
          purpose: 'invoke the deliver function',
        });
        invoker = new AsyncInvoker(settings.lambdaEndpoint, { region, credentials, timeoutMs: INVOKE_TIMEOUT_MS });
      }
      const timeoutMs = Math.max(100, Math.min(INVOKE_TIMEOUT_MS, deadline - Date.now()));
      return invoker.invoke(functionName, event, timeoutMs);
    },
  };
}
