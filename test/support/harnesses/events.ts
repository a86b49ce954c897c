/** API Gateway WebSocket events from the JSON fixtures, cloned per test. */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { WebSocketEvent } from '../../../src/handler';
import { ALL_ROOMS, encodeRights, ROOMS_CONTEXT_KEY } from '../../../src/auth/rooms';
import type { RoomRights } from '../../../src/auth/rooms';
import connectFixture from '../../fixtures/connect.json';
import disconnectFixture from '../../fixtures/disconnect.json';
import messageFixture from '../../fixtures/message.json';
import publishHttpFixture from '../../fixtures/publish-http.json';

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

/** `POST /publish` on the HTTP API (payload 2.0, IAM-authorized), with this body. */
export function publishHttpEvent(body: unknown, options: { base64?: boolean } = {}): APIGatewayProxyEventV2 {
  const event = clone(publishHttpFixture) as unknown as APIGatewayProxyEventV2;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  event.body = options.base64 ? Buffer.from(text).toString('base64') : text;
  event.isBase64Encoded = options.base64 ?? false;
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

/**
 * What the authorizer hands to every event of a connection it let in: the subject and
 * its rights per room (every right on every room unless given).
 */
export function authorizedAs(subject: string, rooms: RoomRights = ALL_ROOMS): { principalId: string; rooms: string } {
  return { principalId: subject, [ROOMS_CONTEXT_KEY]: encodeRights(rooms) } as { principalId: string; rooms: string };
}

/**
 * A connection id of API Gateway's form (16 characters of base64, the last `=`) that reads as
 * `label`: what a client may name in `send` or a backend in `publish` (src/chat/protocol.ts
 * refuses any other form). `label` is letters and digits, at most 15.
 */
export function apiGatewayId(label: string): string {
  if (!/^[A-Za-z0-9]{1,15}$/.test(label)) throw new Error(`not a label for an id: ${label}`);
  return `${label.padEnd(15, 'A')}=`;
}
