/**
 * The answer a custom resource owes CloudFormation: a PUT of a JSON document to the event's
 * ResponseURL (a presigned S3 URL), with node's own http/https, no SDK. Without it the stack
 * waits for the resource's timeout (an hour) before it fails or rolls back.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export type ResponseStatus = 'SUCCESS' | 'FAILED';

/** CloudFormation refuses a response over 4,096 bytes; the reason is what is cut to fit. */
const MAX_RESPONSE_BYTES = 4_096;

export interface CfnAnswer {
  status: ResponseStatus;
  reason: string;
  physicalResourceId: string;
  data?: Record<string, string | number>;
}

/** The response document for `event`, at most MAX_RESPONSE_BYTES (the reason shortened if need be). */
export function responseBody(event: CloudFormationCustomResourceEvent, answer: CfnAnswer): string {
  const body = (reason: string) =>
    JSON.stringify({
      Status: answer.status,
      Reason: reason,
      PhysicalResourceId: answer.physicalResourceId,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      Data: answer.data ?? {},
    });
  let reason = answer.reason;
  let text = body(reason);
  while (Buffer.byteLength(text) > MAX_RESPONSE_BYTES && reason.length > 0) {
    reason = `${reason.slice(0, Math.max(0, reason.length - (Buffer.byteLength(text) - MAX_RESPONSE_BYTES) - 2))}…`;
    if (reason === '…') reason = '';
    text = body(reason);
  }
  return text;
}

/** The response URL did not take the answer (an HTTP error, no answer in time, a network error). */
export class ResponseError extends Error {
  override readonly name = 'ResponseError';
}

/**
 * PUTs the answer, once, within `timeoutMs` (the socket is destroyed after it). S3 wants an
 * empty Content-Type, as the presigned URL was signed without one.
 */
export function sendResponse(
  event: CloudFormationCustomResourceEvent,
  answer: CfnAnswer,
  timeoutMs: number,
): Promise<void> {
  const body = responseBody(event, answer);
  const url = new URL(event.ResponseURL);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new ResponseError(`the response URL answered ${status}`));
        });
        res.on('error', (error) => reject(new ResponseError(`the response URL's answer failed: ${error.message}`)));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new ResponseError(`the response URL did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new ResponseError(`the response URL did not answer within ${timeoutMs} ms`)));
    req.on('error', (error) =>
      reject(
        error instanceof ResponseError ? error : new ResponseError(`PUT to the response URL failed: ${error.message}`),
      ),
    );
    req.end(body);
  });
}
