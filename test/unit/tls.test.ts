import { rootCertificates } from 'node:tls';
import { tlsOptions } from '../../src/store/mysql-tls';

describe('tlsOptions (the MySQL connection in AWS)', () => {
  it('trusts the Amazon RDS CA bundle alone and checks the host name, with no option to skip either', () => {
    const options = tlsOptions();
    expect(options.rejectUnauthorized).toBe(true);
    expect(options.verifyIdentity).toBe(true);
    const bundle = [options.ca].flat();
    expect(bundle.length).toBeGreaterThan(10);
    expect(bundle.every((pem) => pem.includes('BEGIN CERTIFICATE'))).toBe(true);
    // Not the public web PKI: a certificate any public CA issued is not accepted.
    expect(bundle.some((pem) => rootCertificates.includes(pem))).toBe(false);
  });

  it('replaces only the CA when a test gives its own, and still checks the host name', () => {
    expect(tlsOptions('-----BEGIN CERTIFICATE-----test')).toEqual({
      ca: '-----BEGIN CERTIFICATE-----test',
      rejectUnauthorized: true,
      verifyIdentity: true,
    });
  });
});
