/**
 * docs/protocol.md's lists of actions agree with the schemas that validate them
 * (src/chat/protocol.ts) and with the routes serverless.yml gives them: the actions table and the
 * wscat lines name every action and no other, each example there is a message the service
 * accepts, the actions said to take a `ref` or `echo`/`summary` are those whose schema keeps it,
 * and the limits table's numbers are the code's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURE_TABLE, UNNAMED_FAILURE } from '../../src/errors';
import { load } from 'js-yaml';
import {
  ACTIONS,
  MAX_DEPTH,
  MAX_HISTORY_LIMIT,
  MAX_REF_LENGTH,
  MAX_ROOM_LENGTH,
  parseCommand,
} from '../../src/chat/protocol';
import { ROOT } from '../support/docs/markdown';

const doc = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
const section = (heading: string) => {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" in docs/protocol.md`);
  const end = doc.indexOf('\n## ', start + heading.length + 2);
  return doc.slice(start, end < 0 ? undefined : end);
};
const actionsOf = (text: string) => [...text.matchAll(/"action":"([a-z]+)"/g)].map((match) => match[1]!);
const sorted = (items: Iterable<string>) => [...new Set(items)].sort();

/** The wscat lines to paste, one per action: the code block after "One wscat line per action". */
const wscatLines = (() => {
  const block = /One wscat line per action[^\n]*\n\n```text\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  return block.trim().split('\n');
})();
const accepts = (text: string) => {
  try {
    parseCommand(text);
    return true;
  } catch {
    return false;
  }
};

/** A connection id as serverless-offline makes them. */
const UUID = '9d2e7a31-6f0b-4c1e-9a55-0e2b3c4d5e6f';
/** A placeholder the reader fills in, as a value the schema takes. */
const filled = (line: string) =>
  line.replace('<an id from list or members>', UUID).replace(/"…"/g, `"${UUID}"`).replace(/…/g, '"x"');

describe("docs/protocol.md's actions", () => {
  const table = section('## Actions and frames')
    .split('\n')
    .filter((line) => line.startsWith('| `{'));

  it('has a row for every action of the schemas and none besides (`{}` is list)', () => {
    expect(sorted(table.flatMap((row) => actionsOf(row.split('|')[1]!)))).toEqual(sorted(ACTIONS));
  });

  it("gives requests the service accepts in the table's first column", () => {
    for (const row of table) {
      const request = filled(/`(\{[^`]*\})`/.exec(row.split('|')[1]!)![1]!);
      expect({ request, accepted: accepts(request) }).toEqual({ request, accepted: true });
    }
  });

  it('gives one wscat line per action, each accepted as written', () => {
    expect(sorted(wscatLines.flatMap(actionsOf))).toEqual(sorted(ACTIONS));
    for (const line of wscatLines) expect({ line, accepted: accepts(filled(line)) }).toEqual({ line, accepted: true });
  });

  it('says which actions take a ref, echo and summary as their schemas do', () => {
    const keeps = (field: 'ref' | 'echo' | 'summary' | 'ephemeral', value: unknown) =>
      sorted(
        wscatLines
          .map((line) => JSON.parse(filled(line)) as Record<string, unknown>)
          .filter((body) => body.action !== undefined)
          .filter((body) => field in parseCommand(JSON.stringify({ ...body, [field]: value })))
          .map((body) => body.action as string),
      );
    const named = (pattern: RegExp) =>
      sorted([...(pattern.exec(doc)?.[1] ?? '').matchAll(/`([a-z]+)`/g)].map((m) => m[1]!));
    expect(named(/\n((?:`[a-z]+`, )+`[a-z]+` and `[a-z]+`) take a `ref`/)).toEqual(keeps('ref', 'r1'));
    expect(named(/\| `ref` +\| 1 to \d+ characters, on ([^(]*)\(/)).toEqual(keeps('ref', 'r1'));
    expect(named(/\*\*`"echo": false`\*\* \(([^)]*)\)/)).toEqual(keeps('echo', false));
    expect(doc).toContain('**`"summary": false`** (the same actions)');
    expect(keeps('summary', false)).toEqual(keeps('echo', false));
    expect(named(/\*\*`"ephemeral": true`\*\* \(([^)]*)\)/)).toEqual(keeps('ephemeral', true));
  });

  it("states the code's limits", () => {
    const limits = section('## Limits and validation');
    expect(limits).toContain(`(\`MAX_DEPTH\``);
    expect(limits).toMatch(new RegExp(`at most ${MAX_DEPTH} deep \\(\`MAX_DEPTH\``));
    expect(limits).toContain(`\`limit\` 1 to ${MAX_HISTORY_LIMIT.toLocaleString('en-US')}`);
    expect(limits).toMatch(new RegExp(`\\| \`ref\` +\\| 1 to ${MAX_REF_LENGTH} characters`));
    expect(limits).toMatch(new RegExp(`\\| \`room\` +\\| 1 to ${MAX_ROOM_LENGTH} characters`));
  });
});

describe('the routes of the actions (serverless.yml)', () => {
  const yml = load(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as {
    functions: Record<string, { events?: { websocket?: { route: string } }[] }>;
  };
  const routes = Object.values(yml.functions).flatMap((fn) =>
    (fn.events ?? []).flatMap((event) => (typeof event.websocket?.route === 'string' ? [event.websocket.route] : [])),
  );

  it('give every action but list a route of its own; list and {} go to $default, as docs/deploy.md says', () => {
    expect(sorted(routes.filter((route) => !route.startsWith('$')))).toEqual(
      sorted(ACTIONS.filter((action) => action !== 'list')),
    );
    expect(routes).toContain('$default');
    expect(readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8')).toMatch(
      /only unknown actions reach `\$default`, with `list` and `{}`/,
    );
  });
});

describe("docs/protocol.md's error codes", () => {
  /** Every code a refusal of bad input can carry: the first argument of each `new BadMessageError(` in src/. */
  const refusalCodes = () => {
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(`${dir}/${entry.name}`) : entry.name.endsWith('.ts') ? [`${dir}/${entry.name}`] : [],
      );
    return sorted(
      walk('src').flatMap((file) =>
        [...readFileSync(join(ROOT, file), 'utf8').matchAll(/BadMessageError\(\s*'([a-z_]+)'/g)].map((m) => m[1]!),
      ),
    );
  };

  it('names every code a bad request can get, in its Error codes section', () => {
    const codes = refusalCodes();
    expect(codes).toEqual(expect.arrayContaining(['invalid_json', 'invalid_message', 'payload_too_large']));
    const named = new Set([...section('### Error codes').matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!));
    expect(codes.filter((code) => !named.has(code))).toEqual([]);
  });

  it('names every code of the failure table somewhere', () => {
    const codes = sorted([...FAILURE_TABLE.map(([, failure]) => failure.code), UNNAMED_FAILURE.code]);
    expect(codes.filter((code) => !doc.includes(`\`${code}\``))).toEqual([]);
  });
});
