/**
 * The wscat sessions of the docs, each played against the real service by
 * scripts/docs/transcripts.ts, and the generated blocks made of them: README's quick start
 * (two terminals), docs/protocol.md's refs and history, docs/auth.md's connecting with a token.
 * Each session uses rooms of its own, so that sessions played one after the other on one service
 * give the same numbers as on a fresh one; the README's goes first, as its `list` counts every
 * connection of the service.
 */
import { record, wrap } from './transcripts';
import type { Recording, Step } from './transcripts';

export interface Session {
  name: string;
  /** Played on a service with auth on (hs256); its steps get a token per user. */
  auth: boolean;
  steps(tokens: Record<string, string>): Step[];
  /** The generated blocks it makes, by file and name. */
  blocks(recording: Recording): Record<string, Record<string, string>>;
}

const URL_SHOWN = 'ws://localhost:3001';
const fence = (lang: string, lines: string[]) => ['```' + lang, ...lines, '```'].join('\n');
const terminal = (recording: Recording, who: string, width?: number) => [
  `$ npx wscat -c ${URL_SHOWN}`,
  'Connected (press CTRL+C to quit)',
  ...recording.lines(who).flatMap((line) => (width === undefined ? [line] : wrap(line, width))),
];
const send = (who: string, body: unknown, expect: Record<string, number>): Step => ({
  who,
  send: typeof body === 'string' ? body : JSON.stringify(body),
  expect,
});

/** README.md, "A session with wscat": B joined `lobby` first; A lists, broadcasts, joins, leaves, errs, pings. */
const quickStart: Session = {
  name: 'quick start',
  auth: false,
  steps: () => [
    { who: 'B', connect: {} },
    send('B', { action: 'join', room: 'lobby' }, { B: 1 }),
    { who: 'A', connect: {} },
    send('A', {}, { A: 1 }),
    send('A', { action: 'sendmessage', data: { text: 'hello everyone' } }, { A: 2, B: 1 }),
    send('A', { action: 'join', room: 'lobby' }, { A: 1, B: 1 }),
    send('B', { action: 'publish', room: 'lobby', data: 'hi lobby' }, { A: 1, B: 2 }),
    send('A', { action: 'leave', room: 'lobby' }, { A: 1, B: 1 }),
    send('A', 'hello?', { A: 1 }),
    send('A', { action: 'ping' }, { A: 1 }),
  ],
  blocks: (recording) => ({
    'README.md': {
      'wscat-session': [
        fence('text', terminal(recording, 'A', 100)),
        '',
        "Terminal B, at the same time: it hears A's broadcast, **A's join and leave as presence events**,",
        'and its own room message (it is a member):',
        '',
        fence('text', terminal(recording, 'B', 100)),
      ].join('\n'),
    },
  }),
};

/** docs/protocol.md, "Answers and refs": each answer names the request's `ref`. */
const refs: Session = {
  name: 'answers and refs',
  auth: false,
  steps: () => [
    { who: 'C', connect: {} },
    send('C', { action: 'join', room: 'news' }, { C: 1 }),
    send('C', { action: 'publish', room: 'news', data: 'hi', ref: 'p7' }, { C: 2 }),
    send('C', { action: 'history', room: 'news', after: 0, ref: 'h8' }, { C: 1 }),
    send('C', { action: 'publish', room: 'secret', data: 'hi', ref: 'p9' }, { C: 1 }),
  ],
  blocks: (recording) => ({ 'docs/protocol.md': { 'refs-session': fence('text', recording.lines('C')) } }),
};

/** docs/protocol.md, "Ids, order and history": two messages, what came after the first, a room not joined. */
const history: Session = {
  name: 'history',
  auth: false,
  steps: () => [
    { who: 'C', connect: {} },
    send('C', { action: 'join', room: 'books' }, { C: 1 }),
    send('C', { action: 'publish', room: 'books', data: 'one' }, { C: 2 }),
    send('C', { action: 'publish', room: 'books', data: 'two' }, { C: 2 }),
    send('C', { action: 'history', room: 'books', after: 1 }, { C: 1 }),
    send('C', { action: 'history', room: 'elsewhere' }, { C: 1 }),
  ],
  blocks: (recording) => ({ 'docs/protocol.md': { 'history-session': fence('text', recording.lines('C')) } }),
};

/** docs/auth.md, "Connecting": alice with a token lists and broadcasts; no token, no socket. */
const auth: Session = {
  name: 'connecting with a token',
  auth: true,
  steps: (tokens) => [
    { who: 'alice', connect: { token: tokens.alice! } },
    send('alice', { action: 'list' }, { alice: 1 }),
    send('alice', { action: 'sendmessage', data: 'hello' }, { alice: 2 }),
    { who: 'nobody', refused: true },
  ],
  blocks: (recording) => ({
    'docs/auth.md': {
      'auth-session': fence('console', [
        `$ npx wscat -c "${URL_SHOWN}?token=$(npm run -s token -- --user alice)"`,
        ...terminal(recording, 'alice').slice(1),
        '',
        `$ npx wscat -c "${URL_SHOWN}"`,
        ...recording.lines('nobody'),
      ]),
    },
  }),
};

/** In the order they are played on one service. */
export const SESSIONS: readonly Session[] = [quickStart, refs, history, auth];

/** The blocks the sessions write, by file: kept as committed by `npm run docs` without `--transcripts`. */
export const TRANSCRIPT_BLOCKS: Readonly<Record<string, string[]>> = (() => {
  const names: Record<string, string[]> = {};
  for (const session of SESSIONS) {
    for (const [file, blocks] of Object.entries(session.blocks({ lines: () => [] }))) {
      names[file] = [...(names[file] ?? []), ...Object.keys(blocks)];
    }
  }
  return names;
})();

/** Plays the sessions (of one kind: auth on or off) on the service at `url`, in order; their blocks by file. */
export async function recordSessions(
  url: string,
  options: { auth: boolean; token?: (user: string) => Promise<string> },
): Promise<Record<string, Record<string, string>>> {
  const blocks: Record<string, Record<string, string>> = {};
  for (const session of SESSIONS.filter((s) => s.auth === options.auth)) {
    const tokens: Record<string, string> =
      session.auth && options.token !== undefined ? { alice: await options.token('alice') } : {};
    const recording = await record(url, session.steps(tokens), session.name);
    for (const [file, named] of Object.entries(session.blocks(recording))) blocks[file] = { ...blocks[file], ...named };
  }
  return blocks;
}
