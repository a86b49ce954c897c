/**
 * The client as a package of its own (client/package.json, scripts/client/build.ts): it speaks
 * the service's protocol (its commands are the ones the service's schemas accept, checked at
 * compile time), reaches outside client/ only for the two files of src/ it shares, which import
 * nothing, and its browser build imports nothing at all. The tarball itself, installed in an
 * empty project, is tested in test/e2e/client-package.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClientCommand } from '../../client';
import type { Command } from '../../src/chat/protocol';
import { bundleBrowserClient, stageClient } from '../../scripts/client/build';

const root = resolve(__dirname, '..', '..');

type KeysOf<U> = U extends unknown ? keyof U : never;
/** The fields the service takes for an action that the client's command for it does not have. */
type Unknown = {
  [A in Command['action']]: Exclude<
    KeysOf<Extract<Command, { action: A }>>,
    KeysOf<Extract<ClientCommand, { action: A }>>
  >;
}[Command['action']];
/** Each is `true` only when its check holds, else the file does not compile (and this test fails). */
const accepted: [ClientCommand] extends [Command] ? true : never = true;
const everyAction: [Command['action']] extends [ClientCommand['action']] ? true : never = true;
const everyField: [Unknown] extends [never] ? true : never = true;

/** Relative imports and re-exports of a TypeScript file. */
const importsOf = (text: string) =>
  [...text.matchAll(/\b(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] as string);

describe('the client package', () => {
  it("sends only commands the service's schemas accept, and knows every action and field they take", () => {
    expect([accepted, everyAction, everyField]).toEqual([true, true, true]);
  });

  it('imports from outside client/ only src/chat/frames.ts and src/backoff.ts, which import nothing', () => {
    const outside = new Set<string>();
    for (const file of readdirSync(join(root, 'client')).filter((f) => f.endsWith('.ts'))) {
      for (const specifier of importsOf(readFileSync(join(root, 'client', file), 'utf8'))) {
        if (specifier.startsWith('../')) outside.add(specifier);
      }
    }
    expect([...outside].sort()).toEqual(['../src/backoff', '../src/chat/frames']);
    for (const shared of ['src/backoff.ts', 'src/chat/frames.ts']) {
      expect({ shared, imports: importsOf(readFileSync(join(root, shared), 'utf8')) }).toEqual({ shared, imports: [] });
    }
  });

  it('is staged as ES modules: every relative import with .js, the shared files under shared/', () => {
    const stage = stageClient();
    try {
      const files = readdirSync(stage, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
      expect(files).toEqual(
        expect.arrayContaining(['index.ts', 'node.ts', 'shared/chat/frames.ts', 'shared/backoff.ts']),
      );
      const specifiers = files.flatMap((f) => importsOf(readFileSync(join(stage, f), 'utf8')));
      expect(specifiers.filter((s) => !/^\.\/[\w/-]+\.js$/.test(s))).toEqual([]);
      expect(readFileSync(join(stage, 'shared/chat/frames.ts'), 'utf8')).toBe(
        readFileSync(join(root, 'src/chat/frames.ts'), 'utf8'),
      );
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });

  it('builds for browsers to one module that imports nothing and names nothing of Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-browser-'));
    try {
      await bundleBrowserClient(join(dir, 'client.js'));
      const code = readFileSync(join(dir, 'client.js'), 'utf8');
      expect(code).toContain('var RealtimeClient = class');
      // No module of any kind (Node's built-ins, ws) is loaded, statically or dynamically.
      expect(code).not.toMatch(/^\s*import\s|\bimport\s*\(|\brequire\s*\(|\bcreateRequire\b/m);
      expect(code).not.toMatch(/\b(Buffer|process|__dirname)\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('declares an ES module: types, a Node entry and a browser one; no dependency, ws an optional peer', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'client', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      name: '@aws-node-websockets/client',
      type: 'module',
      exports: {
        '.': {
          types: './dist/index.d.ts',
          node: './dist/node.js',
          import: './dist/index.js',
          default: './dist/index.js',
        },
      },
      files: expect.arrayContaining(['dist']),
      peerDependencies: { ws: expect.any(String) },
      peerDependenciesMeta: { ws: { optional: true } },
    });
    expect(manifest).not.toHaveProperty('dependencies');
    // No top-level `types` or `main`: TypeScript would take them for this repository's own
    // `import … from '../client'` and check the tests against a stale dist/ instead of the source.
    for (const field of ['types', 'typings', 'main']) expect(manifest).not.toHaveProperty(field);
    // Conditions are tried in order: types first (TypeScript), node before import (Node would stop at import).
    const conditions = Object.keys((manifest.exports as Record<string, object>)['.'] as object);
    expect(conditions).toEqual(['types', 'node', 'import', 'default']);
  });
});
