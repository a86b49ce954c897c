/**
 * Which API's events we serve, and where our posts go. The WebSocket handlers trust the
 * event's `requestContext.authorizer.principalId` (the subject) and once took the management
 * endpoint from its `domainName`; an API that is not ours (another account's, pointed at the
 * function) could then store rows under any subject, send as any user, and aim our signed
 * posts at a host it names. So the endpoint comes from this stage's own API, as the template
 * passes it in (WEBSOCKET_API_ID, WEBSOCKET_API_ENDPOINT, or MANAGEMENT_ENDPOINT for a custom
 * domain), and an event that names another API, host or stage is refused before anything is
 * stored or posted. The invoke permissions' SourceArn (infra/permissions.js) keeps such
 * events out in the first place; this is the check behind it.
 *
 * Locally (serverless-offline) the API is offline's own: its events always carry apiId
 * "private", domainName "localhost" and stage "local", and the template's Ref values arrive
 * as "[object Object]" (src/config.ts, usable).
 */
import { usable } from '../config';
import { ConfigError, ForeignEventError } from '../errors';

type Env = Record<string, string | undefined>;

/** Our API, as an event must name it. */
export interface ApiOrigin {
  apiId: string;
  stage: string;
  /** Host names an event may carry: the API's execute-api host, and a custom domain's. */
  domainNames: readonly string[];
  /** Where posts to our connections go: `https://{api host}/{stage}`, or MANAGEMENT_ENDPOINT. */
  endpoint: string | undefined;
}

/** What serverless-offline 13 puts in every WebSocket event's requestContext. */
export const OFFLINE_ORIGIN: ApiOrigin = {
  apiId: 'private',
  stage: 'local',
  domainNames: ['localhost'],
  endpoint: undefined,
};

/** The part of an event's requestContext that names its API. */
export interface EventOrigin {
  apiId?: string;
  domainName?: string;
  stage?: string;
}

export { ForeignEventError };

function url(name: string, value: string): URL {
  try {
    return new URL(value);
  } catch (cause) {
    throw new ConfigError(`${name} is not a URL: ${value}`, { cause });
  }
}

/**
 * Our API from the function's environment. In AWS every value is required: a function that
 * cannot tell its own API refuses every event rather than trust one.
 */
export function readOrigin(env: Env = process.env): ApiOrigin {
  const override = usable(env.MANAGEMENT_ENDPOINT);
  if (env.IS_OFFLINE === 'true') return { ...OFFLINE_ORIGIN, endpoint: override };
  const apiId = usable(env.WEBSOCKET_API_ID);
  const apiEndpoint = usable(env.WEBSOCKET_API_ENDPOINT);
  if (apiId === undefined || apiEndpoint === undefined) {
    throw new ConfigError('WEBSOCKET_API_ID and WEBSOCKET_API_ENDPOINT must name this stage’s WebSocket API');
  }
  const api = url('WEBSOCKET_API_ENDPOINT', apiEndpoint);
  const stage = api.pathname.split('/').filter(Boolean).pop();
  if (stage === undefined) throw new ConfigError(`WEBSOCKET_API_ENDPOINT has no stage in its path: ${apiEndpoint}`);
  const domainNames = [api.hostname];
  if (override !== undefined) domainNames.push(url('MANAGEMENT_ENDPOINT', override).hostname);
  return { apiId, stage, domainNames, endpoint: (override ?? apiEndpoint).replace(/\/+$/, '') };
}

/** Throws ForeignEventError, saying which field differs, unless the event names our API. */
export function checkOrigin(origin: ApiOrigin, event: EventOrigin): void {
  if (event.apiId !== origin.apiId) throw new ForeignEventError(`apiId ${String(event.apiId)} is not ours`);
  if (event.domainName === undefined || !origin.domainNames.includes(event.domainName)) {
    throw new ForeignEventError(`domainName ${String(event.domainName)} is not ours`);
  }
  if (event.stage !== origin.stage) throw new ForeignEventError(`stage ${String(event.stage)} is not ours`);
}

let cached: ApiOrigin | undefined;

/** This container's API, read on first use and kept for warm invocations (as config()). */
export function ownOrigin(): ApiOrigin {
  cached ??= readOrigin();
  return cached;
}
