/**
 * wscat sessions recorded against the real service, for the docs' transcripts: a script of steps
 * (who connects, who sends what, how many frames each terminal then gets) is played over real
 * sockets, and what each terminal saw is written as wscat shows it (`> ` sent, `< ` received).
 * What differs from run to run is replaced by stable placeholders, so that a run gives the same
 * text as the last one unless the service's answers changed: connection ids (8 characters and
 * `…`), message ids (16 characters made from their order), and times (a fixed start, 100 ms per
 * event). scripts/docs/sessions.ts has the sessions and where they go; `npm run docs --
 * --transcripts` writes them, test/e2e/transcripts.test.ts and test/e2e/auth.test.ts compare.
 */
import { createHash } from 'node:crypto';
import WebSocket from 'ws';

/** One step of a session: a terminal connects (or is refused), or sends a line. */
export type Step =
  | { who: string; connect: { token?: string }; expect?: Record<string, number> }
  | { who: string; refused: true }
  | { who: string; send: string; expect: Record<string, number> };

/** What one terminal showed, in order: its lines before normalisation. */
export type Line = { kind: 'sent' | 'received' | 'error'; text: string; step: number };

export interface Recording {
  /** The terminals' lines, each frame with its placeholders in. */
  lines(who: string): string[];
}

/** How long a step may wait for its frames: a missing one fails the recording, not a hang. */
const STEP_TIMEOUT_MS = 15_000;

/**
 * Plays `steps` against the service at `url` (ws://host:port) and gives the normalised lines
 * of each terminal (`seed` varies the stand-ins from one session to the next). Every socket is
 * closed before it returns.
 */
export async function record(url: string, steps: readonly Step[], seed = ''): Promise<Recording> {
  const sockets = new Map<string, WebSocket>();
  const lines = new Map<string, Line[]>();
  const received = new Map<string, number>();
  const linesOf = (who: string) => lines.get(who) ?? (lines.set(who, []), lines.get(who)!);
  let step = 0;
  try {
    for (const [index, current] of steps.entries()) {
      step = index;
      const before = new Map(received);
      if ('refused' in current) {
        linesOf(current.who).push({ kind: 'error', text: await refusal(url), step });
        continue;
      }
      if ('connect' in current) {
        const token = current.connect.token;
        const socket = await open(token === undefined ? url : `${url}?token=${encodeURIComponent(token)}`);
        sockets.set(current.who, socket);
        socket.on('message', (data) => {
          received.set(current.who, (received.get(current.who) ?? 0) + 1);
          linesOf(current.who).push({ kind: 'received', text: String(data), step });
        });
      } else {
        linesOf(current.who).push({ kind: 'sent', text: current.send, step });
        sockets.get(current.who)!.send(current.send);
      }
      await until(() =>
        Object.entries(current.expect ?? {}).every(
          ([who, count]) => (received.get(who) ?? 0) - (before.get(who) ?? 0) >= count,
        ),
      ).catch(() => {
        throw new Error(
          `step ${index + 1} (${JSON.stringify(current)}) did not get its frames; so far:\n${dump(lines)}`,
        );
      });
    }
  } finally {
    await Promise.all([...sockets.values()].map(close));
  }
  // Terminals in the order the steps name them, not the order their first frame happened to come in.
  return normalise(lines, [...new Set(steps.map((step) => step.who))], seed);
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The line wscat prints for a refused handshake (`error: ` and ws's message, as wscat does). */
function refusal(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.close();
      reject(new Error(`the handshake to ${url} was accepted`));
    });
    socket.once('error', (error) => resolve(`error: ${error.message}`));
  });
}

function close(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.close();
  });
}

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const dump = (lines: Map<string, Line[]>) =>
  [...lines].map(([who, seen]) => `${who}:\n${seen.map((line) => `  ${line.text}`).join('\n')}`).join('\n');

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const MESSAGE_ID = /^[A-Za-z0-9_-]{16}$/;
/** The first time of a transcript: 2026-12-04, in the range of the service's real ones. */
export const FIRST_TIME = 1_796_416_047_000;

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The lines with placeholders, assigned in an order that does not depend on which terminal's
 * frame arrived first: by step, then by terminal, then by arrival within the terminal.
 */
export function normalise(lines: Map<string, Line[]>, terminals: string[], seed: string): Recording {
  const connections = new Map<string, string>();
  const ids = new Map<string, string>();
  const times = new Map<string, number>();
  const connection = (id: string) => {
    if (!connections.has(id))
      connections.set(id, `${digest(`${seed} connection ${connections.size}`).toString('hex').slice(0, 8)}…`);
    return connections.get(id)!;
  };
  const messageId = (id: string) => {
    if (!ids.has(id)) ids.set(id, digest(`${seed} message ${ids.size}`).toString('base64url').slice(0, 16));
    return ids.get(id)!;
  };
  const time = (key: string) => {
    if (!times.has(key)) times.set(key, FIRST_TIME + 100 * times.size);
    return times.get(key)!;
  };
  let occurrence = 0;
  /** A time is the same wherever the same thing is shown: a message's by its id, a connection's by its id. */
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replace(UUID, connection);
    if (Array.isArray(value)) return value.map((item) => walk(item));
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(object)) {
      if ((key === 'id' || key === 'deliveryId') && typeof field === 'string' && MESSAGE_ID.test(field)) {
        out[key] = messageId(field);
      } else if (key.endsWith('At') || key === 'at') {
        const owner = object.id ?? object.connectionId ?? `occurrence ${(occurrence += 1)}`;
        out[key] = typeof field === 'number' ? time(`${key} ${String(owner)}`) : walk(field);
      } else out[key] = walk(field);
    }
    return out;
  };
  const order = [...lines].flatMap(([who, seen]) => seen.map((line, arrival) => ({ who, line, arrival })));
  order.sort(
    (a, b) => a.line.step - b.line.step || terminals.indexOf(a.who) - terminals.indexOf(b.who) || a.arrival - b.arrival,
  );
  const shown = new Map<Line, string>();
  for (const { line } of order) {
    if (line.kind !== 'received') shown.set(line, line.text);
    else shown.set(line, JSON.stringify(walk(JSON.parse(line.text))));
  }
  return {
    lines: (who) =>
      (lines.get(who) ?? []).map((line) =>
        line.kind === 'sent' ? `> ${line.text}` : line.kind === 'received' ? `< ${shown.get(line)}` : line.text,
      ),
  };
}

/**
 * A line wrapped at `width` as the README shows long frames: after a comma outside a string, or
 * at a space inside one, continued with three spaces.
 */
export function wrap(line: string, width = 100): string[] {
  const pieces: string[] = [];
  let piece = '';
  let inString = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i]!;
    piece += char;
    if (char === '\\' && inString) {
      piece += line[(i += 1)] ?? '';
      continue;
    }
    if (char === '"') inString = !inString;
    else if ((char === ',' && !inString) || (char === ' ' && inString && i > 2)) {
      pieces.push(piece);
      piece = '';
    }
  }
  pieces.push(piece);
  const out: string[] = [];
  let current = '';
  for (const next of pieces) {
    if (current !== '' && current.trimEnd().length + next.trimEnd().length > width) {
      out.push(current.trimEnd());
      current = `   ${next}`;
    } else current += next;
  }
  out.push(current.trimEnd());
  return out;
}
