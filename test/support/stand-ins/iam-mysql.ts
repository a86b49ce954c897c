/**
 * A stand-in for RDS MySQL with IAM database authentication, on loopback, speaking just enough of
 * the MySQL protocol: a greeting, TLS on the client's SSLRequest, then (as RDS does for a user
 * identified with AWSAuthenticationPlugin) an auth switch to `mysql_clear_password`, and OK to
 * every query. It keeps each login (user, the password sent in clear, whether over TLS) and
 * accepts the password only when `accept` says so (else 1045, as RDS refuses a bad token).
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { TLSSocket } from 'node:tls';
import { Duplex } from 'node:stream';

export interface Login {
  user: string;
  /** What the client sent after the switch to mysql_clear_password, without its trailing NUL. */
  password: string;
  tls: boolean;
}

export interface IamMysql {
  port: number;
  logins: Login[];
  queries: string[];
  close(): Promise<void>;
}

const CAPABILITIES = 0x1 | 0x4 | 0x8 | 0x200 | 0x800 | 0x2000 | 0x8000 | 0x20000 | 0x80000; // …, PROTOCOL_41, SSL, SECURE_CONNECTION, MULTI_RESULTS, PLUGIN_AUTH

function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence;
  return Buffer.concat([header, payload]);
}

function greeting(): Buffer {
  const caps = Buffer.alloc(4);
  caps.writeUInt32LE(CAPABILITIES);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('8.4.3-rds-stand-in\0'),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from('abcdefgh'),
    Buffer.from([0]),
    caps.subarray(0, 2),
    Buffer.from([45, 2, 0]), // utf8mb4, autocommit
    caps.subarray(2, 4),
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0'),
    Buffer.from('mysql_native_password\0'),
  ]);
}

const OK = Buffer.from([0, 0, 0, 2, 0, 0, 0]);

function error(code: number, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(code, 1);
  return Buffer.concat([head, Buffer.from('#28000'), Buffer.from(message)]);
}

/**
 * Reads whole packets off a stream, one callback per packet. A callback that returns `stop`
 * ends the reading, and `stopped` gets the bytes already read past that packet (the client
 * starts TLS without waiting for an answer to its SSLRequest).
 */
function onPackets(
  stream: Duplex,
  each: (sequence: number, payload: Buffer) => 'stop' | void,
  stopped: (rest: Buffer) => void = () => undefined,
): void {
  let pending = Buffer.alloc(0);
  const listener = (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < 4 + length) break;
      const sequence = pending[3] as number;
      const payload = pending.subarray(4, 4 + length);
      pending = pending.subarray(4 + length);
      if (each(sequence, payload) === 'stop') {
        stream.off('data', listener);
        stopped(pending);
        return;
      }
    }
  };
  stream.on('data', listener);
}

/** TLS over what is left of `raw`: through a JS stream, so the bytes already read go first. */
function upgrade(raw: Socket, rest: Buffer, cert: { cert: string; key: string }): TLSSocket {
  const carrier = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      raw.write(chunk, done);
    },
  });
  raw.on('data', (chunk: Buffer) => carrier.push(chunk));
  raw.on('end', () => carrier.push(null));
  if (rest.length > 0) carrier.push(rest);
  const secure = new TLSSocket(carrier, {
    isServer: true,
    cert: readFileSync(cert.cert),
    key: readFileSync(cert.key),
  });
  secure.on('error', () => undefined);
  return secure;
}

export async function startIamMysql(options: {
  cert: { cert: string; key: string };
  accept: (login: Login) => boolean;
}): Promise<IamMysql> {
  const logins: Login[] = [];
  const queries: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    raw.write(packet(0, greeting()));
    let user = '';
    let stage: 'handshake' | 'switched' | 'ready' = 'handshake';
    const serve = (stream: Duplex, tls: boolean): void =>
      onPackets(
        stream,
        (sequence, payload) => {
          if (stage === 'handshake' && payload.length === 32 && !tls) return 'stop'; // SSLRequest
          return answer(stream, tls, sequence, payload);
        },
        (rest) => serve(upgrade(raw, rest, options.cert), true),
      );
    const answer = (stream: Duplex, tls: boolean, sequence: number, payload: Buffer): void => {
      if (stage === 'handshake') {
        const end = payload.indexOf(0, 32);
        user = payload.subarray(32, end).toString('utf8');
        stage = 'switched';
        stream.write(packet(sequence + 1, Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_clear_password\0')])));
        return;
      }
      if (stage === 'switched') {
        const password = payload.subarray(0, payload.length && payload[payload.length - 1] === 0 ? -1 : undefined);
        const login = { user, password: password.toString('utf8'), tls };
        logins.push(login);
        if (options.accept(login)) {
          stage = 'ready';
          stream.write(packet(sequence + 1, OK));
        } else {
          stream.write(packet(sequence + 1, error(1045, `Access denied for user '${user}'@'%'`)));
          stream.end();
        }
        return;
      }
      if (payload[0] === 0x01) return void stream.end(); // COM_QUIT
      queries.push(payload.subarray(1).toString('utf8'));
      stream.write(packet(sequence + 1, OK));
    };
    serve(raw, false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    logins,
    queries,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
