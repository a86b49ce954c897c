/**
 * The first steps of `npm run smoke`: find the stage (with --stage), get the two clients their
 * tokens, and connect them. A token is minted only where the key is at hand: the stage's HS256
 * key when the developer's credentials may read it, or the local AUTH_JWT_SECRET for a service
 * on this machine; else the one given with --token, or none.
 */
import type { RoomRights } from '../../src/auth/rooms';
import { targetOf } from '../deploy/checks';
import { loadSettings } from '../local';
import { deployedKey, localKey, maxTokenAgeSec, mintDevToken } from '../token/mint';
import type { Settings } from '../token/mint';
import { isLoopback } from './publish';
import { SmokeCheckError, SmokeSocket } from './socket';
import { describeStage } from './stack';
import { allOf, check, endpoints, frameOf, left, short } from './state';
import type { SmokeState, Step } from './state';

/** Tokens minted here live this long at most (less if AUTH_MAX_TOKEN_AGE is shorter). */
const TOKEN_TTL_SEC = 300;

/** What a minted token allows: the run's room, and nothing else. */
function smokeRights(room: string): RoomRights {
  return { [room]: ['join', 'publish', 'presence'] };
}

/** One token per client, for the run's own users; returns their subjects. */
async function mintPair(state: SmokeState, settings: Settings, key: string): Promise<string[]> {
  const ttlSec = Math.min(TOKEN_TTL_SEC, maxTokenAgeSec(settings));
  const subjects = ['alice', 'bob'].map((name) => `smoke-${state.run}-${name}`);
  const [alice, bob] = await Promise.all(
    subjects.map((subject) => mintDevToken(settings, key, { subject, ttlSec, rooms: smokeRights(state.room) })),
  );
  state.tokens = { alice, bob };
  return subjects;
}

export const findStage: Step = {
  id: 'stage',
  title: 'find the stage',
  needs: [],
  async run(state, deadline) {
    const stage = state.options.stage as string;
    // The region as `npm run deploy` takes it: --region, else REGION of the settings.
    state.settings = await loadSettings({ stage });
    const region = targetOf(
      ['--stage', stage, ...(state.options.region ? ['--region', state.options.region] : [])],
      state.settings,
    ).region;
    const found = await describeStage(stage, region, left(deadline));
    state.endpoints = found;
    return (
      `stack ${found.stackName} (${found.status}) in ${region}: ${found.websocketUrl}, ` +
      `POST ${found.publishUrl}, auth ${found.authMode}`
    );
  },
};

export const tokens: Step = {
  id: 'tokens',
  title: 'tokens for alice and bob',
  needs: ['stage'],
  async run(state) {
    const { options } = state;
    if (options.token !== undefined) {
      state.tokens = { alice: options.token, bob: options.token };
      state.tokenSource = 'the --token';
      return 'the one given with --token, for both clients';
    }
    const { authMode, jwtSecretArn, websocketUrl } = endpoints(state);
    if (options.stage !== undefined) {
      if (authMode === 'off') return 'none needed: the stage has auth off';
      if (authMode === 'jwks') {
        throw new SmokeCheckError('the stage takes tokens of your identity provider (JWKS): give one with --token');
      }
      const settings = state.settings ?? {};
      let key: string;
      try {
        // In the secret's own region, from its ARN.
        key = await deployedKey(jwtSecretArn as string, settings);
      } catch (error) {
        throw new SmokeCheckError(
          `cannot read the stage's HS256 key: ${(error as Error).message}; give a token with --token ` +
            `(npm run token -- --stage ${options.stage}, by someone who may read the key)`,
        );
      }
      const subjects = await mintPair(state, settings, key);
      state.tokenSource = "tokens minted with the stage's HS256 key";
      return `minted for ${subjects.join(', ')} with the stage's HS256 key (${jwtSecretArn})`;
    }
    // A local secret is not a deployed stage's key (settings.js never deploys it).
    if (!isLoopback(websocketUrl)) return 'none: no --token given (a stage with auth on needs one)';
    const settings = await loadSettings();
    const key = settings.AUTH_MODE === 'jwks' ? undefined : localKey(settings);
    if (key === undefined) return 'none: no --token, and no AUTH_JWT_SECRET here (right for a service with auth off)';
    const subjects = await mintPair(state, settings, key);
    state.tokenSource = 'tokens minted with the local AUTH_JWT_SECRET';
    return `minted for ${subjects.join(', ')} with the local AUTH_JWT_SECRET`;
  },
};

function withToken(url: string, token: string | undefined): string {
  if (token === undefined) return url;
  const withParameter = new URL(url);
  withParameter.searchParams.set('token', token);
  return withParameter.toString();
}

/** What to do about a refused handshake, given where the token came from. */
function refusalHint(state: SmokeState): string {
  if (state.tokens.alice !== undefined) return `; with ${state.tokenSource}`;
  return isLoopback(endpoints(state).websocketUrl)
    ? '; the service wants a token: give --token (or AUTH_JWT_SECRET, as npm start has it)'
    : "; the service wants a token: give --token, or use --stage to mint one with the stage's key";
}

export const connect: Step = {
  id: 'connect',
  title: 'connect two clients (alice, bob)',
  needs: ['tokens'],
  async run(state, deadline) {
    const url = endpoints(state).websocketUrl;
    const opened = await Promise.allSettled(
      (['alice', 'bob'] as const).map((name) =>
        SmokeSocket.open(name, withToken(url, state.tokens[name]), left(deadline)),
      ),
    );
    for (const each of opened) if (each.status === 'fulfilled') state.sockets.push(each.value);
    const failed = opened.find((each) => each.status === 'rejected');
    if (failed) {
      const message = (failed.reason as Error).message;
      throw new SmokeCheckError(`${message}${/HTTP 40[13]/.test(message) ? refusalHint(state) : ''}`);
    }
    const [alice, bob] = state.sockets as [SmokeSocket, SmokeSocket];
    // `list` answers with the asking connection's own id: the one the direct message goes to.
    alice.send({ action: 'list' });
    bob.send({ action: 'list' });
    const [a, b] = await allOf([
      alice.next('"connections" answer to list', frameOf('connections'), left(deadline)),
      bob.next('"connections" answer to list', frameOf('connections'), left(deadline)),
    ]);
    check(a.you !== b.you, () => `both clients were told they are connection ${a.you}`);
    state.alice = { socket: alice, id: a.you };
    state.bob = { socket: bob, id: b.you };
    return `connection ids ${short(a.you)}, ${short(b.you)} (${state.tokenSource})`;
  },
};
