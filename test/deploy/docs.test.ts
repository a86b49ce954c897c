/**
 * What docs/deploy.md and README.md say about the template agrees with the packaged templates:
 * the routes, the functions and what invokes them, each function's role and network placement,
 * each role's statements, who may read each secret, the calls table and what a deploy prints are
 * generated blocks (`npm run docs`, scripts/docs/render.ts), equal here to what the generator
 * makes of the deploy suite's variants; and the prose around them writes no list or count of them
 * by hand, names no role the templates lack and no managed policy, and leaves the deployer's
 * permissions to the generated docs/deploy-permissions.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { blocksOf } from '../../scripts/docs/blocks';
import { generatedDocs } from '../../scripts/docs';
import { resourcesOfType } from '../support/package/package';
import { root } from '../support/harnesses/service';
import { packageVariants, VARIANT_NAMES } from '../support/package/variants';

jest.setTimeout(600_000);

const FILES = ['docs/deploy.md', 'README.md'];
const read = (file: string) => readFileSync(join(root, file), 'utf8');
/** The file without its generated blocks: the prose a person wrote. */
const prose = (file: string) => read(file).replace(/<!-- generated: [a-z-]+ -->[\s\S]*?<!-- \/generated -->/g, '');

let generated: Record<string, string>;
let roles: Set<string>;
let packaged: Awaited<ReturnType<typeof packageVariants>>;

beforeAll(async () => {
  generated = await generatedDocs();
  packaged = await packageVariants();
  roles = new Set(
    VARIANT_NAMES.flatMap((name) => resourcesOfType(packaged[name].template, 'AWS::IAM::Role').map(([id]) => id)),
  );
});

describe.each(FILES)('%s', (file) => {
  it('has the generated blocks the packaged templates give (npm run docs rewrites them)', () => {
    const committed = blocksOf(read(file));
    const expected = blocksOf(generated[file]!);
    expect([...committed.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, body] of expected) expect({ name, body: committed.get(name) }).toEqual({ name, body });
  });

  it('writes no count of functions or roles by hand (a generated block lists them)', () => {
    const counts = prose(file).match(
      /\b(two|three|four|five|six|seven|eight|nine|ten|\d+) (store |WebSocket |IAM )?(functions|roles)\b/gi,
    );
    expect(counts).toBeNull();
  });

  it('names no role the templates do not have, and no managed policy (no role attaches one)', () => {
    const named = [...prose(file).matchAll(/`([A-Z][A-Za-z]+Role)`/g)].map((match) => match[1]!);
    expect(named.filter((role) => !roles.has(role))).toEqual([]);
    expect(prose(file).match(/AWSLambda\w*Role|arn:aws:iam::aws:policy/g)).toBeNull();
  });
});

describe('docs/deploy.md', () => {
  it('leaves the deployer’s permissions to the generated docs/deploy-permissions.md: a link, no table of its own', () => {
    const section = /## Permissions the deployer needs\n([\s\S]*?)\n## /.exec(read('docs/deploy.md'))?.[1] ?? '';
    expect(section).toContain('(deploy-permissions.md)');
    expect(section).toContain('--print-policy');
    expect(section).not.toMatch(/^\|/m);
    expect(read('docs/deploy.md')).not.toMatch(/^\| service\s+\| actions/m);
  });

  it('places the functions in its network table as the templates do', () => {
    const cell = (mode: string) =>
      new RegExp(`^\\| \`${mode}\`[^|]*\\|[^|]*\\|([^|]*)\\|`, 'm').exec(read('docs/deploy.md'))?.[1] ?? '';
    const inVpc = (name: 'open' | 'private', id: string) =>
      packaged[name].template.Resources[id]?.Properties?.VpcConfig !== undefined;
    const functions = (name: 'open' | 'private') =>
      resourcesOfType(packaged[name].template, 'AWS::Lambda::Function').map(([id]) => id);
    expect(cell('public')).toContain('outside any VPC');
    expect(functions('open').filter((id) => inVpc('open', id))).toEqual([]);
    expect(cell('private')).toContain('the store functions in the private subnets');
    expect(cell('private')).toContain('`authorize` outside');
    expect(functions('private').filter((id) => inVpc('private', id) === (id === 'AuthorizeLambdaFunction'))).toEqual(
      [],
    );
    const subnets = resourcesOfType(packaged.private.template, 'AWS::Lambda::Function')
      .filter(([id]) => id !== 'AuthorizeLambdaFunction')
      .map(([, fn]) => JSON.stringify(fn.Properties?.VpcConfig));
    expect(subnets.filter((config) => !/"PrivateSubnetA".*"PrivateSubnetB"/.test(config))).toEqual([]);
  });

  it('says how to run the role simulation and the mutations, and shows the calls table', () => {
    const text = read('docs/deploy.md');
    expect(text).toContain('## Roles proven by simulation');
    expect(text).toContain('npx jest test/deploy/roles.test.ts');
    expect(text).toContain('npm run roles:mutations');
    expect(blocksOf(text).get('calls')).toContain('`post-to-connection`');
  });
});
