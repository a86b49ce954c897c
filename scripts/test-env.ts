/**
 * `npm test`: brings up what the suites need (scripts/test-env/prepare.ts), runs
 * `jest --runInBand` with the arguments given, and stops what it started. A missing piece
 * is one line and a skipped suite, and the run goes on; under CI=true a skip fails the
 * run before jest starts. `.ci/run` runs this too, through `npm test`.
 *
 *   npm test [-- jest options]             the suites
 *   tsx scripts/test-env.ts --check        what npm test would bring up and skip; prints the
 *                                          environment jest would get (NAME=value lines)
 *   tsx scripts/test-env.ts --run cmd ...  another command in that environment
 *
 * A Ctrl-C (or SIGTERM) reaches the command, which ends; then the MariaDB started here
 * stops and its datadir goes. Should this process be killed outright, the server's keeper
 * (test/support/stand-ins/mariadb.ts) does the same.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { isCi, prepare } from './test-env/prepare';

const log = (line: string) => process.stderr.write(`test-env: ${line}\n`);

function command(args: readonly string[]): [string, string[]] {
  if (args[0] === '--run') {
    const [cmd, ...rest] = args.slice(1);
    if (cmd === undefined) throw new Error('--run needs a command');
    return [cmd, rest];
  }
  return [process.execPath, [require.resolve('jest/bin/jest'), '--runInBand', ...args]];
}

async function main(args: readonly string[]): Promise<number> {
  const check = args[0] === '--check';
  const [cmd, cmdArgs] = command(check ? [] : args);

  // A signal before the command runs ends the run once what was started is stopped; after, the command gets it.
  let signalled: NodeJS.Signals | undefined;
  let forward: ((signal: NodeJS.Signals) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== undefined) return;
    signalled = signal;
    forward?.(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  const signalCode = () => 128 + (signalled ? constants.signals[signalled] : 0);

  const prepared = await prepare(process.env, log);
  try {
    if (signalled) return signalCode();
    if (prepared.skipped.length > 0 && isCi(process.env)) {
      log(
        `CI=${process.env.CI}: ${prepared.skipped.length} skipped, so this run fails (the lines above say how to enable each)`,
      );
      return 1;
    }
    if (check) {
      for (const [name, value] of Object.entries(prepared.env)) process.stdout.write(`${name}=${value}\n`);
      return 0;
    }
    const child = spawn(cmd, cmdArgs, { env: { ...process.env, ...prepared.env }, stdio: 'inherit' });
    forward = (signal) => child.kill(signal);
    const code = await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        log(`${cmd}: ${error.message}`);
        resolve(127);
      });
      child.once('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    // The skip lines again, below jest's summary where people look.
    for (const line of prepared.skipped) log(line);
    return signalled ? signalCode() : code;
  } finally {
    await prepared.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
