/**
 * The signer src/aws/sigv4.ts had before the plain one, kept only so that `npm run bench --
 * --only delivery` measures the two side by side: everything but the request path computed
 * once per second, body, headers and credentials, and HMAC as two one-shot hashes over
 * buffers laid out once. Not in the zip (scripts/ is excluded), not called by the service.
 */
import { createHmac, hash as digest } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignInput {
  method: string;
  /** The Host header: host name, plus `:port` when it is not the scheme's default. */
  host: string;
  /** The request path as it goes on the wire (already percent-encoded), without a query. */
  path: string;
  /** Headers to sign besides host and the x-amz-* ones this adds; names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
  region: string;
  service: string;
  credentials: AwsCredentials;
  date: Date;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

/**
 * RFC 3986 unreserved characters stay, everything else is %XX (as the SDK's escapeUri):
 * how the SDK encodes a path parameter, and the second encoding of a canonical path.
 */
export function escapeUri(value: string): string {
  if (/^[\w.~-]*$/.test(value)) return value; // only unreserved characters: nothing to encode
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${(c.codePointAt(0) as number).toString(16).toUpperCase()}`,
  );
}

/** Absolute, no empty, `.` or `..` segment, no trailing slash; unreserved characters, `%` and `@` only. */
const PLAIN_PATH = /^(?:\/[\w~%@-][\w.~%@-]*)+$/;

/**
 * The canonical URI of every service but S3: the normalized path, encoded once more
 * (so `%3D` in a connection id is signed as `%253D`), slashes kept.
 */
export function canonicalPath(path: string): string {
  // The usual case (PostToConnection's `/{stage}/@connections/{encoded id}`): nothing to
  // normalize and only `%` and `@` to encode again.
  if (PLAIN_PATH.test(path)) return path.replace(/%/g, '%25').replace(/@/g, '%40');
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

/**
 * One-shot hashing (node:crypto's `hash`, Node >= 20.12; Lambda's nodejs24.x has it): no
 * Hash object per call, so nothing native for the GC to track and finalize per post.
 */
function sha256Hex(data: string | Uint8Array): string {
  return digest('sha256', data, 'hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** A derived signing key, XORed with HMAC-SHA256's inner and outer pads (RFC 2104). */
interface HmacKey {
  inner: Buffer;
  outer: Buffer;
}

const BLOCK = 64;
const HEX_DIGEST = 64;

function hmacKey(key: Buffer): HmacKey {
  // The derived SigV4 key is 32 bytes: shorter than the block, so used as it is, zero-padded.
  const inner = Buffer.alloc(BLOCK);
  const outer = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    const byte = key[i] ?? 0;
    inner[i] = byte ^ 0x36;
    outer[i] = byte ^ 0x5c;
  }
  return { inner, outer };
}

/**
 * HMAC-SHA256 of a string to sign whose only varying part is its last 64 characters (the
 * canonical request's hash), as two one-shot hashes over buffers laid out once:
 * `inner` = ipad-key, the constant prefix, the hash; `outer` = opad-key, the inner digest.
 */
interface Signer {
  inner: Buffer;
  outer: Buffer;
  /** Where the canonical request's hash goes in `inner`. */
  at: number;
}

function signer(key: HmacKey, stringToSignPrefix: string): Signer {
  const prefix = Buffer.from(stringToSignPrefix, 'latin1');
  const inner = Buffer.concat([key.inner, prefix, Buffer.alloc(HEX_DIGEST)]);
  const outer = Buffer.concat([key.outer, Buffer.alloc(32)]);
  return { inner, outer, at: BLOCK + prefix.length };
}

function signatureOf(signer: Signer, canonicalRequestHash: string): string {
  signer.inner.write(canonicalRequestHash, signer.at, 'latin1');
  digest('sha256', signer.inner, 'buffer').copy(signer.outer, BLOCK);
  return digest('sha256', signer.outer, 'hex');
}

/** A body is hashed once, however many recipients it is signed for. */
const payloadHashes = new WeakMap<Uint8Array, string>();

function payloadHash(body: Uint8Array): string {
  let hash = payloadHashes.get(body);
  if (hash === undefined) {
    hash = sha256Hex(body);
    payloadHashes.set(body, hash);
  }
  return hash;
}

/** The derived key changes once a day (and with the credentials); keep the last few. */
const signingKeys = new Map<string, HmacKey>();

function signingKey(secret: string, shortDate: string, region: string, service: string): HmacKey {
  const cacheKey = `${shortDate}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(cacheKey);
  if (key === undefined) {
    key = hmacKey(hmac(hmac(hmac(hmac(`AWS4${secret}`, shortDate), region), service), 'aws4_request'));
    if (signingKeys.size >= 16) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  return key;
}

/** As the SDK: line breaks become spaces, runs of spaces and tabs one space, trimmed. */
function canonicalValue(value: string): string {
  if (!/[\r\n\t]|^ | $| {2}/.test(value)) return value; // the usual case: nothing to change
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

let lastDates = { second: Number.NaN, long: '', short: '' };

/** `20261128T144231Z` and `20261128`. */
function dates(date: Date): { long: string; short: string } {
  // Formatted once per second: a fan-out signs hundreds of posts within the same one.
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastDates.second) {
    const long = date
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    lastDates = { second, long, short: long.slice(0, 8) };
  }
  return lastDates;
}

/**
 * Everything in a signature but the request path: within one second, for one body and one
 * set of credentials, every post of a fan-out shares it, so a post only canonicalizes its
 * path, hashes its canonical request and computes one HMAC.
 */
interface Template {
  method: string;
  host: string;
  headers: Record<string, string>;
  headerCount: number;
  body: Uint8Array;
  long: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | undefined;
  region: string;
  service: string;
  /** The canonical request after its path: empty query, headers, signed header names, payload hash. */
  suffix: string;
  /** The string to sign, but for the canonical request's hash, ready to be HMACed. */
  signer: Signer;
  /** The authorization header before the signature. */
  authorizationPrefix: string;
  /** The signed headers as a flat [name, value, …] list, without authorization. */
  list: string[];
}

let lastTemplate: Template | undefined;

/** Whether `headers` holds exactly the template's input headers (a name and a value less or more: no). */
function sameHeaders(t: Template, headers: Record<string, string>): boolean {
  let count = 0;
  for (const name in headers) {
    if (t.headers[name] !== headers[name]) return false;
    count++;
  }
  return count === t.headerCount;
}

function template(input: SignInput, long: string, short: string): Template {
  const last = lastTemplate;
  const { credentials } = input;
  if (
    last !== undefined &&
    last.long === long &&
    last.body === input.body &&
    last.method === input.method &&
    last.host === input.host &&
    last.accessKeyId === credentials.accessKeyId &&
    last.secretAccessKey === credentials.secretAccessKey &&
    last.sessionToken === credentials.sessionToken &&
    last.region === input.region &&
    last.service === input.service &&
    sameHeaders(last, input.headers)
  ) {
    return last;
  }
  const hash = payloadHash(input.body);
  const headers: Record<string, string> = Object.assign({}, input.headers);
  headers.host = input.host;
  headers['x-amz-date'] = long;
  headers['x-amz-content-sha256'] = hash;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  let canonicalHeaders = '';
  const list: string[] = [];
  for (const name of names) {
    canonicalHeaders += `${name}:${canonicalValue(headers[name] as string)}\n`;
    list.push(name, headers[name] as string);
  }
  const signedHeaders = names.join(';');
  const scope = `${short}/${input.region}/${input.service}/aws4_request`;
  const next: Template = {
    method: input.method,
    host: input.host,
    headers: Object.assign({}, input.headers),
    headerCount: Object.keys(input.headers).length,
    body: input.body,
    long,
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
    region: input.region,
    service: input.service,
    // method, path (per post), query (none), headers, signed header names, payload hash
    suffix: `\n\n${canonicalHeaders}\n${signedHeaders}\n${hash}`,
    signer: signer(
      signingKey(credentials.secretAccessKey, short, input.region, input.service),
      `${ALGORITHM}\n${long}\n${scope}\n`,
    ),
    authorizationPrefix: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=`,
    list,
  };
  lastTemplate = next;
  return next;
}

/**
 * The headers to send as a flat [name, value, …] list (as node:http takes them): the
 * input's, plus host, x-amz-date, x-amz-content-sha256, x-amz-security-token (with
 * temporary credentials, as in Lambda) and authorization.
 */
export function signedHeaderList(input: SignInput): string[] {
  const { long, short } = dates(input.date);
  const t = template(input, long, short);
  const canonicalRequest = `${t.method}\n${canonicalPath(input.path)}${t.suffix}`;
  const signature = signatureOf(t.signer, sha256Hex(canonicalRequest));
  const list = t.list.slice();
  list.push('authorization', t.authorizationPrefix + signature);
  return list;
}

/** The same headers by name. */
export function sign(input: SignInput): Record<string, string> {
  const list = signedHeaderList(input);
  const headers: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) headers[list[i] as string] = list[i + 1] as string;
  return headers;
}
