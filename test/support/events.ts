/** API Gateway WebSocket events from the JSON fixtures, cloned per test. */
import type { Context } from 'aws-lambda';
import type { WebSocketEvent } from '../../src/handler';
import connectFixture from '../fixtures/connect.json';
import disconnectFixture from '../fixtures/disconnect.json';
import messageFixture from '../fixtures/message.json';

function clone<T>(value: T): T {
  return structuredClone(value);
}

export function connectEvent(connectionId = 'L0SM9cOFvHcCIhw='): WebSocketEvent {
  const event = clone(connectFixture) as unknown as WebSocketEvent;
  event.requestContext.connectionId = connectionId;
  return event;
}

export function disconnectEvent(connectionId = 'L0SM9cOFvHcCIhw='): WebSocketEvent {
  const event = clone(disconnectFixture) as unknown as WebSocketEvent;
  event.requestContext.connectionId = connectionId;
  return event;
}

export function messageEvent(body: unknown, connectionId = 'L0SM9cOFvHcCIhw=', routeKey = '$default'): WebSocketEvent {
  const event = clone(messageFixture) as unknown as WebSocketEvent;
  event.body = typeof body === 'string' ? body : JSON.stringify(body);
  event.requestContext.connectionId = connectionId;
  event.requestContext.routeKey = routeKey;
  return event;
}

export function lambdaContext(remainingMs = 29_000): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    memoryLimitInMB: '512',
    awsRequestId: 'test-request',
    logGroupName: '/aws/lambda/test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => remainingMs - (Date.now() - started),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
