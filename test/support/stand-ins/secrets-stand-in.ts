/**
 * A stand-in for Secrets Manager's GetSecretValue (the JSON 1.1 protocol the SDK speaks) on
 * 127.0.0.1, for tests and the bench: nothing here reaches AWS. It records every request
 * (headers, body, and whether the client gave up before the answer), and can be told to
 * never answer, to check that a read's timeout really aborts. It serves two staging labels, as
 * during a rotation: AWSCURRENT (`secrets`, and a request without VersionStage) and AWSPENDING
 * (`pending`; a secret without one answers ResourceNotFoundException, as Secrets Manager does).
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
  /** SecretString of the AWSCURRENT version by SecretId (ARN or name); change it to simulate a rotation. */
  secrets: Map<string, string>;
  /** SecretString of the AWSPENDING version by SecretId, while a rotation is under way. */
  pending: Map<string, string>;
  /** Called with each request before it is answered: a test can change the values there (after N reads). */
  onRequest: ((request: SecretsRequest) => void) | undefined;
  /** When true, requests are read and never answered. */
  hang: boolean;
  requests: SecretsRequest[];
  close(): Promise<void>;
}

export async function startSecretsStandIn(secrets: Record<string, string> = {}): Promise<SecretsStandIn> {
  const standIn = {
    secrets: new Map(Object.entries(secrets)),
    pending: new Map<string, string>(),
    onRequest: undefined as ((request: SecretsRequest) => void) | undefined,
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
      standIn.onRequest?.(request);
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
      const stage = String(body.VersionStage ?? 'AWSCURRENT');
      if (stage !== 'AWSCURRENT' && stage !== 'AWSPENDING') {
        return json(
          400,
          { __type: 'InvalidParameterException', message: `not served: ${stage}` },
          'InvalidParameterException',
        );
      }
      const value = (stage === 'AWSPENDING' ? standIn.pending : standIn.secrets).get(id);
      if (value === undefined) {
        const message =
          standIn.secrets.has(id) && stage === 'AWSPENDING'
            ? `Secrets Manager can't find the specified secret value for staging label: ${stage}`
            : "Secrets Manager can't find the specified secret.";
        return json(400, { __type: 'ResourceNotFoundException', message }, 'ResourceNotFoundException');
      }
      json(200, {
        ARN: id.startsWith('arn:') ? id : `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbCdEf`,
        Name: id,
        SecretString: value,
        VersionId: `stand-in-${stage.toLowerCase()}`,
        VersionStages: [stage],
        CreatedDate: Date.now() / 1000,
      });
    },
  });
  return Object.assign(standIn, server);
}
