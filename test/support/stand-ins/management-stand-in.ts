/**
 * The management API for unit and integration tests: a loopback HTTP server that records
 * every post it receives and answers each with the status chosen for its connection (200
 * unless told otherwise), or never ('silent'). Posts reach it through the real client
 * (src/aws/management-api.ts: SigV4, keep-alive sockets, the timeout that aborts), so the
 * tests check what goes on the wire, not what an SDK mock was called with.
 *
 * `useManagementStandIn()` wires it into a test file: every client src/communication.ts
 * makes, whatever endpoint it was made for, then connects to the stand-in (the path, and
 * so the stage, is kept), and the endpoint it was made for is recorded.
 *
 * GetConnection (`GET …/@connections/{id}`, the liveness sweep's question) is answered by the
 * same rules, with an empty body; `probed()` lists whom it was asked about.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { useManagementApiFactory } from '../../../src/communication';
import type { ManagementApiFactory } from '../../../src/communication';
import { ManagementApi } from '../../../src/aws/management-api';

/** An HTTP status, or 'silent': the post is read and never answered. */
export type Answer = number | 'silent';

/** What a test usually asserts: who got which message. */
export interface Posted {
  /** The connection id, decoded from the path. */
  to: string;
  /** The body, parsed (everything we post is JSON). */
  message: Record<string, unknown>;
}

/** A post as it arrived. */
export interface Post extends Posted {
  /** The path as it arrived, e.g. `/dev/@connections/abc%3D`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Size of the body as posted. */
  bytes: number;
  /** The client's port: posts on one kept-alive socket share it. */
  socket: number;
}

export interface ManagementStandIn {
  /** http://127.0.0.1:{port}, once listening. */
  readonly url: string;
  listen(): Promise<void>;
  /** The endpoints clients were made for through `factory`, in order. */
  endpoints(): string[];
  /** Every post received (every attempt, whatever it was answered), in order. */
  requests(): Post[];
  /** The same, as who got which message. */
  posted(): Posted[];
  /** The connection ids GetConnection asked about, in order. */
  probed(): string[];
  /**
   * Answer posts to `to` (or to any connection) with `answer`, `times` times or from now
   * on. The first rule that matches wins, in the order they were given; otherwise 200.
   */
  answer(answer: Answer, options?: { to?: string; times?: number }): void;
  /** Forget the rules and the history: 200 for everything again. */
  reset(): void;
  /** Forget the history only. */
  resetHistory(): void;
  /** Makes clients that connect to the stand-in, whatever endpoint they are made for. */
  factory: ManagementApiFactory;
  close(): Promise<void>;
}

interface Rule {
  answer: Answer;
  to: string | undefined;
  /** Left to give; undefined: no limit. */
  times: number | undefined;
}

interface Received {
  socket: number;
  to: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function managementStandIn(): ManagementStandIn {
  let rules: Rule[] = [];
  let received: Received[] = [];
  let endpoints: string[] = [];
  let probes: string[] = [];
  let url: string | undefined;
  const unanswered = new Set<ServerResponse>();

  const answerFor = (to: string): Answer => {
    const rule = rules.find((r) => (r.to === undefined || r.to === to) && (r.times === undefined || r.times > 0));
    if (rule?.times !== undefined) rule.times--;
    return rule?.answer ?? 200;
  };

  const server = createServer((req, res) => {
    const path = req.url ?? '';
    const match = /\/@connections\/([^/?]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      const to = decodeURIComponent(match[1] as string);
      probes.push(to);
      const answer = answerFor(to);
      if (answer === 'silent') {
        unanswered.add(res);
        res.on('close', () => unanswered.delete(res));
        return;
      }
      res.writeHead(answer, { 'content-length': '0' }).end();
      return;
    }
    if (req.method !== 'POST' || !match) {
      res.writeHead(404).end();
      return;
    }
    const to = decodeURIComponent(match[1] as string);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        socket: req.socket.remotePort ?? 0,
        to,
        path,
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      const answer = answerFor(to);
      if (answer === 'silent') {
        unanswered.add(res);
        res.on('close', () => unanswered.delete(res));
        return;
      }
      // API Gateway's 410 carries this header; the client goes by the status alone.
      const headers = answer === 410 ? { 'x-amzn-errortype': 'GoneException' } : {};
      res.writeHead(answer, { ...headers, 'content-length': '0' }).end();
    });
  });

  const requests = (): Post[] =>
    received.map(({ socket, to, path, headers, body }) => ({
      socket,
      to,
      path,
      headers,
      bytes: body.byteLength,
      message: JSON.parse(body.toString('utf8')) as Record<string, unknown>,
    }));

  const urlOf = (): string => {
    if (url === undefined) throw new Error('the management stand-in is not listening');
    return url;
  };

  const hangUp = () => {
    for (const res of unanswered) res.socket?.destroy();
    unanswered.clear();
  };

  return {
    get url() {
      return urlOf();
    },
    listen: () =>
      new Promise<void>((resolve) => {
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          if (typeof address === 'object' && address !== null) url = `http://127.0.0.1:${address.port}`;
          resolve();
        });
      }),
    endpoints: () => [...endpoints],
    requests,
    posted: () => requests().map(({ to, message }) => ({ to, message })),
    probed: () => [...probes],
    answer: (answer, options = {}) => void rules.push({ answer, to: options.to, times: options.times }),
    reset() {
      hangUp();
      rules = [];
      received = [];
      endpoints = [];
      probes = [];
    },
    resetHistory: () => {
      received = [];
      probes = [];
    },
    factory: (endpoint, options) => {
      endpoints.push(endpoint);
      const stage = new URL(endpoint).pathname.replace(/\/+$/, '');
      return new ManagementApi(`${urlOf()}${stage}`, options);
    },
    close: async () => {
      hangUp();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * For a test file: a stand-in listening for the whole file, every client of
 * src/communication.ts pointed at it, and a clean slate (200 for all, no history,
 * no cached client) before each test.
 */
export function useManagementStandIn(): ManagementStandIn {
  const standIn = managementStandIn();
  beforeAll(() => standIn.listen());
  beforeEach(() => {
    useManagementApiFactory(standIn.factory); // also forgets the clients of the last test
    standIn.reset();
  });
  afterAll(async () => {
    useManagementApiFactory(undefined);
    await standIn.close();
  });
  return standIn;
}
