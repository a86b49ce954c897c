/**
 * The README is the front door and docs/ the reference behind it: the front door stays
 * short, and every relative link (and #anchor) in either leads somewhere, as GitHub
 * renders them. Code comments that point into docs/ are checked the same way.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const pages = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading ids: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      const slug = (heading[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, '')
        .replace(/ /g, '-');
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const [, id] of line.matchAll(/<a id="([^"]+)"/g)) anchors.add(id as string);
  }
  return anchors;
}

function brokenLinks(page: string): string[] {
  const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  const broken: string[] = [];
  for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(link as string)) continue;
    const [path, fragment] = (link as string).split('#') as [string, string | undefined];
    const target = path === '' ? join(root, page) : resolve(dirname(join(root, page)), path);
    if (!existsSync(target)) broken.push(`${link} (no such file)`);
    else if (fragment && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
      broken.push(`${link} (no such heading in ${relative(root, target)})`);
    }
  }
  return broken;
}

describe('the documentation', () => {
  it('keeps README.md at most 300 lines', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(301);
  });

  it.each(pages)('has no broken relative link in %s', (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });

  it('computes heading ids as GitHub does (repeats numbered, punctuation dropped)', () => {
    expect(anchorsOf('# Time budgets\n## Time budgets\n### `npm start`, ready?')).toEqual(
      new Set(['time-budgets', 'time-budgets-1', 'npm-start-ready']),
    );
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
