/**
 * AWS Signature Version 4 on node:crypto, for the small requests we make ourselves (the
 * management API's PostToConnection and GetConnection, a Lambda invoke). It follows
 * @smithy/signature-v4 (the signer inside the AWS SDK) step by step - the path
 * normalized and encoded twice, sorted lower-case headers, the payload hash signed as
 * `x-amz-content-sha256`, the session token as `x-amz-security-token` - and a unit test
 * checks it against that signer for the same input, byte for byte.
 *
 * Not the SDK's signer itself: it costs ~40 ms of cold start and, async and provider-based,
 * more CPU per post. Two things are kept between requests: the derived signing key (its
 * four HMACs were most of a post's signing cost) and the hash of a body signed for many
 * recipients (BENCHMARKS.md, "Delivery").
 */
import { createHmac, hash } from 'node:crypto';

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

/**
 * The canonical URI of every service but S3: the normalized path (no empty, `.` or `..`
 * segments), encoded once more (so `%3D` in a connection id is signed as `%253D`), slashes kept.
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

/** One-shot hashing (Node >= 20.12, and Lambda's nodejs24.x): no Hash object per call. */
function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** A fan-out signs one body (encoded once, never changed after) for every recipient: hashed once. */
const payloadHashes = new WeakMap<Uint8Array, string>();

function payloadHashOf(body: Uint8Array): string {
  let known = payloadHashes.get(body);
  if (known === undefined) payloadHashes.set(body, (known = sha256Hex(body)));
  return known;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

let lastKey: { id: string; key: Buffer } | undefined;

/** The derived key changes once a day, or with the credentials, region or service. */
function signingKey(secret: string, short: string, region: string, service: string): Buffer {
  const id = `${short}/${region}/${service}/${secret}`;
  if (lastKey?.id !== id) {
    lastKey = { id, key: hmac(hmac(hmac(hmac(`AWS4${secret}`, short), region), service), 'aws4_request') };
  }
  return lastKey.key;
}

/** As the SDK: line breaks become spaces, runs of spaces and tabs one space, trimmed. */
function canonicalValue(value: string): string {
  if (!/[\r\n\t]|^ | $| {2}/.test(value)) return value; // the usual case: nothing to change
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/**
 * The headers to send as a flat [name, value, …] list (as node:http takes them): the
 * input's, plus host, x-amz-date, x-amz-content-sha256, x-amz-security-token (with
 * temporary credentials, as in Lambda) and authorization.
 */
export function signedHeaderList(input: SignInput): string[] {
  const { credentials, region, service } = input;
  const long = input.date.toISOString().replace(/[-:]|\.\d{3}/g, ''); // 20261128T144231Z
  const short = long.slice(0, 8);
  const payloadHash = payloadHashOf(input.body);
  const headers: Record<string, string> = { ...input.headers, host: input.host, 'x-amz-date': long };
  headers['x-amz-content-sha256'] = payloadHash;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${canonicalValue(headers[name] as string)}\n`).join('');
  const signedHeaders = names.join(';');
  // method, path, query (none), headers, signed header names, payload hash
  const canonicalRequest = `${input.method}\n${canonicalPath(input.path)}\n\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
  const scope = `${short}/${region}/${service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${long}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, short, region, service))
    .update(stringToSign)
    .digest('hex');
  const list: string[] = [];
  for (const name of names) list.push(name, headers[name] as string);
  list.push(
    'authorization',
    `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  );
  return list;
}

/** The same headers by name. */
export function sign(input: SignInput): Record<string, string> {
  const list = signedHeaderList(input);
  const headers: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) headers[list[i] as string] = list[i + 1] as string;
  return headers;
}

export interface PresignInput {
  method: string;
  /** The Host header, signed: host name and `:port`. */
  host: string;
  /** The request path, without a query. */
  path: string;
  /** The request's own query parameters; the X-Amz-* ones are added. */
  query: Record<string, string>;
  region: string;
  service: string;
  credentials: AwsCredentials;
  date: Date;
  /** How long the URL is valid, in seconds. */
  expiresIn: number;
}

/** The empty body's SHA-256: what the SDK signs for a presigned request without a body. */
const EMPTY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * A presigned request's query string (as @smithy/signature-v4's `presign`): the credentials and
 * scope in X-Amz-* parameters, `host` the only signed header, the query sorted and encoded as
 * escapeUri does, X-Amz-Signature added last and the whole sorted again (as the SDK's
 * formatUrl writes it).
 */
export function presignedQuery(input: PresignInput): string {
  const { credentials, region, service } = input;
  const long = input.date.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const short = long.slice(0, 8);
  const scope = `${short}/${region}/${service}/aws4_request`;
  const query: Record<string, string> = {
    ...input.query,
    'X-Amz-Algorithm': ALGORITHM,
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': long,
    'X-Amz-Expires': String(input.expiresIn),
    'X-Amz-SignedHeaders': 'host',
  };
  if (credentials.sessionToken) query['X-Amz-Security-Token'] = credentials.sessionToken;
  const encoded = (params: Record<string, string>) =>
    Object.keys(params)
      .map((key) => [escapeUri(key), escapeUri(params[key] as string)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => `${key}=${value}`)
      .join('&');
  const canonicalQuery = encoded(query);
  const canonicalRequest = `${input.method}\n${canonicalPath(input.path)}\n${canonicalQuery}\nhost:${canonicalValue(input.host)}\n\nhost\n${EMPTY_HASH}`;
  const stringToSign = `${ALGORITHM}\n${long}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, short, region, service))
    .update(stringToSign)
    .digest('hex');
  return encoded({ ...query, 'X-Amz-Signature': signature });
}
