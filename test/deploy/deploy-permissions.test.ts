/**
 * docs/deploy-permissions.md's table, infra/deployer-policy.js and `npm run deploy --
 * --print-policy` say the same thing. (That the table covers every resource type of the
 * packaged templates is checked where they are packaged: test/deploy/template.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../support/harnesses/service';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const policy = require('../../infra/deployer-policy.js') as {
  RESOURCE_ACTIONS: Record<string, string[]>;
  STACK_ACTIONS: string[];
  ACCOUNT_ACTIONS: string[];
  deployerPolicy(options?: { partition?: string }): { Statement: { Action: string | string[]; Resource: string }[] };
};

jest.setTimeout(60_000);

/** The doc's rows: `| \`AWS::X::Y\` | \`a:B\`, \`c:D\` |` (or `Custom::X`), and `(the stack)`. */
function docTable(): Record<string, string[]> {
  const text = readFileSync(join(root, 'docs', 'deploy-permissions.md'), 'utf8');
  const rows: Record<string, string[]> = {};
  for (const line of text.split('\n')) {
    const cells = /^\|\s*(`(?:AWS|Custom)::[A-Za-z0-9:]+`|\(the stack\))\s*\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    rows[cells[1]!.replace(/`/g, '')] = [...cells[2]!.matchAll(/`([a-z0-9-]+:[A-Za-z*]+)`/g)].map((m) => m[1]!);
  }
  return rows;
}

function printed(args: string[] = []): unknown {
  const env = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const output = execFileSync(process.execPath, [tsx, 'scripts/deploy.ts', 'deploy', '--print-policy', ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 50_000,
  });
  return JSON.parse(output);
}

describe('the deployer’s permissions', () => {
  it('are the same in docs/deploy-permissions.md and infra/deployer-policy.js, type by type', () => {
    expect(docTable()).toEqual({
      '(the stack)': [...policy.STACK_ACTIONS, ...policy.ACCOUNT_ACTIONS],
      ...policy.RESOURCE_ACTIONS,
    });
  });

  it('are printed by npm run deploy -- --print-policy as the JSON policy built from that table', () => {
    expect(printed()).toEqual(policy.deployerPolicy());
    expect(printed(['--region', 'cn-north-1'])).toEqual(policy.deployerPolicy({ partition: 'aws-cn' }));
  });

  it('allow every action of the table, KMS and the private network’s included, and fit in a managed policy', () => {
    const allowed = new Set(policy.deployerPolicy().Statement.flatMap((statement) => [statement.Action].flat()));
    const listed = Object.values(docTable()).flat();
    expect(listed.filter((action) => !allowed.has(action))).toEqual([]);
    for (const action of ['kms:DescribeKey', 'ec2:CreateNatGateway', 'ec2:AllocateAddress', 'ec2:CreateRoute']) {
      expect(allowed.has(action)).toBe(true);
    }
    expect(listed.filter((action) => /\*/.test(action))).toEqual([]);
    // IAM's limit on a managed policy: 6,144 characters, whitespace not counted.
    expect(JSON.stringify(policy.deployerPolicy()).replace(/\s/g, '').length).toBeLessThanOrEqual(6144);
  });
});
