/**
 * `npm install` warns EBADENGINE for every locked package whose `engines.node` excludes the
 * Node it runs on. The project promises its `engines.node` floor, so every package in the
 * lock file must accept that floor (the lock records each package's engines).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean }>;
};

type Version = [number, number, number];

/** `20`, `20.19`, `20.x`, `6.*`: the parts given, undefined where a part is a wildcard or absent. */
function parts(text: string): (number | undefined)[] {
  return text.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : undefined));
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** One comparator of a semver range (`>=20.19`, `^22.13.0`, `20.x`, `*`), as npm's semver reads it. */
function comparatorAccepts(comparator: string, version: Version): boolean {
  const match = /^(>=|<=|>|<|\^|~|=)?\s*v?([\dx*.]+)$/.exec(comparator);
  if (!match) throw new Error(`engines range not understood: "${comparator}"`);
  const operator = match[1] ?? '';
  const given = parts(match[2] as string);
  const floor = [given[0] ?? 0, given[1] ?? 0, given[2] ?? 0] as Version;
  const fixed = given.findIndex((part) => part === undefined);
  const known = fixed === -1 ? given.length : fixed;
  if (operator === '>=') return compare(version, floor) >= 0;
  if (operator === '>') return compare(version, floor) > 0;
  if (operator === '<') return compare(version, floor) < 0;
  if (operator === '<=') return compare(version, floor) <= 0;
  if (operator === '^' || operator === '~') {
    const same = operator === '^' ? Math.max(1, given[0] === 0 ? 2 : 1) : Math.min(known, 2);
    return compare(version, floor) >= 0 && version.slice(0, same).every((part, i) => part === floor[i]);
  }
  // A plain version, possibly with wildcards: the parts given must be equal.
  return version.slice(0, known).every((part, i) => part === floor[i]);
}

function accepts(range: string, version: Version): boolean {
  return range.split('||').some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1')
      .split(/\s+/)
      .filter((part) => part !== '' && part !== '*');
    return comparators.every((comparator) => comparatorAccepts(comparator, version));
  });
}

describe('the engines range reader', () => {
  it('reads the forms the lock file uses', () => {
    const v = (text: string) => parts(text).concat(0, 0).slice(0, 3) as Version;
    expect(accepts('>=20.19', v('20.19.0'))).toBe(true);
    expect(accepts('>=22', v('20.19.0'))).toBe(false);
    expect(accepts('^20.19.0 || ^22.13.0 || >=24', v('20.19.0'))).toBe(true);
    expect(accepts('^20.19.0 || ^22.13.0 || >=24', v('22.1.0'))).toBe(false);
    expect(accepts('20.x || 22.x', v('20.19.0'))).toBe(true);
    expect(accepts('18 || >=22', v('20.19.0'))).toBe(false);
    expect(accepts('>= 20.16.0', v('20.19.0'))).toBe(true);
    expect(accepts('>=6 <7 || >=8', v('20.19.0'))).toBe(true);
    expect(accepts('>=16 || 14 >=14.17', v('14.1.0'))).toBe(false);
    expect(accepts('*', v('20.19.0'))).toBe(true);
  });
});

describe('package-lock.json', () => {
  const floor = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(manifest.engines.node);

  it('states its Node floor as >=major.minor', () => {
    expect(floor).not.toBeNull();
  });

  it("holds no package whose engines exclude the project's Node floor (npm install's EBADENGINE)", () => {
    const version = [Number(floor?.[1]), Number(floor?.[2]), Number(floor?.[3] ?? 0)] as Version;
    const refused = Object.entries(lock.packages)
      .map(([path, entry]) => ({ path, node: Array.isArray(entry.engines) ? undefined : entry.engines?.node }))
      .filter(({ path, node }) => path !== '' && node !== undefined && !accepts(node, version));
    expect(refused).toEqual([]);
  });
});
