/**
 * The docs' transcripts are stable from run to run (scripts/docs/transcripts.ts): what changes
 * between runs (connection ids, message ids, times) becomes the same stand-in whenever the
 * service's answers are the same, whichever terminal's frame came first; long frames wrap as
 * the README shows them.
 */
import { FIRST_TIME, normalise, wrap } from '../../scripts/docs/transcripts';
import type { Line } from '../../scripts/docs/transcripts';
import { TRANSCRIPT_BLOCKS } from '../../scripts/docs/sessions';
import { blocksOf } from '../../scripts/docs/blocks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/docs/markdown';

const A_ID = '0b6e1f0c-5d7a-4e2b-9c3d-8f1a2b3c4d5e';
const B_ID = 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b';
const message = (id: string, sentAt: number, connectionId = A_ID) =>
  JSON.stringify({ type: 'message', id, from: null, connectionId, origin: 'client', sentAt, data: 'hi' });

function run(first: 'A' | 'B', id: string, sentAt: number, presenceId: string) {
  const a: Line[] = [
    { kind: 'sent', text: '{"action":"sendmessage","data":"hi"}', step: 0 },
    { kind: 'received', text: message(id, sentAt), step: 0 },
  ];
  const b: Line[] = [
    {
      kind: 'received',
      text: JSON.stringify({ seq: 1, type: 'presence', id: presenceId, connectionId: B_ID }),
      step: 0,
    },
    { kind: 'received', text: message(id, sentAt), step: 0 },
  ];
  const lines = new Map<string, Line[]>(
    first === 'A'
      ? [
          ['A', a],
          ['B', b],
        ]
      : [
          ['B', b],
          ['A', a],
        ],
  );
  const recording = normalise(lines, ['A', 'B'], 'a test');
  return { A: recording.lines('A'), B: recording.lines('B') };
}

describe('the stand-ins of a transcript', () => {
  it('are the same in two runs whose ids, times and arrival order differ', () => {
    const one = run('A', 'AAAAAAAAAAAAAAAA', 1_800_000_000_123, 'PPPPPPPPPPPPPPPP');
    const two = run('B', 'zzzzzzzzzzzzzzz9', 1_800_000_999_999, 'qqqqqqqqqqqqqqq_');
    expect(two).toEqual(one);
  });

  it('keep what is the same the same: one message shows one id and one time in every terminal', () => {
    const { A, B } = run('A', 'AAAAAAAAAAAAAAAA', 1_800_000_000_123, 'PPPPPPPPPPPPPPPP');
    expect(A[1]!.slice(2)).toBe(B[1]!.slice(2));
    const frame = JSON.parse(A[1]!.slice(2)) as { id: string; sentAt: number; connectionId: string };
    expect(frame.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(frame.id).not.toBe('AAAAAAAAAAAAAAAA');
    expect(frame.sentAt).toBe(FIRST_TIME);
    expect(frame.connectionId).toMatch(/^[0-9a-f]{8}…$/);
    expect(JSON.parse(B[0]!.slice(2)).connectionId).not.toBe(frame.connectionId);
  });

  it('leave what was sent as it was typed', () => {
    expect(run('A', 'AAAAAAAAAAAAAAAA', 1, 'PPPPPPPPPPPPPPPP').A[0]).toBe('> {"action":"sendmessage","data":"hi"}');
  });
});

describe('wrap', () => {
  it('breaks after a comma outside strings, or at a space inside one, within the width', () => {
    const line = `< {"type":"error","message":"${'word '.repeat(30).trim()}","details":{"a":1,"b":2}}`;
    const lines = wrap(line, 60);
    expect(lines.every((l) => l.length <= 60)).toBe(true);
    expect(lines.slice(1).every((l) => l.startsWith('   '))).toBe(true);
    expect(
      lines
        .map((l, i) => (i === 0 ? l : l.slice(3)))
        .join(' ')
        .replace(/, /g, ','),
    ).toBe(line);
  });

  it('leaves a short line alone and never breaks inside an escaped quote', () => {
    expect(wrap('< {"a":1}')).toEqual(['< {"a":1}']);
    expect(wrap('< {"m":"say \\"a, b\\" now","n":2}', 20).join('\n')).toContain('\\"a,');
  });
});

describe('the transcript blocks', () => {
  it.each(Object.entries(TRANSCRIPT_BLOCKS))('are in %s, each a code block', (file, names) => {
    const blocks = blocksOf(readFileSync(join(ROOT, file), 'utf8'));
    for (const name of names)
      expect({ name, block: blocks.get(name) }).toEqual({ name, block: expect.stringMatching(/^\n\n```/) });
  });
});
