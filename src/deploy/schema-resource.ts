/**
 * The schema's custom resource: at each deploy that creates or changes it, CloudFormation calls
 * this function, which migrates the tables (src/store/mysql-schema.ts `migrate`) and makes the
 * application user (src/store/mysql-user.ts) as the master user, whose password it reads from
 * the secret RDS keeps it in. The resource's properties name the schema's version and a hash of
 * its definition (settings.js), so a deploy with a new schema is an Update that migrates, and a
 * stack from before this resource gets it as a Create, which migrates its tables the same way.
 *
 * It answers CloudFormation on every path, or the stack would wait an hour: success; a failure
 * (the database unreachable, a refused statement, bad properties); its own time running out
 * (it answers FAILED `ANSWER_RESERVE_MS` before the Lambda timeout, whatever is still running);
 * and Delete, which answers SUCCESS and keeps the tables, their rows and the user (the instance
 * itself is snapshotted by its DeletionPolicy).
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { errorText } from '../errors';
import { log } from '../log';
import type { MigrationReport } from '../store/mysql-schema';
import type { AppUserAuth } from '../store/mysql-user';
import type { CfnAnswer } from './cfn-response';
import { sendResponse } from './cfn-response';

/** Kept at the end of the invocation for the answer: its PUT (RESPONSE_TIMEOUT_MS) and a retry. */
export const ANSWER_RESERVE_MS = 12_000;
/** One PUT of the answer; S3 answers in milliseconds. */
export const RESPONSE_TIMEOUT_MS = 5_000;

/** What the template gives the resource (besides ServiceToken). */
export interface SchemaProperties {
  /** SCHEMA_VERSION of the code deployed: a new one makes an Update. */
  schemaVersion: number;
  /** The application user's name. */
  appUser: string;
  tablePrefix: string;
}

export interface SchemaWork {
  /** Migrates and makes the user, each statement ending by `deadline`. */
  apply(properties: SchemaProperties, auth: AppUserAuth, deadline: number): Promise<MigrationReport>;
  /** Ends what `apply` left open, when it ran out of time. */
  abandon?(): void;
}

export interface LambdaClock {
  getRemainingTimeInMillis(): number;
}

/** Malformed properties: the template and this code disagree. */
export class SchemaPropertiesError extends Error {
  override readonly name = 'SchemaPropertiesError';
}

export function readProperties(raw: Record<string, unknown>): SchemaProperties {
  const version = Number(raw.SchemaVersion);
  if (!Number.isInteger(version) || version < 1) {
    throw new SchemaPropertiesError(
      `SchemaVersion must be a whole number >= 1, got ${JSON.stringify(raw.SchemaVersion)}`,
    );
  }
  const appUser = raw.AppUser;
  if (typeof appUser !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(appUser)) {
    throw new SchemaPropertiesError(`AppUser must be 1-32 letters, digits or _, got ${JSON.stringify(appUser)}`);
  }
  const tablePrefix = raw.TablePrefix ?? '';
  if (typeof tablePrefix !== 'string' || !/^[A-Za-z0-9_]{0,32}$/.test(tablePrefix)) {
    throw new SchemaPropertiesError(
      `TablePrefix may only hold letters, digits and _, got ${JSON.stringify(tablePrefix)}`,
    );
  }
  return { schemaVersion: version, appUser, tablePrefix };
}

/** The resource's id: one per database and prefix, the same on every Update (so no Delete follows one). */
function physicalIdOf(event: CloudFormationCustomResourceEvent): string {
  if (event.RequestType !== 'Create') return event.PhysicalResourceId;
  const prefix = typeof event.ResourceProperties.TablePrefix === 'string' ? event.ResourceProperties.TablePrefix : '';
  return `schema:${prefix || '(no prefix)'}`;
}

class OutOfTimeError extends Error {
  override readonly name = 'OutOfTimeError';
}

/** `work`, or an OutOfTimeError once `ms` have passed (the work is left running, then abandoned). */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const out = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OutOfTimeError(`the migration did not finish within ${Math.round(ms / 1000)} s`)),
      Math.max(0, ms),
    );
  });
  return Promise.race([work, out]).finally(() => clearTimeout(timer));
}

/** What to answer: Delete succeeds at once; Create and Update succeed when the work did in time. */
export async function decide(
  event: CloudFormationCustomResourceEvent,
  clock: LambdaClock,
  work: SchemaWork,
  auth: AppUserAuth,
): Promise<CfnAnswer> {
  const physicalResourceId = physicalIdOf(event);
  if (event.RequestType === 'Delete') {
    return {
      status: 'SUCCESS',
      reason: 'the tables, their rows and the application user are kept',
      physicalResourceId,
    };
  }
  const budget = clock.getRemainingTimeInMillis() - ANSWER_RESERVE_MS;
  try {
    const properties = readProperties(event.ResourceProperties);
    if (budget < 1_000) throw new OutOfTimeError(`only ${budget} ms left before the answer's reserve`);
    const report = await within(work.apply(properties, auth, Date.now() + budget), budget);
    return {
      status: 'SUCCESS',
      reason: `schema at version ${report.to} (applied: ${report.applied.join(', ') || 'none'}); user ${properties.appUser}`,
      physicalResourceId,
      data: { SchemaVersion: report.to, FromVersion: report.from, AppUser: properties.appUser },
    };
  } catch (error) {
    if (error instanceof OutOfTimeError) work.abandon?.();
    log.error('schema resource failed', { requestType: event.RequestType, error });
    return { status: 'FAILED', reason: errorText(error), physicalResourceId };
  }
}

/**
 * The whole invocation: decide, then answer, retrying the PUT once if time allows. Should both
 * PUTs fail it throws, and Lambda's retry of the asynchronous invocation runs it all again (every
 * step is idempotent).
 */
export async function handleSchemaEvent(
  event: CloudFormationCustomResourceEvent,
  clock: LambdaClock,
  work: SchemaWork,
  auth: AppUserAuth,
  respond = sendResponse,
): Promise<CfnAnswer> {
  const answer = await decide(event, clock, work, auth);
  log.info('schema resource answers', { requestType: event.RequestType, status: answer.status, reason: answer.reason });
  for (let attempt = 1; ; attempt++) {
    const left = clock.getRemainingTimeInMillis() - 500;
    try {
      await respond(event, answer, Math.max(1, Math.min(RESPONSE_TIMEOUT_MS, left)));
      return answer;
    } catch (error) {
      log.error('schema resource could not answer', { attempt, error });
      if (attempt >= 2 || clock.getRemainingTimeInMillis() < RESPONSE_TIMEOUT_MS + 500) throw error;
    }
  }
}
