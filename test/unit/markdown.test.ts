/**
 * Every Markdown page renders on GitHub as its writer meant: each table whole (a header, its
 * separator row, the same number of cells in every row, no row cut off from its table), and every
 * relative link and #anchor leads somewhere. Pages added to docs/ later are checked too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anchorsOf, brokenLinks, cellsOf, markdownPages, ROOT, slug, tableProblems } from '../support/docs/markdown';

const pages = markdownPages();

describe('the Markdown pages', () => {
  it('include README.md and every page of docs/', () => {
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'docs/protocol.md', 'docs/auth.md']));
  });

  it.each(pages)('%s has only whole tables', (page) => {
    expect(tableProblems(readFileSync(join(ROOT, page), 'utf8'))).toEqual([]);
  });

  it.each(pages)('%s has no broken relative link or #anchor', (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });
});

describe('the table check', () => {
  const table = ['| a | b |', '| --- | --- |', '| 1 | 2 |'];

  it('accepts a whole table, escaped pipes included', () => {
    expect(tableProblems([...table, '| `x\\|y` | 3 |', '', 'text'].join('\n'))).toEqual([]);
    expect(cellsOf('| `"join"\\|"leave"` | b |')).toHaveLength(2);
  });

  it('finds a row with a cell too many (an unescaped pipe in a code span)', () => {
    expect(tableProblems([...table, '| `"join"\\ | "leave"` | b |'].join('\n'))).toEqual([
      'line 4: 3 cells, the header has 2',
    ]);
  });

  it('finds a row cut off from its table, and a table without a separator', () => {
    expect(tableProblems([...table, '', '| rooms | 3 |'].join('\n'))).toEqual([
      'line 5: a row outside a table (no header and separator row above it)',
    ]);
    expect(tableProblems('| a | b |\n| 1 | 2 |')).toEqual([
      'line 1: a row outside a table (no header and separator row above it)',
    ]);
  });

  it('finds text run on under a table, and leaves code fences alone', () => {
    expect(tableProblems([...table, 'more words'].join('\n'))).toEqual([
      'line 4: text right under a table, which GitHub makes a row of it',
    ]);
    expect(tableProblems(['```text', '| not | a table', '```'].join('\n'))).toEqual([]);
  });
});

describe('the anchor check', () => {
  it('makes heading ids as GitHub does: markup and punctuation dropped, repeats numbered', () => {
    expect(anchorsOf('# Time budgets\n## Time budgets\n### `npm start`, ready?\n```\n# not a heading\n```')).toEqual(
      new Set(['time-budgets', 'time-budgets-1', 'npm-start-ready']),
    );
    expect(slug('The [client](client.md) from your own project')).toBe('the-client-from-your-own-project');
    expect(slug('Ids, order and history')).toBe('ids-order-and-history');
  });
});
