/**
 * Brings up what the suites need, piece by piece (pieces.ts, mysql.ts): what is there is
 * used, what is missing is installed when installing is allowed (install.ts), and what is
 * still missing is skipped by the switch its suites read, with one line that says what was
 * skipped and the command that enables it.
 */
import type { Packages } from './install';
import { install, installCommand, installPolicy } from './install';
import { mysql } from './mysql';
import type { Env, Piece, Status } from './pieces';
import { cfnLint, chromium, mysqlTls } from './pieces';

/** In this order: a piece with `after` follows the one whose switch it names. */
export const PIECES: readonly Piece[] = [mysql, mysqlTls, chromium, cfnLint];

export interface Prepared {
  /** What the suites get on top of the environment: a server's URL, a browser's path, skip switches. */
  env: Env;
  /** One line per skipped piece (not for a switch that was already set). */
  skipped: string[];
  /** Stops what was started (a MariaDB), once. */
  stop(): Promise<void>;
}

/** CI=true (what CI services set): a skipped piece fails the run, as a missing suite must not pass unseen there. */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI === 'true';
}

function skipLine(piece: Piece, status: Status & { ready: false }, command: string | undefined): string {
  const ways = [command, status.otherwise].filter((way): way is string => way !== undefined);
  return `skipped ${piece.skips}: ${status.reason}.${ways.length > 0 ? ` To enable: ${ways.join(', or ')}` : ''}`;
}

function manual(packages: Packages | undefined): string | undefined {
  const names = [...(packages?.apt ?? []), ...(packages?.pip ?? [])].filter((name) => !name.startsWith('-'));
  return names.length > 0 ? `install ${names.join(' and ')}` : undefined;
}

export async function prepare(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<Prepared> {
  const policy = installPolicy(env);
  const stops: (() => Promise<void>)[] = [];
  const result: Env = {};
  const skipped: string[] = [];
  const asked = (piece: Piece) => env[piece.skipSwitch] === '1';

  const wanted = PIECES.filter((piece) => {
    if (asked(piece)) log(`${piece.skips}: skipped, as ${piece.skipSwitch}=1 asks`);
    return !asked(piece) && !(piece.after !== undefined && env[piece.after] === '1');
  });
  const keep = (status: Status) => {
    if (status.ready && status.stop) stops.push(status.stop);
    return status;
  };
  const statuses = new Map<Piece, Status>();
  await Promise.all(wanted.map(async (piece) => statuses.set(piece, keep(await piece.bringUp(env)))));

  // Installing: one apt-get for every missing Debian package, then those pieces again.
  const missing = wanted.filter((piece) => !statuses.get(piece)?.ready);
  const packages = (piece: Piece) => {
    const status = statuses.get(piece);
    return status && !status.ready ? status.packages : undefined;
  };
  const toInstall = missing.filter((piece) => packages(piece) !== undefined);
  if (policy.allowed && toInstall.length > 0) {
    await install(
      {
        apt: toInstall.flatMap((piece) => packages(piece)?.apt ?? []),
        pip: toInstall.flatMap((piece) => packages(piece)?.pip ?? []),
      },
      policy,
      env,
      log,
    );
    for (const piece of toInstall) statuses.set(piece, keep(await piece.bringUp(env)));
  }

  for (const piece of wanted) {
    const status = statuses.get(piece);
    if (status === undefined) continue;
    if (piece.after !== undefined && result[piece.after] === '1') continue; // said by its suite's line
    if (status.ready) {
      Object.assign(result, status.env);
      log(`${piece.skips}: ${status.note}`);
    } else {
      result[piece.skipSwitch] = '1';
      const command = installCommand(status.packages ?? {}, policy) ?? manual(status.packages);
      skipped.push(skipLine(piece, status, command));
    }
  }
  for (const line of skipped) log(line);

  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= Promise.all(stops.map((each) => each())).then(() => undefined));
  return { env: result, skipped, stop };
}
