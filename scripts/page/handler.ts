/**
 * The chat page under `npm start` (local only: settings.js adds this function and its
 * GET routes only under `serverless offline`, so the deployed template has neither). It
 * serves the files scripts/page/build.ts wrote to PAGE_DIR, and nothing else: the path is
 * looked up in a fixed list, never joined onto the folder as given.
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

export async function page(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const name = event.rawPath === '/' ? 'index.html' : event.rawPath.slice(1);
  const type = Object.hasOwn(CONTENT_TYPES, name) ? CONTENT_TYPES[name] : undefined;
  if (type === undefined) return plain(404, 'not found');
  const dir = process.env.PAGE_DIR;
  if (!dir) return plain(500, 'PAGE_DIR is not set: start the service with `npm start`, which builds the page');
  try {
    const body = await readFile(join(dir, name), 'utf8');
    // Rebuilt at every start: a browser must not keep a previous run's page or config.
    return { statusCode: 200, headers: { 'content-type': type, 'cache-control': 'no-store' }, body };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return plain(404, `${name} was not built`);
    throw error;
  }
}
