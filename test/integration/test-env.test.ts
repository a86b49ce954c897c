/**
 * `npm test` on a machine that lacks what the suites need (scripts/test-env.ts): with each
 * piece hidden and installing not allowed, the script says in one line what it skipped and
 * how to enable it, gives jest the switch that skips it and runs the rest; under CI=true the
 * same fails the run. With mariadbd but no server, it starts a MariaDB of its own that jest
 * uses, and stops it and removes its datadir when the run ends, on Ctrl-C, and when it is
 * killed outright. No test installs anything: apt-get and pip are stand-ins on PATH.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { MYSQL_URL, SKIP_MYSQL } from '../support/harnesses/mysql';
import { SKIP_MYSQL_TLS } from '../support/stand-ins/tls-mariadb';
import { runScript } from '../support/harnesses/scripts';
import type { ScriptRun } from '../support/harnesses/scripts';
import { root } from '../support/harnesses/service';

jest.setTimeout(120_000);

const scratch = mkdtempSync(join(tmpdir(), 'ws-test-env-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** apt-get and pip3 stand-ins, first on PATH in every run: they write down how they were called. */
const fakeBin = join(scratch, 'bin');
const calls = join(scratch, 'calls.log');
function writeStandIns(): void {
  rmSync(fakeBin, { recursive: true, force: true });
  rmSync(calls, { force: true });
  mkdirSync(fakeBin);
  const record = (name: string, extra = '') =>
    writeFileSync(join(fakeBin, name), `#!/bin/sh\necho "${name} $*" >> "${calls}"\n${extra}`, { mode: 0o755 });
  record('apt-get');
  // "Installing" cfn-lint puts one on PATH that says it is 1.x, as pip would.
  record(
    'pip3',
    `[ "$1" = install ] && printf '#!/bin/sh\\necho "cfn-lint 1.99.0"\\n' > "${fakeBin}/cfn-lint" && chmod +x "${fakeBin}/cfn-lint"\n`,
  );
  chmodSync(fakeBin, 0o755);
}

const DEAD_URL = 'mysql://root@127.0.0.1:1/test';
const NO_MARIADBD = '/nowhere/mariadbd';
const pathWithout = (name: string) =>
  (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !existsSync(join(dir, name)))
    .join(delimiter);

/** The environment of a run: nothing inherited that decides what it does, stand-ins first on PATH. */
function envOf(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(SKIP_|TEST_ENV_INSTALL$|CI$|CHROMIUM_PATH$|MARIADBD_PATH$)/.test(name)) delete env[name];
  }
  const merged = { ...env, ...settings };
  return { ...merged, PATH: `${fakeBin}${delimiter}${merged.PATH ?? ''}` };
}

const check = (settings: Record<string, string>): Promise<ScriptRun> =>
  runScript('test-env.ts', { cwd: root, env: envOf(settings), args: ['--check'], timeoutMs: 90_000 });

const skipLines = (run: ScriptRun) => run.stderr.split('\n').filter((line) => line.startsWith('test-env: skipped '));
const printedEnv = (run: ScriptRun) => run.stdout.split('\n').filter((line) => line !== '');

const ALL_SWITCHES = { SKIP_MYSQL_TESTS: '1', SKIP_BROWSER_TESTS: '1', SKIP_CFN_LINT: '1' };
/** Every other piece skipped by its switch, so a case brings up (and reports) its own piece alone. */
const only = (skipSwitch: string, hidden: Record<string, string>) => {
  const others: Record<string, string> = { ...ALL_SWITCHES };
  delete others[skipSwitch];
  return { ...others, ...hidden };
};

const hidden: [string, string, Record<string, string>, RegExp][] = [
  [
    'MySQL (no server, no mariadbd)',
    'SKIP_MYSQL_TESTS',
    only('SKIP_MYSQL_TESTS', { TEST_MYSQL_URL: DEAD_URL, MARIADBD_PATH: NO_MARIADBD }),
    /^test-env: skipped the MySQL suites: nothing answers mysql:\/\/root@127\.0\.0\.1:1\/test \(.*ECONNREFUSED.*\), and no mariadbd to start one\. To enable: (sudo )?apt-get install -y mariadb-server.*, or set TEST_MYSQL_URL$/,
  ],
  [
    'Chromium (CHROMIUM_PATH pointing nowhere)',
    'SKIP_BROWSER_TESTS',
    only('SKIP_BROWSER_TESTS', { CHROMIUM_PATH: '/nowhere/chromium' }),
    /^test-env: skipped the browser suite: CHROMIUM_PATH=\/nowhere\/chromium is not an executable\. To enable: point CHROMIUM_PATH at a Chromium, or unset it$/,
  ],
  [
    'cfn-lint (not on PATH)',
    'SKIP_CFN_LINT',
    only('SKIP_CFN_LINT', { PATH: pathWithout('cfn-lint') }),
    /^test-env: skipped the cfn-lint check of the deploy suite: cfn-lint is not on PATH\. To enable: pip install cfn-lint$/,
  ],
];

