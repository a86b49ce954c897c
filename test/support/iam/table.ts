/**
 * The table of AWS calls (infra/aws-calls.js, plain JavaScript read by settings.js), typed for
 * the tests and the docs' generator.
 */
export interface AwsCall {
  id: string;
  functions: string[];
  actions: string[];
  /** ARNs with `{part}`s (PARTS). */
  targets: string[];
  when?: 'vpc' | 'jwtSecret';
  /** `file#Container.method` of our code that makes the call. */
  site?: string;
  /** Where Lambda is told to make it with the function's role. */
  source?: string;
  why: string;
  sid: string;
  /** What the role allows for it, in the template's terms (infra/roles.js puts it in statement `sid`). */
  grant: (context: { stage: string; service: string; functions: string[]; jwtSecret?: unknown }) => unknown[];
}

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string | string[];
  Resource: unknown;
}

export interface Part {
  from: string;
  free?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const table = require('../../../infra/aws-calls.js') as {
  CALLS: AwsCall[];
  PARTS: Record<string, Part>;
  STORE_FUNCTIONS: string[];
  ALL_FUNCTIONS: string[];
  applies(call: AwsCall, options: { vpc: boolean; jwtSecret?: unknown }): boolean;
  statementsFor(
    functions: string[],
    options: { stage?: string; service?: string; vpc: boolean; jwtSecret?: unknown },
  ): IamStatement[];
};

/** The `{part}` names of a target. */
export const partsOf = (target: string): string[] => [...target.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
