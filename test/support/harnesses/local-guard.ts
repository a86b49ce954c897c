/**
 * scripts/local-guard.js (plain JavaScript, required into the serverless process by the
 * preload), typed for the tests of the local ports' guard.
 */
export type Rules = { port: number; name: string };
export type Problem = { status: number; reason: string; message: string };
export type RefusalFields = Record<string, unknown>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const guard = require('../../../scripts/local-guard.js') as {
  localRequestProblem(
    request: { method: string; url?: string; headers: Record<string, string> },
    rules: Rules,
    options?: { upgrade?: boolean },
  ): Problem | undefined;
  portRules(ports: Ports, allowedOrigins?: string[]): Map<number, Rules>;
  parseAllowedOrigins(raw: unknown): { origins: string[]; problems: string[] };
  ownOrigins(httpPort: number): string[];
  installLocalGuard(
    ports: Ports,
    env: Record<string, string | undefined>,
    options?: {
      log?: (fields: RefusalFields) => void;
      warn?: (message: string) => void;
      servers?: (typeof import('node:http').Server)[];
    },
  ): { uninstall(): void };
  refusalLog(options: {
    write: (line: string) => void;
    env?: Record<string, string>;
    now?: () => number;
  }): (fields: RefusalFields) => void;
  withoutCors(response: import('node:http').ServerResponse): void;
  LOG_PER_WINDOW: number;
};

export interface Ports {
  http: number;
  websocket: number;
  lambda: number;
}
