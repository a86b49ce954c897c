/**
 * `npm run docs`: rewrites the generated blocks of docs/deploy.md and README.md (scripts/docs/render.ts)
 * from the deploy suite's packaged templates (packaged once per source tree, no AWS needed), and
 * those of the capacity model in docs/operations.md, docs/protocol.md and README.md
 * (scripts/docs/model.ts). `npm run docs -- --check` only says which blocks differ (exit 1), as
 * test/deploy/docs.test.ts and test/unit/capacity-docs.test.ts do; `--model` only the model's
 * blocks (nothing packaged, a second). `--transcripts` only the wscat transcripts
 * (scripts/docs/sessions.ts), recorded against the service it starts (twice: auth off, then on;
 * about a minute), as test/e2e/transcripts.test.ts and test/e2e/auth.test.ts compare them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../test/support/harnesses/service';
import { packageVariants } from '../test/support/package/variants';
import { blocksOf, prettierMarkdown, withBlocks } from './docs/blocks';
import { modelDocs } from './docs/model';
import { renderDocs } from './docs/render';
import { recordSessions, TRANSCRIPT_BLOCKS } from './docs/sessions';
import { startOffline } from '../test/support/harnesses/offline';
import { mintToken } from '../src/auth/token';

/** The key of the service `--transcripts` starts with auth on (it lives only as long as the recording). */
const TRANSCRIPT_SECRET = 'transcript-secret-that-is-long-enough-for-hs256';

/** Each doc file as the generator would write it: every block, or (`modelOnly`) the model's alone. */
export async function generatedDocs({ modelOnly = false } = {}): Promise<Record<string, string>> {
  const rendered: Record<string, Record<string, string>> = modelOnly ? {} : renderDocs(await packageVariants());
  for (const [file, blocks] of Object.entries(modelDocs())) rendered[file] = { ...rendered[file], ...blocks };
  if (!modelOnly) {
    // The transcripts need the service running: kept as committed here, recorded by --transcripts.
    for (const [file, names] of Object.entries(TRANSCRIPT_BLOCKS)) {
      if (rendered[file] === undefined) continue;
      const committed = blocksOf(readFileSync(join(root, file), 'utf8'));
      for (const name of names) rendered[file] = { ...rendered[file], [name]: committed.get(name) ?? '' };
    }
  }
  const files: Record<string, string> = {};
  for (const [file, blocks] of Object.entries(rendered)) {
    const path = join(root, file);
    files[file] = prettierMarkdown(withBlocks(readFileSync(path, 'utf8'), blocks, file, modelOnly), path, root);
  }
  return files;
}

/** Each doc file with its transcripts recorded anew: the service started with auth off, then with it on. */
export async function recordedDocs(): Promise<Record<string, string>> {
  const blocks: Record<string, Record<string, string>> = {};
  const merge = (more: Record<string, Record<string, string>>) => {
    for (const [file, named] of Object.entries(more)) blocks[file] = { ...blocks[file], ...named };
  };
  for (const auth of [false, true]) {
    const service = await startOffline(auth ? { env: { AUTH_JWT_SECRET: TRANSCRIPT_SECRET } } : {});
    try {
      const key = new TextEncoder().encode(TRANSCRIPT_SECRET);
      const token = (user: string) => mintToken(key, { subject: user, ttlSec: 300 });
      merge(await recordSessions(service.url, { auth, token }));
    } finally {
      await service.stop();
    }
  }
  return withRecorded(blocks);
}

/** The doc files with these transcript blocks in, formatted as `npm run lint` wants them. */
export function withRecorded(blocks: Record<string, Record<string, string>>): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [file, named] of Object.entries(blocks)) {
    const path = join(root, file);
    files[file] = prettierMarkdown(withBlocks(readFileSync(path, 'utf8'), named, file, true), path, root);
  }
  return files;
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  let stale = 0;
  const transcripts = process.argv.includes('--transcripts');
  const source = transcripts ? 'the service' : 'the templates';
  const docs = transcripts
    ? await recordedDocs()
    : await generatedDocs({ modelOnly: process.argv.includes('--model') });
  for (const [file, text] of Object.entries(docs)) {
    const path = join(root, file);
    const current = readFileSync(path, 'utf8');
    const committed = blocksOf(current);
    for (const [name, body] of blocksOf(text)) {
      if (committed.get(name) === body) continue;
      stale += 1;
      console.log(`${file}: block "${name}" ${check ? `differs from ${source}` : 'rewritten'}`);
    }
    if (!check && text !== current) writeFileSync(path, text);
  }
  if (stale === 0) console.log(`the generated blocks agree with ${source}`);
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