describe('npm test with a piece hidden, installing not allowed', () => {
  beforeEach(writeStandIns);

  it.each(hidden)('%s: one line, its switch for jest, and the run goes on', async (_, skipSwitch, settings, line) => {
    const run = await check(settings);
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(skipLines(run)).toHaveLength(1);
    expect(skipLines(run)[0]).toMatch(line);
    expect(printedEnv(run)).toEqual([`${skipSwitch}=1`]);
    expect(existsSync(calls)).toBe(false); // nothing installed, nothing even tried
  });

  it.each(hidden)('%s: under CI=true, the same line and a failed run', async (_, _switch, settings, line) => {
    const run = await check({ ...settings, CI: 'true' });
    expect(run).toMatchObject({ code: 1, timedOut: false });
    expect(skipLines(run)).toHaveLength(1);
    expect(skipLines(run)[0]).toMatch(line);
    expect(run.stderr).toContain('test-env: CI=true: 1 skipped, so this run fails');
    expect(printedEnv(run)).toEqual([]);
  });

  it('never prints the password of a TEST_MYSQL_URL', async () => {
    const run = await check(
      only('SKIP_MYSQL_TESTS', { TEST_MYSQL_URL: 'mysql://root:hunter2@127.0.0.1:1/test', MARIADBD_PATH: NO_MARIADBD }),
    );
    expect(skipLines(run)[0]).toContain('nothing answers mysql://root:***@127.0.0.1:1/test');
    expect(`${run.stdout}${run.stderr}`).not.toContain('hunter2');
  });

  it('cfn-lint older than 1.x (whose findings the accepted list does not name): its line says so', async () => {
    writeFileSync(join(fakeBin, 'cfn-lint'), '#!/bin/sh\necho "cfn-lint 0.72.0"\n', { mode: 0o755 });
    const run = await check(only('SKIP_CFN_LINT', { PATH: pathWithout('cfn-lint') }));
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(skipLines(run)).toEqual([
      'test-env: skipped the cfn-lint check of the deploy suite: cfn-lint 0.72.0 is not 1.x. To enable: pip install --upgrade cfn-lint',
    ]);
    expect(printedEnv(run)).toEqual(['SKIP_CFN_LINT=1']);
  });

  it('Chromium that does not run (--version fails): its line says so', async () => {
    writeFileSync(join(fakeBin, 'broken-chromium'), '#!/bin/sh\necho "cannot open display" >&2\nexit 3\n', {
      mode: 0o755,
    });
    const run = await check(only('SKIP_BROWSER_TESTS', { CHROMIUM_PATH: join(fakeBin, 'broken-chromium') }));
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(skipLines(run)).toEqual([
      `test-env: skipped the browser suite: CHROMIUM_PATH=${fakeBin}/broken-chromium does not run: ` +
        `${fakeBin}/broken-chromium --version: cannot open display. To enable: point CHROMIUM_PATH at a Chromium, or unset it`,
    ]);
    expect(printedEnv(run)).toEqual(['SKIP_BROWSER_TESTS=1']);
  });

  (SKIP_MYSQL ? it.skip : it)(
    'the TLS test alone when a server answers but there is no mariadbd to start one of its own',
    async () => {
      const run = await check({
        SKIP_BROWSER_TESTS: '1',
        SKIP_CFN_LINT: '1',
        TEST_MYSQL_URL: MYSQL_URL,
        MARIADBD_PATH: NO_MARIADBD,
      });
      expect(run).toMatchObject({ code: 0, timedOut: false });
      expect(run.stderr).toMatch(/^test-env: the MySQL suites: .* answers$/m);
      expect(skipLines(run)).toEqual([
        expect.stringMatching(
          /^test-env: skipped the MySQL TLS test: it starts a MariaDB of its own and needs mariadbd on this machine\. To enable: (sudo )?apt-get install -y mariadb-server.*, or set MARIADBD_PATH$/,
        ),
      ]);
      expect(printedEnv(run)).toEqual(['SKIP_MYSQL_TLS_TEST=1']);
    },
  );

  it('with everything hidden: one line for each, every switch, and nothing else skipped', async () => {
    const run = await check({
      TEST_MYSQL_URL: DEAD_URL,
      MARIADBD_PATH: NO_MARIADBD,
      CHROMIUM_PATH: '/nowhere/chromium',
      PATH: pathWithout('cfn-lint'),
    });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(skipLines(run).map((line) => line.split(':')[1])).toEqual([
      ' skipped the MySQL suites', // the TLS test is one of them: no line of its own
      ' skipped the browser suite',
      ' skipped the cfn-lint check of the deploy suite',
    ]);
    expect(printedEnv(run)).toEqual(['SKIP_MYSQL_TESTS=1', 'SKIP_BROWSER_TESTS=1', 'SKIP_CFN_LINT=1']);
    expect(existsSync(calls)).toBe(false);
  });

  it('takes a switch already set as asked for, brings nothing up for it, and does not fail CI for it', async () => {
    const run = await check({ ...ALL_SWITCHES, TEST_MYSQL_URL: DEAD_URL, CI: 'true' });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(run.stderr).toContain('test-env: the MySQL suites: skipped, as SKIP_MYSQL_TESTS=1 asks');
    expect(run.stderr).toContain('test-env: the browser suite: skipped, as SKIP_BROWSER_TESTS=1 asks');
    expect(skipLines(run)).toEqual([]);
    expect(printedEnv(run)).toEqual([]);
  });
});

