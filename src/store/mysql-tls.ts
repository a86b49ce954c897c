/** TLS for the connection to RDS (used by ./mysql-connections.ts). */

/** mysql2's typings do not declare the static profile lookup its index exports. */
interface Mysql2Module {
  ConnectionConfig: { getSSLProfile(name: string): { ca: string | string[] } };
}

/** The Amazon RDS CA bundle (mysql2's `Amazon RDS` profile), loaded only when TLS is used. */
function rdsCa(): string | string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('mysql2') as Mysql2Module).ConnectionConfig.getSSLProfile('Amazon RDS').ca;
}

/**
 * TLS for the connection to RDS: the server's certificate must chain to the CA *and* name
 * the host we dialled. The CA alone is not enough: every RDS instance in every account has
 * a certificate from that CA, so without the name check anyone able to redirect the
 * connection (DNS, a route) could present their own instance's certificate. mysql2's
 * `Amazon RDS` profile is only `{ ca }`, and unless `verifyIdentity` is set mysql2 hands
 * node's TLS a checkServerIdentity that accepts any name (lib/base/connection.js,
 * startTLS); with it, node's tls.checkServerIdentity runs against the host (sent as SNI).
 */
export function tlsOptions(ca?: string): { ca: string | string[]; rejectUnauthorized: true; verifyIdentity: true } {
  return { ca: ca ?? rdsCa(), rejectUnauthorized: true, verifyIdentity: true };
}
