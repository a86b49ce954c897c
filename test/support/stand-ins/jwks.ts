/**
 * An identity provider in miniature, for the JWKS mode's tests: key pairs made with jose,
 * tokens signed with them, and a JWKS endpoint on 127.0.0.1 whose key set and behaviour
 * (answer, stay silent, send half a body) the test switches.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK, KeyLike } from 'jose';

export const ISSUER = 'https://idp.example.test/tenant';
export const AUDIENCE = 'websockets-client';

export interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  /** The public half, as the provider publishes it. */
  jwk: JWK;
  publicKey: KeyLike;
  privateKey: KeyLike;
}

export async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, jwk, publicKey, privateKey };
}

export interface TokenOptions {
  /** Claims over the defaults (sub alice, iss ISSUER, aud AUDIENCE, iat now, exp in 5 minutes). */
  claims?: Record<string, unknown>;
  /** The `kid` header, when it should differ from the signing key's. */
  kid?: string;
}

/** A token as the provider would issue it. */
export function tokenFrom(key: TestKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, ...options.claims })
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

export type JwksBehaviour = 'answer' | 'silent' | 'half-body' | 'error';

export interface JwksServer {
  url: string;
  /** How many key-set requests arrived. */
  requests(): number;
  /** Publishes these keys from now on. */
  publish(keys: readonly TestKey[]): void;
  /** answer: the key set; silent: accept and never answer; half-body: headers and part of the body; error: 500. */
  behave(behaviour: JwksBehaviour): void;
  stop(): Promise<void>;
}

export async function startJwksServer(keys: readonly TestKey[] = []): Promise<JwksServer> {
  let published = keys.map((key) => key.jwk);
  let behaviour: JwksBehaviour = 'answer';
  let count = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    count += 1;
    if (behaviour === 'silent') return; // holds the request until stop()
    if (behaviour === 'error') {
      response.writeHead(500).end('internal error');
      return;
    }
    const body = JSON.stringify({ keys: published });
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    if (behaviour === 'half-body') response.write(body.slice(0, 10));
    else response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests: () => count,
    publish: (next) => {
      published = next.map((key) => key.jwk);
    },
    behave: (next) => {
      behaviour = next;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
