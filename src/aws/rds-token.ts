/**
 * RDS IAM database authentication: the password a function connects to MySQL with is a token,
 * a SigV4-presigned `connect` request for the database user, signed locally with the function's
 * role credentials (./sigv4.ts) - no network call, no secret, nothing to rotate. RDS accepts a
 * token for 15 minutes after its signing date and checks it at connect time only, so an open
 * connection outlives it; a container signs one and reuses it until shortly before it expires.
 * A unit test checks it byte for byte against @aws-sdk/rds-signer's `Signer.getAuthToken()`.
 */
import type { AwsCredentials } from './sigv4';
import { presignedQuery } from './sigv4';

/** How long RDS accepts a token (its documented lifetime; the signer's `expiresIn`). */
export const TOKEN_LIFETIME_S = 900;

/**
 * A cached token is signed again this long before it expires: room for one connect (its budget
 * is 2 s) and for a clock that differs a little from RDS's.
 */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;

export interface TokenTarget {
  /** The instance's endpoint address, as the functions connect to it. */
  host: string;
  port: number;
  /** The database user the token is for (created `IDENTIFIED WITH AWSAuthenticationPlugin`). */
  user: string;
  region: string;
}

/** One token, as the SDK's Signer writes it: `host:port/?Action=connect&DBUser=…&X-Amz-…`. */
export function rdsAuthToken(target: TokenTarget, credentials: AwsCredentials, date: Date): string {
  const host = `${target.host}:${target.port}`;
  const query = presignedQuery({
    method: 'GET',
    host,
    path: '/',
    query: { Action: 'connect', DBUser: target.user },
    region: target.region,
    service: 'rds-db',
    credentials,
    date,
    expiresIn: TOKEN_LIFETIME_S,
  });
  return `${host}/?${query}`;
}

/** The token of one container, signed on first use and again only when it is about to expire. */
export class RdsTokenSource {
  private cached: { token: string; signedAt: number; accessKeyId: string } | undefined;

  constructor(
    private readonly target: TokenTarget,
    /** Read at each signing: the role's credentials from the environment (src/aws/request.ts). */
    private readonly credentials: () => AwsCredentials,
    private readonly now: () => number = Date.now,
  ) {}

  token(): string {
    const now = this.now();
    const credentials = this.credentials();
    const fresh =
      this.cached !== undefined &&
      this.cached.accessKeyId === credentials.accessKeyId &&
      now - this.cached.signedAt < TOKEN_LIFETIME_S * 1000 - TOKEN_REFRESH_MARGIN_MS &&
      now >= this.cached.signedAt;
    if (!fresh) {
      // SigV4 dates have whole seconds: the token's validity starts at the second it names.
      const signedAt = Math.floor(now / 1000) * 1000;
      this.cached = {
        token: rdsAuthToken(this.target, credentials, new Date(signedAt)),
        signedAt,
        accessKeyId: credentials.accessKeyId,
      };
    }
    return (this.cached as { token: string }).token;
  }
}
