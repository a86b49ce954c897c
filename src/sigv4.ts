/**
 * AWS Signature Version 4, for the one kind of request the delivery path makes: a POST
 * with a small body to the API Gateway management API. It follows @smithy/signature-v4
 * (the signer inside the AWS SDK) step by step - canonical request with the path
 * encoded twice, sorted lower-case headers, the payload hash signed as
 * `x-amz-content-sha256`, the session token as `x-amz-security-token` - and a unit test
 * checks it against that signer for the same input, byte for byte.
 *
 * Why not the SDK's signer itself: loading it costs ~40 ms of cold start, and its
 * generic, async, provider-based API costs CPU on every one of the thousands of posts a
 * fan-out makes (BENCHMARKS.md). node:crypto costs nothing to load, and the two values
 * that repeat across a fan-out are cached: the signing key (per day, region, service
 * and secret) and the payload hash (one body for every recipient).
 */
import { createHash, createHmac, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

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

/** RFC 3986 unreserved characters stay, everything else is %XX (as the SDK's escapeUri). */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${(c.codePointAt(0) as number).toString(16).toUpperCase()}`,
  );
}

/**
 * The canonical URI of every service but S3: the normalized path, encoded once more
 * (so `%3D` in a connection id is signed as `%253D`), slashes kept.
 */
export function canonicalPath(path: string): string {
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

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
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
const signingKeys = new Map<string, KeyObject>();
/** The last key handed out: a fan-out signs thousands of posts with the same one. */
let lastKey: { secret: string; shortDate: string; region: string; service: string; key: KeyObject } | undefined;

function signingKey(secret: string, shortDate: string, region: string, service: string): KeyObject {
  const last = lastKey;
  if (
    last !== undefined &&
    last.shortDate === shortDate &&
    last.secret === secret &&
    last.region === region &&
    last.service === service
  ) {
    return last.key;
  }
  const cacheKey = `${shortDate}\n${region}\n${service}\n${secret}`;
  let key = signingKeys.get(cacheKey);
  if (key === undefined) {
    // A KeyObject, not the Buffer: createHmac would otherwise import the key again per post.
    key = createSecretKey(hmac(hmac(hmac(hmac(`AWS4${secret}`, shortDate), region), service), 'aws4_request'));
    if (signingKeys.size >= 16) signingKeys.clear();
    signingKeys.set(cacheKey, key);
  }
  lastKey = { secret, shortDate, region, service, key };
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
 * The headers to send: the input's, plus host, x-amz-date, x-amz-content-sha256,
 * x-amz-security-token (with temporary credentials, as in Lambda) and authorization.
 */
export function sign(input: SignInput): Record<string, string> {
  const { long, short } = dates(input.date);
  const hash = payloadHash(input.body);
  const headers: Record<string, string> = Object.assign({}, input.headers);
  headers.host = input.host;
  headers['x-amz-date'] = long;
  headers['x-amz-content-sha256'] = hash;
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;

  // Plain loops: this runs once per recipient of a fan-out.
  const names = Object.keys(headers).sort();
  let canonicalHeaders = '';
  let signedHeaders = '';
  for (const name of names) {
    canonicalHeaders += `${name}:${canonicalValue(headers[name] as string)}\n`;
    signedHeaders += signedHeaders === '' ? name : `;${name}`;
  }
  // method, path, query (none), headers, signed header names, payload hash
  const canonicalRequest = `${input.method}\n${canonicalPath(input.path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${hash}`;
  const scope = `${short}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${long}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac(
    'sha256',
    signingKey(input.credentials.secretAccessKey, short, input.region, input.service),
  )
    .update(stringToSign)
    .digest('hex');
  headers.authorization =
    `${ALGORITHM} Credential=${input.credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
