/**
 * A stand-in for Secrets Manager's GetSecretValue (the JSON 1.1 protocol the SDK speaks) on
 * 127.0.0.1, for tests and the bench: nothing here reaches AWS. It records every request
 * (headers, body, and whether the client gave up before the answer), and can be told to
 * never answer, to check that a read's timeout really aborts.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { serveLoopback } from './loopback-http';

export interface SecretsRequest {
  target: string | undefined;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The client closed the request before it was answered (an abort). */
  abandoned: boolean;
}

export interface SecretsStandIn {
  /** http://127.0.0.1:port, to give as the client's endpoint. */
  url: string;
  /** SecretString by SecretId (ARN or name); change it to simulate a rotation. */
  secrets: Map<string, string>;
  /** When true, requests are read and never answered. */
  hang: boolean;
  requests: SecretsRequest[];
  close(): Promise<void>;
}

export async function startSecretsStandIn(secrets: Record<string, string> = {}): Promise<SecretsStandIn> {
  const standIn = {
    secrets: new Map(Object.entries(secrets)),
    hang: false,
    requests: [] as SecretsRequest[],
  };
  const server = await serveLoopback<SecretsRequest>({
    hang: () => standIn.hang,
    record(req, raw) {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        // recorded as {}; answered as a bad request below
      }
      const request = {
        target: req.headers['x-amz-target'] as string | undefined,
        headers: req.headers,
        body,
        abandoned: false,
      };
      standIn.requests.push(request);
      return request;
    },
    answer({ target, body }, res) {
      const json = (status: number, payload: unknown, errorType?: string) => {
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
        });
        res.end(JSON.stringify(payload));
      };
      if (target !== 'secretsmanager.GetSecretValue') {
        return json(
          400,
          { __type: 'UnknownOperationException', message: `not served: ${target}` },
          'UnknownOperationException',
        );
      }
      const id = String(body.SecretId ?? '');
      const value = standIn.secrets.get(id);
      if (value === undefined) {
        return json(
          400,
          { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
          'ResourceNotFoundException',
        );
      }
      json(200, {
        ARN: id.startsWith('arn:') ? id : `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbCdEf`,
        Name: id,
        SecretString: value,
        VersionId: 'stand-in',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    },
  });
  return Object.assign(standIn, server);
}
