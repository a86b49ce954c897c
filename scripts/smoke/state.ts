/**
 * What the steps of `npm run smoke` share: the run's state (its room, endpoints, tokens and two
 * clients), the shape of a step, and the small helpers every step uses to wait and to check.
 */
import { randomBytes } from 'node:crypto';
import type { FrameOf, MessageFrame, ServerMessage, ServerMessageType } from '../../src/chat/frames';
import type { Settings } from '../token/mint';
import { SmokeCheckError } from './socket';
import type { SmokeSocket } from './socket';
import type { AuthMode } from './stack';

/** What the command line says (scripts/smoke.ts checks it). */
export interface SmokeOptions {
  /** The WebSocket URL, or undefined with `stage`. */
  url?: string | undefined;
  publishUrl?: string | undefined;
  token?: string | undefined;
  stage?: string | undefined;
  region?: string | undefined;
  room?: string | undefined;
}

export interface Endpoints {
  websocketUrl: string;
  publishUrl: string;
  /** The stack's, with --stage; else --region, if given. */
  region: string | undefined;
  /** Known from the stack's outputs; with --url, unknown. */
  authMode: AuthMode | undefined;
  jwtSecretArn?: string | undefined;
}

export interface Peer {
  socket: SmokeSocket;
  id: string;
  /** The room's number when this client joined; undefined until it has. */
  joinedSeq?: number;
}

export class SmokeState {
  /** Names the run's room and users: nothing of one run meets another's. */
  readonly run = randomBytes(4).toString('hex');
  readonly room: string;
  /** A room made for this run starts at seq 0; one given with --room may not. */
  readonly freshRoom: boolean;
  endpoints: Endpoints | undefined;
  settings: Settings | undefined;
  tokens: { alice?: string; bob?: string } = {};
  tokenSource = 'no token';
  alice: Peer | undefined;
  bob: Peer | undefined;
  /** The room message of the publish step, as bob got it. */
  roomMessage: MessageFrame | undefined;
  /** Every socket opened, to close whatever happens. */
  readonly sockets: SmokeSocket[] = [];

  constructor(readonly options: SmokeOptions) {
    this.room = options.room ?? `smoke-${this.run}`;
    this.freshRoom = options.room === undefined;
    // With --stage, the first step finds them.
    if (options.url !== undefined && options.publishUrl !== undefined) {
      this.endpoints = {
        websocketUrl: options.url,
        publishUrl: options.publishUrl,
        region: options.region,
        authMode: undefined,
      };
    }
  }
}

export interface Step {
  id: string;
  title: string;
  /** The ids of the steps that must have passed for this one to run (those of the plan). */
  needs: readonly string[];
  /** What it saw, for its `ok` line; or a SmokeCheckError. Every wait ends by `deadline`. */
  run(state: SmokeState, deadline: number): Promise<string>;
}

/** The time left until `deadline` (at least 1 ms: a wait of 0 would not wait at all). */
export const left = (deadline: number): number => Math.max(1, deadline - Date.now());

export const short = (id: string): string => (id.length > 8 ? `${id.slice(0, 8)}…` : id);

export function check(condition: boolean, failure: () => string): void {
  if (!condition) throw new SmokeCheckError(failure());
}

/** A frame of `type` (that `more` accepts), typed as such. */
export function frameOf<T extends ServerMessageType>(
  type: T,
  more: (frame: FrameOf<T>) => boolean = () => true,
): (frame: ServerMessage) => frame is FrameOf<T> {
  return (frame): frame is FrameOf<T> => frame.type === type && more(frame as FrameOf<T>);
}

/**
 * Every wait of a step, each bounded by the step's deadline, settled before the step ends: a
 * wrong frame for bob is then this step's finding, not the next one's. The first failure in
 * their order is the step's.
 */
export async function allOf<T extends readonly unknown[] | []>(
  waits: T,
): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const settled = await Promise.allSettled(waits);
  for (const each of settled) if (each.status === 'rejected') throw each.reason;
  return settled.map((each) => (each as PromiseFulfilledResult<unknown>).value) as {
    -readonly [P in keyof T]: Awaited<T[P]>;
  };
}

export function peers(state: SmokeState): [Peer, Peer] {
  if (!state.alice || !state.bob) throw new SmokeCheckError('the clients are not connected');
  return [state.alice, state.bob];
}

export function endpoints(state: SmokeState): Endpoints {
  if (!state.endpoints) throw new SmokeCheckError('the endpoints are not known');
  return state.endpoints;
}
