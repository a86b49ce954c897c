// What each kind of message costs in API Gateway requests: the message itself (or the
// handshake) is one, and every post the service makes for it (PostToConnection) is one more,
// drawn from the same account quota of 10,000 a second (infra/capacity.js). One representation
// gives both the numbers (apiRequests, which the capacity model and test/unit/request-costs.test.ts
// use, the test against what the handlers really post) and docs/protocol.md's table (`npm run docs`).
'use strict';

/**
 * Per kind: `perMember`, requests per member of its audience (N); `constant`, the rest (the
 * message in, a summary or an answer); `echo` and `summary`, whether declining them saves one
 * (`'own'`: only when one of the audience is the sender's own connection); `note`, said beside it.
 */
const KINDS = {
  sendmessage: {
    what: '`sendmessage` to everyone (N connections, yours among them)',
    perMember: 1,
    constant: 2,
    echo: true,
    summary: true,
  },
  publish: {
    what: '`publish` to a room of N members (you among them)',
    perMember: 1,
    constant: 2,
    echo: true,
    summary: true,
  },
  'publish-ephemeral': {
    what: '`publish` with `"ephemeral":true`, the same room',
    perMember: 1,
    constant: 2,
    echo: true,
    summary: true,
  },
  'send-user': {
    what: '`send` to a user with N connections',
    perMember: 1,
    constant: 2,
    echo: 'own',
    summary: true,
  },
  'send-connection': { what: '`send` to one connection', perMember: 0, constant: 3, echo: false, summary: true },
  join: {
    what: '`join` a room of N members (you included)',
    perMember: 1,
    constant: 1,
    echo: false,
    summary: false,
    note: '2 above `PRESENCE_MAX_MEMBERS` (100), where no presence event is sent',
  },
  leave: {
    what: '`leave` a room of N members (you included)',
    perMember: 1,
    constant: 1,
    echo: false,
    summary: false,
    note: 'as `join`',
  },
  answer: {
    what: '`list`, `members`, `history`, `ping`, or a message refused with an error',
    perMember: 0,
    constant: 2,
    echo: false,
    summary: false,
  },
  $connect: { what: 'the handshake (`$connect`)', perMember: 0, constant: 1, echo: false, summary: false },
  $disconnect: {
    what: 'a connection closing in a room of N members (it included)',
    perMember: 1,
    constant: 0,
    echo: false,
    summary: false,
    note: 'one presence event per other member, as `leave`',
  },
  'push-http': {
    what: 'a backend’s `POST /publish` to N connections',
    perMember: 1,
    constant: 1,
    echo: false,
    summary: false,
    note: 'the HTTP API request counts in the same quota; a Lambda invoke of `publish` does not',
  },
};

/**
 * The API Gateway requests one message of `kind` costs with an audience of `members`; `own`:
 * one of them is the sender's own connection (what `'own'` echoes need).
 */
function apiRequests(kind, members, { echo = true, summary = true, own = true } = {}) {
  const cost = KINDS[kind];
  if (cost === undefined) throw new Error(`no message kind ${kind}`);
  const echoSaved = echo === false && (cost.echo === true || (cost.echo === 'own' && own)) ? 1 : 0;
  const summarySaved = summary === false && cost.summary ? 1 : 0;
  return cost.perMember * members + cost.constant - echoSaved - summarySaved;
}

/** `N + 2`, `N`, `3`: the cost as a formula in N. */
function formula(perMember, constant) {
  if (perMember === 0) return String(constant);
  if (constant === 0) return 'N';
  return constant > 0 ? `N + ${constant}` : `N - ${-constant}`;
}

/** One row of docs/protocol.md's table per kind: by default, and with each opt-out. */
function costRows() {
  return Object.values(KINDS).map((cost) => {
    const less = (saved) => formula(cost.perMember, cost.constant - saved);
    const echo = cost.echo === true ? less(1) : cost.echo === 'own' ? `${less(1)} when one is yours` : '–';
    const summary = cost.summary ? less(1) : '–';
    const both = !cost.summary
      ? '–'
      : cost.echo === true
        ? less(2)
        : cost.echo === 'own'
          ? `${less(2)} when one is yours`
          : '–';
    return { what: cost.what, requests: formula(cost.perMember, cost.constant), echo, summary, both, note: cost.note };
  });
}

module.exports = { KINDS, apiRequests, costRows };
