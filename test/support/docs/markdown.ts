/**
 * What GitHub makes of a Markdown page, as far as the docs checks need it: the heading ids a
 * `#anchor` may name, the relative links, and the tables (rows that GitHub would render as
 * something else, or with a cell too many, are the problems). Code fences are skipped: what is
 * in them is shown as written.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..', '..');

/** Every Markdown page of the repository: README, BENCHMARKS, client/README and all of docs/, added ones too. */
export function markdownPages(root = ROOT): string[] {
  const inDocs = readdirSync(join(root, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .sort()
    .map((file) => `docs/${file}`);
  return ['README.md', 'BENCHMARKS.md', 'client/README.md', ...inDocs].filter((page) => existsSync(join(root, page)));
}

/** The lines of a page outside code fences, with their 1-based numbers. */
export function proseLines(markdown: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) out.push({ line, n: index + 1 });
  });
  return out;
}

/** GitHub's id for a heading: its text without markup, lower case, punctuation dropped, spaces as dashes. */
export function slug(heading: string): string {
  return heading
    .trim()
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The ids a `#fragment` may name in a page: its headings' (repeats numbered) and its `<a id>`s. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const id = slug(heading[1]!);
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      anchors.add(n === 0 ? id : `${id}-${n}`);
    }
    for (const [, id] of line.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(id!);
  }
  return anchors;
}

/** The relative links of a page (inline, `<…>` targets and reference definitions) that lead nowhere. */
export function brokenLinks(page: string, root = ROOT): string[] {
  const path = join(root, page);
  const text = proseLines(readFileSync(path, 'utf8'))
    .map(({ line }) => line.replace(/``[^`]*``|`[^`]*`/g, ''))
    .join('\n');
  const targets = [
    ...[...text.matchAll(/\]\(<([^>]+)>\)/g)].map((match) => match[1]!),
    ...[...text.matchAll(/\]\(([^)\s<]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s+(\S+)/gm)].map((match) => match[1]!),
    ...[...text.matchAll(/<a [^>]*href="([^"]+)"/g)].map((match) => match[1]!),
  ];
  const broken: string[] = [];
  for (const link of targets) {
    if (/^[a-z][a-z+.-]*:/i.test(link) || link.startsWith('//')) continue;
    const [file, fragment] = link.split('#') as [string, string | undefined];
    const target = file === '' ? path : resolve(dirname(path), decodeURIComponent(file));
    if (!existsSync(target)) broken.push(`${link} (no such file)`);
    else if (fragment && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
      broken.push(`${link} (no such heading in ${relative(root, target)})`);
    }
  }
  return broken;
}

/** A table row's cells: split at every pipe not escaped (GitHub splits inside code spans too). */
export function cellsOf(row: string): string[] {
  const trimmed = row
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '');
  return trimmed.split(/(?<!\\)\|/);
}

const SEPARATOR = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/;

/**
 * What GitHub would not render as the writer meant: a table without its separator row, a row with
 * more or fewer cells than its header, a line that starts with `|` outside any table (a row cut off
 * from its table by a blank line or a paragraph).
 */
export function tableProblems(markdown: string): string[] {
  const problems: string[] = [];
  const lines = proseLines(markdown);
  let i = 0;
  while (i < lines.length) {
    const { line, n } = lines[i]!;
    if (!line.trimStart().startsWith('|')) {
      i += 1;
      continue;
    }
    const rows: { line: string; n: number }[] = [];
    while (i < lines.length && lines[i]!.line.trimStart().startsWith('|') && lines[i]!.n === n + rows.length) {
      rows.push(lines[i]!);
      i += 1;
    }
    const [header, separator, ...body] = rows;
    if (separator === undefined || !SEPARATOR.test(separator.line.trim())) {
      problems.push(`line ${n}: a row outside a table (no header and separator row above it)`);
      continue;
    }
    const columns = cellsOf(header!.line).length;
    if (cellsOf(separator.line).length !== columns) {
      problems.push(
        `line ${separator.n}: the separator has ${cellsOf(separator.line).length} cells, the header ${columns}`,
      );
    }
    for (const row of body) {
      const count = cellsOf(row.line).length;
      if (count !== columns) problems.push(`line ${row.n}: ${count} cells, the header has ${columns}`);
    }
    // A line of text right under a table, with no blank line between, is one more row to GitHub.
    const next = lines[i];
    if (next !== undefined && next.n === n + rows.length && next.line.trim() !== '' && !/^\s*(#|>|<)/.test(next.line)) {
      problems.push(`line ${next.n}: text right under a table, which GitHub makes a row of it`);
    }
  }
  return problems;
}
