/**
 * A stand-in for CloudFormation's DescribeStacks on 127.0.0.1, speaking the AWS Query protocol
 * the SDK uses for it (a form-encoded POST, an XML answer, shaped as in the API reference's
 * sample), for `npm run smoke -- --stage` in tests: the SDK's AWS_ENDPOINT_URL_CLOUDFORMATION
 * points it here, and nothing reaches AWS. It records every request, answers a stack it does not
 * hold as AWS does (400, `ValidationError`, "Stack with id … does not exist"), and can be told
 * never to answer (then it records whether the client gave up the request).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { serveLoopback } from './loopback-http';

export interface StackFixture {
  status: string;
  outputs: Record<string, string>;
}

export interface CloudFormationRequest {
  headers: IncomingHttpHeaders;
  /** The form's fields: Action, Version, StackName. */
  params: Record<string, string>;
  /** The client closed the request before it was answered (an abort). */
  abandoned: boolean;
}

export interface CloudFormationStandIn {
  /** http://127.0.0.1:port, for AWS_ENDPOINT_URL_CLOUDFORMATION. */
  url: string;
  stacks: Map<string, StackFixture>;
  /** When true, requests are read and never answered. */
  hang: boolean;
  requests: CloudFormationRequest[];
  close(): Promise<void>;
}

const NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function describeStacksAnswer(name: string, stack: StackFixture): string {
  const outputs = Object.entries(stack.outputs)
    .map(
      ([key, value]) =>
        `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue>` +
        `<Description>stand-in</Description></member>`,
    )
    .join('');
  return (
    `<DescribeStacksResponse xmlns="${NAMESPACE}"><DescribeStacksResult><Stacks><member>` +
    `<StackName>${xml(name)}</StackName>` +
    `<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/${xml(name)}/0f3c1e2a-stand-in</StackId>` +
    `<CreationTime>2026-01-01T00:00:00.000Z</CreationTime><StackStatus>${xml(stack.status)}</StackStatus>` +
    `<DisableRollback>false</DisableRollback><Outputs>${outputs}</Outputs>` +
    `</member></Stacks></DescribeStacksResult>` +
    `<ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></DescribeStacksResponse>`
  );
}

function errorAnswer(code: string, message: string): string {
  return (
    `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>${xml(code)}</Code>` +
    `<Message>${xml(message)}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>`
  );
}

export async function startCloudFormationStandIn(
  stacks: Record<string, StackFixture> = {},
): Promise<CloudFormationStandIn> {
  const standIn = { stacks: new Map(Object.entries(stacks)), hang: false, requests: [] as CloudFormationRequest[] };
  const server = await serveLoopback<CloudFormationRequest>({
    hang: () => standIn.hang,
    record(req, body) {
      const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
      const request = { headers: req.headers, params, abandoned: false };
      standIn.requests.push(request);
      return request;
    },
    answer({ params }, res) {
      const answer = (status: number, body: string) => {
        res.writeHead(status, { 'content-type': 'text/xml' });
        res.end(body);
      };
      if (params.Action !== 'DescribeStacks') {
        return answer(400, errorAnswer('InvalidAction', `not served: ${params.Action}`));
      }
      const name = params.StackName ?? '';
      const stack = standIn.stacks.get(name);
      if (stack === undefined)
        return answer(400, errorAnswer('ValidationError', `Stack with id ${name} does not exist`));
      answer(200, describeStacksAnswer(name, stack));
    },
  });
  return Object.assign(standIn, server);
}