describe('npm test with TEST_ENV_INSTALL=1', () => {
  beforeEach(writeStandIns);

  it('installs a missing cfn-lint with pip, finds it, and passes under CI=true', async () => {
    const run = await check({
      ...only('SKIP_CFN_LINT', { PATH: pathWithout('cfn-lint') }),
      TEST_ENV_INSTALL: '1',
      CI: 'true',
    });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(readFileSync(calls, 'utf8')).toBe('pip3 install cfn-lint\n');
    expect(run.stderr).toContain('test-env: the cfn-lint check of the deploy suite: cfn-lint 1.99.0');
    expect(skipLines(run)).toEqual([]);
  });

  it('asks apt-get once for every missing package, as root only (never sudo), and names the command when that did not help', async () => {
    const run = await check({
      ...only('SKIP_MYSQL_TESTS', {
        TEST_MYSQL_URL: DEAD_URL,
        MARIADBD_PATH: NO_MARIADBD,
        PATH: pathWithout('openssl'),
      }),
      TEST_ENV_INSTALL: '1',
    });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    // The MySQL suites lack mariadb-server, the TLS test that and openssl: one install of both.
    if (process.getuid?.() === 0) {
      expect(readFileSync(calls, 'utf8')).toBe('apt-get update -qq\napt-get install -y -qq mariadb-server openssl\n');
      expect(skipLines(run)[0]).toMatch(/To enable: apt-get install -y mariadb-server, or set TEST_MYSQL_URL$/);
    } else {
      expect(existsSync(calls)).toBe(false);
      expect(skipLines(run)[0]).toMatch(/To enable: sudo apt-get install -y mariadb-server, or set TEST_MYSQL_URL$/);
    }
    expect(printedEnv(run)).toEqual(['SKIP_MYSQL_TESTS=1']);
  });
});

/** The script with `--run` and a child that reports what it got, then waits; in its own process group, as a terminal would. */
interface Held {
  script: ChildProcess;
  /** What the child printed: the script's pid, the URL it got, and what that server says of itself. */
  report: Promise<{ scriptPid: number; url: string; datadir: string; bind: string; port: number }>;
  exited: Promise<number | null>;
  stderr(): string;
}

const REPORTER = `
const { createConnection } = require('mysql2/promise');
(async () => {
  const connection = await createConnection(process.env.TEST_MYSQL_URL);
  const [rows] = await connection.query('SELECT @@datadir AS datadir, @@bind_address AS bind, @@port AS port');
  await connection.end();
  console.log(JSON.stringify({ scriptPid: process.ppid, url: process.env.TEST_MYSQL_URL, ...rows[0] }));
  setInterval(() => undefined, 1000);
})();
`;

