/**
 * `npm run docs`: rewrites the generated blocks of docs/deploy.md and README.md (scripts/docs/render.ts)
 * from the deploy suite's packaged templates (packaged once per source tree, no AWS needed), and
 * those of the capacity model in docs/operations.md, docs/protocol.md and README.md
 * (scripts/docs/model.ts). `npm run docs -- --check` only says which blocks differ (exit 1), as
 * test/deploy/docs.test.ts and test/unit/capacity-docs.test.ts do; `--model` only the model's
 * blocks (nothing packaged, a second).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../test/support/harnesses/service';
import { packageVariants } from '../test/support/package/variants';
import { blocksOf, prettierMarkdown, withBlocks } from './docs/blocks';
import { modelDocs } from './docs/model';
import { renderDocs } from './docs/render';

/** Each doc file as the generator would write it: every block, or (`modelOnly`) the model's alone. */
export async function generatedDocs({ modelOnly = false } = {}): Promise<Record<string, string>> {
  const rendered: Record<string, Record<string, string>> = modelOnly ? {} : renderDocs(await packageVariants());
  for (const [file, blocks] of Object.entries(modelDocs())) rendered[file] = { ...rendered[file], ...blocks };
  const files: Record<string, string> = {};
  for (const [file, blocks] of Object.entries(rendered)) {
    const path = join(root, file);
    files[file] = prettierMarkdown(withBlocks(readFileSync(path, 'utf8'), blocks, file, modelOnly), path, root);
  }
  return files;
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of Object.entries(await generatedDocs({ modelOnly: process.argv.includes('--model') }))) {
    const path = join(root, file);
    const current = readFileSync(path, 'utf8');
    const committed = blocksOf(current);
    for (const [name, body] of blocksOf(text)) {
      if (committed.get(name) === body) continue;
      stale += 1;
      console.log(`${file}: block "${name}" ${check ? 'differs from the templates' : 'rewritten'}`);
    }
    if (!check && text !== current) writeFileSync(path, text);
  }
  if (stale === 0) console.log('the generated blocks agree with the templates');
  return check && stale > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
