/**
 * The README is the front door and docs/ the reference behind it: the front door stays
 * short. Code comments that point into docs/ lead somewhere, as the pages' own links do.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anchorsOf, ROOT as root } from '../support/docs/markdown';

// Tables, links and anchors of every page: test/unit/markdown.test.ts.
describe('the documentation', () => {
  it('keeps README.md at most 300 lines', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(301);
  });

  it('repeats no passage of six words in README.md (a paste that doubled part of a paragraph)', () => {
    const prose = readFileSync(join(root, 'README.md'), 'utf8')
      .replace(/```[\s\S]*?```/g, ' ')
      .replace(/<!-- generated: [a-z-]+ -->[\s\S]*?<!-- \/generated -->/g, ' ');
    const words = prose.split(/\s+/).filter((word) => word !== '');
    const seen = new Set<string>();
    const repeated: string[] = [];
    for (let i = 0; i + 6 <= words.length; i += 1) {
      const passage = words.slice(i, i + 6).join(' ');
      if (seen.has(passage)) repeated.push(passage);
      seen.add(passage);
    }
    expect(repeated).toEqual([]);
  });

  it('resolves every docs/ page and anchor a source comment points at', () => {
    const broken: string[] = [];
    const walk = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? walk(`${dir}/${entry.name}`)
          : /\.(ts|js)$/.test(entry.name)
            ? [`${dir}/${entry.name}`]
            : [],
      );
    for (const file of ['src', 'client', 'web', 'scripts', 'infra'].flatMap(walk)) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, page, fragment] of text.matchAll(/\bdocs\/([\w-]+\.md)(?:#([\w-]+))?/g)) {
        const target = join(root, 'docs', page as string);
        if (!existsSync(target)) broken.push(`${file}: docs/${page}`);
        else if (fragment && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
          broken.push(`${file}: docs/${page}#${fragment}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
