/**
 * A loopback TCP proxy in front of the MySQL server, for tests and the benchmark:
 *
 * - `pass`: forwards both ways, and counts the commands clients send (below);
 * - `silent`: the database "accepts TCP and never answers": new connections are accepted
 *   and held without a word, and nothing more is forwarded on the open ones either way;
 * - `drop`: every open connection is reset and new ones are reset at once;
 * - `full`: new connections get MySQL's "Too many connections" (ER_CON_COUNT_ERROR) and are
 *   closed, as a server at max_connections does; open ones go on;
 * - `hold`: what clients send still reaches the server (a write is done), but its answers are
 *   lost, on open connections and new ones: the answer lost between a commit and its client.
 *   `holdAnswersAfter(pattern)` switches to it right after the statement that matches is sent.
 *   Back to `pass`, the connections whose answers were lost are reset (their state is unknown).
 *   `silentAfter(pattern)` switches to `silent` right after the answer to the statement that
 *   matches has been passed back: a stall that starts once a write is done and known.
 *
 * A silent database does not close its side either: the proxy keeps half-open sockets
 * (`allowHalfOpen`), so a client that only half-closes (FIN) a stalled connection still
 * shows in `openConnections()`; only a client that really destroys its socket frees it.
 *
 * Counting is done on the MySQL wire protocol: every client packet is a 3-byte length, a
 * sequence id and the payload, and every command a client sends after the handshake
 * (COM_QUERY, COM_PING, COM_QUIT, …) starts a new exchange with sequence id 0. So the count
 * includes whatever a library sends on its own, not only the statements our code asks for.
 * It does not work through TLS (the packets are then encrypted); local servers use none.
 * It also counts the bytes the server sends back (`bytesFromServer`): what a statement's
 * answer costs the connection and the client's memory.
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export type ProxyMode = 'pass' | 'silent' | 'drop' | 'full' | 'hold';

/** Commands by their first payload byte (MySQL client/server protocol, "Text Protocol"). */
const COMMAND_NAMES: Record<number, string> = {
  0x01: 'quit',
  0x02: 'init_db',
  0x03: 'query',
  0x0e: 'ping',
  0x11: 'change_user',
  0x16: 'stmt_prepare',
  0x17: 'stmt_execute',
  0x19: 'stmt_close',
  0x1f: 'reset_connection',
};

/** ERR packet, sequence 0, error 1040 with SQL state 08004, as MySQL sends it before any greeting. */
function tooManyConnectionsPacket(): Buffer {
  const payload = Buffer.concat([Buffer.from([0xff, 0x10, 0x04]), Buffer.from('#08004Too many connections', 'utf8')]);
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = 0;
  return Buffer.concat([header, payload]);
}

export interface ProxiedCommand {
  /** 'query', 'ping', 'quit', … */
  command: string;
  /** For a query: its SQL text with runs of whitespace folded, at most 200 characters. */
  sql?: string;
}

export interface TcpProxy {
  port: number;
  /** `mysql://…` of the target with this proxy's port: what a store under test connects to. */
  url(database: string, user?: string): string;
  readonly mode: ProxyMode;
  setMode(mode: ProxyMode): void;
  /** Switches to `hold` once a query whose SQL matches has been passed on (the next one only). */
  holdAnswersAfter(pattern: RegExp): void;
  /** Switches to `silent` once the answer to a query whose SQL matches has been passed back (the next one only). */
  silentAfter(pattern: RegExp): void;
  /** In `full` mode, answer "Too many connections" this long after accepting (a busy server); 0 by default. */
  setRefusalDelay(ms: number): void;
  /** Holds what clients send this long before passing it on: a network hop per round trip; 0 by default. */
  setHopDelay(ms: number): void;
  /** Every command clients sent through the proxy since the last reset, in order. */
  readonly commands: ProxiedCommand[];
  resetCommands(): void;
  /** Bytes the server sent to clients through the proxy since the last resetBytes(). */
  bytesFromServer(): number;
  resetBytes(): void;
  /** Client connections currently open through the proxy (half-open ones included). */
  openConnections(): number;
  /** Client connections accepted since the proxy started. */
  accepted(): number;
  close(): Promise<void>;
}

