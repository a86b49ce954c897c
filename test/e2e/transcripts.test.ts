/**
 * The wscat transcripts of README.md and docs/protocol.md are what the service answers today:
 * the sessions of scripts/docs/sessions.ts are played against one service (auth off), their ids
 * and times replaced by the same stand-ins as `npm run docs -- --transcripts` writes, and each
 * block must equal the committed one. The auth-on transcript (docs/auth.md) is compared in
 * test/e2e/auth.test.ts, on the service that file starts anyway.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withRecorded } from '../../scripts/docs';
import { blocksOf } from '../../scripts/docs/blocks';
import { recordSessions, TRANSCRIPT_BLOCKS } from '../../scripts/docs/sessions';
import { root } from '../support/harnesses/service';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(180_000);

let service: OfflineService;
beforeAll(async () => {
  service = await startOffline();
});
afterAll(async () => {
  await service?.stop();
});

describe('the transcripts in the docs (npm run docs -- --transcripts)', () => {
  it('are what the service answers now, frame for frame, in README.md and docs/protocol.md', async () => {
    const blocks = await recordSessions(service.url, { auth: false });
    const recorded = withRecorded(blocks);
    expect(Object.keys(blocks).sort()).toEqual(['README.md', 'docs/protocol.md']);
    for (const [file, named] of Object.entries(blocks)) {
      expect(Object.keys(named)).toEqual(TRANSCRIPT_BLOCKS[file]);
      const committed = blocksOf(readFileSync(join(root, file), 'utf8'));
      const written = blocksOf(recorded[file]!);
      for (const name of Object.keys(named)) {
        expect({ file, name, body: committed.get(name) }).toEqual({ file, name, body: written.get(name) });
      }
    }
  });
});
