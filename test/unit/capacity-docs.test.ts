/**
 * The blocks the capacity model writes (scripts/docs/model.ts: what one stage carries in
 * docs/operations.md, what a message costs in docs/protocol.md, the throttle's defaults in
 * README.md) are what it makes of infra/capacity.js and infra/request-costs.js today: change a
 * quota, a measured figure or a cost, and `npm run docs -- --model` must be run. Nothing is
 * packaged for this (test/deploy/docs.test.ts checks the template's blocks).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blocksOf } from '../../scripts/docs/blocks';
import { generatedDocs } from '../../scripts/docs';
import { modelDocs } from '../../scripts/docs/model';
import { root } from '../support/harnesses/service';

let generated: Record<string, string>;
beforeAll(async () => {
  generated = await generatedDocs({ modelOnly: true });
}, 60_000);

describe.each(Object.entries(modelDocs()))('%s', (file, blocks) => {
  it.each(Object.keys(blocks))('has the block "%s" the model gives (npm run docs -- --model)', (name) => {
    const committed = blocksOf(readFileSync(join(root, file), 'utf8')).get(name);
    expect(committed).toBeDefined();
    expect(committed).toBe(blocksOf(generated[file]!).get(name));
  });
});