function hold(): Held {
  const script = spawn(
    process.execPath,
    [
      join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      'scripts/test-env.ts',
      '--run',
      process.execPath,
      '-e',
      REPORTER,
    ],
    {
      cwd: root,
      env: envOf({ SKIP_BROWSER_TESTS: '1', SKIP_CFN_LINT: '1', TEST_MYSQL_URL: DEAD_URL }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let stdout = '';
  let stderr = '';
  script.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => script.once('exit', (code) => resolve(code)));
  const report = new Promise<Awaited<Held['report']>>((resolve, reject) => {
    script.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((each) => each.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    void exited.then(() => reject(new Error(`the script ended before its child reported:\n${stderr}`)));
  });
  return { script, report, exited, stderr: () => stderr };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function eventually(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return true;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-(child.pid as number), signal);
  } catch {
    // already gone
  }
}

// These start mariadbd: where the MySQL TLS test is skipped, there is none to start.
(SKIP_MYSQL || SKIP_MYSQL_TLS ? describe.skip : describe)('npm test with mariadbd but no server answering', () => {
  const held: Held[] = [];
  afterEach(() => held.splice(0).forEach((each) => killGroup(each.script, 'SIGKILL')));

  /** The folder the script made for the server: the datadir's parent. */
  const folderOf = (datadir: string) => dirname(datadir.replace(/\/$/, ''));

  it('gives the command a MariaDB of its own on 127.0.0.1, in a temporary folder the line names', async () => {
    const run = hold();
    held.push(run);
    const report = await run.report;

    expect(report.url).toBe(`mysql://root@127.0.0.1:${report.port}/test`);
    expect(report.port).not.toBe(3306);
    expect(report.bind).toBe('127.0.0.1');
    expect(folderOf(report.datadir).startsWith(join(tmpdir(), 'ws-test-mariadb-'))).toBe(true);
    expect(run.stderr()).toContain(
      `test-env: the MySQL suites: nothing answers ${DEAD_URL} (connect ECONNREFUSED 127.0.0.1:1); started `,
    );
    expect(run.stderr()).toContain(` at ${report.url} in ${folderOf(report.datadir)} (removed afterwards)`);
  });

  it.each([
    ['Ctrl-C (SIGINT to the whole process group, as a terminal sends it)', 'SIGINT', true, 130],
    ['SIGTERM to the script alone (it passes it on to the command)', 'SIGTERM', false, 143],
  ] as const)('on %s, ends the command, stops the server and removes its folder', async (_, signal, group, code) => {
    const run = hold();
    held.push(run);
    const report = await run.report;
    expect(existsSync(report.datadir)).toBe(true);

    if (group) killGroup(run.script, signal);
    else run.script.kill(signal);
    expect(await run.exited).toBe(code);
    expect(existsSync(folderOf(report.datadir))).toBe(false);
    expect(await refused(report.port)).toBe(true);
  });

  it('stops it and removes its datadir when the script is killed outright', async () => {
    const run = hold();
    held.push(run);
    const report = await run.report;

    process.kill(report.scriptPid, 'SIGKILL');
    expect(await eventually(() => !existsSync(folderOf(report.datadir)), 20_000)).toBe(true);
    expect(await eventually(() => refused(report.port), 5_000)).toBe(true);
  });

  it('runs jest against it: a MySQL suite passes there, a missing piece is said before and after, nothing is left', async () => {
    const run = await runScript('test-env.ts', {
      cwd: root,
      env: envOf({ CHROMIUM_PATH: '/nowhere/chromium', SKIP_CFN_LINT: '1', TEST_MYSQL_URL: DEAD_URL }),
      // Creates a user and rotates its password: real grant tables, not --skip-grant-tables.
      args: ['test/integration/mysql-secret.test.ts'],
      timeoutMs: 110_000,
    });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    const started = /started \S+ at mysql:\/\/root@127\.0\.0\.1:(\d+)\/test in (\S+) \(removed afterwards\)/.exec(
      run.stderr,
    );
    expect(started).not.toBeNull();
    expect(run.stderr).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    expect(run.stderr).not.toMatch(/Tests:.*skipped/);
    // The browser suite's line, before jest's output and again below its summary.
    const line = 'test-env: skipped the browser suite: CHROMIUM_PATH=/nowhere/chromium is not an executable.';
    const [before, after] = run.stderr.split(/^Tests: .*$/m);
    expect(before).toContain(line);
    expect(after).toContain(line);
    expect(existsSync(started![2]!)).toBe(false);
    expect(await refused(Number(started![1]))).toBe(true);
  });
});
