/**
 * cfn-lint on a packaged template, the one way the deploy tests run it: the template written to
 * a temporary folder, `cfn-lint --format json` on it, and what it finds less what
 * test/deploy/cfn-lint-accepted.yml accepts (a rule and a regular expression over the finding's
 * path). The suites that lint a part of the template read cfn-lint's answer and the accepted
 * list exactly as the whole template's check does.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { root } from '../harnesses/service';
import type { Template } from './package';

export interface CfnLintFinding {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Location: { Path: (string | number)[] };
}

export interface AcceptedFinding {
  rule: string;
  path: string;
  reason: string;
}

export const ACCEPTED_FINDINGS = yaml.load(
  readFileSync(join(root, 'test', 'deploy', 'cfn-lint-accepted.yml'), 'utf8'),
) as AcceptedFinding[];

export function cfnLintInstalled(): boolean {
  try {
    execFileSync('cfn-lint', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const pathOf = (finding: CfnLintFinding) => finding.Location.Path.join('/');

export const isAccepted = (finding: CfnLintFinding, entry: AcceptedFinding) =>
  finding.Rule.Id === entry.rule && new RegExp(entry.path).test(pathOf(finding));

/** Everything cfn-lint finds in `template`; `name` names the template's file and, in an error, the template. */
export async function runCfnLint(template: Template, name?: string): Promise<CfnLintFinding[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cfn-lint-'));
  try {
    const file = join(dir, `${name ?? 'template'}.json`);
    writeFileSync(file, JSON.stringify(template, null, 2));
    // cfn-lint exits non-zero when it finds anything; the JSON on stdout says what.
    const { stdout } = await promisify(execFile)('cfn-lint', ['--format', 'json', file], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      if (typeof error.stdout === 'string' && error.stdout.trim().startsWith('[')) return { stdout: error.stdout };
      throw new Error(`cfn-lint failed${name === undefined ? '' : ` on ${name}`}: ${error.stderr ?? String(error)}`);
    });
    return JSON.parse(stdout) as CfnLintFinding[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The findings no accepted entry accepts (only those whose path `only` matches, when given), as `rule path: message`. */
export function unacceptedFindings(findings: readonly CfnLintFinding[], only?: RegExp): string[] {
  return findings
    .filter((finding) => only === undefined || only.test(pathOf(finding)))
    .filter((finding) => !ACCEPTED_FINDINGS.some((entry) => isAccepted(finding, entry)))
    .map((finding) => `${finding.Rule.Id} ${pathOf(finding)}: ${finding.Message}`);
}

/** What cfn-lint finds in `template` beyond the accepted findings, in the paths `only` matches when given. */
export async function cfnLintFindings(template: Template, options: { only?: RegExp } = {}): Promise<string[]> {
  return unacceptedFindings(await runCfnLint(template), options.only);
}
