/**
 * Builds the chat page that `npm start` serves (scripts/page/handler.ts) into one folder:
 * the typed client as the package builds it for browsers (client.js: the same bytes as the
 * package's dist/index.js, scripts/client/build.ts), the page's script (page.js, which
 * imports ./client.js), its HTML and CSS, and config.json, which tells the page where the
 * local WebSocket server is and whether it requires a token.
 * Rebuilt at every start, so the page always matches the code and the settings it runs with.
 */
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleBrowserClient } from '../client/build';

const root = resolve(__dirname, '..', '..');
const web = join(root, 'web');

/** What the page reads from config.json (web/page.ts's PageConfig). */
export interface PageSettings {
  wsPort: number;
  auth: string;
}

/** The page imports the client from ../client; in the browser that is the separate ./client.js. */
const clientAsModule: Plugin = {
  name: 'client-as-module',
  setup(builder) {
    builder.onResolve({ filter: /^\.\.\/client(\/index)?$/ }, () => ({ path: './client.js', external: true }));
  },
};

export async function buildPage(outDir: string, settings: PageSettings): Promise<void> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  // Lambda's and browsers' common ground: ES2022 runs in every current browser.
  const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'warning' } as const;
  await bundleBrowserClient(join(outDir, 'client.js'));
  await build({
    ...common,
    entryPoints: [join(web, 'page.ts')],
    outfile: join(outDir, 'page.js'),
    plugins: [clientAsModule],
  });
  for (const file of ['index.html', 'chat.css']) copyFileSync(join(web, file), join(outDir, file));
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(settings));
}
