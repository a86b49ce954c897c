/**
 * Builds the client package (client/package.json) into client/dist: `index.js`, the client as
 * one ES module with no import at all (browsers, bundlers, any runtime with a WebSocket);
 * `node.js`, Node's entry (the `node` condition), which adds the WebSocket of Node 22 or `ws`
 * and imports ./index.js; and the type declarations.
 *
 * The client's source imports two files of src/ it shares with the service: the frame types
 * (src/chat/frames.ts) and the backoff (src/backoff.ts). A package cannot reach outside its
 * folder, so the build copies them in: the client's files and those go to a staging folder,
 * `../src/x` becoming `./shared/x.js` and every relative import getting the `.js` an ES module's
 * declarations need (Node's resolution of `import` does not add it). A shared file must import
 * nothing itself, which the build checks, so what is copied is all there is.
 *
 * The chat page's client.js (scripts/page/build.ts) is bundleBrowserClient's output: the same
 * bytes as the package's dist/index.js.
 */
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(__dirname, '..', '..');
export const CLIENT_DIR = join(root, 'client');
export const CLIENT_DIST = join(CLIENT_DIR, 'dist');

/** Relative import and export specifiers: `from './x'`, `from '../src/y'`, `import('./z')`. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\2/g;

/** What a staged file's relative import becomes: `.js` added; `../src/x` is `./shared/x.js`. */
function rewrite(text: string, file: string, shared: Set<string>): string {
  return text.replace(SPECIFIER, (_match, keyword: string, quote: string, specifier: string) => {
    if (specifier.startsWith('../src/')) {
      const path = specifier.slice('../src/'.length);
      shared.add(path);
      return `${keyword}${quote}./shared/${path}.js${quote}`;
    }
    if (specifier.startsWith('../')) throw new Error(`${file} imports ${specifier}: outside client/ and src/`);
    return `${keyword}${quote}${specifier}.js${quote}`;
  });
}

/**
 * The client's sources and the src/ files they import, rewritten, in a new folder (returned),
 * with a package.json that makes its .ts files ES modules. The caller removes it.
 */
export function stageClient(): string {
  const stage = mkdtempSync(join(tmpdir(), 'client-stage-'));
  const shared = new Set<string>();
  for (const name of readdirSync(CLIENT_DIR).filter((file) => file.endsWith('.ts'))) {
    const text = readFileSync(join(CLIENT_DIR, name), 'utf8');
    writeFileSync(join(stage, name), rewrite(text, `client/${name}`, shared));
  }
  for (const path of shared) {
    const file = `src/${path}.ts`;
    const text = readFileSync(join(root, file), 'utf8');
    if (new RegExp(SPECIFIER.source).test(text) || /\brequire\s*\(/.test(text)) {
      throw new Error(`${file} is shared with the client package and must import nothing`);
    }
    const target = join(stage, 'shared', `${path}.ts`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ type: 'module' }));
  return stage;
}

/** Every current browser and Node 20 run ES2022. */
const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'warning', legalComments: 'none' } as const;

/** node.js imports the browser build beside it rather than carrying a second copy of the client. */
const indexBeside: Plugin = {
  name: 'index-beside',
  setup(builder) {
    builder.onResolve({ filter: /^\.\/index\.js$/ }, () => ({ path: './index.js', external: true }));
  },
};

/**
 * The browser build: `neutral`, no platform's built-ins assumed (the client imports none). Paths
 * in esbuild's comments are relative to the stage, so the same source gives the same bytes.
 */
function bundleIndex(stage: string, outfile: string) {
  return build({ ...common, absWorkingDir: stage, platform: 'neutral', entryPoints: ['index.ts'], outfile });
}

async function bundleStaged(stage: string, outDir: string): Promise<void> {
  await bundleIndex(stage, join(outDir, 'index.js'));
  await build({
    ...common,
    absWorkingDir: stage,
    platform: 'node',
    entryPoints: ['node.ts'],
    outfile: join(outDir, 'node.js'),
    plugins: [indexBeside],
  });
}

/** The package's browser build alone, written to `outfile`: the chat page's client.js. */
export async function bundleBrowserClient(outfile: string): Promise<void> {
  const stage = stageClient();
  try {
    await bundleIndex(stage, outfile);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The declarations of every staged file, type-checked as the ES modules they are; throws on any error. */
function declare(stage: string, outDir: string): void {
  const files = readdirSync(stage, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(stage, file));
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
    strict: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    skipLibCheck: true,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: stage,
    outDir,
  });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics];
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => stage, getNewLine: () => '\n' };
    throw new Error(`the client package does not compile:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
}

/** client/dist, rebuilt from scratch; returns the files in it, relative to it. */
export async function buildClient(outDir = CLIENT_DIST): Promise<string[]> {
  const stage = stageClient();
  try {
    rmSync(outDir, { recursive: true, force: true });
    declare(stage, outDir);
    await bundleStaged(stage, outDir);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return readdirSync(outDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.js') || file.endsWith('.ts'))
    .map((file) => relative(outDir, join(outDir, file)))
    .sort();
}
