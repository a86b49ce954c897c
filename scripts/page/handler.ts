/**
 * The chat page under `npm start` (local only: settings.js adds this function and its
 * GET routes only under `serverless offline`, so the deployed template has neither). It
 * serves the files scripts/page/build.ts wrote to PAGE_DIR, and nothing else: the path is
 * looked up in a fixed list, never joined onto the folder as given.
 *
 * Every answer carries a Content-Security-Policy that lets the page load only its own
 * files and connect only to itself and the WebSocket URL it talks to: the local service
 * (config.json's port, on the host the page was opened with) or the `?url=` it was given.
 * (Which Host the server answers at all is scripts/local-guard.js's.)
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file scripts/page/build.ts writes, with its content type. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'chat.css': 'text/css; charset=utf-8',
  'client.js': 'text/javascript; charset=utf-8',
  'page.js': 'text/javascript; charset=utf-8',
  'config.json': 'application/json; charset=utf-8',
};

function plain(statusCode: number, body: string): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

/** `ws:`/`wss:` URL -> its origin as CSP writes a source; anything else -> undefined. */
function socketSource(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? `${url.protocol}//${url.host}` : undefined;
  } catch {
    return undefined;
  }
}

/** The policy for a page opened at `host` (already checked to be a loopback name) talking to `wsPort`. */
export function contentSecurityPolicy(host: string | undefined, wsPort: number | undefined, url?: string): string {
  const hostname = host === undefined ? 'localhost' : host.replace(/:\d+$/, '');
  const sockets = [wsPort === undefined ? undefined : `ws://${hostname}:${wsPort}`, socketSource(url)].filter(
    (source): source is string => source !== undefined,
  );
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // the page's empty favicon is a data: URL
    "img-src 'self' data:",
    ['connect-src', "'self'", ...sockets].join(' '),
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

async function wsPortOf(dir: string): Promise<number | undefined> {
  try {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { wsPort?: unknown };
    return typeof config.wsPort === 'number' ? config.wsPort : undefined;
  } catch {
    return undefined;
  }
}

export async function page(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const name = event.rawPath === '/' ? 'index.html' : event.rawPath.slice(1);
  const type = Object.hasOwn(CONTENT_TYPES, name) ? CONTENT_TYPES[name] : undefined;
  if (type === undefined) return plain(404, 'not found');
  const dir = process.env.PAGE_DIR;
  if (!dir) return plain(500, 'PAGE_DIR is not set: start the service with `npm start`, which builds the page');
  try {
    const body = await readFile(join(dir, name), 'utf8');
    const policy = contentSecurityPolicy(event.headers?.host, await wsPortOf(dir), event.queryStringParameters?.url);
    // Rebuilt at every start: a browser must not keep a previous run's page or config.
    return {
      statusCode: 200,
      headers: { 'content-type': type, 'cache-control': 'no-store', 'content-security-policy': policy },
      body,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return plain(404, `${name} was not built`);
    throw error;
  }
}