/** Splits a client's byte stream into MySQL packets and reports the commands it finds. */
function commandParser(report: (command: ProxiedCommand) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < 4 + length) return;
      const sequence = pending[3];
      if (sequence === 0 && length > 0) {
        const code = pending[4] as number;
        const command = COMMAND_NAMES[code] ?? `0x${code.toString(16)}`;
        const entry: ProxiedCommand = { command };
        if (code === 0x03) {
          entry.sql = pending
            .subarray(5, 4 + Math.min(length, 2_000))
            .toString('utf8')
            .replace(/\s+/g, ' ')
            .trim()
            .slice(0, 200);
        }
        report(entry);
      }
      pending = pending.subarray(4 + length);
    }
  };
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let refusalDelayMs = 0;
  let hopDelayMs = 0;
  const commands: ProxiedCommand[] = [];
  const open = new Set<Socket>();
  const clients = new Set<Socket>();
  /** Client sockets held without answer while the database is "silent". */
  const held = new Set<Socket>();
  /** Client sockets that lost an answer while answers were held. */
  const lostAnswers = new Set<Socket>();
  let holdAfter: RegExp | undefined;
  let silenceAfter: RegExp | undefined;
  let fromServer = 0;

  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      held.delete(socket);
      lostAnswers.delete(socket);
    });
    socket.on('error', () => undefined); // resets are expected here
  };

  let accepted = 0;

  // noDelay on both sides, as mysql2 sets on its own socket: the proxy writes what it read in
  // pieces, and Nagle's algorithm with the peer's delayed ACK held some of them about 40 ms.
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    accepted++;
    track(client);
    clients.add(client);
    client.on('close', () => clients.delete(client));
    if (mode === 'drop') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'full') {
      if (refusalDelayMs === 0) client.end(tooManyConnectionsPacket());
      else setTimeout(() => client.end(tooManyConnectionsPacket()), refusalDelayMs).unref();
      return;
    }
    if (mode === 'silent') {
      held.add(client);
      return;
    }
    const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true, noDelay: true });
    track(upstream);
    let holdNow = false;
    let silenceOnAnswer = false;
    const parse = commandParser((command) => {
      commands.push(command);
      if (holdAfter !== undefined && command.sql !== undefined && holdAfter.test(command.sql)) {
        holdAfter = undefined;
        holdNow = true;
      }
      if (silenceAfter !== undefined && command.sql !== undefined && silenceAfter.test(command.sql)) {
        silenceAfter = undefined;
        silenceOnAnswer = true;
      }
    });
    // Forwarding by hand (not pipe) so that `silent` can stop it on an open connection.
    client.on('data', (chunk: Buffer) => {
      parse(chunk);
      if (mode === 'pass' || mode === 'hold') {
        // Equal delays fire in the order they were set: the stream stays in order.
        if (hopDelayMs > 0) setTimeout(() => upstream.write(chunk), hopDelayMs);
        else upstream.write(chunk);
      }
      if (holdNow) {
        holdNow = false;
        mode = 'hold';
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      fromServer += chunk.length;
      if (mode === 'pass') client.write(chunk);
      else if (mode === 'hold') lostAnswers.add(client);
      if (silenceOnAnswer) {
        silenceOnAnswer = false;
        mode = 'silent';
      }
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    // A half-close is passed on while the database "answers"; a silent one ignores it.
    client.on('end', () => {
      if (mode === 'pass') closeBoth();
    });
    upstream.on('end', () => {
      if (mode === 'pass') closeBoth();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    url: (database, user = 'root') => `mysql://${user}@127.0.0.1:${port}/${database}`,
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
      if (next === 'drop') for (const socket of open) socket.resetAndDestroy();
      // Connections held while silent never got a handshake: end them, clients reconnect.
      if (next === 'pass') for (const socket of [...held, ...lostAnswers]) socket.resetAndDestroy();
    },
    holdAnswersAfter(pattern) {
      holdAfter = pattern;
    },
    silentAfter(pattern) {
      silenceAfter = pattern;
    },
    setRefusalDelay(ms) {
      refusalDelayMs = ms;
    },
    setHopDelay(ms) {
      hopDelayMs = ms;
    },
    commands,
    resetCommands: () => void commands.splice(0),
    bytesFromServer: () => fromServer,
    resetBytes: () => void (fromServer = 0),
    openConnections: () => [...clients].filter((socket) => !socket.destroyed).length,
    accepted: () => accepted,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
