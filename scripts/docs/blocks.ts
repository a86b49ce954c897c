/**
 * Generated blocks in the docs: `<!-- generated: NAME -->` … `<!-- /generated -->`, written by
 * `npm run docs` (scripts/docs.ts) and compared with what it would write by the deploy suite
 * (test/deploy/docs.test.ts). Everything between the markers is the generator's; the rest of
 * the file is prose. Blocks may sit inside a paragraph (README's one-sentence summary).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const BLOCK = /<!-- generated: ([a-z-]+) -->([\s\S]*?)<!-- \/generated -->/g;

/** The blocks of a file, by name. */
export function blocksOf(text: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(BLOCK)) {
    if (blocks.has(match[1]!)) throw new Error(`two blocks named ${match[1]}`);
    blocks.set(match[1]!, match[2]!);
  }
  return blocks;
}

/**
 * The file with each named block's content replaced; a block the file lacks is an error, and so is
 * one it does not know unless `partial` (some of the file's blocks only: the model's, scripts/docs/model.ts).
 */
export function withBlocks(text: string, content: Record<string, string>, file: string, partial = false): string {
  const present = blocksOf(text);
  const missing = Object.keys(content).filter((name) => !present.has(name));
  if (missing.length > 0) throw new Error(`${file} has no block ${missing.join(', ')}`);
  const unknown = [...present.keys()].filter((name) => !Object.hasOwn(content, name));
  if (unknown.length > 0 && !partial) throw new Error(`${file} has blocks no generator writes: ${unknown.join(', ')}`);
  return text.replace(BLOCK, (whole: string, name: string) => {
    if (!Object.hasOwn(content, name)) return whole;
    const body = content[name]!;
    // A block on lines of its own starts and ends with a newline; one inside a sentence does not.
    const inline = !body.includes('\n');
    return inline
      ? `<!-- generated: ${name} -->${body}<!-- /generated -->`
      : `<!-- generated: ${name} -->\n\n${body.trim()}\n\n<!-- /generated -->`;
  });
}

/**
 * The file as prettier (the repository's settings) would write it, as `npm run lint` checks. Its
 * CLI in a child process: prettier 3 loads its plugins with a dynamic import, which jest's module
 * system refuses.
 */
export function prettierMarkdown(text: string, path: string, root: string): string {
  const cli = join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
  return execFileSync(process.execPath, [cli, '--stdin-filepath', path], { cwd: root, input: text, encoding: 'utf8' });
}
